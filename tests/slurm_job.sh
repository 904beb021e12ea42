#!/usr/bin/env bash
# slurm/restpg-cpu.sbatch on a real single-node Slurm cluster (slurm/local-cluster): a 2-rank
# job submitted with sbatch runs under srun --mpi=pmix, completes with exit code 0, and leaves a
# finished run in its run directory (final checkpoint at the last step, one metrics line a step).
source "$RESTPG_SOURCE_DIR/tests/slurm_lib.sh"
slurm_require
slurm_setup slurm_job

stand_in_data "$T"
STEPS=60
slurm_job_args "$T" "$T/run" "$STEPS"
log=$T/job.out
job=$(RESTPG=$RESTPG timeout 30 sbatch --parsable --job-name=cpu-test --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 \
  --time=5 --output="$log" "$RESTPG_SOURCE_DIR/slurm/restpg-cpu.sbatch" "${JOB_ARGS[@]}") || die "sbatch refused the job"
echo "submitted job $job"

state=$(wait_job_state "$job" 150 COMPLETED)
check "job completes (state: $state)" '[ "$state" = COMPLETED ]'
check "exit code 0:0 ($(job_field "$job" ExitCode))" '[ "$(job_field "$job" ExitCode)" = 0:0 ]'
check "2 tasks allocated ($(job_field "$job" NumTasks))" '[ "$(job_field "$job" NumTasks)" = 2 ]'
check "the log names the exact command with --resume" 'grep -q "restpg-cpu.sbatch: running .* pretrain .* --resume$" "$log"'
check "the log shows 2 ranks with 1 thread each" 'grep -q "2 ranks, 1 threads each" "$log"'
check "restpg ran on 2 MPI ranks" 'grep -q "over 2 rank(s)" "$log"'
check "a fresh run starts from step 0" 'grep -q "does not exist yet; starting from step 0" "$log"'
check "the step exited with status 0" 'grep -q "step exited with status 0" "$log"'
step=$(h5_step "$T/run/checkpoint.h5")
check "final checkpoint at step $STEPS (got ${step:-none})" '[ "$step" = "$STEPS" ]'
lines=$(wc -l <"$T/run/metrics.jsonl" 2>/dev/null || echo 0)
check "metrics has one line per step ($lines)" '[ "$lines" -ge "$STEPS" ]'
check "jobcomp records COMPLETED" 'grep -q "JobId=$job .*JobState=COMPLETED" "$CLUSTER/log/jobcomp.txt"'
exit $fail

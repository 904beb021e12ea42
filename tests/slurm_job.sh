#!/usr/bin/env bash
# slurm/restpg-cpu.sbatch on a real single-node Slurm cluster (slurm/local-cluster): a 2-rank
# job running a tiny REST-PG pipeline (`restpg run`) submitted with sbatch runs under
# srun --mpi=pmix, completes with exit code 0, and leaves a finished run directory.
source "$RESTPG_SOURCE_DIR/tests/slurm_lib.sh"
slurm_require
slurm_setup slurm_job

pipeline_config "$T/run" 20 >"$T/tiny.yaml"
JOB_ARGS=(run "$T/tiny.yaml")
log=$T/job.out
job=$(RESTPG=$RESTPG timeout 30 sbatch --parsable --job-name=cpu-test --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 \
  --time=5 --output="$log" "$RESTPG_SOURCE_DIR/slurm/restpg-cpu.sbatch" "${JOB_ARGS[@]}") || die "sbatch refused the job"
echo "submitted job $job"

state=$(wait_job_state "$job" 150 COMPLETED)
check "job completes (state: $state)" '[ "$state" = COMPLETED ]'
check "exit code 0:0 ($(job_field "$job" ExitCode))" '[ "$(job_field "$job" ExitCode)" = 0:0 ]'
check "2 tasks allocated ($(job_field "$job" NumTasks))" '[ "$(job_field "$job" NumTasks)" = 2 ]'
check "the log names the exact command with --resume" 'grep -q "restpg-cpu.sbatch: running .* run .*tiny.yaml --resume$" "$log"'
check "the log shows 2 ranks with 1 thread each" 'grep -q "2 ranks, 1 threads each" "$log"'
check "restpg trained on 2 MPI ranks" 'grep -q "over 2 rank(s)" "$log"'
check "the step exited with status 0" 'grep -q "step exited with status 0" "$log"'
for f in config.yaml data.h5 base.h5 sft.h5 em/round1/samples.h5 em/round1/model.h5 eval/predictions.json metrics.jsonl; do
  check "run directory holds $f" '[ -s "$T/run/$f" ]'
done
check "the pipeline printed its closing table" 'grep -q "final eval" "$log"'
check "jobcomp records COMPLETED" 'grep -q "JobId=$job .*JobState=COMPLETED" "$CLUSTER/log/jobcomp.txt"'
exit $fail

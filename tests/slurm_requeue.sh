#!/usr/bin/env bash
# Requeue and resume on a real single-node Slurm cluster (slurm/local-cluster), through
# slurm/restpg-gpu.sbatch with the cluster's fake GPUs as gres and Ethernet settings: a tiny
# REST-PG pipeline (`restpg run`) gets, once its pretraining has written a checkpoint, the
# batch-shell SIGUSR1 that --signal=B:USR1@120 sends before a time limit; the template's trap
# requeues it, Slurm starts it again, the run resumes inside pretraining (its log says so) and
# ends with the same final model and evaluation as an uninterrupted run of the same config.
source "$RESTPG_SOURCE_DIR/tests/slurm_lib.sh"
slurm_require
slurm_setup slurm_requeue

# Pretraining long enough to be interrupted.
pipeline_config "$T/ref" 1200 >"$T/ref.yaml"
pipeline_config "$T/run" 1200 >"$T/run.yaml"

# The uninterrupted reference, on 2 ranks through restpg launch (mpirun).
OMPI_MCA_pml=ob1 timeout 300 "$RESTPG" launch --np 2 --launcher mpirun -- restpg run "$T/ref.yaml" </dev/null >"$T/ref.out" 2>&1 \
  || { tail -n 20 "$T/ref.out"; die "reference run failed"; }

JOB_ARGS=(run "$T/run.yaml")
log=$T/job.out
job=$(RESTPG=$RESTPG RESTPG_DEVICE=cpu RESTPG_NETWORK=ethernet timeout 30 sbatch --parsable --job-name=requeue-test --nodes=1 \
  --gpus-per-node=2 --ntasks-per-node=2 --cpus-per-task=1 --time=10 --output="$log" \
  "$RESTPG_SOURCE_DIR/slurm/restpg-gpu.sbatch" "${JOB_ARGS[@]}") || die "sbatch refused the job"
echo "submitted job $job"

# Interrupt as soon as a checkpoint exists, well before the last step.
wait_for 120 test -s "$T/run/base.h5" || die "no checkpoint within 120 s (state $(job_field "$job" JobState))"
check "job still running when interrupted" '[ "$(job_field "$job" JobState)" = RUNNING ]'
timeout 10 scancel --batch --signal=USR1 "$job" || die "scancel --signal=USR1 failed"
wait_for 30 grep -q "got USR1: requeueing job $job" "$log" || die "the template's trap did not requeue"
wait_for 180 test "$(job_field "$job" Restarts)" -ge 1 || die "job not requeued (Restarts $(job_field "$job" Restarts))"

state=$(wait_job_state "$job" 240 COMPLETED)
check "requeued job completes (state: $state)" '[ "$state" = COMPLETED ]'
check "exit code 0:0 ($(job_field "$job" ExitCode))" '[ "$(job_field "$job" ExitCode)" = 0:0 ]'
check "restarted once ($(job_field "$job" Restarts))" '[ "$(job_field "$job" Restarts)" = 1 ]'
check "the fake GPUs were allocated to the job" 'grep -q "CUDA_VISIBLE_DEVICES=0,1" "$log"'
check "the template passed the device (RESTPG_DEVICE=cpu)" 'grep -q -- "--device=cpu" "$log"'
check "the Ethernet settings were used" 'grep -q "pml ob1, network ethernet" "$log"'
check "the log shows a second attempt" 'grep -q "attempt 2 on" "$log"'
resumed=$(sed -n 's/^resuming from .* at step \([0-9]*\)$/\1/p' "$log" | head -n 1)
check "the second attempt resumed pretraining from a checkpoint (step ${resumed:-none})" '[ -n "$resumed" ] && [ "$resumed" -gt 0 ] && [ "$resumed" -lt 1200 ]'
same=$(/usr/bin/python3 - "$T/ref" "$T/run" <<'PY'
import json, sys, h5py
a, b = sys.argv[1:]
ea, eb = json.load(open(a + "/eval/eval.json")), json.load(open(b + "/eval/eval.json"))
bad = [k for k in ("n", "rouge1", "rougeL", "meteor", "reward") if ea[k] != eb[k]]
with h5py.File(a + "/em/round1/model.h5") as fa, h5py.File(b + "/em/round1/model.h5") as fb:
    bad += [k for k in fa["params"] if fa["params"][k][()].tobytes() != fb["params"][k][()].tobytes()]
print(" ".join(bad))
PY
)
check "requeued run ends with the uninterrupted run's model and metrics: ${same:-same}" '[ -z "$same" ]'
exit $fail

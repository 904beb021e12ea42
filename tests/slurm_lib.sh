# shellcheck shell=bash
# Sourced by the slurm tests: a private local cluster (slurm/local-cluster) that is always stopped
# on exit, bounded waits on job states, and the tiny REST-PG pipeline config their jobs run.
set -uo pipefail
: "${RESTPG:?}" "${RESTPG_SOURCE_DIR:?}" "${RESTPG_TEST_TMP:?}"

SKIP=77
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }
die() { echo "FAIL: $*"; fail=1; exit 1; }

# Slurm daemons must run as root (slurmd launches jobs as their users) and need the packages.
slurm_require() {
  if [ "$(id -u)" -ne 0 ]; then echo "SKIP: the local Slurm cluster needs root"; exit $SKIP; fi
  for p in munged slurmctld slurmd sbatch srun scontrol; do
    command -v "$p" >/dev/null || { echo "SKIP: $p not installed (scripts/setup.sh installs slurm-wlm and munge)"; exit $SKIP; }
  done
}

# slurm_setup NAME: makes $T (the test's temp dir) and starts a cluster in $T/c. Munge's socket
# path must fit in a sockaddr_un (108 bytes), so a deep build tree falls back to /tmp.
slurm_setup() {
  T=$(mktemp -d "$RESTPG_TEST_TMP/$1.XXXXXX")
  CLUSTER=$T/c
  if [ ${#CLUSTER} -gt 60 ]; then
    CLUSTER=$(mktemp -d "/tmp/$1.XXXXXX")
  fi
  trap slurm_teardown EXIT
  trap 'exit 1' INT TERM
  if ! timeout 120 "$RESTPG_SOURCE_DIR/slurm/local-cluster" start --dir "$CLUSTER" --timeout 90 </dev/null >"$T/cluster.log" 2>&1; then
    cat "$T/cluster.log"
    die "local-cluster start failed"
  fi
  export SLURM_CONF=$CLUSTER/etc/slurm.conf
}

slurm_teardown() {
  local rc=$?
  if [ "$rc" -ne 0 ] || [ "$fail" -ne 0 ]; then
    echo "---- diagnostics ($T) ----"
    for f in "$T"/*.out "$CLUSTER"/log/slurmctld.log "$CLUSTER"/log/slurmd.log; do
      [ -f "$f" ] && { echo "== $f"; tail -n 40 "$f"; }
    done
    timeout 10 squeue 2>&1 || true
  fi
  timeout 60 "$RESTPG_SOURCE_DIR/slurm/local-cluster" stop --dir "$CLUSTER" </dev/null >/dev/null 2>&1 || echo "warning: local-cluster stop failed"
  rm -rf "$T" "$CLUSTER"
  [ "$fail" -eq 0 ] && [ "$rc" -eq 0 ] && exit 0
  exit 1
}

# job_field JOBID FIELD: one field of `scontrol show job` (JobState, ExitCode, Restarts, ...).
job_field() {
  timeout 10 scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}

# wait_job_state JOBID SECONDS STATE...: polls until the job is in one of the states (or in a
# final one, which ends the wait early); prints the state reached. Returns 1 on timeout.
wait_job_state() {
  local job=$1 secs=$2 state deadline
  shift 2
  deadline=$((SECONDS + secs))
  while [ $SECONDS -lt $deadline ]; do
    state=$(job_field "$job" JobState)
    for s in "$@"; do [ "$state" = "$s" ] && { echo "$state"; return 0; }; done
    case "$state" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED)
      echo "$state"; return 0 ;;
    esac
    sleep 0.5
  done
  echo "${state:-unknown} after ${secs}s"
  return 1
}

# wait_for SECONDS COMMAND...: polls COMMAND (every 0.2 s) until it succeeds; 1 on timeout.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  while [ $SECONDS -lt $deadline ]; do
    "$@" && return 0
    sleep 0.2
  done
  return 1
}

# pipeline_config RUNDIR PRETRAIN_STEPS: a tiny `restpg run` config (synthetic users, a 1-layer
# model, one EM round without reasoning) whose run directory is RUNDIR.
pipeline_config() {
  cat <<YAML
run_dir: $1
seed: 7
threads: 1
data: {source: synth, synth_users: 12}
tokenizer: {vocab_size: 400}
model: {n_layer: 1, n_head: 2, n_embd: 32, n_positions: 448}
pretrain: {steps: $2, batch_size: 4, seq_len: 64}
sft: {steps: 16, batch_size: 4, reasoning: "off"}
em: {rounds: 1, n: 4, keep: 2, tau: 0, max_new_tokens: 40, steps: 8, limit: 12}
eval: {limit: 6, val_limit: 6, max_new_tokens: 40}
YAML
}


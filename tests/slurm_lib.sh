# shellcheck shell=bash
# Sourced by the slurm tests: a private local cluster (slurm/local-cluster) that is always stopped
# on exit, bounded waits on job states, and the stand-in job they submit.
#
# The stand-in is `restpg pretrain` on a tiny synthetic dataset, resumable with --resume and
# --checkpoint-every like the full pipeline. When `restpg run CONFIG.yaml` exists, switching the
# tests to it is the one line in slurm_job_args.
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

# stand_in_data DIR: the tiny dataset, tokenizer and model config the stand-in job trains on.
stand_in_data() {
  "$RESTPG" data synth --users 20 --seed 3 --out "$1/data.h5" >/dev/null || die "data synth failed"
  "$RESTPG" tokenizer train --data "$1/data.h5" --vocab-size 400 --out "$1/tok.rptk" >/dev/null || die "tokenizer train failed"
  printf 'n_layer: 2\nn_head: 2\nn_embd: 32\nn_positions: 32\n' >"$1/model.yaml"
}

# slurm_job_args DATADIR RUNDIR STEPS: sets JOB_ARGS, the restpg command (without --resume, which
# the templates add) whose results land in RUNDIR: checkpoint.h5 and metrics.jsonl.
slurm_job_args() {
  mkdir -p "$2"
  # shellcheck disable=SC2034 # read by the test that sources this file
  JOB_ARGS=(pretrain --data "$1/data.h5" --tokenizer "$1/tok.rptk" --config "$1/model.yaml" --out "$2/checkpoint.h5" --metrics "$2/metrics.jsonl" --steps "$3" --grad-accum 2 --checkpoint-every 25 --seed 5)
}

# h5_step FILE: the optimizer step stored in a checkpoint.
h5_step() {
  /usr/bin/python3 -c 'import h5py,sys
f=h5py.File(sys.argv[1],"r")
for k in ("optimizer","/"):
    if "step" in f[k].attrs: print(int(f[k].attrs["step"])); break' "$1" 2>/dev/null
}

# h5_same A B: every dataset and attribute of two HDF5 files bitwise equal; prints what differs.
h5_same() {
  /usr/bin/python3 - "$1" "$2" <<'EOF'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
diff = []
def attrs(name, x, y):
    if sorted(x.attrs) != sorted(y.attrs):
        diff.append(f"{name}: attribute names differ")
        return
    for k in x.attrs:
        if np.asarray(x.attrs[k]).tobytes() != np.asarray(y.attrs[k]).tobytes():
            diff.append(f"{name}@{k}: {x.attrs[k]!r} != {y.attrs[k]!r}")
names = []
a.visit(names.append)
other = []
b.visit(other.append)
if sorted(names) != sorted(other):
    diff.append(f"objects differ: {sorted(set(names) ^ set(other))}")
attrs("/", a, b)
for n in names:
    if n not in b:
        continue
    x, y = a[n], b[n]
    attrs(n, x, y)
    if isinstance(x, h5py.Dataset) and x[()].tobytes() != y[()].tobytes():
        diff.append(f"{n}: values differ")
print("\n".join(diff[:10]))
sys.exit(1 if diff else 0)
EOF
}

#!/usr/bin/env bash
# `restpg launch`: the mpirun/srun command lines it builds (--dry-run) for threads split over
# ranks, binding, oversubscription, hosts, root and non-root, and inside a Slurm allocation; that
# a real launch hands exactly that argv to mpirun with no shell in between (a stand-in mpirun on
# PATH records its argv and environment); and bad options exit 2.
set -uo pipefail
: "${RESTPG:?}" "${RESTPG_TEST_TMP:?}"
dir=$(mktemp -d "$RESTPG_TEST_TMP/slurm_launch.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }

self=$(readlink -f "$RESTPG")
# Cores the way launch counts them: distinct (package, core) among the CPUs this process may use.
cores=$(for c in $(sed -n 's/^Cpus_allowed_list:\s*//p' /proc/self/status | tr ',' ' '); do
          case $c in *-*) seq "${c%-*}" "${c#*-}" ;; *) echo "$c" ;; esac
        done | while read -r c; do
          t=/sys/devices/system/cpu/cpu$c/topology
          if [ -r "$t/core_id" ]; then echo "$(cat "$t/physical_package_id"):$(cat "$t/core_id")"; else echo "cpu$c"; fi
        done | sort -u | wc -l)
echo "cores: $cores"
root_env=""
[ "$(id -u)" -eq 0 ] && root_env="OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "

# expect NAME EXPECTED ARGS...: `restpg launch --dry-run ARGS` prints exactly EXPECTED (one line).
expect() {
  local name=$1 want=$2 got
  shift 2
  got=$(env -u SLURM_JOB_ID -u OMPI_MCA_pml "$RESTPG" launch --dry-run "$@" 2>&1)
  if [ "$got" = "$want" ]; then echo "ok: $name"; else printf 'FAIL: %s\n  want: %s\n  got:  %s\n' "$name" "$want" "$got"; fail=1; fi
}
env_of() { echo "OMP_NUM_THREADS=$1 OPENBLAS_NUM_THREADS=$1 OMPI_MCA_pml=ob1 $root_env"; }
tail_of() { echo "-x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS $self"; }

# One rank gets every core as threads; more than one thread means no core binding.
bind1=core; [ "$cores" -gt 1 ] && bind1=none
expect "one rank uses all $cores cores as threads" \
  "$(env_of "$cores")mpirun -np 1 --bind-to $bind1 $(tail_of) data info x.h5" --np 1 -- restpg data info x.h5
expect "one rank per core by default, bound to cores" \
  "$(env_of 1)mpirun -np $cores --bind-to core $(tail_of) pretrain --steps 3" -- pretrain --steps 3
expect "--threads 2 on one rank" \
  "$(env_of 2)mpirun -np 1 --bind-to none $(tail_of) pretrain" --np 1 --threads 2 -- restpg pretrain
if [ "$cores" -ge 2 ]; then
  half=$((cores / 2))
  expect "2 ranks split $cores cores into $half threads each" \
    "$(env_of "$half")mpirun -np 2 --bind-to $([ "$half" -gt 1 ] && echo none || echo core) $(tail_of) pretrain" --np 2 -- pretrain
fi
over=$((cores + 1))
expect "$over ranks on $cores slots oversubscribe, unbound, 1 thread" \
  "$(env_of 1)mpirun -np $over --oversubscribe --bind-to none $(tail_of) pretrain" --np "$over" -- pretrain
expect "exactly $cores ranks need no --oversubscribe" \
  "$(env_of 1)mpirun -np $cores --bind-to core $(tail_of) pretrain" --np "$cores" -- pretrain
expect "hosts with slots: 4 ranks on 2+2 slots, 2 per node" \
  "$(env_of $((cores / 2 > 0 ? cores / 2 : 1)))mpirun -np 4 --host n1:2,n2:2 --bind-to $([ $((cores / 2)) -gt 1 ] && echo none || echo core) $(tail_of) pretrain" \
  --nodes n1:2,n2:2 -- pretrain
expect "hosts without slots get this machine's core count" \
  "$(env_of 1)mpirun -np $((2 * cores)) --host n1:$cores,n2:$cores --bind-to core $(tail_of) pretrain" --nodes n1,n2 -- pretrain
expect "an unknown program runs as given" \
  "$(env_of 1)mpirun -np 1 --bind-to core -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS ./bench_x --n 3" --np 1 --threads 1 -- ./bench_x --n 3
# GPU jobs: one rank per GPU, exactly that many per node, model commands on the GPUs.
gthreads=$((cores / 2 > 0 ? cores / 2 : 1)); gbind=core; [ "$gthreads" -gt 1 ] && gbind=none
expect "--gpus-per-node 2: 2 ranks, mapped 2 per node, --device=cuda added" \
  "$(env_of "$gthreads")mpirun -np 2 --map-by ppr:2:node --bind-to $gbind $(tail_of) run x.yaml --device=cuda" --gpus-per-node 2 -- run x.yaml
expect "--gpus-per-node over 2 hosts: 4 ranks; a command's own --device wins; no device for a data command" \
  "$(env_of "$gthreads")mpirun -np 4 --host a:$cores,b:$cores --map-by ppr:2:node --bind-to $gbind $(tail_of) sample --device cpu" \
  --gpus-per-node 2 --nodes a,b -- sample --device cpu
expect "--gpus-per-node leaves commands without a model alone" \
  "$(env_of "$gthreads")mpirun -np 2 --map-by ppr:2:node --bind-to $gbind $(tail_of) data info x.h5" --gpus-per-node 2 -- data info x.h5
got=$(SLURM_JOB_ID=7 OMPI_MCA_pml=ob1 "$RESTPG" launch --dry-run --gpus-per-node 4 --threads 1 --nodes a,b -- restpg run x.yaml)
check "srun gets --ntasks-per-node for a GPU job ($got)" '[[ "$got" == *"srun --mpi=pmix --ntasks=8 --cpus-per-task=1 --kill-on-bad-exit=1 --ntasks-per-node=4 --nodelist=a,b $self run x.yaml --device=cuda" ]]'
expect "words a shell would split are quoted" \
  "$(env_of 1)mpirun -np 1 --bind-to core $(tail_of) data info 'my data.h5' 'it'\\''s'" --np 1 --threads 1 -- restpg data info "my data.h5" "it's"

got=$(OMPI_MCA_pml=ucx "$RESTPG" launch --dry-run --np 1 --threads 1 --launcher mpirun -- pretrain)
check "an OMPI_MCA_pml already set is kept" '[[ "$got" == *"OMPI_MCA_pml=ucx "* ]]'
got=$(SLURM_JOB_ID=7 SLURM_NTASKS=3 SLURM_CPUS_ON_NODE=6 OMPI_MCA_pml=ob1 "$RESTPG" launch --dry-run -- restpg pretrain)
check "inside Slurm: srun with the allocation's tasks and CPUs split ($got)" \
  '[ "$got" = "OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2 OMPI_MCA_pml=ob1 srun --mpi=pmix --ntasks=3 --cpus-per-task=2 --kill-on-bad-exit=1 $self pretrain" ]'
got=$(SLURM_JOB_ID=7 OMPI_MCA_pml=ob1 "$RESTPG" launch --dry-run --np 2 --threads 1 --nodes a,b -- restpg pretrain)
check "srun gets --nodes as --nodelist ($got)" '[[ "$got" == *"srun --mpi=pmix --ntasks=2 --cpus-per-task=1 --kill-on-bad-exit=1 --nodelist=a,b $self pretrain" ]]'
got=$(SLURM_JOB_ID=7 "$RESTPG" launch --dry-run --launcher mpirun --np 1 -- pretrain)
check "--launcher mpirun overrides Slurm detection" '[[ "$got" == *" mpirun -np 1 "* ]]'

# Root permissions only as root: the same command as an unprivileged user has none.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null && setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$self"; then
  got=$(setpriv --reuid=65534 --regid=65534 --clear-groups env -u OMPI_MCA_pml "$self" launch --dry-run --np 1 --threads 1 -- pretrain)
  check "no root permissions for a normal user ($got)" \
    '[ "$got" = "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMPI_MCA_pml=ob1 mpirun -np 1 --bind-to core -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS $self pretrain" ]'
else
  echo "note: non-root case not run (needs root, setpriv and a binary readable by nobody)"
fi

# A real launch execs mpirun by argv: a stand-in mpirun records what it received.
mkdir "$dir/bin"
cat >"$dir/bin/mpirun" <<'EOF'
#!/bin/sh
for a in "$@"; do printf '%s\n' "$a"; done >"$LAUNCH_ARGV"
printf '%s %s %s\n' "$OMP_NUM_THREADS" "$OPENBLAS_NUM_THREADS" "$OMPI_MCA_pml" >"$LAUNCH_ENV"
exit 3
EOF
chmod +x "$dir/bin/mpirun"
weird='$(touch pwned) `x` ; a|b * "q"'
LAUNCH_ARGV=$dir/argv LAUNCH_ENV=$dir/env PATH="$dir/bin:$PATH" \
  env -u SLURM_JOB_ID -u OMPI_MCA_pml "$RESTPG" launch --np 1 --threads 2 -- restpg data info "$weird" >"$dir/out" 2>"$dir/err"
rc=$?
check "launch exits with mpirun's status (3, got $rc)" '[ $rc -eq 3 ]'
printf '%s\n' -np 1 --bind-to none -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS "$self" data info "$weird" >"$dir/want"
check "mpirun received the argv unchanged, no shell in between" 'cmp -s "$dir/want" "$dir/argv"'
check "nothing was expanded by a shell" '[ ! -e pwned ] && [ ! -e "$dir/pwned" ]'
check "threads and pml were in mpirun's environment" '[ "$(cat "$dir/env")" = "2 2 ob1" ]'
check "the command was printed on stderr before running" 'grep -q "mpirun -np 1 --bind-to none" "$dir/err"'
# The printed line, run by a shell, gives mpirun the same argv.
line=$(tail -n 1 "$dir/err")
LAUNCH_ARGV=$dir/argv2 LAUNCH_ENV=$dir/env2 PATH="$dir/bin:$PATH" bash -c "$line"
check "the printed command is the same command when pasted into a shell" 'cmp -s "$dir/want" "$dir/argv2"'

# Bad input: exit 2 with a message naming the option.
"$RESTPG" launch --np 2 >/dev/null 2>"$dir/e1"; rc=$?
check "no command after -- exits 2 ($rc)" '[ $rc -eq 2 ] && grep -q "nothing to run" "$dir/e1"'
"$RESTPG" launch --nodes 'a;b' -- pretrain >/dev/null 2>"$dir/e2"; rc=$?
check "a bad host list exits 2 naming --nodes ($rc)" '[ $rc -eq 2 ] && grep -q -- "--nodes: host 1" "$dir/e2"'
"$RESTPG" launch --nodes a:0 -- pretrain >/dev/null 2>"$dir/e3"; rc=$?
check "zero slots exit 2 ($rc)" '[ $rc -eq 2 ] && grep -q "slots of host 1" "$dir/e3"'
"$RESTPG" launch --launcher ssh -- pretrain >/dev/null 2>"$dir/e4"; rc=$?
check "an unknown launcher exits 2 ($rc)" '[ $rc -eq 2 ] && grep -q -- "--launcher" "$dir/e4"'
"$RESTPG" launch --np 0 -- pretrain >/dev/null 2>"$dir/e5"; rc=$?
check "--np 0 exits 2 ($rc)" '[ $rc -eq 2 ] && grep -q -- "--np: must be at least 1" "$dir/e5"'
"$RESTPG" launch --threads -1 -- pretrain >/dev/null 2>"$dir/e7"; rc=$?
check "negative threads exit 2 ($rc)" '[ $rc -eq 2 ] && grep -qF -- "--threads: must be in [1, 4096], got -1" "$dir/e7"'
"$RESTPG" launch --gpus-per-node 2 --np 3 -- run x.yaml >/dev/null 2>"$dir/e8"; rc=$?
check "ranks not a multiple of the GPUs per node exit 2 ($rc)" '[ $rc -eq 2 ] && grep -q "not a multiple of --gpus-per-node 2" "$dir/e8"'
PATH=/nonexistent "$self" launch --np 1 -- pretrain >/dev/null 2>"$dir/e6"; rc=$?
check "a missing mpirun is reported ($rc)" '[ $rc -eq 2 ] && grep -q "cannot run mpirun" "$dir/e6"'
exit $fail

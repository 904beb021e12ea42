#!/bin/bash
# The all-reduce and ZeRO-1 (trainer/dp.h, trainer/trainer.h) under mpiexec, on the CPU backend:
#  1. --reduce allreduce against the tree on 2 ranks with 8 micro-batches (4 per rank: the local
#     sums group the leaves otherwise than the tree): the same run to float rounding (parameters
#     within 1e-5; measured 5e-7 after 6 steps; losses to 1e-5), and a rerun of the all-reduce
#     bitwise equal to the first.
#  2. --zero 1 against --zero 0 (both allreduce) on 2 and 3 ranks (with 3, the shards leave a
#     tail to the last rank, and shard ends cut tensors): bitwise equal parameters, AdamW moments
#     (gathered into the checkpoint), losses and gradient norms; gradient clipping is active (the
#     norm exceeds --grad-clip 0.8 in most steps), so the sharded norm's other summation order
#     must round to the same clipping factor. With more ranks (3) than micro-batches (2), the
#     idle rank's zeros change no bit: equal to 1 rank.
#  3. Resume across ZeRO: 3 steps with --zero 1 then 3 more with --zero 0, and the other way
#     round, equal the uninterrupted 6 steps bitwise (a constant learning rate, --min-lr-frac 1,
#     so the changed --steps leaves the schedule alone); also 2 ranks with --zero 1 resumed on 3.
#  4. Bad input: --zero 1 with the tree, and train.zero 1 without train.reduce allreduce in a run
#     config, exit 2 naming the option.
set -u
source "$RESTPG_SOURCE_DIR/tests/lib.sh" trainer_zero
PY=/usr/bin/python3
mpi() { local np=$1; shift; mpiexec -n "$np" --bind-to none "$RESTPG" "$@" >"$T/log" 2>&1 || { cat "$T/log"; fail "$*"; }; }

"$RESTPG" data synth --users 10 --per-user 5 --seed 3 --out "$T/ds.h5" >/dev/null || fail "data synth"
"$RESTPG" tokenizer train --data "$T/ds.h5" --vocab-size 300 --out "$T/tok" >/dev/null || fail "tokenizer train"
printf 'n_layer: 2\nn_head: 2\nn_embd: 16\nn_positions: 32\n' >"$T/model.yaml"
args=(pretrain --data "$T/ds.h5" --config "$T/model.yaml" --tokenizer "$T/tok" --batch-size 2 --grad-accum 8
      --seq-len 32 --lr 2e-3 --min-lr-frac 1 --grad-clip 0.8 --seed 6 --threads 1)

# compare A B bitwise|TOL: parameters and moments of two checkpoints, and the metrics beside them.
compare() {
    "$PY" - "$@" <<'PYEOF'
import json, sys
import h5py, numpy as np
a, b, how = sys.argv[1], sys.argv[2], sys.argv[3]
fa, fb = h5py.File(a, "r"), h5py.File(b, "r")
worst = 0.0
for g, keys in (("params", sorted(fa["params"])), ("optimizer", ["adam_m", "adam_v"])):
    for k in keys:
        x, y = fa[g][k][()], fb[g][k][()]
        if how == "bitwise":
            assert x.tobytes() == y.tobytes(), "%s/%s differs (max |diff| %g)" % (g, k, np.abs(x - y).max())
        elif g == "params":
            worst = max(worst, float(np.abs(x.astype(np.float64) - y).max()))
if how != "bitwise":
    assert worst <= float(how), "params differ by %g > %s" % (worst, how)
ma = [json.loads(l) for l in open(a.replace(".h5", ".jsonl"))]
mb = [json.loads(l) for l in open(b.replace(".h5", ".jsonl"))]
assert [r["step"] for r in ma] == [r["step"] for r in mb]
for ra, rb in zip(ma, mb):
    for k in ("loss", "grad_norm"):
        if how == "bitwise":
            assert ra[k] == rb[k], (ra, rb)
        else:
            assert abs(ra[k] - rb[k]) <= 1e-5 * max(1, abs(ra[k])), (k, ra, rb)
print("%s vs %s: %s%s" % (a.split("/")[-1], b.split("/")[-1], how, "" if how == "bitwise" else " (max |diff| %.3g)" % worst))
PYEOF
    [ $? = 0 ] || fail "compare $*"
}
run() { local np=$1 out=$2; shift 2; mpi "$np" "${args[@]}" --steps 6 --out "$T/$out.h5" --metrics "$T/$out.jsonl" "$@"; }

# 1. All-reduce vs tree, and a rerun.
run 2 tree
run 2 ar --reduce allreduce
run 2 ar_again --reduce allreduce
grep -q "allreduce reduction" "$T/log" || fail "the log does not name the all-reduce"
compare "$T/tree.h5" "$T/ar.h5" 1e-5
compare "$T/ar.h5" "$T/ar_again.h5" bitwise
"$PY" -c "
import json, sys
n = [json.loads(l)['grad_norm'] for l in open(sys.argv[1])]
assert sum(x > 0.8 for x in n) >= 3, n" "$T/ar.jsonl" || fail "clipping was not active in most steps"

# 2. ZeRO-1 vs the plain all-reduce, 2 and 3 ranks.
run 2 z2 --reduce allreduce --zero 1
grep -q "ZeRO-1: a shard of 1/2" "$T/log" || fail "the memory plan does not show the sharded moments"
compare "$T/ar.h5" "$T/z2.h5" bitwise
run 3 ar3 --reduce allreduce
run 3 z3 --reduce allreduce --zero 1
compare "$T/ar3.h5" "$T/z3.h5" bitwise
# More ranks than micro-batches: rank 0 sums no leaf and adds zeros, so 3 ranks equal 1 bitwise.
run 1 idle1 --reduce allreduce --grad-accum 2
run 3 idle3 --reduce allreduce --grad-accum 2 --zero 1
compare "$T/idle1.h5" "$T/idle3.h5" bitwise

# 3. Resume across ZeRO on/off, and onto another rank count.
for pair in "1 0" "0 1"; do
    set -- $pair
    name="res$1$2"
    mpi 2 "${args[@]}" --steps 3 --reduce allreduce --zero "$1" --out "$T/$name.h5" --metrics "$T/$name.jsonl"
    mpi 2 "${args[@]}" --steps 6 --reduce allreduce --zero "$2" --resume --out "$T/$name.h5" --metrics "$T/$name.jsonl"
    grep -q "resuming from" "$T/log" || fail "$name did not resume"
    compare "$T/ar.h5" "$T/$name.h5" bitwise
done
mpi 2 "${args[@]}" --steps 3 --reduce allreduce --zero 1 --out "$T/res23.h5" --metrics "$T/res23.jsonl"
mpi 3 "${args[@]}" --steps 6 --reduce allreduce --zero 1 --resume --out "$T/res23.h5" --metrics "$T/res23.jsonl"
compare "$T/ar.h5" "$T/res23.h5" 1e-5

# 4. Bad input.
expect_err 2 "--reduce allreduce" "$RESTPG" "${args[@]}" --steps 1 --zero 1 --out "$T/bad.h5"
[ ! -e "$T/bad.h5" ] || fail "--zero 1 with the tree wrote a checkpoint"
printf 'data: {source: synth}\n' >"$T/run.yaml"
expect_err 2 "train.zero" "$RESTPG" run "$T/run.yaml" --run_dir="$T/run" --train.zero=1
[ ! -e "$T/run" ] || fail "a refused run config created its run directory"
expect_err 2 "train.reduce" "$RESTPG" run "$T/run.yaml" --run_dir="$T/run" --train.reduce=ring

[ $fails = 0 ] && echo "trainer_zero: all checks passed"
exit $fails

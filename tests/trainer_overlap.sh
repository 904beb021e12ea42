#!/bin/bash
# The all-reduce overlapped with the backward (--overlap, train.overlap; trainer/dp.h) in whole
# pretraining runs on the CPU backend under mpiexec:
#  1. --reduce allreduce with --overlap 1 (the default) and --overlap 0 on 1, 2 and 3 ranks (4
#     micro-batches: 3 ranks hold 1, 1 and 2; clipping active): bitwise equal parameters, AdamW
#     moments, losses and gradient norms; the log says the reduction overlaps the backward.
#  2. With ZeRO-1 the option changes nothing (it keeps its reduce-scatter after the backward):
#     bitwise equal to the overlapped plain all-reduce (as trainer_zero.sh's ZeRO-1 vs all-reduce).
#  3. The CUDA table over the SIMT emulation (restpg_emu --device cuda, 2 ranks, 2 steps): its
#     allreduce_sum_start / comm_wait path gives the bits of --overlap 0.
#  4. Bad input: --overlap 2 and train.overlap 2 exit 2 naming the option, writing nothing.
set -u
source "$RESTPG_SOURCE_DIR/tests/lib.sh" trainer_overlap
PY=/usr/bin/python3
mpi() { local np=$1; shift; mpiexec -n "$np" --bind-to none "$RESTPG" "$@" >"$T/log" 2>&1 || { cat "$T/log"; fail "$*"; }; }

"$RESTPG" data synth --users 10 --per-user 5 --seed 3 --out "$T/ds.h5" >/dev/null || fail "data synth"
"$RESTPG" tokenizer train --data "$T/ds.h5" --vocab-size 300 --out "$T/tok" >/dev/null || fail "tokenizer train"
printf 'n_layer: 3\nn_head: 2\nn_embd: 16\nn_positions: 32\n' >"$T/model.yaml"
args=(pretrain --data "$T/ds.h5" --config "$T/model.yaml" --tokenizer "$T/tok" --batch-size 2 --grad-accum 4
      --seq-len 32 --lr 2e-3 --grad-clip 0.8 --seed 6 --threads 1 --steps 5 --reduce allreduce)

# same A B: parameters, moments and metrics of two runs bitwise.
same() {
    "$PY" - "$T/$1.h5" "$T/$2.h5" <<'PYEOF'
import json, sys
import h5py
a, b = sys.argv[1], sys.argv[2]
fa, fb = h5py.File(a, "r"), h5py.File(b, "r")
for g, keys in (("params", sorted(fa["params"])), ("optimizer", ["adam_m", "adam_v"])):
    for k in keys:
        assert fa[g][k][()].tobytes() == fb[g][k][()].tobytes(), "%s/%s differs" % (g, k)
pick = lambda p: [(r["step"], r["loss"], r["grad_norm"]) for r in map(json.loads, open(p.replace(".h5", ".jsonl")))]
assert pick(a) == pick(b), (pick(a), pick(b))
assert sum(r[2] > 0.8 for r in pick(a)) >= min(2, len(pick(a))), "clipping was not active"
print("%s vs %s: bitwise" % (a.split("/")[-1], b.split("/")[-1]))
PYEOF
    [ $? = 0 ] || fail "same $*"
}

for np in 1 2 3; do
    mpi "$np" "${args[@]}" --out "$T/on$np.h5" --metrics "$T/on$np.jsonl"
    grep -q "allreduce reduction, overlapped with the backward" "$T/log" || fail "$np ranks: the log does not say the reduction overlaps"
    mpi "$np" "${args[@]}" --overlap 0 --out "$T/off$np.h5" --metrics "$T/off$np.jsonl"
    grep -q "overlapped" "$T/log" && fail "$np ranks: --overlap 0 still overlaps"
    same "on$np" "off$np"
done
mpi 2 "${args[@]}" --zero 1 --out "$T/z2.h5" --metrics "$T/z2.jsonl"
same on2 z2
: "${RESTPG_EMU:?}"
for o in 1 0; do
    mpiexec -n 2 --bind-to none "$RESTPG_EMU" "${args[@]}" --steps 2 --device cuda --dtype fp32 --overlap $o \
        --out "$T/cuda$o.h5" --metrics "$T/cuda$o.jsonl" >"$T/log" 2>&1 || { cat "$T/log"; fail "restpg_emu --overlap $o"; }
done
same cuda1 cuda0

expect_err 2 "--overlap" "$RESTPG" "${args[@]}" --overlap 2 --out "$T/bad.h5"
[ ! -e "$T/bad.h5" ] || fail "--overlap 2 wrote a checkpoint"
printf 'data: {source: synth}\n' >"$T/run.yaml"
expect_err 2 "train.overlap" "$RESTPG" run "$T/run.yaml" --run_dir="$T/run" --train.overlap=2
[ ! -e "$T/run" ] || fail "a refused run config created its run directory"

[ $fails = 0 ] && echo "trainer_overlap: all checks passed"
exit $fails

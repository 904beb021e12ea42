#!/bin/bash
# Data parallelism gives the same result for any number of ranks, bitwise: the same pretraining
# run (4 micro-batches per step) on 1 rank (setup, no mpirun), 2 ranks and 3 ranks (uneven
# blocks of micro-batches: 1, 1, 2) must end with identical parameters and AdamW moments and
# report identical losses, gradient norms and validation losses.
#   trainer_dp.sh setup     dataset, tokenizer, config, and the 1-rank run (a CTest fixture)
#   trainer_dp.sh run N     the run under mpiexec -n N (restpg_mpi_test)
#   trainer_dp.sh check     compares every rN.h5 with r1.h5, then removes the directory
set -u
D="$RESTPG_TEST_TMP/trainer_dp"
PY=/usr/bin/python3
name=${2:-1}
args=(--data "$D/ds.h5" --config "$D/model.yaml" --tokenizer "$D/tok" --steps 12 --batch-size 3 --grad-accum 4
      --seq-len 32 --lr 2e-3 --warmup 3 --seed 6 --val-every 6 --val-batches 3 --threads 1 --checkpoint-every 5
      --metrics "$D/m$name.jsonl" --out "$D/r$name.h5")

case "$1" in
setup)
    rm -rf "$D" && mkdir -p "$D" || exit 1
    "$RESTPG" data synth --users 10 --per-user 5 --seed 3 --out "$D/ds.h5" >/dev/null || exit 1
    "$RESTPG" tokenizer train --data "$D/ds.h5" --vocab-size 300 --out "$D/tok" >/dev/null || exit 1
    printf 'n_layer: 2\nn_head: 2\nn_embd: 16\nn_positions: 32\n' >"$D/model.yaml"
    exec "$RESTPG" pretrain "${args[@]}"
    ;;
run)
    exec "$RESTPG" pretrain "${args[@]}"
    ;;
check)
    "$PY" - "$D" <<'PYEOF'
import glob, json, os, sys
import h5py
d = sys.argv[1]
ref = h5py.File(os.path.join(d, "r1.h5"), "r")
ref_m = [json.loads(l) for l in open(os.path.join(d, "m1.jsonl"))]
others = sorted(glob.glob(os.path.join(d, "r[0-9]*.h5")))
assert len(others) >= 2, others  # r1 plus the multi-rank runs selected (all of them under ctest -L mpi)
for path in others[1:]:
    f = h5py.File(path, "r")
    for k in ref["params"]:
        assert ref["params"][k][()].tobytes() == f["params"][k][()].tobytes(), (path, k)
    for k in ("adam_m", "adam_v"):
        assert ref["optimizer"][k][()].tobytes() == f["optimizer"][k][()].tobytes(), (path, k)
    m = [json.loads(l) for l in open(os.path.join(d, "m" + os.path.basename(path)[1:].replace(".h5", ".jsonl")))]
    strip = lambda rows: [{k: v for k, v in r.items() if k in ("step", "loss", "grad_norm", "lr", "tokens", "val_loss")}
                          for r in rows]
    assert strip(m) == strip(ref_m), path
    print("%s: bitwise equal to the 1-rank run (params, moments, %d metric lines)" % (path, len(m)))
PYEOF
    rc=$?
    rm -rf "$D"
    exit $rc
    ;;
esac
echo "usage: trainer_dp.sh setup | run N | check" >&2
exit 2

#!/bin/bash
# More ranks than micro-batches: with --grad-accum 1 on 2 ranks, rank 0 owns no micro-batch and
# idles, yet the result must equal the 1-rank run bitwise (the sum lives on the leaf's owner).
set -euo pipefail
D=$(mktemp -d "${RESTPG_TEST_TMP:-/tmp}/dpidle.XXXXXX")
trap 'rm -rf "$D"' EXIT
"$RESTPG" data synth --users 8 --per-user 4 --seed 2 --out "$D/ds.h5" >/dev/null
"$RESTPG" tokenizer train --data "$D/ds.h5" --vocab-size 300 --out "$D/tok" >/dev/null
printf 'n_layer: 1\nn_head: 2\nn_embd: 16\nn_positions: 32\n' >"$D/model.yaml"
args=(pretrain --data "$D/ds.h5" --config "$D/model.yaml" --tokenizer "$D/tok" --steps 6 --batch-size 3 --grad-accum 1
      --seq-len 32 --lr 3e-3 --seed 5 --threads 1)
"$RESTPG" "${args[@]}" --out "$D/r1.h5" >/dev/null
mpiexec -n 2 --bind-to none "$RESTPG" "${args[@]}" --out "$D/r2.h5" >/dev/null 2>&1
/usr/bin/python3 - "$D" <<'PY'
import sys, h5py
d = sys.argv[1]
a, b = h5py.File(d + "/r1.h5")["params"], h5py.File(d + "/r2.h5")["params"]
for k in a:
    assert a[k][()].tobytes() == b[k][()].tobytes(), k
print("2 ranks with one micro-batch per step equal 1 rank bitwise")
PY

#!/bin/bash
# Silent NaN (issue 15) end to end on a tiny model:
#  - `pretrain --lr 1e12` exits 2 naming the step, the non-finite loss and the rank; the checkpoint
#    an earlier --checkpoint-every wrote stays (finite, at that step), a run over an existing
#    good checkpoint leaves it byte for byte, and no temp file is left;
#  - --skip-nonfinite N skips up to N such steps (warned, in the metrics) and the model saved is
#    finite; the N+1st is the error;
#  - resuming from a checkpoint whose optimizer bytes were flipped fails on load (checksum) naming
#    adam_m, instead of training on to NaN, and leaves the file as it was;
#  - a checkpoint whose weights were set to NaN with h5py: sample, generate and convert exit 2
#    naming the tensor and leave no output; an llm.c file with an Inf weight: convert exits 2
#    naming the tensor.
set -u
source "$RESTPG_SOURCE_DIR/tests/lib.sh" hard_nan
PY=/usr/bin/python3

tiny_test_model 6 4 5
common=(--config "$T/model.yaml" --tokenizer "$T/tok" --data "$T/ds.h5" --batch-size 2 --seq-len 64 --threads 1)
ckpt_step() { "$PY" -c "import h5py,sys; print(h5py.File(sys.argv[1],'r')['optimizer'].attrs['step'])" "$1"; }
all_finite() {
    "$PY" - "$1" <<'PYEOF'
import h5py, numpy as np, sys
f = h5py.File(sys.argv[1], "r")
bad = [k for k in f["params"] if not np.isfinite(f["params"][k][()]).all()]
bad += [k for k in ("adam_m", "adam_v") if "optimizer" in f and not np.isfinite(f["optimizer"][k][()]).all()]
assert not bad, bad
PYEOF
}

# Divergence: step 1 is finite (weights jump by ~1e12), step 2's loss is not.
expect_err 2 "pretrain: step 2: non-finite loss" "$RESTPG" pretrain "${common[@]}" --steps 6 --lr 1e12 \
    --checkpoint-every 1 --out "$T/div.h5"
grep -qF "computed on rank 0" "$T/err" || fail "the divergence message names no rank: $(cat "$T/err")"
grep -qF -- "--skip-nonfinite" "$T/err" || fail "the divergence message does not mention --skip-nonfinite"
[ "$(ckpt_step "$T/div.h5")" = 1 ] || fail "the step-1 checkpoint was not kept (step $(ckpt_step "$T/div.h5"))"
all_finite "$T/div.h5" || fail "the kept checkpoint holds non-finite values"
ls "$T"/div.h5.tmp.* >/dev/null 2>&1 && fail "a temp file was left: $(ls "$T"/div.h5.tmp.*)"

# A diverging run writes nothing over a good checkpoint at its --out.
cp "$T/m.h5" "$T/good.h5"
sum=$(sha256sum <"$T/good.h5")
expect_err 2 "non-finite loss" "$RESTPG" pretrain "${common[@]}" --steps 3 --lr 1e12 --out "$T/good.h5"
[ "$(sha256sum <"$T/good.h5")" = "$sum" ] || fail "the diverging run changed the existing checkpoint"

# --skip-nonfinite: three bad steps skipped, the fourth is the error; with enough budget the run
# finishes and its checkpoint is finite.
expect_err 2 "step 5: non-finite loss" "$RESTPG" pretrain "${common[@]}" --steps 6 --lr 1e12 --skip-nonfinite 3 \
    --out "$T/skip3.h5"
[ "$(grep -c "skipped (" "$T/err")" = 3 ] || fail "expected 3 skip warnings: $(cat "$T/err")"
"$RESTPG" pretrain "${common[@]}" --steps 5 --lr 1e12 --skip-nonfinite 4 --metrics "$T/skip.jsonl" \
    --out "$T/skip.h5" >/dev/null 2>"$T/skip.err" || fail "--skip-nonfinite 4: $(cat "$T/skip.err")"
all_finite "$T/skip.h5" || fail "the --skip-nonfinite checkpoint holds non-finite values"
"$PY" - "$T/skip.jsonl" <<'PYEOF' || fail "metrics of skipped steps"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["step"] for r in rows] == [1, 2, 3, 4, 5], rows
assert "loss" in rows[0] and "skipped_nonfinite" not in rows[0], rows[0]
assert [r.get("skipped_nonfinite") for r in rows[1:]] == [1, 2, 3, 4], rows
assert all(r["skipped"].startswith("non-finite loss") for r in rows[1:]), rows
PYEOF
expect_err 2 "--skip-nonfinite" "$RESTPG" pretrain "${common[@]}" --steps 2 --skip-nonfinite -1 --out "$T/neg.h5"
[ -e "$T/neg.h5" ] && fail "--skip-nonfinite -1 wrote a checkpoint"

# Flipped optimizer bytes: the resume fails on load instead of training on them.
"$RESTPG" pretrain "${common[@]}" --steps 2 --lr 1e-3 --out "$T/res.h5" >/dev/null 2>&1 || fail "pretrain (resume base)"
"$PY" - "$T/res.h5" <<'PYEOF' || fail "flipping optimizer bytes"
import h5py, sys
path = sys.argv[1]
with h5py.File(path, "r") as f:
    d = f["optimizer/adam_m"]
    off, size = d.id.get_chunk_info(0).byte_offset, d.id.get_chunk_info(0).size
b = bytearray(open(path, "rb").read())
for k in (17, size // 2, size - 40):
    b[off + k] ^= 0x10
open(path, "wb").write(bytes(b))
PYEOF
sum=$(sha256sum <"$T/res.h5")
expect_err 2 "adam_m" "$RESTPG" pretrain "${common[@]}" --steps 4 --lr 1e-3 --resume --out "$T/res.h5"
grep -qF "res.h5" "$T/err" || fail "the resume error does not name the file: $(cat "$T/err")"
[ "$(sha256sum <"$T/res.h5")" = "$sum" ] || fail "the failed resume changed the checkpoint"

# NaN weights written with h5py (the checksum is recomputed, so only the finite check sees it).
cp "$T/m.h5" "$T/nan.h5"
"$PY" -c "
import h5py, numpy as np, sys
with h5py.File(sys.argv[1], 'r+') as f:
    f['params/transformer.h.1.mlp.c_fc.weight'][3, 5] = np.nan
" "$T/nan.h5" || fail "writing NaN with h5py"
sargs=(--model "$T/nan.h5" --data "$T/ds.h5" --n 2 --max-new-tokens 8 --threads 1)
expect_err 2 "tensor 'transformer.h.1.mlp.c_fc.weight': non-finite value nan at index" "$RESTPG" sample "${sargs[@]}" \
    --out "$T/s.h5"
grep -qF "nan.h5" "$T/err" || fail "sample's error does not name the file: $(cat "$T/err")"
[ -e "$T/s.h5" ] && fail "sample left an output"
id=$("$PY" -c "import h5py,sys; print(h5py.File(sys.argv[1],'r')['id'][0].decode())" "$T/ds.h5" 2>/dev/null || echo x)
expect_err 2 "transformer.h.1.mlp.c_fc.weight" "$RESTPG" generate "${sargs[@]}" --id "$id"
expect_err 2 "transformer.h.1.mlp.c_fc.weight" "$RESTPG" convert --from "$T/nan.h5" --to "$T/nan.bin"
[ -e "$T/nan.bin" ] && fail "convert left an output"

# An llm.c file with an Inf weight.
"$RESTPG" convert --from "$T/m.h5" --to "$T/m.bin" >/dev/null || fail "restpg -> llm.c"
"$PY" - "$T/m.bin" <<'PYEOF' || fail "writing Inf into the llm.c file"
import struct, sys
path = sys.argv[1]
b = bytearray(open(path, "rb").read())
h = struct.unpack_from("<256i", b)
maxT, V, L, C, Vp = h[2], h[3], h[4], h[6], h[7]
off = 1024 + 4 * (Vp * C + maxT * C + L * C + 7)  # ln_1.bias of layer 0, element 7
struct.pack_into("<f", b, off, float("inf"))
open(path, "wb").write(bytes(b))
PYEOF
expect_err 2 "tensor 'transformer.h.0.ln_1.bias': non-finite value inf at index 7" "$RESTPG" convert --from "$T/m.bin" \
    --to "$T/back.h5" --tokenizer "$T/tok"
[ -e "$T/back.h5" ] && fail "convert of the llm.c file left an output"

[ "$fails" = 0 ] && echo "hard_nan: all checks passed"
exit "$fails"

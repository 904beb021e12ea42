#!/bin/bash
# `restpg pretrain`, `sft` and `loss` end to end on a tiny synthetic dataset and model:
#  - pretraining and SFT losses fall (training and validation), metrics are JSON lines;
#  - the checkpoint holds Hugging Face GPT-2 names and shapes (read with h5py);
#  - `restpg loss` equals an independent numpy GPT-2 forward on those HF tensors (1e-5);
#  - bad options, config files and token files exit 2 naming the file/key/line.
set -u
source "$RESTPG_SOURCE_DIR/tests/lib.sh" trainer_cli
PY=/usr/bin/python3

"$RESTPG" data synth --users 12 --per-user 6 --seed 5 --out "$T/ds.h5" >/dev/null || fail "data synth"
"$RESTPG" tokenizer train --data "$T/ds.h5" --vocab-size 400 --out "$T/tok" >/dev/null || fail "tokenizer train"
printf 'n_layer: 2\nn_head: 4\nn_embd: 32\nn_positions: 128\n' >"$T/model.yaml"

"$RESTPG" pretrain --data "$T/ds.h5" --config "$T/model.yaml" --tokenizer "$T/tok" --out "$T/base.h5" \
    --steps 60 --batch-size 8 --seq-len 64 --lr 3e-3 --warmup 5 --val-every 20 --val-batches 4 \
    --metrics "$T/pre.jsonl" --threads 1 >"$T/pre.log" || fail "pretrain: $(cat "$T/pre.log")"
grep -q "memory plan" "$T/pre.log" || fail "no memory plan printed"
grep -q "largest batch size that fits" "$T/pre.log" || fail "no largest batch size printed"

"$RESTPG" sft --data "$T/ds.h5" --init "$T/base.h5" --out "$T/sft.h5" --reasoning off --steps 40 \
    --batch-size 4 --seq-len 128 --lr 2e-3 --val-every 20 --metrics "$T/sft.jsonl" --threads 1 \
    >"$T/sft.log" 2>&1 || fail "sft: $(cat "$T/sft.log")"

"$PY" - "$T" <<'PYEOF' || fail "loss curves"
import json, sys
t = sys.argv[1]
for name, drop in (("pre", 1.0), ("sft", 0.3)):
    rows = [json.loads(l) for l in open("%s/%s.jsonl" % (t, name))]
    train = [r["loss"] for r in rows if "loss" in r]
    val = [r["val_loss"] for r in rows if "val_loss" in r]
    assert len(train) == {"pre": 60, "sft": 40}[name], (name, len(train))
    assert all(r["tokens_per_s"] > 0 and r["lr"] > 0 for r in rows if "loss" in r)
    first, last = train[0], sum(train[-5:]) / 5
    print("%s: loss %.3f -> %.3f, val %s" % (name, first, last, ["%.3f" % v for v in val]))
    assert last < first - drop, (name, first, last)
    assert len(val) >= 2 and val[-1] < val[0], (name, val)
PYEOF

# Hugging Face GPT-2 state-dict names and shapes, read with h5py.
"$PY" - "$T/base.h5" <<'PYEOF' || fail "HF names and shapes"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
a = f.attrs
assert a["format"] == "restpg-checkpoint" and a["version"] == 1
L, C, P, V = int(a["n_layer"]), int(a["n_embd"]), int(a["n_positions"]), int(a["vocab_size"])
assert (L, C, P, V) == (2, 32, 128, 400), (L, C, P, V)
want = {"transformer.wte.weight": (V, C), "transformer.wpe.weight": (P, C),
        "transformer.ln_f.weight": (C,), "transformer.ln_f.bias": (C,)}
for i in range(L):
    h = "transformer.h.%d." % i
    want.update({h + "ln_1.weight": (C,), h + "ln_1.bias": (C,), h + "attn.c_attn.weight": (C, 3 * C),
                 h + "attn.c_attn.bias": (3 * C,), h + "attn.c_proj.weight": (C, C), h + "attn.c_proj.bias": (C,),
                 h + "ln_2.weight": (C,), h + "ln_2.bias": (C,), h + "mlp.c_fc.weight": (C, 4 * C),
                 h + "mlp.c_fc.bias": (4 * C,), h + "mlp.c_proj.weight": (4 * C, C), h + "mlp.c_proj.bias": (C,)})
got = {k: f["params"][k].shape for k in f["params"]}
assert got == want, set(got) ^ set(want)
assert all(f["params"][k].dtype == "float32" for k in got)
assert f["tokenizer"].dtype == "uint8" and f["tokenizer"].shape[0] > 0
assert f["optimizer"].attrs["step"] == 60 and f["optimizer/adam_m"].shape == f["optimizer/adam_v"].shape
assert f["rng/state"].shape == (1,) and "epoch" in f["data_position"].attrs
PYEOF

# restpg loss against the numpy reference forward on random sequences of several lengths.
"$PY" - "$T/tokens.txt" <<'PYEOF'
import random, sys
r = random.Random(3)
with open(sys.argv[1], "w") as f:
    for n in (2, 7, 30, 64, 129, 80):
        f.write(" ".join(str(r.randrange(400)) for _ in range(n)) + "\n")
    f.write("\n")
PYEOF
for b in 1 4; do
    ours=$("$RESTPG" loss --model "$T/sft.h5" --tokens "$T/tokens.txt" --batch-size $b --json) || fail "restpg loss"
    ref=$("$PY" "$RESTPG_SOURCE_DIR/tests/trainer_ref.py" "$T/sft.h5" "$T/tokens.txt") || fail "reference forward"
    "$PY" -c "
import json, sys
o = json.loads(sys.argv[1]); r, n = sys.argv[2].split()
assert o['tokens'] == int(n) == 306 and o['sequences'] == 6, (o, n)
assert abs(o['loss'] - float(r)) < 1e-5, (o['loss'], r)
" "$ours" "$ref" || fail "restpg loss $ours vs reference $ref (batch $b)"
done

# Bad input: exit 2 naming the file, key or line.
printf '1 2 3\n4 x 5\n' >"$T/bad.txt"
expect_err 2 "bad.txt:2: token 2 'x'" "$RESTPG" loss --model "$T/base.h5" --tokens "$T/bad.txt"
printf '1 2 3\n4 400\n' >"$T/bad.txt"
expect_err 2 "bad.txt:2: token 2: id 400 is outside the vocabulary 0..399" "$RESTPG" loss --model "$T/base.h5" --tokens "$T/bad.txt"
printf '7\n' >"$T/bad.txt"
expect_err 2 "bad.txt:1: a sequence needs at least 2 tokens" "$RESTPG" loss --model "$T/base.h5" --tokens "$T/bad.txt"
expect_err 2 "is a 'restpg-dataset' file, expected 'restpg-checkpoint'" "$RESTPG" loss --model "$T/ds.h5" --tokens "$T/tokens.txt"
printf 'n_layer: 2\nn_head: 4\nn_embd: 32\nn_positions: 64\ndropout: 0.1\n' >"$T/bad.yaml"
expect_err 2 "bad.yaml: line 5: unknown key 'dropout'" "$RESTPG" pretrain --data "$T/ds.h5" --config "$T/bad.yaml" \
    --tokenizer "$T/tok" --out "$T/x.h5"
printf 'n_layer: 2.5\nn_head: 4\nn_embd: 32\nn_positions: 64\n' >"$T/bad.yaml"
expect_err 2 "bad.yaml: line 1: key 'n_layer' must be a positive integer, got '2.5'" "$RESTPG" pretrain \
    --data "$T/ds.h5" --config "$T/bad.yaml" --tokenizer "$T/tok" --out "$T/x.h5"
printf 'n_layer: 1\nn_head: 3\nn_embd: 32\nn_positions: 64\n' >"$T/bad.yaml"
expect_err 2 "bad.yaml" "$RESTPG" pretrain --data "$T/ds.h5" --config "$T/bad.yaml" --tokenizer "$T/tok" --out "$T/x.h5"
expect_err 2 "--seq-len: must be in 1..128" "$RESTPG" pretrain --data "$T/ds.h5" --config "$T/model.yaml" \
    --tokenizer "$T/tok" --out "$T/x.h5" --seq-len 500
expect_err 2 "--lr-schedule: expected cosine or linear" "$RESTPG" pretrain --data "$T/ds.h5" --config "$T/model.yaml" \
    --tokenizer "$T/tok" --out "$T/x.h5" --lr-schedule step
expect_err 2 "sft: --init is required" "$RESTPG" sft --data "$T/ds.h5" --out "$T/x.h5"
expect_err 2 "--reasoning: expected on, off or auto" "$RESTPG" sft --data "$T/ds.h5" --init "$T/base.h5" --out "$T/x.h5" --reasoning maybe
expect_err 2 "field 'reasoning' is empty" "$RESTPG" sft --data "$T/ds.h5" --init "$T/base.h5" --out "$T/x.h5" --reasoning on --steps 1
[ -e "$T/x.h5" ] && fail "a failed run left $T/x.h5"
# Resuming with a different data order is refused.
expect_err 2 "cannot resume: run option 'batch_size' was 8, now 4" "$RESTPG" pretrain --data "$T/ds.h5" \
    --config "$T/model.yaml" --out "$T/base.h5" --steps 60 --batch-size 4 --seq-len 64 --resume
ls "$T"/*.tmp.* >/dev/null 2>&1 && fail "temp files left behind"
[ $fails = 0 ] && echo "trainer_cli: all checks passed"
exit $fails

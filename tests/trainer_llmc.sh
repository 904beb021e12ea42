#!/bin/bash
# `restpg convert` between llm.c's GPT-2 fp32 checkpoints (version 3) and restpg checkpoints:
#  - an llm.c file with GPT-2's vocabulary (V 50257, Vp 50304, random weights written here by
#    numpy) -> restpg (with --tokenizer data/gpt2, whose 2 extra special tokens get zero rows)
#    -> llm.c is bitwise identical to the original, and every HF tensor of the restpg file is
#    the matching llm.c tensor (transposed for Conv1D weights);
#  - a trained restpg checkpoint -> llm.c -> restpg keeps parameters and loss bitwise;
#  - bad sources and targets exit 2 naming the file.
set -u
source "$RESTPG_SOURCE_DIR/tests/lib.sh" trainer_llmc
PY=/usr/bin/python3
GPT2="$RESTPG_SOURCE_DIR/data/gpt2"

"$PY" - "$T/gpt2.bin" <<'PYEOF' || fail "writing the llm.c file"
import sys, numpy as np
maxT, V, L, H, C, Vp = 16, 50257, 2, 2, 8, 50304
r = np.random.default_rng(5)
h = np.zeros(256, np.int32)
h[:8] = [20240326, 3, maxT, V, L, H, C, Vp]
wte = (r.standard_normal((Vp, C)) * 0.02).astype(np.float32)
wte[V:] = 0  # llm.c keeps the padding rows at zero
rest = (r.standard_normal(maxT * C + L * (12 * C * C + 13 * C) + 2 * C) * 0.02).astype(np.float32)
with open(sys.argv[1], "wb") as f:
    f.write(h.tobytes()); f.write(wte.tobytes()); f.write(rest.tobytes())
PYEOF

"$RESTPG" convert --from "$T/gpt2.bin" --to "$T/gpt2.h5" --tokenizer "$GPT2" >/dev/null || fail "llm.c -> restpg"
"$RESTPG" convert --from "$T/gpt2.h5" --to "$T/back.bin" >/dev/null || fail "restpg -> llm.c"
cmp -s "$T/gpt2.bin" "$T/back.bin" || fail "llm.c -> restpg -> llm.c is not bitwise identical"

"$PY" - "$T/gpt2.bin" "$T/gpt2.h5" <<'PYEOF' || fail "restpg tensors vs llm.c tensors"
import sys, h5py, numpy as np
raw = np.fromfile(sys.argv[1], np.int32, 256)
maxT, V, L, H, C, Vp = raw[2:8]
x = np.fromfile(sys.argv[1], np.float32, offset=1024)
shapes = [(Vp, C), (maxT, C), (L, C), (L, C), (L, 3 * C, C), (L, 3 * C), (L, C, C), (L, C), (L, C), (L, C),
          (L, 4 * C, C), (L, 4 * C), (L, C, 4 * C), (L, C), (C,), (C,)]
t, o = [], 0
for s in shapes:
    n = int(np.prod(s)); t.append(x[o:o + n].reshape(s)); o += n
assert o == x.size
f = h5py.File(sys.argv[2], "r")
p = f["params"]
assert f.attrs["vocab_size"] == 50259 and f.attrs["llmc_vocab_size"] == 50257
wte = p["transformer.wte.weight"][()]
assert wte.shape == (50259, C) and (wte[:V] == t[0][:V]).all() and not wte[V:].any()
assert (p["transformer.wpe.weight"][()] == t[1]).all()
names = [None, None, "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias", "attn.c_proj.weight",
         "attn.c_proj.bias", "ln_2.weight", "ln_2.bias", "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight",
         "mlp.c_proj.bias"]
for k in range(2, 14):
    for l in range(L):
        got = p["transformer.h.%d.%s" % (l, names[k])][()]
        want = t[k][l].T if t[k].ndim == 3 else t[k][l]
        assert got.shape == want.shape and (got == want).all(), (k, l)
assert (p["transformer.ln_f.weight"][()] == t[14]).all() and (p["transformer.ln_f.bias"][()] == t[15]).all()
PYEOF

# A trained restpg model through llm.c and back, with a restpg tokenizer.
"$RESTPG" data synth --users 6 --per-user 4 --seed 2 --out "$T/ds.h5" >/dev/null || fail "data synth"
"$RESTPG" tokenizer train --data "$T/ds.h5" --vocab-size 300 --out "$T/tok" >/dev/null || fail "tokenizer train"
printf 'n_layer: 1\nn_head: 2\nn_embd: 16\nn_positions: 32\n' >"$T/model.yaml"
"$RESTPG" pretrain --data "$T/ds.h5" --config "$T/model.yaml" --tokenizer "$T/tok" --out "$T/a.h5" --steps 5 \
    --batch-size 2 --threads 1 >/dev/null || fail "pretrain"
"$RESTPG" convert --from "$T/a.h5" --to "$T/a.bin" >/dev/null || fail "restpg -> llm.c"
"$RESTPG" convert --from "$T/a.bin" --to "$T/b.h5" --tokenizer "$T/tok" >/dev/null || fail "llm.c -> restpg"
"$RESTPG" convert --from "$T/b.h5" --to "$T/b.bin" >/dev/null || fail "restpg -> llm.c again"
cmp -s "$T/a.bin" "$T/b.bin" || fail "restpg -> llm.c -> restpg -> llm.c changed the file"
printf '1 2 3 4 5 6 7 8\n9 10 11\n' >"$T/tokens.txt"
la=$("$RESTPG" loss --model "$T/a.h5" --tokens "$T/tokens.txt") || fail "loss a"
lb=$("$RESTPG" loss --model "$T/b.h5" --tokens "$T/tokens.txt") || fail "loss b"
[ "$la" = "$lb" ] || fail "loss changed through llm.c: '$la' vs '$lb'"
"$PY" -c "
import sys, h5py
a, b = h5py.File(sys.argv[1], 'r')['params'], h5py.File(sys.argv[2], 'r')['params']
assert sorted(a) == sorted(b) and all(a[k][()].tobytes() == b[k][()].tobytes() for k in a)
" "$T/a.h5" "$T/b.h5" || fail "parameters changed through llm.c"

expect_err 2 "pass --tokenizer" "$RESTPG" convert --from "$T/gpt2.bin" --to "$T/x.h5"
expect_err 2 "config mismatch with the tokenizer" "$RESTPG" convert --from "$T/gpt2.bin" --to "$T/x.h5" --tokenizer "$T/tok"
expect_err 2 "unknown target format" "$RESTPG" convert --from "$T/a.h5" --to "$T/x.txt"
expect_err 2 "carries its own tokenizer" "$RESTPG" convert --from "$T/a.h5" --to "$T/x.bin" --tokenizer "$T/tok"
head -c 5000 "$T/gpt2.bin" >"$T/cut.bin"
expect_err 2 "cut.bin: file has 5000 bytes" "$RESTPG" convert --from "$T/cut.bin" --to "$T/x.h5" --tokenizer "$GPT2"
expect_err 2 "ds.h5: is a 'restpg-dataset' file" "$RESTPG" convert --from "$T/ds.h5" --to "$T/x.bin"
[ -e "$T/x.h5" ] || [ -e "$T/x.bin" ] && fail "a failed conversion left an output file"
[ $fails = 0 ] && echo "trainer_llmc: all checks passed"
exit $fails

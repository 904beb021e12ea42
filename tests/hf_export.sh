#!/usr/bin/env bash
# `restpg export --hf` (model/hf_dir_export.c) read back by PyPI's libraries:
#  (a) a tiny GPT-2 checkpoint (restpg-trained tokenizer): every tensor under GPT-2's Hugging Face
#      name and shape (Conv1D weights transposed), values bit-equal to the checkpoint's (h5py),
#      config.json keys as transformers' GPT2Config names them; PyPI tokenizers encodes texts to
#      restpg's ids; `convert --from DIR` loads it back with the same loss on a batch.
#  (b) Gemma 3 270M (the real GGUF) as bf16 in 100 MB shards: the index names every tensor once,
#      each bf16 tensor equals numpy's (ml_dtypes) rounding of restpg's fp32 weights (from
#      `convert --to .h5`), and greedy generation from the exported directory runs.
#  (c) refusals: --hf naming an existing directory (without --overwrite) or the input itself.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh" hf_export
env_out=$(bash "$here/../scripts/model_env.sh")
PY=$(sed -n 's/^python=//p' <<<"$env_out")
GGUF=$(sed -n 's/^gguf=//p' <<<"$env_out")

# (a) GPT-2.
tiny_test_model 3 4 2
"$RESTPG" export --model "$T/m.h5" --hf "$T/g2" >/dev/null 2>"$T/log" || fail "export gpt2: $(cat "$T/log")"
printf 'the user writes about debian packages\nhello world, 42 times\n' >"$T/texts.txt"
while IFS= read -r line; do
    printf '%s' "$line" | "$RESTPG" tokenizer encode --tokenizer "$T/tok" >>"$T/ids.txt" || fail "encode"
done <"$T/texts.txt"
"$PY" - "$T/m.h5" "$T/g2" "$T/texts.txt" "$T/ids.txt" <<'PYEOF' || fail "gpt2 export read back"
import json, sys, h5py, numpy as np
from safetensors import safe_open
from tokenizers import Tokenizer
ck, d, texts, ids = sys.argv[1:]
cfg = json.load(open(d + "/config.json"))
assert cfg["model_type"] == "gpt2" and cfg["architectures"] == ["GPT2LMHeadModel"], cfg
p = h5py.File(ck)["params"]
with safe_open(d + "/model.safetensors", "numpy") as f:
    names = set(f.keys())
    assert names == set(p.keys()), (sorted(names ^ set(p.keys())))[:5]
    for k in names:
        a = f.get_tensor(k)
        assert a.dtype == np.float32 and a.shape == p[k].shape and np.array_equal(a, p[k][()]), k
assert cfg["n_layer"] == 2 and cfg["n_embd"] == 64 and cfg["vocab_size"] == p["transformer.wte.weight"].shape[0]
tok = Tokenizer.from_file(d + "/tokenizer.json")
for text, want in zip(open(texts).read().splitlines(), open(ids).read().splitlines()):
    got = tok.encode(text, add_special_tokens=False).ids
    assert got == [int(x) for x in want.split()], (text, got, want)
print("hf_export: gpt2 tensors (%d), config and tokenizer read back by PyPI" % len(names))
PYEOF
"$RESTPG" convert --from "$T/g2" --to "$T/back.h5" >/dev/null 2>"$T/log" || fail "convert --from exported dir: $(cat "$T/log")"
for m in "$T/m.h5" "$T/back.h5"; do
    "$RESTPG" loss --model "$m" --tokens "$T/ids.txt" --threads 1 --json 2>/dev/null >>"$T/losses"
done
[ "$(sort -u "$T/losses" | wc -l)" = 1 ] || fail "loss differs after export and import: $(cat "$T/losses")"

# (b) Gemma 3 270M as bf16 shards.
"$RESTPG" convert --from "$GGUF" --to "$T/g3.h5" >/dev/null 2>&1 || fail "convert gguf"
"$RESTPG" export --model "$GGUF" --hf "$T/g3" --dtype bf16 --shard-mb 100 >/dev/null 2>"$T/log" ||
    fail "export gemma3: $(cat "$T/log")"
"$PY" - "$T/g3.h5" "$T/g3" <<'PYEOF' || fail "gemma3 export read back"
import json, sys, h5py, numpy as np, ml_dtypes
from safetensors import safe_open
ck, d = sys.argv[1:]
idx = json.load(open(d + "/model.safetensors.index.json"))
files = sorted(set(idx["weight_map"].values()))
assert len(files) >= 3, files  # the 335 MB embedding alone, the rest in <= 100 MB shards
p = h5py.File(ck)["params"]
assert set(idx["weight_map"]) == set(p.keys())
cfg = json.load(open(d + "/config.json"))
assert cfg["model_type"] == "gemma3_text" and cfg["torch_dtype"] == "bfloat16" and cfg["hidden_size"] == 640
n = 0
for fn in files:
    with safe_open(d + "/" + fn, "numpy") as f:
        for k in f.keys():
            a = f.get_tensor(k)
            want = p[k][()].astype(ml_dtypes.bfloat16)
            assert a.dtype == want.dtype and a.shape == want.shape and np.array_equal(a.view(np.uint16), want.view(np.uint16)), k
            n += 1
print("hf_export: gemma3 bf16 export, %d tensors in %d shards, equal to ml_dtypes' rounding" % (n, len(files)))
PYEOF
"$RESTPG" generate --model "$T/g3" --prompt "The capital of France is" --temperature 0 --max-new-tokens 8 --threads 2 \
    >"$T/gen.txt" 2>&1 || fail "generate from the exported directory: $(cat "$T/gen.txt")"
echo "hf_export: greedy continuation from the bf16 export: '$(tail -n +2 "$T/gen.txt" | head -c -1)'"

# (c) Refusals.
expect_err 2 "exists (remove it, or pass --overwrite)" "$RESTPG" export --model "$T/m.h5" --hf "$T/g2"
"$RESTPG" export --model "$T/m.h5" --hf "$T/g2" --overwrite >/dev/null 2>&1 || fail "export --overwrite"
expect_err 2 "is the input" "$RESTPG" export --model "$T/g2" --hf "$T/g2" --overwrite
[ -f "$T/g2/config.json" ] || fail "a refused export damaged the input"

[ $fails = 0 ] && echo "hf_export: all checks passed"
exit $fails

#!/usr/bin/env bash
# `restpg run` from the real Gemma 3 270M (model.init: gguf:FILE) on the Debian benchmark, sized to
# finish in a few minutes on 2 cores: the GGUF is imported once into base.h5 with the context of
# model.n_positions, then SFT with reasoning, one EM round (sampling on the KV-cached Gemma decoder)
# and the final evaluation run; a rerun with --resume does nothing new and reports the same result.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
GGUF=$(bash "$here/../scripts/model_env.sh" | sed -n 's/^gguf=//p')
T=$(mktemp -d "${RESTPG_TEST_TMP:-/tmp}/gemma_pipe.XXXXXX")
trap 'rm -rf "$T"' EXIT
cat > "$T/gemma.yaml" <<YAML
seed: 1
threads: 2
data: {source: debian, max_users: 40}
model: {init: "gguf:$GGUF", n_positions: 768}
prompt: {k: 1}
sft: {steps: 2, batch_size: 1, grad_accum: 1, lr: 0.00002}
em: {rounds: 1, n: 2, keep: 1, tau: 0.05, max_new_tokens: 48, steps: 2, batch_size: 1, grad_accum: 1, lr: 0.00001, limit: 4, mstep_init: previous}
eval: {limit: 4, val_limit: 4, max_new_tokens: 48}
YAML
"$RESTPG" run "$T/gemma.yaml" --run_dir="$T/run" > "$T/log" 2>&1 || { cat "$T/log"; exit 1; }
grep -q "imported gguf:$GGUF into $T/run/base.h5: gemma3: 18 layers" "$T/log" || { cat "$T/log"; exit 1; }
/usr/bin/python3 - "$T/run" <<'PY'
import json, sys, h5py
d = sys.argv[1]
with h5py.File(d + "/base.h5") as f:
    arch = f.attrs["architecture"]
    arch = arch.decode() if isinstance(arch, bytes) else arch
    assert arch == "gemma3" and int(f.attrs["max_positions"]) == 768, dict(f.attrs)
    assert "optimizer" not in f
with h5py.File(d + "/sft.h5") as f:
    assert "optimizer" in f and int(f["optimizer"].attrs["step"]) == 2
rows = [json.loads(l) for l in open(d + "/metrics.jsonl")]
stages = [r["stage"] for r in rows]
assert stages.count("val") == 2 and "estep" in stages and stages[-1] == "eval", stages
final = rows[-1]
assert final["n"] == 4 and 0 < final["rouge1"] <= 1, final
print("gemma pipeline ok:", {k: final[k] for k in ("rouge1", "rougeL", "meteor")})
PY
cp "$T/run/eval/eval.json" "$T/eval1.json"
"$RESTPG" run "$T/gemma.yaml" --run_dir="$T/run" --resume > "$T/log2" 2>&1 || { cat "$T/log2"; exit 1; }
cmp "$T/eval1.json" "$T/run/eval/eval.json"
echo "gemma_pipeline: all checks passed"

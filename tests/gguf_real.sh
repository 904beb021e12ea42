#!/usr/bin/env bash
# Every tensor of the real Gemma 3 270M GGUF (assembled by scripts/model_env.sh), dequantized by
# model/gguf.c and by gguf-py (tests/make_gguf.py stream), must match bit for bit. Prints the
# metadata, the tensor types and the time. Usage: gguf_real.sh path/to/test_gguf
set -euo pipefail
test_gguf=$1
src="${RESTPG_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}"
env_out=$(RESTPG_NO_LLAMA=1 bash "$src/scripts/model_env.sh")
py=$(sed -n 's/^python=//p' <<<"$env_out")
model=$(sed -n 's/^gguf=//p' <<<"$env_out")
[ -n "$py" ] && [ -f "$model" ] || { echo "gguf_real: model_env.sh gave no python/gguf" >&2; exit 1; }
start=$(date +%s)
"$py" "$src/tests/make_gguf.py" stream "$model" | "$test_gguf" --real "$model"
echo "gguf_real: $(( $(date +%s) - start )) s in all (gguf-py and C)"

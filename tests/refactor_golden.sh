#!/usr/bin/env bash
# A refactor changes no result: the tiny REST-PG pipeline (reasoning on, 2 EM rounds with M-steps,
# 2 MPI ranks, 1 thread) must produce outputs whose digests (tests/golden_digest.py: every HDF5
# dataset and attribute, every JSON file without wall-clock fields) equal those recorded from the
# code before the backend refactor, in tests/data/refactor_golden/CORE.txt. sgemm's bits depend on
# the OpenBLAS kernel chosen for the CPU (CORE), so digests are kept per kernel; on a CPU with no
# recorded digests the test is skipped (exit 77) and says so: record them by running this script
# with RECORD=1 on the code before a change.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
core=$($PY -c "import ctypes; l=ctypes.CDLL('libopenblas.so.0'); l.openblas_get_corename.restype=ctypes.c_char_p; print(l.openblas_get_corename().decode())")
want="$here/data/refactor_golden/$core.txt"
T=$(mktemp -d "${RESTPG_TEST_TMP:-/tmp}/golden.XXXXXX")
trap 'rm -rf "$T"' EXIT
cat > "$T/tiny.yaml" <<'YAML'
seed: 5
threads: 1
data: {source: synth, synth_users: 16}
tokenizer: {vocab_size: 512}
model: {n_layer: 2, n_head: 2, n_embd: 64, n_positions: 512}
pretrain: {steps: 120, batch_size: 4, seq_len: 128, lr: 0.003}
prompt: {k: 2}
sft: {steps: 120, batch_size: 4, lr: 0.002}
em: {rounds: 2, n: 6, keep: 2, tau: 0.1, max_new_tokens: 160, steps: 20, batch_size: 4, lr: 0.001, limit: 24, subset: first, select: last, warmup_frac: 0, mstep_init: previous}
eval: {limit: 8, val_limit: 8, max_new_tokens: 160}
YAML
# RESTPG_GOLDEN_EXTRA: YAML lines appended to the config, for options that must change no output
# (train.recompute); RESTPG_GOLDEN_LOG: a text the run's log must then contain (the option was used).
if [ -n "${RESTPG_GOLDEN_EXTRA:-}" ]; then printf '%s\n' "$RESTPG_GOLDEN_EXTRA" >> "$T/tiny.yaml"; fi
if [ "${RECORD:-0}" != 1 ] && [ ! -f "$want" ]; then
  echo "SKIP: no digests recorded for OpenBLAS kernel $core (tests/data/refactor_golden/ has $(ls "$here/data/refactor_golden" | tr '\n' ' '))"
  exit 77
fi
mpiexec -n 2 --bind-to none "$RESTPG" run "$T/tiny.yaml" --run_dir="$T/run" > "$T/log" 2>&1 || { cat "$T/log"; exit 1; }
if [ -n "${RESTPG_GOLDEN_LOG:-}" ] && ! grep -qF "$RESTPG_GOLDEN_LOG" "$T/log"; then
  echo "FAIL: the run's log does not contain '$RESTPG_GOLDEN_LOG'"; exit 1
fi
$PY "$here/golden_digest.py" "$T/run" > "$T/digest.txt"
if [ "${RECORD:-0}" = 1 ]; then cp "$T/digest.txt" "$want"; echo "recorded $want"; exit 0; fi
if ! diff "$want" "$T/digest.txt"; then echo "FAIL: outputs differ from the recorded ones (lines above)"; exit 1; fi
echo "refactor_golden: $(wc -l < "$want") outputs bit-identical to the recorded code (OpenBLAS $core)"

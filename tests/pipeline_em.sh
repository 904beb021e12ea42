#!/usr/bin/env bash
# EM on the synthetic dataset under 2 ranks: the train reward of the sampled candidates rises from
# round 1 to round 3, and the policy after the last round beats the SFT policy on validation.
set -euo pipefail
T=$(mktemp -d "${RESTPG_TEST_TMP:-/tmp}/pipeem.XXXXXX")
trap 'rm -rf "$T"' EXIT
cat > "$T/synth.yaml" <<'YAML'
seed: 3
threads: 1
data: {source: synth, synth_users: 40}
tokenizer: {vocab_size: 512}
model: {n_layer: 2, n_head: 2, n_embd: 64, n_positions: 512}
pretrain: {steps: 200, batch_size: 4, seq_len: 128, lr: 0.003}
prompt: {k: 2}
sft: {steps: 200, batch_size: 4, lr: 0.002}
em: {rounds: 3, n: 8, keep: 4, tau: 0.3, max_new_tokens: 200, steps: 60, batch_size: 4, lr: 0.001, limit: 32, mstep_init: previous}
eval: {limit: 24, val_limit: 24, max_new_tokens: 200}
YAML
mpiexec -n 2 --bind-to none "$RESTPG" run "$T/synth.yaml" --run_dir="$T/run" > "$T/log" 2>&1 || { cat "$T/log"; exit 1; }
/usr/bin/python3 - "$T/run/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
est = {r["round"]: r["mean_reward"] for r in rows if r["stage"] == "estep"}
val = {r["round"]: r["reward"] for r in rows if r["stage"] == "val"}
print("train reward per round:", est, "val reward per round:", val)
assert est[3] > est[1], est
assert val[3] > val[0], val
PY

#!/usr/bin/env bash
# restpg ablate on a tiny config under 2 ranks: the five methods run (REST-PG's data and base model
# reused by the others), the table names each with ROUGE-1/ROUGE-L/METEOR and the gain over
# RAG + SFT, and the JSON agrees with the evaluations it summarises.
set -euo pipefail
T=$(mktemp -d "${RESTPG_TEST_TMP:-/tmp}/ablate.XXXXXX")
trap 'rm -rf "$T"' EXIT
cat > "$T/tiny.yaml" <<'YAML'
seed: 5
threads: 1
data: {source: synth, synth_users: 12}
tokenizer: {vocab_size: 400}
model: {n_layer: 1, n_head: 2, n_embd: 32, n_positions: 448}
pretrain: {steps: 20, batch_size: 4, seq_len: 64}
sft: {steps: 16, batch_size: 4}
em: {rounds: 1, n: 4, keep: 2, tau: 0, max_new_tokens: 60, steps: 8, limit: 12}
eval: {limit: 6, val_limit: 6, max_new_tokens: 60}
YAML
mpiexec -n 2 --bind-to none "$RESTPG" ablate "$T/tiny.yaml" --run_dir="$T/abl" > "$T/log" 2>&1 || { cat "$T/log"; exit 1; }
grep -q "| REST-PG |" "$T/log"
/usr/bin/python3 - "$T/abl" <<'PY'
import json, sys
d = sys.argv[1]
t = json.load(open(d + "/ablation.json"))
names = [m["method"] for m in t["methods"]]
assert names == ["no_personalization", "rag_sft", "sft_reasoning", "rest_em", "rest_pg"], names
rag = t["methods"][1]
assert all(v == 0 for v in rag["gain_vs_rag_sft_pct"].values()), rag
sources = {"rest_pg": "rest_pg/eval", "rest_em": "rest_em/eval", "no_personalization": "no_personalization/eval",
           "sft_reasoning": "sft_reasoning", "rag_sft": "rag_sft"}
for m in t["methods"]:
    e = json.load(open("%s/%s/eval.json" % (d, sources[m["method"]])))
    assert e["n"] == m["n"] == 6 and abs(e["rouge1"] - m["rouge1"]) < 1e-6, (m, e)
md = open(d + "/ablation.md").read()
assert md.count("\n| ") == 6, md
print("ablation table ok")
PY
grep -q 'init: ".*rest_pg/base.h5"' "$T/abl/rest_em/config.yaml"
grep -q 'reasoning: "off"' "$T/abl/rest_em/config.yaml"
grep -q 'profile: "off"' "$T/abl/no_personalization/config.yaml"
echo "pipeline_ablate: all checks passed"

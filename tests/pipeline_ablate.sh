#!/usr/bin/env bash
# restpg ablate --seeds 1,2 on a tiny config under 2 ranks: the five methods run per seed (REST-PG's
# data and base model reused by the others, the second seed on the first seed's dataset); the
# tables give per method and metric the mean over examples and seeds with a 95% bootstrap interval
# and REST-PG's paired difference against each method. Checked against the evaluations they
# summarise (means), and the intervals against a two-level bootstrap written here in numpy over the
# per-pair scores `restpg score --per-pair` gives (Monte-Carlo agreement). Runtime keys (device,
# train.recompute) reach every variant.
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
train: {recompute: true}
YAML
mpiexec -n 2 --bind-to none "$RESTPG" ablate "$T/tiny.yaml" --seeds 1,2 --run_dir="$T/abl" > "$T/log" 2>&1 || { cat "$T/log"; exit 1; }
grep -q "| REST-PG |" "$T/log"
# train.recompute (a runtime key) reached every training stage: 6 per seed (REST-PG's pretrain, SFT
# and M-step, ReST-EM's SFT and M-step, no personalization's SFT).
n=$(grep -c "recomputed per layer" "$T/log" || true)
[ "$n" -ge 12 ] || { echo "train.recompute reached $n training stages, not 12"; exit 1; }
sources=(no_personalization/eval rag_sft sft_reasoning rest_em/eval rest_pg/eval)
for s in 1 2; do
  for src in "${sources[@]}"; do
    "$RESTPG" score --pred "$T/abl/seed$s/$src/predictions.json" --ref "$T/abl/seed$s/$src/references.json" \
      --metrics rouge1,rougeL,meteor --per-pair "$T/pp_${s}_${src//\//_}.jsonl" > /dev/null
  done
done
/usr/bin/python3 - "$T" <<'PY'
import json, sys
import numpy as np
T = sys.argv[1]; d = T + "/abl"
t = json.load(open(d + "/ablation.json"))
names = [m["method"] for m in t["methods"]]
assert names == ["no_personalization", "rag_sft", "sft_reasoning", "rest_em", "rest_pg"], names
assert t["seeds"] == [1, 2] and t["examples"] == 6 and t["reference"] == "rest_pg", t
sources = ["no_personalization/eval", "rag_sft", "sft_reasoning", "rest_em/eval", "rest_pg/eval"]
keys = ["rouge1", "rougeL", "meteor"]
# per-pair scores [method][seed][example][metric], examples in the first file's order
ids = [json.loads(l)["id"] for l in open("%s/pp_1_%s.jsonl" % (T, sources[0].replace("/", "_")))]
X = np.zeros((5, 2, len(ids), 3))
for k, src in enumerate(sources):
    for s in (1, 2):
        rows = {r["id"]: r for r in map(json.loads, open("%s/pp_%d_%s.jsonl" % (T, s, src.replace("/", "_"))))}
        X[k, s - 1] = [[rows[i][m] for m in keys] for i in ids]
        e = json.load(open("%s/seed%d/%s/eval.json" % (d, s, src)))
        assert abs(e["rouge1"] - X[k, s - 1, :, 0].mean()) < 1e-6, (src, s)
def boot(v, B=20000, seed=0):
    r = np.random.default_rng(seed); S, n = v.shape
    out = np.empty(B)
    for b in range(B):
        out[b] = v[r.integers(0, S, S)][:, r.integers(0, n, n)].mean()
    return np.percentile(out, [2.5, 97.5])
for k, m in enumerate(t["methods"]):
    for j, key in enumerate(keys):
        mean = X[k, :, :, j].mean()
        assert abs(m[key] - mean) < 1e-6, (m["method"], key, m[key], mean)
        lo, hi = m[key + "_ci"]
        ref = boot(X[k, :, :, j], B=4000, seed=k * 10 + j)
        w = max(ref[1] - ref[0], 1e-9)
        assert lo <= mean + 1e-9 and mean <= hi + 1e-9, (m["method"], key, lo, mean, hi)
        assert abs(lo - ref[0]) <= 0.15 * w + 1e-6 and abs(hi - ref[1]) <= 0.15 * w + 1e-6, (m["method"], key, (lo, hi), ref)
        if m["method"] != "rest_pg":
            dd = m["rest_pg_minus_this"][key]
            diff = X[4, :, :, j] - X[k, :, :, j]
            assert abs(dd["diff"] - diff.mean()) < 1e-6, (m["method"], key)
            ref = boot(diff, B=4000, seed=100 + k * 10 + j)
            w = max(ref[1] - ref[0], 1e-9)
            assert abs(dd["ci"][0] - ref[0]) <= 0.15 * w + 1e-6 and abs(dd["ci"][1] - ref[1]) <= 0.15 * w + 1e-6, \
                (m["method"], key, dd, ref)
md = open(d + "/ablation.md").read()
assert sum(l.startswith("| ") for l in md.splitlines()) == (2 + 5) + (2 + 4), md
print("ablation statistics ok: means, intervals and paired differences over 2 seeds x 6 examples")
PY
grep -q 'path: ".*seed1/rest_pg/data.h5"' "$T/abl/seed2/rest_pg/config.yaml"
grep -q 'seed: 2' "$T/abl/seed2/rest_em/config.yaml"
grep -q 'init: ".*seed2/rest_pg/base.h5"' "$T/abl/seed2/rest_em/config.yaml"
grep -q 'reasoning: "off"' "$T/abl/seed1/rest_em/config.yaml"
grep -q 'profile: "off"' "$T/abl/seed1/no_personalization/config.yaml"
if command -v gnuplot > /dev/null; then [ -s "$T/abl/plots/ablation.png" ]; fi
echo "pipeline_ablate: all checks passed"

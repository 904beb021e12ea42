#!/usr/bin/env bash
# The EM settings of issue 14 on a tiny run under 2 ranks: each E-step samples a fresh random
# em.limit subset of the train inputs; each M-step takes ceil(em.epochs x kept / (batch x accum))
# steps with em.warmup_frac of them warming up; em.select best evaluates the round with the highest
# validation reward (recorded in select.json and metrics.jsonl); an LLM-judge stand-in mixes into
# em.reward through em.judge, and eval.judge reports its mean score, checked here against the judge's
# rule applied to the answers in Python.
set -euo pipefail
T=$(mktemp -d "${RESTPG_TEST_TMP:-/tmp}/emsel.XXXXXX")
trap 'rm -rf "$T"' EXIT
PY=/usr/bin/python3
# The judge: reward = min(1, distinct words of the answer / 40), one JSON line per request.
cat > "$T/judge.py" <<'PY'
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print(json.dumps({"id": r["id"], "reward": min(1.0, len(set(r["answer"].split())) / 40.0)}), flush=True)
PY
cat > "$T/tiny.yaml" <<YAML
seed: 5
threads: 1
data: {source: synth, synth_users: 12}
tokenizer: {vocab_size: 400}
model: {n_layer: 1, n_head: 2, n_embd: 32, n_positions: 448}
pretrain: {steps: 20, batch_size: 4, seq_len: 64}
sft: {steps: 16, batch_size: 4, reasoning: "off"}
em: {rounds: 2, n: 3, keep: 2, tau: 0, max_new_tokens: 40, epochs: 1.5, warmup_frac: 0.5, batch_size: 2, grad_accum: 2, limit: 6, reward: "rouge1:0.5,judge:0.5", judge: "[\"$PY\", \"$T/judge.py\"]"}
eval: {limit: 6, val_limit: 6, max_new_tokens: 40, judge: true}
YAML
mpiexec -n 2 --bind-to none "$RESTPG" run "$T/tiny.yaml" --run_dir="$T/run" > "$T/log" 2>&1 || { cat "$T/log"; exit 1; }
$PY - "$T/run" "$T/log" <<'PY'
import json, math, re, sys
import h5py
d, log = sys.argv[1], open(sys.argv[2]).read()
def ids(path):
    with h5py.File(path, "r") as f:
        return [x.decode() for x in f["candidates/example_id"][()]]
with h5py.File(d + "/data.h5", "r") as f:
    train = {i.decode() for i, s in zip(f["examples/id"][()], f["examples/split"][()]) if s.decode() == "train"}
subsets = []
for t in (1, 2):
    s = ids("%s/em/round%d/samples.h5" % (d, t))
    u = sorted(set(s))
    assert len(u) == 6 and set(u) <= train and len(s) == 18, (t, len(u), len(s))
    subsets.append(set(u))
    kept = json.load(open("%s/em/round%d/estep.json" % (d, t)))["kept"]
    want = max(1, math.ceil(1.5 * kept / 4))
    steps = {json.loads(l)["step"] for l in open("%s/metrics/mstep_round%d.jsonl" % (d, t)) if '"step"' in l}
    assert max(steps) == want, (t, kept, want, max(steps))
    first = [json.loads(l) for l in open("%s/metrics/mstep_round%d.jsonl" % (d, t)) if '"step": 1,' in l][0]
    warm = int(0.5 * want)  # em.warmup_frac 0.5; the first step's lr is em.lr / warm-up steps
    assert warm >= 2 and abs(first["lr"] - 5e-4 / warm) < 1e-9, (t, want, first)
    assert re.search(r"em round %d: M-step of %d steps on %d kept" % (t, want, kept), log), t
assert subsets[0] != subsets[1], "the two rounds sampled the same inputs"
sel = json.load(open(d + "/em/select.json"))
vr = sel["val_rewards"]
assert len(vr) == 3 and sel["select"] == "best" and sel["round"] == vr.index(max(vr)), sel
for t in range(3):
    assert abs(json.load(open("%s/em/round%d/val/eval.json" % (d, t)))["reward"] - vr[t]) < 1e-6
ev = json.load(open(d + "/eval/eval.json"))
want_model = d + ("/sft.h5" if sel["round"] == 0 else "/em/round%d/model.h5" % sel["round"])
assert ev["model"] == want_model, (ev["model"], want_model)
with h5py.File(d + "/eval/samples.h5", "r") as f:
    answers = [a.decode() for a in f["candidates/answer"][()]]
judge = sum(min(1.0, len(set(a.split())) / 40.0) for a in answers) / len(answers)
assert abs(ev["judge"] - judge) < 1e-6, (ev["judge"], judge)
rows = [json.loads(l) for l in open(d + "/metrics.jsonl")]
assert [r["round"] for r in rows if r["stage"] == "select"] == [sel["round"]], rows
print("em select/subset/epochs/judge ok: rounds' val rewards", vr, "-> round", sel["round"], "judge", round(judge, 4))
PY

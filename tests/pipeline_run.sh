#!/usr/bin/env bash
# restpg run end to end on a tiny config under 2 MPI ranks: every stage's outputs, metrics,
# plots and LongLaMP-format predictions; then a run killed with SIGKILL during sampling and again
# during an M-step, resumed with --resume, must end with the same final metrics and model.
# The model is too small to learn the reasoning format in seconds, so this run uses the
# no-reasoning variant (every candidate is eligible); pipeline_em.sh covers reasoning mode.
set -euo pipefail
T=$(mktemp -d "${RESTPG_TEST_TMP:-/tmp}/pipe.XXXXXX")
cleanup() { pkill -9 -f "$T/" 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
PY=/usr/bin/python3
MPI=(mpiexec -n 2 --bind-to none)
cat > "$T/tiny.yaml" <<'YAML'
seed: 7
threads: 1
data:
  source: synth
  synth_users: 12
tokenizer:
  vocab_size: 400
model: {n_layer: 1, n_head: 2, n_embd: 32, n_positions: 448}
pretrain: {steps: 30, batch_size: 4, seq_len: 64, lr: 0.003}
prompt: {k: 2}
sft: {steps: 24, batch_size: 4, lr: 0.002, reasoning: "off"}
em:
  rounds: 2
  n: 8
  keep: 2
  tau: 0
  max_new_tokens: 160
  steps: 120
  batch_size: 4
  limit: 0
eval: {limit: 6, val_limit: 6, max_new_tokens: 40}
YAML

"${MPI[@]}" "$RESTPG" run "$T/tiny.yaml" --run_dir="$T/a" > "$T/a.log" 2>&1 || { cat "$T/a.log"; exit 1; }
for f in config.yaml data.h5 tokenizer.rptk base.h5 sft.h5 em/round0/val/eval.json em/round1/samples.h5 \
         em/round1/estep.json em/round1/model.h5 em/round2/val/eval.json eval/predictions.json eval/eval.json \
         metrics.jsonl metrics/sft.jsonl; do
  [ -e "$T/a/$f" ] || { echo "missing $f"; cat "$T/a.log"; exit 1; }
done
grep -q "final eval" "$T/a.log"
if command -v gnuplot >/dev/null; then
  for p in loss reward kept eval; do [ -s "$T/a/plots/$p.png" ] || { echo "missing plot $p"; exit 1; }; done
fi
$PY - "$T/a" <<'PY'
import json, sys, h5py
d = sys.argv[1]
pred = json.load(open(d + "/eval/predictions.json"))
assert isinstance(pred["task"], str) and pred["task"] == "synthetic"
assert len(pred["golds"]) == 6 and all(set(g) == {"id", "output"} for g in pred["golds"])
ids = [s.decode() for s in h5py.File(d + "/data.h5")["examples/id"][:]]
assert all(g["id"] in ids for g in pred["golds"])
stages = [json.loads(l) for l in open(d + "/metrics.jsonl")]
assert [s["stage"] for s in stages].count("estep") == 2 and [s["stage"] for s in stages].count("val") == 3, stages
with h5py.File(d + "/em/round1/samples.h5") as f:
    c = f["candidates"]
    n_train = sum(1 for s in h5py.File(d + "/data.h5")["examples/split"][:] if s == b"train")
    assert f.attrs["n_per_input"] == 8 and len(c["kept"]) == 8 * n_train, len(c["kept"])
    assert c["kept"][:].sum() == 2 * n_train
print("run outputs ok")
PY

# Starting again on the same directory without --resume is refused; a different config too.
if "$RESTPG" run "$T/tiny.yaml" --run_dir="$T/a" 2> "$T/err"; then echo "reran without --resume"; exit 1; fi
grep -q "continue it with --resume" "$T/err"
if "$RESTPG" run "$T/tiny.yaml" --run_dir="$T/a" --em.n=5 --resume 2> "$T/err"; then echo "resumed with another config"; exit 1; fi
grep -q "different config" "$T/err"

# Kill during sampling of round 1, then during the M-step of round 2; resume each time.
cat > "$T/run_b.sh" <<EOS
exec ${MPI[*]} "$RESTPG" run "$T/tiny.yaml" --run_dir="$T/b" --resume >> "$T/b.log" 2>&1
EOS
kill_when() { # file to wait for; the run is its own session so one kill reaches every rank
  setsid bash "$T/run_b.sh" &
  local pid=$! i
  for i in $(seq 1 6000); do [ -e "$1" ] && break; sleep 0.02; done
  [ -e "$1" ] || { echo "never saw $1"; cat "$T/b.log"; exit 1; }
  # Open MPI puts ranks in process groups of their own, so kill the whole session.
  pkill -9 -s "$pid" 2>/dev/null || true
  kill -9 -- -"$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for i in $(seq 1 100); do pgrep -s "$pid" >/dev/null || break; sleep 0.05; done
}
kill_when "$T/b/em/round1/samples.partial.h5"
[ ! -e "$T/b/em/round1/samples.h5" ] || { echo "sampling finished before the kill"; exit 1; }
kill_when "$T/b/metrics/mstep_round2.jsonl"
[ ! -e "$T/b/em/round2/mstep.done" ] || { echo "M-step finished before the kill"; exit 1; }
bash "$T/run_b.sh" || { cat "$T/b.log"; exit 1; }
$PY - "$T/a" "$T/b" <<'PY'
import json, sys, h5py, numpy as np
a, b = sys.argv[1:]
ea, eb = json.load(open(a + "/eval/eval.json")), json.load(open(b + "/eval/eval.json"))
for k in ("n", "rouge1", "rougeL", "meteor", "reward"):
    assert ea[k] == eb[k], (k, ea[k], eb[k])
with h5py.File(a + "/em/round2/model.h5") as fa, h5py.File(b + "/em/round2/model.h5") as fb:
    for name in fa["params"]:
        assert np.array_equal(fa["params"][name][:], fb["params"][name][:]), name
print("resumed run equals the uninterrupted one:", {k: ea[k] for k in ("rouge1", "rougeL", "meteor")})
PY
echo "pipeline_run: all checks passed"

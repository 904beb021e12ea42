#!/usr/bin/env bash
# restpg reward on a samples file written here with h5py (the documented format): the default
# reward is mean(ROUGE-1, ROUGE-L) of the answer, exact copies score 1, filtering keeps the best K
# above tau, a judge can be mixed in, and bad input leaves the file untouched with exit 2.
set -euo pipefail
T=$(mktemp -d "${RESTPG_TEST_TMP:-/tmp}/reward.XXXXXX")
trap 'rm -rf "$T"' EXIT
PY=/usr/bin/python3
"$RESTPG" data synth --users 6 --seed 4 --out "$T/ds.h5" >/dev/null
$PY - "$T" <<'PY'
import sys, h5py, numpy as np
d = sys.argv[1]
ds = h5py.File(d + "/ds.h5")
ids = [s.decode() for s in ds["examples/id"][:3]]
outs = [s.decode() for s in ds["examples/output"][:3]]
rows = []
for i, (x, ref) in enumerate(zip(ids, outs)):
    words = ref.split()
    rows += [(x, 0, ref), (x, 1, " ".join(words[: len(words) // 2])), (x, 2, ""), (x, 3, "zebra quantum")]
vs = h5py.string_dtype()
with h5py.File(d + "/s.h5", "w") as f:
    f.attrs.update({"format": "restpg-samples", "version": 1, "model": "m", "dataset": "ds", "split": "train",
                    "n_per_input": 4, "round": 1, "seed": 1, "max_new_tokens": 10, "top_k": 0, "reasoning": 1,
                    "temperature": 0.7, "top_p": 0.9})
    c = f.create_group("candidates")
    c["example_id"] = np.array([r[0] for r in rows], dtype=object).astype(vs)
    c["candidate"] = np.array([r[1] for r in rows], dtype=np.int32)
    c["token_offset"] = np.zeros(len(rows) + 1, dtype=np.int64)
    c["tokens"] = np.zeros(0, dtype=np.int32)
    c["reasoning"] = np.array(["- why"] * len(rows), dtype=object).astype(vs)
    c["answer"] = np.array([r[2] for r in rows], dtype=object).astype(vs)
    c["has_separator"] = np.ones(len(rows), dtype=np.uint8)
    c["logprob"] = np.zeros(len(rows))
    c["length"] = np.zeros(len(rows), dtype=np.int32)
    c["finish"] = np.zeros(len(rows), dtype=np.uint8)
PY
"$RESTPG" reward --samples "$T/s.h5" --data "$T/ds.h5" --tau 0.3 --keep 1 --json > "$T/out.json"
$PY - "$T" <<'PY'
import json, sys, h5py
d = sys.argv[1]
j = json.load(open(d + "/out.json"))
assert j["candidates"] == 12 and j["inputs"] == 3 and j["kept"] == 3, j
with h5py.File(d + "/s.h5") as f:
    c = f["candidates"]
    r, k = c["reward"][:], c["kept"][:]
    assert f.attrs["reward_spec"] == "rouge1:0.5,rougeL:0.5" and f.attrs["keep"] == 1
for i in range(3):
    assert abs(r[4 * i] - 1.0) < 1e-12 and r[4 * i + 2] == 0.0 and r[4 * i + 3] == 0.0, r
    assert 0.3 < r[4 * i + 1] < 1.0, r
    assert list(k[4 * i: 4 * i + 4]) == [1, 0, 0, 0], k
print("rewards and kept flags ok")
PY
# A judge mixed in: weights are relative, so rouge1:1,judge:1 is their mean.
"$RESTPG" reward --samples "$T/s.h5" --data "$T/ds.h5" --reward rouge1:1,judge:1 \
  --judge "[\"/usr/bin/python3\", \"$RESTPG_SOURCE_DIR/tests/data/judge.py\", \"ok\"]" --tau 0 --keep 0 --out "$T/j.h5" >/dev/null
$PY -c "
import h5py; r = h5py.File('$T/j.h5')['candidates/reward'][:]
assert abs(r[0] - 1.0) < 1e-12 and r[2] == 0.0, r
"
cp "$T/s.h5" "$T/before.h5"
expect() { local want=$1; shift; local rc=0; "$@" 2> "$T/err" >/dev/null || rc=$?
  [ "$rc" = 2 ] || { echo "exit $rc: $*"; cat "$T/err"; exit 1; }
  grep -qF -- "$want" "$T/err" || { echo "no '$want' in:"; cat "$T/err"; exit 1; }
  cmp -s "$T/s.h5" "$T/before.h5" || { echo "samples changed after a failure"; exit 1; }; }
expect "unknown metric 'bleu'" "$RESTPG" reward --samples "$T/s.h5" --data "$T/ds.h5" --reward bleu
expect "no judge command was given" "$RESTPG" reward --samples "$T/s.h5" --data "$T/ds.h5" --reward judge
expect "expected 'restpg-samples'" "$RESTPG" reward --samples "$T/ds.h5" --data "$T/ds.h5"
"$RESTPG" data synth --users 6 --seed 5 --out "$T/other.h5" >/dev/null
$PY -c "
import h5py; f = h5py.File('$T/other.h5', 'r+'); f['examples/id'][0] = 'renamed'" 
expect "is not in the dataset" "$RESTPG" reward --samples "$T/s.h5" --data "$T/other.h5"
echo "cli_reward: all checks passed"

#!/usr/bin/env bash
# A hostile or broken judge (issue 15): two JSON objects on one line and a 20 MiB line without a
# newline are exit-2 errors naming the judge and the batch, with the samples file untouched; a
# judge whose helper keeps its stdout open leaves no process behind, on success and on timeout.
set -uo pipefail
source "$RESTPG_SOURCE_DIR/tests/lib.sh" hard_judge
PY=/usr/bin/python3
"$RESTPG" data synth --users 6 --seed 4 --out "$T/ds.h5" >/dev/null || fail "data synth"
$PY - "$T" <<'PY'
import sys, h5py, numpy as np
d = sys.argv[1]
ds = h5py.File(d + "/ds.h5")
ids = [s.decode() for s in ds["examples/id"][:3]]
outs = [s.decode() for s in ds["examples/output"][:3]]
rows = [(x, c, ref if c == 0 else "zebra") for x, ref in zip(ids, outs) for c in range(2)]
vs = h5py.string_dtype()
with h5py.File(d + "/s.h5", "w") as f:
    f.attrs.update({"format": "restpg-samples", "version": 1, "model": "m", "dataset": "ds", "split": "train",
                    "n_per_input": 2, "round": 1, "seed": 1, "max_new_tokens": 10, "top_k": 0, "reasoning": 1,
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
# One judge script, its behaviour chosen by the first argument.
cat >"$T/judge.py" <<'PY'
import json, sys, time
mode = sys.argv[1]
for line in sys.stdin:
    req = json.loads(line)
    out = json.dumps({"id": req["id"], "reward": 0.5})
    if mode == "two":
        sys.stdout.write(out + " " + out + "\n")
    elif mode == "long":
        sys.stdout.write("x" * (20 << 20))
        sys.stdout.flush()
        time.sleep(3600)
    elif mode == "hang":
        time.sleep(3600)
    else:
        sys.stdout.write(out + "\n")
    sys.stdout.flush()
PY
cp "$T/s.h5" "$T/before.h5"
judge() { echo "[\"$PY\", \"$T/judge.py\", \"$1\"]"; }
reward() { "$RESTPG" reward --samples "$T/s.h5" --data "$T/ds.h5" --reward judge --judge-retries 0 "$@"; }
untouched() { cmp -s "$T/s.h5" "$T/before.h5" || fail "$1: the samples file changed after a failure"; }

expect_err 2 "more than one JSON value on one line" reward --judge "$(judge two)"
grep -qF "judge '$PY' (batch starting at item 0)" "$T/err" || fail "two objects: the error does not name the judge and batch"
untouched "two objects"

expect_err 2 "longer than 16 MiB" reward --judge "$(judge long)" --judge-timeout 60
grep -qF "judge '$PY' (batch starting at item 0)" "$T/err" || fail "long line: the error does not name the judge and batch"
untouched "long line"

# A helper in the background holds the judge's stdout after the judge exits (success), or while
# the judge hangs (timeout, exit 3: an I/O failure, not bad input): both must be gone when restpg
# returns. The helper is found by its unique sleep length; anything left is ended by its own pid.
helper=$((700000 + $$ % 100000))
leftover() {
    local pids
    pids=$(pgrep -f "^sleep $helper\$" || true)
    [ -z "$pids" ] && return 0
    fail "$1: judge helper still running (pids $pids)"
    for p in $pids; do kill "$p" 2>/dev/null; done
}
sh_judge() { echo "[\"/bin/sh\", \"-c\", \"sleep $helper & exec $PY $T/judge.py $1\"]"; }
reward --judge "$(sh_judge ok)" --out "$T/ok.h5" >/dev/null || fail "a judge with a helper: reward failed"
leftover "after a clean finish"
expect_err 3 "no answer within" reward --judge "$(sh_judge hang)" --judge-timeout 1
leftover "after a timeout"

[ "$fails" = 0 ] && echo "hard_judge: all checks passed"
exit "$fails"

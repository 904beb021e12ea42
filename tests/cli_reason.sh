#!/usr/bin/env bash
# `restpg reason`: built-in teacher fills train/val reasoning without leaking outputs; an external
# teacher's JSON Lines are imported; bad lines fail with file, line and field, leaving the
# dataset untouched.
set -euo pipefail
T=$(mktemp -d "${RESTPG_TEST_TMP:-/tmp}/reason.XXXXXX")
trap 'rm -rf "$T"' EXIT
PY=/usr/bin/python3
"$RESTPG" data synth --users 12 --seed 3 --out "$T/ds.h5" >/dev/null
"$RESTPG" reason --data "$T/ds.h5" --out "$T/r.h5" | tee "$T/log"
grep -q "longest run of words shared with an expected output: [0-3])" "$T/log"
$PY - "$T/r.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1]) as f:
    ex = f["examples"]
    split = [s.decode() for s in ex["split"][:]]
    reason = [s.decode() for s in ex["reasoning"][:]]
for s, r in zip(split, reason):
    assert (r != "") == (s in ("train", "val")), (s, r)
    if r:
        assert all(line.startswith("- ") for line in r.split("\n")), r
print("builtin ok:", sum(1 for r in reason if r), "texts")
PY

# External teacher: two ids get text, the rest are reported missing.
ids=$($PY -c "import h5py,sys; f=h5py.File('$T/ds.h5'); print(' '.join(s.decode() for s in f['examples/id'][:2]))")
set -- $ids
printf '{"id": "%s", "reasoning": "- likes short notes"}\n\n{"id": "%s", "reasoning": "- formal"}\n' "$1" "$2" > "$T/t.jsonl"
"$RESTPG" reason --data "$T/ds.h5" --teacher "jsonl:$T/t.jsonl" --splits all --out "$T/j.h5" 2> "$T/err"
grep -q "no reasoning for" "$T/err"
$PY -c "
import h5py
f = h5py.File('$T/j.h5'); r = [s.decode() for s in f['examples/reasoning'][:]]
assert r[0] == '- likes short notes' and r[1] == '- formal' and r[2] == '', r[:3]
"

cp "$T/ds.h5" "$T/before.h5"
check_bad() { # content, expected message fragment
  printf '%s\n' "$1" > "$T/bad.jsonl"
  if "$RESTPG" reason --data "$T/ds.h5" --teacher "jsonl:$T/bad.jsonl" 2> "$T/err"; then echo "accepted: $1"; exit 1; fi
  rc=0; "$RESTPG" reason --data "$T/ds.h5" --teacher "jsonl:$T/bad.jsonl" 2>/dev/null || rc=$?
  [ "$rc" = 2 ] || { echo "exit $rc for: $1"; exit 1; }
  grep -qF "$2" "$T/err" || { echo "message for '$1' lacks '$2':"; cat "$T/err"; exit 1; }
  cmp -s "$T/ds.h5" "$T/before.h5" || { echo "dataset changed after a failed import"; exit 1; }
}
check_bad '{"id": "nope", "reasoning": "x"}' "bad.jsonl:1: field 'id': unknown id 'nope'"
check_bad "{\"id\": \"$1\"}" "bad.jsonl:1: field 'reasoning' missing"
check_bad '{"id": ' "bad.jsonl:1: not a JSON object"
check_bad "{\"id\": \"$1\", \"reasoning\": \"a\"}
{\"id\": \"$1\", \"reasoning\": \"b\"}" "bad.jsonl:2: field 'id': '$1' appears twice"
check_bad '{"id": 5, "reasoning": "x"}' "field 'id' missing or not a string"
# An offline teacher's answers are held to the teacher program's rules: not empty, no copied run
# of more than 3 words of the expected output.
check_bad "{\"id\": \"$1\", \"reasoning\": \"  \"}" "bad.jsonl:1"
grep -qF "$1" "$T/err" || { echo "empty reasoning: the message does not name the id"; exit 1; }
out1=$($PY -c "import h5py; f=h5py.File('$T/ds.h5'); print(' '.join(f['examples/output'][0].decode().split()[:5]))")
check_bad "{\"id\": \"$1\", \"reasoning\": \"- the user wrote: $out1\"}" "bad.jsonl:1"
grep -qF "$1" "$T/err" || { echo "copying reasoning: the message does not name the id"; exit 1; }
if "$RESTPG" reason --data "$T/ds.h5" --teacher gpt 2>/dev/null; then exit 1; fi
echo "cli_reason: all checks passed"

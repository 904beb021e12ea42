#!/bin/bash
# `restpg data import` and `restpg data synth` end to end: every LongLaMP fixture in both shapes
# appended into one file per task and checked against the JSON with h5py; every kind of bad
# input exits 2 naming file, line/record and field, and leaves no output and no temp file
# behind while an existing output stays byte-identical; synth is deterministic per seed.
set -u
FIX="$RESTPG_SOURCE_DIR/tests/data/longlamp"
source "$RESTPG_SOURCE_DIR/tests/lib.sh" import_cli
PY=/usr/bin/python3

# --- good input: both shapes of all four tasks, collected with --append ---
for t in abstract_generation product_review topic_writing email_completion; do
    "$RESTPG" data import --task $t --input "$FIX/$t.jsonl" --out "$T/$t.h5" >/dev/null ||
        fail "$t: JSON Lines import"
    "$RESTPG" data import --task $t --input "$FIX/${t}_questions.json" --outputs "$FIX/${t}_outputs.json" \
        --split dev --append --out "$T/$t.h5" >/dev/null || fail "$t: GitHub import with --append"
    "$PY" - "$t" "$T/$t.h5" "$FIX" <<'EOF' || fail "$t: h5py check"
import json, sys
import h5py
task, path, fix = sys.argv[1:4]
fields = {"abstract_generation": ["title", "abstract"],
          "product_review": ["overall", "summary", "description", "reviewText"],
          "topic_writing": ["summary", "content"], "email_completion": ["title", "text"]}[task]
users = {"abstract_generation": "name", "product_review": "reviewerId", "topic_writing": "author"}
def text(v):
    return str(float(v)) if isinstance(v, (int, float)) else v
def item(p):
    if task == "topic_writing" and "summary" not in p:
        p = {"summary": p["input"], "content": p["output"]}
    return [text(p[f]) for f in fields]
want = []  # (id, user, split, input, output, profile)
for n, line in enumerate(open(f"{fix}/{task}.jsonl"), 1):
    r = json.loads(line)
    user = r.get(users.get(task, "user_id"), r.get("user_id", r.get("user")))
    want.append((str(r.get("id", f"train-{n}")), user, "train", r["input"], r["output"], [item(p) for p in r["profile"]]))
golds = {str(g["id"]): g["output"] for g in json.load(open(f"{fix}/{task}_outputs.json"))["golds"]}
for q in json.load(open(f"{fix}/{task}_questions.json")):
    i = str(q["id"])
    want.append((i, q.get("user_id", i), "val", q["input"], golds[i], [item(p) for p in q["profile"]]))
with h5py.File(path, "r") as f:
    assert f.attrs["format"] == "restpg-dataset", f.attrs["format"]
    assert int(f.attrs["version"]) == 1
    assert f.attrs["task"] == task
    ex = f["examples"]
    col = lambda name: [s.decode() for s in ex[name][:]]
    ids, us, sp, ins, outs, rs = (col(c) for c in ("id", "user_id", "split", "input", "output", "reasoning"))
    off = ex["profile_offset"][:]
    assert ex["profile_offset"].dtype == "int64"
    assert [s.decode() for s in f["profile/fields"][:]] == fields
    prof = {k: [s.decode() for s in f["profile"][k][:]] for k in fields}
    assert len(off) == len(ids) + 1 and off[0] == 0 and off[-1] == len(prof[fields[0]])
    assert len(ids) == len(want), (len(ids), len(want))
    for i, (wid, wu, wsp, win, wout, wprof) in enumerate(want):
        assert (ids[i], us[i], sp[i], ins[i], outs[i], rs[i]) == (wid, wu, wsp, win, wout, ""), (i, ids[i])
        got = [[prof[k][j] for k in fields] for j in range(off[i], off[i + 1])]
        assert got == wprof, (i, got, wprof)
EOF
done

# --- bad input ---
# bad NAME 'SUBSTRING|SUBSTRING...' IMPORT-ARGS...: exit 2, stderr has every substring, no file at
# a new --out, an existing --out unchanged, no temp file left.
cp "$T/email_completion.h5" "$T/keep.h5"
bad() {
    local name=$1 subs=$2
    shift 2
    for out in "$T/new.h5" "$T/existing.h5"; do
        # --force: replacing the existing file is allowed, so only the bad input may stop the write.
        local force=()
        [ "$out" = "$T/existing.h5" ] && cp "$T/keep.h5" "$T/existing.h5" && force=(--force)
        "$RESTPG" data import "$@" "${force[@]}" --out "$out" >/dev/null 2>"$T/err"
        local rc=$?
        [ $rc -eq 2 ] || fail "$name: exit status $rc, expected 2 ($(cat "$T/err"))"
        local IFS='|'
        for s in $subs; do grep -qF -- "$s" "$T/err" || fail "$name: message lacks '$s': $(cat "$T/err")"; done
        unset IFS
        if [ "$out" = "$T/new.h5" ]; then
            [ ! -e "$out" ] || fail "$name: wrote $out"
        else
            cmp -s "$T/keep.h5" "$out" || fail "$name: changed the existing output"
        fi
        ls "$T" | grep -q '\.tmp\.' && fail "$name: left a temp file"
    done
    rm -f "$T/existing.h5"
}
E=email_completion
row() { printf '{"user_id": "u", "input": "i", "output": %s, "profile": %s}\n' "$1" "$2"; }
P='[{"title": "t", "text": "x"}]'

{ row '"o"' "$P"; printf '{"user_id": "u", "input": \n'; } >"$T/malformed.jsonl"
bad malformed "malformed.jsonl: line 2, column|malformed JSON" --task $E --input "$T/malformed.jsonl"
{ row '"o"' "$P"; row 42 "$P"; } >"$T/type.jsonl"
bad wrong-type "type.jsonl: line 2 (id 'train-2')|field 'output'|expected a string, got a number" --task $E --input "$T/type.jsonl"
printf '{"user_id": "u", "output": "o", "profile": %s}\n' "$P" >"$T/missing.jsonl"
bad missing-field "missing.jsonl: line 1|field 'input': missing" --task $E --input "$T/missing.jsonl"
row '"o"' '[{"title": "t"}]' >"$T/missing_key.jsonl"
bad missing-profile-key "missing_key.jsonl: line 1|field 'profile[0].text': missing" --task $E --input "$T/missing_key.jsonl"
row '"o"' '[{"title": "t", "text": null}]' >"$T/null.jsonl"
bad null-field "null.jsonl: line 1|field 'profile[0].text'|got null" --task $E --input "$T/null.jsonl"
{ row '"o"' "$P"; row '"o"' "$P"; row "\"caf$(printf '\xe9') au lait\"" "$P"; } >"$T/utf8.jsonl"
bad invalid-utf8 "utf8.jsonl: line 3|field 'output'|invalid UTF-8 at byte 3" --task $E --input "$T/utf8.jsonl"
row '"o"' '[]' >"$T/empty_profile.jsonl"
bad empty-profile "empty_profile.jsonl: line 1|field 'profile'|empty" --task $E --input "$T/empty_profile.jsonl"
printf '{"id": "a", "user_id": "u", "input": "i", "output": "o", "profile": %s}\n' "$P" "$P" >"$T/dup.jsonl"
bad duplicate-id "dup.jsonl: line 2 (id 'a')|field 'id'|duplicate id 'a'" --task $E --input "$T/dup.jsonl"
bad unreadable "nope.jsonl: cannot open" --task $E --input "$T/nope.jsonl"
mkdir -p "$T/adir"
bad unreadable-dir "adir: is a directory, expected a file" --task $E --input "$T/adir"
bad device-input "/dev/zero: not a regular file" --task $E --input /dev/zero
: >"$T/empty.jsonl"
bad empty-file "empty.jsonl: no rows" --task $E --input "$T/empty.jsonl"
bad list-without-outputs "email_completion_questions.json: line 1|needs --outputs" --task $E --input "$FIX/${E}_questions.json"
bad bad-split "--split|'holdout'" --task $E --input "$FIX/$E.jsonl" --split holdout
bad bad-task "--task|'poetry'" --task poetry --input "$FIX/$E.jsonl"

Q="$FIX/${E}_questions.json"
printf '{"task": "email_completion", "golds": [{"id": "em-1", "output": "a"}, {"id": "em-2", "output": "b"}, {"id": "em-9", "output": "c"}]}' >"$T/extra_gold.json"
bad gold-without-question "extra_gold.json: record 2 (id 'em-9')|field 'id'|gold without a question" --task $E --input "$Q" --outputs "$T/extra_gold.json"
printf '{"task": "email_completion", "golds": [{"id": "em-1", "output": "a"}]}' >"$T/few_golds.json"
bad question-without-gold "${E}_questions.json: record 1 (id 'em-2')|field 'output'|no gold" --task $E --input "$Q" --outputs "$T/few_golds.json"
bad task-mismatch "product_review_outputs.json: field 'task'|--task is email_completion" --task $E --input "$Q" --outputs "$FIX/product_review_outputs.json"
printf '{"task": "email_completion",\n "golds": [\n  {"id": "em-1" "output": "a"}]}' >"$T/bad_outputs.json"
bad malformed-outputs "bad_outputs.json: line 3, column|malformed JSON" --task $E --input "$Q" --outputs "$T/bad_outputs.json"
printf '{"task": "email_completion", "golds": [{"id": "em-1", "output": 5}]}' >"$T/num_gold.json"
bad gold-wrong-type "num_gold.json: record 0 (id 'em-1')|field 'output'|expected a string" --task $E --input "$Q" --outputs "$T/num_gold.json"
printf '[{"id": "q", "user_id": "u", "input": "i", "profile": %s}, {"id": "q", "input": "j", "profile": %s}]' "$P" "$P" >"$T/dup_q.json"
printf '{"task": "email_completion", "golds": [{"id": "q", "output": "a"}]}' >"$T/dup_q_out.json"
bad duplicate-question "dup_q.json: record 1 (id 'q')|field 'id'|duplicate id 'q'" --task $E --input "$T/dup_q.json" --outputs "$T/dup_q_out.json"
bad unreadable-outputs "missing_outputs.json: cannot open" --task $E --input "$Q" --outputs "$T/missing_outputs.json"

# --append: ids must stay unique across appends, and the task must match the file's.
cp "$T/keep.h5" "$T/existing.h5"
"$RESTPG" data import --task $E --input "$FIX/$E.jsonl" --append --out "$T/existing.h5" >/dev/null 2>"$T/err"
[ $? -eq 2 ] && grep -qF "$E.jsonl: line 1 (id 'train-1'): field 'id': duplicate id 'train-1'" "$T/err" ||
    fail "append of the same rows: $(cat "$T/err")"
"$RESTPG" data import --task topic_writing --input "$FIX/topic_writing.jsonl" --append --out "$T/existing.h5" >/dev/null 2>"$T/err"
[ $? -eq 2 ] && grep -qF "holds task email_completion, not topic_writing" "$T/err" || fail "append across tasks: $(cat "$T/err")"
cmp -s "$T/keep.h5" "$T/existing.h5" || fail "a failed append changed the file"
"$RESTPG" data import --task $E --input "$FIX/$E.jsonl" --split test --append --out "$T/existing.h5" >/dev/null ||
    fail "append under another split"
"$PY" -c '
import collections, sys, h5py
f = h5py.File(sys.argv[1], "r")
pairs = collections.Counter(s.decode() for s in f["examples/split"][:])
assert pairs == {"train": 2, "val": 2, "test": 2}, pairs
assert [i.decode() for i in f["examples/id"][-2:]] == ["test-1", "test-2"]
' "$T/existing.h5" || fail "append counts"

# --- synth: same seed, same contents (h5diff compares data, not HDF5's timestamps) ---
"$RESTPG" data synth --users 12 --seed 3 --per-user 4 --out "$T/s1.h5" >/dev/null || fail "synth"
"$RESTPG" data synth --users 12 --seed 3 --per-user 4 --out "$T/s2.h5" >/dev/null || fail "synth again"
"$RESTPG" data synth --users 12 --seed 4 --per-user 4 --out "$T/s3.h5" >/dev/null || fail "synth, other seed"
h5diff "$T/s1.h5" "$T/s2.h5" >/dev/null || fail "same seed gave different contents"
h5diff "$T/s1.h5" "$T/s3.h5" >/dev/null && fail "different seeds gave the same contents"
"$PY" - "$T/s1.h5" <<'EOF' || fail "synth h5py check"
import sys
import h5py
with h5py.File(sys.argv[1], "r") as f:
    assert f.attrs["task"] == "synthetic" and f.attrs["format"] == "restpg-dataset"
    users = [u.decode() for u in f["examples/user_id"][:]]
    split = [s.decode() for s in f["examples/split"][:]]
    by_user = {}
    for u, s in zip(users, split):
        by_user.setdefault(u, set()).add(s)
    assert len(by_user) == 12 and all(len(s) == 1 for s in by_user.values())
    assert sorted(sum(1 for s in by_user.values() if x in s) for x in ("train", "val", "test")) == [1, 1, 10]
    assert list(f["examples/profile_offset"][:]) == [3 * i for i in range(49)]
EOF
"$RESTPG" data synth --users 0 --seed 1 --out "$T/s4.h5" 2>"$T/err"
[ $? -eq 2 ] && grep -qF -- "--users" "$T/err" && [ ! -e "$T/s4.h5" ] || fail "synth --users 0"

[ $fails -eq 0 ] && echo "import_cli: all checks passed"
exit $((fails > 0))

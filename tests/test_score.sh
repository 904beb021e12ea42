#!/bin/bash
# `restpg score`: both file shapes, id pairing errors (exit 2 naming file and id), --json output,
# and corpus means equal to rouge_score's per-pair values (tests/reference/rouge_expected.jsonl);
# --per-pair: every pair's ROUGE equal to rouge_score's, its means equal to the --json means, the
# METEOR compatibility recorded, and bad flags (exit 2, nothing written).
set -u
PY=/usr/bin/python3
T="$RESTPG_TEST_TMP/score_$$"
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }

# The first 80 reference pairs: predictions as JSON Lines, references as LongLaMP golds (and the
# reverse), plus the means rouge_score gives for them.
$PY - "$RESTPG_SOURCE_DIR/tests/reference" "$T" <<'PYEOF'
import json, sys
src, out = sys.argv[1], sys.argv[2]
pairs = [json.loads(l) for l in open(src + "/metric_pairs.jsonl", encoding="utf-8")][:80]
want = [json.loads(l) for l in open(src + "/rouge_expected.jsonl", encoding="utf-8")][:80]
with open(out + "/pred.jsonl", "w") as f:
    for p in reversed(pairs):  # order must not matter, only ids
        f.write(json.dumps({"id": p["id"], "text": p["pred"]}) + "\n\n")
json.dump({"task": "LongLaMP_test", "golds": [{"id": p["id"], "output": p["ref"]} for p in pairs]},
          open(out + "/ref.json", "w"))
json.dump({"task": "LongLaMP_test", "golds": [{"id": p["id"], "output": p["pred"]} for p in pairs]},
          open(out + "/pred_golds.json", "w"))
with open(out + "/ref.jsonl", "w") as f:
    for p in pairs:
        f.write(json.dumps({"id": p["id"], "text": p["ref"]}) + "\n")
with open(out + "/pred_missing.jsonl", "w") as f:
    for p in pairs[1:]:
        f.write(json.dumps({"id": p["id"], "text": p["pred"]}) + "\n")
with open(out + "/pred_extra.jsonl", "w") as f:
    for p in pairs + [{"id": "stray-id-42", "pred": "x"}]:
        f.write(json.dumps({"id": p["id"], "text": p["pred"]}) + "\n")
means = {m: {k: sum(w[k][m][2] for w in want) / len(want) for k in ("nostem", "stem")}
         for m in ("rouge1", "rouge2", "rougeL")}
json.dump(means, open(out + "/means.json", "w"))
PYEOF

"$RESTPG" score --pred "$T/pred.jsonl" --ref "$T/ref.json" --json > "$T/a.json"
check "jsonl vs golds exits 0" "[ $? -eq 0 ]"
check "--json output parses" "$PY -c 'import json,sys; json.load(sys.stdin)' < '$T/a.json'"
"$RESTPG" score --pred "$T/pred_golds.json" --ref "$T/ref.jsonl" --json --stem > "$T/b.json"
check "golds vs jsonl with --stem exits 0" "[ $? -eq 0 ]"
check "means equal rouge_score's (both shapes, with and without stemming)" "$PY - '$T' <<'PYEOF'
import json, sys
t = sys.argv[1]
want = json.load(open(t + '/means.json'))
a, b = json.load(open(t + '/a.json')), json.load(open(t + '/b.json'))
assert a['pairs'] == 80 and b['pairs'] == 80 and a['stem'] is False and b['stem'] is True
assert a['pred_shape'] == 'jsonl' and a['ref_shape'] == 'golds' and b['pred_shape'] == 'golds'
for m in ('rouge1', 'rouge2', 'rougeL'):
    assert abs(a['means'][m] - want[m]['nostem']) < 1e-12, (m, a['means'][m], want[m]['nostem'])
    assert abs(b['means'][m] - want[m]['stem']) < 1e-12, (m, b['means'][m], want[m]['stem'])
    assert 0 < a['precision'][m] < 1 and 0 < a['recall'][m] < 1
PYEOF"

out=$("$RESTPG" score --pred "$T/pred.jsonl" --ref "$T/ref.json" --metrics rougeL,rouge1)
check "table lists the chosen metrics only" "echo \"\$out\" | grep -q '^rougeL ' && echo \"\$out\" | grep -q '^rouge1 ' && ! echo \"\$out\" | grep -q '^rouge2 '"

expect_fail() { # name, expected message part, args...
    local name=$1 msg=$2
    shift 2
    local err rc
    err=$("$RESTPG" score "$@" 2>&1 >/dev/null)
    rc=$?
    check "$name: exit 2" "[ $rc -eq 2 ]"
    if printf '%s' "$err" | grep -qF -- "$msg"; then echo "ok: $name: message names $msg"
    else echo "FAIL: $name: message '$err' lacks $msg"; fail=1; fi
}
first_id=$($PY -c "import json; print(json.loads(open('$T/ref.jsonl').readline())['id'])")
expect_fail "missing prediction" "$first_id" --pred "$T/pred_missing.jsonl" --ref "$T/ref.json"
expect_fail "missing prediction names the file" "pred_missing.jsonl" --pred "$T/pred_missing.jsonl" --ref "$T/ref.json"
expect_fail "extra prediction" "stray-id-42" --pred "$T/pred_extra.jsonl" --ref "$T/ref.json"
printf '{"id": "a", "text": "x"}\nnot json\n' > "$T/bad.jsonl"
expect_fail "malformed line" "bad.jsonl: line 2" --pred "$T/bad.jsonl" --ref "$T/ref.json"
printf '{"id": "a", "txt": "x"}\n' > "$T/nofield.jsonl"
expect_fail "missing field" "field 'text' is missing" --pred "$T/nofield.jsonl" --ref "$T/ref.json"
printf '{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n' > "$T/dup.jsonl"
expect_fail "duplicate id" "duplicate id 'a'" --pred "$T/dup.jsonl" --ref "$T/ref.json"
printf '{"task": "t", "golds": [{"id": "a"}]}' > "$T/nooutput.json"
expect_fail "golds without output" "golds[0] (id 'a'): field 'output' is missing" --pred "$T/nooutput.json" --ref "$T/ref.json"
expect_fail "unknown metric" "unknown metric 'bleu'" --pred "$T/pred.jsonl" --ref "$T/ref.json" --metrics rouge1,bleu
expect_fail "missing file" "$T/nope.jsonl" --pred "$T/nope.jsonl" --ref "$T/ref.json"

# --per-pair: one line per reference in its order; ROUGE exactly rouge_score's; the means of the
# lines equal the aggregate (summed in the same order); METEOR's compatibility is in the --json.
"$RESTPG" score --pred "$T/pred.jsonl" --ref "$T/ref.jsonl" --metrics rouge1,rouge2,rougeL,meteor --json \
    --per-pair "$T/pp.jsonl" > "$T/pp_agg.json"
check "--per-pair writes" "[ $? -eq 0 ] && [ -s '$T/pp.jsonl' ]"
check "--per-pair: rouge_score's values per pair, means equal the aggregate" "$PY - '$T' '$RESTPG_SOURCE_DIR/tests/reference' <<'PYEOF'
import json, sys
t, src = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in open(t + '/pp.jsonl')]
want = [json.loads(l) for l in open(src + '/rouge_expected.jsonl')][:80]
agg = json.load(open(t + '/pp_agg.json'))
assert [r['id'] for r in rows] == [w['id'] for w in want], 'ids or order'
for r, w in zip(rows, want):
    for m in ('rouge1', 'rouge2', 'rougeL'):
        p, rc, f = w['nostem'][m]
        assert (r[m + '_precision'], r[m + '_recall'], r[m]) == (p, rc, f), (r['id'], m)
    assert 0 <= r['meteor'] <= 1
for m in ('rouge1', 'rouge2', 'rougeL', 'meteor'):
    s = 0.0
    for r in rows:
        s += r[m]
    assert s / len(rows) == agg['means'][m], m
assert agg['meteor_compat'] == 'nltk3.10'
PYEOF"
"$RESTPG" score --pred "$T/pred.jsonl" --ref "$T/ref.jsonl" --metrics meteor --json --meteor-compat nltk3.8 > "$T/pp38.json"
check "--meteor-compat nltk3.8 is recorded" "grep -q '\"meteor_compat\": \"nltk3.8\"' '$T/pp38.json'"
rm -f "$T/pp_bad.jsonl"
expect_fail "unknown compatibility" "nltk3.7" --pred "$T/pred.jsonl" --ref "$T/ref.json" --meteor-compat nltk3.7 \
    --per-pair "$T/pp_bad.jsonl"
check "nothing written on a bad flag" "[ ! -e '$T/pp_bad.jsonl' ]"
cp "$T/ref.jsonl" "$T/ref_copy.jsonl"
expect_fail "--per-pair over an input" "--per-pair" --pred "$T/pred.jsonl" --ref "$T/ref_copy.jsonl" --per-pair "$T/ref_copy.jsonl"
check "the input is untouched" "cmp -s '$T/ref.jsonl' '$T/ref_copy.jsonl'"

# Integer ids pair with each other; identical texts score 1.
printf '{"id": 7, "text": "The cat sat."}\n{"id": 8, "text": "A dog."}\n' > "$T/int.jsonl"
"$RESTPG" score --pred "$T/int.jsonl" --ref "$T/int.jsonl" --json > "$T/c.json"
check "integer ids, identical texts score 1" "$PY -c 'import json,sys; d=json.load(sys.stdin); assert d[\"means\"][\"rouge1\"] == 1 and d[\"means\"][\"rougeL\"] == 1 and d[\"pairs\"] == 2' < '$T/c.json'"
"$RESTPG" score --help > /dev/null
check "--help exits 0" "[ $? -eq 0 ]"
exit $fail

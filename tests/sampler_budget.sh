#!/bin/bash
# Separate reasoning and answer budgets (`restpg sample --max-reasoning-tokens R
# --max-answer-tokens A`) on a tiny model, against the same draws under one shared budget: draws
# are keyed by (input, candidate, step), so
#  - a candidate that wrote <|answer|> or ended within R tokens matches the shared-budget candidate
#    token for token, cut after A answer tokens;
#  - one that did not has the shared-budget candidate's first R tokens, then the separator sentence
#    ("\n\n" + the answer cue, encoded by `restpg tokenizer encode`) and <|answer|>, forced, then
#    at most A answer tokens;
#  - without reasoning, --max-answer-tokens A is exactly --max-new-tokens A;
#  - an unpaired budget exits 2.
set -u
source "$RESTPG_SOURCE_DIR/tests/lib.sh" sampler_budget
PY=/usr/bin/python3
tiny_test_model 6 4 5
args=(--model "$T/m.h5" --data "$T/ds.h5" --n 6 --temperature 0.9 --top-p 1 --seed 4 --round 1 --threads 1)
"$RESTPG" sample "${args[@]}" --max-reasoning-tokens 6 --max-answer-tokens 5 --out "$T/b.h5" >/dev/null || fail "sample with budgets"
"$RESTPG" sample "${args[@]}" --max-new-tokens 120 --out "$T/s.h5" >/dev/null || fail "sample with one budget"
printf '\n\nNow, considering the style summary, we can generate the final answer:' |
    "$RESTPG" tokenizer encode --model "$T/m.h5" >"$T/cue.txt" || fail "tokenizer encode"
"$PY" - "$T/b.h5" "$T/s.h5" "$T/cue.txt" <<'PYEOF' || fail "budgets against the shared budget"
import sys, h5py, numpy as np
R, A = 6, 5
b, s = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
cue = [int(x) for x in open(sys.argv[3]).read().split()]
assert b.attrs["max_reasoning_tokens"] == R and b.attrs["max_answer_tokens"] == A
assert b.attrs["max_new_tokens"] == R + len(cue) + 1 + A
def cands(f):
    c = f["candidates"]
    off, tok = c["token_offset"][:], c["tokens"][:]
    return [tok[off[i]:off[i + 1]].tolist() for i in range(len(off) - 1)], c["finish"][:], c["has_separator"][:]
bt, bfin, bsep = cands(b)
st, _, ssep = cands(s)
assert len(bt) == len(st)
answer_ids, forced = set(), 0
for i, (x, y) in enumerate(zip(bt, st)):
    if len(x) > R and x[R:R + len(cue)] == cue:  # closed by the forced separator
        forced += 1
        assert x[:R] == y[:R], "candidate %d: the first %d tokens differ from the shared budget's" % (i, R)
        answer_ids.add(x[R + len(cue)])
        ans = x[R + len(cue) + 1:]
        assert bsep[i] == 1 and 1 <= len(ans) <= A, (i, len(ans))
        assert (bfin[i] == 1) == (len(ans) == A), (i, bfin[i], len(ans))
    else:  # its own separator or end came first: the shared budget's draws, cut after A answer tokens
        assert x == y[:len(x)], "candidate %d: %s vs %s" % (i, x, y)
assert forced >= len(bt) // 2, "too few candidates reached the reasoning budget to test it (%d)" % forced
assert len(answer_ids) == 1, answer_ids
print("budgets: %d of %d candidates closed at R=%d by the forced separator; the rest equal the shared-budget draws"
      % (forced, len(bt), R))
PYEOF
"$RESTPG" sample "${args[@]}" --reasoning off --max-answer-tokens 7 --out "$T/a1.h5" >/dev/null || fail "answer-only budget"
"$RESTPG" sample "${args[@]}" --reasoning off --max-new-tokens 7 --out "$T/a2.h5" >/dev/null || fail "answer-only max-new"
"$PY" - "$T/a1.h5" "$T/a2.h5" <<'PYEOF' || fail "answer-only budget differs from --max-new-tokens"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r")["candidates"], h5py.File(sys.argv[2], "r")["candidates"]
for k in a:
    assert np.array_equal(a[k][:], b[k][:]), k
PYEOF
expect_err 2 "needs max_answer_tokens" "$RESTPG" sample "${args[@]}" --max-reasoning-tokens 6 --out "$T/x.h5"
expect_err 2 "needs max_reasoning_tokens" "$RESTPG" sample "${args[@]}" --max-answer-tokens 6 --out "$T/x.h5"
[ -e "$T/x.h5" ] && fail "a refused run wrote its output"
[ "$fails" = 0 ] && echo "sampler_budget: all checks passed"
exit $((fails > 0))

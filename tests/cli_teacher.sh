#!/usr/bin/env bash
# The LLM teacher (docs/reward.md, "The LLM teacher"): `restpg reason --export` writes one request per
# example whose profile items are the BM25 top k (rank_bm25's Okapi formula re-derived here) and
# whose prompt has the documented sections; scripts/teacher_openai.py against a stub
# OpenAI-compatible server on 127.0.0.1 fills every reasoning with what the stub answered for that
# request (end to end, also from a run config's reason.* keys and after an HTTP failure); and a
# teacher program that crashes once is restarted, one that hangs times out, a bad answer (empty,
# copying the expected output, unknown id, no field) fails with exit 2 naming the id, and nothing
# is written on any failure.
set -u
source "$RESTPG_SOURCE_DIR/tests/lib.sh" cli_teacher
PY=/usr/bin/python3
S=$RESTPG_SOURCE_DIR
"$RESTPG" data synth --users 8 --seed 3 --out "$T/ds.h5" >/dev/null || fail "data synth"
cp "$T/ds.h5" "$T/before.h5"
untouched() { cmp -s "$T/ds.h5" "$T/before.h5" || fail "$1: the dataset changed"; }

# --- export: fields, retrieval and prompt, against an independent rendering.
"$RESTPG" reason --data "$T/ds.h5" --export "$T/req.jsonl" --k 3 >/dev/null || fail "reason --export"
untouched "export"
"$PY" - "$T/ds.h5" "$T/req.jsonl" <<'EOF' || fail "export check"
import json, math, sys, h5py
with h5py.File(sys.argv[1]) as f:
    ex = {k: [s.decode() for s in f["examples/" + k][:]] for k in ("id", "split", "input", "output")}
    off = f["examples/profile_offset"][:]
    title = [s.decode() for s in f["profile/title"][:]]
    text = [s.decode() for s in f["profile/text"][:]]
reqs = [json.loads(l) for l in open(sys.argv[2])]

def bm25_top(docs, query, k):  # rank_bm25 BM25Okapi: k1 1.5, b 0.75, epsilon 0.25; ties by index
    docs = [d.split() for d in docs]
    n, avg = len(docs), sum(map(len, docs)) / len(docs)
    df = {}
    for d in docs:
        for w in set(d):
            df[w] = df.get(w, 0) + 1
    idf = {w: math.log(n - c + 0.5) - math.log(c + 0.5) for w, c in df.items()}
    eps = 0.25 * sum(idf.values()) / len(idf)
    idf = {w: eps if v < 0 else v for w, v in idf.items()}
    score = [sum(idf[q] * d.count(q) * 2.5 / (d.count(q) + 1.5 * (0.25 + 0.75 * len(d) / avg))
                 for q in query.split() if q in idf and q in d) for d in docs]
    return sorted(range(n), key=lambda j: (-score[j], j))[:k]

want = [i for i, s in enumerate(ex["split"]) if s in ("train", "val")]
assert [r["id"] for r in reqs] == [ex["id"][i] for i in want], "one request per train/val example, in order"
for r, i in zip(reqs, want):
    assert sorted(r) == ["id", "input", "output", "profile", "prompt"], sorted(r)
    assert r["input"] == ex["input"][i] and r["output"] == ex["output"][i]
    docs = [f"{title[m]}. {text[m]}" for m in range(off[i], off[i + 1])]
    items = [docs[j] for j in bm25_top(docs, ex["input"][i], 3)]
    assert r["profile"] == items, (r["id"], r["profile"], items)
    tail = (f"\n## profile:\n{' | '.join(items)}\n\n## subject:\n{r['input']}\n\n## expected output:\n"
            f"{r['output']}\n\n## Your output:\n")
    assert r["prompt"].startswith("You are a writing assistant.") and r["prompt"].endswith(tail), r["prompt"]
    assert "never copy the expected output" in r["prompt"]
print("export ok:", len(reqs), "requests")
EOF
expect_err 2 "--export writes teacher requests only" "$RESTPG" reason --data "$T/ds.h5" --export "$T/x.jsonl" --out "$T/o.h5"
expect_err 2 "--export" "$RESTPG" reason --data "$T/ds.h5" --export "$T/ds.h5"
untouched "export refused"

# --- the example HTTP teacher against a stub server.
"$PY" "$S/tests/data/openai_stub.py" "$T/port" "$T/http.log" fail-first &
stub=$!
trap 'kill "$stub" 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
port=$(cat "$T/port") || fail "the stub server did not start"
teacher="cmd:$PY $S/scripts/teacher_openai.py --base-url http://127.0.0.1:$port --model stub-model --temperature 0.3 --max-tokens 77 --concurrency 3"
"$RESTPG" reason --data "$T/ds.h5" --k 3 --teacher "$teacher" --teacher-batch 5 --out "$T/r.h5" >"$T/log" 2>&1 ||
    fail "reason with the HTTP teacher: $(cat "$T/log")"
grep -q "teacher: .*restarting it" "$T/log" || fail "the HTTP 500 did not restart the teacher: $(cat "$T/log")"
untouched "a run with --out"
cat >"$T/check_http.py" <<'EOF'
import json, sys, h5py
sys.path.insert(0, sys.argv[4])
from openai_stub import reasoning_for
with h5py.File(sys.argv[1]) as f:
    got = dict(zip((s.decode() for s in f["examples/id"][:]), (s.decode() for s in f["examples/reasoning"][:])))
reqs = [json.loads(l) for l in open(sys.argv[2])]
calls = [json.loads(l) for l in open(sys.argv[3])]
for r in reqs:
    assert got[r["id"]] == reasoning_for(r["prompt"]), (r["id"], got[r["id"]])
assert sum(1 for v in got.values() if v) == len(reqs), "only the train/val examples get reasoning"
prompts = [c["body"]["messages"][-1]["content"] for c in calls]
assert all(c["path"] == "/v1/chat/completions" for c in calls)
assert all(c["body"]["model"] == "stub-model" and c["body"]["temperature"] == 0.3 and c["body"]["max_tokens"] == 77
           for c in calls), calls[0]["body"]
assert set(prompts) == {r["prompt"] for r in reqs}, "the server saw exactly the exported prompts"
print("http teacher ok:", len(reqs), "texts,", len(calls), "calls")
EOF
"$PY" "$T/check_http.py" "$T/r.h5" "$T/req.jsonl" "$T/http.log" "$S/tests/data" || fail "HTTP teacher check"

# The same teacher from a run config's reason.* keys: a run small enough to finish in seconds, whose
# data.h5 must hold the same texts; bad reason.* values are refused before any stage.
cat >"$T/run.yaml" <<EOF
threads: 1
data: {source: file, path: '$T/ds.h5'}
tokenizer: {vocab_size: 300}
model: {n_layer: 1, n_head: 1, n_embd: 16, n_positions: 256}
pretrain: {steps: 1, batch_size: 1, grad_accum: 1, seq_len: 32}
prompt: {k: 3}
sft: {steps: 1, batch_size: 1, grad_accum: 1}
em: {rounds: 0}
eval: {limit: 1, max_new_tokens: 4}
reason: {teacher: '$teacher', teacher_timeout: 30, teacher_batch: 4, teacher_retries: 1}
EOF
: >"$T/http.log"
"$RESTPG" run "$T/run.yaml" --run_dir="$T/run" >"$T/log" 2>&1 || fail "run with the HTTP teacher: $(tail -20 "$T/log")"
"$PY" "$T/check_http.py" "$T/run/data.h5" "$T/req.jsonl" "$T/http.log" "$S/tests/data" || fail "run: HTTP teacher check"
grep -q "teacher_batch: 4" "$T/run/config.yaml" || fail "run: config.yaml lacks reason.teacher_batch"
expect_err 2 "config key 'reason.teacher_batch'" "$RESTPG" run "$T/run.yaml" --run_dir="$T/run2" --reason.teacher_batch=0
expect_err 2 "config key 'reason.teacher': teacher command is empty" "$RESTPG" run "$T/run.yaml" --run_dir="$T/run2" --reason.teacher=cmd:
[ ! -e "$T/run2" ] || fail "a refused config created its run directory"
kill "$stub" 2>/dev/null
wait "$stub" 2>/dev/null

# --- failure modes of a teacher program.
ids=($("$PY" -c "import h5py; f=h5py.File('$T/ds.h5'); print(' '.join(s.decode() for s, p in zip(f['examples/id'][:], f['examples/split'][:]) if p.decode() == 'train'))"))
fake() { echo "cmd:$PY $S/tests/data/teacher.py $*"; }
reason() { "$RESTPG" reason --data "$T/ds.h5" --k 3 --teacher-batch 4 "$@"; }

marker="$T/crashed"
reason --teacher "$(fake crash-once "$marker")" --out "$T/c.h5" >"$T/log" 2>&1 || fail "crash-once: $(cat "$T/log")"
grep -q "teacher exited with status 4; restarting it" "$T/log" || fail "crash-once: no restart reported"
"$PY" -c "
import h5py
f = h5py.File('$T/c.h5')
r = [s.decode() for s in f['examples/reasoning'][:]]
o = [s.decode() for s in f['examples/output'][:]]
sp = [s.decode() for s in f['examples/split'][:]]
for x, y, s in zip(r, o, sp):
    assert (x != '') == (s != 'test'), (x, s)
    assert not x or x == '- 3 profile items; %d words expected.' % len(y.split()), (x, y)
" || fail "crash-once: wrong texts"
rm -f "$marker"
expect_err 3 "teacher exited with status 4" reason --teacher "$(fake crash-once "$marker")" --teacher-retries 0
rm -f "$marker"
expect_err 3 "teacher gave no answer within 0.5 s" reason --teacher "$(fake hang)" --teacher-timeout 0.5 --teacher-retries 0
expect_err 2 "teacher answer for id '${ids[2]}': field 'reasoning' is empty" reason --teacher "$(fake empty "${ids[2]}")"
expect_err 2 "teacher answer for id '${ids[5]}': field 'reasoning' copies" reason --teacher "$(fake leak "${ids[5]}")"
expect_err 2 "teacher answered unknown id 'nope'" reason --teacher "$(fake wrongid)"
expect_err 2 "field 'reasoning' missing or not a string" reason --teacher "$(fake missing)"
grep -qF "teacher '$PY' (batch starting at item 0)" "$T/err" || fail "the error does not name the teacher and batch"
expect_err 2 "teacher: cannot run '/nonexistent/teacher'" reason --teacher "cmd:/nonexistent/teacher"
expect_err 2 "expected builtin, jsonl:FILE or cmd:" reason --teacher "gpt"
untouched "failed teachers"

[ "$fails" = 0 ] && echo "cli_teacher: all checks passed"
exit "$fails"

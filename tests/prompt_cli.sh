#!/bin/bash
# `restpg data prompt` against an independent Python rendering of LongLaMP's retrieval and
# prompts: for each of LongLaMP's four tasks, a generated dataset (varied lengths, repeated
# words, Unicode whitespace, identical items for ties, one abstract over 750 words) is imported
# and every example's RAG prompt (k = 3, no reasoning) must equal the one Python builds from
# rank_bm25's BM25Okapi formula (re-derived here, ties by item index) and LongLaMP's templates.
# Then the reasoning / no-profile variants, the token budget, and bad input (exit 2).
set -u
source "$RESTPG_SOURCE_DIR/tests/lib.sh" prompt_cli
PY=/usr/bin/python3

"$PY" - "$RESTPG" "$T" <<'EOF' || fail "Python differential check"
import json, math, random, subprocess, sys
restpg, tmp = sys.argv[1:3]
rng = random.Random(7)
WORDS = ("the budget report data model we study a of and meeting lunch friday review great mug "
         "neural nets graph cat dog sleeps quality price fast slow").split()
SPACES = [" ", " ", " ", "  ", "\n", "\u00a0", "\u3000", "\t"]

def text(n):
    ws = [rng.choice(WORDS[:8]) if rng.random() < 0.4 else rng.choice(WORDS) for _ in range(n)]
    return "".join(w + rng.choice(SPACES) for w in ws).strip()

FIELDS = {"abstract_generation": ["title", "abstract"],
          "product_review": ["overall", "summary", "description", "reviewText"],
          "topic_writing": ["summary", "content"], "email_completion": ["title", "text"]}

def make_item(task, long=False):
    if task == "product_review":
        return {"overall": rng.choice(["1.0", "3.0", "5.0"]), "summary": text(3), "description": text(6),
                "reviewText": text(rng.randint(1, 25))}
    return {f: text(800 if long and f == "abstract" else rng.randint(1, 4 if i == 0 else 30))
            for i, f in enumerate(FIELDS[task])}

def make_input(task):
    if task == "abstract_generation":
        return f'Generate an abstract for the title "{text(4)}" using the following items: {text(5)}'
    if task == "email_completion":
        return f"Complete the following email: Subject: {text(2)}. {text(6)}"
    if task == "product_review":
        return f'Generate the review text written by a reviewer who has given an overall rating of "4.0" for a product with description "{text(5)}". The summary of the review text is "{text(3)}".'
    return f'Generate the content for a reddit post "{text(5)}".'

# rank_bm25 BM25Okapi (k1 1.5, b 0.75, epsilon 0.25), re-derived from its documented formula.
def bm25_rank(corpus, query, k):
    docs = [d.split() for d in corpus]
    n = len(docs)
    avgdl = sum(map(len, docs)) / n
    df = {}
    for d in docs:
        for w in dict.fromkeys(d):
            df[w] = df.get(w, 0) + 1
    idf = {w: math.log(n - f + 0.5) - math.log(f + 0.5) for w, f in df.items()}
    eps = 0.25 * (sum(idf.values()) / len(idf)) if idf else 0.0
    idf = {w: (eps if v < 0 else v) for w, v in idf.items()}
    scores = []
    for d in docs:
        s = 0.0
        for q in query.split():
            tf = d.count(q)
            if q in idf and tf:
                s += idf[q] * (tf * 2.5 / (tf + 1.5 * (1 - 0.75 + 0.75 * len(d) / avgdl)))
        scores.append(s)
    return sorted(range(n), key=lambda j: (-scores[j], j))[:k]

def query_corpus(task, inp, prof):
    if task == "abstract_generation":
        return [f'{p["title"]} {p["abstract"]}' for p in prof], inp[inp.find("items:") + 6:].strip()
    if task == "email_completion":
        return [p["text"] for p in prof], inp[inp.find(":") + 1:].strip()
    if task == "product_review":
        return [f'{p["overall"]} {p["summary"]} {p["description"]} {p["reviewText"]}' for p in prof], inp
    return [f'{p["summary"]} {p["content"]}' for p in prof], inp

def render(task, inp, sel):
    if task == "abstract_generation":
        cl = [f'"{" ".join(p["abstract"].split()[:750])}" is the abstract for the title "{p["title"]}"' for p in sel]
        return f'{", and ".join(cl)}. Use the above abstracts as context to understand the style and language of the user and, {inp}'
    if task == "product_review":
        cl = [f'"{p["overall"]}" is a rating for the product with description "{p["description"]}". "{p["summary"]}" is summary for "{p["reviewText"]}" ' for p in sel]
        return f'{", and ".join(cl)}. Following the given patterns {inp}'
    if task == "topic_writing":
        cl = [f'"{p["summary"]}" is a summary for "{p["content"]}" ' for p in sel]
        return f'{", and ".join(cl)}. Following the given patterns, {inp}'
    cl = [f'"{p["title"]}" is the title for "{p["text"]}" ' for p in sel]
    return f'{", and ".join(cl)}. {inp}'

def shown_prompt(out):
    return out.split("----- prompt -----\n", 1)[1].split("\n----- target -----\n", 1)[0]

bad = 0
for task in FIELDS:
    rows = []
    for x in range(12):
        prof = [make_item(task, long=(x == 0 and j == 0)) for j in range(rng.randint(1, 9))]
        if len(prof) > 3:
            prof[3] = dict(prof[1])  # identical items tie
        rows.append({"id": f"ex-{x}", "user_id": f"u{x}", "input": make_input(task), "output": text(10), "profile": prof})
    src, h5 = f"{tmp}/{task}.jsonl", f"{tmp}/{task}.h5"
    with open(src, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    subprocess.run([restpg, "data", "import", "--task", task, "--input", src, "--out", h5], check=True,
                   stdout=subprocess.DEVNULL)
    for r in rows:
        corpus, q = query_corpus(task, r["input"], r["profile"])
        want = render(task, r["input"], [r["profile"][j] for j in bm25_rank(corpus, q, 3)])
        out = subprocess.run([restpg, "data", "prompt", "--data", h5, "--id", r["id"], "--k", "3", "--no-reasoning"],
                             check=True, capture_output=True, text=True).stdout
        if shown_prompt(out) != want:
            bad += 1
            print(f"{task} {r['id']}: prompt differs\n got: {shown_prompt(out)!r}\nwant: {want!r}", file=sys.stderr)
        n_ret = min(3, len(r["profile"]))
        if f"items     {n_ret} retrieved, {n_ret} used" not in out:
            bad += 1
            print(f"{task} {r['id']}: wrong item counts\n{out}", file=sys.stderr)
print(f"compared {4 * 12} prompts, {bad} problems")
sys.exit(1 if bad else 0)
EOF

# Reasoning mode ends the prompt with the cue; --no-profile leaves the input alone.
H5="$T/email_completion.h5"
out=$("$RESTPG" data prompt --data "$H5" --id ex-1) || fail "reasoning prompt"
grep -q "^To summarize the writing style of the user, we can consider the following aspects:$" <<<"$out" ||
    fail "reasoning prompt lacks the cue sentence"
grep -q "^Now, considering the style summary, we can generate the final answer:$" <<<"$out" ||
    fail "reasoning target lacks the separator sentence"
out=$("$RESTPG" data prompt --data "$H5" --id ex-1 --no-profile --no-reasoning) || fail "no-profile prompt"
grep -q "^items     0 retrieved, 0 used" <<<"$out" || fail "no-profile prompt retrieved items"
[ "$(sed -n '/^----- prompt -----$/{n;p}' <<<"$out" | cut -c1-30)" = "Complete the following email: " ] ||
    fail "no-profile prompt does not start with the input"
grep -q "is the title for" <<<"$out" && fail "no-profile prompt renders items"

# A budget: the total stays within it and the counts are printed.
out=$("$RESTPG" data prompt --data "$H5" --id ex-0 --k 8 --tokenizer "$RESTPG_SOURCE_DIR/data/gpt2" --max-tokens 60) ||
    fail "budgeted prompt"
total=$(sed -n 's/^tokens .* total \([0-9]*\).*/\1/p' <<<"$out")
[ -n "$total" ] && [ "$total" -le 60 ] || fail "budget: total '$total' > 60"

# Bad input exits 2 naming what is wrong.
check_bad() {
    local want="$1"
    shift
    err=$("$RESTPG" data prompt "$@" 2>&1 >/dev/null)
    rc=$?
    [ $rc -eq 2 ] || fail "$*: exit $rc, expected 2"
    grep -q -- "$want" <<<"$err" || fail "$*: message '$err' lacks '$want'"
}
check_bad "no example with id 'nope'" --data "$H5" --id nope
check_bad "needs --tokenizer" --data "$H5" --id ex-1 --max-tokens 50
check_bad "max-tokens" --data "$H5" --id ex-1 --tokenizer "$RESTPG_SOURCE_DIR/data/gpt2" --max-tokens 1
check_bad "$T/missing.h5" --data "$T/missing.h5" --id ex-1

[ $fails -eq 0 ] && echo "prompt_cli: ok" || echo "prompt_cli: $fails failures"
[ $fails -eq 0 ]

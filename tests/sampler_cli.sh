#!/bin/bash
# `restpg sample` and `restpg generate` on a tiny model (synthetic data, a 400-token tokenizer,
# 2 layers x 64 channels, one pretraining step):
#  - the samples file has the same content (every dataset and attribute, tests/samples_same.py)
#    for --batch 32, 5 and 1 and for 1 and 2 threads, and h5py reads it in dataset order;
#  - generate prints the same candidates (log-probabilities) as the samples file;
#  - bad input exits 2 with a message naming the problem and leaves no output: a missing split,
#    an unknown --id, --n 0, --temperature -1, --top-p 0 and 1.5, a dataset given as --model,
#    --max-new-tokens past n_positions, a bad --reasoning, and a progress file without --resume.
set -u
source "$RESTPG_SOURCE_DIR/tests/lib.sh" sampler_cli
PY=/usr/bin/python3
SAME="$RESTPG_SOURCE_DIR/tests/samples_same.py"

tiny_test_model 6 4 5

args=(--model "$T/m.h5" --data "$T/ds.h5" --n 5 --temperature 0.8 --top-p 0.95 --top-k 100 --max-new-tokens 40
      --seed 3 --round 2)
"$RESTPG" sample "${args[@]}" --batch 32 --threads 1 --out "$T/a.h5" >"$T/a.log" || fail "sample: $(cat "$T/a.log")"
grep -q "sample: wrote" "$T/a.log" || fail "no final line in the log"
for cfg in "5 2" "1 1" "7 2"; do
    set -- $cfg
    "$RESTPG" sample "${args[@]}" --batch "$1" --threads "$2" --out "$T/b$1.h5" >/dev/null || fail "sample --batch $1"
    "$PY" "$SAME" "$T/a.h5" "$T/b$1.h5" || fail "--batch $1 --threads $2 gives another file than --batch 32 --threads 1"
done
[ -e "$T/a.h5.partial" ] && fail "the progress file was left behind after a complete run"

"$PY" - "$T/a.h5" "$T/ds.h5" <<'PYEOF' || fail "samples file content"
import sys, h5py, numpy as np
s, d = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
c = s["candidates"]
ids = [x.decode() for x in c["example_id"][:]]
train = [x.decode() for x, sp in zip(d["examples/id"][:], d["examples/split"][:]) if sp.decode() == "train"]
assert ids == [i for i in train for _ in range(5)], "rows not in dataset order"
assert list(c["candidate"][:]) == list(range(5)) * len(train)
off, length = c["token_offset"][:], c["length"][:]
assert (np.diff(off) == length).all() and ((length >= 1) & (length <= 40)).all()
fin = c["finish"][:]
assert ((fin == 0) | (length == 40)).all(), "a length finish before max_new_tokens"
assert s.attrs["n_per_input"] == 5 and s.attrs["seed"] == 3 and s.attrs["round"] == 2 and s.attrs["split"] == "train"
assert abs(s.attrs["temperature"] - 0.8) < 1e-12 and s.attrs["top_k"] == 100
assert (c["logprob"][:] < 0).all()
print("samples file: %d rows, %d eos, %d with separator" % (len(ids), int((fin == 0).sum()), int(c["has_separator"][:].sum())))
PYEOF

# generate: the same candidates as the samples file for that example.
id=$("$PY" -c "import h5py,sys; print(h5py.File(sys.argv[1],'r')['candidates/example_id'][0].decode())" "$T/a.h5")
"$RESTPG" generate "${args[@]}" --id "$id" --threads 1 --show-prompt >"$T/gen.txt" || fail "generate"
grep -q -- "----- prompt -----" "$T/gen.txt" || fail "generate --show-prompt printed no prompt"
[ "$(grep -c '^answer: ' "$T/gen.txt")" = 5 ] || fail "generate did not print 5 answers"
"$PY" - "$T/a.h5" "$T/gen.txt" <<'PYEOF' || fail "generate differs from sample"
import re, sys, h5py
c = h5py.File(sys.argv[1], "r")["candidates"]
got = [float(x) for x in re.findall(r"logprob (-?[0-9.]+)", open(sys.argv[2]).read())]
want = [round(float(x), 3) for x in c["logprob"][:5]]
assert got == want, (got, want)
PYEOF

# Bad input: exit 2, a message naming the problem, no output file.
expect2() { # expect2 NEEDLE ARGS...
    local needle=$1
    shift
    "$RESTPG" "$@" >"$T/err.out" 2>"$T/err.txt"
    local rc=$?
    [ $rc = 2 ] || fail "$* exited $rc, expected 2: $(cat "$T/err.txt")"
    grep -q -- "$needle" "$T/err.txt" || fail "$*: message lacks '$needle': $(cat "$T/err.txt")"
    [ -e "$T/x.h5" ] && fail "$*: wrote an output file" && rm -f "$T/x.h5"
}
base=(--model "$T/m.h5" --data "$T/ds.h5" --out "$T/x.h5" --max-new-tokens 8)
expect2 "--split: expected train, val or test, got 'dev'" sample "${base[@]}" --split dev
expect2 "no example with id 'nosuch'" generate --model "$T/m.h5" --data "$T/ds.h5" --id nosuch
expect2 "\-\-n" sample "${base[@]}" --n 0
expect2 "\-\-temperature" sample "${base[@]}" --temperature -1
expect2 "\-\-top-p" sample "${base[@]}" --top-p 0
expect2 "\-\-top-p" sample "${base[@]}" --top-p 1.5
expect2 "ds.h5" sample --model "$T/ds.h5" --data "$T/ds.h5" --out "$T/x.h5"
expect2 "ds.h5" generate --model "$T/ds.h5" --data "$T/ds.h5" --id "$id"
expect2 "m.h5" sample --model "$T/m.h5" --data "$T/m.h5" --out "$T/x.h5"
expect2 "n_positions" sample "${base[@]}" --max-new-tokens 256
expect2 "\-\-reasoning" sample "${base[@]}" --reasoning maybe
expect2 "missing.h5" sample --model "$T/missing.h5" --data "$T/ds.h5" --out "$T/x.h5"
: >"$T/x.h5.partial"
expect2 "\-\-resume" sample "${base[@]}"
rm -f "$T/x.h5.partial"

[ $fails = 0 ] && echo "sampler_cli: all checks passed"
exit $fails

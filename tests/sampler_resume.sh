#!/bin/bash
# Resume after SIGKILL: `restpg sample --resume` (progress saved after every input) is killed with
# kill -9 twice while it runs, then rerun with --resume to the end; the samples file must have
# the same content as an uninterrupted run's (tests/samples_same.py), each rerun must have picked
# up the inputs saved before the kill, and the progress file must be gone at the end.
set -u
source "$RESTPG_SOURCE_DIR/tests/lib.sh" sampler_resume
PY=/usr/bin/python3
SAME="$RESTPG_SOURCE_DIR/tests/samples_same.py"

tiny_test_model 12 8 8
args=(--model "$T/m.h5" --data "$T/ds.h5" --n 6 --max-new-tokens 100 --seed 1 --batch 8 --threads 1)

"$RESTPG" sample "${args[@]}" --out "$T/full.h5" >/dev/null || fail "uninterrupted run"

saved() { "$PY" -c "import h5py,sys; print(len(h5py.File(sys.argv[1],'r')['candidates/candidate']))" "$1" 2>/dev/null || echo 0; }

for delay in 0.3 0.2; do
    before=$(saved "$T/out.h5.partial")
    "$RESTPG" sample "${args[@]}" --out "$T/out.h5" --resume --save-every 0 >"$T/run.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 500); do # until this run has saved inputs of its own
        [ "$(saved "$T/out.h5.partial")" -gt "$before" ] && break
        sleep 0.02
    done
    sleep $delay
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    [ -e "$T/out.h5" ] && fail "the run finished before it was killed; the test proves nothing"
    n=$(saved "$T/out.h5.partial")
    [ "$n" -gt "$before" ] || fail "no progress saved before the kill"
    [ "$before" = 0 ] || grep -q "($((before / 6)) done earlier)" "$T/run.log" || fail "rerun did not resume: $(head -2 "$T/run.log")"
    echo "killed with $n candidates saved"
done
"$RESTPG" sample "${args[@]}" --out "$T/out.h5" --resume --save-every 0 >"$T/run.log" 2>&1 || fail "final run: $(cat "$T/run.log")"
grep -q "(0 done earlier)" "$T/run.log" && fail "the final run did not resume"
[ -e "$T/out.h5.partial" ] && fail "progress file left after the final run"
"$PY" "$SAME" "$T/full.h5" "$T/out.h5" || fail "resumed run differs from the uninterrupted one"

[ $fails = 0 ] && echo "sampler_resume: all checks passed"
exit $fails

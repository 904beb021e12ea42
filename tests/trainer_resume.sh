#!/bin/bash
# Bitwise resume after SIGKILL: a pretraining run is killed with kill -9 twice at arbitrary
# points (checkpoint every step, so some kills land mid-write) and resumed with --resume each
# time; its final parameters and AdamW moments must equal, bit for bit, those of an
# uninterrupted run with the same options. A stale temp file from a killed write must not
# matter, and the checkpoint must always be loadable.
set -u
source "$RESTPG_SOURCE_DIR/tests/lib.sh" trainer_resume
PY=/usr/bin/python3

"$RESTPG" data synth --users 10 --per-user 6 --seed 9 --out "$T/ds.h5" >/dev/null || fail "data synth"
"$RESTPG" tokenizer train --data "$T/ds.h5" --vocab-size 300 --out "$T/tok" >/dev/null || fail "tokenizer train"
printf 'n_layer: 2\nn_head: 2\nn_embd: 32\nn_positions: 32\n' >"$T/model.yaml"
STEPS=300
args=(--data "$T/ds.h5" --config "$T/model.yaml" --tokenizer "$T/tok" --steps $STEPS --batch-size 4 --grad-accum 2
      --seq-len 32 --lr 2e-3 --warmup 10 --lr-schedule linear --seed 4 --val-every 50 --val-batches 2 --threads 1)

"$RESTPG" pretrain "${args[@]}" --out "$T/full.h5" >/dev/null || fail "uninterrupted run"

step_of() { "$PY" -c "import h5py,sys; print(int(h5py.File(sys.argv[1],'r')['optimizer'].attrs['step']))" "$1"; }

# Two runs killed with SIGKILL, then one that completes; all with --resume.
for delay in 0.3 0.2; do
    "$RESTPG" pretrain "${args[@]}" --out "$T/ck.h5" --checkpoint-every 1 --resume >/dev/null 2>&1 &
    pid=$!
    before=0
    [ -f "$T/ck.h5" ] && before=$(step_of "$T/ck.h5")
    for _ in $(seq 1 500); do # until this run has written a checkpoint of its own
        [ -f "$T/ck.h5" ] && [ "$(step_of "$T/ck.h5" 2>/dev/null || echo 0)" -gt "$before" ] && break
        sleep 0.02
    done
    sleep $delay
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null
    s=$(step_of "$T/ck.h5") || fail "checkpoint unreadable after kill -9"
    [ "$s" -lt $STEPS ] || fail "the run finished before it was killed (step $s); the test proves nothing"
    echo "killed at checkpoint step $s"
done
: >"$T/ck.h5.tmp.1" # what a kill in the middle of a write leaves behind
"$RESTPG" pretrain "${args[@]}" --out "$T/ck.h5" --checkpoint-every 1 --resume >"$T/resume.log" 2>&1 ||
    fail "final resume: $(cat "$T/resume.log")"
grep -q "resuming from" "$T/resume.log" || fail "the final run did not resume"

"$PY" - "$T/full.h5" "$T/ck.h5" <<'PYEOF' || fail "resumed run differs from the uninterrupted one"
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert a["optimizer"].attrs["step"] == b["optimizer"].attrs["step"] == 300
for k in a["params"]:
    x, y = a["params"][k][()], b["params"][k][()]
    assert x.tobytes() == y.tobytes(), "params/%s differs (max |diff| %g)" % (k, np.abs(x - y).max())
for k in ("adam_m", "adam_v"):
    assert a["optimizer"][k][()].tobytes() == b["optimizer"][k][()].tobytes(), k
print("resumed run is bitwise equal to the uninterrupted run")
PYEOF
[ $fails = 0 ] && echo "trainer_resume: all checks passed"
exit $fails

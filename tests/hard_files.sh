#!/bin/bash
# Files a careless or hostile user gives (issue 15): every case must end with exit 2 (bad input) or
# 3 (the system refused), a message naming the file, no crash, no hang, no output lost.
#  - a samples file whose candidates/answer column is shorter than the others (reward crashed);
#  - bit flips at many offsets and truncations of a dataset and a samples file (libhdf5 crashed
#    or spun in a corrupt string heap): exit 0 or 2 within `timeout 20`, never a signal;
#  - a full disk (a 200 KiB tmpfs; without root, a file size limit): data synth and pretrain
#    exit 3 saying "disk full", leave no file and keep the previous one intact;
#  - --out naming an input (also through a hard link) is refused and the input kept;
#    data import over an existing dataset needs --force;
#  - a killed writer's OUT.tmp.PID is removed by the next write of OUT, a live writer's is kept;
#  - /dev/zero, a directory and a file over RESTPG_MAX_INPUT_BYTES as inputs.
set -u
source "$RESTPG_SOURCE_DIR/tests/lib.sh" hard_files
PY=/usr/bin/python3

tiny_test_model 4 3 7
"$RESTPG" sample --model "$T/m.h5" --data "$T/ds.h5" --n 2 --max-new-tokens 12 --seed 1 --threads 1 \
    --out "$T/s.h5" >/dev/null || fail "sample (the test samples file)"

# --- a short text column ---
"$PY" - "$T/s.h5" "$T/short.h5" <<'EOF'
import shutil, sys, h5py
shutil.copy(sys.argv[1], sys.argv[2])
with h5py.File(sys.argv[2], "r+") as f:
    a = f["candidates/answer"][:-1]
    del f["candidates/answer"]
    f["candidates/answer"] = a
EOF
expect_err 2 "short.h5: candidates/answer: " "$RESTPG" reward --samples "$T/short.h5" --data "$T/ds.h5" --out "$T/r.h5"
[ ! -e "$T/r.h5" ] || fail "reward of a bad samples file wrote --out"

# --- bit flips and truncations ---
# flips FILE CMD...: CMD (with @ standing for the corrupt copy) on 300 single-bit flips at
# offsets spread over the whole file and 20 truncations; prints a summary.
flips() {
    "$PY" - "$@" <<'EOF'
import random, subprocess, sys, os
src, cmd = sys.argv[1], sys.argv[2:]
data = open(src, "rb").read()
bad = src + ".bad.h5"
rng = random.Random(15)
cases = [("flip", (i * len(data)) // 300 + rng.randrange(max(1, len(data) // 300)), rng.randrange(8)) for i in range(300)]
cases += [("cut", (i * len(data)) // 20, 0) for i in range(20)]
seen, failures = {}, []
for kind, off, bit in cases:
    b = bytearray(data[:off]) if kind == "cut" else bytearray(data)
    if kind == "flip":
        b[off] ^= 1 << bit
    open(bad, "wb").write(bytes(b))
    argv = ["timeout", "20"] + [bad if a == "@" else a for a in cmd]
    p = subprocess.run(argv, capture_output=True)
    err = p.stderr.decode(errors="replace")
    seen[p.returncode] = seen.get(p.returncode, 0) + 1
    if p.returncode not in (0, 2):
        failures.append(f"{kind} at {off} bit {bit}: exit {p.returncode}: {err[-200:]}")
    elif p.returncode == 2 and os.path.basename(bad) not in err:
        failures.append(f"{kind} at {off}: message does not name the file: {err[-200:]}")
os.remove(bad)
print(f"{os.path.basename(src)}: {len(cases)} corruptions, exit statuses {dict(sorted(seen.items()))}")
for f in failures[:10]:
    print("FAIL:", f, file=sys.stderr)
sys.exit(1 if failures else 0)
EOF
}
flips "$T/ds.h5" "$RESTPG" data info @ || fail "corrupt dataset files"
flips "$T/s.h5" "$RESTPG" reward --samples @ --data "$T/ds.h5" --out "$T/flip_out.h5" || fail "corrupt samples files"
ls "$T" | grep -q '\.tmp\.' && fail "a corrupt input left a temp file"

# --- a full disk ---
mkdir -p "$T/small"
if mount -t tmpfs -o size=200k tmpfs "$T/small" 2>/dev/null; then
    trap 'umount "$T/small" 2>/dev/null; rm -rf "$T"' EXIT
    limit=() full="disk full"
else
    # No root: a file size limit is the nearest fault. Its signal (SIGXFSZ) is ignored so the write
    # fails with EFBIG as it would with ENOSPC.
    echo "note: cannot mount a tmpfs here; using a file size limit instead"
    limit=(bash -c 'trap "" XFSZ; ulimit -f 200; exec "$@"' limit) full="file size limit reached"
fi
mounted=$([ ${#limit[@]} -eq 0 ] && echo 1 || echo 0)
"$RESTPG" data synth --users 2 --per-user 2 --seed 1 --out "$T/small/ds.h5" >/dev/null || fail "a small synth into the small disk"
cp "$T/small/ds.h5" "$T/ds_before.h5"
expect_err 3 "$full" "${limit[@]}" "$RESTPG" data synth --users 60 --per-user 20 --seed 1 --out "$T/small/ds.h5"
cmp -s "$T/ds_before.h5" "$T/small/ds.h5" || fail "a failed synth changed the previous file"
expect_err 3 "$full" "${limit[@]}" "$RESTPG" data synth --users 60 --per-user 20 --seed 1 --out "$T/small/new.h5"
[ ! -e "$T/small/new.h5" ] || fail "a failed synth left its output"
# pretrain only on the tmpfs: under a file size limit MPI_Init itself fails (PMIx's shared memory).
if [ "$mounted" = 1 ]; then
    printf 'n_layer: 2\nn_head: 2\nn_embd: 128\nn_positions: 256\n' >"$T/big.yaml"
    "$RESTPG" pretrain --config "$T/big.yaml" --tokenizer "$T/tok" --data "$T/ds.h5" --steps 1 --batch-size 1 \
        --seq-len 32 --threads 1 --out "$T/small/m.h5" >/dev/null 2>"$T/err"
    rc=$?
    [ $rc -ne 0 ] && [ $rc -lt 128 ] || fail "pretrain onto a full disk exited $rc"
    grep -qF "$full" "$T/err" || fail "pretrain onto a full disk: $(cat "$T/err")"
    [ ! -e "$T/small/m.h5" ] || fail "a failed pretrain left its checkpoint"
fi
ls "$T/small" | grep -q '\.tmp\.' && fail "a failed write left a temp file: $(ls "$T/small")"

# --- --out naming an input ---
cp "$T/ds.h5" "$T/keep_ds.h5"
ln "$T/ds.h5" "$T/ds_link.h5"
expect_err 2 "--out $T/ds_link.h5: is the same file as --data $T/ds.h5" \
    "$RESTPG" tokenizer train --data "$T/ds.h5" --vocab-size 300 --out "$T/ds_link.h5"
expect_err 2 "is the same file as --data" "$RESTPG" pretrain --config "$T/model.yaml" --tokenizer "$T/tok" \
    --data "$T/ds.h5" --steps 1 --batch-size 1 --seq-len 32 --threads 1 --out "$T/ds.h5"
expect_err 2 "is the same file as --init" "$RESTPG" sft --init "$T/m.h5" --data "$T/ds.h5" --steps 1 \
    --batch-size 1 --seq-len 64 --threads 1 --out "$T/m.h5"
expect_err 2 "is the same file as --model" "$RESTPG" sample --model "$T/m.h5" --data "$T/ds.h5" --n 1 --out "$T/m.h5"
expect_err 2 "is the same file as --data" "$RESTPG" reward --samples "$T/s.h5" --data "$T/ds.h5" --out "$T/./ds.h5"
expect_err 2 "--to $T/m.h5: is the same file as --from" "$RESTPG" convert --from "$T/m.h5" --to "$T/m.h5"
cmp -s "$T/keep_ds.h5" "$T/ds.h5" || fail "a refused --out changed the dataset"
jl="$RESTPG_SOURCE_DIR/tests/data/longlamp/email_completion.jsonl"
cp "$jl" "$T/rows.jsonl"
expect_err 2 "is the same file as --input" "$RESTPG" data import --task email_completion --input "$T/rows.jsonl" \
    --force --out "$T/rows.jsonl"
cmp -s "$jl" "$T/rows.jsonl" || fail "a refused import changed its input"

# --- data import over an existing dataset ---
"$RESTPG" data import --task email_completion --input "$jl" --out "$T/imp.h5" >/dev/null || fail "import"
cp "$T/ds.h5" "$T/other.h5"
expect_err 2 "--out $T/other.h5: already exists; add --append to add to it or --force to replace it" \
    "$RESTPG" data import --task email_completion --input "$jl" --out "$T/other.h5"
cmp -s "$T/ds.h5" "$T/other.h5" || fail "import without --force replaced a dataset"
"$RESTPG" data import --task email_completion --input "$jl" --force --out "$T/other.h5" >/dev/null || fail "import --force"
"$PY" -c "import h5py,sys; assert h5py.File(sys.argv[1]).attrs['task'] == 'email_completion'" "$T/other.h5" ||
    fail "import --force did not replace the dataset"

# --- temp files of killed writers ---
sleep 0 & dead=$!
wait $dead
: >"$T/t.h5.tmp.$dead"
: >"$T/t.h5.tmp.$$"
: >"$T/t.h5.tmp.x1"
"$RESTPG" data synth --users 2 --per-user 2 --seed 1 --out "$T/t.h5" >/dev/null || fail "synth over stale temp files"
[ ! -e "$T/t.h5.tmp.$dead" ] || fail "a killed writer's temp file was kept"
[ -e "$T/t.h5.tmp.$$" ] || fail "a running writer's temp file was removed"
[ -e "$T/t.h5.tmp.x1" ] || fail "a file that is not a temp file of ours was removed"

# --- inputs that are not regular files, or too large ---
expect_err 2 "/dev/zero: not a regular file" "$RESTPG" data info /dev/zero
expect_err 2 "/dev/zero: not a regular file" "$RESTPG" data import --task email_completion --input /dev/zero --out "$T/z.h5"
expect_err 2 "/dev/zero: not a regular file" "$RESTPG" pretrain --config /dev/zero --data "$T/ds.h5" --tokenizer "$T/tok" \
    --out "$T/z.h5"
expect_err 2 "/dev/zero: not a regular file" "$RESTPG" run /dev/zero
expect_err 2 "$T: is a directory" "$RESTPG" data info "$T"
expect_err 2 "over the input size limit of 100 (RESTPG_MAX_INPUT_BYTES)" env RESTPG_MAX_INPUT_BYTES=100 \
    "$RESTPG" data import --task email_completion --input "$jl" --out "$T/z.h5"
expect_err 2 "RESTPG_MAX_INPUT_BYTES: expected a positive number of bytes, got 'lots'" env RESTPG_MAX_INPUT_BYTES=lots \
    "$RESTPG" data info "$T/ds.h5"
[ ! -e "$T/z.h5" ] || fail "a refused input left an output"

[ $fails -eq 0 ] && echo "hard_files: all cases passed"
exit $((fails > 0))

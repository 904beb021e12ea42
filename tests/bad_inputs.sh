#!/usr/bin/env bash
# The bad-input catalogue of issue 15 (docs/testing.md), run by ctest (labels unit, sanitize) and,
# in CI, once more under ASan + UBSan. Two parts:
#  1. A table of cases from the issue: a command line, the exit status it must give (2 for bad
#     input, or `nz` for any non-zero exit that is not a signal), an extended regex its stderr must
#     match (naming the file or field), and what must hold of the files afterwards (`absent:P`: no
#     output P; `same:P`: input P unchanged). A case marked xfail documents a gap being fixed on
#     another branch: its failure is reported as XFAIL and does not fail the test; when it starts
#     passing it says XPASS so the mark can be removed.
#  2. Bit flips at many offsets of every file kind restpg reads (dataset, samples, checkpoint,
#     tokenizer RPTK and RPSP, llm.c, GGUF), each read by a command whose output shows the content:
#     it must exit 0 with the unflipped output, or exit 2 naming the file. Never a signal, a
#     sanitizer report or a hang (each run has a time limit). Kinds whose format has no checksum
#     (datasets' strings, llm.c, GGUF) may also exit 0 with other output: a changed string or
#     weight is still a valid file there.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh" bad_inputs
PY=/usr/bin/python3
LIMIT=${RESTPG_BAD_INPUT_LIMIT:-60} # seconds per command: a hang is a failure, not a stuck CI
C="$here/fuzz/corpus"
xfails=0
xpasses=0
cases=0

# run CMD...: runs with the time limit; sets $rc, stdout in $T/out, stderr in $T/err.
run() {
    timeout -k 5 "$LIMIT" "$@" >"$T/out" 2>"$T/err"
    rc=$?
}

# verdict NAME WANT PATTERN POST: why the last run broke the case ("" if it held).
verdict() {
    local want=$2 pattern=$3 post=$4
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then echo "no exit within ${LIMIT} s (hang)"; return; fi
    if grep -qE "ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer" "$T/err"; then
        echo "sanitizer report: $(grep -m1 -E 'ERROR|runtime error' "$T/err")"; return
    fi
    if [ "$rc" -gt 128 ]; then echo "killed by signal $((rc - 128))"; return; fi
    if [ "$want" = nz ]; then
        [ "$rc" != 0 ] || { echo "exited 0, expected a non-zero status"; return; }
    elif [ "$rc" != "$want" ]; then
        echo "exited $rc, expected $want"; return
    fi
    [ -z "$pattern" ] || grep -qiE -- "$pattern" "$T/err" || { echo "stderr does not match /$pattern/: $(head -c 300 "$T/err")"; return; }
    case "$post" in
        absent:*) ! ls "${post#absent:}"* >/dev/null 2>&1 || echo "left ${post#absent:}* behind" ;;
        same:*) [ "$(md5sum <"${post#same:}")" = "$(cat "$T/before.md5")" ] || echo "changed ${post#same:}" ;;
    esac
}

# case_ NAME WANT PATTERN POST XFAIL CMD...: one catalogue row (XFAIL "" or the reason).
case_() {
    local name=$1 want=$2 pattern=$3 post=$4 xfail=$5
    shift 5
    cases=$((cases + 1))
    case "$post" in same:*) md5sum <"${post#same:}" >"$T/before.md5" ;; esac
    run "$@"
    local why
    why=$(verdict "$name" "$want" "$pattern" "$post")
    if [ -n "$xfail" ]; then
        if [ -n "$why" ]; then echo "XFAIL $name: $why [$xfail]"; xfails=$((xfails + 1))
        else echo "XPASS $name: remove its xfail mark [$xfail]"; xpasses=$((xpasses + 1)); fi
    elif [ -n "$why" ]; then
        fail "$name: $why (command: $*)"
    else
        echo "ok    $name"
    fi
}

# ---- Fixtures: tiny files of every kind, written by restpg itself -------------------------------
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
tiny_test_model 3 2 1 # $T/ds.h5, $T/tok, $T/model.yaml, $T/m.h5 (with training state)
"$RESTPG" sample --model "$T/m.h5" --data "$T/ds.h5" --out "$T/s.h5" --n 2 --max-new-tokens 4 --limit 1 \
    --threads 1 >/dev/null 2>&1 || fail "sample (fixture)"
"$RESTPG" convert --from "$T/m.h5" --to "$T/m.bin" >/dev/null 2>&1 || fail "convert to llm.c (fixture)"
cp "$C/tokenizer/rpsp.tok" "$T/rpsp.tok"
cp "$C/gguf/all.gguf" "$T/all.gguf"
echo "1 2 3 4 5 6 7 8 9 10 11 12" >"$T/ids.txt"
printf 'Hello, world! caf\xc3\xa9 abc\n' >"$T/text.txt"
[ "$fails" = 0 ] || exit 1

# h5set FILE DATASET EXPR: rewrites one dataset of an HDF5 file with h5py (crafted corruptions).
h5set() {
    $PY - "$@" <<'EOF'
import sys, h5py, numpy as np
path, name, expr = sys.argv[1:4]
with h5py.File(path, "r+") as f:
    d = f[name]
    if expr == "shorter":  # rewrite with one element fewer, same type
        v = d[...][:-1]; attrs = dict(d.attrs); dt = d.dtype; del f[name]
        nd = f.create_dataset(name, data=v, dtype=dt)
        for k, a in attrs.items(): nd.attrs[k] = a
    elif expr == "nan_first":
        v = d[...]; v.flat[0] = np.nan; d[...] = v
    elif expr == "huge":
        v = d[...]; v[...] = 1e30; d[...] = v
EOF
}

# ---- 1. The issue's cases ----------------------------------------------------------------------
# Signals instead of errors.
for cmd in pretrain sft eval; do
    case "$cmd" in
        pretrain) args=(--data "$T/ds.h5" --tokenizer "$T/tok" --config "$T/model.yaml" --steps 1 --out "$T/th.h5") ;;
        sft) args=(--data "$T/ds.h5" --init "$T/m.h5" --steps 1 --out "$T/th.h5") ;;
        eval) args=(--data "$T/ds.h5" --model "$T/m.h5" --limit 1 --max-new-tokens 4 --out "$T/th_eval") ;;
    esac
    case_ "threads_100000_$cmd" 2 "threads" "absent:$T/th" "" "$RESTPG" "$cmd" "${args[@]}" --threads 100000
done
cp "$T/s.h5" "$T/short.h5" && h5set "$T/short.h5" /candidates/answer shorter
case_ reward_short_answer_column 2 "short\.h5.*answer|answer.*short\.h5" "absent:$T/short_out.h5" "" \
    "$RESTPG" reward --samples "$T/short.h5" --data "$T/ds.h5" --out "$T/short_out.h5"
# A write that meets a full disk (here: the file-size limit, EFBIG, with SIGXFSZ ignored): an error,
# not a crash in HDF5's shutdown, and no output.
case_ write_file_size_limit nz "error" "absent:$T/full.h5" "" \
    bash -c 'trap "" XFSZ; ulimit -f 16; exec "$@"' _ "$RESTPG" data synth --users 40 --seed 1 --out "$T/full.h5"

# Silent NaN.
cp "$T/m.h5" "$T/nan.h5" && h5set "$T/nan.h5" /params/transformer.wte.weight nan_first
case_ checkpoint_nan_weight 2 "nan\.h5.*wte|wte.*nan\.h5" "absent:$T/nan_s.h5" "" \
    "$RESTPG" sample --model "$T/nan.h5" --data "$T/ds.h5" --out "$T/nan_s.h5" --n 1 --limit 1 --max-new-tokens 2 --threads 1
case_ pretrain_lr_1e12 nz "finite|nan" "absent:$T/lr.h5" "" \
    "$RESTPG" pretrain --data "$T/ds.h5" --tokenizer "$T/tok" --config "$T/model.yaml" --steps 3 --batch-size 1 \
    --seq-len 64 --threads 1 --lr 1e12 --out "$T/lr.h5"
cp "$T/m.h5" "$T/opt.h5" && h5set "$T/opt.h5" /optimizer/adam_v nan_first
case_ resume_corrupt_optimizer 2 "opt\.h5.*adam_v|adam_v.*opt\.h5" "same:$T/opt.h5" "" \
    "$RESTPG" pretrain --data "$T/ds.h5" --tokenizer "$T/tok" --config "$T/model.yaml" --steps 3 --batch-size 1 \
    --seq-len 64 --threads 1 --resume --out "$T/opt.h5"

# Lost input: --out equal to an input is refused and the input kept.
cp "$T/ds.h5" "$T/in.h5"
case_ out_is_input_pretrain 2 "--out" "same:$T/in.h5" "" \
    "$RESTPG" pretrain --data "$T/in.h5" --tokenizer "$T/tok" --config "$T/model.yaml" --steps 1 --threads 1 --out "$T/in.h5"
cp "$T/ds.h5" "$T/in.h5"
case_ out_is_input_sample 2 "--out" "same:$T/in.h5" "" \
    "$RESTPG" sample --model "$T/m.h5" --data "$T/in.h5" --out "$T/in.h5" --n 1 --limit 1 --max-new-tokens 2 --threads 1
cp "$T/ds.h5" "$T/in.h5"
case_ out_is_input_tokenizer 2 "--out" "same:$T/in.h5" "" \
    "$RESTPG" tokenizer train --data "$T/in.h5" --vocab-size 300 --out "$T/in.h5"
cp "$T/ds.h5" "$T/in.h5"
case_ out_is_input_reward 2 "--out" "same:$T/in.h5" "" \
    "$RESTPG" reward --samples "$T/s.h5" --data "$T/in.h5" --out "$T/in.h5"
ln -sf "$T/in.h5" "$T/alias.h5" # the same file under another name (device and inode)
cp "$T/ds.h5" "$T/in.h5"
case_ out_is_input_by_link 2 "--out" "same:$T/in.h5" "" \
    "$RESTPG" tokenizer train --data "$T/in.h5" --vocab-size 300 --out "$T/alias.h5"
cp "$T/ds.h5" "$T/in.h5"
case_ import_replaces_without_force 2 "force" "same:$T/in.h5" "" \
    "$RESTPG" data import --task abstract_generation --input "$here/data/longlamp/abstract_generation.jsonl" --out "$T/in.h5"
# Temp files of a killed writer are removed by the next run (pid 2^22+1 cannot be running).
: >"$T/tmpclean.h5.tmp.4194305"
case_ stale_temp_removed 0 "" "absent:$T/tmpclean.h5.tmp" "" \
    "$RESTPG" data synth --users 3 --seed 1 --out "$T/tmpclean.h5"

# Accepted nonsense.
case_ tau_above_1 2 "tau" "absent:$T/r_tau.h5" "" "$RESTPG" reward --samples "$T/s.h5" --data "$T/ds.h5" --tau 1.5 --out "$T/r_tau.h5"
case_ tau_negative 2 "tau" "absent:$T/r_tau.h5" "" "$RESTPG" reward --samples "$T/s.h5" --data "$T/ds.h5" --tau -0.1 --out "$T/r_tau.h5"
# Decided: keep = 0 means no cap and a negative K is refused (docs/reward.md, the CLI, the config
# and filter_apply agree).
case_ keep_negative_refused 2 "keep" "absent:$T/r_keep.h5" "" \
    "$RESTPG" reward --samples "$T/s.h5" --data "$T/ds.h5" --keep -1 --out "$T/r_keep.h5"
case_ k_negative 2 "--k" "" "" "$RESTPG" data prompt --data "$T/ds.h5" --id any --k -1
case_ grad_clip_negative 2 "grad-clip" "absent:$T/gc.h5" "" \
    "$RESTPG" pretrain --data "$T/ds.h5" --tokenizer "$T/tok" --config "$T/model.yaml" --steps 1 --threads 1 --grad-clip -1 --out "$T/gc.h5"
case_ split_bogus_sample 2 "bogus" "absent:$T/sb.h5" "" \
    "$RESTPG" sample --model "$T/m.h5" --data "$T/ds.h5" --out "$T/sb.h5" --split bogus --n 1 --max-new-tokens 4 --threads 1
case_ split_bogus_tokenizer 2 "bogus" "absent:$T/sb.tok" "" \
    "$RESTPG" tokenizer train --data "$T/ds.h5" --split bogus --out "$T/sb.tok"
printf '{"id": "", "input": "x", "output": "y", "profile": [{"title": "t", "abstract": "a"}]}\n' >"$T/emptyid.jsonl"
case_ empty_example_id 2 "emptyid\.jsonl.*id" "absent:$T/emptyid.h5" "" \
    "$RESTPG" data import --task abstract_generation --input "$T/emptyid.jsonl" --out "$T/emptyid.h5"
LIMIT=15 case_ dev_zero_import 2 "/dev/zero" "absent:$T/zero.h5" "" \
    "$RESTPG" data import --task abstract_generation --input /dev/zero --out "$T/zero.h5"
LIMIT=15 case_ dev_zero_tokens 2 "/dev/zero" "" "" "$RESTPG" loss --model "$T/m.h5" --tokens /dev/zero --threads 1
case_ dir_as_dataset 2 "$T" "" "" "$RESTPG" data info "$T"
cat >"$T/judge2.py" <<'EOF'
import json, sys
for line in sys.stdin:
    i = json.loads(line)["id"]
    print(json.dumps({"id": i, "reward": 0.5}) + json.dumps({"id": i, "reward": 0.5}), flush=True)
EOF
case_ judge_two_objects_one_line 2 "judge" "absent:$T/j2.h5" "" \
    "$RESTPG" reward --samples "$T/s.h5" --data "$T/ds.h5" --reward judge --judge "$PY $T/judge2.py" --judge-retries 0 --out "$T/j2.h5"
# The whole run config is checked before the first stage starts.
printf 'data: {source: synth, synth_users: 4}\ntokenizer: {vocab_size: 300}\nmodel: {n_layer: 1, n_head: 1, n_embd: 8, n_positions: 64}\npretrain: {steps: 1, seq_len: 32}\nsft: {steps: 1}\n' >"$T/run.yaml"
case_ run_em_tau_checked_first 2 "em\.tau" "absent:$T/run_tau" "" "$RESTPG" run "$T/run.yaml" --run_dir="$T/run_tau" --em.tau=3
case_ run_em_n_too_big 2 "em\.n" "absent:$T/run_n" "" "$RESTPG" run "$T/run.yaml" --run_dir="$T/run_n" --em.n=1000000000000
case_ run_threads_100000 2 "threads" "absent:$T/run_th" "" "$RESTPG" run "$T/run.yaml" --run_dir="$T/run_th" --threads=100000

# Stuck ranks: a judge that floods one 200 MB line without a newline is cut off by the line limit.
cat >"$T/judgeflood.py" <<'EOF'
import sys, time
sys.stdout.write("x" * (200 << 20))
sys.stdout.flush()
time.sleep(100)
EOF
case_ judge_line_limit 2 "judge.*line|line.*judge" "absent:$T/jf.h5" "" \
    "$RESTPG" reward --samples "$T/s.h5" --data "$T/ds.h5" --reward judge --judge "$PY $T/judgeflood.py" --judge-timeout 5 --judge-retries 0 --out "$T/jf.h5"

# Stuck ranks: a rank stopped with SIGSTOP makes the job exit (the watchdog names rank and stage)
# instead of hanging; the stopped rank is resumed and the job's processes end with the case.
cat >"$T/stall.sh" <<'EOF'
mpiexec -n 2 --bind-to none "$RESTPG" pretrain --data "$1" --tokenizer "$2" --config "$3" --steps 100000 \
    --batch-size 1 --seq-len 64 --threads 1 --stall-timeout 5 --out "$4" &
job=$!
sleep 4
rank=$(pgrep -P "$job" -x restpg | head -n 1)
[ -n "$rank" ] && kill -STOP "$rank"
wait "$job"
rc=$?
[ -n "$rank" ] && kill -CONT "$rank" 2>/dev/null
exit $rc
EOF
LIMIT=40 case_ stalled_rank_watchdog nz "rank.*(stall|progress)" "" "" bash "$T/stall.sh" "$T/ds.h5" "$T/tok" "$T/model.yaml" "$T/stall.h5"
# A judge whose child keeps its stdout open: killed as a process group, no orphan left.
mark="3001.$$"
cat >"$T/judgeorphan.py" <<EOF
import json, subprocess, sys
subprocess.Popen(["sleep", "$mark"])  # inherits stdout
for line in sys.stdin:
    print(json.dumps({"id": json.loads(line)["id"], "reward": 0.5}), flush=True)
EOF
cat >"$T/orphan.sh" <<'EOF'
"$RESTPG" reward --samples "$1" --data "$2" --reward judge --judge "$3 $4" --out "$5" || exit
sleep 1
left=$(pgrep -f "sleep $6")
[ -z "$left" ] && exit 0
echo "judge's child left running: $left" >&2
kill $left
exit 1
EOF
case_ judge_process_group 0 "" "" "" bash "$T/orphan.sh" "$T/s.h5" "$T/ds.h5" "$PY" "$T/judgeorphan.py" "$T/orphan.h5" "$mark"

# ---- 2. Bit flips ----------------------------------------------------------------------------
NFLIP=${RESTPG_BAD_INPUT_FLIPS:-40}
# flips FILE N: N copies FILE.flipK with one bit flipped, offsets spread over the file and its
# first 64 bytes (headers, superblocks); prints "K offset" lines.
flips() {
    $PY - "$1" "$2" <<'EOF'
import sys
path, n = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()
size = len(data)
offs = sorted(set([i * 7 % min(64, size) for i in range(8)] + [(i * size) // n + (i * 13) % 7 for i in range(n)]))
for k, off in enumerate(o for o in offs if o < size):
    b = bytearray(data); b[off] ^= 1 << (k % 8)
    open(f"{path}.flip{k}", "wb").write(b)
    print(k, off)
EOF
}

# flip_kind NAME FILE STRICT CMD...: CMD (with @F@ for the file) on FILE and on every flipped copy.
# STRICT=1: the format is checksummed, so exit 0 must give the unflipped output.
flip_kind() {
    local name=$1 file=$2 strict=$3 xfail=$4
    shift 4
    local args=("$@") a
    run "${args[@]//@F@/$file}"
    [ "$rc" = 0 ] || { fail "flip $name: the unflipped file fails: $(head -c 300 "$T/err")"; return; }
    cp "$T/out" "$T/base.out"
    local n=0 same=0 detected=0 changed=0 bad=0
    while read -r k off; do
        n=$((n + 1))
        local f="$file.flip$k"
        run "${args[@]//@F@/$f}"
        local why=""
        if [ "$rc" = 0 ]; then
            if cmp -s "$T/out" "$T/base.out"; then same=$((same + 1))
            else changed=$((changed + 1)); [ "$strict" = 1 ] && why="exit 0 with different output (undetected corruption)"; fi
        else
            why=$(verdict "" 2 "$(basename "$f")" "")
            [ -n "$why" ] || detected=$((detected + 1))
        fi
        if [ -n "$why" ]; then
            bad=$((bad + 1))
            if [ -n "$xfail" ]; then
                echo "XFAIL flip $name offset $off (bit $((k % 8))): $why [$xfail]"
            else
                fail "flip $name offset $off (bit $((k % 8))): $why"
            fi
        fi
        rm -f "$f"
    done < <(flips "$file" "$NFLIP")
    [ -n "$xfail" ] && [ "$bad" -gt 0 ] && xfails=$((xfails + 1))
    echo "flip  $name: $n flips: $same unchanged, $detected refused with exit 2, $changed changed (allowed: $([ "$strict" = 1 ] && echo no || echo yes)), $bad bad"
}

flip_kind dataset "$T/ds.h5" 0 "" "$RESTPG" tokenizer train --data @F@ --vocab-size 300 --out "$T/flip.tok"
flip_kind samples "$T/s.h5" 1 "" "$RESTPG" reward --samples @F@ --data "$T/ds.h5" --out "$T/flip_r.h5" --json
flip_kind checkpoint "$T/m.h5" 1 "" "$RESTPG" loss --model @F@ --tokens "$T/ids.txt" --threads 1 --json
flip_kind rptk "$T/tok" 1 "" bash -c '"$RESTPG" tokenizer encode --tokenizer "$1" <"$2"' _ @F@ "$T/text.txt"
flip_kind rpsp "$T/rpsp.tok" 1 "" bash -c '"$RESTPG" tokenizer encode --tokenizer "$1" <"$2"' _ @F@ "$T/text.txt"
flip_kind llmc "$T/m.bin" 0 "" bash -c '"$RESTPG" convert --from "$1" --tokenizer "$2" --to "$3" >/dev/null && "$RESTPG" loss --model "$3" --tokens "$4" --threads 1 --json' \
    _ @F@ "$T/tok" "$T/flip_c.h5" "$T/ids.txt"
# The GGUF fixture is not a Gemma 3, so even the unflipped file is refused (exit 2 naming it):
# what is checked is that no flip turns that into a crash or a hang.
flip_kind gguf "$T/all.gguf" 0 "" bash -c 'o=$("$RESTPG" convert --from "$1" --to "$2" 2>&1); rc=$?
    [ $rc = 2 ] && [[ $o == *"$1"* ]] && exit 0; echo "$o" >&2; exit $rc' _ @F@ "$T/flip_g.h5"

echo "bad_inputs: $cases cases ($xfails xfail, $xpasses xpass), $fails failures"
[ "$fails" = 0 ]

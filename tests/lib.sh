# shellcheck shell=bash
# Sourced by the shell tests as `source tests/lib.sh NAME`: a private directory $T (removed on
# exit), a failure counter ($fails, fail), expect_err, and tiny_test_model.
T="$RESTPG_TEST_TMP/${1}_$$"
mkdir -p "$T"
trap 'rm -rf "$T"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# expect_err STATUS TEXT CMD...: the command must exit STATUS with TEXT on stderr.
expect_err() {
    local want=$1 text=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    local rc=$?
    [ "$rc" = "$want" ] || fail "$* exited $rc, expected $want"
    grep -qF -- "$text" "$T/err" || fail "$*: stderr lacks '$text': $(cat "$T/err")"
}

# tiny_test_model USERS PER_USER SEED: a synthetic dataset $T/ds.h5, tokenizer $T/tok, config
# $T/model.yaml and a one-step 2-layer model $T/m.h5 for tests that need any working model.
tiny_test_model() {
    "$RESTPG" data synth --users "$1" --per-user "$2" --seed "$3" --out "$T/ds.h5" >/dev/null || fail "data synth"
    "$RESTPG" tokenizer train --data "$T/ds.h5" --vocab-size 400 --out "$T/tok" >/dev/null || fail "tokenizer train"
    printf 'n_layer: 2\nn_head: 2\nn_embd: 64\nn_positions: 256\n' >"$T/model.yaml"
    "$RESTPG" pretrain --config "$T/model.yaml" --tokenizer "$T/tok" --data "$T/ds.h5" --steps 1 --batch-size 1 \
        --seq-len 64 --threads 1 --out "$T/m.h5" >/dev/null || fail "pretrain (the test model)"
}

#!/usr/bin/env bash
# Accepted nonsense (issue 15): every bad argument or config value below is refused with exit 2
# and a message naming the option or key and its bound, before any work; a bad run config leaves
# no run directory behind (checked whole before the first stage, not after pretraining and SFT).
set -uo pipefail
source "$RESTPG_SOURCE_DIR/tests/lib.sh" hard_args
X="$T/none.h5" # never read: the arguments are refused first

# Thread counts: one cap for every command (100000 crashed OpenMP in pretrain, sft, eval, run).
for cmd in "pretrain --data $X --out $X --config $X" "sft --data $X --out $X" "sample --model $X --data $X --out $X" \
           "generate --model $X --data $X --id a" "loss --model $X --tokens $X"; do
    # shellcheck disable=SC2086
    expect_err 2 "--threads: must be in [0, 4096], got 100000" "$RESTPG" $cmd --threads 100000
done
for cmd in "eval --model $X --data $X" "reward --samples $X --data $X"; do
    # shellcheck disable=SC2086
    expect_err 2 "--threads: must be in [1, 4096], got 100000" "$RESTPG" $cmd --threads 100000
done

# Ranges and choices of the commands' options.
expect_err 2 "--tau: must be in [0, 1], got 1.5" "$RESTPG" reward --samples "$X" --data "$X" --tau 1.5
expect_err 2 "--tau: must be in [0, 1], got -0.1" "$RESTPG" reward --samples "$X" --data "$X" --tau -0.1
expect_err 2 "--keep: must be in [0," "$RESTPG" reward --samples "$X" --data "$X" --keep -1
expect_err 2 "--grad-clip: must be at least 0, got -1" "$RESTPG" pretrain --data "$X" --out "$X" --config "$X" --grad-clip -1
expect_err 2 "--k: must be in [0, 100000], got -3" "$RESTPG" data prompt --data "$X" --id a --k -3
expect_err 2 "--k: must be in [0, 100000], got -3" "$RESTPG" generate --model "$X" --data "$X" --id a --k -3
expect_err 2 "--split: expected train, val or test, got 'bogus'" "$RESTPG" sample --model "$X" --data "$X" --out "$X" --split bogus
expect_err 2 "--split: expected train, val or test, got 'bogus'" "$RESTPG" eval --model "$X" --data "$X" --split bogus
expect_err 2 "--id: must not be empty" "$RESTPG" data prompt --data "$X" --id ""
expect_err 2 "--id: must not be empty" "$RESTPG" generate --model "$X" --data "$X" --id ""
expect_err 2 "--stall-timeout: must be in [0, 604800], got -1" "$RESTPG" sample --model "$X" --data "$X" --out "$X" --stall-timeout -1
expect_err 2 "--stall-timeout: must be in [0, 604800], got -1" "$RESTPG" sft --data "$X" --out "$X" --stall-timeout -1

# The run config: every key's bound and every stage's check, before the first stage starts.
printf 'data: {source: synth, synth_users: 6}\n' >"$T/run.yaml"
bad_run() {
    local text=$1
    shift
    expect_err 2 "$text" "$RESTPG" run "$T/run.yaml" --run_dir="$T/run" "$@"
    [ ! -e "$T/run" ] || fail "run $*: refused, but the run directory was created"
    rm -rf "$T/run"
}
bad_run "config key 'threads': must be in [0, 4096], got 100000" --threads=100000
bad_run "config key 'em.tau': must be in [0, 1], got 1.5" --em.tau=1.5
bad_run "config key 'em.tau': must be in [0, 1], got -0.5" --em.tau=-0.5
bad_run "config key 'em.keep': must be in [0, 2147483647], got -1" --em.keep=-1
bad_run "config key 'em.n': must be in [1, 1000000], got 1000000000000" --em.n=1000000000000
bad_run "key 'em.n': expected an integer, got '1e12'" --em.n=1e12
bad_run "config key 'prompt.k': must be in [1, 1000], got -1" --prompt.k=-1
bad_run "config key 'eval.split': expected val, test or train, got 'bogus'" --eval.split=bogus
bad_run "config key 'stall_timeout': must be in [0, 604800], got -1" --stall_timeout=-1
bad_run "config key 'seed': must be in [0, 9007199254740991]" --seed=9223372036854775807
bad_run "config key 'em.reward': reward spec 'bleu': unknown metric 'bleu'" --em.reward=bleu
bad_run "config key 'em.reward' needs a judge: set em.judge" --em.reward=rouge1:1,judge:1
bad_run "config key 'em.judge'" --em.reward=judge '--em.judge=["unclosed"'
bad_run "config key 'reason.teacher': expected builtin, jsonl:FILE or cmd:PROGRAM ARGS..., got 'oracle'" --reason.teacher=oracle
bad_run "config key 'data.max_users': must be in [0, 2147483647], got -2" --data.max_users=-2
bad_run "config key 'em.max_new_tokens': 600 leaves no room for a prompt in model.n_positions 512" --em.max_new_tokens=600
bad_run "config key 'eval.max_new_tokens': 512 leaves no room for a prompt in model.n_positions 512" --eval.max_new_tokens=512
bad_run "config key 'pretrain.seq_len': 1024 exceeds model.n_positions 512" --pretrain.seq_len=1024
bad_run "config key 'model.n_embd': 100 is not a multiple of model.n_head 3" --model.n_head=3 --model.n_embd=100
# The same checks for em and ablate (they share the config parser).
expect_err 2 "config key 'em.tau': must be in [0, 1], got 7" "$RESTPG" em --data "$X" --sft "$X" --run-dir "$T/em" --em.tau=7
[ ! -e "$T/em" ] || fail "em: refused, but the run directory was created"
expect_err 2 "config key 'em.reward'" "$RESTPG" ablate "$T/run.yaml" --run_dir="$T/ab" --em.reward=nope
[ ! -e "$T/ab" ] || fail "ablate: refused, but the run directory was created"

# keep = 0 is "no cap" in the docs, the CLI and the config alike.
grep -qF '`keep = 0`: no cap' "$RESTPG_SOURCE_DIR/docs/reward.md" || fail "docs/reward.md does not say keep = 0 means no cap"
"$RESTPG" reward --help | grep -qF "0 = no cap" || fail "restpg reward --help does not say --keep 0 means no cap"

[ "$fails" = 0 ] && echo "hard_args: all checks passed"
exit "$fails"

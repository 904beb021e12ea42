#!/usr/bin/env bash
# TensorBoard event files (core/tbevents.h) read back by the tensorboard package's EventAccumulator
# and served by `tensorboard --logdir` itself (tests/tensorboard_ref.py): every number of the
# run's metrics, at its step, equal to the JSON value rounded to float32.
#  1. a tiny `restpg run` on 2 ranks with --report.tensorboard=true: training curves of every
#     stage, E-step records, validation per round and the final evaluation;
#  2. `restpg pretrain --tensorboard` killed with SIGKILL mid-run and resumed: a second events
#     file, merged with the first (TensorBoard serves a repeated step's later value);
#  3. an events file cut inside its last record (a kill during a write) reads up to that record;
#  4. sft without --tensorboard writes no events file; a directory that cannot be made is an
#     error (exit 3) naming it, before any training.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh" tensorboard
env_out=$(bash "$here/../scripts/model_env.sh")
PY=$(sed -n 's/^python=//p' <<<"$env_out")
REF=("$PY" "$here/tensorboard_ref.py")

cat >"$T/tiny.yaml" <<'YAML'
seed: 3
threads: 1
data: {source: synth, synth_users: 8}
tokenizer: {vocab_size: 320}
model: {n_layer: 1, n_head: 2, n_embd: 32, n_positions: 256}
pretrain: {steps: 12, batch_size: 2, seq_len: 64, lr: 0.003}
sft: {steps: 8, batch_size: 2, lr: 0.002, reasoning: "off"}
em: {rounds: 1, n: 2, keep: 1, tau: 0, max_new_tokens: 24, steps: 6, batch_size: 2, limit: 6}
eval: {limit: 3, val_limit: 3, max_new_tokens: 24}
YAML
if mpiexec -n 2 --bind-to none "$RESTPG" run "$T/tiny.yaml" --run_dir="$T/run" --report.tensorboard=true >"$T/run.log" 2>&1; then
    grep -q "tensorboard --logdir $T/run/tensorboard" "$T/run.log" || fail "run: the log does not say where the events go"
    "${REF[@]}" run "$T/run" 1 || fail "run: TensorBoard's reading differs from the metrics"
else
    cat "$T/run.log"
    fail "restpg run with report.tensorboard"
fi

# pretrain killed after its 10th metrics line (a checkpoint every 4 steps), then resumed.
tiny_test_model 6 4 3
args=(pretrain --config "$T/model.yaml" --tokenizer "$T/tok" --data "$T/ds.h5" --steps 200 --batch-size 2 --seq-len 64
      --threads 1 --checkpoint-every 4 --out "$T/p.h5" --metrics "$T/p.jsonl" --tensorboard "$T/ptb")
"$RESTPG" "${args[@]}" >"$T/p1.log" 2>&1 &
pid=$!
for _ in $(seq 600); do
    [ "$(cat "$T/p.jsonl" 2>/dev/null | wc -l)" -ge 10 ] && break
    sleep 0.05
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
[ "$(wc -l <"$T/p.jsonl")" -lt 200 ] || fail "pretrain finished before the kill"
"$RESTPG" "${args[@]}" --resume >"$T/p2.log" 2>&1 || { cat "$T/p2.log"; fail "pretrain --resume"; }
grep -q "resuming from" "$T/p2.log" || fail "pretrain did not resume"
"${REF[@]}" train "$T/ptb" pretrain "$T/p.jsonl" 2 || fail "pretrain killed and resumed"

# sft with validation into a directory of its own; its file cut inside the last record.
"$RESTPG" sft --init "$T/m.h5" --data "$T/ds.h5" --steps 6 --batch-size 2 --seq-len 128 --threads 1 --val-every 3 \
    --out "$T/s.h5" --metrics "$T/s.jsonl" --tensorboard "$T/stb" >"$T/s.log" 2>&1 || { cat "$T/s.log"; fail "sft"; }
"${REF[@]}" train "$T/stb" sft "$T/s.jsonl" 1 || fail "sft"
"${REF[@]}" truncated "$T/stb" || fail "truncated events file"

# Without the flag nothing is written; a directory that cannot be made is an error naming it.
"$RESTPG" sft --init "$T/m.h5" --data "$T/ds.h5" --steps 1 --batch-size 2 --seq-len 128 --threads 1 --out "$T/s2.h5" \
    >/dev/null 2>&1 || fail "sft without --tensorboard"
stray=$(find "$T" -name 'events.out.tfevents.*' | grep -v -e "^$T/run/tensorboard/" -e "^$T/ptb/" -e "^$T/stb/" -e "^$T/stb.cut/")
[ -z "$stray" ] || fail "events files nobody asked for: $stray"
: >"$T/file"
expect_err 3 "$T/file/tb" "$RESTPG" sft --init "$T/m.h5" --data "$T/ds.h5" --steps 1 --batch-size 2 --seq-len 128 \
    --threads 1 --out "$T/s3.h5" --tensorboard "$T/file/tb"
[ ! -e "$T/s3.h5" ] || fail "sft trained although its --tensorboard directory could not be made"
[ "$fails" = 0 ] && echo "tensorboard: all checks passed"
exit $((fails > 0))

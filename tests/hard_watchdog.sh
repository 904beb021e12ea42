#!/usr/bin/env bash
# The stall watchdog (issue 15, stuck ranks): under 2 MPI ranks, one rank stopped with SIGSTOP
# during pretraining and, in a second run, during the E-step's sampling; with stall_timeout 5 the
# job must end within 20 s of the stop, non-zero, with a message from the rank still running that
# names the stopped rank and the stage. A run with nothing stopped finishes (the watchdog does not
# trip on a healthy job).
set -uo pipefail
source "$RESTPG_SOURCE_DIR/tests/lib.sh" hard_watchdog
MPI=(mpiexec -n 2 --bind-to none)
cat >"$T/tiny.yaml" <<'YAML'
seed: 3
threads: 1
stall_timeout: 5
data: {source: synth, synth_users: 6}
tokenizer: {vocab_size: 300}
model: {n_layer: 1, n_head: 2, n_embd: 16, n_positions: 128}
pretrain: {steps: 6, batch_size: 2, seq_len: 32}
sft: {steps: 4, batch_size: 2, reasoning: "off"}
em: {rounds: 1, n: 2, max_new_tokens: 16, steps: 2, batch_size: 2, limit: 4}
eval: {limit: 2, val_limit: 2, max_new_tokens: 8}
YAML

# The pid of rank R among mpiexec's children (Open MPI puts the rank in each one's environment).
rank_pid() {
    local mpipid=$1 want=$2 p
    for p in $(pgrep -P "$mpipid"); do
        if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$want"; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

# stop_during NAME STAGE_FILE STOPPED_RANK OVERRIDES...: starts the run, waits until STAGE_FILE
# exists under the run dir, stops STOPPED_RANK, and checks how the job ends.
stop_during() {
    local name=$1 marker=$2 stopped=$3 other dir
    shift 3
    other=$((1 - stopped))
    dir=${name// /_}
    "${MPI[@]}" "$RESTPG" run "$T/tiny.yaml" --run_dir="$T/$dir" "$@" >"$T/$dir.log" 2>&1 &
    local mpipid=$! i
    for i in $(seq 1 1200); do
        [ -e "$T/$dir/$marker" ] && break
        kill -0 "$mpipid" 2>/dev/null || break
        sleep 0.1
    done
    local pid
    pid=$(rank_pid "$mpipid" "$stopped") || {
        fail "$name: rank $stopped not found (did the run reach $marker?)"
        cat "$T/$dir.log" >&2
        kill "$mpipid" 2>/dev/null
        wait "$mpipid"
        return
    }
    kill -STOP "$pid"
    local t0=$SECONDS
    for i in $(seq 1 200); do
        kill -0 "$mpipid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$mpipid" 2>/dev/null; then
        fail "$name: the job still runs 20 s after rank $stopped was stopped"
        kill -CONT "$pid" 2>/dev/null
        kill "$mpipid" 2>/dev/null
    fi
    wait "$mpipid"
    local rc=$?
    [ "$rc" != 0 ] || fail "$name: the job exited 0 after a rank was stopped"
    grep -q "rank $other stalled in $name.*rank $stopped stopped responding" "$T/$dir.log" ||
        fail "$name: no message naming rank $stopped and the stage: $(tail -5 "$T/$dir.log")"
    grep -q "rank $stopped stalled" "$T/$dir.log" && fail "$name: the stopped rank, once continued, blamed its peer"
    kill -KILL "$pid" 2>/dev/null # if the runtime left it stopped
    echo "$name: job ended $((SECONDS - t0)) s after the stop, exit $rc"
}

# Pretraining runs long here so the stop lands in it; round 1's directory appears just before
# its sampling, which is made long too.
stop_during pretrain state/tokenizer.done 1 --pretrain.steps=100000
stop_during "em sampling" em/round1 0 --em.n=64 --em.max_new_tokens=100 --em.limit=0

"${MPI[@]}" "$RESTPG" run "$T/tiny.yaml" --run_dir="$T/ok" >"$T/ok.log" 2>&1 || fail "a healthy run failed: $(tail -5 "$T/ok.log")"
grep -q "stalled" "$T/ok.log" && fail "the watchdog tripped on a healthy run"

[ "$fails" = 0 ] && echo "hard_watchdog: all checks passed"
exit "$fails"

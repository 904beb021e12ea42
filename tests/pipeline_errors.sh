#!/usr/bin/env bash
# Config errors of restpg run/em/ablate exit 2 naming the file, line and key (or the override).
set -euo pipefail
T=$(mktemp -d "${RESTPG_TEST_TMP:-/tmp}/pipeerr.XXXXXX")
trap 'rm -rf "$T"' EXIT
expect() { # message fragment, command...
  local want=$1; shift
  local rc=0
  "$@" > "$T/out" 2> "$T/err" || rc=$?
  [ "$rc" = 2 ] || { echo "exit $rc (want 2): $*"; cat "$T/err"; exit 1; }
  grep -qF -- "$want" "$T/err" || { echo "message lacks '$want': $*"; cat "$T/err"; exit 1; }
}
printf 'em:\n  rounds: 2\n  roundz: 1\n' > "$T/unknown.yaml"
expect "unknown.yaml: line 3: unknown key 'em.roundz'" "$RESTPG" run "$T/unknown.yaml"
printf 'em:\n  n: many\n' > "$T/type.yaml"
expect "type.yaml: line 2: key 'em.n'" "$RESTPG" run "$T/type.yaml"
printf 'run_dir: %s/x\n' "$T" > "$T/ok.yaml"
expect "command line: unknown key 'em.nn'" "$RESTPG" run "$T/ok.yaml" --em.nn=3
expect "key 'em.temperature'" "$RESTPG" run "$T/ok.yaml" --em.temperature=hot
expect "em.mstep_init" "$RESTPG" run "$T/ok.yaml" --em.mstep_init=later
expect "missing CONFIG.yaml" "$RESTPG" run
expect "cannot open config" "$RESTPG" run "$T/none.yaml"
expect "--data, --sft and --run-dir are required" "$RESTPG" em --em.rounds=1
expect "unknown key 'eval.nope'" "$RESTPG" ablate "$T/ok.yaml" --eval.nope=1
[ ! -e "$T/x" ] || { echo "a failed start created the run directory"; exit 1; }
"$RESTPG" run --help | grep -q "em.mstep_init"
echo "pipeline_errors: all checks passed"

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
"$RESTPG" run --help > "$T/help"  # whole, not into grep -q: it may stop reading early (SIGPIPE under pipefail)
grep -q "em.mstep_init" "$T/help"

# A run directory started by a restpg that knew fewer keys (its config.yaml lacks a section a
# newer restpg writes, whose keys keep their defaults) resumes: the start gets past the config
# check to the data stage; a changed setting is still refused.
printf 'run_dir: %s/old
data:
  source: file
  path: %s/none.h5
' "$T" "$T" > "$T/old.yaml"
expect "none.h5" "$RESTPG" run "$T/old.yaml"
grep -q '^  reduce: "tree"$' "$T/old/config.yaml" || { echo "config.yaml lacks train.reduce"; exit 1; }
grep -v '^train:$\|^  reduce: \|^  vocab_chunk: \|^  schedule: ' "$T/old/config.yaml" > "$T/older" && mv "$T/older" "$T/old/config.yaml"
expect "none.h5" "$RESTPG" run "$T/old.yaml" --resume
sed -i 's/^seed: 1$/seed: 2/' "$T/old/config.yaml"
expect "different config" "$RESTPG" run "$T/old.yaml" --resume
echo "pipeline_errors: all checks passed"

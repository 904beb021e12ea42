#!/usr/bin/env bash
# `restpg data debian` with its defaults on this machine's real apt lists: several hundred users,
# every split populated, a file of a few tens of MB at most. Skips (77) where there are no lists.
set -uo pipefail
: "${RESTPG:?}" "${RESTPG_TEST_TMP:?}"
lists=/var/lib/apt/lists
if ! compgen -G "$lists/*Packages.lz4" >/dev/null && ! compgen -G "$lists/*Packages" >/dev/null; then
  echo "skip: no Packages lists in $lists"
  exit 77
fi
if ! compgen -G "$lists/*Translation-en*" >/dev/null; then
  echo "skip: no Translation-en lists in $lists (apt-get update -o Acquire::Languages=en)"
  exit 77
fi
out="$RESTPG_TEST_TMP/debian_real_$$.h5"
trap 'rm -f "$out"' EXIT
"$RESTPG" data debian --out "$out" || exit 1
"$RESTPG" data info --json "$out" | /usr/bin/python3 -c '
import json, sys
j = json.load(sys.stdin)
users = [j[s]["users"] for s in ("train", "val", "test")]
print("users per split", users, "examples", j["examples"])
ok = sum(users) >= 300 and min(users) > 0 and j["examples"] >= sum(users) and j["mean_profile_items"] >= 5
sys.exit(0 if ok else 1)' || { echo "FAIL: too few users/examples"; exit 1; }
size=$(stat -c %s "$out")
echo "file size $size bytes"
[ "$size" -lt $((64 * 1024 * 1024)) ] || { echo "FAIL: file larger than 64 MiB"; exit 1; }
echo "test_debian_real: ok"

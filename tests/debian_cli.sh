#!/usr/bin/env bash
# `restpg data debian` from the command line: identical content for one seed and another split
# for another seed, exit status 2 naming the file for bad lists, and no output (an older file
# survives untouched) when the build fails.
set -uo pipefail
: "${RESTPG:?}" "${RESTPG_TEST_TMP:?}"
dir=$(mktemp -d "$RESTPG_TEST_TMP/debian_cli.XXXXXX")
trap 'rm -rf "$dir"' EXIT
fail=0
check() { if ! eval "$2"; then echo "FAIL: $1"; fail=1; fi; }

# 30 maintainers with 6 packages each, every package its own source.
mkdir "$dir/lists"
for u in $(seq 0 29); do
  for i in 0 1 2 3 4 5; do
    printf 'Package: u%dp%d\nVersion: 1.0-1\nMaintainer: User %d <user%d@example.org>\nSection: misc\nDescription: tool %d of user %d\nDescription-md5: m%d-%d\n\n' \
      "$u" "$i" "$u" "$u" "$i" "$u" "$u" "$i" >>"$dir/lists/main_binary-amd64_Packages"
    printf 'Package: u%dp%d\nDescription-md5: m%d-%d\nDescription-en: tool %d of user %d\n Tool number %d of user %d has a long description\n .\n with two paragraphs and enough words.\n\n' \
      "$u" "$i" "$u" "$i" "$i" "$u" "$i" "$u" >>"$dir/lists/main_i18n_Translation-en"
  done
done

out="$dir/d.h5"
"$RESTPG" data debian --lists "$dir/lists" --out "$out" >"$dir/log1" 2>&1
rc=$?
check "build exits 0 (got $rc)" '[ $rc -eq 0 ] && [ -s "$out" ]'
check "summary printed" 'grep -q "users train/val/test" "$dir/log1"'
h5dump "$out" | tail -n +2 >"$dir/dump1"
"$RESTPG" data debian --lists "$dir/lists" --out "$out" >/dev/null 2>&1
h5dump "$out" | tail -n +2 >"$dir/dump2"
check "same seed gives the same content" 'cmp -s "$dir/dump1" "$dir/dump2"'
"$RESTPG" data debian --lists "$dir/lists" --out "$out" --seed 7 >/dev/null 2>&1
h5dump -d examples/split "$out" | tail -n +2 >"$dir/split7"
"$RESTPG" data debian --lists "$dir/lists" --out "$out" >/dev/null 2>&1
h5dump -d examples/split "$out" | tail -n +2 >"$dir/split1"
check "another seed gives another split" '! cmp -s "$dir/split1" "$dir/split7"'
users=$("$RESTPG" data info --json "$out" | /usr/bin/python3 -c 'import json,sys; j=json.load(sys.stdin); print(sum(j[s]["users"] for s in ("train","val","test")))')
check "30 users ($users)" '[ "$users" = 30 ]'

# Bad inputs: exit 2, the file named, the previous output untouched, no temp file left.
echo old >"$dir/keep.h5"
expect_fail() { # name, lists dir, text the message must hold
  local needle=$3 rc
  "$RESTPG" data debian --lists "$2" --out "$dir/keep.h5" >"$dir/out" 2>"$dir/err"
  rc=$?
  check "$1: exit 2 (got $rc)" '[ $rc -eq 2 ]'
  check "$1: message names '$needle'" 'grep -qF -- "$needle" "$dir/err"'
  check "$1: old output kept" '[ "$(cat "$dir/keep.h5")" = old ]'
  check "$1: no temp file" '! ls "$dir"/keep.h5.tmp.* >/dev/null 2>&1'
}
expect_fail "missing dir" "$dir/nope" "$dir/nope"
mkdir "$dir/empty"
expect_fail "no Packages" "$dir/empty" "no Packages files"
mkdir "$dir/corrupt"
cp "$dir/lists/main_i18n_Translation-en" "$dir/corrupt/"
head -c 300 /dev/urandom >"$dir/corrupt/main_binary-amd64_Packages.lz4"
expect_fail "corrupt lz4" "$dir/corrupt" "main_binary-amd64_Packages.lz4"
mkdir "$dir/nopkg"
{ head -n 14 "$dir/lists/main_binary-amd64_Packages"; printf 'Version: 1\nMaintainer: M <m@x.org>\nDescription: no name\n\n'; } \
  >"$dir/nopkg/main_binary-amd64_Packages"
expect_fail "stanza without Package" "$dir/nopkg" "main_binary-amd64_Packages: stanza at line 15: field 'Package' is missing"
"$RESTPG" data debian --lists "$dir/lists" --out "$dir/x.h5" --max-profile 2 >/dev/null 2>"$dir/err"
check "bad option exits 2" '[ $? -eq 2 ] && grep -q -- "--max-profile" "$dir/err"'

[ $fail -eq 0 ] && echo "test_debian_cli: ok"
exit $fail

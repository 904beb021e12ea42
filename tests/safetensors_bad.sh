#!/usr/bin/env bash
# Bad safetensors inputs through the CLI (`restpg safetensors ls/get`, model/safetensors*.c), in the
# style of tests/bad_inputs.sh: each case must exit 2 with stderr naming the file and the field,
# and leave the directory as it was (nothing written). Files are crafted with Debian's python3
# (struct and json only). Labels unit and sanitize: CI runs it again under ASan + UBSan.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh" safetensors_bad
PY=/usr/bin/python3
LIMIT=60
cases=0

# mkst PATH HEADER DATA_BYTES [HEADER_LENGTH_FIELD]: a safetensors file by hand.
mkst() {
    $PY - "$@" <<'EOF'
import struct, sys
path, header, n = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
hlen = int(sys.argv[4]) if len(sys.argv) > 4 else len(header)
with open(path, "wb") as f:
    f.write(struct.pack("<Q", hlen) + header + bytes((7 * i + 1) % 256 for i in range(n)))
EOF
}

# case_ NAME PATTERN CMD...: exit 2, stderr matching PATTERN (extended regex), no file added or
# changed under $T.
case_() {
    local name=$1 pattern=$2
    shift 2
    cases=$((cases + 1))
    (cd "$T" && find . -type f -exec md5sum {} + | sort) >"$T.before"
    timeout -k 5 "$LIMIT" "$@" >"$T.out" 2>"$T.err"
    local rc=$?
    (cd "$T" && find . -type f -exec md5sum {} + | sort) >"$T.after"
    if [ "$rc" != 2 ]; then fail "$name: exited $rc, expected 2: $(head -c 300 "$T.err")"
    elif grep -qE "ERROR: AddressSanitizer|runtime error:" "$T.err"; then fail "$name: sanitizer report"
    elif ! grep -qE -- "$pattern" "$T.err"; then fail "$name: stderr does not match /$pattern/: $(head -c 300 "$T.err")"
    elif ! cmp -s "$T.before" "$T.after"; then fail "$name: files under $T changed"
    else echo "ok    $name"; fi
}
trap 'rm -rf "$T" "$T.before" "$T.after" "$T.out" "$T.err"' EXIT

A='"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}'
B='"b":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]}'
I='"ids":{"dtype":"I64","shape":[2],"data_offsets":[32,48]}'
mkst "$T/good.safetensors" "{\"__metadata__\":{\"format\":\"pt\"},$A,$B,$I}" 48
"$RESTPG" safetensors ls "$T/good.safetensors" >"$T.out" 2>"$T.err" || fail "the good file: $(cat "$T.err")"
[ "$(wc -l <"$T.out")" = 3 ] || fail "the good file lists $(wc -l <"$T.out") tensors, not 3"

head -c $(($(stat -c %s "$T/good.safetensors") - 5)) "$T/good.safetensors" >"$T/truncated.safetensors"
case_ truncated_data 'truncated\.safetensors: tensor .*data_offsets .* past the end of the data section' \
    "$RESTPG" safetensors ls "$T/truncated.safetensors"
head -c 30 "$T/good.safetensors" >"$T/truncated_header.safetensors"
case_ truncated_header 'truncated_header\.safetensors: header length [0-9]+ runs past the end of the file' \
    "$RESTPG" safetensors ls "$T/truncated_header.safetensors"
mkst "$T/hlen.safetensors" "{$A}" 24 1000000
case_ header_length_past_end 'hlen\.safetensors: header length 1000000 runs past the end' \
    "$RESTPG" safetensors ls "$T/hlen.safetensors"
mkst "$T/notjson.safetensors" "{\"a\": [1, 2,}" 0
case_ header_not_json 'notjson\.safetensors: header: not valid JSON' "$RESTPG" safetensors ls "$T/notjson.safetensors"
mkst "$T/overlap.safetensors" "{$A,\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[20,28]}}" 28
case_ overlapping_offsets "overlap\.safetensors: tensors 'a' and 'b' overlap" \
    "$RESTPG" safetensors ls "$T/overlap.safetensors"
mkst "$T/past.safetensors" "{$A,$B}" 30
case_ offsets_past_end "past\.safetensors: tensor 'b': data_offsets \[24, 32\] run past the end" \
    "$RESTPG" safetensors ls "$T/past.safetensors"
mkst "$T/mismatch.safetensors" "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,4],\"data_offsets\":[0,24]}}" 24
case_ dtype_shape_mismatch "mismatch\.safetensors: tensor 'a': data_offsets \[0, 24\] hold 24 bytes, but dtype F32 and shape \[2, 4\] need 32" \
    "$RESTPG" safetensors ls "$T/mismatch.safetensors"
case_ int_dtype_as_float "good\.safetensors: tensor 'ids' has dtype I64, which is not read as float" \
    "$RESTPG" safetensors get "$T/good.safetensors" ids
mkst "$T/dtype.safetensors" "{\"a\":{\"dtype\":\"F31\",\"shape\":[6],\"data_offsets\":[0,24]}}" 24
case_ unknown_dtype "dtype\.safetensors: tensor 'a': dtype 'F31' is not a safetensors dtype" \
    "$RESTPG" safetensors ls "$T/dtype.safetensors"
mkst "$T/hole.safetensors" "{$A,\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[28,36]}}" 36
case_ hole_in_data "hole\.safetensors: bytes 24\.\.28 of the data section belong to no tensor" \
    "$RESTPG" safetensors ls "$T/hole.safetensors"
mkst "$T/trailing.safetensors" "{$A}" 30
case_ trailing_bytes "trailing\.safetensors: the last 6 bytes of the file belong to no tensor" \
    "$RESTPG" safetensors ls "$T/trailing.safetensors"

# Sharded directories: the index names the shards.
mkdir -p "$T/shards"
mkst "$T/shards/model-00001-of-00002.safetensors" "{$A}" 24
mkst "$T/shards/model-00002-of-00002.safetensors" "{\"b\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,8]}}" 8
index() { printf '{"metadata": {"total_size": 32}, "weight_map": {%s}}\n' "$1" >"$T/shards/model.safetensors.index.json"; }
index '"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"'
"$RESTPG" safetensors ls "$T/shards" >"$T.out" 2>"$T.err" || fail "the good shards: $(cat "$T.err")"
grep -q '"name": "b", "dtype": "BF16", "shape": \[4\], "shard": "model-00002-of-00002.safetensors"' "$T.out" ||
    fail "the good shards: $(cat "$T.out")"
index '"a": "model-00001-of-00002.safetensors", "b": "model-00003-of-00003.safetensors"'
case_ index_missing_shard "model\.safetensors\.index\.json: weight_map: tensor 'b' is in shard 'model-00003-of-00003\.safetensors'.*cannot open" \
    "$RESTPG" safetensors ls "$T/shards"
index '"a": "model-00001-of-00002.safetensors", "b": "model-00001-of-00002.safetensors"'
case_ index_tensor_not_in_shard "index\.json: weight_map: tensor 'b' is in shard 'model-00001-of-00002\.safetensors', which does not hold it" \
    "$RESTPG" safetensors ls "$T/shards"
mkst "$T/shards/model-00002-of-00002.safetensors" "{$A,$B}" 32
index '"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"'
case_ index_tensor_in_two_shards "index\.json: tensor 'a' is in two shards" "$RESTPG" safetensors ls "$T/shards"

echo "safetensors_bad: $cases cases, $fails failed"
[ "$fails" = 0 ]

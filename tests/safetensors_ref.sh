#!/usr/bin/env bash
# safetensors against PyPI's safetensors (numpy API, ml_dtypes for bfloat16), from the venv of
# scripts/model_env.sh: files written by the library are read by restpg and compared with numpy's
# values, and restpg's writer output (single and sharded, F32 and BF16) is read back by the
# library (tests/safetensors_ref.py, tests/test_safetensors_ref.c). Also `restpg safetensors ls`
# against the library's own listing. Usage: safetensors_ref.sh path/to/test_safetensors_ref
set -euo pipefail
test_bin=$1
src="${RESTPG_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}"
py=$(RESTPG_NO_LLAMA=1 bash "$src/scripts/model_env.sh" | sed -n 's/^python=//p')
[ -n "$py" ] || { echo "safetensors_ref: model_env.sh gave no python" >&2; exit 1; }
T="${RESTPG_TEST_TMP:-/tmp}/safetensors_ref_$$"
rm -rf "$T"
trap 'rm -rf "$T"' EXIT
"$py" "$src/tests/safetensors_ref.py" write "$T"
"$test_bin" "$T"
"$py" "$src/tests/safetensors_ref.py" check "$T"
# The CLI lists what safe_open sees: the same names, dtypes and shapes, for a file and through an index.
for p in "$T/ref/all.safetensors" "$T/ref/sharded"; do
    "$RESTPG" safetensors ls "$p" >"$T/ls.jsonl"
    "$py" - "$p" "$T/ls.jsonl" <<'PY'
import json, os, sys
from safetensors import safe_open
path, listing = sys.argv[1], sys.argv[2]
files = [path] if not os.path.isdir(path) else sorted(
    os.path.join(path, f) for f in set(json.load(open(os.path.join(path, "model.safetensors.index.json")))["weight_map"].values()))
want = {}
for fn in files:
    with safe_open(fn, framework="numpy") as f:
        for k in f.keys():
            s = f.get_slice(k)
            want[k] = (s.get_dtype(), list(s.get_shape()), os.path.basename(fn))
got = {}
for line in open(listing, encoding="utf-8"):
    t = json.loads(line)
    got[t["name"]] = (t["dtype"], t["shape"], t["shard"])
assert got == want, f"{path}: restpg safetensors ls {got} != safe_open {want}"
print(f"safetensors_ref: ls {path}: {len(got)} tensors as safe_open lists them")
PY
done

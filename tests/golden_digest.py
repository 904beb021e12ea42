"""Digest of a `restpg run` directory for the refactor check (tests/refactor_golden.sh).

Prints one `relative/path sha256` line per output that must not change when code is refactored:
every HDF5 file (each dataset's dtype, shape and bytes, each attribute's value, walked in name
order), every JSON / JSON Lines file (parsed, with wall-clock fields dropped), config.yaml and
the tokenizer. The run directory's absolute path is replaced by RUN so two directories compare.
Plots, logs and progress markers are not outputs of the method and are skipped.
Usage: golden_digest.py RUN_DIR
"""
import hashlib
import json
import os
import sys

import h5py
import numpy as np

TIMING = ("tokens_per_s", "step_s", "elapsed_s", "seconds", "wall_s", "time_s")


def clean(v, root):
    if isinstance(v, dict):
        return {k: clean(x, root) for k, x in v.items() if not k.endswith(TIMING)}
    if isinstance(v, list):
        return [clean(x, root) for x in v]
    if isinstance(v, str):
        return v.replace(root, "RUN")
    return v


def h5_digest(path, root):
    h = hashlib.sha256()

    def attr_bytes(obj):
        for k in sorted(obj.attrs):
            v = obj.attrs[k]
            if isinstance(v, bytes):
                v = v.decode()
            if isinstance(v, str):
                v = v.replace(root, "RUN")
            h.update(k.encode() + repr(np.asarray(v).tolist()).encode())

    def visit(name, obj):
        h.update(name.encode())
        attr_bytes(obj)
        if isinstance(obj, h5py.Dataset):
            a = obj[()]
            if a.dtype.kind == "O":
                h.update(repr([x.replace(root.encode(), b"RUN") if isinstance(x, bytes) else x
                               for x in np.asarray(a).ravel().tolist()]).encode())
            else:
                h.update(str(a.dtype).encode() + str(a.shape).encode() + np.ascontiguousarray(a).tobytes())

    with h5py.File(path, "r") as f:
        attr_bytes(f)
        names = []
        f.visit(names.append)
        for n in sorted(names):
            visit(n, f[n])
    return h.hexdigest()


def main(run):
    root = os.path.abspath(run)
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for fn in sorted(files):
            p = os.path.join(dirpath, fn)
            rel = os.path.relpath(p, root)
            if rel.startswith(("plots/", "state/")) or fn.endswith((".done", ".log", ".png")):
                continue
            if fn.endswith(".h5"):
                d = h5_digest(p, root)
            elif fn.endswith(".jsonl"):
                rows = [clean(json.loads(l), root) for l in open(p) if l.strip()]
                d = hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()
            elif fn.endswith(".json"):
                d = hashlib.sha256(json.dumps(clean(json.load(open(p)), root), sort_keys=True).encode()).hexdigest()
            else:
                d = hashlib.sha256(open(p, "rb").read().replace(root.encode(), b"RUN")).hexdigest()
            print(rel, d)


main(sys.argv[1])

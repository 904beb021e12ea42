#!/usr/bin/python3
"""Exit 0 if two restpg samples files have equal content: every dataset (values, dtype and shape)
and every root attribute. Prints the first difference otherwise. Usage: samples_same.py A B"""
import sys

import h5py
import numpy as np


def items(f):
    out = {}
    f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if isinstance(obj, h5py.Dataset) else None)
    return out


def main(a, b):
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        attrs_a, attrs_b = dict(fa.attrs), dict(fb.attrs)
        if attrs_a.keys() != attrs_b.keys():
            return f"root attributes differ: {sorted(attrs_a)} vs {sorted(attrs_b)}"
        for k in attrs_a:
            if not np.array_equal(np.asarray(attrs_a[k]), np.asarray(attrs_b[k])):
                return f"attribute {k}: {attrs_a[k]!r} vs {attrs_b[k]!r}"
        da, db = items(fa), items(fb)
        if da.keys() != db.keys():
            return f"datasets differ: {sorted(da)} vs {sorted(db)}"
        for k in da:
            x, y = np.asarray(da[k]), np.asarray(db[k])
            if x.shape != y.shape or x.dtype != y.dtype or not np.array_equal(x, y):
                bad = "shape/dtype" if x.shape != y.shape or x.dtype != y.dtype else f"{int(np.sum(x != y))} entries"
                return f"dataset {k}: {bad} differ"
        if not da:
            return "no datasets"
    return None


if __name__ == "__main__":
    msg = main(sys.argv[1], sys.argv[2])
    if msg:
        print(f"{sys.argv[1]} vs {sys.argv[2]}: {msg}")
        sys.exit(1)

#!/usr/bin/env python3
"""The reference side of the safetensors tests (model/safetensors*.c), with PyPI's safetensors
(numpy API) and ml_dtypes for bfloat16, from the venv of scripts/model_env.sh.

  safetensors_ref.py write DIR   files written by safetensors.numpy.save_file under DIR/ref/ (F32,
                                 F16, BF16, scalars, empty tensors, odd shapes, non-ASCII names, the
                                 integer dtypes, a sharded directory with its index), and what the C
                                 test must find in them: DIR/manifest.jsonl (one line per file and
                                 per tensor) and each float tensor's values as numpy widens them to
                                 float32, raw little-endian, in DIR/expect/N.f32.
  safetensors_ref.py check DIR   reads what tests/test_safetensors.c wrote with restpg's writer
                                 (DIR/w/*: one F32 file, one BF16 file, F32 and BF16 shards) with
                                 safe_open(framework="numpy"), through the index when sharded, and
                                 compares with the fp32 inputs the C test dumped (DIR/w/inputs.jsonl):
                                 F32 bit for bit, BF16 equal to ml_dtypes' round-to-nearest-even.
  safetensors_ref.py corpus DIR  a few small seed files for the fuzz target (tests/fuzz/corpus/safetensors).
"""
import json
import os
import struct
import sys

import ml_dtypes
import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

BF16 = ml_dtypes.bfloat16
SPECIAL32 = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 3.4028235e38, -1.1754942e-38,
                      1.0, -2.5], np.float32)


def ref_tensors(rng):
    """Name -> array, in the order written; every float dtype, odd shapes, specials, names."""
    f16 = np.concatenate([np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 6e-8, -6e-8, 65504.0, 1e-5, 0.1],
                                   np.float16), rng.standard_normal(23).astype(np.float16)])
    bf16 = np.concatenate([SPECIAL32, rng.standard_normal(25).astype(np.float32) * 1e3]).astype(BF16)
    return {
        "f32.odd": (rng.standard_normal((3, 5, 7)) * 10).astype(np.float32),
        "f32.scalar": np.array(-2.5, np.float32),
        "f32.empty": np.zeros((0, 4), np.float32),
        "f32.empty3": np.zeros((2, 0, 3), np.float32),
        "f32.special": SPECIAL32.copy(),
        "f16.vals": f16,
        "f16.big": rng.standard_normal((17, 33)).astype(np.float16),
        "f16.empty": np.zeros((0,), np.float16),
        "bf16.vals": bf16.reshape(4, 9),
        "bf16.scalar": np.array(3.140625, BF16),
        "bf16.one": rng.standard_normal((1, 1, 1)).astype(BF16),
        "模型.层.0.权重": rng.standard_normal((2, 3)).astype(np.float32),
        "émoji.🙂": rng.standard_normal(5).astype(BF16),
        'quote"back\\slash/tab\t': rng.standard_normal((1, 1, 1, 1, 2)).astype(np.float16),
        "i64.ids": np.arange(-3, 4, dtype=np.int64),
        "i32.x": np.arange(6, dtype=np.int32).reshape(2, 3),
        "i16.x": np.arange(5, dtype=np.int16),
        "i8.x": np.arange(-2, 3, dtype=np.int8),
        "u8.mask": np.arange(9, dtype=np.uint8).reshape(3, 3),
        "bool.flags": np.array([True, False, True, True]),
        "f64.x": np.array([1.5, -2.25]),
    }


def dtype_name(a):
    return {"float32": "F32", "float16": "F16", "bfloat16": "BF16", "int64": "I64", "int32": "I32",
            "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL", "float64": "F64"}[a.dtype.name]


def write(root):
    rng = np.random.default_rng(7)
    os.makedirs(f"{root}/ref/sharded", exist_ok=True)
    os.makedirs(f"{root}/ref/single_dir", exist_ok=True)
    os.makedirs(f"{root}/expect", exist_ok=True)
    lines = []

    def record(path, files):
        """files: [(shard file name, {name: array})] -- what st_dir_open(path) must find."""
        tensors = [(shard, k, v) for shard, d in files for k, v in d.items()]
        lines.append({"kind": "file", "path": path, "count": len(tensors),
                      "metadata": meta_of(f"{root}/{path}", files)})
        for shard, name, a in tensors:
            ent = {"kind": "tensor", "path": path, "name": name, "dtype": dtype_name(a),
                   "shape": list(a.shape), "shard": shard, "expect": None}
            if a.dtype.name in ("float32", "float16", "bfloat16"):
                ent["expect"] = f"expect/{len(lines)}.f32"
                a.astype(np.float32).tofile(f"{root}/{ent['expect']}")
            lines.append(ent)

    def meta_of(full, files):
        if os.path.isdir(full) or full.endswith(".json"):
            return None  # the metadata of directories is checked per file above
        with safe_open(full, framework="numpy") as f:
            return f.metadata() or {}

    t = ref_tensors(rng)
    meta = {"format": "pt", "note": "ünïcode ✓"}
    save_file(t, f"{root}/ref/all.safetensors", metadata=meta)
    record("ref/all.safetensors", [("all.safetensors", t)])

    plain = {"w": rng.standard_normal((4, 4)).astype(np.float32)}
    save_file(plain, f"{root}/ref/no_metadata.safetensors")
    record("ref/no_metadata.safetensors", [("no_metadata.safetensors", plain)])

    save_file({}, f"{root}/ref/empty.safetensors", metadata={"format": "pt"})
    record("ref/empty.safetensors", [("empty.safetensors", {})])

    single = {"model.embed.weight": rng.standard_normal((6, 4)).astype(BF16)}
    save_file(single, f"{root}/ref/single_dir/model.safetensors", metadata={"format": "pt"})
    record("ref/single_dir", [("model.safetensors", single)])

    # A sharded directory as transformers' save_pretrained lays it out: shards plus the index
    # (json.dumps(indent=2, sort_keys=True)).
    shards = [{"layers.0.w": rng.standard_normal((3, 8)).astype(np.float32),
               "layers.0.b": rng.standard_normal(8).astype(np.float16)},
              {"layers.1.w": rng.standard_normal((8, 3)).astype(BF16),
               "ids": np.arange(4, dtype=np.int64)}]
    names = [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
    weight_map, total = {}, 0
    for name, d in zip(names, shards):
        save_file(d, f"{root}/ref/sharded/{name}", metadata={"format": "pt"})
        for k, v in d.items():
            weight_map[k] = name
            total += v.nbytes
    with open(f"{root}/ref/sharded/model.safetensors.index.json", "w") as f:
        f.write(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2,
                           sort_keys=True) + "\n")
    record("ref/sharded", list(zip(names, shards)))
    record("ref/sharded/model.safetensors.index.json", list(zip(names, shards)))

    with open(f"{root}/manifest.jsonl", "w") as f:
        for ln in lines:
            f.write(json.dumps(ln, ensure_ascii=False) + "\n")
    print(f"safetensors_ref: {sum(ln['kind'] == 'tensor' for ln in lines)} tensors in "
          f"{sum(ln['kind'] == 'file' for ln in lines)} files under {root}/ref")


def raw_header(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        text = f.read(n)
    return n, text, json.loads(text, object_pairs_hook=list)


def expected_split(inputs, nbytes, limit):
    """The documented greedy split (safetensors.h): in order; a tensor that would take the shard
    past the limit starts the next one; a tensor over the limit is alone in its shard."""
    shards, cur, used = [], [], 0
    for t in inputs:
        b = nbytes(t)
        if cur and (b > limit or used + b > limit):
            shards.append(cur)
            cur, used = [], 0
        cur.append(t["name"])
        used += b
        if b > limit:
            shards.append(cur)
            cur, used = [], 0
    if cur or not shards:
        shards.append(cur)
    return shards


def check(root):
    with open(f"{root}/w/inputs.jsonl") as f:
        inputs = [json.loads(ln) for ln in f]
    vals = {t["name"]: np.fromfile(f"{root}/{t['raw']}", np.float32).reshape(t["shape"]) for t in inputs}
    with open(f"{root}/w/outputs.jsonl") as f:
        outputs = [json.loads(ln) for ln in f]
    fails = 0
    for out in outputs:
        d, dtype, limit = f"{root}/{out['dir']}", out["dtype"], out["shard_bytes"]
        esize = 4 if dtype == "F32" else 2
        nbytes = lambda t: int(np.prod(t["shape"], dtype=np.int64)) * esize  # noqa: E731
        split = expected_split(inputs, nbytes, limit) if limit else [[t["name"] for t in inputs]]
        index = f"{d}/model.safetensors.index.json"
        if len(split) == 1:
            files = {"model.safetensors": split[0]}
            assert not os.path.exists(index), f"{d}: an index for a single file"
        else:
            files = {f"model-{i + 1:05d}-of-{len(split):05d}.safetensors": s for i, s in enumerate(split)}
            with open(index) as f:
                idx = json.load(f)
            want_map = {name: fn for fn, names in files.items() for name in names}
            assert idx["weight_map"] == want_map, f"{index}: weight_map {idx['weight_map']} != {want_map}"
            assert idx["metadata"]["total_size"] == sum(nbytes(t) for t in inputs), f"{index}: total_size"
        assert sorted(os.listdir(d)) == sorted(list(files) + ([] if len(split) == 1 else
                                                              ["model.safetensors.index.json"])), \
            f"{d}: holds {sorted(os.listdir(d))}"
        for fn, names in files.items():
            path = f"{d}/{fn}"
            n, text, header = raw_header(path)
            assert n % 8 == 0 and text == text.rstrip(b" ") + b" " * (n - len(text.rstrip(b" "))), \
                f"{path}: header of {n} bytes not space-padded to a multiple of 8"
            assert [k for k, _ in header] == ["__metadata__"] + names, f"{path}: header order {header}"
            with safe_open(path, framework="numpy") as f:
                assert f.metadata() == {"format": "pt"}, f"{path}: metadata {f.metadata()}"
                assert list(f.keys()) == sorted(names), f"{path}: keys {list(f.keys())}"
                for name in names:
                    got, x = f.get_tensor(name), vals[name]
                    assert got.shape == x.shape, f"{path}: {name}: shape {got.shape} != {x.shape}"
                    if dtype == "F32":
                        ok = got.dtype == np.float32 and np.array_equal(got.view(np.uint32), x.view(np.uint32))
                    else:
                        want = x.astype(BF16)  # ml_dtypes: round to nearest even, NaN stays NaN
                        ok = got.dtype == BF16 and np.array_equal(got.view(np.uint16), want.view(np.uint16))
                    if not ok:
                        fails += 1
                        print(f"FAIL {path}: {name}: values differ from the fp32 inputs ({dtype})")
        print(f"safetensors_ref: {out['dir']}: {dtype}, {len(files)} file(s), {len(inputs)} tensors checked")
    if fails:
        sys.exit(1)


def corpus(d):
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(1)
    save_file({"a": rng.standard_normal((2, 3)).astype(np.float32), "b": np.arange(3, dtype=np.float16),
               "c": np.array(1.5, BF16), "d": np.zeros((0, 2), np.float32), "i": np.arange(2, dtype=np.int64)},
              f"{d}/mixed.safetensors", metadata={"format": "pt"})
    save_file({}, f"{d}/empty.safetensors")
    save_file({"ü": np.ones(1, np.float32)}, f"{d}/unicode.safetensors", metadata={"k": "v"})
    with open(f"{d}/index.json", "w") as f:
        json.dump({"metadata": {"total_size": 4}, "weight_map": {"x": "model-00001-of-00001.safetensors"}}, f)


if __name__ == "__main__":
    cmd, root = sys.argv[1], sys.argv[2]
    with np.errstate(invalid="ignore", over="ignore"):  # NaN and overflowing casts are on purpose
        {"write": write, "check": check, "corpus": corpus}[cmd](root)

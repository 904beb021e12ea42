#!/usr/bin/env python3
"""The gguf-py side of the GGUF reader's tests (model/gguf.c, tests/test_gguf.c).

  make_gguf.py files DIR     writes small GGUF files with gguf-py's GGUFWriter (every metadata
                             value type, tensors of every type the reader dequantizes), and next to
                             them what gguf-py's own GGUFReader and gguf.quants.dequantize make of
                             them: DIR/tensors.txt (one line per tensor: file name type n_dims
                             ne0..ne3 n_elems n_bytes absolute_data_offset) and DIR/ref/FILE.NAME.f32
                             (the dequantized values, little-endian float32, ne[0] fastest).
  make_gguf.py stream MODEL  writes to stdout, for every tensor of MODEL in file order:
                             u32 name length, name, u64 element count, float32 values from
                             gguf.quants.dequantize; `test_gguf --real MODEL` compares them bitwise.

The metadata values here are repeated in tests/test_gguf.c, which checks the C reader finds them.
Quantized tensors come two ways: quantized by gguf-py itself (BF16, Q8_0, Q5_0), and as random
bytes with random finite fp16 scales (all types; the only way for K-quants, which gguf-py cannot
quantize), so every bit pattern of the quants and every class of fp16 scale (normal, subnormal,
zero, negative) is exercised."""
import os
import struct
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q
from gguf import GGUFValueType as V

BLOCK = {Q.Q5_0: (32, 22), Q.Q8_0: (32, 34), Q.Q4_K: (256, 144), Q.Q5_K: (256, 176), Q.Q6_K: (256, 210)}
SCALE_OFFSETS = {Q.Q5_0: (0,), Q.Q8_0: (0,), Q.Q4_K: (0, 2), Q.Q5_K: (0, 2), Q.Q6_K: (208,)}


def random_blocks(rng, qtype, shape):
    """Raw random blocks with finite random fp16 scales for a tensor of numpy shape `shape`."""
    elems, nbytes = BLOCK[qtype]
    n_blocks = int(np.prod(shape)) // elems
    blocks = rng.integers(0, 256, size=(n_blocks, nbytes), dtype=np.uint8)
    for off in SCALE_OFFSETS[qtype]:
        half = rng.integers(0, 1 << 16, size=n_blocks, dtype=np.uint16)
        half[(half & 0x7C00) == 0x7C00] &= 0xBFFF  # exponent all ones (inf/NaN) -> finite
        blocks[:, off:off + 2] = half.astype("<u2").view(np.uint8).reshape(n_blocks, 2)
    return blocks.reshape(*shape[:-1], shape[-1] // elems * nbytes)


def add_metadata(w):
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_float32("test.f32", 3.25)
    w.add_bool("test.bool", True)
    w.add_string("test.str", "h\u00e9llo w\u00f6rld")
    w.add_key_value("test.empty", "", V.STRING)  # add_string skips empty strings
    w.add_uint64("test.u64", 2**63 + 5)
    w.add_int64("test.i64", -(2**62))
    w.add_float64("test.f64", -1.0 / 3.0)
    arrays = [
        ("u8", V.UINT8, [1, 2, 255]), ("i8", V.INT8, [-128, 0, 127]),
        ("u16", V.UINT16, [0, 65535]), ("i16", V.INT16, [-32768, 32767, 5]),
        ("u32", V.UINT32, [7, 4294967295]), ("i32", V.INT32, [-1, 7, 2147483647]),
        ("f32", V.FLOAT32, [0.5, -2.0, 1e-3]), ("bool", V.BOOL, [True, False, True]),
        ("u64", V.UINT64, [2**64 - 1, 0]), ("i64", V.INT64, [-(2**63), 2**63 - 1]),
        ("f64", V.FLOAT64, [1e300, -0.1]),
        ("str", V.STRING, ["a", "", "\u00fcn\u00efcode", "tab\tnl\n"]),
        ("tokens", V.STRING, ["tok%d" % i for i in range(1000)]),
    ]
    for name, sub, val in arrays:
        w.add_key_value("test.arr_" + name, val, V.ARRAY, sub_type=sub)


def tensors_all(rng):
    """(name, array, raw_dtype): the tensors of all.gguf."""
    f16 = rng.standard_normal((4, 8)).astype(np.float16)
    f16.flat[:4] = [np.float16(-0.0), np.float16(6e-8), np.float16(65504), np.float16("inf")]
    bf16_src = (rng.standard_normal((2, 16)) * 10.0 ** rng.integers(-40, 38, (2, 16))).astype(np.float32)
    q_src = rng.standard_normal((5, 64)).astype(np.float32) * 3
    return [
        ("t.f32", rng.standard_normal((3, 5)).astype(np.float32), None),
        ("t.vec", rng.standard_normal(7).astype(np.float32), None),
        ("t.f16", f16, None),
        ("t.bf16", gguf.quants.quantize(bf16_src, Q.BF16), Q.BF16),
        ("t.q8_0", gguf.quants.quantize(q_src, Q.Q8_0), Q.Q8_0),
        ("t.q8_0.raw", random_blocks(rng, Q.Q8_0, (4, 256)), Q.Q8_0),
        ("t.q5_0", gguf.quants.quantize(q_src, Q.Q5_0), Q.Q5_0),
        ("t.q5_0.raw", random_blocks(rng, Q.Q5_0, (6, 128)), Q.Q5_0),
        ("t.q4_k", random_blocks(rng, Q.Q4_K, (16, 512)), Q.Q4_K),
        ("t.q5_k", random_blocks(rng, Q.Q5_K, (3, 2, 256)), Q.Q5_K),
        ("t.q6_k", random_blocks(rng, Q.Q6_K, (2, 2, 3, 256)), Q.Q6_K),
    ]


def tensors_align64(rng):
    return [
        ("odd.a", rng.standard_normal(3).astype(np.float32), None),
        ("odd.b", random_blocks(rng, Q.Q6_K, (1, 256)), Q.Q6_K),
        ("odd.c", rng.standard_normal((1, 5)).astype(np.float16), None),
    ]


def write(path, tensors, alignment=None, metadata=False):
    w = gguf.GGUFWriter(path, "testarch")
    if alignment:
        w.add_custom_alignment(alignment)
    if metadata:
        add_metadata(w)
    for name, arr, raw in tensors:
        w.add_tensor(name, arr, raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def reference(path, out_dir, listing):
    """What gguf-py's reader and dequantizer make of path: tensors.txt lines and .f32 files."""
    fname = os.path.basename(path)
    for t in gguf.GGUFReader(path).tensors:
        ne = [int(d) for d in t.shape] + [1] * (4 - len(t.shape))
        listing.write("%s %s %d %d %d %d %d %d %d %d %d\n" % (
            fname, t.name, int(t.tensor_type), len(t.shape), *ne, t.n_elements, t.n_bytes, t.data_offset))
        values = gguf.quants.dequantize(t.data, t.tensor_type).astype("<f4", copy=False)
        assert values.size == t.n_elements
        values.tofile(os.path.join(out_dir, "ref", "%s.%s.f32" % (fname, t.name)))


def files(out_dir):
    os.makedirs(os.path.join(out_dir, "ref"), exist_ok=True)
    rng = np.random.default_rng(20250311)
    written = [("all.gguf", tensors_all(rng), None, True),
               ("align64.gguf", tensors_align64(rng), 64, False)]
    with open(os.path.join(out_dir, "tensors.txt.tmp"), "w") as listing:
        for name, tensors, alignment, metadata in written:
            path = os.path.join(out_dir, name)
            write(path, tensors, alignment, metadata)
            reference(path, out_dir, listing)
    os.replace(os.path.join(out_dir, "tensors.txt.tmp"), os.path.join(out_dir, "tensors.txt"))
    print("make_gguf: wrote %d files to %s" % (len(written), out_dir))


def stream(model):
    out = sys.stdout.buffer
    for t in gguf.GGUFReader(model).tensors:
        values = np.ascontiguousarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype="<f4")
        name = t.name.encode()
        out.write(struct.pack("<I", len(name)) + name + struct.pack("<Q", values.size))
        out.write(memoryview(values).cast("B"))
    out.flush()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("files", "stream"):
        sys.exit("usage: make_gguf.py files DIR | stream MODEL.gguf")
    files(sys.argv[2]) if sys.argv[1] == "files" else stream(sys.argv[2])

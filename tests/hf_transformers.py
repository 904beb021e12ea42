"""transformers' own model (4.46.3, on Debian's torch 1.13) on a Hugging Face directory of
tests/hf_dir_ref.py, against restpg's logits of its batch (tests/test_hf_dir writes them as
float32 [B*T, V]): max |diff| <= 1e-4 * max |logit| in float64, else exit 1.

usage: hf_transformers.py DIR LOGITS"""
import struct
import sys

import numpy as np
import torch
from transformers import AutoModelForCausalLM


def main(d, logits_path):
    raw = open(d + "/batch.bin", "rb").read()
    b, t = struct.unpack_from("<2i", raw, 0)
    ids = torch.tensor(np.frombuffer(raw, "<i4", b * t, 8).reshape(b, t).astype(np.int64))
    model = AutoModelForCausalLM.from_pretrained(d, torch_dtype=torch.float64, attn_implementation="eager")
    model.eval()
    with torch.no_grad():
        ref = model(ids).logits.reshape(b * t, -1).numpy()
    ours = np.fromfile(logits_path, dtype="<f4").reshape(b * t, -1).astype(np.float64)
    if ours.shape != ref.shape:
        sys.exit("hf_transformers: shapes %s vs transformers' %s" % (ours.shape, ref.shape))
    err = np.abs(ours - ref).max() / np.abs(ref).max()
    print("hf_transformers %s: %s logits, max |diff| %.2g of max |logit| %.3g"
          % (model.config.model_type, ref.shape, err, np.abs(ref).max()))
    if err > 1e-4:
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])

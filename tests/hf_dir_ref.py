"""Hugging Face directories for tests/hf_dir.sh, and the PyTorch check of what restpg computes
from them.

  hf_dir_ref.py make DIR VARIANT SEED   writes a tiny random model of VARIANT (llama, qwen2, qwen3,
      gemma3) as Hugging Face stores it: config.json with the published key names, weights with
      PyPI's safetensors (qwen2 in bfloat16, qwen3 in two shards with an index, the others fp32),
      generation_config.json, and batch.bin (int32 B, T, inputs[B*T], targets[B*T]; float32
      mask[B*T]) for the C side.
  hf_dir_ref.py check DIR GRADS LOSS    reads the weights back (exactly: bf16 widens exactly),
      computes the masked mean cross-entropy of batch.bin and every gradient in float64 with the
      family reference of tests/llama_ref.py (PyTorch, written from the published descriptions),
      and compares them with restpg's loss (the float in file LOSS) and gradients (safetensors
      file GRADS, Hugging Face names). Tolerances: loss 1e-5 relative; each gradient tensor
      max |diff| <= 1e-4 * max |reference|. Prints the worst errors; exit 1 beyond them.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
from safetensors.numpy import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref  # noqa: E402

f64 = torch.float64
V, C, I, L, NH = 300, 64, 96, 3, 4
B, T = 2, 37

VARIANTS = {
    # switches as llama_ref reads them, plus what config.json says
    "llama": dict(NKV=2, hd=16, tie=0, qkv_bias=0, qk_norm=0, post_norms=0, act=1, offset=0.0, scale_embeddings=0,
                  theta=5e5, eps=1e-5, scaling=2, factor=8.0, low=1.0, high=4.0, orig=16, window=0, pattern=1,
                  qpas=0.0, theta_local=5e5),
    "qwen2": dict(NKV=2, hd=16, tie=1, qkv_bias=1, qk_norm=0, post_norms=0, act=1, offset=0.0, scale_embeddings=0,
                  theta=1e6, eps=1e-6, scaling=0, factor=1.0, low=1.0, high=1.0, orig=1, window=0, pattern=1,
                  qpas=0.0, theta_local=1e6),
    "qwen3": dict(NKV=2, hd=24, tie=0, qkv_bias=0, qk_norm=1, post_norms=0, act=1, offset=0.0, scale_embeddings=0,
                  theta=1e6, eps=1e-6, scaling=0, factor=1.0, low=1.0, high=1.0, orig=1, window=0, pattern=1,
                  qpas=0.0, theta_local=1e6),
    "gemma3": dict(NKV=1, hd=32, tie=1, qkv_bias=0, qk_norm=1, post_norms=1, act=0, offset=1.0, scale_embeddings=1,
                   theta=1e6, eps=1e-6, scaling=0, factor=1.0, low=1.0, high=1.0, orig=1, window=8, pattern=3,
                   qpas=32.0, theta_local=1e4),
}


def config_json(variant, h):
    common = {"vocab_size": V, "hidden_size": C, "intermediate_size": I, "num_hidden_layers": L,
              "num_attention_heads": NH, "num_key_value_heads": h["NKV"], "max_position_embeddings": 64,
              "rms_norm_eps": h["eps"], "rope_theta": h["theta"], "tie_word_embeddings": bool(h["tie"]),
              "torch_dtype": "float32", "bos_token_id": 1, "eos_token_id": 2, "initializer_range": 0.02,
              "use_cache": True, "transformers_version": "4.55.0"}
    if variant == "llama":
        return dict(common, architectures=["LlamaForCausalLM"], model_type="llama", head_dim=h["hd"],
                    hidden_act="silu", attention_bias=False, mlp_bias=False, pretraining_tp=1,
                    rope_scaling={"rope_type": "llama3", "factor": h["factor"], "low_freq_factor": h["low"],
                                  "high_freq_factor": h["high"], "original_max_position_embeddings": h["orig"]})
    if variant == "qwen2":  # Qwen2 configs have no head_dim: hidden_size / num_attention_heads
        return dict(common, architectures=["Qwen2ForCausalLM"], model_type="qwen2", hidden_act="silu",
                    use_sliding_window=False, sliding_window=64, max_window_layers=L, torch_dtype="bfloat16")
    if variant == "qwen3":
        return dict(common, architectures=["Qwen3ForCausalLM"], model_type="qwen3", head_dim=h["hd"],
                    hidden_act="silu", attention_bias=False, use_sliding_window=False, sliding_window=None,
                    rope_scaling=None)
    layer_types = ["full_attention" if (l + 1) % h["pattern"] == 0 else "sliding_attention" for l in range(L)]
    return dict(common, architectures=["Gemma3ForCausalLM"], model_type="gemma3_text", head_dim=h["hd"],
                hidden_activation="gelu_pytorch_tanh", sliding_window=h["window"], layer_types=layer_types,
                query_pre_attn_scalar=h["qpas"], rope_local_base_freq=h["theta_local"], rope_scaling=None,
                final_logit_softcapping=None, attn_logit_softcapping=None, attention_bias=False)


def hf_names(h):
    """(HF name, shape) of every tensor, and (llama_ref name, layer or None) it maps to."""
    Q, KV = NH * h["hd"], h["NKV"] * h["hd"]
    out = [("model.embed_tokens.weight", (V, C), "token_embd", None)]
    per = [("input_layernorm.weight", (C,), "attn_norm", 1), ("self_attn.q_proj.weight", (Q, C), "attn_q", 1),
           ("self_attn.q_proj.bias", (Q,), "attn_q_b", h["qkv_bias"]), ("self_attn.k_proj.weight", (KV, C), "attn_k", 1),
           ("self_attn.k_proj.bias", (KV,), "attn_k_b", h["qkv_bias"]),
           ("self_attn.v_proj.weight", (KV, C), "attn_v", 1), ("self_attn.v_proj.bias", (KV,), "attn_v_b", h["qkv_bias"]),
           ("self_attn.q_norm.weight", (h["hd"],), "attn_q_norm", h["qk_norm"]),
           ("self_attn.k_norm.weight", (h["hd"],), "attn_k_norm", h["qk_norm"]),
           ("self_attn.o_proj.weight", (C, Q), "attn_output", 1),
           ("post_attention_layernorm.weight", (C,), "post_attention_norm" if h["post_norms"] else "ffn_norm", 1),
           ("pre_feedforward_layernorm.weight", (C,), "ffn_norm", h["post_norms"]),
           ("mlp.gate_proj.weight", (I, C), "ffn_gate", 1), ("mlp.up_proj.weight", (I, C), "ffn_up", 1),
           ("mlp.down_proj.weight", (C, I), "ffn_down", 1),
           ("post_feedforward_layernorm.weight", (C,), "post_ffw_norm", h["post_norms"])]
    for l in range(L):
        out += [("model.layers.%d.%s" % (l, n), s, r, l) for n, s, r, on in per if on]
    out.append(("model.norm.weight", (C,), "output_norm", None))
    if not h["tie"]:
        out.append(("lm_head.weight", (V, C), "output", None))
    return out


def make(d, variant, seed):
    h = dict(VARIANTS[variant])
    rng = np.random.default_rng(seed)
    os.makedirs(d, exist_ok=True)
    tensors = {}
    for name, shape, ref, _ in hf_names(h):
        if ref.endswith("norm"):  # Llama norms scale by w (near 1), Gemma's by 1 + w (near 0)
            a = (1.0 - h["offset"]) + 0.2 * rng.standard_normal(shape)
        elif ref.endswith("_b"):
            a = 0.1 * rng.standard_normal(shape)
        elif ref in ("token_embd", "output"):
            a = 0.5 * rng.standard_normal(shape)
        else:
            a = rng.standard_normal(shape) / math.sqrt(shape[-1])
        tensors[name] = a.astype(np.float32)
    json.dump(config_json(variant, h), open(os.path.join(d, "config.json"), "w"), indent=2)
    json.dump({"bos_token_id": 1, "eos_token_id": 2}, open(os.path.join(d, "generation_config.json"), "w"))
    if variant == "qwen2":
        import ml_dtypes
        save_file({k: v.astype(ml_dtypes.bfloat16) for k, v in tensors.items()}, os.path.join(d, "model.safetensors"),
                  metadata={"format": "pt"})
    elif variant == "qwen3":
        names = sorted(tensors)
        half = len(names) // 2
        parts = [names[:half], names[half:]]
        wm = {}
        for i, part in enumerate(parts):
            fn = "model-%05d-of-%05d.safetensors" % (i + 1, len(parts))
            save_file({k: tensors[k] for k in part}, os.path.join(d, fn), metadata={"format": "pt"})
            wm.update({k: fn for k in part})
        json.dump({"metadata": {"total_size": sum(t.nbytes for t in tensors.values())}, "weight_map": wm},
                  open(os.path.join(d, "model.safetensors.index.json"), "w"))
    else:
        save_file(tensors, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    ids = rng.integers(0, V, size=(B, T)).astype(np.int32)
    tgt = rng.integers(0, V, size=(B, T)).astype(np.int32)
    mask = rng.choice(np.array([0.0, 0.5, 1.0], dtype=np.float32), size=(B, T))
    mask[0, 0] = 1.0
    with open(os.path.join(d, "batch.bin"), "wb") as f:
        f.write(struct.pack("<2i", B, T) + ids.tobytes() + tgt.tobytes() + mask.tobytes())


def read_weights(d):
    import ml_dtypes  # noqa: F401  (registers numpy's bfloat16 for the bf16 files)
    idx = os.path.join(d, "model.safetensors.index.json")
    files = sorted(set(json.load(open(idx))["weight_map"].values())) if os.path.exists(idx) else ["model.safetensors"]
    out = {}
    for fn in files:
        for k, v in load_file(os.path.join(d, fn)).items():
            out[k] = v.astype(np.float64)  # bf16 -> float64 is exact
    return out


def check(d, grads_path, loss_path, variant):
    h = dict(VARIANTS[variant], V=V, Vp=V, C=C, I=I, L=L, NH=NH)
    w = read_weights(d)
    names = hf_names(h)
    # llama_ref's stacked tensors, built from the HF slices so autograd gives per-slice grads.
    leaves = {name: torch.tensor(w[name], dtype=f64, requires_grad=True) for name, _, _, _ in names}
    stacked = {}
    for name, _, ref, layer in names:
        if layer is None:
            stacked[ref] = leaves[name]
        else:
            stacked.setdefault(ref, [None] * L)[layer] = leaves[name]
    p = {k: (torch.stack(v) if isinstance(v, list) else v) for k, v in stacked.items()}
    raw = open(os.path.join(d, "batch.bin"), "rb").read()
    b, t = struct.unpack_from("<2i", raw, 0)
    ids = np.frombuffer(raw, "<i4", b * t, 8).reshape(b, t).astype(np.int64)
    tgt = np.frombuffer(raw, "<i4", b * t, 8 + 4 * b * t).reshape(b, t).astype(np.int64)
    mask = torch.tensor(np.frombuffer(raw, "<f4", b * t, 8 + 8 * b * t).reshape(b, t).astype(np.float64))
    logits = llama_ref.forward(p, torch.tensor(ids), h)
    tok = torch.nn.functional.cross_entropy(logits.reshape(b * t, V), torch.tensor(tgt).reshape(-1), reduction="none")
    loss = (mask.reshape(-1) * tok).sum() / mask.sum()
    loss.backward()
    ours = float(open(loss_path).read())
    rel = abs(ours - loss.item()) / abs(loss.item())
    g = load_file(grads_path)
    worst, worst_name, bad = 0.0, "", []
    for name, shape, _, _ in names:
        ref = leaves[name].grad.numpy()
        if name not in g or g[name].shape != ref.shape:
            bad.append("%s: missing or shaped %s" % (name, None if name not in g else g[name].shape))
            continue
        err = np.abs(g[name].astype(np.float64) - ref).max() / max(np.abs(ref).max(), 1e-30)
        if err > worst:
            worst, worst_name = err, name
        if err > 1e-4:
            bad.append("%s: max |diff| %.3g of max |ref|" % (name, err))
    extra = sorted(set(g) - {n for n, _, _, _ in names})
    print("hf_dir %s: loss %.9f (reference %.9f, rel %.2g); worst gradient %s at %.2g of max |ref|; %d tensors"
          % (variant, ours, loss.item(), rel, worst_name, worst, len(names)))
    if rel > 1e-5 or bad or extra:
        sys.exit("hf_dir %s: FAIL: loss rel %.3g; %s; extra %s" % (variant, rel, "; ".join(bad), extra))


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "make":
        make(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) == 6 and sys.argv[1] == "check":
        check(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    else:
        sys.exit(__doc__)

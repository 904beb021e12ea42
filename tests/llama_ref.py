"""Independent float64 PyTorch implementation of the Llama family's text models (Hugging Face's
LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM and Gemma3ForCausalLM, written from their
published descriptions, without transformers) for tests/test_llama.c: reads a case file the C
test wrote (config and switches, parameters in model/llama.h's layout, a batch with targets and a
loss mask), computes the masked mean cross-entropy and every parameter gradient by autograd, and
writes them back.

usage: llama_ref.py CASE.bin OUT.bin

CASE.bin (little endian): int32[24] = magic 0x4c4c4d41, version 2, V, Vp, C, I, L, NH, NKV, hd,
sliding_window (0: none), sliding_window_pattern, B, T, post_norms, qk_norm, qkv_bias,
tie_word_embeddings, hidden_act (0 gelu_tanh, 1 silu), scale_embeddings, rope_scaling (0 none,
1 linear, 2 llama3), rope original_max_position_embeddings, 0, 0; float64[8] =
query_pre_attn_scalar (0: head_dim), rms_norm_eps, rope_theta, rope_local_base_freq,
norm_offset, rope factor, low_freq_factor, high_freq_factor; float32 parameters (the tensors
the switches enable, in the table order of model/llama.h); int32 inputs[B*T]; int32
targets[B*T]; float32 mask[B*T].
OUT.bin: float64 loss, float64 token losses[B*T], float64 gradients in the parameter layout."""
import math
import struct
import sys

import numpy as np
import torch

f64 = torch.float64
MAGIC = 0x4C4C4D41


def rmsnorm(x, w, eps, offset):
    """Llama's RMSNorm scales by w; Gemma's by (1 + w) (offset 1)."""
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * (offset + w)


def inv_freq(hd, theta, scaling, factor, low, high, orig):
    """RoPE inverse frequencies: theta^(-2i/hd); linear scaling divides them by factor; Llama 3.1
    keeps wavelengths below orig/high, divides those above orig/low by factor and interpolates
    with smooth = (orig / wavelength - low) / (high - low) between."""
    f = 1.0 / theta ** (torch.arange(0, hd, 2, dtype=f64) / hd)
    if scaling == 1:
        return f / factor
    if scaling == 2:
        wavelen = 2 * math.pi / f
        smooth = (orig / wavelen - low) / (high - low)
        mid = (1 - smooth) * f / factor + smooth * f
        f = torch.where(wavelen > orig / low, f / factor, torch.where(wavelen < orig / high, f, mid))
    return f


def rope(x, inv):
    """x [B, H, T, hd]; rotate-half with positions 0..T-1."""
    T, hd = x.shape[-2], x.shape[-1]
    ang = torch.arange(T, dtype=f64)[:, None] * inv[None, :]
    emb = torch.cat([ang, ang], -1)
    rot = torch.cat([-x[..., hd // 2:], x[..., : hd // 2]], -1)
    return x * emb.cos() + rot * emb.sin()


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def silu(x):
    return x * torch.sigmoid(x)


def shapes(h):
    """The tensors the switches enable, in the table order of model/llama.h."""
    V, Vp, C, I, L, NH, NKV, hd = h["V"], h["Vp"], h["C"], h["I"], h["L"], h["NH"], h["NKV"], h["hd"]
    Q, KV = NH * hd, NKV * hd
    t = [("token_embd", (Vp, C), 1), ("attn_norm", (L, C), 1), ("attn_q", (L, Q, C), 1),
         ("attn_q_b", (L, Q), h["qkv_bias"]), ("attn_k", (L, KV, C), 1), ("attn_k_b", (L, KV), h["qkv_bias"]),
         ("attn_v", (L, KV, C), 1), ("attn_v_b", (L, KV), h["qkv_bias"]), ("attn_q_norm", (L, hd), h["qk_norm"]),
         ("attn_k_norm", (L, hd), h["qk_norm"]), ("attn_output", (L, C, Q), 1),
         ("post_attention_norm", (L, C), h["post_norms"]), ("ffn_norm", (L, C), 1), ("ffn_gate", (L, I, C), 1),
         ("ffn_up", (L, I, C), 1), ("ffn_down", (L, C, I), 1), ("post_ffw_norm", (L, C), h["post_norms"]),
         ("output_norm", (C,), 1), ("output", (Vp, C), not h["tie"])]
    return [(name, shape) for name, shape, on in t if on]


def forward(p, ids, h):
    V, C, L, NH, NKV, hd = h["V"], h["C"], h["L"], h["NH"], h["NKV"], h["hd"]
    eps, off = h["eps"], h["offset"]
    B, T = ids.shape
    x = p["token_embd"][:V][ids]
    if h["scale_embeddings"]:
        x = x * torch.tensor(math.sqrt(C), dtype=torch.float32).item()  # HF rounds the normaliser to fp32
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    inv_global = inv_freq(hd, h["theta"], h["scaling"], h["factor"], h["low"], h["high"], h["orig"])
    inv_local = inv_freq(hd, h["theta_local"], 0, 1, 1, 1, 1)
    scale = (h["qpas"] if h["qpas"] > 0 else hd) ** -0.5
    for l in range(L):
        is_global = h["window"] == 0 or (l + 1) % h["pattern"] == 0
        visible = (j <= i) if is_global else (j <= i) & (i - j < h["window"])
        a = rmsnorm(x, p["attn_norm"][l], eps, off)
        q, k, v = a @ p["attn_q"][l].T, a @ p["attn_k"][l].T, a @ p["attn_v"][l].T
        if h["qkv_bias"]:
            q, k, v = q + p["attn_q_b"][l], k + p["attn_k_b"][l], v + p["attn_v_b"][l]
        q = q.view(B, T, NH, hd).transpose(1, 2)
        k = k.view(B, T, NKV, hd).transpose(1, 2)
        v = v.view(B, T, NKV, hd).transpose(1, 2)
        if h["qk_norm"]:
            q = rmsnorm(q, p["attn_q_norm"][l], eps, off)
            k = rmsnorm(k, p["attn_k_norm"][l], eps, off)
        q, k = rope(q, inv_global if is_global else inv_local), rope(k, inv_global if is_global else inv_local)
        k = k.repeat_interleave(NH // NKV, dim=1)
        v = v.repeat_interleave(NH // NKV, dim=1)
        s = (q @ k.transpose(-1, -2)) * scale
        s = s.masked_fill(~visible, float("-inf"))
        o = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, NH * hd) @ p["attn_output"][l].T
        x = x + (rmsnorm(o, p["post_attention_norm"][l], eps, off) if h["post_norms"] else o)
        a = rmsnorm(x, p["ffn_norm"][l], eps, off)
        act = silu if h["act"] == 1 else gelu_tanh
        m = (act(a @ p["ffn_gate"][l].T) * (a @ p["ffn_up"][l].T)) @ p["ffn_down"][l].T
        x = x + (rmsnorm(m, p["post_ffw_norm"][l], eps, off) if h["post_norms"] else m)
    x = rmsnorm(x, p["output_norm"], eps, off)
    return x @ p["token_embd" if h["tie"] else "output"][:V].T


def main(case_path, out_path):
    raw = open(case_path, "rb").read()
    head = struct.unpack_from("<24i", raw, 0)
    if head[0] != MAGIC or head[1] != 2:
        sys.exit("%s: not a llama-family test case (magic/version)" % case_path)
    keys = ["V", "Vp", "C", "I", "L", "NH", "NKV", "hd", "window", "pattern", "B", "T", "post_norms", "qk_norm",
            "qkv_bias", "tie", "act", "scale_embeddings", "scaling", "orig"]
    h = dict(zip(keys, head[2:22]))
    fkeys = ["qpas", "eps", "theta", "theta_local", "offset", "factor", "low", "high"]
    h.update(zip(fkeys, struct.unpack_from("<8d", raw, 96)))
    B, T = h["B"], h["T"]
    off = 96 + 64
    params = {}
    for name, shape in shapes(h):
        n = int(np.prod(shape))
        a = np.frombuffer(raw, dtype="<f4", count=n, offset=off).astype(np.float64).reshape(shape)
        params[name] = torch.tensor(a, dtype=f64, requires_grad=True)
        off += 4 * n
    ids = torch.tensor(np.frombuffer(raw, dtype="<i4", count=B * T, offset=off).reshape(B, T).astype(np.int64))
    off += 4 * B * T
    tgt = np.frombuffer(raw, dtype="<i4", count=B * T, offset=off).reshape(B, T).astype(np.int64)
    off += 4 * B * T
    mask = torch.tensor(np.frombuffer(raw, dtype="<f4", count=B * T, offset=off).reshape(B, T).astype(np.float64))
    # Unmasked targets may be placeholders: any valid id gives them weight 0.
    tgt = torch.tensor(np.where(mask.numpy() != 0, tgt, 0))
    logits = forward(params, ids, h)
    token_loss = torch.nn.functional.cross_entropy(logits.reshape(B * T, h["V"]), tgt.reshape(-1), reduction="none")
    token_loss = token_loss * (mask.reshape(-1) != 0)
    loss = (mask.reshape(-1) * token_loss).sum() / mask.sum()
    loss.backward()
    with open(out_path, "wb") as f:
        f.write(struct.pack("<d", loss.item()))
        f.write(token_loss.detach().numpy().astype("<f8").tobytes())
        for name, _ in shapes(h):
            f.write(params[name].grad.numpy().astype("<f8").tobytes())


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])

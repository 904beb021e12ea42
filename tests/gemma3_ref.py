"""Independent float64 PyTorch implementation of the Gemma 3 text model (Hugging Face's
Gemma3ForCausalLM, written from its description, without transformers) for tests/test_gemma3.c:
reads a case file the C test wrote (config, parameters in model/gemma3.h's layout, a batch with
targets and a loss mask), computes the masked mean cross-entropy and every parameter gradient by
autograd, and writes them back.

usage: gemma3_ref.py CASE.bin OUT.bin

CASE.bin (little endian): int32[16] = magic 0x31334d47, version 1, V, Vp, C, I, L, NH, NKV, hd,
sliding_window, sliding_window_pattern, B, T, 0, 0; float64[4] = query_pre_attn_scalar,
rms_norm_eps, rope_theta, rope_local_base_freq; float32 parameters (15 tensors in order);
int32 inputs[B*T]; int32 targets[B*T]; float32 mask[B*T].
OUT.bin: float64 loss, float64 token losses[B*T], float64 gradients in the parameter layout."""
import math
import struct
import sys

import numpy as np
import torch

f64 = torch.float64


def rmsnorm(x, w, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * (1.0 + w)


def rope(x, theta):
    """x [B, H, T, hd]; rotate-half with inv_freq = theta^(-2i/hd) and positions 0..T-1."""
    T, hd = x.shape[-2], x.shape[-1]
    inv = 1.0 / theta ** (torch.arange(0, hd, 2, dtype=f64) / hd)
    ang = torch.arange(T, dtype=f64)[:, None] * inv[None, :]
    emb = torch.cat([ang, ang], -1)
    rot = torch.cat([-x[..., hd // 2:], x[..., : hd // 2]], -1)
    return x * emb.cos() + rot * emb.sin()


def gelu_tanh(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def shapes(V, Vp, C, I, L, NH, NKV, hd):
    Q, KV = NH * hd, NKV * hd
    return [("token_embd", (Vp, C)), ("attn_norm", (L, C)), ("attn_q", (L, Q, C)), ("attn_k", (L, KV, C)),
            ("attn_v", (L, KV, C)), ("attn_q_norm", (L, hd)), ("attn_k_norm", (L, hd)), ("attn_output", (L, C, Q)),
            ("post_attention_norm", (L, C)), ("ffn_norm", (L, C)), ("ffn_gate", (L, I, C)), ("ffn_up", (L, I, C)),
            ("ffn_down", (L, C, I)), ("post_ffw_norm", (L, C)), ("output_norm", (C,))]


def forward(p, ids, cfg):
    V, C, L, NH, NKV, hd, W, pattern, qpas, eps, theta_g, theta_l = cfg
    B, T = ids.shape
    x = p["token_embd"][:V][ids] * math.sqrt(C)
    i = torch.arange(T)[:, None]
    j = torch.arange(T)[None, :]
    for l in range(L):
        is_global = (l + 1) % pattern == 0
        visible = (j <= i) if is_global else (j <= i) & (i - j < W)
        theta = theta_g if is_global else theta_l
        h = rmsnorm(x, p["attn_norm"][l], eps)
        q = (h @ p["attn_q"][l].T).view(B, T, NH, hd).transpose(1, 2)
        k = (h @ p["attn_k"][l].T).view(B, T, NKV, hd).transpose(1, 2)
        v = (h @ p["attn_v"][l].T).view(B, T, NKV, hd).transpose(1, 2)
        q = rope(rmsnorm(q, p["attn_q_norm"][l], eps), theta)
        k = rope(rmsnorm(k, p["attn_k_norm"][l], eps), theta)
        k = k.repeat_interleave(NH // NKV, dim=1)
        v = v.repeat_interleave(NH // NKV, dim=1)
        s = (q @ k.transpose(-1, -2)) * qpas ** -0.5
        s = s.masked_fill(~visible, float("-inf"))
        o = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, NH * hd)
        x = x + rmsnorm(o @ p["attn_output"][l].T, p["post_attention_norm"][l], eps)
        h = rmsnorm(x, p["ffn_norm"][l], eps)
        m = (gelu_tanh(h @ p["ffn_gate"][l].T) * (h @ p["ffn_up"][l].T)) @ p["ffn_down"][l].T
        x = x + rmsnorm(m, p["post_ffw_norm"][l], eps)
    x = rmsnorm(x, p["output_norm"], eps)
    return x @ p["token_embd"][:V].T


def main(case_path, out_path):
    raw = open(case_path, "rb").read()
    head = struct.unpack_from("<16i", raw, 0)
    if head[0] != 0x31334D47 or head[1] != 1:
        sys.exit("%s: not a gemma3 test case (magic/version)" % case_path)
    V, Vp, C, I, L, NH, NKV, hd, W, pattern, B, T = head[2:14]
    qpas, eps, theta_g, theta_l = struct.unpack_from("<4d", raw, 64)
    off = 96
    params = {}
    for name, shape in shapes(V, Vp, C, I, L, NH, NKV, hd):
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
    cfg = (V, C, L, NH, NKV, hd, W, pattern, qpas, eps, theta_g, theta_l)
    logits = forward(params, ids, cfg)
    token_loss = torch.nn.functional.cross_entropy(logits.reshape(B * T, V), tgt.reshape(-1), reduction="none")
    token_loss = token_loss * (mask.reshape(-1) != 0)
    loss = (mask.reshape(-1) * token_loss).sum() / mask.sum()
    loss.backward()
    with open(out_path, "wb") as f:
        f.write(struct.pack("<d", loss.item()))
        f.write(token_loss.detach().numpy().astype("<f8").tobytes())
        for name, _ in shapes(V, Vp, C, I, L, NH, NKV, hd):
            f.write(params[name].grad.numpy().astype("<f8").tobytes())


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])

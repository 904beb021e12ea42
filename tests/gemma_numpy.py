"""An independent float64 NumPy forward of Gemma 3 over the weights of a GGUF file as PyPI's gguf
reads and dequantizes them, for tests/gemma_real.sh: prints, per prompt (a line of token ids), the
largest difference between restpg's last-position logits and this reference.
Usage: gemma_numpy.py MODEL IDS LOGITS"""
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize


def main():
    model, ids_file, logits_file = sys.argv[1:4]
    r = GGUFReader(model)
    kv = {f.name: f for f in r.fields.values()}

    def scalar(key):
        f = kv[key]
        return f.parts[f.data[0]][0].item()

    W = {}
    for t in r.tensors:
        a = dequantize(t.data, t.tensor_type).astype(np.float64)
        W[t.name] = a.reshape([int(x) for x in reversed(t.shape)]) if a.ndim == 1 and len(t.shape) > 1 else a
    C, L = scalar("gemma3.embedding_length"), scalar("gemma3.block_count")
    NH, NKV, hd = scalar("gemma3.attention.head_count"), scalar("gemma3.attention.head_count_kv"), scalar("gemma3.attention.key_length")
    eps, theta, window = scalar("gemma3.attention.layer_norm_rms_epsilon"), scalar("gemma3.rope.freq_base"), scalar("gemma3.attention.sliding_window")
    local_theta, pattern, scale = 10000.0, 6, hd ** -0.5

    def norm(x, w):  # GGUF stores 1 + w: the scale itself
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w

    def rope(x, base):  # x [T, heads, hd], HF's rotate-half
        T = x.shape[0]
        inv = base ** (-np.arange(0, hd, 2) / hd)
        ang = np.arange(T)[:, None] * inv[None, :]
        cos, sin = np.cos(np.concatenate([ang, ang], -1))[:, None, :], np.sin(np.concatenate([ang, ang], -1))[:, None, :]
        h = hd // 2
        rot = np.concatenate([-x[..., h:], x[..., :h]], -1)
        return x * cos + rot * sin

    def gelu(x):
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))

    emb = W["token_embd.weight"]
    ours = np.fromfile(logits_file, dtype=np.float32)
    prompts = [list(map(int, l.split())) for l in open(ids_file) if l.strip()]
    V = ours.size // len(prompts)
    ours = ours.reshape(len(prompts), V)
    worst = 0.0
    for pi, ids in enumerate(prompts):
        T = len(ids)
        x = emb[ids] * np.sqrt(C)
        for l in range(L):
            p = f"blk.{l}."
            glob = (l + 1) % pattern == 0
            h = norm(x, W[p + "attn_norm.weight"])
            q = (h @ W[p + "attn_q.weight"].T).reshape(T, NH, hd)
            k = (h @ W[p + "attn_k.weight"].T).reshape(T, NKV, hd)
            v = (h @ W[p + "attn_v.weight"].T).reshape(T, NKV, hd)
            q, k = norm(q, W[p + "attn_q_norm.weight"]), norm(k, W[p + "attn_k_norm.weight"])
            base = theta if glob else local_theta
            q, k = rope(q, base), rope(k, base)
            out = np.zeros((T, NH, hd))
            for hh in range(NH):
                kh = hh // (NH // NKV)
                s = q[:, hh, :] @ k[:, kh, :].T * scale
                i, j = np.arange(T)[:, None], np.arange(T)[None, :]
                mask = (j > i) | ((not glob) & (i - j >= window))
                s = np.where(mask, -np.inf, s)
                s = np.exp(s - s.max(-1, keepdims=True))
                out[:, hh, :] = (s / s.sum(-1, keepdims=True)) @ v[:, kh, :]
            a = out.reshape(T, NH * hd) @ W[p + "attn_output.weight"].T
            x = x + norm(a, W[p + "post_attention_norm.weight"])
            h = norm(x, W[p + "ffn_norm.weight"])
            m = (gelu(h @ W[p + "ffn_gate.weight"].T) * (h @ W[p + "ffn_up.weight"].T)) @ W[p + "ffn_down.weight"].T
            x = x + norm(m, W[p + "post_ffw_norm.weight"])
        logits = norm(x[-1:], W["output_norm.weight"]) @ emb.T
        ref = logits[0, :V]
        diff = np.abs(ours[pi] - ref).max()
        rel = diff / np.abs(ref).max()
        worst = max(worst, rel)
        print(f"numpy reference, prompt {pi}: max |logit diff| {diff:.2e} (rel {rel:.2e}), argmax ours "
              f"{int(np.argmax(ours[pi]))} reference {int(np.argmax(ref))}")
    tol = 1e-4
    print(f"numpy reference: worst relative logit difference {worst:.3e} (tolerance {tol})")
    assert worst <= tol, f"restpg's logits differ from the float64 NumPy forward by {worst:.3e} of the largest logit"


main()

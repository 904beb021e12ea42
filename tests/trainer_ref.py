"""Reference GPT-2 forward in numpy (float64) on a restpg checkpoint read with h5py, following
Hugging Face's GPT2LMHeadModel: Conv1D weights are [in, out], GELU is the tanh approximation,
LayerNorm eps 1e-5, the LM head is wte. Prints the mean next-token loss of the sequences in a
token file (one sequence of ids per line), like `restpg loss`.

usage: trainer_ref.py CKPT.h5 TOKENS.txt"""
import sys

import h5py
import numpy as np


def layernorm(x, w, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * w + b


def gelu(x):
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x ** 3)))


def forward(p, ids, n_layer, n_head):
    T = len(ids)
    x = p["transformer.wte.weight"][ids] + p["transformer.wpe.weight"][:T]
    C = x.shape[1]
    hs = C // n_head
    causal = np.triu(np.ones((T, T), dtype=bool), 1)
    for l in range(n_layer):
        g = lambda name: p["transformer.h.%d.%s" % (l, name)]
        h = layernorm(x, g("ln_1.weight"), g("ln_1.bias"))
        qkv = h @ g("attn.c_attn.weight") + g("attn.c_attn.bias")
        q, k, v = qkv[:, :C], qkv[:, C:2 * C], qkv[:, 2 * C:]
        y = np.zeros_like(h)
        for hd in range(n_head):
            s = slice(hd * hs, (hd + 1) * hs)
            att = q[:, s] @ k[:, s].T / np.sqrt(hs)
            att[causal] = -np.inf
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            y[:, s] = att @ v[:, s]
        x = x + y @ g("attn.c_proj.weight") + g("attn.c_proj.bias")
        h = layernorm(x, g("ln_2.weight"), g("ln_2.bias"))
        x = x + gelu(h @ g("mlp.c_fc.weight") + g("mlp.c_fc.bias")) @ g("mlp.c_proj.weight") + g("mlp.c_proj.bias")
    x = layernorm(x, p["transformer.ln_f.weight"], p["transformer.ln_f.bias"])
    return x @ p["transformer.wte.weight"].T


def main():
    with h5py.File(sys.argv[1], "r") as f:
        p = {k: f["params"][k][()].astype(np.float64) for k in f["params"]}
        n_layer, n_head = int(f.attrs["n_layer"]), int(f.attrs["n_head"])
    total, count = 0.0, 0
    for line in open(sys.argv[2]):
        ids = [int(t) for t in line.split()]
        if not ids:
            continue
        logits = forward(p, ids[:-1], n_layer, n_head)
        m = logits.max(-1, keepdims=True)
        lse = (m + np.log(np.exp(logits - m).sum(-1, keepdims=True)))[:, 0]
        total += float((lse - logits[np.arange(len(ids) - 1), ids[1:]]).sum())
        count += len(ids) - 1
    print("%.8f %d" % (total / count, count))


main()

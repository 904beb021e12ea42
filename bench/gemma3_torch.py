"""PyTorch's side of bench/bench_gemma3.sh: Gemma 3 270M with random weights in float32 on
Debian's torch (the CPU peer), timed like restpg's benches on the same shapes and threads:
a training step (forward, backward, AdamW) at B=1 x T, and KV-cached decoding of `slots`
candidates that share one prompt (prefill once, then one token per slot per step).
Prints JSON lines. Usage: gemma3_torch.py [--T 256] [--prompt 256] [--slots 8] [--new 32] [--threads 2]"""
import argparse
import json
import math
import time

import torch

V, C, I, L, NH, NKV, HD, W, PAT = 262144, 640, 2048, 18, 4, 1, 256, 512, 6
EPS, TG, TL, SCALE = 1e-6, 1e6, 1e4, 256 ** -0.5


def params():
    g = torch.Generator().manual_seed(1)
    r = lambda *s: (torch.randn(*s, generator=g) * 0.02).requires_grad_()
    z = lambda *s: torch.zeros(*s).requires_grad_()
    p = {"emb": r(V, C), "out_norm": z(C)}
    for l in range(L):
        p.update({f"{l}.{k}": v for k, v in {
            "an": z(C), "q": r(NH * HD, C), "k": r(NKV * HD, C), "v": r(NKV * HD, C), "qn": z(HD), "kn": z(HD),
            "o": r(C, NH * HD), "pan": z(C), "fn": z(C), "gate": r(I, C), "up": r(I, C), "down": r(C, I), "pfn": z(C)}.items()})
    return p


def norm(x, w):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + EPS) * (1 + w)


def rope(x, pos, theta):  # x [.., T, hd], pos [T]
    inv = theta ** (-torch.arange(0, HD, 2, dtype=torch.float32) / HD)
    ang = pos[:, None].float() * inv[None, :]
    emb = torch.cat([ang, ang], -1)
    rot = torch.cat([-x[..., HD // 2:], x[..., :HD // 2]], -1)
    return x * emb.cos() + rot * emb.sin()


def layer(p, l, x, pos, cache=None):
    """x [B, T, C] at positions pos; cache: (k, v) [B, NKV, P, HD] of earlier positions."""
    glob = (l + 1) % PAT == 0
    B, T, _ = x.shape
    h = norm(x, p[f"{l}.an"])
    q = norm((h @ p[f"{l}.q"].T).view(B, T, NH, HD).transpose(1, 2), p[f"{l}.qn"])
    k = norm((h @ p[f"{l}.k"].T).view(B, T, NKV, HD).transpose(1, 2), p[f"{l}.kn"])
    v = (h @ p[f"{l}.v"].T).view(B, T, NKV, HD).transpose(1, 2)
    q, k = rope(q, pos, TG if glob else TL), rope(k, pos, TG if glob else TL)
    if cache is not None:
        k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
    kpos = torch.arange(k.shape[2])
    vis = kpos[None, :] <= pos[:, None]
    if not glob:
        vis = vis & (pos[:, None] - kpos[None, :] < W)
    s = (q @ k.repeat_interleave(NH // NKV, 1).transpose(-1, -2)) * SCALE
    s = s.masked_fill(~vis, float("-inf"))
    o = (torch.softmax(s, -1) @ v.repeat_interleave(NH // NKV, 1)).transpose(1, 2).reshape(B, T, NH * HD)
    x = x + norm(o @ p[f"{l}.o"].T, p[f"{l}.pan"])
    h = norm(x, p[f"{l}.fn"])
    m = (torch.nn.functional.gelu(h @ p[f"{l}.gate"].T, approximate="tanh") * (h @ p[f"{l}.up"].T)) @ p[f"{l}.down"].T
    return x + norm(m, p[f"{l}.pfn"]), (k, v)


def model(p, ids, pos, caches=None):
    x = p["emb"][ids] * math.sqrt(C)
    new = []
    for l in range(L):
        x, kv = layer(p, l, x, pos, caches[l] if caches else None)
        new.append(kv)
    return norm(x, p["out_norm"]) @ p["emb"].T, new


def main():
    a = argparse.ArgumentParser()
    for k, d in (("T", 256), ("prompt", 256), ("slots", 8), ("new", 32), ("threads", 2), ("steps", 2)):
        a.add_argument("--" + k, type=int, default=d)
    o = a.parse_args()
    torch.set_num_threads(o.threads)
    p = params()
    opt = torch.optim.AdamW(list(p.values()), lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1)
    ids = torch.randint(0, V, (1, o.T + 1))
    times = []
    for step in range(o.steps + 1):  # the first is a warm-up
        t0 = time.perf_counter()
        logits, _ = model(p, ids[:, :-1], torch.arange(o.T))
        loss = torch.nn.functional.cross_entropy(logits.view(-1, V), ids[0, 1:])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(p.values()), 1.0)
        opt.step()
        times.append(time.perf_counter() - t0)
    per = min(times[1:])
    print(json.dumps({"bench": "gemma3_torch", "case": "train_step", "B": 1, "T": o.T, "threads": o.threads,
                      "ms_per_step": round(1e3 * per, 1), "tokens_per_s": round(o.T / per, 1), "torch": torch.__version__}))
    with torch.no_grad():
        prompt = torch.randint(0, V, (1, o.prompt))
        t0 = time.perf_counter()
        _, caches = model(p, prompt, torch.arange(o.prompt))
        t_prefill = time.perf_counter() - t0
        caches = [(k.expand(o.slots, -1, -1, -1), v.expand(o.slots, -1, -1, -1)) for k, v in caches]
        tok = torch.randint(0, V, (o.slots, 1))
        t0 = time.perf_counter()
        for s in range(o.new):
            _, caches = model(p, tok, torch.tensor([o.prompt + s]), caches)
            tok = torch.randint(0, V, (o.slots, 1))
        t_dec = time.perf_counter() - t0
    print(json.dumps({"bench": "gemma3_torch", "case": "decode", "prompt": o.prompt, "slots": o.slots, "new": o.new,
                      "threads": o.threads, "prefill_s": round(t_prefill, 3), "decode_s": round(t_dec, 3),
                      "tokens_per_s": round(o.slots * o.new / t_dec, 1)}))


main()

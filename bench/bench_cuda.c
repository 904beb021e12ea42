/* Benchmark of the CUDA backend's own kernels on a GPU (JSON lines), each against a reference
 * measured in the same run on the same device:
 *   gemm       the dense peak this device reaches through cuBLASLt (8192^3, bf16 and fp32
 *              operands, fp32 accumulation): the denominator of every MFU figure;
 *   attention  the fused flash attention (fp32, and on tensor cores: bf16 mma), forward + backward TFLOP/s (causal: half the T x T
 *              products; backward 2.5 x the forward's FLOPs, FlashAttention-2's count), against
 *              the cuBLAS products an unfused attention makes (Q K^T and P V per head forward;
 *              four products backward), timed alone: its softmax and its T x T traffic are left
 *              out, so that baseline is flattered, and as a fraction of the bf16 gemm peak;
 *   adamw      the fused AdamW's GB/s (28 bytes per parameter: p, m, v read and written, g read;
 *              30 with the bf16 copy) against a device-to-device cudaMemcpy of 1 GiB (read +
 *              write) — the target is at least 80% of it; and a model step's update
 *              over GPT-2 124M's real tensor list (16 tensors, per-layer kinds stored [L, ...]
 *              as the model stores them; and split per layer, 148 tensors as Hugging Face names
 *              them), one cuda_adamw_update per tensor against one cuda_adamw_update_multi.
 * Usage: bench_cuda [--quick] (small shapes: a smoke run, e.g. in the SIMT emulation, whose
 * figures mean nothing). Built only with the CUDA backend (bench_cuda), and as bench_cuda_emu
 * over the emulation, which the tests run with --quick so the code stays working. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/args.h"
#include "core/log.h"
#include "kernels/cuda/ops_cuda.h"

static int g_failed;

static int ok(cudaError_t err, const char *what) {
    if (err == cudaSuccess) return 1;
    fprintf(stderr, "bench_cuda: %s: %s\n", what, cudaGetErrorString(err));
    g_failed = 1;
    return 0;
}

/* Device memory of n bytes filled with small values (uploaded from the host). */
static void *dev_fill(size_t bytes) {
    void *d = NULL;
    if (!ok(cudaMalloc(&d, bytes), "cudaMalloc")) return NULL;
    float *h = malloc(bytes);
    if (!h) return d;
    for (size_t i = 0; i < bytes / sizeof(float); i++) h[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
    ok(cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice), "upload");
    free(h);
    return d;
}

/* Seconds per call of fn (median of reps timed runs after one warm-up), synchronised. */
typedef cudaError_t (*RunFn)(void *ctx);
static double time_it(RunFn fn, void *ctx, int reps) {
    double t[16];
    if (reps > 16) reps = 16;
    if (!ok(fn(ctx), "warm-up") || !ok(cudaDeviceSynchronize(), "sync")) return NAN;
    for (int r = 0; r < reps; r++) {
        double t0 = time_now();
        if (!ok(fn(ctx), "run") || !ok(cudaDeviceSynchronize(), "sync")) return NAN;
        t[r] = time_now() - t0;
    }
    for (int i = 0; i < reps; i++)
        for (int j = i + 1; j < reps; j++)
            if (t[j] < t[i]) {
                double x = t[i];
                t[i] = t[j], t[j] = x;
            }
    return t[reps / 2];
}

/* ---- gemm peak ---- */

typedef struct {
    int n, bf16;
    float *a, *out;
    uint16_t *w16;
    float *w;
    void *ws;
    size_t ws_bytes;
} Gemm;

static cudaError_t gemm_run(void *p) {
    Gemm *g = p;
    if (g->bf16) return cuda_matmul_forward_bf16(g->out, g->a, g->w16, NULL, NULL, g->n, g->n, g->n, g->ws, g->ws_bytes, 0);
    return cuda_matmul_forward(g->out, g->a, g->w, NULL, NULL, g->n, g->n, g->n, 0);
}

/* TFLOP/s of an n^3 product with bf16 or fp32 operands; the bf16 timing includes rounding the
 * activations to bf16, as every bf16 product of the backend does. */
static double gemm_peak(int n, int bf16, int reps) {
    Gemm g = {.n = n, .bf16 = bf16};
    size_t nn = (size_t)n * n;
    g.a = dev_fill(nn * 4), g.out = dev_fill(nn * 4), g.w = dev_fill(nn * 4);
    g.ws_bytes = cuda_matmul_bf16_workspace(n, n, n);
    g.ws = dev_fill(g.ws_bytes);
    ok(cudaMalloc((void **)&g.w16, nn * 2), "cudaMalloc");
    ok(cuda_to_bf16(g.w16, g.w, nn, 0), "to_bf16");
    double t = time_it(gemm_run, &g, reps), tf = 2.0 * n * (double)nn / t * 1e-12;
    printf("{\"bench\":\"cuda_gemm\",\"n\":%d,\"operands\":\"%s\",\"ms\":%.3f,\"tflops\":%.2f}\n", n,
           bf16 ? "bf16" : "fp32", 1e3 * t, tf);
    cudaFree(g.a), cudaFree(g.out), cudaFree(g.w), cudaFree(g.ws), cudaFree(g.w16);
    return tf;
}

/* ---- attention ---- */

typedef struct {
    int B, T, NH, NKV, hd;
    float *q, *k, *v, *out, *lse, *dout, *dq, *dk, *dv;
    void *ws;
    size_t ws_bytes;
    /* the unfused baseline: one head's Q, K, V [T, hd], V^T [hd, T], O, dQ [T, hd], S, dS [T, T] */
    float *hq, *hk, *hv, *hvt, *hout, *hdq, *s, *ds;
} Attn;

/* The tensor-core kernels (bf16 mma, fp32 softmax), on the same buffers. */
static cudaError_t attn_tc_run(void *p) {
    Attn *a = p;
    float scale = 1.0f / sqrtf((float)a->hd);
    cudaError_t err = cuda_attention_tc_forward(a->out, a->lse, a->q, a->k, a->v, a->B, a->T, a->NH, a->NKV, a->hd,
                                                a->NH * a->hd, a->NKV * a->hd, 0, scale, 0);
    if (err) return err;
    return cuda_attention_tc_backward(a->dq, a->dk, a->dv, a->dout, a->q, a->k, a->v, a->out, a->lse, a->B, a->T, a->NH,
                                      a->NKV, a->hd, a->NH * a->hd, a->NKV * a->hd, 0, scale, a->ws, a->ws_bytes, 0);
}

static cudaError_t attn_run(void *p) {
    Attn *a = p;
    float scale = 1.0f / sqrtf((float)a->hd);
    cudaError_t err = cuda_attention_forward(a->out, a->lse, a->q, a->k, a->v, a->B, a->T, a->NH, a->NKV, a->hd,
                                             a->NH * a->hd, a->NKV * a->hd, 0, scale, 0);
    if (err) return err;
    return cuda_attention_backward(a->dq, a->dk, a->dv, a->dout, a->q, a->k, a->v, a->out, a->lse, a->B, a->T, a->NH,
                                   a->NKV, a->hd, a->NH * a->hd, a->NKV * a->hd, 0, scale, a->ws, a->ws_bytes, 0);
}

/* The unfused products of every head (fp32 cuBLASLt, as the fp32 kernel computes): forward
 * S = Q K^T and O = P V; backward dP = dO V^T, dV = P^T dO, dQ = dS K, dK = dS^T Q. The buffers
 * are reused across heads (the products' cost does not depend on the values). */
static cudaError_t unfused_run(void *p) {
    Attn *a = p;
    int T = a->T, hd = a->hd;
    cudaError_t err = cudaSuccess;
    for (int h = 0; h < a->B * a->NH && !err; h++) {
        if ((err = cuda_matmul_forward(a->s, a->hq, a->hk, NULL, NULL, T, hd, T, 0)) ||
            (err = cuda_matmul_forward(a->hout, a->s, a->hvt, NULL, NULL, T, T, hd, 0)) ||
            (err = cuda_matmul_forward(a->ds, a->hout, a->hk, NULL, NULL, T, hd, T, 0)) ||
            (err = cuda_matmul_backward(NULL, a->hv, NULL, a->s, a->hout, a->hk, T, hd, T, 0, NULL, 0, 0)) ||
            (err = cuda_matmul_forward(a->hdq, a->ds, a->hvt, NULL, NULL, T, T, hd, 0)))
            break;
        err = cuda_matmul_backward(NULL, a->hk, NULL, a->ds, a->hq, a->hk, T, hd, T, 0, NULL, 0, 0);
    }
    return err;
}

static void bench_attention(const char *name, int B, int T, int NH, int NKV, int hd, double peak, int reps) {
    Attn a = {.B = B, .T = T, .NH = NH, .NKV = NKV, .hd = hd};
    size_t nq = (size_t)B * T * NH * hd, nkv = (size_t)B * T * NKV * hd, th = (size_t)T * hd, tt = (size_t)T * T;
    a.q = dev_fill(4 * nq), a.k = dev_fill(4 * nkv), a.v = dev_fill(4 * nkv), a.out = dev_fill(4 * nq);
    a.lse = dev_fill(4 * (size_t)B * NH * T), a.dout = dev_fill(4 * nq), a.dq = dev_fill(4 * nq);
    a.dk = dev_fill(4 * nkv), a.dv = dev_fill(4 * nkv);
    a.ws_bytes = cuda_attention_workspace(B, T, NH);
    if (cuda_attention_tc_workspace(B, T, NH) > a.ws_bytes) a.ws_bytes = cuda_attention_tc_workspace(B, T, NH);
    a.ws = dev_fill(a.ws_bytes ? a.ws_bytes : 4);
    a.hq = dev_fill(4 * th), a.hk = dev_fill(4 * th), a.hv = dev_fill(4 * th), a.hvt = dev_fill(4 * th);
    a.hout = dev_fill(4 * th), a.hdq = dev_fill(4 * th);
    a.s = dev_fill(4 * tt), a.ds = dev_fill(4 * tt);
    /* Causal: half the score matrix; forward 2 products of 2 T^2 hd, backward 2.5 x that. */
    double fwd = 4.0 * B * NH * (double)T * T * hd / 2.0, flops = 3.5 * fwd;
    double t = time_it(attn_run, &a, reps), tu = time_it(unfused_run, &a, reps);
    double ttc = hd % 16 == 0 ? time_it(attn_tc_run, &a, reps) : NAN;
    /* The unfused products compute the whole T x T; both rates count the causal FLOPs. */
    printf("{\"bench\":\"cuda_attention\",\"shape\":\"%s\",\"B\":%d,\"T\":%d,\"NH\":%d,\"NKV\":%d,\"hd\":%d,"
           "\"fwd_bwd_ms\":%.3f,\"tflops\":%.2f,\"unfused_cublas_ms\":%.3f,\"unfused_tflops\":%.2f,"
           "\"speedup_vs_unfused\":%.2f,\"fraction_of_bf16_peak\":%.3f,\"tensor_core_ms\":%.3f,"
           "\"tensor_core_tflops\":%.2f,\"tensor_core_fraction_of_bf16_peak\":%.3f}\n",
           name, B, T, NH, NKV, hd, 1e3 * t, flops / t * 1e-12, 1e3 * tu, flops / tu * 1e-12, tu / t,
           flops / t * 1e-12 / peak, 1e3 * ttc, flops / ttc * 1e-12, flops / ttc * 1e-12 / peak);
    void *bufs[] = {a.q, a.k, a.v, a.out, a.lse, a.dout, a.dq, a.dk, a.dv, a.ws, a.hq, a.hk, a.hv, a.hvt, a.hout, a.hdq, a.s, a.ds};
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++) cudaFree(bufs[i]);
}

/* ---- AdamW against the copy bandwidth ---- */

typedef struct {
    size_t n;
    float *p, *g, *m, *v;
    uint16_t *p16;
    void *src, *dst;
    size_t copy_bytes;
} Opt;

static cudaError_t adamw_run(void *p) {
    Opt *o = p;
    return cuda_adamw_update(o->p, o->g, o->m, o->v, o->n, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f, 3, o->p16, 0);
}
static cudaError_t copy_run(void *p) {
    Opt *o = p;
    return cudaMemcpy(o->dst, o->src, o->copy_bytes, cudaMemcpyDeviceToDevice);
}

static void bench_adamw(size_t n, size_t copy_bytes, int reps) {
    Opt o = {.n = n, .copy_bytes = copy_bytes};
    o.p = dev_fill(4 * n), o.g = dev_fill(4 * n), o.m = dev_fill(4 * n), o.v = dev_fill(4 * n);
    o.src = dev_fill(copy_bytes), o.dst = dev_fill(copy_bytes);
    double tc = time_it(copy_run, &o, reps), copy_gbs = 2.0 * copy_bytes / tc * 1e-9;
    for (int with16 = 0; with16 < 2; with16++) {
        if (with16) ok(cudaMalloc((void **)&o.p16, 2 * n), "cudaMalloc");
        double t = time_it(adamw_run, &o, reps), gbs = (double)n * (with16 ? 30 : 28) / t * 1e-9;
        printf("{\"bench\":\"cuda_adamw\",\"params\":%zu,\"bf16_copy\":%d,\"ms\":%.3f,\"gbs\":%.1f,"
               "\"copy_gbs\":%.1f,\"fraction_of_copy\":%.3f}\n",
               n, with16, 1e3 * t, gbs, copy_gbs, gbs / copy_gbs);
    }
    cudaFree(o.p), cudaFree(o.g), cudaFree(o.m), cudaFree(o.v), cudaFree(o.p16), cudaFree(o.src), cudaFree(o.dst);
}

/* GPT-2's parameter tensors in the model's order (model/gpt.c's table: wte, wpe, then each
 * per-layer kind [L, ...], then ln_f) as segments of one buffer, decayed where the table decays
 * (the matrices and embeddings); per_layer splits each kind into its L layers. Returns the count
 * (16, or 4 + 12 L per layer) and the parameters in total. */
static int gpt2_segments(int L, int C, int maxT, int Vp, int per_layer, AdamwSegment *seg, size_t *total) {
    const size_t c = (size_t)C;
    const struct {
        size_t per_layer;
        int decays;
    } kinds[] = {{c, 0},         {c, 0},     {3 * c * c, 1}, {3 * c, 0}, {c * c, 1}, {c, 0},
                 {c, 0},         {c, 0},     {4 * c * c, 1}, {4 * c, 0}, {4 * c * c, 1}, {c, 0}};
    int n = 0;
    size_t at = 0;
    seg[n++] = (AdamwSegment){at, (size_t)Vp * c, 1}, at += (size_t)Vp * c;
    seg[n++] = (AdamwSegment){at, (size_t)maxT * c, 1}, at += (size_t)maxT * c;
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
        for (int l = 0; l < (per_layer ? L : 1); l++) {
            size_t len = kinds[k].per_layer * (per_layer ? 1 : (size_t)L);
            seg[n++] = (AdamwSegment){at, len, kinds[k].decays}, at += len;
        }
    seg[n++] = (AdamwSegment){at, c, 0}, at += c;
    seg[n++] = (AdamwSegment){at, c, 0}, at += c;
    *total = at;
    return n;
}

typedef struct {
    Opt *o;
    const AdamwSegment *seg;
    int nseg;
} Multi;

static cudaError_t per_tensor_run(void *p) {
    Multi *u = p;
    for (int k = 0; k < u->nseg; k++) {
        size_t a = u->seg[k].offset;
        cudaError_t err = cuda_adamw_update(u->o->p + a, u->o->g + a, u->o->m + a, u->o->v + a, u->seg[k].n, 1e-4f,
                                            0.9f, 0.95f, 1e-8f, u->seg[k].decays ? 0.1f : 0.0f, 1.0f, 3,
                                            u->o->p16 ? u->o->p16 + a : NULL, 0);
        if (err != cudaSuccess) return err;
    }
    return cudaSuccess;
}
static cudaError_t multi_run(void *p) {
    Multi *u = p;
    return cuda_adamw_update_multi(u->o->p, u->o->g, u->o->m, u->o->v, 0, u->seg, u->nseg, 1e-4f, 0.9f, 0.95f, 1e-8f,
                                   0.1f, 1.0f, 3, u->o->p16, 0);
}

/* A model step's AdamW over GPT-2's tensors: per tensor (today's launches) and multi-tensor,
 * with and without the bf16 copy, against the copy bandwidth. */
static void bench_adamw_multi(const char *name, int L, int C, int maxT, int Vp, size_t copy_bytes, int reps) {
    AdamwSegment *seg = malloc(sizeof *seg * (4 + 12 * (size_t)L));
    if (!seg) return;
    for (int per_layer = 0; per_layer < 2; per_layer++) {
        size_t n = 0;
        int nseg = gpt2_segments(L, C, maxT, Vp, per_layer, seg, &n);
        Opt o = {.n = n, .copy_bytes = copy_bytes};
        o.p = dev_fill(4 * n), o.g = dev_fill(4 * n), o.m = dev_fill(4 * n), o.v = dev_fill(4 * n);
        o.src = dev_fill(copy_bytes), o.dst = dev_fill(copy_bytes);
        Multi u = {&o, seg, nseg};
        double tc = time_it(copy_run, &o, reps), copy_gbs = 2.0 * copy_bytes / tc * 1e-9;
        for (int with16 = 0; with16 < 2; with16++) {
            if (with16) ok(cudaMalloc((void **)&o.p16, 2 * n), "cudaMalloc");
            double bytes = (double)n * (with16 ? 30 : 28);
            double t1 = time_it(per_tensor_run, &u, reps), tm = time_it(multi_run, &u, reps);
            printf("{\"bench\":\"cuda_adamw_multi\",\"model\":\"%s\",\"tensors\":%d,\"params\":%zu,"
                   "\"bf16_copy\":%d,\"per_tensor_ms\":%.3f,\"multi_ms\":%.3f,\"per_tensor_gbs\":%.1f,"
                   "\"multi_gbs\":%.1f,\"copy_gbs\":%.1f,\"multi_fraction_of_copy\":%.3f}\n",
                   name, nseg, n, with16, 1e3 * t1, 1e3 * tm, bytes / t1 * 1e-9, bytes / tm * 1e-9, copy_gbs,
                   bytes / tm * 1e-9 / copy_gbs);
        }
        cudaFree(o.p), cudaFree(o.g), cudaFree(o.m), cudaFree(o.v), cudaFree(o.p16), cudaFree(o.src), cudaFree(o.dst);
    }
    free(seg);
}

int main(int argc, char **argv) {
    int quick = 0;
    ArgSpec specs[] = {{"--quick", ARG_FLAG, &quick, "small shapes: a smoke run (figures meaningless)", 0, 0},
                       {NULL, 0, NULL, NULL, 0, 0}};
    Error e;
    error_clear(&e);
    int rc = args_parse("bench_cuda", "Times the CUDA backend's kernels; prints JSON lines.", specs, argc, argv, &e);
    if (rc == RP_HELP) return 0;
    if (rc) {
        fprintf(stderr, "error: %s\n", e.msg);
        return rc;
    }
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev < 1) {
        fprintf(stderr, "bench_cuda: no CUDA device\n");
        return 2;
    }
    int reps = quick ? 1 : 5;
    double peak = gemm_peak(quick ? 64 : 8192, 1, reps);
    gemm_peak(quick ? 64 : 8192, 0, reps);
    if (quick) {
        bench_attention("smoke", 1, 40, 2, 1, 16, peak, reps);
        bench_adamw(1000, 4096, reps);
        bench_adamw_multi("smoke", 2, 8, 16, 64, 4096, reps);
    } else {
        bench_attention("gpt2-124M", 4, 1024, 12, 12, 64, peak, reps);
        bench_attention("llama3.2-1b", 1, 2048, 32, 8, 64, peak, reps);
        bench_attention("gemma3-270m", 4, 1024, 4, 1, 256, peak, reps);
        bench_adamw(124475904, (size_t)1 << 30, reps);
        bench_adamw_multi("gpt2-124M", 12, 768, 1024, 50304, (size_t)1 << 30, reps);
    }
    return g_failed;
}

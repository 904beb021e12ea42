/* The CUDA kernels (the .cu files of kernels/cuda) against the CPU ops (kernels/cpu), on shapes
 * that are not multiples of the warp or block sizes, within each op's stated tolerance
 * (docs/cuda.md). Built twice from this file: test_cuda_emu runs the kernels in the SIMT
 * emulation under the forward, reverse and a random thread order, and also checks the emulation
 * itself (a missing barrier is caught, warp ops, atomicAdd, a kernel the scheduler rejects); test_cuda_gpu (label gpu, CUDA
 * builds) runs the same comparisons on a device and skips (77) without one. The error measure
 * is |got - ref| / max(1, |ref|). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/bf16.h"
#include "kernels/cpu/ops.h"
#include "kernels/cuda/ops_cuda.h"
#include "tests/cuda_test.h"
#include "tests/test.h"

#define NSHAPES 5
static const int kRows[] = {1, 7, 33, 130};
static const int kWidths[NSHAPES] = {1, 31, 33, 100, 1000};
static const size_t kLens[] = {1, 31, 33, 100, 1000, 70001};

/* Tolerances of the measure above, and the largest error seen, per op. */
enum { OP_ADAMW, OP_RMS_FWD, OP_RMS_BWD, OP_SWIGLU, OP_GEGLU, OP_CE, OP_MM_FWD, OP_MM_BWD, OP_MM16_FWD, OP_MM16_BWD,
       OP_RMS_RES, OP_ADAMW_MULTI, NOPS };
static const char *kOpName[NOPS] = {"adamw",  "rmsnorm_forward", "rmsnorm_backward",
                                    "swiglu", "geglu",           "crossentropy_forward", "matmul_forward", "matmul_backward",
                                    "matmul_forward_bf16", "matmul_backward_bf16", "rmsnorm_forward_resid",
                                    "adamw_multi"};
static const double kTol[NOPS] = {0.0, 2e-6, 1e-5, 1e-6, 1e-6, 2e-6, 2e-6, 1e-5, 2e-6, 1e-5, 2e-6, 0.0};
static double worst[NOPS];

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static float frand(float scale) {
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return scale * ((float)(rng >> 40) / (float)(1u << 24) * 2.0f - 1.0f);
}
static float *randv(size_t n, float scale) {
    float *v = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) v[i] = frand(scale);
    return v;
}
static void *dup_dev(const void *h, size_t bytes) {
    void *d = NULL;
    if (cudaMalloc(&d, bytes ? bytes : 1) != cudaSuccess) abort();
    cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice);
    return d;
}
/* Uninitialised device scratch of bytes (at least one). */
static void *scratch_dev(size_t bytes) {
    void *d = NULL;
    if (cudaMalloc(&d, bytes ? bytes : 1) != cudaSuccess) abort();
    return d;
}
static float *get_dev(const void *d, size_t n) {
    float *h = malloc(n * sizeof(float) + 1);
    cudaMemcpy(h, d, n * sizeof(float), cudaMemcpyDeviceToHost);
    return h;
}

/* Compares got (device) with ref (host) and frees got. */
static void compare(int op, const char *what, int a, int b, const float *dgot, const float *ref, size_t n) {
    float *got = get_dev(dgot, n);
    double e = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = ref[i], d = fabs((double)got[i] - r) / (fabs(r) > 1.0 ? fabs(r) : 1.0);
        if (!(d <= e)) e = d; /* NaN propagates */
    }
    if (!(e <= worst[op])) worst[op] = e;
    CHECK_MSG(e <= kTol[op], "%s %s (%d, %d): error %.3g > %.3g", kOpName[op], what, a, b, e, kTol[op]);
    free(got);
}

static void test_adamw(void) {
    for (size_t k = 0; k < sizeof kLens / sizeof *kLens; k++) {
        size_t n = kLens[k];
        float *p = randv(n, 1.0f), *g = randv(n, 2.0f), *m = calloc(n, 4), *v = calloc(n, 4);
        float *dp = dup_dev(p, 4 * n), *dg = dup_dev(g, 4 * n), *dm = dup_dev(m, 4 * n), *dv = dup_dev(v, 4 * n);
        uint16_t *d16 = dup_dev(g, 2 * n), *h16 = malloc(2 * n + 2);
        for (int step = 1; step <= 3; step++) {
            adamw_update(p, g, m, v, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.7f, step);
            CHECK(cuda_adamw_update(dp, dg, dm, dv, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.7f, step, step == 3 ? d16 : NULL,
                                    0) == cudaSuccess);
        }
        /* the bf16 working copy written in the same pass: the CPU's rounding of the new values */
        cudaMemcpy(h16, d16, 2 * n, cudaMemcpyDeviceToHost);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) bad += h16[i] != bf16_from_f32(p[i]);
        CHECK_MSG(bad == 0, "adamw bf16 copy: %zu of %zu elements differ", bad, n);
        cudaFree(d16), free(h16);
        compare(OP_ADAMW, "param", (int)n, 3, dp, p, n);
        compare(OP_ADAMW, "m", (int)n, 3, dm, m, n);
        compare(OP_ADAMW, "v", (int)n, 3, dv, v, n);
        cudaFree(dp), cudaFree(dg), cudaFree(dm), cudaFree(dv);
        free(p), free(g), free(m), free(v);
    }
}

/* The multi-tensor AdamW against the CPU table's (one adamw_update per segment), bitwise: 300
 * segments (five launches of at most 64) of odd sizes, among them empty and length-1 ones,
 * decay on and off, with gaps between them that must stay untouched, over moments that start at
 * parameter lo (a ZeRO-1 shard); the bf16 copy on the last step. Also a segment before lo. */
static void test_adamw_multi(void) {
    enum { NSEG = 300 };
    static const size_t sizes[] = {0, 1, 2, 31, 33, 255, 257, 1000, 3};
    AdamwSegment seg[NSEG];
    size_t lo = 5, at = lo + 2;
    for (int k = 0; k < NSEG; k++) {
        size_t n = sizes[(k * 7 + k / 9) % (sizeof sizes / sizeof *sizes)];
        if (k == 150) n = 4099;
        seg[k] = (AdamwSegment){at, n, (k * 5) % 3 != 0};
        at += n + (size_t)(k % 4 == 1); /* a gap after every fourth */
    }
    size_t n = at + 3, nm = n - lo;
    float *p = randv(n, 1.0f), *g = randv(n, 2.0f), *m = randv(n, 0.1f), *v = randv(n, 0.1f); /* nm used */
    for (size_t i = 0; i < nm; i++) v[i] *= v[i];
    float *dp = dup_dev(p, 4 * n), *dg = dup_dev(g, 4 * n), *dm = dup_dev(m, 4 * nm), *dv = dup_dev(v, 4 * nm);
    uint16_t *h16 = malloc(2 * n), *d16 = NULL;
    for (size_t i = 0; i < n; i++) h16[i] = (uint16_t)i;
    d16 = dup_dev(h16, 2 * n);
    const BackendOps *cpu = cpu_backend();
    Error e;
    for (int step = 1; step <= 2; step++) {
        CHECK(cpu->adamw_update_multi(p, g, m, v, lo, seg, NSEG, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.7f, step, &e) ==
              RP_OK);
        CHECK(cuda_adamw_update_multi(dp, dg, dm, dv, lo, seg, NSEG, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.7f, step,
                                      step == 2 ? d16 : NULL, 0) == cudaSuccess);
    }
    float *gp = get_dev(dp, n), *gm = get_dev(dm, nm), *gv = get_dev(dv, nm);
    uint16_t *g16 = malloc(2 * n);
    cudaMemcpy(g16, d16, 2 * n, cudaMemcpyDeviceToHost);
    size_t bad = 0, bad16 = 0, in_seg = 0;
    for (size_t i = 0; i < n; i++) bad += memcmp(&gp[i], &p[i], 4) != 0;
    for (size_t i = 0; i < nm; i++) bad += (memcmp(&gm[i], &m[i], 4) != 0) + (memcmp(&gv[i], &v[i], 4) != 0);
    for (int k = 0; k < NSEG; k++)
        for (size_t i = seg[k].offset; i < seg[k].offset + seg[k].n; i++) h16[i] = bf16_from_f32(p[i]), in_seg++;
    for (size_t i = 0; i < n; i++) bad16 += g16[i] != h16[i]; /* gaps keep their junk */
    CHECK_MSG(bad == 0 && bad16 == 0, "adamw multi: %zu values and %zu bf16 copies of %zu differ", bad, bad16, n);
    if (bad || bad16) worst[OP_ADAMW_MULTI] = 1.0;
    CHECK(in_seg < n - lo); /* there are gaps */
    /* A segment below the moments' first parameter is refused by both. */
    AdamwSegment below = {lo - 1, 4, 1};
    CHECK(cuda_adamw_update_multi(dp, dg, dm, dv, lo, &below, 1, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.7f, 1, NULL, 0) ==
          cudaErrorInvalidValue);
    CHECK(cpu->adamw_update_multi(p, g, m, v, lo, &below, 1, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.7f, 1, &e) ==
          RP_EINTERNAL);
    cudaFree(dp), cudaFree(dg), cudaFree(dm), cudaFree(dv), cudaFree(d16);
    free(p), free(g), free(m), free(v), free(gp), free(gm), free(gv), free(h16), free(g16);
}

/* More elements than the grid's 4096 x 256 threads: the first threads come back for a second
 * element in a later segment (past an empty one), so the kernel's grid stride and its search
 * for the next segment run. One step, bitwise against the CPU. */
static void test_adamw_multi_stride(void) {
    const AdamwSegment seg[4] = {{0, 700001, 1}, {700001, 0, 1}, {700001, 350003, 0}, {1050004, 1, 1}};
    const size_t n = 1050005;
    float *p = randv(n, 1.0f), *g = randv(n, 2.0f), *m = calloc(n, 4), *v = calloc(n, 4);
    float *dp = dup_dev(p, 4 * n), *dg = dup_dev(g, 4 * n), *dm = dup_dev(m, 4 * n), *dv = dup_dev(v, 4 * n);
    Error e;
    CHECK(cpu_backend()->adamw_update_multi(p, g, m, v, 0, seg, 4, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.7f, 3, &e) ==
          RP_OK);
    CHECK(cuda_adamw_update_multi(dp, dg, dm, dv, 0, seg, 4, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.7f, 3, NULL, 0) ==
          cudaSuccess);
    float *gp = get_dev(dp, n), *gm = get_dev(dm, n), *gv = get_dev(dv, n);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += (memcmp(&gp[i], &p[i], 4) != 0) + (memcmp(&gm[i], &m[i], 4) != 0) + (memcmp(&gv[i], &v[i], 4) != 0);
    CHECK_MSG(bad == 0, "adamw multi over the grid stride: %zu values differ", bad);
    if (bad) worst[OP_ADAMW_MULTI] = 1.0;
    cudaFree(dp), cudaFree(dg), cudaFree(dm), cudaFree(dv);
    free(p), free(g), free(m), free(v), free(gp), free(gm), free(gv);
}

/* The forward with a residual (Gemma's post-norms) against the CPU's, and bitwise against the
 * plain forward then cuda_add (d_plain: its output), with out a separate buffer and aliasing
 * resid; plain: the CPU's output without the residual. */
static void rmsnorm_resid(const float *plain, const float *x, const float *w, const float *dx, const float *dwt,
                          const float *d_plain, int N, int C, float wo) {
    size_t nc = (size_t)N * C;
    float *r = randv(nc, 2.0f), *ref = malloc(nc * 4), *rstd = malloc(N * 4);
    float *d_r = dup_dev(r, 4 * nc), *d_out = scratch_dev(4 * nc), *d_rstd = scratch_dev(4 * N);
    float *d_sum = dup_dev(r, 4 * nc);
    rmsnorm_forward(ref, rstd, x, w, r, N, C, 1e-6f, wo);
    size_t cpu_bad = 0;
    for (size_t i = 0; i < nc; i++) cpu_bad += ref[i] != plain[i] + r[i]; /* the CPU op's own contract */
    CHECK(cpu_bad == 0);
    CHECK(cuda_add(d_sum, d_plain, nc, 0) == cudaSuccess);
    float *want = get_dev(d_sum, nc);
    for (int alias = 0; alias < 2; alias++) {
        float *o = alias ? d_r : d_out;
        CHECK(cuda_rmsnorm_forward(o, d_rstd, dx, dwt, d_r, N, C, 1e-6f, wo, 0) == cudaSuccess);
        float *got = get_dev(o, nc);
        size_t bad = 0;
        for (size_t i = 0; i < nc; i++) bad += memcmp(&got[i], &want[i], 4) != 0;
        CHECK_MSG(bad == 0, "rmsnorm + residual (%d, %d, alias %d): %zu elements differ from norm then add", N, C,
                  alias, bad);
        compare(OP_RMS_RES, alias ? "out (aliasing resid)" : "out", N, C, o, ref, nc);
    }
    cudaFree(d_r), cudaFree(d_out), cudaFree(d_rstd), cudaFree(d_sum);
    free(r), free(ref), free(rstd), free(want);
}

static void test_rmsnorm(void) {
    for (size_t ri = 0; ri < sizeof kRows / sizeof *kRows; ri++)
        for (int ci = 0; ci < NSHAPES; ci++) {
            int N = kRows[ri], C = kWidths[ci];
            size_t nc = (size_t)N * C;
            float wo = (ri + ci) % 2 ? 1.0f : 0.0f;
            float *x = randv(nc, 3.0f), *w = randv(C, 1.0f), *dout = randv(nc, 1.0f), *dinp = randv(nc, 0.5f),
                  *dw = randv(C, 0.5f), *out = malloc(nc * 4), *rstd = malloc(N * 4);
            float *dx = dup_dev(x, 4 * nc), *dwt = dup_dev(w, 4 * C), *ddout = dup_dev(dout, 4 * nc),
                  *ddinp = dup_dev(dinp, 4 * nc), *ddw = dup_dev(dw, 4 * C), *dout_f = dup_dev(out, 4 * nc),
                  *drstd = dup_dev(rstd, 4 * N);
            rmsnorm_forward(out, rstd, x, w, NULL, N, C, 1e-6f, wo);
            CHECK(cuda_rmsnorm_forward(dout_f, drstd, dx, dwt, NULL, N, C, 1e-6f, wo, 0) == cudaSuccess);
            compare(OP_RMS_FWD, "out", N, C, dout_f, out, nc);
            compare(OP_RMS_FWD, "rstd", N, C, drstd, rstd, N);
            rmsnorm_resid(out, x, w, dx, dwt, dout_f, N, C, wo);
            /* The backward from the CPU's rstd, so only the backward's own rounding is measured. */
            cudaMemcpy(drstd, rstd, 4 * N, cudaMemcpyHostToDevice);
            size_t wsb = cuda_rmsnorm_backward_workspace(N, C);
            void *ws = NULL;
            cudaMalloc(&ws, wsb);
            rmsnorm_backward(dinp, dw, dout, x, w, rstd, N, C, wo);
            CHECK(cuda_rmsnorm_backward(ddinp, ddw, ddout, dx, dwt, drstd, N, C, wo, ws, wsb, 0) == cudaSuccess);
            CHECK(cuda_rmsnorm_backward(ddinp, ddw, ddout, dx, dwt, drstd, N, C, wo, ws, wsb - 1, 0) ==
                  cudaErrorInvalidValue);
            compare(OP_RMS_BWD, "dinp", N, C, ddinp, dinp, nc);
            compare(OP_RMS_BWD, "dw", N, C, ddw, dw, C);
            cudaFree(ws), cudaFree(dx), cudaFree(dwt), cudaFree(ddout), cudaFree(ddinp), cudaFree(ddw);
            cudaFree(dout_f), cudaFree(drstd);
            free(x), free(w), free(dout), free(dinp), free(dw), free(out), free(rstd);
        }
}

static void test_glu(void) {
    for (size_t k = 0; k < sizeof kLens / sizeof *kLens; k++) {
        size_t n = kLens[k];
        float *gate = randv(n, 6.0f), *up = randv(n, 2.0f), *dout = randv(n, 1.0f);
        float *out = malloc(4 * n), *dg = malloc(4 * n), *du = malloc(4 * n);
        float *d_gate = dup_dev(gate, 4 * n), *d_up = dup_dev(up, 4 * n), *d_dout = dup_dev(dout, 4 * n);
        float *d_out = dup_dev(out, 4 * n), *d_dg = dup_dev(dg, 4 * n), *d_du = dup_dev(du, 4 * n);
        for (int op = OP_SWIGLU; op <= OP_GEGLU; op++) {
            int swi = op == OP_SWIGLU;
            (swi ? swiglu_forward : geglu_forward)(out, gate, up, n);
            CHECK((swi ? cuda_swiglu_forward : cuda_geglu_forward)(d_out, d_gate, d_up, n, 0) == cudaSuccess);
            compare(op, "out", (int)n, 0, d_out, out, n);
            (swi ? swiglu_backward : geglu_backward)(dg, du, dout, gate, up, n);
            CHECK((swi ? cuda_swiglu_backward : cuda_geglu_backward)(d_dg, d_du, d_dout, d_gate, d_up, n, 0) ==
                  cudaSuccess);
            compare(op, "dgate", (int)n, 0, d_dg, dg, n);
            compare(op, "dup", (int)n, 0, d_du, du, n);
        }
        cudaFree(d_gate), cudaFree(d_up), cudaFree(d_dout), cudaFree(d_out), cudaFree(d_dg), cudaFree(d_du);
        free(gate), free(up), free(dout), free(out), free(dg), free(du);
    }
}

static void test_crossentropy(void) {
    for (size_t ri = 0; ri < 3; ri++)
        for (int vi = 0; vi < NSHAPES; vi++) {
            int N = kRows[ri], V = kWidths[vi], Vp = V + 3;
            float *logits = randv((size_t)N * Vp, 8.0f), *mask = malloc(4 * N), *losses = malloc(4 * N),
                  *lse = malloc(4 * N);
            int32_t *targets = malloc(4 * N);
            for (int i = 0; i < N; i++) {
                for (int j = V; j < Vp; j++) logits[(size_t)i * Vp + j] = 1e30f; /* padding: must be ignored */
                targets[i] = (int32_t)((i * 7919u) % (unsigned)V);
                mask[i] = i % 3 == 1 ? 0.0f : 1.0f;
            }
            float *d_logits = dup_dev(logits, 4 * (size_t)N * Vp), *d_mask = dup_dev(mask, 4 * N),
                  *d_losses = dup_dev(losses, 4 * N), *d_lse = dup_dev(lse, 4 * N);
            int32_t *d_targets = dup_dev(targets, 4 * N);
            for (int masked = 0; masked < 2; masked++) {
                crossentropy_forward(losses, lse, logits, targets, masked ? mask : NULL, N, V, Vp);
                CHECK(cuda_crossentropy_forward(d_losses, d_lse, d_logits, d_targets, masked ? d_mask : NULL, N, V, Vp,
                                                0) == cudaSuccess);
                compare(OP_CE, "lse", N, V, d_lse, lse, N);
                compare(OP_CE, "losses", N, V, d_losses, losses, N);
            }
            cudaFree(d_logits), cudaFree(d_mask), cudaFree(d_losses), cudaFree(d_lse), cudaFree(d_targets);
            free(logits), free(mask), free(losses), free(lse), free(targets);
        }
}

/* Every combination of bias, residual (aliasing out, as the model uses it), dbias and dinp
 * accumulation; rows N = B*T; dw and dbias accumulate onto non-zero values. */
static void test_matmul(void) {
    static const int dims[][3] = {{1, 1, 1}, {7, 31, 33}, {33, 100, 7}, {130, 33, 100}};
    for (size_t k = 0; k < sizeof dims / sizeof *dims; k++) {
        int N = dims[k][0], C = dims[k][1], OC = dims[k][2];
        size_t ni = (size_t)N * C, no = (size_t)N * OC, nw = (size_t)OC * C;
        float *inp = randv(ni, 1.0f), *w = randv(nw, 0.5f), *bias = randv(OC, 1.0f), *out = randv(no, 1.0f);
        float *dout = randv(no, 1.0f), *dinp = randv(ni, 1.0f), *dw = randv(nw, 1.0f), *db = randv(OC, 1.0f);
        float *d_inp = dup_dev(inp, 4 * ni), *d_w = dup_dev(w, 4 * nw), *d_bias = dup_dev(bias, 4 * OC);
        float *d_dout = dup_dev(dout, 4 * no);
        size_t wsb = cuda_matmul_backward_workspace(N, OC);
        void *ws = scratch_dev(wsb);
        for (int variant = 0; variant < 4; variant++) {
            int with_bias = variant & 1, with_resid = variant >> 1;
            float *d_out = dup_dev(out, 4 * no);
            matmul_forward(out, inp, w, with_bias ? bias : NULL, with_resid ? out : NULL, 1, N, C, OC);
            CHECK(cuda_matmul_forward(d_out, d_inp, d_w, with_bias ? d_bias : NULL, with_resid ? d_out : NULL, N, C,
                                      OC, 0) == cudaSuccess);
            compare(OP_MM_FWD, "out", N, OC, d_out, out, no);
            cudaFree(d_out);
            float *d_dinp = dup_dev(dinp, 4 * ni), *d_dw = dup_dev(dw, 4 * nw), *d_db = dup_dev(db, 4 * OC);
            int acc = variant & 1;
            matmul_backward(dinp, dw, with_resid ? db : NULL, dout, inp, w, 1, N, C, OC, acc);
            CHECK(cuda_matmul_backward(d_dinp, d_dw, with_resid ? d_db : NULL, d_dout, d_inp, d_w, N, C, OC, acc, ws,
                                       wsb, 0) == cudaSuccess);
            compare(OP_MM_BWD, "dinp", N, C, d_dinp, dinp, ni);
            compare(OP_MM_BWD, "dw", OC, C, d_dw, dw, nw);
            compare(OP_MM_BWD, "dbias", N, OC, d_db, db, OC);
            cudaFree(d_dinp), cudaFree(d_dw), cudaFree(d_db);
        }
        /* too little scratch for the bias gradient: refused before anything is written */
        CHECK(cuda_matmul_backward(d_inp, d_w, d_bias, d_dout, d_inp, d_w, N, C, OC, 0, ws, wsb - 1, 0) ==
              cudaErrorInvalidValue);
        cudaFree(d_inp), cudaFree(d_w), cudaFree(d_bias), cudaFree(d_dout), cudaFree(ws);
        free(inp), free(w), free(bias), free(out), free(dout), free(dinp), free(dw), free(db);
    }
}

/* A copy of x[n] rounded to bf16 and widened back (what a bf16 operand holds). */
static float *bf16_rounded(const float *x, size_t n) {
    float *r = malloc(n * sizeof(float) + 4);
    for (size_t i = 0; i < n; i++) r[i] = bf16_to_f32(bf16_from_f32(x[i]));
    return r;
}

/* bf16 mixed precision: the CPU's fp32 matmul over the bf16-rounded operands (the weight, the
 * input activations and, backward, dout) is the reference; only the summation order differs. */
static void test_matmul_bf16(void) {
    static const int dims[][3] = {{1, 1, 1}, {7, 31, 33}, {130, 33, 100}};
    for (size_t k = 0; k < sizeof dims / sizeof *dims; k++) {
        int N = dims[k][0], C = dims[k][1], OC = dims[k][2];
        size_t ni = (size_t)N * C, no = (size_t)N * OC, nw = (size_t)OC * C;
        float *inp = randv(ni, 1.0f), *w = randv(nw, 0.5f), *bias = randv(OC, 1.0f), *out = randv(no, 1.0f);
        float *dout = randv(no, 1.0f), *dinp = randv(ni, 1.0f), *dw = randv(nw, 1.0f), *db = randv(OC, 1.0f);
        float *inp_r = bf16_rounded(inp, ni), *w_r = bf16_rounded(w, nw), *dout_r = bf16_rounded(dout, no);
        uint16_t *w16 = malloc(2 * nw);
        for (size_t i = 0; i < nw; i++) w16[i] = bf16_from_f32(w[i]);
        float *d_inp = dup_dev(inp, 4 * ni), *d_bias = dup_dev(bias, 4 * OC), *d_dout = dup_dev(dout, 4 * no);
        float *d_out = dup_dev(out, 4 * no), *d_dinp = dup_dev(dinp, 4 * ni), *d_dw = dup_dev(dw, 4 * nw);
        float *d_db = dup_dev(db, 4 * OC);
        uint16_t *d_w16 = dup_dev(w16, 2 * nw);
        size_t wsb = cuda_matmul_bf16_workspace(N, C, OC);
        void *ws = scratch_dev(wsb);
        matmul_forward(out, inp_r, w_r, bias, out, 1, N, C, OC);
        CHECK(cuda_matmul_forward_bf16(d_out, d_inp, d_w16, d_bias, d_out, N, C, OC, ws, wsb, 0) == cudaSuccess);
        compare(OP_MM16_FWD, "out", N, OC, d_out, out, no);
        /* Backward: the products use dout's bf16 rounding, the bias gradient sums the fp32 dout. */
        matmul_backward(dinp, dw, NULL, dout_r, inp_r, w_r, 1, N, C, OC, 1);
        for (int c = 0; c < OC; c++)
            for (int r = 0; r < N; r++) db[c] += dout[(size_t)r * OC + c];
        CHECK(cuda_matmul_backward_bf16(d_dinp, d_dw, d_db, d_dout, d_inp, d_w16, N, C, OC, 1, ws, wsb, 0) ==
              cudaSuccess);
        compare(OP_MM16_BWD, "dinp", N, C, d_dinp, dinp, ni);
        compare(OP_MM16_BWD, "dw", OC, C, d_dw, dw, nw);
        compare(OP_MM16_BWD, "dbias", N, OC, d_db, db, OC);
        CHECK(cuda_matmul_backward_bf16(d_dinp, d_dw, d_db, d_dout, d_inp, d_w16, N, C, OC, 1, ws, wsb - 1, 0) ==
              cudaErrorInvalidValue);
        cudaFree(d_inp), cudaFree(d_bias), cudaFree(d_dout), cudaFree(d_out), cudaFree(d_dinp), cudaFree(d_dw);
        cudaFree(d_db), cudaFree(d_w16), cudaFree(ws);
        free(inp), free(w), free(bias), free(out), free(dout), free(dinp), free(dw), free(db);
        free(inp_r), free(w_r), free(dout_r), free(w16);
    }
}

static void test_ops(void) {
    test_adamw();
    test_adamw_multi();
    test_adamw_multi_stride();
    test_rmsnorm();
    test_glu();
    test_crossentropy();
    test_matmul();
    test_matmul_bf16();
}

#ifdef RESTPG_SIMT_EMU
cudaError_t probe_neighbour(float *out, const float *in, int blocks, int threads, int with_barrier);
cudaError_t probe_warp_ops(int *out, int threads);
cudaError_t probe_bad_warp(float *out);
cudaError_t probe_atomic(int *count, float *sum, int blocks, int threads);

/* Whether the neighbour kernel gave in[t + 1] everywhere under the current order. */
static int neighbour_ok(int with_barrier) {
    enum { B = 3, T = 100 };
    float in[B * T], out[B * T];
    for (int i = 0; i < B * T; i++) in[i] = (float)i;
    CHECK(probe_neighbour(out, in, B, T, with_barrier) == cudaSuccess);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            if (out[b * T + t] != in[b * T + (t + 1 < T ? t + 1 : t)]) return 0;
    return 1;
}

/* The racy kernel fails under forward and random orders (the reader runs before the writer)
 * and happens to pass in reverse, which is why all three orders are run; with the barrier it
 * passes under all. */
static void test_race_detection(void) {
    simt_emu_set_order(SIMT_ORDER_FORWARD, 0);
    CHECK(!neighbour_ok(0));
    CHECK(neighbour_ok(1));
    simt_emu_set_order(SIMT_ORDER_REVERSE, 0);
    CHECK(neighbour_ok(0));
    CHECK(neighbour_ok(1));
    for (uint64_t seed = 1; seed <= 3; seed++) {
        simt_emu_set_order(SIMT_ORDER_RANDOM, seed);
        CHECK(!neighbour_ok(0));
        CHECK(neighbour_ok(1));
    }
}

static void test_warp_ops(void) {
    enum { T = 64 };
    int out[7 * T];
    CHECK(probe_warp_ops(out, T) == cudaSuccess);
    for (int t = 0; t < T; t++) {
        int seg = t & ~15, *o = out + 7 * t;
        CHECK(o[0] == seg + 3);
        CHECK(o[1] == (t ^ 5));
        CHECK(o[2] == ((t & 15) + 2 < 16 ? t + 2 : t));
        CHECK(o[3] == ((t & 15) >= 1 ? t - 1 : t));
        CHECK((unsigned)o[4] == 0xaaaaaaaau);
        CHECK(o[5] == 1 && o[6] == 1);
    }
    int count = 0;
    float sum = 0.0f;
    CHECK(probe_atomic(&count, &sum, 3, 96) == cudaSuccess);
    CHECK(count == 288 && sum == 144.0f);
    float bad[32];
    CHECK(probe_bad_warp(bad) == cudaErrorLaunchFailure);
    CHECK(strstr(simt_emu_last_message(), "lane 5") != NULL);
    CHECK(cudaGetLastError() == cudaSuccess); /* the error was reported once */
}
#endif

int main(void) {
#ifdef RESTPG_SIMT_EMU
    test_race_detection();
    test_warp_ops();
#endif
    if (cuda_test_run(test_ops, 42, "test_cuda_gpu")) return 77;
    for (int op = 0; op < NOPS; op++)
        printf("%-22s max error %.3g (tolerance %.3g)\n", kOpName[op], worst[op], kTol[op]);
    return test_summary("test_cuda_emu");
}

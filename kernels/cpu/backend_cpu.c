/* The CPU backend: kernels/backend.h's ops table over the CPU kernels of this folder. Device
 * memory is host memory (64-byte aligned for the vector loops and sgemm); the ops that the CPU
 * kernels define as void cannot fail and return RP_OK; the collectives are MPI's (comm_cpu.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu/comm_cpu.h"
#include "kernels/cpu/decoder.h"
#include "kernels/cpu/ops.h"

static int cpu_alloc(size_t bytes, void **out, Error *e) {
    size_t n = (bytes + 63) / 64 * 64;
    *out = aligned_alloc(64, n ? n : 64);
    if (!*out) return error_set(e, RP_ENOMEM, "out of memory allocating %zu bytes", n);
    memset(*out, 0, n);
    return RP_OK;
}

static void cpu_free(void *p) { free(p); }

/* The host's MemAvailable and MemTotal (/proc/meminfo); 0 where it cannot be read. */
static int cpu_mem_info(size_t *free_bytes, size_t *total_bytes, Error *e) {
    (void)e;
    *free_bytes = *total_bytes = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return RP_OK;
    char line[256];
    unsigned long long kb;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) *free_bytes = (size_t)kb * 1024;
        if (sscanf(line, "MemTotal: %llu kB", &kb) == 1) *total_bytes = (size_t)kb * 1024;
    }
    fclose(f);
    return RP_OK;
}

static int cpu_copy(void *dst, const void *src, size_t bytes, Error *e) {
    (void)e;
    if (bytes) memcpy(dst, src, bytes);
    return RP_OK;
}

/* Large buffers are zeroed in parallel blocks of 4 MiB. */
static int cpu_zero(void *dst, size_t bytes, Error *e) {
    (void)e;
    size_t block = (size_t)4 << 20, nblocks = (bytes + block - 1) / block;
#pragma omp parallel for schedule(static) if (nblocks > 1)
    for (size_t b = 0; b < nblocks; b++) {
        size_t i0 = b * block;
        memset((char *)dst + i0, 0, bytes - i0 < block ? bytes - i0 : block);
    }
    return RP_OK;
}

static int cpu_add(float *a, const float *b, size_t n, Error *e) {
    (void)e;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) a[i] += b[i];
    return RP_OK;
}

static int cpu_encoder_forward(float *out, const int32_t *tokens, const float *wte, const float *wpe, int B, int T,
                               int C, Error *e) {
    (void)e;
    encoder_forward(out, tokens, wte, wpe, B, T, C);
    return RP_OK;
}

static int cpu_encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *tokens, int B, int T, int C,
                                Error *e) {
    (void)e;
    encoder_backward(dwte, dwpe, dout, tokens, B, T, C);
    return RP_OK;
}

static int cpu_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                                 int N, int C, Error *e) {
    (void)e;
    layernorm_forward(out, mean, rstd, inp, w, b, N, C);
    return RP_OK;
}

static int cpu_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                                  const float *mean, const float *rstd, int N, int C, Error *e) {
    (void)e;
    layernorm_backward(dinp, dw, db, dout, inp, w, mean, rstd, N, C);
    return RP_OK;
}

static int cpu_matmul_forward(float *out, const float *inp, const float *w, const float *bias, const float *resid, int B,
                              int T, int C, int OC, Error *e) {
    (void)e;
    matmul_forward(out, inp, w, bias, resid, B, T, C, OC);
    return RP_OK;
}

static int cpu_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w,
                               int B, int T, int C, int OC, int accumulate_dinp, Error *e) {
    (void)e;
    matmul_backward(dinp, dw, dbias, dout, inp, w, B, T, C, OC, accumulate_dinp);
    return RP_OK;
}

static int cpu_gelu_forward(float *out, const float *inp, size_t n, Error *e) {
    (void)e;
    gelu_forward(out, inp, n);
    return RP_OK;
}

static int cpu_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n, Error *e) {
    (void)e;
    gelu_backward(dinp, inp, dout, n);
    return RP_OK;
}

static int cpu_crossentropy_forward(float *losses, float *lse, const float *logits, const int32_t *targets,
                                    const float *mask, int N, int V, int Vp, Error *e) {
    (void)e;
    crossentropy_forward(losses, lse, logits, targets, mask, N, V, Vp);
    return RP_OK;
}

static int cpu_crossentropy_backward(float *logits, const float *lse, const int32_t *targets, const float *dloss, int N,
                                     int V, int Vp, Error *e) {
    (void)e;
    crossentropy_backward(logits, lse, targets, dloss, N, V, Vp);
    return RP_OK;
}

static int cpu_lmhead_backward(float *dx, float *dwte, float *dlogits, const float *x, const float *wte,
                               const float *dloss, int B, int T, int C, int Vp, float *scratch, Error *e) {
    (void)e;
    lmhead_backward(dx, dwte, dlogits, x, wte, dloss, B, T, C, Vp, scratch);
    return RP_OK;
}

static int cpu_crossentropy_chunk_forward(float *losses, float *lse, float *stats, const float *logits_c,
                                          const int32_t *targets, const float *mask, int N, int V, int j0, int n,
                                          Error *e) {
    (void)e;
    crossentropy_chunk_forward(losses, lse, stats, logits_c, targets, mask, N, V, j0, n);
    return RP_OK;
}

static int cpu_crossentropy_chunk_backward(float *logits_c, const float *lse, const int32_t *targets,
                                           const float *dloss, int N, int j0, int n, Error *e) {
    (void)e;
    crossentropy_chunk_backward(logits_c, lse, targets, dloss, N, j0, n);
    return RP_OK;
}

static int cpu_adamw_update(float *param, const float *grad, float *m, float *v, size_t n, float lr, float beta1,
                            float beta2, float eps, float weight_decay, float grad_scale, int step, Error *e) {
    (void)e;
    adamw_update(param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, grad_scale, step);
    return RP_OK;
}

/* One adamw_update per segment: the bits of the per-tensor calls it replaces. */
static int cpu_adamw_update_multi(float *param, const float *grad, float *m, float *v, size_t moments_lo,
                                  const AdamwSegment *segs, int nseg, float lr, float beta1, float beta2, float eps,
                                  float weight_decay, float grad_scale, int step, Error *e) {
    for (int k = 0; k < nseg; k++)
        if (segs[k].n && segs[k].offset < moments_lo)
            return error_set(e, RP_EINTERNAL, "adamw_update_multi: segment %d starts at %zu, before the moments' %zu",
                             k, segs[k].offset, moments_lo);
    for (int k = 0; k < nseg; k++) {
        size_t a = segs[k].offset, mo = a - moments_lo;
        adamw_update(param + a, grad + a, m + mo, v + mo, segs[k].n, lr, beta1, beta2, eps,
                     segs[k].decays ? weight_decay : 0.0f, grad_scale, step);
    }
    return RP_OK;
}

static int cpu_sumsq(const float *g, size_t n, double *out, Error *e) {
    (void)e;
    *out = grad_sumsq(g, n);
    return RP_OK;
}

static int cpu_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, const float *resid, int N,
                               int C, float eps, float w_offset, Error *e) {
    (void)e;
    rmsnorm_forward(out, rstd, inp, w, resid, N, C, eps, w_offset);
    return RP_OK;
}

static int cpu_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                                const float *rstd, int N, int C, float w_offset, Error *e) {
    (void)e;
    rmsnorm_backward(dinp, dw, dout, inp, w, rstd, N, C, w_offset);
    return RP_OK;
}

static int cpu_rope_forward(float *x, int B, int T, int NH, int hd, const RopeSpec *rope, Error *e) {
    (void)e;
    rope_forward(x, B, T, NH, hd, rope);
    return RP_OK;
}

static int cpu_rope_backward(float *dx, int B, int T, int NH, int hd, const RopeSpec *rope, Error *e) {
    (void)e;
    rope_backward(dx, B, T, NH, hd, rope);
    return RP_OK;
}

static int cpu_geglu_forward(float *out, const float *gate, const float *up, size_t n, Error *e) {
    (void)e;
    geglu_forward(out, gate, up, n);
    return RP_OK;
}

static int cpu_geglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                              size_t n, Error *e) {
    (void)e;
    geglu_backward(dgate, dup, dout, gate, up, n);
    return RP_OK;
}

static int cpu_swiglu_forward(float *out, const float *gate, const float *up, size_t n, Error *e) {
    (void)e;
    swiglu_forward(out, gate, up, n);
    return RP_OK;
}

static int cpu_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                               size_t n, Error *e) {
    (void)e;
    swiglu_backward(dgate, dup, dout, gate, up, n);
    return RP_OK;
}

static int cpu_embedding_forward(float *out, const int32_t *tokens, const float *wte, float scale, int N, int C,
                                 Error *e) {
    (void)e;
    embedding_forward(out, tokens, wte, scale, N, C);
    return RP_OK;
}

static int cpu_embedding_backward(float *dwte, const float *dout, const int32_t *tokens, float scale, int N, int C,
                                  Error *e) {
    (void)e;
    embedding_backward(dwte, dout, tokens, scale, N, C);
    return RP_OK;
}

static const BackendOps CPU = {
    .name = "cpu",
    .host_memory = 1,
    .set_threads = kernels_set_threads,
    .threads = kernels_threads,
    .mem_info = cpu_mem_info,
    .alloc = cpu_alloc,
    .free = cpu_free,
    .upload = cpu_copy,
    .download = cpu_copy,
    .zero = cpu_zero,
    .copy = cpu_copy,
    .add = cpu_add,
    .encoder_forward = cpu_encoder_forward,
    .encoder_backward = cpu_encoder_backward,
    .layernorm_forward = cpu_layernorm_forward,
    .layernorm_backward = cpu_layernorm_backward,
    .matmul_forward = cpu_matmul_forward,
    .matmul_backward = cpu_matmul_backward,
    .attention_workspace = attention_workspace,
    .attention_forward = attention_forward,
    .attention_backward = attention_backward,
    .gelu_forward = cpu_gelu_forward,
    .gelu_backward = cpu_gelu_backward,
    .crossentropy_forward = cpu_crossentropy_forward,
    .crossentropy_backward = cpu_crossentropy_backward,
    .lmhead_backward = cpu_lmhead_backward,
    .crossentropy_chunk_forward = cpu_crossentropy_chunk_forward,
    .crossentropy_chunk_backward = cpu_crossentropy_chunk_backward,
    .adamw_update = cpu_adamw_update,
    .sumsq = cpu_sumsq,
    .adamw_update_multi = cpu_adamw_update_multi,
    .decoder_bytes = cpu_decoder_bytes,
    .decoder_init = cpu_decoder_init,
    .decoder_free = cpu_decoder_free,
    .decoder_prefill = cpu_decoder_prefill,
    .decoder_attach = cpu_decoder_attach,
    .decoder_decode = cpu_decoder_decode,
    .rmsnorm_forward = cpu_rmsnorm_forward,
    .rmsnorm_backward = cpu_rmsnorm_backward,
    .rope_forward = cpu_rope_forward,
    .rope_backward = cpu_rope_backward,
    .geglu_forward = cpu_geglu_forward,
    .geglu_backward = cpu_geglu_backward,
    .swiglu_forward = cpu_swiglu_forward,
    .swiglu_backward = cpu_swiglu_backward,
    .embedding_forward = cpu_embedding_forward,
    .embedding_backward = cpu_embedding_backward,
    .attention_gqa_workspace = attention_gqa_workspace,
    .attention_gqa_forward = attention_gqa_forward,
    .attention_gqa_backward = attention_gqa_backward,
    .comm_init = cpu_comm_init,
    .comm_free = cpu_comm_free,
    .allreduce_sum = cpu_allreduce_sum,
    .reduce_scatter_sum = cpu_reduce_scatter_sum,
    .all_gather = cpu_all_gather,
    .send = cpu_send,
    .recv = cpu_recv,
    .allreduce_sum_start = cpu_allreduce_sum_start,
    .comm_wait = cpu_comm_wait,
};

const BackendOps *cpu_backend(void) { return &CPU; }

/* The CUDA backend: kernels/backend.h's BackendOps over device memory, each op one or a few
 * kernels of kernels/cuda (ops_cuda.h) queued on the default stream, so the ops run in the order
 * they are called and a download waits for them. Compiled twice like every .cu: with nvcc for
 * the device, and against the SIMT emulation, where "device memory" is host memory the CPU code
 * still never touches (host_memory stays 0 so every staging path of the callers runs) and the
 * kernels run as fibers: the emulated backend lets the tests run a whole training step, a
 * checkpoint round trip and the pipeline on this table without a GPU.
 *
 * Device choice: one GPU per rank, the node-local rank's (comm_local_rank), among the devices
 * CUDA_VISIBLE_DEVICES leaves visible; more ranks on a node than devices is refused, since two
 * ranks on one GPU would share its memory and NCCL refuses them.
 *
 * Scratch: where a BackendOps signature passes none (the backwards of the norms, embeddings and
 * bias, sumsq) or the kernel chosen decides its size (attention), the backend takes it from one device buffer of
 * its own that grows to the largest request and then stays: the first training step allocates,
 * later ones do not.
 *
 * Mixed precision (set_compute_dtype bf16): the model's parameter buffer gets a bf16 mirror. Every
 * write into the buffer passes through this table: AdamW writes the mirror's slice in its own
 * pass; an upload, copy, zero or add marks the mirror stale and the next product that reads it
 * rounds the whole buffer again (a checkpoint load, say). A matmul whose weight lies in the buffer
 * then runs on bf16 operands (cuda_matmul_*_bf16), and attention on the tensor-core kernels.
 *
 * Determinism: the kernels' (ops_cuda.h): bitwise reproducible run to run on one device type and
 * shape; the matmuls are cuBLASLt's, deterministic for a given shape. Unlike the CPU backend, a
 * row's result may depend on how many rows share the call (cuBLASLt picks its algorithm by
 * shape), so micro-batch splits agree only within float tolerance. */
#include "kernels/cuda/backend_cuda.h"

#include <math.h>
#include <string.h>

#include "core/comm.h"
#include "core/log.h"
#include "kernels/cpu/ops.h"
#include "kernels/cuda/ops_cuda.h"

/* An Error from a failed CUDA call (with the emulation's diagnosis when there is one). */
static int ck(cudaError_t err, const char *what, Error *e) {
    if (err == cudaSuccess) return RP_OK;
#ifdef RESTPG_SIMT_EMU
    const char *why = simt_emu_last_message();
#else
    const char *why = "";
#endif
    return error_set(e, err == cudaErrorMemoryAllocation ? RP_ENOMEM : RP_EINTERNAL, "cuda %s: %s%s%s", what,
                     cudaGetErrorString(err), why[0] ? ": " : "", why);
}

static void *g_scratch;
static size_t g_scratch_bytes;

static int scratch(size_t bytes, void **out, Error *e) {
    if (bytes > g_scratch_bytes) {
        cudaFree(g_scratch);
        g_scratch = NULL;
        g_scratch_bytes = 0;
        if (ck(cudaMalloc(&g_scratch, bytes), "scratch", e)) return error_wrap(e, "%zu bytes of op scratch", bytes);
        g_scratch_bytes = bytes;
    }
    *out = g_scratch;
    return RP_OK;
}

static int g_device = -1;

static int cuda_init(Error *e) {
    if (g_device >= 0) return RP_OK;
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess || n < 1)
        return error_set(e, RP_EINPUT, "no CUDA device is visible (%s); check the driver and CUDA_VISIBLE_DEVICES",
                         err != cudaSuccess ? cudaGetErrorString(err) : "cudaGetDeviceCount found 0");
    int local = comm_local_rank(), nlocal = comm_local_ranks();
    if (nlocal > n)
        return error_set(e, RP_EINPUT,
                         "%d ranks on this node but %d visible CUDA device(s): run one rank per GPU (Slurm: "
                         "--ntasks-per-node equal to --gpus-per-node; mpirun: --npernode %d)",
                         nlocal, n, n);
    if (ck(cudaSetDevice(local), "cudaSetDevice", e)) return error_wrap(e, "device %d of %d", local, n);
    size_t free_b = 0, total_b = 0;
    if (ck(cudaMemGetInfo(&free_b, &total_b), "cudaMemGetInfo", e)) return RP_EINTERNAL;
    g_device = local;
    log_info("cuda: %d rank(s) per node, each on the GPU of its node-local rank (%d visible); %.1f of %.1f GiB free%s",
             nlocal, n, free_b / 1073741824.0, total_b / 1073741824.0,
#ifdef RESTPG_SIMT_EMU
             " (SIMT emulation on the CPU)"
#else
             ""
#endif
    );
    return RP_OK;
}

/* ---- the bf16 mirror of the parameters (mixed precision) ---- */

static struct {
    const float *base; /* the registered parameter buffer, NULL when off */
    size_t n;
    uint16_t *m16; /* its bf16 copy */
    int stale;     /* written since the copy was made */
} g_mirror;

static void mirror_off(void) {
    cudaFree(g_mirror.m16);
    memset(&g_mirror, 0, sizeof g_mirror);
}

static int in_mirror(const void *p) {
    const float *f = (const float *)p;
    return g_mirror.base && f >= g_mirror.base && f < g_mirror.base + g_mirror.n;
}

/* A write of bytes at dst: the copy is stale if the write touches the buffer. */
static void mirror_touch(const void *dst, size_t bytes) {
    if (!g_mirror.base) return;
    const char *a = (const char *)dst, *b = (const char *)g_mirror.base;
    if (a < b + g_mirror.n * sizeof(float) && b < a + bytes) g_mirror.stale = 1;
}

/* The bf16 copy of weight w (in the buffer), current; NULL (no error) when w is not mirrored. */
static int mirror_of(const float *w, const uint16_t **out, Error *e) {
    *out = NULL;
    if (!in_mirror(w)) return RP_OK;
    if (g_mirror.stale) {
        if (ck(cuda_to_bf16(g_mirror.m16, g_mirror.base, g_mirror.n, 0), "bf16 copy of the parameters", e))
            return RP_EINTERNAL;
        g_mirror.stale = 0;
    }
    *out = g_mirror.m16 + (w - g_mirror.base);
    return RP_OK;
}

static int op_set_compute_dtype(const float *params, size_t n, DType dt, Error *e) {
    mirror_off();
    if (dt == DTYPE_F32 || !params || !n) return RP_OK;
    if (ck(cudaMalloc((void **)&g_mirror.m16, n * sizeof(uint16_t)), "cudaMalloc", e))
        return error_wrap(e, "the bf16 copy of %zu parameters", n);
    g_mirror.base = params;
    g_mirror.n = n;
    g_mirror.stale = 1;
    return RP_OK;
}

/* ---- memory ---- */

static int mem_info(size_t *free_bytes, size_t *total_bytes, Error *e) {
    return ck(cudaMemGetInfo(free_bytes, total_bytes), "cudaMemGetInfo", e);
}

static int mem_alloc(size_t bytes, void **out, Error *e) {
    *out = NULL;
    void *p = NULL;
    if (ck(cudaMalloc(&p, bytes ? bytes : 1), "cudaMalloc", e)) return error_wrap(e, "%zu bytes of device memory", bytes);
    if (ck(cudaMemset(p, 0, bytes), "cudaMemset", e)) {
        cudaFree(p);
        return RP_EINTERNAL;
    }
    *out = p;
    return RP_OK;
}
static void mem_free(void *p) {
    if (!p) return;
    if (p == (void *)g_mirror.base) mirror_off();
    cudaFree(p);
}
static int mem_upload(void *dst, const void *src, size_t bytes, Error *e) {
    mirror_touch(dst, bytes);
    return ck(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "upload", e);
}
static int mem_download(void *dst, const void *src, size_t bytes, Error *e) {
    return ck(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "download", e);
}
static int mem_zero(void *dst, size_t bytes, Error *e) {
    mirror_touch(dst, bytes);
    return ck(cudaMemset(dst, 0, bytes), "zero", e);
}
static int mem_copy(void *dst, const void *src, size_t bytes, Error *e) {
    mirror_touch(dst, bytes);
    return ck(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice), "copy", e);
}
static int op_add(float *a, const float *b, size_t n, Error *e) {
    mirror_touch(a, n * sizeof(float));
    return ck(cuda_add(a, b, n, 0), "add", e);
}

/* ---- collectives (comm_cuda.cu); the writes into the parameters (ZeRO-1's gather, a
 * parameter broadcast by sends) make the bf16 mirror stale ---- */

static int op_allreduce_sum(float *buf, size_t n, Error *e) {
    mirror_touch(buf, n * sizeof(float));
    return cuda_allreduce_sum(buf, n, e);
}
static int op_reduce_scatter_sum(float *out, const float *in, size_t n_per_rank, Error *e) {
    mirror_touch(out, n_per_rank * sizeof(float));
    return cuda_reduce_scatter_sum(out, in, n_per_rank, e);
}
static int op_all_gather(float *out, const float *in, size_t n_per_rank, Error *e) {
    int rank = 0, world = 1;
    comm_world(&rank, &world);
    mirror_touch(out, (size_t)world * n_per_rank * sizeof(float));
    return cuda_all_gather(out, in, n_per_rank, e);
}
static int op_recv(float *buf, size_t n, int peer, Error *e) {
    mirror_touch(buf, n * sizeof(float));
    return cuda_recv(buf, n, peer, e);
}
static int op_allreduce_sum_start(float *buf, size_t n, Error *e) {
    mirror_touch(buf, n * sizeof(float));
    return cuda_allreduce_sum_start(buf, n, e);
}

/* ---- matmuls: fp32, or bf16 when the weight is mirrored ---- */

static int mm_forward(float *out, const float *inp, const float *w, const float *bias, const float *resid, int N, int C,
                      int OC, const char *what, Error *e) {
    const uint16_t *w16;
    if (mirror_of(w, &w16, e)) return RP_EINTERNAL;
    if (!w16) return ck(cuda_matmul_forward(out, inp, w, bias, resid, N, C, OC, 0), what, e);
    size_t n = cuda_matmul_bf16_workspace(N, C, OC);
    void *ws = NULL;
    if (scratch(n, &ws, e)) return RP_ENOMEM;
    return ck(cuda_matmul_forward_bf16(out, inp, w16, bias, resid, N, C, OC, ws, n, 0), what, e);
}

static int mm_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w, int N,
                       int C, int OC, int accumulate_dinp, const char *what, Error *e) {
    const uint16_t *w16;
    if (mirror_of(w, &w16, e)) return RP_EINTERNAL;
    size_t n = w16 ? cuda_matmul_bf16_workspace(N, C, OC) : dbias ? cuda_matmul_backward_workspace(N, OC) : 0;
    void *ws = NULL;
    if (n && scratch(n, &ws, e)) return RP_ENOMEM;
    if (!w16)
        return ck(cuda_matmul_backward(dinp, dw, dbias, dout, inp, w, N, C, OC, accumulate_dinp, ws, n, 0), what, e);
    return ck(cuda_matmul_backward_bf16(dinp, dw, dbias, dout, inp, w16, N, C, OC, accumulate_dinp, ws, n, 0), what, e);
}

/* ---- GPT-2 ---- */

static int op_encoder_forward(float *out, const int32_t *tokens, const float *wte, const float *wpe, int B, int T, int C,
                              Error *e) {
    return ck(cuda_encoder_forward(out, tokens, wte, wpe, B, T, C, 0), "encoder_forward", e);
}
static int op_encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *tokens, int B, int T, int C,
                               Error *e) {
    size_t n = cuda_encoder_backward_workspace(B, T, C);
    void *ws = NULL;
    if (scratch(n, &ws, e)) return RP_ENOMEM;
    return ck(cuda_encoder_backward(dwte, dwpe, dout, tokens, B, T, C, ws, n, 0), "encoder_backward", e);
}
static int op_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                                int N, int C, Error *e) {
    return ck(cuda_layernorm_forward(out, mean, rstd, inp, w, b, N, C, 0), "layernorm_forward", e);
}
static int op_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                                 const float *mean, const float *rstd, int N, int C, Error *e) {
    size_t n = cuda_layernorm_backward_workspace(N, C);
    void *ws = NULL;
    if (scratch(n, &ws, e)) return RP_ENOMEM;
    return ck(cuda_layernorm_backward(dinp, dw, db, dout, inp, w, mean, rstd, N, C, ws, n, 0), "layernorm_backward", e);
}
static int op_matmul_forward(float *out, const float *inp, const float *w, const float *bias, const float *resid, int B,
                             int T, int C, int OC, Error *e) {
    return mm_forward(out, inp, w, bias, resid, B * T, C, OC, "matmul_forward", e);
}
static int op_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w,
                              int B, int T, int C, int OC, int accumulate_dinp, Error *e) {
    return mm_backward(dinp, dw, dbias, dout, inp, w, B * T, C, OC, accumulate_dinp, "matmul_backward", e);
}
/* Attention: the flash kernels over strided q, k, v (GPT-2's packed qkv is q = qkv, k = qkv + C,
 * v = qkv + 2C, strides 3C, NKV = NH). With bf16 mixed precision on and a head dim the tensor
 * cores take (a multiple of 16 up to 256), the tensor-core kernels; else the fp32 ones. The
 * backward's workspace depends on the kernel, so it comes from the backend's scratch for both
 * layouts and the workspace queries say 0. */
static int use_tc(int hd) { return g_mirror.base && hd % 16 == 0 && hd <= 256; }

static int attn_forward(float *out, float *lse, const float *q, const float *k, const float *v, int B, int T, int NH,
                        int NKV, int hd, int qs, int kvs, int window, float scale, Error *e) {
    if (use_tc(hd))
        return ck(cuda_attention_tc_forward(out, lse, q, k, v, B, T, NH, NKV, hd, qs, kvs, window, scale, 0),
                  "attention_forward (tensor cores)", e);
    return ck(cuda_attention_forward(out, lse, q, k, v, B, T, NH, NKV, hd, qs, kvs, window, scale, 0),
              "attention_forward", e);
}

static int attn_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                         const float *v, const float *out, const float *lse, int B, int T, int NH, int NKV, int hd,
                         int qs, int kvs, int window, float scale, Error *e) {
    int tc = use_tc(hd);
    size_t n = tc ? cuda_attention_tc_workspace(B, T, NH) : cuda_attention_workspace(B, T, NH);
    void *ws = NULL;
    if (scratch(n, &ws, e)) return RP_ENOMEM;
    if (tc)
        return ck(cuda_attention_tc_backward(dq, dk, dv, dout, q, k, v, out, lse, B, T, NH, NKV, hd, qs, kvs, window,
                                             scale, ws, n, 0),
                  "attention_backward (tensor cores)", e);
    return ck(cuda_attention_backward(dq, dk, dv, dout, q, k, v, out, lse, B, T, NH, NKV, hd, qs, kvs, window, scale,
                                      ws, n, 0),
              "attention_backward", e);
}

static size_t op_attention_workspace(int T) {
    (void)T;
    return 0;
}
static int op_attention_forward(float *out, float *lse, const float *qkv, int B, int T, int C, int NH, void *ws,
                                size_t ws_bytes, Error *e) {
    (void)ws, (void)ws_bytes;
    int hd = C / NH;
    return attn_forward(out, lse, qkv, qkv + C, qkv + 2 * C, B, T, NH, NH, hd, 3 * C, 3 * C, 0, 1.0f / sqrtf((float)hd),
                        e);
}
static int op_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *out, const float *lse,
                                 int B, int T, int C, int NH, void *ws, size_t ws_bytes, Error *e) {
    (void)ws, (void)ws_bytes;
    int hd = C / NH;
    return attn_backward(dqkv, dqkv + C, dqkv + 2 * C, dout, qkv, qkv + C, qkv + 2 * C, out, lse, B, T, NH, NH, hd,
                         3 * C, 3 * C, 0, 1.0f / sqrtf((float)hd), e);
}
static int op_gelu_forward(float *out, const float *inp, size_t n, Error *e) {
    return ck(cuda_gelu_forward(out, inp, n, 0), "gelu_forward", e);
}
static int op_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n, Error *e) {
    return ck(cuda_gelu_backward(dinp, inp, dout, n, 0), "gelu_backward", e);
}
static int op_crossentropy_forward(float *losses, float *lse, const float *logits, const int32_t *targets,
                                   const float *mask, int N, int V, int Vp, Error *e) {
    return ck(cuda_crossentropy_forward(losses, lse, logits, targets, mask, N, V, Vp, 0), "crossentropy_forward", e);
}
static int op_crossentropy_backward(float *logits, const float *lse, const int32_t *targets, const float *dloss, int N,
                                    int V, int Vp, Error *e) {
    return ck(cuda_crossentropy_backward(logits, lse, targets, dloss, N, V, Vp, 0), "crossentropy_backward", e);
}
static int op_crossentropy_chunk_forward(float *losses, float *lse, float *stats, const float *logits_c,
                                         const int32_t *targets, const float *mask, int N, int V, int j0, int n,
                                         Error *e) {
    return ck(cuda_crossentropy_chunk_forward(losses, lse, stats, logits_c, targets, mask, N, V, j0, n, 0),
              "crossentropy_chunk_forward", e);
}
static int op_crossentropy_chunk_backward(float *logits_c, const float *lse, const int32_t *targets,
                                          const float *dloss, int N, int j0, int n, Error *e) {
    return ck(cuda_crossentropy_chunk_backward(logits_c, lse, targets, dloss, N, j0, n, 0),
              "crossentropy_chunk_backward", e);
}
/* dlogits comes from crossentropy_backward, which zeroed the rows of dloss 0: the two plain
 * products then give those rows dx = 0 and add nothing to dwte, as the contract asks, without
 * the CPU's compaction of rows (so dloss and the scratch go unused). */
static int op_lmhead_backward(float *dx, float *dwte, float *dlogits, const float *x, const float *wte,
                              const float *dloss, int B, int T, int C, int Vp, float *scratch_unused, Error *e) {
    (void)dloss, (void)scratch_unused;
    return mm_backward(dx, dwte, NULL, dlogits, x, wte, B * T, C, Vp, 0, "lmhead_backward", e);
}

/* ---- optimizer ---- */

static int op_adamw_update(float *param, const float *grad, float *m, float *v, size_t n, float lr, float beta1,
                           float beta2, float eps, float weight_decay, float grad_scale, int step, Error *e) {
    /* A current mirror stays current: the update writes its slice too. */
    uint16_t *p16 = in_mirror(param) && !g_mirror.stale ? g_mirror.m16 + (param - g_mirror.base) : NULL;
    return ck(cuda_adamw_update(param, grad, m, v, n, lr, beta1, beta2, eps, weight_decay, grad_scale, step, p16, 0),
              "adamw_update", e);
}
static int op_adamw_update_multi(float *param, const float *grad, float *m, float *v, size_t moments_lo,
                                 const AdamwSegment *segs, int nseg, float lr, float beta1, float beta2, float eps,
                                 float weight_decay, float grad_scale, int step, Error *e) {
    uint16_t *p16 = in_mirror(param) && !g_mirror.stale ? g_mirror.m16 + (param - g_mirror.base) : NULL;
    return ck(cuda_adamw_update_multi(param, grad, m, v, moments_lo, segs, nseg, lr, beta1, beta2, eps, weight_decay,
                                      grad_scale, step, p16, 0),
              "adamw_update_multi", e);
}
static int op_sumsq(const float *g, size_t n, double *out, Error *e) {
    size_t bytes = cuda_sumsq_workspace(n);
    void *ws = NULL;
    if (scratch(bytes, &ws, e)) return RP_ENOMEM;
    return ck(cuda_sumsq(g, n, out, ws, bytes, 0), "sumsq", e);
}

/* ---- the Llama family ---- */

static int op_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, const float *resid, int N,
                              int C, float eps, float w_offset, Error *e) {
    return ck(cuda_rmsnorm_forward(out, rstd, inp, w, resid, N, C, eps, w_offset, 0), "rmsnorm_forward", e);
}
static int op_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                               const float *rstd, int N, int C, float w_offset, Error *e) {
    size_t n = cuda_rmsnorm_backward_workspace(N, C);
    void *ws = NULL;
    if (scratch(n, &ws, e)) return RP_ENOMEM;
    return ck(cuda_rmsnorm_backward(dinp, dw, dout, inp, w, rstd, N, C, w_offset, ws, n, 0), "rmsnorm_backward", e);
}
static int op_rope_forward(float *x, int B, int T, int NH, int hd, const RopeSpec *rope, Error *e) {
    return ck(cuda_rope_forward(x, B, T, NH, hd, *rope, 0), "rope_forward", e);
}
static int op_rope_backward(float *dx, int B, int T, int NH, int hd, const RopeSpec *rope, Error *e) {
    return ck(cuda_rope_backward(dx, B, T, NH, hd, *rope, 0), "rope_backward", e);
}
static int op_geglu_forward(float *out, const float *gate, const float *up, size_t n, Error *e) {
    return ck(cuda_geglu_forward(out, gate, up, n, 0), "geglu_forward", e);
}
static int op_geglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n,
                             Error *e) {
    return ck(cuda_geglu_backward(dgate, dup, dout, gate, up, n, 0), "geglu_backward", e);
}
static int op_swiglu_forward(float *out, const float *gate, const float *up, size_t n, Error *e) {
    return ck(cuda_swiglu_forward(out, gate, up, n, 0), "swiglu_forward", e);
}
static int op_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n,
                              Error *e) {
    return ck(cuda_swiglu_backward(dgate, dup, dout, gate, up, n, 0), "swiglu_backward", e);
}
static int op_embedding_forward(float *out, const int32_t *tokens, const float *wte, float scale, int N, int C,
                                Error *e) {
    return ck(cuda_embedding_forward(out, tokens, wte, scale, N, C, 0), "embedding_forward", e);
}
static int op_embedding_backward(float *dwte, const float *dout, const int32_t *tokens, float scale, int N, int C,
                                 Error *e) {
    size_t n = cuda_embedding_backward_workspace(N, C);
    void *ws = NULL;
    if (scratch(n, &ws, e)) return RP_ENOMEM;
    return ck(cuda_embedding_backward(dwte, dout, tokens, scale, N, C, ws, n, 0), "embedding_backward", e);
}
static size_t op_attention_gqa_workspace(int B, int T, int NH) {
    (void)B, (void)T, (void)NH;
    return 0;
}
static int op_attention_gqa_forward(float *out, float *lse, const float *q, const float *k, const float *v, int B, int T,
                                    int NH, int NKV, int hd, int window, float scale, void *ws, size_t ws_bytes,
                                    Error *e) {
    (void)ws, (void)ws_bytes;
    return attn_forward(out, lse, q, k, v, B, T, NH, NKV, hd, NH * hd, NKV * hd, window, scale, e);
}
static int op_attention_gqa_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                                     const float *v, const float *out, const float *lse, int B, int T, int NH, int NKV,
                                     int hd, int window, float scale, void *ws, size_t ws_bytes, Error *e) {
    (void)ws, (void)ws_bytes;
    return attn_backward(dq, dk, dv, dout, q, k, v, out, lse, B, T, NH, NKV, hd, NH * hd, NKV * hd, window, scale, e);
}

/* The table, filled field by field: C++ (nvcc) has no C designated initializers before C++20. */
const BackendOps *cuda_backend(void) {
    static BackendOps t;
    if (t.name) return &t;
    t.host_memory = 0;
    t.init = cuda_init;
    t.set_threads = kernels_set_threads;
    t.threads = kernels_threads;
    t.mem_info = mem_info;
    t.alloc = mem_alloc;
    t.free = mem_free;
    t.upload = mem_upload;
    t.download = mem_download;
    t.zero = mem_zero;
    t.copy = mem_copy;
    t.add = op_add;
    t.encoder_forward = op_encoder_forward;
    t.encoder_backward = op_encoder_backward;
    t.layernorm_forward = op_layernorm_forward;
    t.layernorm_backward = op_layernorm_backward;
    t.matmul_forward = op_matmul_forward;
    t.matmul_backward = op_matmul_backward;
    t.attention_workspace = op_attention_workspace;
    t.attention_forward = op_attention_forward;
    t.attention_backward = op_attention_backward;
    t.gelu_forward = op_gelu_forward;
    t.gelu_backward = op_gelu_backward;
    t.crossentropy_forward = op_crossentropy_forward;
    t.crossentropy_backward = op_crossentropy_backward;
    t.lmhead_backward = op_lmhead_backward;
    t.crossentropy_chunk_forward = op_crossentropy_chunk_forward;
    t.crossentropy_chunk_backward = op_crossentropy_chunk_backward;
    t.adamw_update = op_adamw_update;
    t.sumsq = op_sumsq;
    t.adamw_update_multi = op_adamw_update_multi;
    t.set_compute_dtype = op_set_compute_dtype;
    t.rmsnorm_forward = op_rmsnorm_forward;
    t.rmsnorm_backward = op_rmsnorm_backward;
    t.rope_forward = op_rope_forward;
    t.rope_backward = op_rope_backward;
    t.geglu_forward = op_geglu_forward;
    t.geglu_backward = op_geglu_backward;
    t.swiglu_forward = op_swiglu_forward;
    t.swiglu_backward = op_swiglu_backward;
    t.embedding_forward = op_embedding_forward;
    t.embedding_backward = op_embedding_backward;
    t.attention_gqa_workspace = op_attention_gqa_workspace;
    t.attention_gqa_forward = op_attention_gqa_forward;
    t.attention_gqa_backward = op_attention_gqa_backward;
    t.decoder_bytes = cuda_decoder_bytes;
    t.decoder_init = cuda_decoder_init;
    t.decoder_free = cuda_decoder_free;
    t.decoder_prefill = cuda_decoder_prefill;
    t.decoder_attach = cuda_decoder_attach;
    t.decoder_decode = cuda_decoder_decode;
    t.decoder_decode_sample = cuda_decoder_decode_sample;
    t.comm_init = cuda_comm_init;
    t.comm_free = cuda_comm_free;
    t.allreduce_sum = op_allreduce_sum;
    t.reduce_scatter_sum = op_reduce_scatter_sum;
    t.all_gather = op_all_gather;
    t.send = cuda_send;
    t.recv = op_recv;
    t.allreduce_sum_start = op_allreduce_sum_start;
    t.comm_wait = cuda_comm_wait;
    t.name = "cuda";
    return &t;
}

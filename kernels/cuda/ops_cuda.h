/* The CUDA backend's ops (kernels/cuda), callable from C: each is the CPU op of the same
 * name after the cuda_ prefix (kernels/cpu/ops.h gives the contract: shapes, aliasing,
 * accumulation), on device pointers, queued on stream (in the SIMT emulation, run at once).
 * Each returns the launch's status (cudaGetLastError), cudaErrorInvalidValue for scratch that is
 * too small; scratch comes from the caller, sized by the *_workspace query.
 *
 * Determinism: no float atomics; every reduction has a fixed order that depends only on the
 * shapes (warp butterflies, then the warps' partials in warp order; column sums over fixed
 * chunks of rows summed in chunk order), so results are bitwise reproducible on one device
 * type. They differ from the CPU op by float rounding (another summation order, FMA
 * contraction on the device); docs/cuda.md states each op's tolerance. */
#ifndef RESTPG_KERNELS_CUDA_OPS_CUDA_H
#define RESTPG_KERNELS_CUDA_OPS_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/backend.h"
#include "kernels/cuda/simt_api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* AdamW, kernels/cpu/ops.h's formulation; the update is made of explicitly rounded operations
 * in the CPU's order, so it is bitwise the CPU's. param16 (may be NULL): the parameters' bf16
 * working copy, written in the same pass (mixed precision). */
cudaError_t cuda_adamw_update(float *param, const float *grad, float *m, float *v, size_t n, float lr, float beta1,
                              float beta2, float eps, float weight_decay, float grad_scale, int step,
                              uint16_t *param16, cudaStream_t stream);

/* AdamW over segments of one buffer (BackendOps.adamw_update_multi's contract): up to 64
 * non-empty segments a launch, the table in the kernel's arguments; each element bitwise
 * cuda_adamw_update's (and the CPU's). param16 (may be NULL): the bf16 copy of the whole buffer
 * param points at, written in the same pass. A segment starting before moments_lo is
 * cudaErrorInvalidValue. */
cudaError_t cuda_adamw_update_multi(float *param, const float *grad, float *m, float *v, size_t moments_lo,
                                    const AdamwSegment *segs, int nseg, float lr, float beta1, float beta2, float eps,
                                    float weight_decay, float grad_scale, int step, uint16_t *param16,
                                    cudaStream_t stream);

/* RMSNorm with the (w_offset + w) weight, plus resid when it is not NULL (the residual added
 * without contraction into an FMA, so the sum is rounded as a separate add would round it); one
 * block per row. out may alias inp or resid. */
cudaError_t cuda_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, const float *resid, int N,
                                 int C, float eps, float w_offset, cudaStream_t stream);
/* Scratch of the backward: the weight gradient's partial column sums, one row per chunk of
 * rows. */
size_t cuda_rmsnorm_backward_workspace(int N, int C);
/* Accumulates dinp and dw. */
cudaError_t cuda_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                                  const float *rstd, int N, int C, float w_offset, void *ws, size_t ws_bytes,
                                  cudaStream_t stream);

/* The gated activations, elementwise over n. */
cudaError_t cuda_swiglu_forward(float *out, const float *gate, const float *up, size_t n, cudaStream_t stream);
cudaError_t cuda_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                                 size_t n, cudaStream_t stream);
cudaError_t cuda_geglu_forward(float *out, const float *gate, const float *up, size_t n, cudaStream_t stream);
cudaError_t cuda_geglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                                size_t n, cudaStream_t stream);

/* Per-row log-sum-exp over the V real columns of logits[N, Vp] and the masked loss; one block
 * per row. */
cudaError_t cuda_crossentropy_forward(float *losses, float *lse, const float *logits, const int32_t *targets,
                                      const float *mask, int N, int V, int Vp, cudaStream_t stream);

/* Softmax cross-entropy backward, in place on logits[N, Vp] (kernels/cpu/ops.h); one block per
 * row. */
cudaError_t cuda_crossentropy_backward(float *logits, const float *lse, const int32_t *targets, const float *dloss,
                                       int N, int V, int Vp, cudaStream_t stream);

/* The cross-entropy chunked over the vocabulary (kernels/backend.h's crossentropy_chunk_forward
 * and _backward): logits_c[N, n] holds columns [j0, j0 + n), j0 + n <= V; stats [3N] the running
 * (max, sum) and target logit, merged in chunk order by one thread per row after the block's
 * fixed-order reduction. One block per row, no atomics. */
cudaError_t cuda_crossentropy_chunk_forward(float *losses, float *lse, float *stats, const float *logits_c,
                                            const int32_t *targets, const float *mask, int N, int V, int j0, int n,
                                            cudaStream_t stream);
cudaError_t cuda_crossentropy_chunk_backward(float *logits_c, const float *lse, const int32_t *targets,
                                             const float *dloss, int N, int j0, int n, cudaStream_t stream);

/* LayerNorm (eps 1e-5) saving mean and rstd per row; one block per row. The backward accumulates
 * dinp, dw and db; dw and db are column sums in fixed-order chunks of rows, like RMSNorm's. */
cudaError_t cuda_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                                   const float *b, int N, int C, cudaStream_t stream);
size_t cuda_layernorm_backward_workspace(int N, int C);
cudaError_t cuda_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                                    const float *w, const float *mean, const float *rstd, int N, int C, void *ws,
                                    size_t ws_bytes, cudaStream_t stream);

/* GPT-2's tanh GELU, elementwise (out may alias inp; dinp may alias dout). */
cudaError_t cuda_gelu_forward(float *out, const float *inp, size_t n, cudaStream_t stream);
cudaError_t cuda_gelu_backward(float *dinp, const float *inp, const float *dout, size_t n, cudaStream_t stream);

/* Embeddings. The backwards are deterministic without float atomics: each dwte row is the sum,
 * in token order, of the rows of dout that used it (scratch from the *_workspace query). */
cudaError_t cuda_encoder_forward(float *out, const int32_t *tokens, const float *wte, const float *wpe, int B, int T,
                                 int C, cudaStream_t stream);
size_t cuda_encoder_backward_workspace(int B, int T, int C);
cudaError_t cuda_encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *tokens, int B, int T,
                                  int C, void *ws, size_t ws_bytes, cudaStream_t stream);
cudaError_t cuda_embedding_forward(float *out, const int32_t *tokens, const float *wte, float scale, int N, int C,
                                   cudaStream_t stream);
size_t cuda_embedding_backward_workspace(int N, int C);
cudaError_t cuda_embedding_backward(float *dwte, const float *dout, const int32_t *tokens, float scale, int N, int C,
                                    void *ws, size_t ws_bytes, cudaStream_t stream);

/* Rotate-half RoPE in place on x[B,T,NH,hd] (the backward rotates back), angles from rope as on
 * the CPU (rope_inv_freq). */
cudaError_t cuda_rope_forward(float *x, int B, int T, int NH, int hd, RopeSpec rope, cudaStream_t stream);
cudaError_t cuda_rope_backward(float *dx, int B, int T, int NH, int hd, RopeSpec rope, cudaStream_t stream);

/* a[i] += b[i]. */
cudaError_t cuda_add(float *a, const float *b, size_t n, cudaStream_t stream);
/* The sum of squares of g[n] in double, in an order fixed by n alone, to *out (host memory;
 * the call waits for the result). Scratch from cuda_sumsq_workspace. */
size_t cuda_sumsq_workspace(size_t n);
cudaError_t cuda_sumsq(const float *g, size_t n, double *out, void *ws, size_t ws_bytes, cudaStream_t stream);

/* Fused causal flash attention (kernels/cpu's attention ops, both layouts): head h of row
 * (b, t) of q is at q + (b*T + t) * q_stride + h*hd, its kv head g = h / (NH/NKV) at
 * k (or v) + (b*T + t) * kv_stride + g*hd; out and dout are [B,T,NH*hd]; lse is [B,NH,T]. Keys
 * j <= i, and i - j < window when window > 0; scores scale * q.k. GPT-2's packed qkv[B,T,3C] is
 * q = qkv, k = qkv + C, v = qkv + 2C, strides 3C, NKV = NH. Tiles in shared memory, online
 * softmax, no T x T matrix. The backward overwrites dq (stride q_stride) and dk, dv (stride
 * kv_stride) without atomics: dk and dv per key tile over the query tiles and the group's heads,
 * dq per query tile over the key tiles. */
size_t cuda_attention_workspace(int B, int T, int NH);
cudaError_t cuda_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v, int B, int T,
                                   int NH, int NKV, int hd, int q_stride, int kv_stride, int window, float scale,
                                   cudaStream_t stream);
cudaError_t cuda_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                                    const float *v, const float *out, const float *lse, int B, int T, int NH, int NKV,
                                    int hd, int q_stride, int kv_stride, int window, float scale, void *ws,
                                    size_t ws_bytes, cudaStream_t stream);

/* Matmuls (kernels/cpu/ops.h's matmul_forward/backward over N = B*T rows): cuBLASLt with fp32
 * compute, the host BLAS in the SIMT emulation. out[N,OC] = inp[N,C] @ w[OC,C]^T + bias + resid
 * (bias, resid may be NULL; resid may alias out). The backward: dinp (= or +=, by
 * accumulate_dinp) dout @ w, dw += dout^T inp, dbias += column sums of dout (fixed-order
 * chunks, no atomics; scratch from cuda_matmul_backward_workspace); dinp, dbias may be NULL. */
cudaError_t cuda_matmul_forward(float *out, const float *inp, const float *w, const float *bias, const float *resid,
                                int N, int C, int OC, cudaStream_t stream);
size_t cuda_matmul_backward_workspace(int N, int OC);
cudaError_t cuda_matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                                 const float *w, int N, int C, int OC, int accumulate_dinp, void *ws, size_t ws_bytes,
                                 cudaStream_t stream);
/* bf16 mixed precision: dst[i] = src[i] rounded to bf16 (core/bf16.h's rounding, bitwise). */
cudaError_t cuda_to_bf16(uint16_t *dst, const float *src, size_t n, cudaStream_t stream);
/* The matmuls with the weight's bf16 copy w16 (which the caller keeps current): the activations
 * are rounded to bf16 into scratch (cuda_matmul_bf16_workspace, enough for either direction), the
 * products accumulate in fp32 and write fp32; bias, residual and the bias gradient stay fp32. */
size_t cuda_matmul_bf16_workspace(int N, int C, int OC);
cudaError_t cuda_matmul_forward_bf16(float *out, const float *inp, const uint16_t *w16, const float *bias,
                                     const float *resid, int N, int C, int OC, void *ws, size_t ws_bytes,
                                     cudaStream_t stream);
cudaError_t cuda_matmul_backward_bf16(float *dinp, float *dw, float *dbias, const float *dout, const float *inp,
                                      const uint16_t *w16, int N, int C, int OC, int accumulate_dinp, void *ws,
                                      size_t ws_bytes, cudaStream_t stream);

/* KV-cached decoding (kernels/cuda/decoder.cu, decoder_llama.cu; the kernels in
 * decode_kernels.cu): the decoder ops of BackendOps (kernels/backend.h; model/infer.h states the
 * contract). dm's weight pointers are device pointers, read in place with fp32 weights (they must
 * outlive the decoder) and copied to bf16 at init with DTYPE_BF16 (norms and biases stay fp32 and
 * in place). Caches, activations and any weight copy are one device allocation made at init;
 * tokens go to the device per call and logits come back to host memory. The plan checks and token
 * checks are the CPU decoder's (cpu_decoder_plan_check, cpu_decoder_check_token).
 *
 * Batch invariance, bitwise: every product is cuda_decode_matmul (no cuBLAS), and every other
 * kernel works on one row at a time with an order fixed by the row's own shape, so a slot's logits
 * do not depend on which slots share its step, their order or count. threads is ignored. */
size_t cuda_decoder_bytes(const DecoderModel *dm, const DecodePlan *p, int threads);
int cuda_decoder_init(void **dec, const DecoderModel *dm, const DecodePlan *p, Error *e);
void cuda_decoder_free(void *dec);
int cuda_decoder_prefill(void *dec, int prefix, const int32_t *tokens, int n, float *logits, Error *e);
void cuda_decoder_attach(void *dec, int slot, int prefix);
int cuda_decoder_decode(void *dec, int n, const int *slots, const int32_t *tokens, float *logits, Error *e);

/* One query row of a decode step or prefill, as the decoder's kernels see it (device memory):
 * the row attends to prompt cache `prefix`'s first P positions, then (slot >= 0) to the first ns
 * positions of slot's suffix cache; its own position is P + ns - 1, and its new key and value go
 * to suffix position ns - 1 when ns > 0, else to prompt position P - 1 (a prefill's row t is
 * {prefix, t + 1, -1, 0}). */
typedef struct {
    int prefix, P, slot, ns;
} CudaDecodeRow;

/* The largest head_dim the decode attention takes. */
#define CUDA_DECODE_MAX_HD 256

/* out[N,OC] = inp[N,K] @ w[OC,K]^T + bias + resid (nn.Linear's layout; w fp32, or bf16 when
 * w_bf16, widened exactly; bias, resid may be NULL; resid may alias out). Batch-invariant: each
 * element is one chain of fused multiply-adds over k in order from 0, then + bias, then + resid,
 * whatever the other rows: kernels/cpu/decode.h's decode_matmul over the transposed weight, bit
 * for bit. */
cudaError_t cuda_decode_matmul(float *out, const float *inp, const void *w, int w_bf16, const float *bias,
                               const float *resid, int N, int K, int OC, cudaStream_t stream);
/* x[r, :C] = emb[tokens[r]] * scale (emb [V, C], fp32 or bf16), or, with pe, emb[tokens[r]] +
 * pe[position of row r] (pe [positions, C] fp32, rounded to bf16 first when pe_bf16): Llama's
 * scaled embedding and GPT-2's token + position embedding. Tokens must be checked. */
cudaError_t cuda_decode_embed(float *x, const int32_t *tokens, const void *emb, int emb_bf16, float scale,
                              const float *pe, int pe_bf16, const CudaDecodeRow *rows, int n, int C,
                              cudaStream_t stream);
/* Rotate-half RoPE in place on nh heads of hd at x + r * stride, by row r's position: cs holds
 * per position cos(t f_i) for i < hd/2, then sin(t f_i). */
cudaError_t cuda_decode_rope(float *x, int stride, int n, int nh, int hd, const float *cs, const CudaDecodeRow *rows,
                             cudaStream_t stream);
/* Stores row r's key (k + r * kv_stride, KV floats) and value into the caches at its position:
 * prompt caches pk, pv [n_prefixes][Pm][KV], suffix caches sk, sv [slots][Sm][KV]. */
cudaError_t cuda_decode_kv_store(float *pk, float *pv, float *sk, float *sv, const float *k, const float *v,
                                 int kv_stride, const CudaDecodeRow *rows, int n, int KV, int Pm, int Sm,
                                 cudaStream_t stream);
/* Attention of n query rows (head h of row r at q + r * q_stride + h*hd, output at out + r *
 * out_stride + h*hd) over their caches (laid out as in cuda_decode_kv_store, kv head
 * h / (NH/NKV)): keys at positions [first, pos] where pos is the row's position and first =
 * max(0, pos - window + 1) when window > 0, else 0; scores scale * q.k, softmax, values. One
 * block per (head, row); the keys in chunks with an online softmax, every sum in an order fixed
 * by the row's key count. hd <= CUDA_DECODE_MAX_HD. */
cudaError_t cuda_decode_attention(float *out, int out_stride, const float *q, int q_stride, const float *pk,
                                  const float *pv, const float *sk, const float *sv, const CudaDecodeRow *rows, int n,
                                  int NH, int NKV, int hd, int Pm, int Sm, int window, float scale,
                                  cudaStream_t stream);

/* Collectives (kernels/cuda/comm_cuda.cu), with BackendOps's signatures and contract
 * (kernels/backend.h: comm_init ... recv) for the CUDA table: NCCL on the current device under
 * nvcc (comm_init after the backend chose its device; RP_EMPI with NCCL's message on failure),
 * the CPU backend's MPI collectives in the SIMT emulation. Blocking: each waits for the device
 * before it starts and returns when its buffers may be reused. */
int cuda_comm_init(Error *e);
void cuda_comm_free(void);
int cuda_allreduce_sum(float *buf, size_t n, Error *e);
int cuda_reduce_scatter_sum(float *out, const float *in, size_t n_per_rank, Error *e);
int cuda_all_gather(float *out, const float *in, size_t n_per_rank, Error *e);
int cuda_send(const float *buf, size_t n, int peer, Error *e);
int cuda_recv(float *buf, size_t n, int peer, Error *e);
/* The split all-reduce (kernels/backend.h: allreduce_sum_start, comm_wait). Under nvcc start
 * records an event on the stream the backend's kernels run on (the default stream), makes
 * NCCL's stream wait for it, queues ncclAllReduce there and returns: the kernels queued after it
 * run beside the sum. wait synchronises the host with NCCL's stream, so nothing queued after
 * the wait can touch a buffer before its sum has landed. In the emulation: the CPU's (start sums
 * at once). */
int cuda_allreduce_sum_start(float *buf, size_t n, Error *e);
int cuda_comm_wait(Error *e);

/* Flash attention on tensor cores (kernels/cuda/attention_tc.cu), for bf16 mixed precision: the
 * arguments, layouts, outputs and workspace of cuda_attention_forward/backward above, for head
 * dims hd that are multiples of 16 up to 256 (others: cudaErrorInvalidValue; the fp32 kernels
 * take them). q, k, v and dout are fp32 in memory and rounded to bf16 as the kernels read them;
 * the products (Q K^T, P V, dO V^T, P^T dO, dS^T Q, dS K) are bf16 mma's with fp32 accumulation,
 * P and dS rounded to bf16 for theirs; softmax, lse, masks and D are fp32. Deterministic, no
 * atomics: dq, dk, dv are overwritten. Errors against fp32 attention on the rounded inputs are
 * about 1e-2 of the largest magnitude (docs/cuda.md). */
size_t cuda_attention_tc_workspace(int B, int T, int NH);
cudaError_t cuda_attention_tc_forward(float *out, float *lse, const float *q, const float *k, const float *v, int B,
                                      int T, int NH, int NKV, int hd, int q_stride, int kv_stride, int window,
                                      float scale, cudaStream_t stream);
cudaError_t cuda_attention_tc_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                                       const float *k, const float *v, const float *out, const float *lse, int B,
                                       int T, int NH, int NKV, int hd, int q_stride, int kv_stride, int window,
                                       float scale, void *ws, size_t ws_bytes, cudaStream_t stream);

/* Sampling on the device (kernels/cuda/sample.cu; docs/cuda.md, "Sampling on the device"): for
 * each of n rows of logits[n, Vp] (ids < V are the candidates; the padding is never read),
 * next[r] = sampling_choose(row r, V, &sp, u[r]) of sampler/sampling.c and logprob[r] its
 * log-probability under softmax(row r) at temperature 1; next[r] = -1 (logprob 0) where
 * sampling_choose refuses the row (NaN, +Inf, every logit -Inf). next, logprob and u are device
 * arrays of n. The same operations in sampling.c's order and precision, so the token is
 * sampling_choose's bit for bit where exp and log are the host's (the emulation); the device's
 * double exp is within an ulp of glibc's. The log-probability's normaliser is a block
 * reduction (sampling.c sums in id order): equal to ~1e-15. One block per row; scratch from
 * cuda_sample_rows_workspace(n, V) (12 bytes a vocabulary entry a row); less is
 * cudaErrorInvalidValue. */
size_t cuda_sample_rows_workspace(int n, int V);
cudaError_t cuda_sample_rows(int32_t *next, double *logprob, const float *logits, int n, int V, int Vp,
                             const double *u, SampleSpec sp, void *ws, size_t ws_bytes, cudaStream_t stream);
/* decoder_decode_sample of BackendOps for the CUDA decoders: the step's logits stay on the
 * device and cuda_sample_rows chooses; n tokens and n log-probabilities come back. */
int cuda_decoder_decode_sample(void *dec, int n, const int *slots, const int32_t *tokens, const SampleSpec *sp,
                               const double *u, int32_t *next, double *logprob, Error *e);

#ifdef __cplusplus
}
#endif

#endif

/* The CPU backend's ops (kernels/backend.h gives their contracts; this header adds what only the
 * CPU has: thread and BLAS controls, tile sizes): matmuls (OpenBLAS sgemm), causal flash-style
 * attention, LayerNorm, GELU, embeddings, residual add, fused softmax cross-entropy, the tied LM
 * head's backward, AdamW and global-norm gradient clipping. cpu_backend() is the ops table that
 * wraps them; code outside kernels/ reaches them only through that table.
 *
 * Conventions: fp32, row-major; N = B*T rows; weights are [out, in] (nn.Linear). "Accumulates"
 * means the op adds into its output (parameter gradients always accumulate, so callers can sum
 * micro-batches). Everything runs on OpenMP threads (kernels_set_threads); sgemm pieces are
 * single-threaded OpenBLAS calls made from those threads.
 *
 * Determinism: work is split on a fixed grid that depends only on the shapes, never on the
 * thread count, and every reduction has a fixed order (row reductions inside one thread; column
 * reductions such as bias and LayerNorm weight gradients walk the rows in order inside one
 * thread; the gradient norm sums fixed-size chunks in index order; each sgemm piece is one
 * single-threaded OpenBLAS call). Results are bitwise reproducible for the same inputs and the
 * same for any thread count, and a sequence's activations do not depend on the other sequences
 * of the batch. */
#ifndef RESTPG_KERNELS_CPU_OPS_H
#define RESTPG_KERNELS_CPU_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "kernels/backend.h"

#ifdef __cplusplus /* called from the CUDA backend (C++ under nvcc) */
extern "C" {
#endif

/* Sets both the OpenMP and the OpenBLAS thread count (n >= 1); OpenBLAS's count applies to
 * sgemm called outside these kernels (the kernels switch it to 1 inside their own regions).
 * Call before any op; the environment variables are not consulted afterwards. */
void kernels_set_threads(int n);
/* The count last set (or OpenMP's default if never set). */
int kernels_threads(void);

/* Runs OpenBLAS single-threaded (for sgemm calls made inside OpenMP regions) and returns the
 * previous count for kernels_blas_single_end. */
int kernels_blas_single_begin(void);
void kernels_blas_single_end(int saved);

/* out[N,OC] = inp[N,C] @ w[OC,C]^T + bias[OC] + resid[N,OC], N = B*T rows taken as B groups
 * (sequences) of T rows. bias and resid may be NULL; resid may alias out (the residual stream is
 * then updated in place). A group's output rows depend only on that group's input rows (bitwise),
 * so pass the real sequence split; B = 1, T = N treats all rows as one group, which is faster
 * for very short groups but lets rows' rounding depend on their neighbours. */
void matmul_forward(float *out, const float *inp, const float *w, const float *bias, const float *resid, int B, int T,
                    int C, int OC);
/* Backward of matmul_forward: dinp[N,C] (= or +=, by accumulate_dinp) dout @ w, per group like
 * the forward; dw[OC,C] += dout^T @ inp; dbias[OC] += column sums of dout. dinp or dbias may be
 * NULL to skip them. */
void matmul_backward(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w, int B,
                     int T, int C, int OC, int accumulate_dinp);

/* Causal multi-head self-attention over qkv[B,T,3C] (q | k | v, head h at columns h*hs of each
 * third, hs = C/NH), scale 1/sqrt(hs). Writes out[B,T,C] and lse[B,NH,T], the log-sum-exp of
 * each row's scaled scores, which is all the backward needs besides the inputs: no T x T matrix
 * is kept. Works on tiles of ATTN_TILE queries x ATTN_TILE keys with an online softmax.
 * Returns RP_ENOMEM (and sets e) if per-thread tile buffers cannot be allocated. */
#define ATTN_TILE 64
/* Scratch: attention_workspace(T) bytes (per-thread tile buffers for the current thread count);
 * a smaller workspace runs on fewer threads (same results), one too small for a thread is
 * RP_EINTERNAL. */
size_t attention_workspace(int T);
int attention_forward(float *out, float *lse, const float *qkv, int B, int T, int C, int NH, void *ws, size_t ws_bytes,
                      Error *e);
/* Backward: overwrites dqkv[B,T,3C] with the gradient of the loss given dout[B,T,C], from the
 * forward's inputs qkv, output out and lse; scores are recomputed tile by tile. Same scratch. */
int attention_backward(float *dqkv, const float *dout, const float *qkv, const float *out, const float *lse, int B,
                       int T, int C, int NH, void *ws, size_t ws_bytes, Error *e);

/* LayerNorm over the last dimension with eps 1e-5: out = (x - mean) * rstd * w + b, saving the
 * per-row mean and rstd for the backward. */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b, int N,
                       int C);
/* Accumulates dinp, dw and db. */
void layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        const float *mean, const float *rstd, int N, int C);

/* GPT-2's tanh GELU, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), evaluated as
 * x * sigmoid(2u) which has no cancellation for small or negative x. out may alias inp. */
void gelu_forward(float *out, const float *inp, size_t n);
/* dinp = dout * gelu'(inp) (overwrites; dinp may alias dout). */
void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n);

/* out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:]. Tokens must already be checked to be in range. */
void encoder_forward(float *out, const int32_t *tokens, const float *wte, const float *wpe, int B, int T, int C);
/* Accumulates dwte rows of the tokens used and dwpe rows 0..T-1. */
void encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *tokens, int B, int T, int C);

/* out = a + b elementwise (out may alias either). */
void residual_forward(float *out, const float *a, const float *b, size_t n);

/* Per row of logits[N,Vp], over the real vocabulary 0..V-1 only (columns V..Vp-1 are
 * ignored): lse[i] = log sum exp, and losses[i] = lse[i] - logits[i, targets[i]] where
 * mask[i] != 0 (mask NULL = every row), 0 elsewhere. Targets of masked rows must be in [0, V). */
void crossentropy_forward(float *losses, float *lse, const float *logits, const int32_t *targets, const float *mask,
                          int N, int V, int Vp);
/* Turns logits into their gradient in place: row i becomes dloss[i] * (softmax(row) - onehot(
 * targets[i])) over columns < V and 0 in the padding columns; rows with dloss[i] == 0 become 0. */
void crossentropy_backward(float *logits, const float *lse, const int32_t *targets, const float *dloss, int N, int V,
                           int Vp);

/* The cross-entropy chunked over the vocabulary (backend.h states the contract):
 * logits_c[N, n] holds logit columns [j0, j0 + n), j0 + n <= V. The forward merges a chunk's
 * (max, sum of e^(x - max)) (the chunk's sum in double, the running sum rounded to float between
 * chunks) into stats[0, N) and stats[N, 2N), keeps the target's logit in stats[2N, 3N), and on
 * the chunk ending at V writes lse and the masked losses as crossentropy_forward. The backward
 * is crossentropy_backward on those columns, the target shifted by j0. */
void crossentropy_chunk_forward(float *losses, float *lse, float *stats, const float *logits_c, const int32_t *targets,
                                const float *mask, int N, int V, int j0, int n);
void crossentropy_chunk_backward(float *logits_c, const float *lse, const int32_t *targets, const float *dloss, int N,
                                 int j0, int n);

/* Backward of the tied LM head logits = x @ wte^T from dlogits[N,Vp]: dx[N,C] = dlogits @ wte
 * (overwritten), dwte += dlogits^T @ x. Rows whose dloss is 0 have zero dlogits; when there are
 * such rows (fine-tuning, where only target tokens carry loss) the weighted rows are packed
 * together first (dlogits is reordered in place; scratch holds 2 x N x C floats) so neither sgemm
 * spends time on zeros, and those rows get dx = 0. */
void lmhead_backward(float *dx, float *dwte, float *dlogits, const float *x, const float *wte, const float *dloss, int B,
                     int T, int C, int Vp, float *scratch);

/* The CPU backend's ops table (kernels/cpu/backend_cpu.c). */
const BackendOps *cpu_backend(void);

/* One AdamW step on n parameters (llm.c's formulation, decoupled weight decay):
 *   g = grad_scale * grad;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   param -= lr * ( (m / (1-b1^step)) / (sqrt(v / (1-b2^step)) + eps) + weight_decay * param )
 * step counts from 1. Call per tensor with weight_decay 0 for tensors that are not decayed;
 * grad_scale carries the clipping factor so clipping costs no extra pass. */
void adamw_update(float *param, const float *grad, float *m, float *v, size_t n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, float grad_scale, int step);

/* Sum of squares of g in double, in a fixed order (chunks of 65536 summed in index order), so
 * the value is the same for any thread count. Shards can add their sums before the sqrt. */
double grad_sumsq(const float *g, size_t n);

/* ---- The Llama family's ops (model/llama.h: Llama, Qwen2, Qwen3, Gemma 3) ---- */

/* RMSNorm over rows of C: out = x * rstd * (w_offset + w), rstd = 1 / sqrt(mean(x^2) + eps),
 * saving rstd per row. Gemma applies its weight as (1 + w) (w_offset 1), Llama and Qwen as w
 * (w_offset 0; 0 + w is w exactly). The per-head q/k norms are the same op on N*heads rows of
 * head_dim. With resid (not NULL) out = resid + that, the same bits as the norm followed by a
 * separate add (no fused multiply-add). out may alias inp or resid (the same rows, not a shift). */
void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, const float *resid, int N, int C,
                     float eps, float w_offset);
/* Accumulates dinp and dw (dw's column sums walk the rows in order inside one thread). */
void rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w, const float *rstd,
                      int N, int C, float w_offset);

/* Inverse frequency of RoPE pair i (< hd/2) for a head of hd, in double (backend.h's RopeSpec).
 * The decoders build their per-position cosines from it, so prefill and decode rotate alike. */
double rope_inv_freq(const RopeSpec *rope, int i, int hd);
/* Rotary embedding in place on x[B,T,NH,hd], position t for row t of each sequence, Hugging
 * Face's rotate-half convention: for i < hd/2 with a = t * rope_inv_freq(i),
 * (x[i], x[i+hd/2]) -> (x[i] cos a - x[i+hd/2] sin a, x[i+hd/2] cos a + x[i] sin a). Angles,
 * cosines and sines are computed in double, so long positions lose no phase. hd must be even. */
void rope_forward(float *x, int B, int T, int NH, int hd, const RopeSpec *rope);
/* The backward: the transpose rotation (by -a) applied in place to the gradient dx. */
void rope_backward(float *dx, int B, int T, int NH, int hd, const RopeSpec *rope);

/* GeGLU: out = gelu_tanh(gate) * up elementwise (the GELU of gelu_forward). out may alias gate,
 * not up. */
void geglu_forward(float *out, const float *gate, const float *up, size_t n);
/* Overwrites dgate = dout * up * gelu'(gate) and dup = dout * gelu(gate). dgate may alias dout;
 * dup may not. */
void geglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n);
/* SwiGLU: out = silu(gate) * up, silu(x) = x / (1 + e^-x). out may alias gate, not up. */
void swiglu_forward(float *out, const float *gate, const float *up, size_t n);
/* Overwrites dgate = dout * up * silu'(gate), silu'(x) = sig(x) (1 + x (1 - sig(x))), and
 * dup = dout * silu(gate). dgate may alias dout; dup may not. */
void swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n);

/* Scaled token embedding: out[i,:] = wte[tokens[i],:] * scale for N rows (Gemma's sqrt(C)
 * normaliser). Tokens must already be checked. The backward accumulates scale * dout into the
 * rows of dwte, split by column blocks so each element's sum stays in one thread, in order. */
void embedding_forward(float *out, const int32_t *tokens, const float *wte, float scale, int N, int C);
void embedding_backward(float *dwte, const float *dout, const int32_t *tokens, float scale, int N, int C);

/* Causal grouped-query attention with an optional sliding window, flash-style like
 * attention_forward (ATTN_TILE tiles, online softmax, no T x T matrix). q and out are
 * [B,T,NH*hd], k and v [B,T,NKV*hd]; query head h reads kv head h / (NH/NKV). Query i sees key
 * j when j <= i and, if window > 0, i - j < window. Scores are scale * q.k. Writes out and
 * lse[B,NH,T]. Scratch: attention_gqa_workspace(B, T, NH) bytes; a smaller workspace runs on
 * fewer threads (same results), one too small for a single thread is RP_EINTERNAL.
 * Parallel over (sequence, head, query tile); every output element is written by one task. */
size_t attention_gqa_workspace(int B, int T, int NH);
int attention_gqa_forward(float *out, float *lse, const float *q, const float *k, const float *v, int B, int T, int NH,
                          int NKV, int hd, int window, float scale, void *ws, size_t ws_bytes, Error *e);
/* Overwrites dq, dk, dv from dout and the forward's inputs, out and lse. Two passes so no
 * element is summed by two threads: dk, dv per (sequence, kv head, key tile), walking the
 * group's query heads and query tiles in order; then dq per (sequence, head, query tile). */
int attention_gqa_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                           const float *v, const float *out, const float *lse, int B, int T, int NH, int NKV, int hd,
                           int window, float scale, void *ws, size_t ws_bytes, Error *e);

#ifdef __cplusplus
}
#endif

#endif

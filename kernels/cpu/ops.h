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

/* Backward of the tied LM head logits = x @ wte^T from dlogits[N,Vp]: dx[N,C] = dlogits @ wte
 * (overwritten), dwte += dlogits^T @ x. Rows whose dloss is 0 have zero dlogits; when there are
 * such rows (fine-tuning, where only target tokens carry loss) the weighted rows are packed
 * together first (dlogits is reordered in place; scratch holds 2 x N x C floats) so neither sgemm
 * spends time on zeros, and those rows get dx = 0. */
void lmhead_backward(float *dx, float *dwte, float *dlogits, const float *x, const float *wte, const float *dloss, int B,
                     int T, int C, int Vp, float *scratch);

/* The CPU backend's ops table (kernels/cpu/backend_cpu.c). */
#include "kernels/backend.h"
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

#endif

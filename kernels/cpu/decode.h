/* Kernels for KV-cached generation (kernels/cpu/decoder.c): a batch-invariant matrix product and the
 * attention of a few new query rows over a shared prompt cache plus each row's own suffix.
 *
 * Batch invariance is the point of this file. OpenBLAS's sgemm gives a row a result that depends
 * on how many rows the call has, where the row sits among them and on the thread count (its
 * micro-kernels and edge paths accumulate in different orders; measured on OpenBLAS 0.3.21). A
 * sampler that batches the candidates of several inputs would then produce different tokens for
 * the same candidate under another --batch, thread or rank count. matmul_forward avoids this per
 * sequence (one sgemm per sequence), but in decoding every candidate is a one-row sequence, which
 * would turn the step into N vector products. Here every output element is one chain of fused
 * multiply-adds over k in order, starting from 0, then + bias, then + residual, whatever the
 * number of rows, the thread count or the vector width (AVX-512, AVX2 or the portable fmaf
 * path), so results are also equal across machines. Weights are taken transposed ([in, out]),
 * which lets a register tile broadcast activations and keep output columns in vector lanes. */
#ifndef RESTPG_KERNELS_CPU_DECODE_H
#define RESTPG_KERNELS_CPU_DECODE_H

#include <stddef.h>
#include <stdint.h>

/* A weight operand: fp32, or bf16 (model.dtype bf16: the upper halves of fp32 values, see
 * core/bf16.h). Widening bf16 is exact, so a product over bf16 weights gives the bits of the fp32
 * product over the same (rounded) values, on every path. */
typedef struct {
    const void *p;
    int bf16;
} DecodeW;

/* out[i*ldo + j] = sum_k a[i*lda + k] * b[k*ldb + j] for i < M, j < N, k < K (single thread),
 * each element one chain of fused multiply-adds over k in order, starting from 0 (the same on
 * the AVX-512, AVX2 and portable paths). */
void decode_gemm_nn(float *out, int ldo, const float *a, int lda, const float *b, int ldb, int M, int N, int K);
/* The same with b fp32 or bf16. */
void decode_gemm_nn_w(float *out, int ldo, const float *a, int lda, DecodeW b, int ldb, int M, int N, int K);

/* out[N,OC] = inp[N,C] @ wt[C,OC] + bias[OC] + resid[N,OC] (bias, resid may be NULL; resid may
 * alias out), element by element as decode_gemm_nn, on the kernels' thread count
 * (kernels_set_threads). wt is an nn.Linear weight transposed. */
void decode_matmul(float *out, const float *inp, DecodeW wt, const float *bias, const float *resid, int N, int C,
                   int OC);

/* Attention of head h for m query rows that share a prompt cache of P positions, single thread.
 *   q[i*ldq + c]            query rows (all heads; head h is columns h*hs..h*hs+hs-1)
 *   kt[c*ldkt + t]          prompt keys, transposed (channel-major), t < P
 *   v[t*ldv + c]            prompt values, t < P
 *   ks[i][t*ldkv + c], vs[i][t*ldkv + c]  row i's own suffix keys and values, t < ns[i] (the
 *                           current position included, so ns[i] >= 1)
 *   out[i*ldo + c]          head h's columns are written
 * Row i attends to all P prompt positions and its ns[i] suffix positions with scale 1/sqrt(hs).
 * scratch holds m rows of ld_scratch >= P + max(ns) + 1 floats. */
void decode_attention_head(float *out, int ldo, const float *q, int ldq, int m, const float *kt, int ldkt,
                           const float *v, int ldv, int P, const float *const *ks, const float *const *vs, int ldkv,
                           const int *ns, int h, int hs, float *scratch, int ld_scratch);

/* Caps the vector width the kernels use: 16 (AVX-512), 8 (AVX2), 1 (portable); 0 = the widest
 * this machine has. Tests use it to check that every path gives identical bits. */
void decode_set_max_width(int w);

#endif

/* Kernels for KV-cached generation (model/infer.c): a batch-invariant matrix product and the
 * attention of a few new query rows over a shared prompt cache plus each row's own suffix.
 *
 * Batch invariance is the point of this file. OpenBLAS's sgemm gives a row a result that depends
 * on how many rows the call has, where the row sits among them and on the thread count (its
 * micro-kernels and edge paths accumulate in different orders; measured on OpenBLAS 0.3.21). A
 * sampler that batches the candidates of several inputs would then produce different tokens for
 * the same candidate under another --batch, thread or rank count. matmul_forward avoids this per
 * sequence (one sgemm per sequence), but in decoding every candidate is a one-row sequence, which
 * would turn the step into N vector products. Here every output element is
 * one fixed sequence of operations: 8 lane accumulators over k = l, l+8, ... (fused multiply-add
 * from zero), the lanes summed as ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)), the k % 8 tail added with
 * fused multiply-adds in order, then + bias, then + residual. The AVX2 path and the portable
 * path (fmaf) compute exactly that, so results are also equal across machines with and without
 * AVX2. Speed is within about 20% of OpenBLAS for the shapes of GPT-2 decoding. */
#ifndef RESTPG_KERNELS_CPU_DECODE_H
#define RESTPG_KERNELS_CPU_DECODE_H

#include <stddef.h>

/* out[i*ldo + j] = sum_k a[i*lda + k] * w[j*ldw + k] for i < M, j < N, k < K (single thread).
 * K may be 0 (out = 0). */
void decode_gemm_nt(float *out, int ldo, const float *a, int lda, const float *w, int ldw, int M, int N, int K);

/* out[i*ldo + j] = sum_k a[i*lda + k] * b[k*ldb + j] for i < M, j < N, k < K (single thread),
 * each element one chain of fused multiply-adds over k in order, starting from 0 (the same on
 * the AVX2 and portable paths). */
void decode_gemm_nn(float *out, int ldo, const float *a, int lda, const float *b, int ldb, int M, int N, int K);

/* out[N,OC] = inp[N,C] @ w[OC,C]^T + bias[OC] + resid[N,OC] (bias, resid may be NULL; resid may
 * alias out), batch-invariantly, on the kernels' thread count (kernels_set_threads). */
void decode_matmul(float *out, const float *inp, const float *w, const float *bias, const float *resid, int N, int C,
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

/* Forces the portable (non-SIMD) path on (1) or back to automatic (0); tests use it to check that
 * both paths give identical bits. */
void decode_set_portable(int on);

#endif

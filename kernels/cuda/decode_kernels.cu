/* The KV-cached decoder's kernels (ops_cuda.h, "KV-cached decoding"): the batch-invariant
 * product, the attention of query rows over a prompt cache and their own suffix, and the row
 * kernels around them (embedding, RoPE by the row's position, cache stores).
 *
 * Batch invariance is the point: a row's results must not depend on the other rows of the call.
 * cuBLAS picks its algorithm and split of the inner dimension by the whole problem's shape, so a
 * row's sums would change with the row count. Here every output element of a product is one
 * fused multiply-add chain over k in order (the CPU's decode_matmul, bit for bit), and every other
 * kernel handles one row per block in an order fixed by that row's own sizes. */
#include <math.h>

#include "kernels/cuda/bf16.cuh"
#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/reduce.cuh"

#define MM_COLS 32    /* product: output columns per block, one per lane */
#define MM_WARPS 4
#define MM_RPT 4      /* rows per thread */
#define MM_ROWS (MM_WARPS * MM_RPT) /* rows per block */
#define MM_KT 32      /* inner indices per shared-memory tile */
#define ROW_THREADS 128
#define DA_THREADS 128 /* attention: threads per (head, row) block, also the keys per chunk */

/* Block (bx, by) computes columns [bx * MM_COLS, + MM_COLS) of rows [by * MM_ROWS, + MM_ROWS).
 * Per tile of MM_KT inner indices the block stages the weights (transposed, [k][column], a
 * padded row so neither the coalesced load nor the reads conflict) and the rows' inputs in shared
 * memory; thread (c, g) then extends the chains of column c for rows g, g + 4, ... by the tile's
 * k in order. Each element is thus one fused multiply-add chain over k = 0..K-1 from 0, then
 * + bias, then + resid: the CPU's decode_matmul (kernels/cpu/decode.h) bit for bit, and the
 * same whatever rows share the block. */
__global__ void decode_matmul_kernel(float *out, const float *inp, const float *w32, const uint16_t *w16,
                                     const float *bias, const float *resid, int N, int K, int OC) {
    __shared__ float ws[MM_KT][MM_COLS + 1];
    __shared__ float as[MM_ROWS][MM_KT];
    const int lane = threadIdx.x % warpSize, warp = threadIdx.x / warpSize, nwarps = blockDim.x / warpSize;
    const int j0 = blockIdx.x * MM_COLS, r0 = blockIdx.y * MM_ROWS;
    const int nc = OC - j0 < MM_COLS ? OC - j0 : MM_COLS, nr = N - r0 < MM_ROWS ? N - r0 : MM_ROWS;
    float acc[MM_RPT];
    for (int i = 0; i < MM_RPT; i++) acc[i] = 0.0f;
    for (int k0 = 0; k0 < K; k0 += MM_KT) {
        const int kn = K - k0 < MM_KT ? K - k0 : MM_KT;
        if (lane < kn) {
            for (int c = warp; c < nc; c += nwarps) {
                size_t at = (size_t)(j0 + c) * K + k0 + lane;
                ws[lane][c] = w16 ? bf16_widen(w16[at]) : w32[at];
            }
            for (int r = warp; r < nr; r += nwarps) as[r][lane] = inp[(size_t)(r0 + r) * K + k0 + lane];
        }
        __syncthreads();
        if (lane < nc)
            for (int k = 0; k < kn; k++) {
                float wv = ws[k][lane];
                for (int i = 0; i < MM_RPT; i++)
                    if (warp + i * nwarps < nr) acc[i] = fmaf(as[warp + i * nwarps][k], wv, acc[i]);
            }
        __syncthreads();
    }
    if (lane >= nc) return;
    for (int i = 0; i < MM_RPT && warp + i * nwarps < nr; i++) {
        size_t at = (size_t)(r0 + warp + i * nwarps) * OC + j0 + lane;
        float v = acc[i];
        if (bias) v = v + bias[j0 + lane];
        if (resid) v = v + resid[at];
        out[at] = v;
    }
}

__device__ __forceinline__ int row_pos(const CudaDecodeRow *r) { return r->P + r->ns - 1; }

__global__ void embed_kernel(float *x, const int32_t *tokens, const float *e32, const uint16_t *e16, float scale,
                             const float *pe, int pe_bf16, const CudaDecodeRow *rows, int C) {
    int r = blockIdx.x;
    size_t tok = (size_t)tokens[r], pos = (size_t)row_pos(rows + r);
    float *xr = x + (size_t)r * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float te = e16 ? bf16_widen(e16[tok * C + c]) : e32[tok * C + c];
        if (!pe) {
            xr[c] = te * scale;
            continue;
        }
        float p = pe[pos * C + c];
        xr[c] = te + (pe_bf16 ? bf16_widen(bf16_round(p)) : p);
    }
}

__global__ void rope_kernel(float *x, int stride, int nh, int hd, const float *cs, const CudaDecodeRow *rows) {
    int r = blockIdx.x, half = hd / 2;
    const float *c = cs + (size_t)row_pos(rows + r) * hd, *s = c + half;
    float *xr = x + (size_t)r * stride;
    for (int t = threadIdx.x; t < nh * half; t += blockDim.x) {
        int h = t / half, i = t % half;
        float *v = xr + (size_t)h * hd;
        float x1 = v[i], x2 = v[i + half];
        v[i] = x1 * c[i] - x2 * s[i];
        v[i + half] = x2 * c[i] + x1 * s[i];
    }
}

__global__ void kv_store_kernel(float *pk, float *pv, float *sk, float *sv, const float *k, const float *v,
                                int kv_stride, const CudaDecodeRow *rows, int KV, int Pm, int Sm) {
    int r = blockIdx.x;
    CudaDecodeRow row = rows[r];
    size_t at = row.ns > 0 ? ((size_t)row.slot * Sm + row.ns - 1) * KV : ((size_t)row.prefix * Pm + row.P - 1) * KV;
    float *dk = (row.ns > 0 ? sk : pk) + at, *dv = (row.ns > 0 ? sv : pv) + at;
    for (int c = threadIdx.x; c < KV; c += blockDim.x) {
        dk[c] = k[(size_t)r * kv_stride + c];
        dv[c] = v[(size_t)r * kv_stride + c];
    }
}

/* The maximum of v over the block, to every thread (block_sum's shape: butterflies, the warps'
 * results through part, a butterfly over those). */
__device__ __forceinline__ float block_max(float v, float *part) {
    int lane = threadIdx.x % warpSize, warp = threadIdx.x / warpSize, nwarps = blockDim.x / warpSize;
    for (int o = warpSize / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
    if (lane == 0) part[warp] = v;
    __syncthreads();
    v = lane < nwarps ? part[lane] : -INFINITY;
    for (int o = warpSize / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
    __syncthreads();
    return v;
}

/* Block (h, r): query head h of row r over keys [first, pos], in chunks of DA_THREADS keys. Thread
 * i scores key i of the chunk (a fused multiply-add chain over head_dim in order, then the
 * scale); the chunk's max and sum of e^(s - max) are block reductions (fixed butterflies); the
 * probabilities go through shared memory, and thread d folds them times the values, in key
 * order, into output dims d and d + DA_THREADS, first rescaling what it held by
 * e^(old max - new max). Every order depends only on the row's own key range. */
__global__ void decode_attention_kernel(float *out, int out_stride, const float *q, int q_stride, const float *pk,
                                        const float *pv, const float *sk, const float *sv, const CudaDecodeRow *rows,
                                        int NH, int NKV, int hd, int Pm, int Sm, int window, float scale) {
    __shared__ float qs[CUDA_DECODE_MAX_HD];
    __shared__ float s[DA_THREADS];
    __shared__ float part[32];
    const int h = blockIdx.x, tid = threadIdx.x;
    const CudaDecodeRow row = rows[blockIdx.y];
    const int KV = NKV * hd, kvo = h / (NH / NKV) * hd, P = row.P, pos = row_pos(&row);
    const int first = window > 0 && pos - window + 1 > 0 ? pos - window + 1 : 0;
    const float *kp = pk + (size_t)row.prefix * Pm * KV + kvo, *vp = pv + (size_t)row.prefix * Pm * KV + kvo;
    const size_t suf = row.slot >= 0 ? (size_t)row.slot * Sm * KV + kvo : 0;
    const float *ks = sk + suf, *vs = sv + suf;
    for (int c = tid; c < hd; c += blockDim.x) qs[c] = q[(size_t)blockIdx.y * q_stride + (size_t)h * hd + c];
    __syncthreads();
    float m = -INFINITY, l = 0.0f, acc0 = 0.0f, acc1 = 0.0f;
    for (int c0 = first; c0 <= pos; c0 += DA_THREADS) {
        const int cn = pos + 1 - c0 < DA_THREADS ? pos + 1 - c0 : DA_THREADS;
        float mine = -INFINITY;
        if (tid < cn) {
            const int t = c0 + tid;
            const float *key = t < P ? kp + (size_t)t * KV : ks + (size_t)(t - P) * KV;
            float d = 0.0f;
            for (int c = 0; c < hd; c++) d = fmaf(qs[c], key[c], d);
            mine = d * scale;
        }
        float mnew = fmaxf(m, block_max(mine, part));
        float corr = expf(m - mnew), p = tid < cn ? expf(mine - mnew) : 0.0f;
        if (tid < cn) s[tid] = p;
        l = l * corr + block_sum(p, part); /* its barriers also publish s */
        acc0 *= corr;
        acc1 *= corr;
        for (int i = 0; i < cn; i++) {
            int t = c0 + i;
            const float *val = t < P ? vp + (size_t)t * KV : vs + (size_t)(t - P) * KV;
            if (tid < hd) acc0 = fmaf(s[i], val[tid], acc0);
            if (tid + DA_THREADS < hd) acc1 = fmaf(s[i], val[tid + DA_THREADS], acc1);
        }
        m = mnew; /* the next chunk writes s only after block_max's barrier, when every thread is done here */
    }
    float inv = 1.0f / l, *o = out + (size_t)blockIdx.y * out_stride + (size_t)h * hd;
    if (tid < hd) o[tid] = acc0 * inv;
    if (tid + DA_THREADS < hd) o[tid + DA_THREADS] = acc1 * inv;
}

/* Launch status, or cudaErrorInvalidValue for negative sizes; nothing to do for empty ones. */
#define DECODE_SIZES(bad, empty)                                                                                       \
    do {                                                                                                               \
        if (bad) return cudaErrorInvalidValue;                                                                         \
        if (empty) return cudaSuccess;                                                                                 \
    } while (0)

extern "C" cudaError_t cuda_decode_matmul(float *out, const float *inp, const void *w, int w_bf16, const float *bias,
                                          const float *resid, int N, int K, int OC, cudaStream_t stream) {
    DECODE_SIZES(N < 0 || K < 0 || OC < 0, N == 0 || OC == 0);
    dim3 grid((unsigned)((OC + MM_COLS - 1) / MM_COLS), (unsigned)((N + MM_ROWS - 1) / MM_ROWS));
    SIMT_LAUNCH(decode_matmul_kernel, grid, MM_WARPS * 32, stream, out, inp, w_bf16 ? NULL : (const float *)w,
                w_bf16 ? (const uint16_t *)w : NULL, bias, resid, N, K, OC);
    return cudaGetLastError();
}

extern "C" cudaError_t cuda_decode_embed(float *x, const int32_t *tokens, const void *emb, int emb_bf16, float scale,
                                         const float *pe, int pe_bf16, const CudaDecodeRow *rows, int n, int C,
                                         cudaStream_t stream) {
    DECODE_SIZES(n < 0 || C < 0, n == 0 || C == 0);
    SIMT_LAUNCH(embed_kernel, n, ROW_THREADS, stream, x, tokens, emb_bf16 ? NULL : (const float *)emb,
                emb_bf16 ? (const uint16_t *)emb : NULL, scale, pe, pe_bf16, rows, C);
    return cudaGetLastError();
}

extern "C" cudaError_t cuda_decode_rope(float *x, int stride, int n, int nh, int hd, const float *cs,
                                        const CudaDecodeRow *rows, cudaStream_t stream) {
    DECODE_SIZES(n < 0 || nh < 0 || hd < 0 || hd % 2, n == 0 || nh == 0 || hd == 0);
    SIMT_LAUNCH(rope_kernel, n, ROW_THREADS, stream, x, stride, nh, hd, cs, rows);
    return cudaGetLastError();
}

extern "C" cudaError_t cuda_decode_kv_store(float *pk, float *pv, float *sk, float *sv, const float *k, const float *v,
                                            int kv_stride, const CudaDecodeRow *rows, int n, int KV, int Pm, int Sm,
                                            cudaStream_t stream) {
    DECODE_SIZES(n < 0 || KV < 0, n == 0 || KV == 0);
    SIMT_LAUNCH(kv_store_kernel, n, ROW_THREADS, stream, pk, pv, sk, sv, k, v, kv_stride, rows, KV, Pm, Sm);
    return cudaGetLastError();
}

extern "C" cudaError_t cuda_decode_attention(float *out, int out_stride, const float *q, int q_stride, const float *pk,
                                             const float *pv, const float *sk, const float *sv,
                                             const CudaDecodeRow *rows, int n, int NH, int NKV, int hd, int Pm, int Sm,
                                             int window, float scale, cudaStream_t stream) {
    DECODE_SIZES(n < 0 || NH <= 0 || NKV <= 0 || NH % NKV || hd <= 0 || hd > CUDA_DECODE_MAX_HD, n == 0);
    SIMT_LAUNCH(decode_attention_kernel, dim3((unsigned)NH, (unsigned)n), DA_THREADS, stream, out, out_stride, q,
                q_stride, pk, pv, sk, sv, rows, NH, NKV, hd, Pm, Sm, window, scale);
    return cudaGetLastError();
}

/* Fused causal flash attention (kernels/cpu/attention.c and attention_gqa.c, both layouts): the
 * forward, the backward's row term D = rowsum(dout * out), and the backward's two passes (dk, dv
 * per key tile; dq per query tile), fp32 on CUDA cores.
 *
 * Design. A block of ATTN_THREADS threads owns one tile of queries (forward, dq) or keys (dk, dv)
 * of one head and keeps its outputs in registers; the other side's rows stream through static
 * shared memory tile by tile, and only the key tiles inside the causal/window band are visited.
 * The forward keeps a running max and sum per row (online softmax) and saves the log-sum-exp;
 * the backward recomputes each probability tile from it, so no T x T matrix exists anywhere.
 * Tile sizes are compile-time per head-dim class (Tiles<64|128|256>; a head dim runs in the
 * smallest class that holds it), chosen so each kernel's shared memory stays under 48 KiB.
 * Shared rows are HD + 1 floats so threads reading consecutive rows at one column hit distinct
 * banks. Rows past T are zero-filled, so masked entries multiply zeros, never stale values.
 *
 * Determinism: every sum (dot products over d, over a tile's keys or queries, over the tiles in
 * order, over the group's query heads in order) is one thread's loop, in an order fixed by the
 * shapes; no atomics. Tensor cores (bf16/tf32 mma) are not used (docs/cuda.md). */
#include <math.h>

#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/reduce.cuh"

#define ATTN_THREADS 128
#define ATTN_SMEM_MAX (48 * 1024)

/* nvcc keeps the per-thread accumulator arrays in registers only if their loops are unrolled;
 * the host compiler does not know the pragma (and would warn). */
#ifdef __CUDACC__
#define ATTN_UNROLL _Pragma("unroll")
#else
#define ATTN_UNROLL
#endif

/* Tile sizes per head-dim class HD: the forward's FQ queries x FK keys; the dk/dv pass's KK keys
 * x KQ queries; the dq pass's QQ queries x QK keys. */
template <int HD> struct Tiles;
template <> struct Tiles<64> {
    static constexpr int FQ = 64, FK = 32, KK = 32, KQ = 32, QQ = 32, QK = 32;
};
template <> struct Tiles<128> {
    static constexpr int FQ = 32, FK = 32, KK = 32, KQ = 8, QQ = 32, QK = 16;
};
template <> struct Tiles<256> {
    static constexpr int FQ = 16, FK = 16, KK = 16, KQ = 4, QQ = 16, QK = 8;
};

/* The shapes every kernel needs (ops_cuda.h's contract); passed by value. */
struct AttnGeom {
    int T, NH, NKV, hd, q_stride, kv_stride, window;
    float scale;
};

__device__ __forceinline__ int imin(int a, int b) { return a < b ? a : b; }

/* Whether query i sees key j (i, j inside the sequence; rows past T see nothing). */
__device__ __forceinline__ bool attn_visible(const AttnGeom &g, int i, int j) {
    return j <= i && i < g.T && (g.window <= 0 || i - j < g.window);
}

/* First key any query from i0 on sees. */
__device__ __forceinline__ int attn_band_lo(const AttnGeom &g, int i0) {
    return g.window > 0 && i0 - g.window + 1 > 0 ? i0 - g.window + 1 : 0;
}

__device__ __forceinline__ float dot_row(const float *a, const float *b, int n) {
    float s = 0.0f;
    for (int d = 0; d < n; d++) s += a[d] * b[d];
    return s;
}

/* Copies rows 0..nvalid-1 of hd floats (global row r at src + r * stride) into tile rows, and
 * zeros the tile's rows nvalid..ROWS-1. The caller synchronises before the tile is read. */
template <int HD, int ROWS>
__device__ __forceinline__ void load_rows(float (*tile)[HD + 1], const float *src, size_t stride, int nvalid, int hd) {
    for (int e = threadIdx.x; e < ROWS * hd; e += ATTN_THREADS) {
        int r = e / hd, d = e - r * hd;
        tile[r][d] = r < nvalid ? src[(size_t)r * stride + d] : 0.0f;
    }
}

/* Forward: block (query tile, head, sequence); later query tiles (more keys) are launched first.
 * Per key tile: S = scale * Q K^T masked to -inf, then the row owners (thread r for row r)
 * update the running max and sum and turn S into probabilities while the V tile loads, then
 * every thread rescales and accumulates its own O elements. */
template <int HD>
__global__ void __launch_bounds__(ATTN_THREADS)
    attn_forward_kernel(float *out, float *lse, const float *q, const float *k, const float *v, AttnGeom g) {
    constexpr int BQ = Tiles<HD>::FQ, BK = Tiles<HD>::FK, EPT = BQ * HD / ATTN_THREADS;
    __shared__ float sq[BQ][HD + 1], skv[BK][HD + 1], sp[BQ][BK + 1], srow[BQ];
    static_assert(sizeof sq + sizeof skv + sizeof sp + sizeof srow <= ATTN_SMEM_MAX, "forward shared memory");
    static_assert(BQ <= ATTN_THREADS && EPT * ATTN_THREADS == BQ * HD, "forward tiles");
    const int tid = threadIdx.x, h = blockIdx.y, b = blockIdx.z, hd = g.hd;
    const int i0 = (gridDim.x - 1 - blockIdx.x) * BQ, rn = imin(BQ, g.T - i0);
    const size_t kvoff = (size_t)b * g.T * g.kv_stride + (size_t)(h / (g.NH / g.NKV)) * hd;
    load_rows<HD, BQ>(sq, q + ((size_t)b * g.T + i0) * g.q_stride + (size_t)h * hd, g.q_stride, rn, hd);
    float acc[EPT];
    ATTN_UNROLL
    for (int x = 0; x < EPT; x++) acc[x] = 0.0f;
    float m = -INFINITY, l = 0.0f; /* row tid's running max and sum (tid < BQ) */
    for (int kj0 = attn_band_lo(g, i0) / BK * BK; kj0 < i0 + rn; kj0 += BK) {
        const int kn = imin(BK, g.T - kj0);
        load_rows<HD, BK>(skv, k + kvoff + (size_t)kj0 * g.kv_stride, g.kv_stride, kn, hd);
        __syncthreads();
        for (int e = tid; e < BQ * BK; e += ATTN_THREADS) {
            int r = e / BK, c = e % BK;
            sp[r][c] = attn_visible(g, i0 + r, kj0 + c) ? g.scale * dot_row(sq[r], skv[c], hd) : -INFINITY;
        }
        __syncthreads();
        load_rows<HD, BK>(skv, v + kvoff + (size_t)kj0 * g.kv_stride, g.kv_stride, kn, hd);
        if (tid < BQ) {
            float mt = -INFINITY;
            for (int c = 0; c < kn; c++) mt = fmaxf(mt, sp[tid][c]);
            float mn = fmaxf(m, mt), corr = 1.0f;
            if (mn == -INFINITY) {
                /* Nothing visible yet: keep the (empty) history, and -inf - -inf out of expf. */
                for (int c = 0; c < kn; c++) sp[tid][c] = 0.0f;
            } else {
                corr = expf(m - mn); /* 0 on the row's first visible tile: discards the zeros */
                float s = 0.0f;
                for (int c = 0; c < kn; c++) {
                    float p = expf(sp[tid][c] - mn);
                    sp[tid][c] = p;
                    s += p;
                }
                l = l * corr + s;
                m = mn;
            }
            srow[tid] = corr;
        }
        __syncthreads();
        ATTN_UNROLL
        for (int x = 0; x < EPT; x++) {
            int e = tid + x * ATTN_THREADS, r = e / HD, d = e % HD;
            if (d >= hd) continue;
            float a = acc[x] * srow[r];
            for (int c = 0; c < kn; c++) a += sp[r][c] * skv[c][d];
            acc[x] = a;
        }
        __syncthreads();
    }
    if (tid < BQ) {
        srow[tid] = tid < rn ? 1.0f / l : 0.0f;
        if (tid < rn) lse[((size_t)b * g.NH + h) * g.T + i0 + tid] = m + logf(l);
    }
    __syncthreads();
    const size_t ostride = (size_t)g.NH * hd;
    float *ob = out + ((size_t)b * g.T + i0) * ostride + (size_t)h * hd;
    ATTN_UNROLL
    for (int x = 0; x < EPT; x++) {
        int e = tid + x * ATTN_THREADS, r = e / HD, d = e % HD;
        if (d < hd && r < rn) ob[(size_t)r * ostride + d] = acc[x] * srow[r];
    }
}

/* D[b,h,t] = dout . out over the head's hd columns into drow[B,NH,T]: one warp per (b, t, h)
 * row (rows in memory order), lanes over the columns, then the warp's butterfly. */
__global__ void __launch_bounds__(ATTN_THREADS)
    attn_rowdot_kernel(float *drow, const float *dout, const float *out, int rows, int T, int NH, int hd) {
    const int row = blockIdx.x * (ATTN_THREADS / warpSize) + threadIdx.x / warpSize, lane = threadIdx.x % warpSize;
    if (row >= rows) return; /* the whole warp: no lane of a live warp leaves */
    const size_t off = (size_t)row * hd;
    float s = 0.0f;
    for (int d = lane; d < hd; d += warpSize) s += dout[off + d] * out[off + d];
    s = warp_sum(s);
    if (lane == 0) {
        int bt = row / NH, h = row % NH;
        drow[((size_t)(bt / T) * NH + h) * T + bt % T] = s;
    }
}

/* dk, dv of one key tile of one kv head (block: key tile, kv head, sequence). K and V stay in
 * shared memory; the group's query heads, then the query tiles from the tile's first key to the
 * last query that sees it, stream through: P = exp(scale Q K^T - lse), dS = P (dO V^T - D) scale,
 * then each thread adds its elements of P^T dO and dS^T Q. */
template <int HD>
__global__ void __launch_bounds__(ATTN_THREADS)
    attn_dkdv_kernel(float *dk, float *dv, const float *dout, const float *q, const float *k, const float *v,
                     const float *lse, const float *drow, AttnGeom g) {
    constexpr int BK = Tiles<HD>::KK, BQ = Tiles<HD>::KQ, EPT = BK * HD / ATTN_THREADS;
    __shared__ float sk[BK][HD + 1], sv[BK][HD + 1], sq[BQ][HD + 1], sdo[BQ][HD + 1], sp[BQ][BK + 1],
        sds[BQ][BK + 1], sl[BQ], sd[BQ];
    static_assert(sizeof sk + sizeof sv + sizeof sq + sizeof sdo + sizeof sp + sizeof sds + sizeof sl + sizeof sd <=
                      ATTN_SMEM_MAX,
                  "dk/dv shared memory");
    static_assert(BQ <= ATTN_THREADS && EPT * ATTN_THREADS == BK * HD, "dk/dv tiles");
    const int tid = threadIdx.x, kvh = blockIdx.y, b = blockIdx.z, hd = g.hd, grp = g.NH / g.NKV;
    const int kj0 = blockIdx.x * BK, kn = imin(BK, g.T - kj0);
    const size_t koff = ((size_t)b * g.T + kj0) * g.kv_stride + (size_t)kvh * hd, ostride = (size_t)g.NH * hd;
    load_rows<HD, BK>(sk, k + koff, g.kv_stride, kn, hd);
    load_rows<HD, BK>(sv, v + koff, g.kv_stride, kn, hd);
    float dka[EPT], dva[EPT];
    ATTN_UNROLL
    for (int x = 0; x < EPT; x++) dka[x] = dva[x] = 0.0f;
    const int i_end = g.window > 0 ? imin(g.T - 1, kj0 + kn - 1 + g.window - 1) : g.T - 1;
    for (int h = kvh * grp; h < (kvh + 1) * grp; h++) {
        const size_t lrow = ((size_t)b * g.NH + h) * g.T;
        for (int i0 = kj0; i0 <= i_end; i0 += BQ) {
            const int rn = imin(BQ, g.T - i0);
            load_rows<HD, BQ>(sq, q + ((size_t)b * g.T + i0) * g.q_stride + (size_t)h * hd, g.q_stride, rn, hd);
            load_rows<HD, BQ>(sdo, dout + ((size_t)b * g.T + i0) * ostride + (size_t)h * hd, ostride, rn, hd);
            if (tid < BQ) {
                sl[tid] = tid < rn ? lse[lrow + i0 + tid] : 0.0f;
                sd[tid] = tid < rn ? drow[lrow + i0 + tid] : 0.0f;
            }
            __syncthreads();
            for (int e = tid; e < BQ * BK; e += ATTN_THREADS) {
                int r = e / BK, c = e % BK;
                float p = 0.0f, ds = 0.0f;
                if (attn_visible(g, i0 + r, kj0 + c)) {
                    p = expf(g.scale * dot_row(sq[r], sk[c], hd) - sl[r]);
                    ds = p * (dot_row(sdo[r], sv[c], hd) - sd[r]) * g.scale;
                }
                sp[r][c] = p;
                sds[r][c] = ds;
            }
            __syncthreads();
            ATTN_UNROLL
            for (int x = 0; x < EPT; x++) {
                int e = tid + x * ATTN_THREADS, c = e / HD, d = e % HD;
                if (d >= hd) continue;
                float a = dva[x], s = dka[x];
                for (int r = 0; r < rn; r++) {
                    a += sp[r][c] * sdo[r][d];
                    s += sds[r][c] * sq[r][d];
                }
                dva[x] = a;
                dka[x] = s;
            }
            __syncthreads();
        }
    }
    ATTN_UNROLL
    for (int x = 0; x < EPT; x++) {
        int e = tid + x * ATTN_THREADS, c = e / HD, d = e % HD;
        if (d < hd && c < kn) {
            dk[koff + (size_t)c * g.kv_stride + d] = dka[x];
            dv[koff + (size_t)c * g.kv_stride + d] = dva[x];
        }
    }
}

/* dq of one query tile of one head (block: query tile, head, sequence; later tiles first). Q and
 * dO stay in shared memory; per key tile of the band, one buffer holds V (dP = dO V^T into the
 * dS tile), then K (P from the scores and lse, dS = P (dP - D) scale, by the same thread that
 * wrote the entry), then each thread adds its elements of dS K. */
template <int HD>
__global__ void __launch_bounds__(ATTN_THREADS)
    attn_dq_kernel(float *dq, const float *dout, const float *q, const float *k, const float *v, const float *lse,
                   const float *drow, AttnGeom g) {
    constexpr int BQ = Tiles<HD>::QQ, BK = Tiles<HD>::QK, EPT = BQ * HD / ATTN_THREADS;
    __shared__ float sq[BQ][HD + 1], sdo[BQ][HD + 1], skv[BK][HD + 1], sds[BQ][BK + 1], sl[BQ], sd[BQ];
    static_assert(sizeof sq + sizeof sdo + sizeof skv + sizeof sds + sizeof sl + sizeof sd <= ATTN_SMEM_MAX,
                  "dq shared memory");
    static_assert(BQ <= ATTN_THREADS && EPT * ATTN_THREADS == BQ * HD, "dq tiles");
    const int tid = threadIdx.x, h = blockIdx.y, b = blockIdx.z, hd = g.hd;
    const int i0 = (gridDim.x - 1 - blockIdx.x) * BQ, rn = imin(BQ, g.T - i0);
    const size_t qoff = ((size_t)b * g.T + i0) * g.q_stride + (size_t)h * hd, ostride = (size_t)g.NH * hd;
    const size_t kvoff = (size_t)b * g.T * g.kv_stride + (size_t)(h / (g.NH / g.NKV)) * hd;
    const size_t lrow = ((size_t)b * g.NH + h) * g.T + i0;
    load_rows<HD, BQ>(sq, q + qoff, g.q_stride, rn, hd);
    load_rows<HD, BQ>(sdo, dout + ((size_t)b * g.T + i0) * ostride + (size_t)h * hd, ostride, rn, hd);
    if (tid < BQ) {
        sl[tid] = tid < rn ? lse[lrow + tid] : 0.0f;
        sd[tid] = tid < rn ? drow[lrow + tid] : 0.0f;
    }
    float acc[EPT];
    ATTN_UNROLL
    for (int x = 0; x < EPT; x++) acc[x] = 0.0f;
    for (int kj0 = attn_band_lo(g, i0) / BK * BK; kj0 < i0 + rn; kj0 += BK) {
        const int kn = imin(BK, g.T - kj0);
        load_rows<HD, BK>(skv, v + kvoff + (size_t)kj0 * g.kv_stride, g.kv_stride, kn, hd);
        __syncthreads();
        for (int e = tid; e < BQ * BK; e += ATTN_THREADS) {
            int r = e / BK, c = e % BK;
            sds[r][c] = attn_visible(g, i0 + r, kj0 + c) ? dot_row(sdo[r], skv[c], hd) : 0.0f;
        }
        __syncthreads();
        load_rows<HD, BK>(skv, k + kvoff + (size_t)kj0 * g.kv_stride, g.kv_stride, kn, hd);
        __syncthreads();
        for (int e = tid; e < BQ * BK; e += ATTN_THREADS) {
            int r = e / BK, c = e % BK;
            if (attn_visible(g, i0 + r, kj0 + c)) {
                float p = expf(g.scale * dot_row(sq[r], skv[c], hd) - sl[r]);
                sds[r][c] = p * (sds[r][c] - sd[r]) * g.scale;
            }
        }
        __syncthreads();
        ATTN_UNROLL
        for (int x = 0; x < EPT; x++) {
            int e = tid + x * ATTN_THREADS, r = e / HD, d = e % HD;
            if (d >= hd) continue;
            float a = acc[x];
            for (int c = 0; c < kn; c++) a += sds[r][c] * skv[c][d];
            acc[x] = a;
        }
        __syncthreads();
    }
    ATTN_UNROLL
    for (int x = 0; x < EPT; x++) {
        int e = tid + x * ATTN_THREADS, r = e / HD, d = e % HD;
        if (d < hd && r < rn) dq[qoff + (size_t)r * g.q_stride + d] = acc[x];
    }
}

/* Whether the shapes are ones the kernels take (ops_cuda.h): NKV divides NH, head dims up to
 * 256, rows at least as wide as their heads. */
static bool attn_shapes_ok(int B, int T, int NH, int NKV, int hd, int q_stride, int kv_stride, int window) {
    return B >= 0 && T >= 0 && NH >= 1 && NKV >= 1 && NH % NKV == 0 && hd >= 1 && hd <= 256 &&
           (long long)q_stride >= (long long)NH * hd && (long long)kv_stride >= (long long)NKV * hd && window >= 0;
}

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

template <int HD> static cudaError_t attn_forward_run(float *out, float *lse, const float *q, const float *k,
                                                      const float *v, int B, const AttnGeom &g, cudaStream_t stream) {
    dim3 grid((unsigned)ceil_div(g.T, Tiles<HD>::FQ), (unsigned)g.NH, (unsigned)B);
    SIMT_LAUNCH(attn_forward_kernel<HD>, grid, ATTN_THREADS, stream, out, lse, q, k, v, g);
    return cudaGetLastError();
}

template <int HD>
static cudaError_t attn_backward_run(float *dq, float *dk, float *dv, const float *dout, const float *q,
                                     const float *k, const float *v, const float *lse, const float *drow, int B,
                                     const AttnGeom &g, cudaStream_t stream) {
    dim3 kgrid((unsigned)ceil_div(g.T, Tiles<HD>::KK), (unsigned)g.NKV, (unsigned)B);
    SIMT_LAUNCH(attn_dkdv_kernel<HD>, kgrid, ATTN_THREADS, stream, dk, dv, dout, q, k, v, lse, drow, g);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return err;
    dim3 qgrid((unsigned)ceil_div(g.T, Tiles<HD>::QQ), (unsigned)g.NH, (unsigned)B);
    SIMT_LAUNCH(attn_dq_kernel<HD>, qgrid, ATTN_THREADS, stream, dq, dout, q, k, v, lse, drow, g);
    return cudaGetLastError();
}

extern "C" size_t cuda_attention_workspace(int B, int T, int NH) {
    if (B <= 0 || T <= 0 || NH <= 0) return 0;
    return (size_t)B * T * NH * sizeof(float);
}

extern "C" cudaError_t cuda_attention_forward(float *out, float *lse, const float *q, const float *k, const float *v,
                                              int B, int T, int NH, int NKV, int hd, int q_stride, int kv_stride,
                                              int window, float scale, cudaStream_t stream) {
    if (!attn_shapes_ok(B, T, NH, NKV, hd, q_stride, kv_stride, window)) return cudaErrorInvalidValue;
    if (B == 0 || T == 0) return cudaSuccess;
    const AttnGeom g = {T, NH, NKV, hd, q_stride, kv_stride, window, scale};
    if (hd <= 64) return attn_forward_run<64>(out, lse, q, k, v, B, g, stream);
    if (hd <= 128) return attn_forward_run<128>(out, lse, q, k, v, B, g, stream);
    return attn_forward_run<256>(out, lse, q, k, v, B, g, stream);
}

extern "C" cudaError_t cuda_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                                               const float *k, const float *v, const float *out, const float *lse,
                                               int B, int T, int NH, int NKV, int hd, int q_stride, int kv_stride,
                                               int window, float scale, void *ws, size_t ws_bytes,
                                               cudaStream_t stream) {
    if (!attn_shapes_ok(B, T, NH, NKV, hd, q_stride, kv_stride, window)) return cudaErrorInvalidValue;
    if (ws_bytes < cuda_attention_workspace(B, T, NH)) return cudaErrorInvalidValue;
    if (B == 0 || T == 0) return cudaSuccess;
    float *drow = (float *)ws;
    const int rows = B * T * NH, warps = ATTN_THREADS / 32;
    SIMT_LAUNCH(attn_rowdot_kernel, ceil_div(rows, warps), ATTN_THREADS, stream, drow, dout, out, rows, T, NH, hd);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return err;
    const AttnGeom g = {T, NH, NKV, hd, q_stride, kv_stride, window, scale};
    if (hd <= 64) return attn_backward_run<64>(dq, dk, dv, dout, q, k, v, lse, drow, B, g, stream);
    if (hd <= 128) return attn_backward_run<128>(dq, dk, dv, dout, q, k, v, lse, drow, B, g, stream);
    return attn_backward_run<256>(dq, dk, dv, dout, q, k, v, lse, drow, B, g, stream);
}

/* Fused causal flash attention on tensor cores (bf16 mma, fp32 accumulation): the same ops and
 * contract as attention.cu's fp32 kernels (ops_cuda.h), for head dims that are multiples of 16
 * up to 256, for bf16 mixed-precision training.
 *
 * Design. The blocking is attention.cu's: a block of TC_THREADS threads (4 warps) owns a tile of
 * queries (forward, dq) or keys (dk, dv) of one head, the other side's rows stream through static
 * shared memory, and only the key tiles inside the causal/window band are visited. q, k, v and
 * dout stay fp32 in memory and are rounded to bf16 (round to nearest even) as they are staged in
 * shared memory. Every product is a sequence of 16x16x16 warp mma's (nvcuda::wmma) with fp32
 * accumulators: S = Q K^T and O += P V (forward), dP = dO V^T, dV += P^T dO, dK += dS^T Q,
 * dQ += dS K (backward), P and dS rounded to bf16 as they are stored for their product. The
 * online softmax, lse, masks and dS = P (dP - D) scale are fp32 on CUDA cores. The forward's O
 * lives in shared memory (fp32) because the running max rescales its rows and a fragment's
 * element-to-lane mapping is opaque; the backward's dK, dV and dQ stay in accumulator fragments
 * (registers) and go out through a per-warp 16x16 staging tile, so rows past T are never written.
 * Each output fragment belongs to one warp (fragment f to warp f % 4) for the whole kernel.
 *
 * Shared tiles have rows padded by 16 bytes (bf16 HD + 8, fp32 width + 4): wmma wants ldm a
 * multiple of 16 bytes and 32-byte aligned fragment pointers, and the padding spreads a
 * fragment's rows over the banks. Rows past T are zero-filled so masked entries multiply zeros.
 *
 * Determinism: every sum has an order fixed by the shapes (a fragment's k steps in order, the
 * tiles in order, the group's heads in order); no atomics. */
#include <math.h>

#include "kernels/cuda/ops_cuda.h"
#include "kernels/cuda/reduce.cuh"

#define TC_THREADS 128
#define TC_WARPS (TC_THREADS / 32)
#define TC_SMEM_MAX (48 * 1024)

/* nvcc keeps the fragment arrays in registers only if their loops are unrolled; the host compiler
 * does not know the pragma (and would warn). */
#ifdef __CUDACC__
#define TC_UNROLL _Pragma("unroll")
#else
#define TC_UNROLL
#endif

namespace wmma = nvcuda::wmma;
typedef __nv_bfloat16 bf16;
typedef wmma::fragment<wmma::accumulator, 16, 16, 16, float> FragC;
/* A tile read as stored (row_major) or transposed (col_major), as either operand. */
typedef wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> FragA;
typedef wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::col_major> FragAT;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> FragB;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> FragBT;

/* Tile sizes per head-dim class HD (a head dim runs in the smallest of 64, 128, 256 that holds
 * it): the forward's FQ queries x FK keys, the dk/dv pass's KK keys x KQ queries, the dq pass's
 * QQ queries x QK keys. All multiples of 16; each kernel's shared memory under 48 KiB. */
template <int HD> struct TcTiles;
template <> struct TcTiles<64> {
    static constexpr int FQ = 64, FK = 32, KK = 32, KQ = 32, QQ = 32, QK = 32;
};
template <> struct TcTiles<128> {
    static constexpr int FQ = 32, FK = 32, KK = 32, KQ = 16, QQ = 32, QK = 16;
};
template <> struct TcTiles<256> {
    static constexpr int FQ = 16, FK = 32, KK = 16, KQ = 16, QQ = 16, QK = 16;
};

/* The shapes every kernel needs (ops_cuda.h's contract); passed by value. */
struct TcGeom {
    int T, NH, NKV, hd, q_stride, kv_stride, window;
    float scale;
};

__device__ __forceinline__ int tc_min(int a, int b) { return a < b ? a : b; }
__device__ __forceinline__ int round16(int n) { return (n + 15) & ~15; }

/* Whether query i sees key j (i, j inside the sequence; rows past T see nothing). */
__device__ __forceinline__ bool tc_visible(const TcGeom &g, int i, int j) {
    return j <= i && i < g.T && (g.window <= 0 || i - j < g.window);
}

/* First key any query from i0 on sees. */
__device__ __forceinline__ int tc_band_lo(const TcGeom &g, int i0) {
    return g.window > 0 && i0 - g.window + 1 > 0 ? i0 - g.window + 1 : 0;
}

/* Rounds rows 0..nvalid-1 of hd floats (global row r at src + r * stride) to bf16 into tile rows
 * and zeros rows nvalid..ROWS-1. The caller synchronises before the tile is read. */
template <int HD, int ROWS>
__device__ __forceinline__ void tc_load_rows(bf16 (*tile)[HD + 8], const float *src, size_t stride, int nvalid,
                                             int hd) {
    for (int e = threadIdx.x; e < ROWS * hd; e += TC_THREADS) {
        int r = e / hd, d = e - r * hd;
        tile[r][d] = __float2bfloat16_rn(r < nvalid ? src[(size_t)r * stride + d] : 0.0f);
    }
}

/* acc += sum over k = 0, 16, ... < nk of A_k B_k, where A_k is the fragment at a + k/16 * a_step
 * (leading dimension lda) and B_k likewise: the caller's pointers and steps say which tile rows
 * or columns a k step walks. */
template <class FA, class FB>
__device__ __forceinline__ void tc_mma(FragC &acc, const bf16 *a, unsigned lda, size_t a_step, const bf16 *b,
                                       unsigned ldb, size_t b_step, int nk) {
    FA fa;
    FB fb;
    for (int k = 0; k < nk; k += 16) {
        wmma::load_matrix_sync(fa, a, lda);
        wmma::load_matrix_sync(fb, b, ldb);
        wmma::mma_sync(acc, fa, fb, acc);
        a += a_step;
        b += b_step;
    }
}

/* Writes a warp's accumulator (tile rows 0..nrows-1 of 16) to dst (row r at dst + r * stride)
 * through the warp's staging tile. */
__device__ __forceinline__ void tc_store_rows(float *dst, size_t stride, int nrows, const FragC &acc,
                                              float *stage) {
    wmma::store_matrix_sync(stage, acc, 16, wmma::mem_row_major);
    __syncwarp();
    const int lane = threadIdx.x % 32;
    for (int e = lane; e < 256; e += 32)
        if (e / 16 < nrows) dst[(size_t)(e / 16) * stride + e % 16] = stage[e];
    __syncwarp();
}

/* S tile = Q K^T (BQ x BK, fp32) over the first hd columns: fragment f to warp f % TC_WARPS.
 * Used for dP = dO V^T too. */
template <int HD, int BQ, int BK>
__device__ __forceinline__ void tc_scores(float (*s)[BK + 4], const bf16 (*a)[HD + 8], const bf16 (*b)[HD + 8],
                                          int hd) {
    for (int f = threadIdx.x / 32; f < (BQ / 16) * (BK / 16); f += TC_WARPS) {
        const int fi = f / (BK / 16), fj = f % (BK / 16);
        FragC acc;
        wmma::fill_fragment(acc, 0.0f);
        tc_mma<FragA, FragBT>(acc, &a[fi * 16][0], HD + 8, 16, &b[fj * 16][0], HD + 8, 16, hd);
        wmma::store_matrix_sync(&s[fi * 16][fj * 16], acc, BK + 4, wmma::mem_row_major);
    }
}

/* Forward: block (query tile, head, sequence); later query tiles (more keys) are launched first.
 * Per key tile: S = Q K^T; the row owners (thread r for row r) apply scale and mask, update the
 * running max and sum, write P (bf16) and the rescale factor while V loads into K's buffer; then
 * each warp rescales its O fragments' rows and adds P V. */
template <int HD>
__global__ void __launch_bounds__(TC_THREADS)
    tc_forward_kernel(float *out, float *lse, const float *q, const float *k, const float *v, TcGeom g) {
    constexpr int BQ = TcTiles<HD>::FQ, BK = TcTiles<HD>::FK;
    __shared__ __align__(32) bf16 sq[BQ][HD + 8];
    __shared__ __align__(32) bf16 skv[BK][HD + 8];
    __shared__ __align__(32) bf16 sp[BQ][BK + 8];
    __shared__ __align__(32) float ss[BQ][BK + 4];
    __shared__ __align__(32) float so[BQ][HD + 4];
    __shared__ float scorr[BQ];
    static_assert(sizeof sq + sizeof skv + sizeof sp + sizeof ss + sizeof so + sizeof scorr <= TC_SMEM_MAX,
                  "forward shared memory");
    static_assert(BQ <= TC_THREADS && BQ % 16 == 0 && BK % 16 == 0, "forward tiles");
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, h = blockIdx.y, b = blockIdx.z, hd = g.hd;
    const int i0 = (gridDim.x - 1 - blockIdx.x) * BQ, rn = tc_min(BQ, g.T - i0);
    const size_t kvoff = (size_t)b * g.T * g.kv_stride + (size_t)(h / (g.NH / g.NKV)) * hd;
    tc_load_rows<HD, BQ>(sq, q + ((size_t)b * g.T + i0) * g.q_stride + (size_t)h * hd, g.q_stride, rn, hd);
    for (int e = tid; e < BQ * hd; e += TC_THREADS) so[e / hd][e % hd] = 0.0f;
    float m = -INFINITY, l = 0.0f; /* row tid's running max and sum (tid < BQ) */
    for (int kj0 = tc_band_lo(g, i0) / BK * BK; kj0 < i0 + rn; kj0 += BK) {
        const int kn = tc_min(BK, g.T - kj0);
        tc_load_rows<HD, BK>(skv, k + kvoff + (size_t)kj0 * g.kv_stride, g.kv_stride, kn, hd);
        __syncthreads();
        tc_scores<HD, BQ, BK>(ss, sq, skv, hd);
        __syncthreads();
        tc_load_rows<HD, BK>(skv, v + kvoff + (size_t)kj0 * g.kv_stride, g.kv_stride, kn, hd);
        if (tid < BQ) {
            float mt = -INFINITY;
            for (int c = 0; c < kn; c++)
                if (tc_visible(g, i0 + tid, kj0 + c)) mt = fmaxf(mt, g.scale * ss[tid][c]);
            const float mn = fmaxf(m, mt);
            /* Nothing visible yet: P is 0 and the (empty) history stays. Else corr is 0 on the
             * row's first visible tile, which discards the zeros. */
            const float corr = mn == -INFINITY ? 1.0f : expf(m - mn);
            float s = 0.0f;
            for (int c = 0; c < BK; c++) {
                float p = c < kn && tc_visible(g, i0 + tid, kj0 + c) ? expf(g.scale * ss[tid][c] - mn) : 0.0f;
                sp[tid][c] = __float2bfloat16_rn(p);
                s += p;
            }
            l = l * corr + s;
            m = mn;
            scorr[tid] = corr;
        }
        __syncthreads();
        for (int f = warp; f < (BQ / 16) * (HD / 16); f += TC_WARPS) {
            const int fi = f / (HD / 16), fd = f % (HD / 16);
            if (fd * 16 >= hd) continue;
            float *o = &so[fi * 16][fd * 16];
            for (int e = lane; e < 256; e += 32) o[(e / 16) * (HD + 4) + e % 16] *= scorr[fi * 16 + e / 16];
            __syncwarp();
            FragC acc;
            wmma::load_matrix_sync(acc, o, HD + 4, wmma::mem_row_major);
            tc_mma<FragA, FragB>(acc, &sp[fi * 16][0], BK + 8, 16, &skv[0][fd * 16], HD + 8, 16 * (HD + 8),
                                 round16(kn));
            wmma::store_matrix_sync(o, acc, HD + 4, wmma::mem_row_major);
        }
        __syncthreads();
    }
    if (tid < BQ) {
        scorr[tid] = tid < rn ? 1.0f / l : 0.0f;
        if (tid < rn) lse[((size_t)b * g.NH + h) * g.T + i0 + tid] = m + logf(l);
    }
    __syncthreads();
    const size_t ostride = (size_t)g.NH * hd;
    float *ob = out + ((size_t)b * g.T + i0) * ostride + (size_t)h * hd;
    for (int e = tid; e < rn * hd; e += TC_THREADS) {
        int r = e / hd, d = e % hd;
        ob[(size_t)r * ostride + d] = so[r][d] * scorr[r];
    }
}

/* D[b,h,t] = dout . out over the head's hd columns into drow[B,NH,T]: one warp per (b, t, h)
 * row, lanes over the columns, then the warp's butterfly (fp32: D multiplies P in dS). */
__global__ void __launch_bounds__(TC_THREADS)
    tc_rowdot_kernel(float *drow, const float *dout, const float *out, int rows, int T, int NH, int hd) {
    const int row = blockIdx.x * TC_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= rows) return; /* the whole warp: no lane of a live warp leaves */
    const size_t off = (size_t)row * hd;
    float s = 0.0f;
    for (int d = lane; d < hd; d += 32) s += dout[off + d] * out[off + d];
    s = warp_sum(s);
    if (lane == 0) {
        int bt = row / NH, h = row % NH;
        drow[((size_t)(bt / T) * NH + h) * T + bt % T] = s;
    }
}

/* P = exp(scale S - lse) and dS = P (dP - D) scale, elementwise from the fp32 S and dP tiles;
 * 0 where masked. P (when sp is not NULL) and dS are rounded to bf16 for their products. */
template <int BQ, int BK>
__device__ __forceinline__ void tc_probs(bf16 (*sp)[BK + 8], bf16 (*sds)[BK + 8], const float (*ss)[BK + 4],
                                         const float (*sdp)[BK + 4], const float *sl, const float *sd,
                                         const TcGeom &g, int i0, int kj0) {
    for (int e = threadIdx.x; e < BQ * BK; e += TC_THREADS) {
        const int r = e / BK, c = e % BK;
        float p = 0.0f, ds = 0.0f;
        if (tc_visible(g, i0 + r, kj0 + c)) {
            p = expf(g.scale * ss[r][c] - sl[r]);
            ds = p * (sdp[r][c] - sd[r]) * g.scale;
        }
        if (sp) sp[r][c] = __float2bfloat16_rn(p);
        sds[r][c] = __float2bfloat16_rn(ds);
    }
}

/* dk, dv of one key tile of one kv head (block: key tile, kv head, sequence). K and V stay in
 * shared memory; the group's query heads, then the query tiles from the tile's first key to the
 * last query that sees it, stream through: S and dP on the mma's, P and dS elementwise, then
 * each warp adds P^T dO and dS^T Q into its fragments of dV and dK. */
template <int HD>
__global__ void __launch_bounds__(TC_THREADS)
    tc_dkdv_kernel(float *dk, float *dv, const float *dout, const float *q, const float *k, const float *v,
                   const float *lse, const float *drow, TcGeom g) {
    constexpr int BK = TcTiles<HD>::KK, BQ = TcTiles<HD>::KQ;
    constexpr int NFRAG = (BK / 16) * (HD / 16), NF = (NFRAG + TC_WARPS - 1) / TC_WARPS;
    __shared__ __align__(32) bf16 sk[BK][HD + 8];
    __shared__ __align__(32) bf16 sv[BK][HD + 8];
    __shared__ __align__(32) bf16 sq[BQ][HD + 8];
    __shared__ __align__(32) bf16 sdo[BQ][HD + 8];
    __shared__ __align__(32) bf16 sp[BQ][BK + 8];
    __shared__ __align__(32) bf16 sds[BQ][BK + 8];
    __shared__ __align__(32) float ss[BQ][BK + 4];
    __shared__ __align__(32) float sdp[BQ][BK + 4];
    __shared__ __align__(32) float stage[TC_WARPS][256];
    __shared__ float sl[BQ], sd[BQ];
    static_assert(sizeof sk + sizeof sv + sizeof sq + sizeof sdo + sizeof sp + sizeof sds + sizeof ss + sizeof sdp +
                          sizeof stage + sizeof sl + sizeof sd <=
                      TC_SMEM_MAX,
                  "dk/dv shared memory");
    static_assert(BQ <= TC_THREADS && BQ % 16 == 0 && BK % 16 == 0, "dk/dv tiles");
    const int tid = threadIdx.x, warp = tid / 32, kvh = blockIdx.y, b = blockIdx.z, hd = g.hd;
    const int grp = g.NH / g.NKV, kj0 = blockIdx.x * BK, kn = tc_min(BK, g.T - kj0);
    const size_t koff = ((size_t)b * g.T + kj0) * g.kv_stride + (size_t)kvh * hd, ostride = (size_t)g.NH * hd;
    tc_load_rows<HD, BK>(sk, k + koff, g.kv_stride, kn, hd);
    tc_load_rows<HD, BK>(sv, v + koff, g.kv_stride, kn, hd);
    FragC dka[NF], dva[NF];
    TC_UNROLL
    for (int x = 0; x < NF; x++) {
        wmma::fill_fragment(dka[x], 0.0f);
        wmma::fill_fragment(dva[x], 0.0f);
    }
    const int i_end = g.window > 0 ? tc_min(g.T - 1, kj0 + kn - 1 + g.window - 1) : g.T - 1;
    for (int h = kvh * grp; h < (kvh + 1) * grp; h++) {
        const size_t lrow = ((size_t)b * g.NH + h) * g.T;
        for (int i0 = kj0; i0 <= i_end; i0 += BQ) {
            const int rn = tc_min(BQ, g.T - i0);
            tc_load_rows<HD, BQ>(sq, q + ((size_t)b * g.T + i0) * g.q_stride + (size_t)h * hd, g.q_stride, rn, hd);
            tc_load_rows<HD, BQ>(sdo, dout + ((size_t)b * g.T + i0) * ostride + (size_t)h * hd, ostride, rn, hd);
            if (tid < BQ) {
                sl[tid] = tid < rn ? lse[lrow + i0 + tid] : 0.0f;
                sd[tid] = tid < rn ? drow[lrow + i0 + tid] : 0.0f;
            }
            __syncthreads();
            tc_scores<HD, BQ, BK>(ss, sq, sk, hd);
            tc_scores<HD, BQ, BK>(sdp, sdo, sv, hd);
            __syncthreads();
            tc_probs<BQ, BK>(sp, sds, ss, sdp, sl, sd, g, i0, kj0);
            __syncthreads();
            TC_UNROLL
    for (int x = 0; x < NF; x++) {
                const int f = warp + x * TC_WARPS, fj = f / (HD / 16), fd = f % (HD / 16);
                if (f >= NFRAG || fd * 16 >= hd) continue;
                /* P^T and dS^T: the [query][key] tiles read column-major; k walks the queries. */
                tc_mma<FragAT, FragB>(dva[x], &sp[0][fj * 16], BK + 8, 16 * (BK + 8), &sdo[0][fd * 16], HD + 8,
                                      16 * (HD + 8), round16(rn));
                tc_mma<FragAT, FragB>(dka[x], &sds[0][fj * 16], BK + 8, 16 * (BK + 8), &sq[0][fd * 16], HD + 8,
                                      16 * (HD + 8), round16(rn));
            }
            __syncthreads();
        }
    }
    TC_UNROLL
    for (int x = 0; x < NF; x++) {
        const int f = warp + x * TC_WARPS, fj = f / (HD / 16), fd = f % (HD / 16);
        if (f >= NFRAG || fd * 16 >= hd || fj * 16 >= kn) continue;
        const size_t off = koff + (size_t)fj * 16 * g.kv_stride + fd * 16;
        tc_store_rows(dk + off, g.kv_stride, kn - fj * 16, dka[x], stage[warp]);
        tc_store_rows(dv + off, g.kv_stride, kn - fj * 16, dva[x], stage[warp]);
    }
}

/* dq of one query tile of one head (block: query tile, head, sequence; later tiles first). Q and
 * dO stay in shared memory; per key tile of the band, K and V load, S and dP on the mma's, dS
 * elementwise, then each warp adds dS K into its fragments of dQ. */
template <int HD>
__global__ void __launch_bounds__(TC_THREADS)
    tc_dq_kernel(float *dq, const float *dout, const float *q, const float *k, const float *v, const float *lse,
                 const float *drow, TcGeom g) {
    constexpr int BQ = TcTiles<HD>::QQ, BK = TcTiles<HD>::QK;
    constexpr int NFRAG = (BQ / 16) * (HD / 16), NF = (NFRAG + TC_WARPS - 1) / TC_WARPS;
    __shared__ __align__(32) bf16 sq[BQ][HD + 8];
    __shared__ __align__(32) bf16 sdo[BQ][HD + 8];
    __shared__ __align__(32) bf16 sk[BK][HD + 8];
    __shared__ __align__(32) bf16 sv[BK][HD + 8];
    __shared__ __align__(32) bf16 sds[BQ][BK + 8];
    __shared__ __align__(32) float ss[BQ][BK + 4];
    __shared__ __align__(32) float sdp[BQ][BK + 4];
    __shared__ __align__(32) float stage[TC_WARPS][256];
    __shared__ float sl[BQ], sd[BQ];
    static_assert(sizeof sq + sizeof sdo + sizeof sk + sizeof sv + sizeof sds + sizeof ss + sizeof sdp +
                          sizeof stage + sizeof sl + sizeof sd <=
                      TC_SMEM_MAX,
                  "dq shared memory");
    static_assert(BQ <= TC_THREADS && BQ % 16 == 0 && BK % 16 == 0, "dq tiles");
    const int tid = threadIdx.x, warp = tid / 32, h = blockIdx.y, b = blockIdx.z, hd = g.hd;
    const int i0 = (gridDim.x - 1 - blockIdx.x) * BQ, rn = tc_min(BQ, g.T - i0);
    const size_t qoff = ((size_t)b * g.T + i0) * g.q_stride + (size_t)h * hd, ostride = (size_t)g.NH * hd;
    const size_t kvoff = (size_t)b * g.T * g.kv_stride + (size_t)(h / (g.NH / g.NKV)) * hd;
    const size_t lrow = ((size_t)b * g.NH + h) * g.T + i0;
    tc_load_rows<HD, BQ>(sq, q + qoff, g.q_stride, rn, hd);
    tc_load_rows<HD, BQ>(sdo, dout + ((size_t)b * g.T + i0) * ostride + (size_t)h * hd, ostride, rn, hd);
    if (tid < BQ) {
        sl[tid] = tid < rn ? lse[lrow + tid] : 0.0f;
        sd[tid] = tid < rn ? drow[lrow + tid] : 0.0f;
    }
    FragC acc[NF];
    TC_UNROLL
    for (int x = 0; x < NF; x++) wmma::fill_fragment(acc[x], 0.0f);
    for (int kj0 = tc_band_lo(g, i0) / BK * BK; kj0 < i0 + rn; kj0 += BK) {
        const int kn = tc_min(BK, g.T - kj0);
        tc_load_rows<HD, BK>(sk, k + kvoff + (size_t)kj0 * g.kv_stride, g.kv_stride, kn, hd);
        tc_load_rows<HD, BK>(sv, v + kvoff + (size_t)kj0 * g.kv_stride, g.kv_stride, kn, hd);
        __syncthreads();
        tc_scores<HD, BQ, BK>(ss, sq, sk, hd);
        tc_scores<HD, BQ, BK>(sdp, sdo, sv, hd);
        __syncthreads();
        tc_probs<BQ, BK>(nullptr, sds, ss, sdp, sl, sd, g, i0, kj0);
        __syncthreads();
        TC_UNROLL
    for (int x = 0; x < NF; x++) {
            const int f = warp + x * TC_WARPS, fi = f / (HD / 16), fd = f % (HD / 16);
            if (f >= NFRAG || fd * 16 >= hd) continue;
            tc_mma<FragA, FragB>(acc[x], &sds[fi * 16][0], BK + 8, 16, &sk[0][fd * 16], HD + 8, 16 * (HD + 8),
                                 round16(kn));
        }
        __syncthreads();
    }
    TC_UNROLL
    for (int x = 0; x < NF; x++) {
        const int f = warp + x * TC_WARPS, fi = f / (HD / 16), fd = f % (HD / 16);
        if (f >= NFRAG || fd * 16 >= hd || fi * 16 >= rn) continue;
        tc_store_rows(dq + qoff + (size_t)fi * 16 * g.q_stride + fd * 16, g.q_stride, rn - fi * 16, acc[x],
                      stage[warp]);
    }
}

/* Whether the shapes are ones the kernels take (ops_cuda.h): NKV divides NH, head dims a
 * multiple of 16 up to 256, rows at least as wide as their heads. */
static bool tc_shapes_ok(int B, int T, int NH, int NKV, int hd, int q_stride, int kv_stride, int window) {
    return B >= 0 && T >= 0 && NH >= 1 && NKV >= 1 && NH % NKV == 0 && hd >= 16 && hd <= 256 && hd % 16 == 0 &&
           (long long)q_stride >= (long long)NH * hd && (long long)kv_stride >= (long long)NKV * hd && window >= 0;
}

static int tc_ceil_div(int a, int b) { return (a + b - 1) / b; }

template <int HD> static cudaError_t tc_forward_run(float *out, float *lse, const float *q, const float *k,
                                                    const float *v, int B, const TcGeom &g, cudaStream_t stream) {
    dim3 grid((unsigned)tc_ceil_div(g.T, TcTiles<HD>::FQ), (unsigned)g.NH, (unsigned)B);
    SIMT_LAUNCH(tc_forward_kernel<HD>, grid, TC_THREADS, stream, out, lse, q, k, v, g);
    return cudaGetLastError();
}

template <int HD>
static cudaError_t tc_backward_run(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                                   const float *v, const float *lse, const float *drow, int B, const TcGeom &g,
                                   cudaStream_t stream) {
    dim3 kgrid((unsigned)tc_ceil_div(g.T, TcTiles<HD>::KK), (unsigned)g.NKV, (unsigned)B);
    SIMT_LAUNCH(tc_dkdv_kernel<HD>, kgrid, TC_THREADS, stream, dk, dv, dout, q, k, v, lse, drow, g);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return err;
    dim3 qgrid((unsigned)tc_ceil_div(g.T, TcTiles<HD>::QQ), (unsigned)g.NH, (unsigned)B);
    SIMT_LAUNCH(tc_dq_kernel<HD>, qgrid, TC_THREADS, stream, dq, dout, q, k, v, lse, drow, g);
    return cudaGetLastError();
}

extern "C" size_t cuda_attention_tc_workspace(int B, int T, int NH) {
    if (B <= 0 || T <= 0 || NH <= 0) return 0;
    return (size_t)B * T * NH * sizeof(float);
}

extern "C" cudaError_t cuda_attention_tc_forward(float *out, float *lse, const float *q, const float *k,
                                                 const float *v, int B, int T, int NH, int NKV, int hd, int q_stride,
                                                 int kv_stride, int window, float scale, cudaStream_t stream) {
    if (!tc_shapes_ok(B, T, NH, NKV, hd, q_stride, kv_stride, window)) return cudaErrorInvalidValue;
    if (B == 0 || T == 0) return cudaSuccess;
    const TcGeom g = {T, NH, NKV, hd, q_stride, kv_stride, window, scale};
    if (hd <= 64) return tc_forward_run<64>(out, lse, q, k, v, B, g, stream);
    if (hd <= 128) return tc_forward_run<128>(out, lse, q, k, v, B, g, stream);
    return tc_forward_run<256>(out, lse, q, k, v, B, g, stream);
}

extern "C" cudaError_t cuda_attention_tc_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                                                  const float *k, const float *v, const float *out, const float *lse,
                                                  int B, int T, int NH, int NKV, int hd, int q_stride, int kv_stride,
                                                  int window, float scale, void *ws, size_t ws_bytes,
                                                  cudaStream_t stream) {
    if (!tc_shapes_ok(B, T, NH, NKV, hd, q_stride, kv_stride, window)) return cudaErrorInvalidValue;
    if (ws_bytes < cuda_attention_tc_workspace(B, T, NH)) return cudaErrorInvalidValue;
    if (B == 0 || T == 0) return cudaSuccess;
    float *drow = (float *)ws;
    const int rows = B * T * NH;
    SIMT_LAUNCH(tc_rowdot_kernel, tc_ceil_div(rows, TC_WARPS), TC_THREADS, stream, drow, dout, out, rows, T, NH, hd);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return err;
    const TcGeom g = {T, NH, NKV, hd, q_stride, kv_stride, window, scale};
    if (hd <= 64) return tc_backward_run<64>(dq, dk, dv, dout, q, k, v, lse, drow, B, g, stream);
    if (hd <= 128) return tc_backward_run<128>(dq, dk, dv, dout, q, k, v, lse, drow, B, g, stream);
    return tc_backward_run<256>(dq, dk, dv, dout, q, k, v, lse, drow, B, g, stream);
}

/* A kernel that probes the warp matrix API (nvcuda::wmma) as the tensor-core attention uses it,
 * for tests/test_cuda_attention_tc.c: one warp stages A, B (bf16, row- or column-major) and C
 * (fp32) in shared memory, computes D = A B + C with one mma_sync, stores D to shared memory and
 * copies it out in a lane-to-element order unlike the store's. Without the __syncwarp between
 * the store and the copy a lane reads elements other lanes have not stored yet, which the SIMT
 * emulation must show. */
#include "kernels/cuda/simt.h"

namespace wmma = nvcuda::wmma;

#define PROBE_LD 24  /* bf16 tiles' leading dimension: 48 bytes, a multiple of 16 */
#define PROBE_LDC 20 /* the fp32 tile's: 80 bytes */

template <class LA, class LB> __device__ void probe_mma(float *sc, const __nv_bfloat16 *sa, const __nv_bfloat16 *sb) {
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, LA> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, LB> fb;
    wmma::fragment<wmma::accumulator, 16, 16, 16, float> fc;
    wmma::load_matrix_sync(fa, sa, PROBE_LD);
    wmma::load_matrix_sync(fb, sb, PROBE_LD);
    wmma::load_matrix_sync(fc, sc, PROBE_LDC, wmma::mem_row_major);
    wmma::mma_sync(fc, fa, fb, fc);
    wmma::store_matrix_sync(sc, fc, PROBE_LDC, wmma::mem_row_major);
}

/* a, b, c, d: 16x16 row-major; a_col, b_col pick the shared layouts (and fragment layouts). */
__global__ void wmma_probe_kernel(float *d, const float *a, const float *b, const float *c, int a_col, int b_col,
                                  int with_sync) {
    __shared__ __align__(32) __nv_bfloat16 sa[16 * PROBE_LD], sb[16 * PROBE_LD];
    __shared__ __align__(32) float sc[16 * PROBE_LDC];
    const int t = threadIdx.x;
    for (int e = t; e < 16 * PROBE_LDC; e += 32) sc[e] = -1.0f; /* a sentinel no D element equals */
    __syncthreads();
    for (int e = t; e < 256; e += 32) {
        int r = e / 16, col = e % 16;
        sa[a_col ? r + col * PROBE_LD : r * PROBE_LD + col] = __float2bfloat16_rn(a[e]);
        sb[b_col ? r + col * PROBE_LD : r * PROBE_LD + col] = __float2bfloat16_rn(b[e]);
        sc[r * PROBE_LDC + col] = c[e];
    }
    __syncthreads();
    if (a_col && b_col) probe_mma<wmma::col_major, wmma::col_major>(sc, sa, sb);
    else if (a_col) probe_mma<wmma::col_major, wmma::row_major>(sc, sa, sb);
    else if (b_col) probe_mma<wmma::row_major, wmma::col_major>(sc, sa, sb);
    else probe_mma<wmma::row_major, wmma::row_major>(sc, sa, sb);
    if (with_sync) __syncwarp();
    for (int e = t * 8; e < t * 8 + 8; e++) d[e] = sc[e / 16 * PROBE_LDC + e % 16];
}

extern "C" cudaError_t probe_wmma(float *d, const float *a, const float *b, const float *c, int a_col, int b_col,
                                  int with_sync) {
    SIMT_LAUNCH(wmma_probe_kernel, 1, 32, 0, d, a, b, c, a_col, b_col, with_sync);
    return cudaGetLastError();
}

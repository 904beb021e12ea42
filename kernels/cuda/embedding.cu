/* Token embeddings (kernels/cpu/pointwise.c's encoder: wte + wpe; kernels/cpu/geglu.c's scaled
 * embedding), forward and backward. The forwards are elementwise gathers. The backwards add the
 * rows of dout into the dwte rows of their tokens without float atomics and in the CPU's order
 * (each dwte row gets its rows in token-position order, one add at a time), so they are bitwise
 * the CPU's:
 *  1. keys[i] = token << 32 | i for the N rows, padded with ~0 to P = the next power of two,
 *     in the caller's scratch, are sorted ascending by a bitonic network (stages with j >= SORT_TILE
 *     one launch each over global memory, the rest inside SORT_TILE-key tiles in shared memory).
 *     The keys are distinct, so the result is the stable sort of the rows by token, whatever the
 *     network's order; the network itself does not depend on the data.
 *  2. One thread per (sorted position, column): where the position starts a run of one token,
 *     it walks the run in order, adding each row's column into dwte's (acc = dwte, then
 *     acc += scale * d with explicitly rounded operations, so nvcc cannot contract to FMA), and
 *     writes it back; every other thread has nothing to do. A run is as long as its token's
 *     count, so a very frequent token serialises its own rows, as on the CPU.
 * dwpe (encoder) is a column sum per position over the batch: one thread per (t, c) adds the B
 * rows in order. */
#include "kernels/cuda/grid.cuh"
#include "kernels/cuda/ops_cuda.h"

#define SORT_TILE 1024 /* keys per block of the shared-memory stages, one pair per thread */

__global__ void encoder_forward_kernel(float *out, const int32_t *tokens, const float *wte, const float *wpe, int T,
                                       int C, size_t n) {
    GRID_STRIDE(e, n) {
        size_t bt = e / C, c = e % C;
        out[e] = wte[(size_t)tokens[bt] * C + c] + wpe[(bt % T) * C + c];
    }
}

__global__ void embedding_forward_kernel(float *out, const int32_t *tokens, const float *wte, float scale, int C,
                                         size_t n) {
    GRID_STRIDE(e, n) {
        size_t i = e / C, c = e % C;
        out[e] = wte[(size_t)tokens[i] * C + c] * scale;
    }
}

__global__ void sort_keys_init_kernel(uint64_t *keys, const int32_t *tokens, int N, size_t P) {
    GRID_STRIDE(i, P) keys[i] = i < (size_t)N ? (uint64_t)(uint32_t)tokens[i] << 32 | i : ~(uint64_t)0;
}

/* Orders the pair (a, b) ascending if up, descending otherwise. */
__device__ __forceinline__ void compare_exchange(uint64_t *a, uint64_t *b, bool up) {
    uint64_t x = *a, y = *b;
    if ((x > y) == up) {
        *a = y;
        *b = x;
    }
}

/* The lower index of pair p of a stage with stride j (a power of two): 2j (p / j) + p % j. */
__device__ __forceinline__ size_t pair_low(size_t p, size_t j) { return ((p & ~(j - 1)) << 1) | (p & (j - 1)); }

/* The stage (k, j) of the network over all P keys: pair p is (i, i + j), i = pair_low(p, j),
 * ascending where bit k of i is clear. */
__global__ void sort_stage_kernel(uint64_t *keys, size_t P, size_t k, size_t j) {
    GRID_STRIDE(p, P / 2) {
        size_t i = pair_low(p, j);
        compare_exchange(&keys[i], &keys[i + j], (i & k) == 0);
    }
}

/* The stages k = k_first, 2 k_first, ..., k_last, each from j = min(k, S) / 2 down to 1, on one
 * tile of S keys (a power of two, at most SORT_TILE) in shared memory; S/2 threads, a pair each. */
__global__ void sort_tile_kernel(uint64_t *keys, size_t k_first, size_t k_last, unsigned S) {
    __shared__ uint64_t tile[SORT_TILE];
    size_t base = (size_t)blockIdx.x * S;
    unsigned t = threadIdx.x, half = S / 2;
    tile[t] = keys[base + t];
    tile[t + half] = keys[base + t + half];
    __syncthreads();
    for (size_t k = k_first; k <= k_last; k *= 2)
        for (unsigned j = k / 2 < half ? (unsigned)(k / 2) : half; j > 0; j /= 2) {
            unsigned i = (unsigned)pair_low(t, j);
            compare_exchange(&tile[i], &tile[i + j], ((base + i) & k) == 0);
            __syncthreads();
        }
    keys[base + t] = tile[t];
    keys[base + t + half] = tile[t + half];
}

/* dwte[token] += scale * dout[row] for each run of equal tokens in the sorted keys, in row
 * order (see the top of the file). */
__global__ void embedding_runs_kernel(float *dwte, const float *dout, const uint64_t *keys, float scale, int N, int C,
                                      size_t n) {
    GRID_STRIDE(e, n) {
        size_t k = e / C, c = e % C;
        uint64_t tok = keys[k] >> 32;
        if (k > 0 && keys[k - 1] >> 32 == tok) continue;
        float *dst = dwte + tok * C + c;
        float acc = *dst;
        for (size_t q = k; q < (size_t)N && keys[q] >> 32 == tok; q++)
            acc = __fadd_rn(acc, __fmul_rn(scale, dout[(size_t)(uint32_t)keys[q] * C + c]));
        *dst = acc;
    }
}

/* dwpe[t, c] += dout[b, t, c] for b in order. */
__global__ void encoder_dwpe_kernel(float *dwpe, const float *dout, int B, int T, int C, size_t n) {
    GRID_STRIDE(e, n) {
        float acc = dwpe[e];
        for (int b = 0; b < B; b++) acc += dout[(size_t)b * T * C + e];
        dwpe[e] = acc;
    }
}

/* Keys (and the padding) for N rows: the next power of two. */
static size_t sort_len(int N) {
    size_t P = 1;
    while (P < (size_t)N) P *= 2;
    return P;
}

/* Sorts the P keys ascending (see the top of the file). */
static cudaError_t sort_keys(uint64_t *keys, size_t P, cudaStream_t stream) {
    if (P < 2) return cudaSuccess;
    unsigned S = P < SORT_TILE ? (unsigned)P : SORT_TILE;
    unsigned tiles = (unsigned)(P / S);
    SIMT_LAUNCH(sort_tile_kernel, tiles, S / 2, stream, keys, (size_t)2, (size_t)S, S);
    cudaError_t err = cudaGetLastError();
    for (size_t k = 2 * (size_t)S; err == cudaSuccess && k <= P; k *= 2) {
        for (size_t j = k / 2; err == cudaSuccess && j >= S; j /= 2) {
            SIMT_LAUNCH(sort_stage_kernel, elt_blocks(P / 2), ELT_THREADS, stream, keys, P, k, j);
            err = cudaGetLastError();
        }
        if (err != cudaSuccess) break;
        SIMT_LAUNCH(sort_tile_kernel, tiles, S / 2, stream, keys, k, k, S);
        err = cudaGetLastError();
    }
    return err;
}

/* The shared backward of both embeddings: sort, then the runs into dwte. */
static cudaError_t embedding_rows_backward(float *dwte, const float *dout, const int32_t *tokens, float scale, int N,
                                           int C, void *ws, size_t ws_bytes, cudaStream_t stream) {
    size_t P = sort_len(N), n = (size_t)N * C;
    if (ws_bytes < P * sizeof(uint64_t)) return cudaErrorInvalidValue;
    uint64_t *keys = (uint64_t *)ws;
    SIMT_LAUNCH(sort_keys_init_kernel, elt_blocks(P), ELT_THREADS, stream, keys, tokens, N, P);
    cudaError_t err = cudaGetLastError();
    if (err == cudaSuccess) err = sort_keys(keys, P, stream);
    if (err != cudaSuccess) return err;
    SIMT_LAUNCH(embedding_runs_kernel, elt_blocks(n), ELT_THREADS, stream, dwte, dout, (const uint64_t *)keys, scale,
                N, C, n);
    return cudaGetLastError();
}

extern "C" cudaError_t cuda_encoder_forward(float *out, const int32_t *tokens, const float *wte, const float *wpe,
                                            int B, int T, int C, cudaStream_t stream) {
    if (B < 0 || T < 0 || C < 0) return cudaErrorInvalidValue;
    size_t n = (size_t)B * T * C;
    if (n == 0) return cudaSuccess;
    SIMT_LAUNCH(encoder_forward_kernel, elt_blocks(n), ELT_THREADS, stream, out, tokens, wte, wpe, T, C, n);
    return cudaGetLastError();
}

extern "C" size_t cuda_encoder_backward_workspace(int B, int T, int C) {
    if (B <= 0 || T <= 0 || C <= 0) return 0;
    return sort_len(B * T) * sizeof(uint64_t);
}

extern "C" cudaError_t cuda_encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *tokens, int B,
                                             int T, int C, void *ws, size_t ws_bytes, cudaStream_t stream) {
    if (B < 0 || T < 0 || C < 0) return cudaErrorInvalidValue;
    if ((size_t)B * T * C == 0) return cudaSuccess;
    /* scale 1: 1 * d is d exactly, so the adds are the CPU's te += d. */
    cudaError_t err = embedding_rows_backward(dwte, dout, tokens, 1.0f, B * T, C, ws, ws_bytes, stream);
    if (err != cudaSuccess) return err;
    size_t n = (size_t)T * C;
    SIMT_LAUNCH(encoder_dwpe_kernel, elt_blocks(n), ELT_THREADS, stream, dwpe, dout, B, T, C, n);
    return cudaGetLastError();
}

extern "C" cudaError_t cuda_embedding_forward(float *out, const int32_t *tokens, const float *wte, float scale, int N,
                                              int C, cudaStream_t stream) {
    if (N < 0 || C < 0) return cudaErrorInvalidValue;
    size_t n = (size_t)N * C;
    if (n == 0) return cudaSuccess;
    SIMT_LAUNCH(embedding_forward_kernel, elt_blocks(n), ELT_THREADS, stream, out, tokens, wte, scale, C, n);
    return cudaGetLastError();
}

extern "C" size_t cuda_embedding_backward_workspace(int N, int C) {
    if (N <= 0 || C <= 0) return 0;
    return sort_len(N) * sizeof(uint64_t);
}

extern "C" cudaError_t cuda_embedding_backward(float *dwte, const float *dout, const int32_t *tokens, float scale,
                                               int N, int C, void *ws, size_t ws_bytes, cudaStream_t stream) {
    if (N < 0 || C < 0) return cudaErrorInvalidValue;
    if ((size_t)N * C == 0) return cudaSuccess;
    return embedding_rows_backward(dwte, dout, tokens, scale, N, C, ws, ws_bytes, stream);
}

/* SIMT emulation, device side: what a kernel source (kernels/cuda) uses from CUDA C++,
 * defined for the host C++ compiler so the kernel compiles with g++ and runs on the CPU
 * (RESTPG_SIMT_EMU builds; docs/cuda.md gives the model and its limits). Included through
 * kernels/cuda/simt.h, never directly.
 *
 * A launch runs the grid's blocks one after another on the calling OS thread; a block's threads
 * are fibers that the scheduler (simt_emu.cpp) switches only at __syncthreads and warp
 * operations, in the order chosen with simt_emu_set_order. So between two such points each
 * thread runs alone, to completion of its segment, and a read of another thread's shared value
 * without a barrier sees it written or not depending on the order. threadIdx and friends are
 * set by the scheduler before it resumes a fiber, so each emulated thread sees its own. */
#ifndef RESTPG_KERNELS_CUDA_SIMT_EMU_H
#define RESTPG_KERNELS_CUDA_SIMT_EMU_H

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

#include "kernels/cuda/simt_api.h"

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
typedef dim3 uint3;

/* Inline and constant-initialised, so no TU calls a TLS init wrapper for them (GCC 12's UBSan
 * miscompiles the null check after such a call into a false "member access within null
 * pointer"). */
inline thread_local dim3 threadIdx, blockIdx, blockDim, gridDim;
constexpr int warpSize = 32;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
/* One block at a time per OS thread: a function-static variable is that block's. */
#define __shared__ static thread_local

namespace simt {

enum WarpOp { WARP_SHFL_IDX, WARP_SHFL_XOR, WARP_SHFL_DOWN, WARP_SHFL_UP, WARP_BALLOT, WARP_ANY, WARP_ALL, WARP_SYNC };

/* Blocks the calling emulated thread until every live thread of its block has reached a barrier. */
void syncthreads();
/* Blocks until every lane of mask (that exists in the block) is at a warp op, then returns this
 * lane's result: for the shuffles the bits of the source lane's value (its own if the source is
 * outside its width segment), for the votes the ballot or the 0/1 answer (__syncwarp: 0). All lanes must call
 * the same op with the same mask and width; a mismatch fails the launch. */
uint64_t warp_exchange(WarpOp op, unsigned mask, uint64_t bits, int arg, int width);
/* Runs body(ctx) as every thread of grid x block (the scheduler's entry; see launch_kernel). */
void launch(dim3 grid, dim3 block, void (*body)(void *), void *ctx);

template <class T> inline uint64_t to_bits(T v) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffled values are at most 8 bytes");
    uint64_t b = 0;
    std::memcpy(&b, &v, sizeof v);
    return b;
}
template <class T> inline T from_bits(uint64_t b) {
    T v;
    std::memcpy(&v, &b, sizeof v);
    return v;
}

/* The arguments are converted to the kernel's parameter types once, as a call would, and every
 * emulated thread gets its own copy. */
template <class... P, class... A> void launch_kernel(dim3 grid, dim3 block, void (*kernel)(P...), A &&...a) {
    struct Call {
        void (*kernel)(P...);
        std::tuple<std::decay_t<P>...> args;
    } call{kernel, std::tuple<std::decay_t<P>...>(std::forward<A>(a)...)};
    launch(
        grid, block,
        [](void *c) {
            Call *k = static_cast<Call *>(c);
            std::tuple<std::decay_t<P>...> mine = k->args;
            std::apply(k->kernel, mine);
        },
        &call);
}

} // namespace simt

#define SIMT_LAUNCH(kernel, grid, block, stream, ...)                                                                  \
    ((void)(stream), ::simt::launch_kernel(dim3(grid), dim3(block), kernel, __VA_ARGS__))

inline void __syncthreads() { simt::syncthreads(); }

template <class T> inline T __shfl_sync(unsigned mask, T v, int src, int width = warpSize) {
    return simt::from_bits<T>(simt::warp_exchange(simt::WARP_SHFL_IDX, mask, simt::to_bits(v), src, width));
}
template <class T> inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = warpSize) {
    return simt::from_bits<T>(simt::warp_exchange(simt::WARP_SHFL_XOR, mask, simt::to_bits(v), lane_mask, width));
}
template <class T> inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = warpSize) {
    return simt::from_bits<T>(simt::warp_exchange(simt::WARP_SHFL_DOWN, mask, simt::to_bits(v), (int)delta, width));
}
template <class T> inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = warpSize) {
    return simt::from_bits<T>(simt::warp_exchange(simt::WARP_SHFL_UP, mask, simt::to_bits(v), (int)delta, width));
}
inline void __syncwarp(unsigned mask = 0xffffffffu) { simt::warp_exchange(simt::WARP_SYNC, mask, 0, 0, warpSize); }
inline unsigned __ballot_sync(unsigned mask, int pred) {
    return (unsigned)simt::warp_exchange(simt::WARP_BALLOT, mask, pred != 0, 0, warpSize);
}
inline int __any_sync(unsigned mask, int pred) {
    return (int)simt::warp_exchange(simt::WARP_ANY, mask, pred != 0, 0, warpSize);
}
inline int __all_sync(unsigned mask, int pred) {
    return (int)simt::warp_exchange(simt::WARP_ALL, mask, pred != 0, 0, warpSize);
}

/* Threads switch only at barriers and warp ops, so a plain read-modify-write is atomic. */
template <class T> inline T atomicAdd(T *p, T v) {
    T old = *p;
    *p = old + v;
    return old;
}

/* The fast intrinsics as the host's correctly rounded (or libm) functions; the _rn ones are
 * plain IEEE operations, which is what they are on the device (no contraction into FMA). */
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fsqrt_rn(float x) { return sqrtf(x); }
template <class T> inline T __ldg(const T *p) { return *p; }

/* bfloat16 (<cuda_bf16.h>'s names): the upper half of an fp32, converted as core/bf16.h does
 * (round to nearest, ties to even; a NaN to the quiet NaN of its sign), so kernels round q, k, v
 * here exactly as the CPU rounds them. */
struct __nv_bfloat16 {
    uint16_t bits;
};
inline __nv_bfloat16 __float2bfloat16_rn(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    __nv_bfloat16 h;
    h.bits = (u & 0x7fffffffu) > 0x7f800000u ? (uint16_t)((u >> 16 & 0x8000u) | 0x7fc0u)
                                             : (uint16_t)((u + 0x7fffu + (u >> 16 & 1u)) >> 16);
    return h;
}
inline float __bfloat162float(__nv_bfloat16 h) {
    uint32_t u = (uint32_t)h.bits << 16;
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

/* The warp matrix API (<mma.h>'s nvcuda::wmma), the subset the tensor-core attention uses:
 * 16x16x16 fragments, bf16 matrix_a/matrix_b (row_major or col_major) and fp32 accumulators.
 * The hardware's element-to-lane mapping is opaque, so here every lane holds the whole 16x16
 * tile: a load reads all of it when that lane runs, mma_sync computes all of it, and a store
 * writes only the lane's share, so the warp's 32 stores together write the tile once. The
 * shares are sm_80's mma accumulator layout (rows lane / 4 and + 8, columns 2 (lane % 4), + 1,
 * + 8, + 9), unlike the loops over elements by lane that kernels write (lane, lane + 32, ... or
 * 8 consecutive), so a kernel that touches a fragment's memory by such a loop without __syncwarp
 * races here too. None of them is a scheduling point: a load that a
 * missing __syncthreads/__syncwarp leaves racing with the writes of other threads sees a
 * different tile in different lanes, and a read of a stored tile without __syncwarp misses the
 * other lanes' shares, under some thread order. mma_sync multiplies exactly (a product of two
 * bf16 fits an fp32) and adds the 16 products to the accumulator one at a time in k order, in
 * fp32: the device's tensor cores sum in an unspecified order and precision. Blocks must be
 * whole warps; a misaligned pointer (not 32 bytes) or ldm (not 16 bytes) aborts, as the device
 * would fault or misread. */
namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K, class T, class Layout = void> struct fragment {
    static_assert(M == 16 && N == 16 && K == 16, "the emulation has the 16x16x16 shape only");
    static_assert(std::is_same<Use, accumulator>::value ? std::is_same<T, float>::value && std::is_void<Layout>::value
                                                        : std::is_same<T, __nv_bfloat16>::value &&
                                                              !std::is_void<Layout>::value,
                  "the emulation has bf16 matrix_a/matrix_b and fp32 accumulators only");
    float v[16][16]; /* element (row, column) of the tile, widened */
};
typedef fragment<accumulator, 16, 16, 16, float> simt_accumulator;

inline void simt_check(const void *p, unsigned ldm, unsigned elem) {
    if ((uintptr_t)p % 32 != 0 || ldm * elem % 16 != 0 || (blockDim.x * blockDim.y * blockDim.z) % 32 != 0) {
        fprintf(stderr, "simt_emu: wmma on %p with ldm %u (pointer not 32-byte aligned, ldm not 16 bytes, or a "
                        "partial warp)\n", p, ldm);
        abort();
    }
}

template <class Use, class Layout>
inline void load_matrix_sync(fragment<Use, 16, 16, 16, __nv_bfloat16, Layout> &f, const __nv_bfloat16 *p,
                             unsigned ldm) {
    simt_check(p, ldm, 2);
    const bool col = std::is_same<Layout, col_major>::value;
    for (unsigned r = 0; r < 16; r++)
        for (unsigned c = 0; c < 16; c++) f.v[r][c] = __bfloat162float(col ? p[r + c * ldm] : p[r * ldm + c]);
}
inline void load_matrix_sync(simt_accumulator &f, const float *p, unsigned ldm, layout_t layout) {
    simt_check(p, ldm, 4);
    for (unsigned r = 0; r < 16; r++)
        for (unsigned c = 0; c < 16; c++) f.v[r][c] = layout == mem_col_major ? p[r + c * ldm] : p[r * ldm + c];
}
inline void store_matrix_sync(float *p, const simt_accumulator &f, unsigned ldm, layout_t layout) {
    simt_check(p, ldm, 4);
    unsigned lane = (threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)) % 32;
    for (unsigned e = 0; e < 8; e++) {
        unsigned r = lane / 4 + (e & 1) * 8, c = lane % 4 * 2 + (e >> 1 & 1) + (e >> 2) * 8;
        (layout == mem_col_major ? p[r + c * ldm] : p[r * ldm + c]) = f.v[r][c];
    }
}
inline void fill_fragment(simt_accumulator &f, float x) {
    for (unsigned e = 0; e < 256; e++) f.v[e / 16][e % 16] = x;
}
template <class LA, class LB>
inline void mma_sync(simt_accumulator &d, const fragment<matrix_a, 16, 16, 16, __nv_bfloat16, LA> &a,
                     const fragment<matrix_b, 16, 16, 16, __nv_bfloat16, LB> &b, const simt_accumulator &c) {
    simt_accumulator t;
    for (unsigned r = 0; r < 16; r++)
        for (unsigned n = 0; n < 16; n++) {
            float s = c.v[r][n];
            for (unsigned k = 0; k < 16; k++) s += a.v[r][k] * b.v[k][n];
            t.v[r][n] = s;
        }
    d = t;
}

} // namespace wmma
} // namespace nvcuda

#endif

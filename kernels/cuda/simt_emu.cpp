/* SIMT emulation, the scheduler and the host runtime stand-in (simt_api.h, simt_emu.h give the
 * contracts). Each emulated thread is a ucontext fiber with a small stack; the scheduler runs
 * the runnable fibers of a block in the chosen order, each until it blocks (at a barrier or a
 * warp op) or exits, then resolves what is complete: warp ops whose lanes have all arrived
 * first, then the barrier once every live thread is at it. Anything else is a kernel bug (a
 * deadlock or a divergent warp op) and fails the launch with a message. */
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <ucontext.h>
#include <unistd.h>

#include "kernels/cuda/simt_emu.h"

#if defined(__SANITIZE_ADDRESS__)
#define SIMT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIMT_ASAN 1
#endif
#endif
#ifdef SIMT_ASAN
/* AddressSanitizer must be told of every stack switch, or it reports the fibers' frames. */
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

namespace {

/* Big enough for the kernels' frames (a few hundred bytes); under the sanitizers, for their
 * redzones and for a report (symbolising a stack trace) made from inside a fiber. */
#ifdef SIMT_ASAN
constexpr size_t kStackBytes = 256 * 1024;
#else
constexpr size_t kStackBytes = 64 * 1024;
#endif
constexpr int kMaxThreads = 1024;

enum State { RUNNABLE, AT_BARRIER, AT_WARP, EXITED };

struct Fiber {
    ucontext_t ctx;
    char *stack = nullptr;
    State state = RUNNABLE;
    dim3 tid;
    simt::WarpOp op = simt::WARP_SHFL_IDX;
    unsigned mask = 0;
    uint64_t in = 0, out = 0;
    int arg = 0, width = 0;
    void *fake_stack = nullptr;
};

struct Scheduler {
    std::vector<Fiber> fibers;
    ucontext_t main_ctx;
    int current = -1;
    void (*body)(void *) = nullptr;
    void *ctx = nullptr;
    const void *main_bottom = nullptr;
    size_t main_size = 0;
    void *main_fake = nullptr;
};

thread_local Scheduler *g_sched;
thread_local SimtOrder g_order = SIMT_ORDER_FORWARD;
thread_local uint64_t g_rng = 1;
thread_local cudaError_t g_last = cudaSuccess;
thread_local char g_msg[256];

uint64_t rng_next() {
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 0x2545F4914F6CDD1DULL;
}

__attribute__((format(printf, 2, 3))) void fail(cudaError_t code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "simt_emu: %s\n", g_msg);
    g_last = code;
}

/* Fiber -> scheduler; returns when the scheduler resumes this fiber. */
void yield_to_main(Scheduler *s, Fiber *f) {
#ifdef SIMT_ASAN
    __sanitizer_start_switch_fiber(f->state == EXITED ? nullptr : &f->fake_stack, s->main_bottom, s->main_size);
#endif
    swapcontext(&f->ctx, &s->main_ctx);
#ifdef SIMT_ASAN
    __sanitizer_finish_switch_fiber(f->fake_stack, nullptr, nullptr);
#endif
}

void fiber_entry() {
    Scheduler *s = g_sched;
#ifdef SIMT_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &s->main_bottom, &s->main_size);
#endif
    s->body(s->ctx);
    Fiber *f = &s->fibers[s->current];
    f->state = EXITED;
    yield_to_main(s, f); /* never resumed */
}

void resume(Scheduler *s, int i) {
    Fiber *f = &s->fibers[i];
    s->current = i;
    threadIdx = f->tid;
#ifdef SIMT_ASAN
    __sanitizer_start_switch_fiber(&s->main_fake, f->stack, kStackBytes);
#endif
    swapcontext(&s->main_ctx, &f->ctx);
#ifdef SIMT_ASAN
    __sanitizer_finish_switch_fiber(s->main_fake, nullptr, nullptr);
#endif
}

/* Result of lane l's warp op given the values of its warp (base = the warp's first fiber). */
bool warp_result(const Fiber *w, int nlanes, unsigned need, int l, uint64_t *out) {
    const Fiber &f = w[l];
    int width = f.width, seg = l & ~(width - 1), src = l;
    switch (f.op) {
    case simt::WARP_SHFL_IDX: src = seg + (f.arg & (width - 1)); break;
    case simt::WARP_SHFL_XOR: src = (l ^ f.arg) >= seg + width || (l ^ f.arg) < seg ? l : l ^ f.arg; break;
    case simt::WARP_SHFL_DOWN: src = (l - seg) + f.arg < width ? l + f.arg : l; break;
    case simt::WARP_SHFL_UP: src = (l - seg) - f.arg >= 0 ? l - f.arg : l; break;
    default: {
        unsigned ballot = 0;
        for (int k = 0; k < nlanes; k++)
            if ((need >> k & 1) && w[k].in) ballot |= 1u << k;
        *out = f.op == simt::WARP_BALLOT ? ballot
               : f.op == simt::WARP_ANY  ? ballot != 0
               : f.op == simt::WARP_ALL  ? ballot == need
                                         : 0;
        return true;
    }
    }
    if (src >= nlanes || !(need >> src & 1)) return false;
    *out = w[src].in;
    return true;
}

/* Completes every warp op whose lanes have all arrived; returns how many warps it released, or
 * -1 (launch failed) if a warp op waits on a lane that can no longer reach it. */
int resolve_warps(Scheduler *s) {
    int n = (int)s->fibers.size(), released = 0;
    for (int w0 = 0; w0 < n; w0 += warpSize) {
        Fiber *w = &s->fibers[w0];
        int nlanes = n - w0 < warpSize ? n - w0 : warpSize, first = -1;
        for (int l = 0; l < nlanes && first < 0; l++)
            if (w[l].state == AT_WARP) first = l;
        if (first < 0) continue;
        unsigned exist = nlanes == 32 ? 0xffffffffu : (1u << nlanes) - 1, need = w[first].mask & exist;
        for (int l = 0; l < nlanes; l++) {
            bool in_need = need >> l & 1;
            if (in_need && (w[l].state != AT_WARP || w[l].op != w[first].op || w[l].mask != w[first].mask ||
                            w[l].width != w[first].width)) {
                fail(cudaErrorLaunchFailure,
                     "warp op of warp %d: lane %d is not at the same warp op (exited, at a barrier or diverged)",
                     w0 / warpSize, l);
                return -1;
            }
            if (!in_need && w[l].state == AT_WARP) {
                fail(cudaErrorLaunchFailure,
                     "warp op of warp %d: lane %d is at a warp op outside the mask of the others", w0 / warpSize, l);
                return -1;
            }
        }
        for (int l = 0; l < nlanes; l++) {
            if (!(need >> l & 1)) continue;
            if (!warp_result(w, nlanes, need, l, &w[l].out)) {
                fail(cudaErrorLaunchFailure, "warp op of warp %d: lane %d reads a lane outside the mask or the block",
                     w0 / warpSize, l);
                return -1;
            }
        }
        for (int l = 0; l < nlanes; l++)
            if (need >> l & 1) w[l].state = RUNNABLE;
        released++;
    }
    return released;
}

void make_order(std::vector<int> &order) {
    int n = (int)order.size();
    for (int i = 0; i < n; i++) order[i] = g_order == SIMT_ORDER_REVERSE ? n - 1 - i : i;
    if (g_order == SIMT_ORDER_RANDOM)
        for (int i = n - 1; i > 0; i--) std::swap(order[i], order[(int)(rng_next() % (uint64_t)(i + 1))]);
}

/* Points f at the start of fiber_entry on its own stack. Kept apart from loops because
 * getcontext returns twice, like setjmp (GCC would warn of clobbered loop variables). */
__attribute__((noinline)) void fiber_reset(Fiber *f) {
#ifdef SIMT_ASAN
    __asan_unpoison_memory_region(f->stack, kStackBytes); /* frames left by the last block's fibers */
#endif
    getcontext(&f->ctx);
    f->ctx.uc_stack.ss_sp = f->stack;
    f->ctx.uc_stack.ss_size = kStackBytes;
    f->ctx.uc_link = nullptr;
    makecontext(&f->ctx, fiber_entry, 0);
    f->state = RUNNABLE;
    f->fake_stack = nullptr;
}

/* Runs one block to completion; false if the launch failed. */
bool run_block(Scheduler *s) {
    int n = (int)s->fibers.size();
    for (Fiber &f : s->fibers) fiber_reset(&f);
    std::vector<int> order(n);
    for (;;) {
        make_order(order);
        for (int i : order)
            if (s->fibers[i].state == RUNNABLE) resume(s, i);
        int exited = 0, at_barrier = 0, at_warp = 0;
        for (const Fiber &f : s->fibers) {
            exited += f.state == EXITED;
            at_barrier += f.state == AT_BARRIER;
            at_warp += f.state == AT_WARP;
        }
        if (exited == n) return true;
        if (at_warp) {
            int r = resolve_warps(s);
            if (r < 0) return false;
            if (r > 0) continue;
        }
        if (at_barrier != n - exited) {
            fail(cudaErrorLaunchFailure, "deadlock: %d threads at a barrier, %d at a warp op", at_barrier, at_warp);
            return false;
        }
        for (Fiber &f : s->fibers)
            if (f.state == AT_BARRIER) f.state = RUNNABLE;
    }
}

} // namespace

namespace simt {

void syncthreads() {
    Scheduler *s = g_sched;
    Fiber *f = &s->fibers[s->current];
    f->state = AT_BARRIER;
    yield_to_main(s, f);
}

uint64_t warp_exchange(WarpOp op, unsigned mask, uint64_t bits, int arg, int width) {
    Scheduler *s = g_sched;
    Fiber *f = &s->fibers[s->current];
    f->op = op;
    f->mask = mask;
    f->in = bits;
    f->arg = arg;
    f->width = width;
    f->state = AT_WARP;
    yield_to_main(s, f);
    return f->out;
}

void launch(dim3 grid, dim3 block, void (*body)(void *), void *ctx) {
    size_t nthreads = (size_t)block.x * block.y * block.z;
    if (nthreads == 0 || nthreads > kMaxThreads || block.z > 64 || grid.x == 0 || grid.x > 0x7fffffffu || grid.y == 0 ||
        grid.z == 0 || grid.y > 65535 || grid.z > 65535) {
        fail(cudaErrorInvalidConfiguration, "invalid launch configuration: block %ux%ux%u, grid %ux%ux%u", block.x,
             block.y, block.z, grid.x, grid.y, grid.z);
        return;
    }
    Scheduler s;
    s.body = body;
    s.ctx = ctx;
    s.fibers.resize(nthreads);
    bool ok = true;
    for (size_t i = 0; i < nthreads && ok; i++) {
        Fiber &f = s.fibers[i];
        f.tid = dim3((unsigned)(i % block.x), (unsigned)(i / block.x % block.y), (unsigned)(i / block.x / block.y));
        f.stack = static_cast<char *>(malloc(kStackBytes));
        ok = f.stack != nullptr;
    }
    Scheduler *saved = g_sched;
    g_sched = &s;
    blockDim = block;
    gridDim = grid;
    for (unsigned z = 0; z < grid.z && ok; z++)
        for (unsigned y = 0; y < grid.y && ok; y++)
            for (unsigned x = 0; x < grid.x && ok; x++) {
                blockIdx = dim3(x, y, z);
                ok = run_block(&s);
            }
    g_sched = saved;
    for (Fiber &f : s.fibers) free(f.stack);
    if (!ok && g_last == cudaSuccess) fail(cudaErrorMemoryAllocation, "no memory for %zu fiber stacks", nthreads);
}

} // namespace simt

extern "C" {

cudaError_t cudaMalloc(void **p, size_t bytes) {
    /* 256-byte aligned like the runtime's allocations. */
    size_t n = bytes ? (bytes + 255) / 256 * 256 : 256;
    *p = aligned_alloc(256, n);
    return *p ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void *p) {
    free(p);
    return cudaSuccess;
}
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
    (void)kind;
    if (bytes) memmove(dst, src, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemset(void *p, int value, size_t bytes) {
    if (bytes) memset(p, value, bytes);
    return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
static thread_local int g_device;
cudaError_t cudaGetDeviceCount(int *count) {
    *count = SIMT_EMU_DEVICES;
    return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
    if (device < 0 || device >= SIMT_EMU_DEVICES) return cudaErrorInvalidDevice;
    g_device = device;
    return cudaSuccess;
}
cudaError_t cudaGetDevice(int *device) {
    *device = g_device;
    return cudaSuccess;
}
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
    long pages = sysconf(_SC_PHYS_PAGES), avail = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    *total_bytes = pages > 0 && page > 0 ? (size_t)pages * (size_t)page : 0;
    *free_bytes = avail > 0 && page > 0 ? (size_t)avail * (size_t)page : 0;
    return cudaSuccess;
}
cudaError_t cudaGetLastError(void) {
    cudaError_t e = g_last;
    g_last = cudaSuccess;
    return e;
}
const char *cudaGetErrorString(cudaError_t err) {
    switch (err) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorNotSupported: return "operation not supported";
    }
    return "unknown error";
}
void simt_emu_set_order(SimtOrder order, uint64_t seed) {
    g_order = order;
    g_rng = seed ? seed : 1;
}
const char *simt_emu_last_message(void) { return g_msg; }

} // extern "C"

/* The one driver of the CUDA kernel tests (tests/test_cuda_*.c, each built twice: _emu over the
 * SIMT emulation, _gpu on a device): the test body runs under the emulation's three thread
 * orders (forward, reverse, and a random one from seed: a missing barrier shows as a wrong result
 * under some order), or once on a device, and the _gpu build skips (77) without one. */
#ifndef RESTPG_TESTS_CUDA_TEST_H
#define RESTPG_TESTS_CUDA_TEST_H

#include <stdint.h>
#include <stdio.h>

#include "kernels/cuda/simt_api.h"

/* 0 after running body, or 77 (the ctest skip code) when no device is there to run it on. */
static inline int cuda_test_run(void (*body)(void), uint64_t seed, const char *name) {
#ifdef RESTPG_SIMT_EMU
    static const SimtOrder orders[] = {SIMT_ORDER_FORWARD, SIMT_ORDER_REVERSE, SIMT_ORDER_RANDOM};
    (void)name;
    for (int k = 0; k < 3; k++) {
        simt_emu_set_order(orders[k], seed + (uint64_t)k);
        body();
    }
#else
    (void)seed;
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        printf("%s: no CUDA device, skipped\n", name);
        return 77;
    }
    body();
#endif
    return 0;
}

#endif

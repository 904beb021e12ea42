/* The tied LM head's backward on the CPU (see ops.h): skips the rows that carry no loss, which in
 * fine-tuning (loss on target tokens only) are most of them. */
#include <string.h>

#include "kernels/cpu/ops.h"

void lmhead_backward(float *dx, float *dwte, float *dlogits, const float *x, const float *wte, const float *dloss, int B,
                     int T, int C, int Vp, float *scratch) {
    const int N = B * T;
    int M = 0;
    for (int i = 0; i < N; i++) M += dloss[i] != 0.0f;
    if (M == N) {
        matmul_backward(dx, dwte, NULL, dlogits, x, wte, B, T, C, Vp, 0);
        return;
    }
    /* Packed rows k < i move down in order, so no source is overwritten before it is read. */
    float *x_packed = scratch, *dx_packed = scratch + (size_t)N * C;
    for (int i = 0, k = 0; i < N; i++)
        if (dloss[i] != 0.0f) {
            if (k != i) memcpy(dlogits + (size_t)k * Vp, dlogits + (size_t)i * Vp, sizeof(float) * Vp);
            memcpy(x_packed + (size_t)k * C, x + (size_t)i * C, sizeof(float) * C);
            k++;
        }
    if (M > 0) matmul_backward(dx_packed, dwte, NULL, dlogits, x_packed, wte, 1, M, C, Vp, 0);
    for (int i = 0, k = 0; i < N; i++) {
        float *d = dx + (size_t)i * C;
        if (dloss[i] != 0.0f) memcpy(d, dx_packed + (size_t)(k++) * C, sizeof(float) * C);
        else memset(d, 0, sizeof(float) * C);
    }
}

/* Elementwise ops: tanh-GELU forward/backward and the token + position embedding. */
#include "kernels/cpu/fastmath.h"
#include "kernels/cpu/ops.h"

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_A 0.044715f
#define COL_BLOCK 64

/* 0.5 (1 + tanh u) = sigmoid(2u), so gelu(x) = x / (1 + e^(-2u)). */
void gelu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_K * (x + GELU_A * x * x * x);
        out[i] = x / (1.0f + fm_expf(-2.0f * u));
    }
}

/* With s = sigmoid(2u): d/dx [x s] = s + 2 x s (1 - s) du/dx, since 1 - tanh^2 u = 4 s (1 - s). */
void gelu_backward(float *dinp, const float *inp, const float *dout, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float u = GELU_K * (x + GELU_A * x * x * x);
        float s = 1.0f / (1.0f + fm_expf(-2.0f * u));
        float du = GELU_K * (1.0f + 3.0f * GELU_A * x * x);
        dinp[i] = dout[i] * (s + 2.0f * x * s * (1.0f - s) * du);
    }
}

void encoder_forward(float *out, const int32_t *tokens, const float *wte, const float *wpe, int B, int T, int C) {
#pragma omp parallel for schedule(static) if ((size_t)B * T * C > 32768)
    for (int bt = 0; bt < B * T; bt++) {
        float *o = out + (size_t)bt * C;
        const float *te = wte + (size_t)tokens[bt] * C, *pe = wpe + (size_t)(bt % T) * C;
        for (int c = 0; c < C; c++) o[c] = te[c] + pe[c];
    }
}

/* A token may repeat, so rows of dwte are shared between positions; splitting the work by
 * column blocks instead of rows keeps each element's sum inside one thread, in order. */
void encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *tokens, int B, int T, int C) {
    int nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static) if ((size_t)B * T * C > 32768)
    for (int blk = 0; blk < nblocks; blk++) {
        int c0 = blk * COL_BLOCK, nc = C - c0 < COL_BLOCK ? C - c0 : COL_BLOCK;
        for (int bt = 0; bt < B * T; bt++) {
            const float *d = dout + (size_t)bt * C + c0;
            float *te = dwte + (size_t)tokens[bt] * C + c0, *pe = dwpe + (size_t)(bt % T) * C + c0;
            for (int c = 0; c < nc; c++) {
                te[c] += d[c];
                pe[c] += d[c];
            }
        }
    }
}

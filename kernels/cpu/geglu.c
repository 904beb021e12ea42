/* The gated MLP activations (Gemma's GeGLU with the tanh GELU; Llama's and Qwen's SwiGLU) and
 * the scaled token embedding. The GELU and its derivative are gelu_forward/gelu_backward's, so
 * GPT-2 and Gemma share one definition; every op is elementwise or column-blocked, hence
 * thread-count independent. */
#include <math.h>

#include "kernels/cpu/ops.h"

#define COL_BLOCK 64

void geglu_forward(float *out, const float *gate, const float *up, size_t n) {
    gelu_forward(out, gate, n);
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) out[i] *= up[i];
}

void geglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n) {
    gelu_forward(dup, gate, n);
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float d = dout[i];
        dup[i] *= d;
        dgate[i] = d * up[i];
    }
    gelu_backward(dgate, gate, dgate, n);
}

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

void swiglu_forward(float *out, const float *gate, const float *up, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = g * sigmoidf(g) * up[i];
    }
}

void swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        float g = gate[i], d = dout[i], sg = sigmoidf(g);
        dup[i] = d * (g * sg);
        dgate[i] = d * up[i] * (sg * (1.0f + g * (1.0f - sg)));
    }
}

void embedding_forward(float *out, const int32_t *tokens, const float *wte, float scale, int N, int C) {
#pragma omp parallel for schedule(static) if ((size_t)N * C > 32768)
    for (int i = 0; i < N; i++) {
        float *o = out + (size_t)i * C;
        const float *te = wte + (size_t)tokens[i] * C;
        for (int c = 0; c < C; c++) o[c] = te[c] * scale;
    }
}

/* A token may repeat, so rows of dwte are shared between positions: split by column blocks. */
void embedding_backward(float *dwte, const float *dout, const int32_t *tokens, float scale, int N, int C) {
    int nblocks = (C + COL_BLOCK - 1) / COL_BLOCK;
#pragma omp parallel for schedule(static) if ((size_t)N * C > 32768)
    for (int blk = 0; blk < nblocks; blk++) {
        int c0 = blk * COL_BLOCK, nc = C - c0 < COL_BLOCK ? C - c0 : COL_BLOCK;
        for (int i = 0; i < N; i++) {
            const float *d = dout + (size_t)i * C + c0;
            float *te = dwte + (size_t)tokens[i] * C + c0;
            for (int c = 0; c < nc; c++) te[c] += scale * d[c];
        }
    }
}

/* Rotary position embedding (Hugging Face's rotate-half layout), forward and its transpose for
 * the backward, in place on [B,T,NH,hd] head vectors. Each row computes its own angles in
 * double: the work is elementwise, so results are the same for any thread count. */
#include <math.h>

#include "kernels/cpu/ops.h"

/* Rotates each head's pairs (i, i + hd/2) of row (b, t) by sign * t * theta^(-2i/hd). */
static void rope_rotate(float *x, int B, int T, int NH, int hd, double theta, double sign) {
    const int half = hd / 2;
#pragma omp parallel for schedule(static) if ((size_t)B * T * NH * hd > 32768)
    for (int bt = 0; bt < B * T; bt++) {
        double pos = (double)(bt % T);
        float *row = x + (size_t)bt * NH * hd;
        for (int i = 0; i < half; i++) {
            double a = sign * pos * pow(theta, -2.0 * i / hd);
            float c = (float)cos(a), s = (float)sin(a);
            for (int h = 0; h < NH; h++) {
                float *v = row + (size_t)h * hd;
                float x1 = v[i], x2 = v[i + half];
                v[i] = x1 * c - x2 * s;
                v[i + half] = x2 * c + x1 * s;
            }
        }
    }
}

void rope_forward(float *x, int B, int T, int NH, int hd, double theta) { rope_rotate(x, B, T, NH, hd, theta, 1.0); }

void rope_backward(float *dx, int B, int T, int NH, int hd, double theta) {
    rope_rotate(dx, B, T, NH, hd, theta, -1.0);
}

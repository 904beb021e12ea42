/* Rotary position embedding (Hugging Face's rotate-half layout), forward and its transpose for
 * the backward, in place on [B,T,NH,hd] head vectors, with the inverse frequencies of a RopeSpec
 * (plain, linear or Llama 3.1 scaling). Each row computes its own angles in double: the work is
 * elementwise, so results are the same for any thread count. */
#include <math.h>

#include "kernels/cpu/ops.h"

double rope_inv_freq(const RopeSpec *rope, int i, int hd) {
    double f = pow(rope->theta, -2.0 * i / hd);
    if (rope->scaling == ROPE_LINEAR) return f / rope->factor;
    if (rope->scaling != ROPE_LLAMA3) return f;
    const double old = rope->original_max_positions, wavelen = 2.0 * M_PI / f;
    if (wavelen < old / rope->high_freq_factor) return f;
    if (wavelen > old / rope->low_freq_factor) return f / rope->factor;
    double s = (old / wavelen - rope->low_freq_factor) / (rope->high_freq_factor - rope->low_freq_factor);
    return (1.0 - s) * f / rope->factor + s * f;
}

/* Rotates each head's pairs (i, i + hd/2) of row (b, t) by sign * t * rope_inv_freq(i). */
static void rope_rotate(float *x, int B, int T, int NH, int hd, const RopeSpec *rope, double sign) {
    const int half = hd / 2;
#pragma omp parallel for schedule(static) if ((size_t)B * T * NH * hd > 32768)
    for (int bt = 0; bt < B * T; bt++) {
        double pos = (double)(bt % T);
        float *row = x + (size_t)bt * NH * hd;
        for (int i = 0; i < half; i++) {
            double a = sign * pos * rope_inv_freq(rope, i, hd);
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

void rope_forward(float *x, int B, int T, int NH, int hd, const RopeSpec *rope) {
    rope_rotate(x, B, T, NH, hd, rope, 1.0);
}

void rope_backward(float *dx, int B, int T, int NH, int hd, const RopeSpec *rope) {
    rope_rotate(dx, B, T, NH, hd, rope, -1.0);
}

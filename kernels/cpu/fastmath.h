/* Vectorizable math for the CPU kernels (internal to kernels/cpu): an exp that GCC can
 * auto-vectorize, and fixed-lane reductions (sum, max, dot) whose summation order is the same
 * on every run and for every thread count.
 *
 * GCC's default -ftrapping-math forbids if-converting the clamps in fm_expf, which keeps every
 * loop that calls it scalar. Trapping math only concerns floating-point exception flags, which
 * restpg never reads, so kernel files turn it off; results are unchanged (no reassociation, no
 * contraction beyond the defaults). */
#ifndef RESTPG_KERNELS_CPU_FASTMATH_H
#define RESTPG_KERNELS_CPU_FASTMATH_H

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include <stdint.h>
#include <string.h>

/* Lanes of the fixed-order reductions: wide enough for AVX-512 when the compiler targets it. */
#define FM_LANES 16

/* e^x for float x, relative error below 1e-7 on [-87, 88]; 0 below -87 and e^88 above 88
 * (callers pass max-subtracted arguments, so the upper clamp is never reached in practice).
 * x = k ln2 + r with |r| <= ln2/2, e^r by its degree-7 Taylor polynomial, 2^k by building the
 * exponent bits. */
static inline float fm_expf(float x) {
    float xc = x > 88.0f ? 88.0f : x;
    xc = xc < -87.0f ? -87.0f : xc;
    /* Adding and subtracting 1.5 * 2^23 rounds to the nearest integer. */
    float k = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    /* ln2 split in a part exact in float and a correction, so r keeps its low bits. */
    float r = xc - k * 0.693359375f;
    r = r + k * 2.12194440e-4f;
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* Shifted as unsigned: the same bits, and no undefined shift of a negative value when x is
     * NaN (k converts to INT_MIN on x86), which UBSan would otherwise stop on. */
    int32_t bits = (int32_t)((uint32_t)((int32_t)k + 127) << 23);
    bits &= -(int32_t)(x >= -87.0f);
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* max of x[0..n-1], n >= 1. */
static inline float fm_max(const float *x, int n) {
    float m = x[0];
    int i = 0;
    if (n >= FM_LANES) {
        float acc[FM_LANES];
        for (int l = 0; l < FM_LANES; l++) acc[l] = x[l];
        for (i = FM_LANES; i + FM_LANES <= n; i += FM_LANES)
            for (int l = 0; l < FM_LANES; l++) acc[l] = x[i + l] > acc[l] ? x[i + l] : acc[l];
        for (int l = 0; l < FM_LANES; l++) m = acc[l] > m ? acc[l] : m;
    }
    for (; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

/* sum of x[0..n-1]. */
static inline float fm_sum(const float *x, int n) {
    float acc[FM_LANES] = {0};
    int i = 0;
    for (; i + FM_LANES <= n; i += FM_LANES)
        for (int l = 0; l < FM_LANES; l++) acc[l] += x[i + l];
    float s = 0.0f;
    for (int l = 0; l < FM_LANES; l++) s += acc[l];
    for (; i < n; i++) s += x[i];
    return s;
}

/* sum of a[i] * b[i]. */
static inline float fm_dot(const float *a, const float *b, int n) {
    float acc[FM_LANES] = {0};
    int i = 0;
    for (; i + FM_LANES <= n; i += FM_LANES)
        for (int l = 0; l < FM_LANES; l++) acc[l] += a[i + l] * b[i + l];
    float s = 0.0f;
    for (int l = 0; l < FM_LANES; l++) s += acc[l];
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* x[i] = e^(x[i] - shift) for i < n; returns their sum. */
static inline float fm_exp_shift_sum(float *x, int n, float shift) {
    float acc[FM_LANES] = {0};
    int i = 0;
    for (; i + FM_LANES <= n; i += FM_LANES)
        for (int l = 0; l < FM_LANES; l++) {
            float p = fm_expf(x[i + l] - shift);
            x[i + l] = p;
            acc[l] += p;
        }
    float s = 0.0f;
    for (int l = 0; l < FM_LANES; l++) s += acc[l];
    for (; i < n; i++) {
        x[i] = fm_expf(x[i] - shift);
        s += x[i];
    }
    return s;
}

#endif

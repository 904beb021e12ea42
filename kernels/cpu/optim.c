/* AdamW and global-norm gradient clipping over flat parameter/gradient buffers. */
#include <math.h>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "kernels/cpu/fastmath.h"
#include "kernels/cpu/ops.h"

/* Elements per parallel work item and per chunk of the norm's fixed-order sum. */
#define OPT_BLOCK 65536
/* Chunks whose partial sums are held at once; bounds the stack use of grad_sumsq. */
#define NORM_GROUP 256

typedef struct {
    float lr, b1, b2, eps, wd, gs, inv_c1, inv_c2;
} AdamCoef;

static inline void adamw_one(float *p, const float *g, float *m, float *v, const AdamCoef *k) {
    float gi = *g * k->gs;
    float mi = k->b1 * *m + (1.0f - k->b1) * gi;
    float vi = k->b2 * *v + (1.0f - k->b2) * (gi * gi);
    *m = mi;
    *v = vi;
    *p -= k->lr * ((mi * k->inv_c1) / (sqrtf(vi * k->inv_c2) + k->eps) + k->wd * *p);
}

/* GCC keeps sqrtf scalar under the default -fmath-errno, which makes this memory-bound loop
 * compute-bound; the SSE path performs the same correctly rounded operations in the same order,
 * so both paths give bitwise equal results. */
static void adamw_range(float *p, const float *g, float *m, float *v, size_t n, const AdamCoef *k) {
    size_t i = 0;
#if defined(__SSE2__)
    const __m128 b1 = _mm_set1_ps(k->b1), b2 = _mm_set1_ps(k->b2), one_b1 = _mm_set1_ps(1.0f - k->b1),
                 one_b2 = _mm_set1_ps(1.0f - k->b2), lr = _mm_set1_ps(k->lr), eps = _mm_set1_ps(k->eps),
                 wd = _mm_set1_ps(k->wd), gs = _mm_set1_ps(k->gs), ic1 = _mm_set1_ps(k->inv_c1),
                 ic2 = _mm_set1_ps(k->inv_c2);
    for (; i + 4 <= n; i += 4) {
        __m128 gi = _mm_mul_ps(_mm_loadu_ps(g + i), gs);
        __m128 mi = _mm_add_ps(_mm_mul_ps(b1, _mm_loadu_ps(m + i)), _mm_mul_ps(one_b1, gi));
        __m128 vi = _mm_add_ps(_mm_mul_ps(b2, _mm_loadu_ps(v + i)), _mm_mul_ps(one_b2, _mm_mul_ps(gi, gi)));
        _mm_storeu_ps(m + i, mi);
        _mm_storeu_ps(v + i, vi);
        __m128 pi = _mm_loadu_ps(p + i);
        __m128 den = _mm_add_ps(_mm_sqrt_ps(_mm_mul_ps(vi, ic2)), eps);
        __m128 upd = _mm_add_ps(_mm_div_ps(_mm_mul_ps(mi, ic1), den), _mm_mul_ps(wd, pi));
        _mm_storeu_ps(p + i, _mm_sub_ps(pi, _mm_mul_ps(lr, upd)));
    }
#endif
    for (; i < n; i++) adamw_one(p + i, g + i, m + i, v + i, k);
}

void adamw_update(float *param, const float *grad, float *m, float *v, size_t n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, float grad_scale, int step) {
    AdamCoef k = {lr, beta1, beta2, eps, weight_decay, grad_scale,
                  (float)(1.0 / (1.0 - pow(beta1, step))), (float)(1.0 / (1.0 - pow(beta2, step)))};
    size_t nblocks = (n + OPT_BLOCK - 1) / OPT_BLOCK;
#pragma omp parallel for schedule(static) if (nblocks > 1)
    for (size_t b = 0; b < nblocks; b++) {
        size_t i0 = b * OPT_BLOCK, len = n - i0 < OPT_BLOCK ? n - i0 : OPT_BLOCK;
        adamw_range(param + i0, grad + i0, m + i0, v + i0, len, &k);
    }
}

static double chunk_sumsq(const float *g, size_t n) {
    double acc[FM_LANES] = {0};
    size_t i = 0;
    for (; i + FM_LANES <= n; i += FM_LANES)
        for (int l = 0; l < FM_LANES; l++) acc[l] += (double)g[i + l] * g[i + l];
    double s = 0.0;
    for (int l = 0; l < FM_LANES; l++) s += acc[l];
    for (; i < n; i++) s += (double)g[i] * g[i];
    return s;
}

double grad_sumsq(const float *g, size_t n) {
    size_t nchunks = (n + OPT_BLOCK - 1) / OPT_BLOCK;
    double total = 0.0;
    for (size_t c0 = 0; c0 < nchunks; c0 += NORM_GROUP) {
        size_t nc = nchunks - c0 < NORM_GROUP ? nchunks - c0 : NORM_GROUP;
        double part[NORM_GROUP];
#pragma omp parallel for schedule(static) if (nc > 1)
        for (size_t c = 0; c < nc; c++) {
            size_t i0 = (c0 + c) * OPT_BLOCK;
            part[c] = chunk_sumsq(g + i0, n - i0 < OPT_BLOCK ? n - i0 : OPT_BLOCK);
        }
        for (size_t c = 0; c < nc; c++) total += part[c];
    }
    return total;
}


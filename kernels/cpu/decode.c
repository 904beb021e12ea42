/* Batch-invariant matrix products and the decode-step attention (see decode.h).
 *
 * Every product here has the "nn" form out[i, j] = sum_k a[i, k] * b[k, j] with the output
 * columns contiguous in b, so a register tile of 4 rows x 3 vectors of columns broadcasts a[i, k]
 * and needs no horizontal sums. Each output element is one fused multiply-add chain over k in
 * order, starting from 0, then + bias, then + residual: a column's result does not depend on the
 * vector width (AVX-512: 16 columns, AVX2: 8, portable: 1), the tile, the number of rows or the
 * thread, which is what makes the products batch-invariant and equal across machines. */
#include "kernels/cpu/decode.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

#include "core/bf16.h"
#include "kernels/cpu/fastmath.h"
#include "kernels/cpu/ops.h"

#define MR 4  /* rows per register tile */
#define NR 3  /* column vectors per register tile */
#define JB 96 /* output columns per parallel task */
#define IB 64 /* rows per parallel task */

static int g_width_cap = 0; /* 0 = no cap */

void decode_set_max_width(int w) { g_width_cap = w; }

/* What every path adds after the chain, in this order. */
typedef struct {
    const float *bias; /* [N] or NULL */
    const float *resid; /* row stride ldo, may alias out, or NULL */
} Epilogue;

/* Element idx of a weight operand: fp32, or bf16 (the upper half of an fp32, so the conversion is
 * exact and a product over bf16 weights has the bits of the fp32 product over the same values). */
static inline float bval(const void *b, size_t idx, int h) {
    return h ? bf16_to_f32(((const uint16_t *)b)[idx]) : ((const float *)b)[idx];
}

/* b advanced by n elements of its type. */
static inline const void *badv(const void *b, size_t n, int h) { return (const char *)b + n * (h ? 2 : 4); }

/* Columns [j0, j1) of rows [0, mr), one element at a time. */
static void nn_scalar(int mr, int j0, int j1, const float *a, int lda, const void *b, int h, int ldb, int K, float *out,
                      int ldo, const Epilogue *ep, int col0) {
    for (int i = 0; i < mr; i++)
        for (int j = j0; j < j1; j++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc = fmaf(a[(size_t)i * lda + k], bval(b, (size_t)k * ldb + j, h), acc);
            if (ep->bias) acc = acc + ep->bias[col0 + j];
            if (ep->resid) acc = acc + ep->resid[(size_t)i * ldo + j];
            out[(size_t)i * ldo + j] = acc;
        }
}

#ifdef HAVE_X86
/* One tile body per vector type; V is __m256 or __m512, W the vector width. */
#define NN_TILE_BODY(V, W, SETZERO, LOAD, LOADB, SET1, FMADD, ADD, STORE)                                             \
    V acc[MR][NR];                                                                                                      \
    for (int i = 0; i < mr; i++)                                                                                        \
        for (int j = 0; j < nv; j++) acc[i][j] = SETZERO();                                                             \
    for (int k = 0; k < K; k++) {                                                                                       \
        V bv[NR];                                                                                                       \
        for (int j = 0; j < nv; j++) bv[j] = LOADB(b + (size_t)k * ldb + W * j);                                        \
        for (int i = 0; i < mr; i++) {                                                                                  \
            V av = SET1(a[(size_t)i * lda + k]);                                                                        \
            for (int j = 0; j < nv; j++) acc[i][j] = FMADD(av, bv[j], acc[i][j]);                                       \
        }                                                                                                               \
    }                                                                                                                   \
    for (int i = 0; i < mr; i++)                                                                                        \
        for (int j = 0; j < nv; j++) {                                                                                  \
            V v = acc[i][j];                                                                                            \
            if (ep->bias) v = ADD(v, LOAD(ep->bias + col0 + W * j));                                                    \
            if (ep->resid) v = ADD(v, LOAD(ep->resid + (size_t)i * ldo + W * j));                                       \
            STORE(out + (size_t)i * ldo + W * j, v);                                                                    \
        }

/* bf16 lanes widened to fp32: a shift of each 16-bit pattern into the upper half. */
#define LOAD_BF16_256(p) _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))
#define LOAD_BF16_512(p)                                                                                               \
    _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(p))), 16))

/* The tile kernels for fp32 (b float) and bf16 (b uint16_t) weights. */
#define NN_FIXED(NAME, BT, TARGET, V, W, SETZERO, LOAD, LOADB, SET1, FMADD, ADD, STORE)                                \
    __attribute__((target(TARGET), always_inline)) static inline void NAME(int mr, int nv, const float *a, int lda,   \
                                                                           const BT *b, int ldb, int K, float *out,   \
                                                                           int ldo, const Epilogue *ep, int col0) {   \
        NN_TILE_BODY(V, W, SETZERO, LOAD, LOADB, SET1, FMADD, ADD, STORE)                                              \
    }
NN_FIXED(nn_avx2_fixed, float, "avx2,fma", __m256, 8, _mm256_setzero_ps, _mm256_loadu_ps, _mm256_loadu_ps,
         _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_storeu_ps)
NN_FIXED(nn_avx2_fixed_h, uint16_t, "avx2,fma", __m256, 8, _mm256_setzero_ps, _mm256_loadu_ps, LOAD_BF16_256,
         _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_storeu_ps)
NN_FIXED(nn_avx512_fixed, float, "avx512f", __m512, 16, _mm512_setzero_ps, _mm512_loadu_ps, _mm512_loadu_ps,
         _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_storeu_ps)
NN_FIXED(nn_avx512_fixed_h, uint16_t, "avx512f", __m512, 16, _mm512_setzero_ps, _mm512_loadu_ps, LOAD_BF16_512,
         _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_storeu_ps)

/* Dispatch on constant (mr, nv) so the accumulators stay in registers. */
#define NN_CASES(FN)                                                                                                    \
    switch (mr * 4 + nv) {                                                                                              \
    case 4 * 4 + 3: FN(4, 3, a, lda, b, ldb, K, out, ldo, ep, col0); break;                                            \
    case 4 * 4 + 2: FN(4, 2, a, lda, b, ldb, K, out, ldo, ep, col0); break;                                            \
    case 4 * 4 + 1: FN(4, 1, a, lda, b, ldb, K, out, ldo, ep, col0); break;                                            \
    case 3 * 4 + 3: FN(3, 3, a, lda, b, ldb, K, out, ldo, ep, col0); break;                                            \
    case 3 * 4 + 2: FN(3, 2, a, lda, b, ldb, K, out, ldo, ep, col0); break;                                            \
    case 3 * 4 + 1: FN(3, 1, a, lda, b, ldb, K, out, ldo, ep, col0); break;                                            \
    case 2 * 4 + 3: FN(2, 3, a, lda, b, ldb, K, out, ldo, ep, col0); break;                                            \
    case 2 * 4 + 2: FN(2, 2, a, lda, b, ldb, K, out, ldo, ep, col0); break;                                            \
    case 2 * 4 + 1: FN(2, 1, a, lda, b, ldb, K, out, ldo, ep, col0); break;                                            \
    case 1 * 4 + 3: FN(1, 3, a, lda, b, ldb, K, out, ldo, ep, col0); break;                                            \
    case 1 * 4 + 2: FN(1, 2, a, lda, b, ldb, K, out, ldo, ep, col0); break;                                            \
    case 1 * 4 + 1: FN(1, 1, a, lda, b, ldb, K, out, ldo, ep, col0); break;                                            \
    default: break;                                                                                                     \
    }

#define NN_DISPATCH(NAME, BT, TARGET, FIXED)                                                                           \
    __attribute__((target(TARGET))) static void NAME(int mr, int nv, const float *a, int lda, const BT *b, int ldb,   \
                                                     int K, float *out, int ldo, const Epilogue *ep, int col0) {      \
        NN_CASES(FIXED)                                                                                                \
    }
NN_DISPATCH(nn_avx2, float, "avx2,fma", nn_avx2_fixed)
NN_DISPATCH(nn_avx2_h, uint16_t, "avx2,fma", nn_avx2_fixed_h)
NN_DISPATCH(nn_avx512, float, "avx512f", nn_avx512_fixed)
NN_DISPATCH(nn_avx512_h, uint16_t, "avx512f", nn_avx512_fixed_h)

/* Vector width of this machine's path: 16, 8, or 1 (portable). */
static int vector_width(void) {
    static int w = 0; /* a benign race: every thread stores the same value */
    if (!w)
        w = __builtin_cpu_supports("avx512f") ? 16
            : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 8
                                                                               : 1;
    return g_width_cap && g_width_cap < w ? g_width_cap : w;
}
#else
static int vector_width(void) { return 1; }
#endif

/* Rows [0, mr) x columns [0, nc) of a tile: whole vectors of the widest path, the rest with
 * narrower ones, the last columns one by one. col0 locates column 0 in the bias; h: b is bf16. */
static void nn_tile(int mr, int nc, const float *a, int lda, const void *b, int h, int ldb, int K, float *out, int ldo,
                    const Epilogue *ep, int col0) {
    int j = 0;
#ifdef HAVE_X86
    int w = vector_width();
    for (int width = 16; width >= 8; width /= 2) {
        if (w < width) continue;
        while (j + width <= nc) {
            int nv = (nc - j) / width < NR ? (nc - j) / width : NR;
            Epilogue e = {ep->bias, ep->resid ? ep->resid + j : NULL};
            const void *bj = badv(b, (size_t)j, h);
            if (width == 16 && h) nn_avx512_h(mr, nv, a, lda, bj, ldb, K, out + j, ldo, &e, col0 + j);
            else if (width == 16) nn_avx512(mr, nv, a, lda, bj, ldb, K, out + j, ldo, &e, col0 + j);
            else if (h) nn_avx2_h(mr, nv, a, lda, bj, ldb, K, out + j, ldo, &e, col0 + j);
            else nn_avx2(mr, nv, a, lda, bj, ldb, K, out + j, ldo, &e, col0 + j);
            j += width * nv;
        }
    }
#endif
    nn_scalar(mr, j, nc, a, lda, b, h, ldb, K, out, ldo, ep, col0);
}

/* Rows [i0, i1) x columns [j0, j1). */
static void nn_block(float *out, int ldo, const float *a, int lda, const void *b, int h, int ldb, const Epilogue *ep,
                     int i0, int i1, int j0, int j1, int K) {
    for (int i = i0; i < i1; i += MR) {
        int mr = i1 - i < MR ? i1 - i : MR;
        Epilogue e = {ep->bias, ep->resid ? ep->resid + (size_t)i * ldo + j0 : NULL};
        nn_tile(mr, j1 - j0, a + (size_t)i * lda, lda, badv(b, (size_t)j0, h), h, ldb, K, out + (size_t)i * ldo + j0,
                ldo, &e, j0);
    }
}

static void gemm_nn(float *out, int ldo, const float *a, int lda, const void *b, int h, int ldb, int M, int N, int K) {
    Epilogue none = {NULL, NULL};
    for (int j0 = 0; j0 < N; j0 += JB)
        nn_block(out, ldo, a, lda, b, h, ldb, &none, 0, M, j0, j0 + JB < N ? j0 + JB : N, K);
}

void decode_gemm_nn(float *out, int ldo, const float *a, int lda, const float *b, int ldb, int M, int N, int K) {
    gemm_nn(out, ldo, a, lda, b, 0, ldb, M, N, K);
}

void decode_gemm_nn_w(float *out, int ldo, const float *a, int lda, DecodeW b, int ldb, int M, int N, int K) {
    gemm_nn(out, ldo, a, lda, b.p, b.bf16, ldb, M, N, K);
}

void decode_matmul(float *out, const float *inp, DecodeW wt, const float *bias, const float *resid, int N, int C,
                   int OC) {
    int njb = (OC + JB - 1) / JB, nib = (N + IB - 1) / IB, ntasks = njb * nib;
    Epilogue ep = {bias, resid};
    /* Which thread computes a block changes nothing: every element is computed the same way. */
#pragma omp parallel for schedule(dynamic, 1) if (ntasks > 1 && (size_t)N * OC * C > 200000)
    for (int t = 0; t < ntasks; t++) {
        int jb = t % njb, ib = t / njb;
        int j0 = jb * JB, i0 = ib * IB;
        nn_block(out, OC, inp, C, wt.p, wt.bf16, OC, &ep, i0, i0 + IB < N ? i0 + IB : N, j0, j0 + JB < OC ? j0 + JB : OC,
                 C);
    }
}

/* x[t] = e^((x[t] - mx) * scale) for t < n; returns their sum (fixed lanes, like fm_exp_shift_sum).
 * Also built for AVX2 without FMA: only the vector width changes, every lane does the same
 * multiplies and adds (nothing can be fused), so both builds give the same bits. */
#ifdef HAVE_X86
__attribute__((target_clones("avx2", "default")))
#endif
static float exp_scaled_sum(float *x, int n, float mx, float scale) {
    float acc[FM_LANES] = {0};
    int t = 0;
    for (; t + FM_LANES <= n; t += FM_LANES)
        for (int l = 0; l < FM_LANES; l++) {
            float p = fm_expf((x[t + l] - mx) * scale);
            x[t + l] = p;
            acc[l] += p;
        }
    float sum = 0.0f;
    for (int l = 0; l < FM_LANES; l++) sum += acc[l];
    for (; t < n; t++) {
        x[t] = fm_expf((x[t] - mx) * scale);
        sum += x[t];
    }
    return sum;
}

/* Built for AVX2 without FMA as well, like exp_scaled_sum: wider vectors, the same operations.
 * Not with clang < 15 (the fuzz build): it names the ifunc of an extern clone
 * "decode_attention_head.ifunc", so callers in other files fail to link; the bits are the same. */
#if defined(HAVE_X86) && !(defined(__clang__) && __clang_major__ < 15)
__attribute__((target_clones("avx2", "default")))
#endif
void decode_attention_head(float *out, int ldo, const float *q, int ldq, int m, const float *kt, int ldkt,
                           const float *v, int ldv, int P, const float *const *ks, const float *const *vs, int ldkv,
                           const int *ns, int h, int hs, float *scratch, int ld_scratch) {
    const int off = h * hs;
    const float scale = 1.0f / sqrtf((float)hs);
    /* Unnormalized probabilities in scratch; each row's 1/sum is kept in its last column. */
    if (P > 0) decode_gemm_nn(scratch, ld_scratch, q + off, ldq, kt + (size_t)off * ldkt, ldkt, m, P, hs);
    for (int i = 0; i < m; i++) {
        float *row = scratch + (size_t)i * ld_scratch;
        const float *qi = q + (size_t)i * ldq + off;
        int n = P + ns[i];
        for (int t = 0; t < ns[i]; t++) row[P + t] = fm_dot(qi, ks[i] + (size_t)t * ldkv + off, hs);
        row[ld_scratch - 1] = 1.0f / exp_scaled_sum(row, n, fm_max(row, n), scale);
    }
    if (P > 0) decode_gemm_nn(out + off, ldo, scratch, ld_scratch, v + off, ldv, m, hs, P);
    for (int i = 0; i < m; i++) {
        float *o = out + (size_t)i * ldo + off;
        const float *p = scratch + (size_t)i * ld_scratch;
        if (P == 0) memset(o, 0, sizeof(float) * (size_t)hs);
        for (int t = 0; t < ns[i]; t++) {
            const float *vt = vs[i] + (size_t)t * ldkv + off;
            for (int d = 0; d < hs; d++) o[d] = o[d] + p[P + t] * vt[d];
        }
        for (int d = 0; d < hs; d++) o[d] *= p[ld_scratch - 1];
    }
}

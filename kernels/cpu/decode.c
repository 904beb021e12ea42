/* Batch-invariant matrix products and the decode-step attention (see decode.h).
 *
 * The product is written as dot products along k because both operands are k-contiguous here
 * (activations [rows, k] and nn.Linear weights [out, k]): a 4-row x 3-column register tile keeps
 * 12 AVX2 accumulators and reuses each loaded vector 3 or 4 times. Blocks of 48 weight rows stay
 * in L2 while all row tiles pass over them, so each weight is read from memory once per call. */
#include "kernels/cpu/decode.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

#include "kernels/cpu/fastmath.h"
#include "kernels/cpu/ops.h"

#define MR 4  /* rows per register tile */
#define NR 3  /* weight rows (output columns) per register tile */
#define JB 48 /* output columns per cache block (a multiple of NR) */
#define IB 64 /* rows per parallel task */

static int g_portable = 0;

void decode_set_portable(int on) { g_portable = on != 0; }

/* The fixed lane reduction shared by both paths. */
static inline float lanes_sum(const float *l) { return ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7])); }

/* Portable path: the same 8 lanes and fused multiply-adds as the AVX2 path, element by element. */
static void tile_portable(int mr, int nr, const float *a, int lda, const float *w, int ldw, int K, float res[MR][NR]) {
    int K8 = K & ~7;
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) {
            const float *x = a + (size_t)i * lda, *y = w + (size_t)j * ldw;
            float acc[8] = {0};
            for (int k = 0; k < K8; k += 8)
                for (int l = 0; l < 8; l++) acc[l] = fmaf(x[k + l], y[k + l], acc[l]);
            float s = lanes_sum(acc);
            for (int k = K8; k < K; k++) s = fmaf(x[k], y[k], s);
            res[i][j] = s;
        }
}

#ifdef HAVE_X86
/* Inlined with constant mr and nr so the accumulators live in registers. */
__attribute__((target("avx2,fma"), always_inline)) static inline void tile_avx2_fixed(int mr, int nr, const float *a,
                                                                                     int lda, const float *w, int ldw,
                                                                                     int K, float res[MR][NR]) {
    __m256 acc[MR][NR];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) acc[i][j] = _mm256_setzero_ps();
    int K8 = K & ~7;
    for (int k = 0; k < K8; k += 8) {
        __m256 wv[NR];
        for (int j = 0; j < nr; j++) wv[j] = _mm256_loadu_ps(w + (size_t)j * ldw + k);
        for (int i = 0; i < mr; i++) {
            __m256 xv = _mm256_loadu_ps(a + (size_t)i * lda + k);
            for (int j = 0; j < nr; j++) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
        }
    }
    /* lanes_sum of four accumulators at once: hadd pairs neighbouring lanes, so two rounds give
     * (l0+l1)+(l2+l3) and (l4+l5)+(l6+l7) in the two halves, and the last add joins them: the
     * same additions as lanes_sum, hence the same bits. */
    __m256 v[MR * NR + 3];
    int cnt = 0;
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) v[cnt++] = acc[i][j];
    for (int g = cnt; g < cnt + 3; g++) v[g] = _mm256_setzero_ps();
    float sums[MR * NR + 3];
    for (int g = 0; g < cnt; g += 4) {
        __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(v[g], v[g + 1]), _mm256_hadd_ps(v[g + 2], v[g + 3]));
        _mm_storeu_ps(sums + g, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) {
            float s = sums[i * nr + j];
            for (int k = K8; k < K; k++) s = fmaf(a[(size_t)i * lda + k], w[(size_t)j * ldw + k], s);
            res[i][j] = s;
        }
}

__attribute__((target("avx2,fma"))) static void tile_avx2(int mr, int nr, const float *a, int lda, const float *w,
                                                          int ldw, int K, float res[MR][NR]) {
    switch (mr * 4 + nr) {
#define TILE_CASE(m_, n_)                                     \
    case m_ * 4 + n_:                                         \
        tile_avx2_fixed(m_, n_, a, lda, w, ldw, K, res);      \
        break;
        TILE_CASE(4, 3) TILE_CASE(4, 2) TILE_CASE(4, 1)
        TILE_CASE(3, 3) TILE_CASE(3, 2) TILE_CASE(3, 1)
        TILE_CASE(2, 3) TILE_CASE(2, 2) TILE_CASE(2, 1)
        TILE_CASE(1, 3) TILE_CASE(1, 2) TILE_CASE(1, 1)
#undef TILE_CASE
    default:
        break;
    }
}

static int use_avx2(void) {
    static int have = -1; /* a benign race: every thread stores the same value */
    if (have < 0) have = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    return have && !g_portable;
}
#else
static int use_avx2(void) { return 0; }
#endif

/* The "nn" form: out[i, j] = fma chain over k = 0..K-1 of a[i, k] * b[k, j], starting from 0. The
 * AVX2 tile holds 4 rows x 3 vectors of 8 columns; lanes are independent, so a column's result
 * does not depend on which lane or tile computes it. */
static void nn_scalar(const float *a, int lda, const float *b, int ldb, int K, float *out, int ldo, int mr, int j0,
                      int j1) {
    for (int i = 0; i < mr; i++)
        for (int j = j0; j < j1; j++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc = fmaf(a[(size_t)i * lda + k], b[(size_t)k * ldb + j], acc);
            out[(size_t)i * ldo + j] = acc;
        }
}

#ifdef HAVE_X86
__attribute__((target("avx2,fma"), always_inline)) static inline void nn_avx2_fixed(int mr, int nv, const float *a,
                                                                                   int lda, const float *b, int ldb,
                                                                                   int K, float *out, int ldo) {
    __m256 acc[MR][NR];
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nv; j++) acc[i][j] = _mm256_setzero_ps();
    for (int k = 0; k < K; k++) {
        __m256 bv[NR];
        for (int j = 0; j < nv; j++) bv[j] = _mm256_loadu_ps(b + (size_t)k * ldb + 8 * j);
        for (int i = 0; i < mr; i++) {
            __m256 av = _mm256_broadcast_ss(a + (size_t)i * lda + k);
            for (int j = 0; j < nv; j++) acc[i][j] = _mm256_fmadd_ps(av, bv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < nv; j++) _mm256_storeu_ps(out + (size_t)i * ldo + 8 * j, acc[i][j]);
}

/* Rows [0, mr) x columns [0, nc) with nc <= 24: whole vectors, then the last nc % 8 columns. */
__attribute__((target("avx2,fma"))) static void nn_avx2(int mr, int nc, const float *a, int lda, const float *b,
                                                        int ldb, int K, float *out, int ldo) {
    switch (mr * 4 + nc / 8) {
#define NN_CASE(m_, v_)                                       \
    case m_ * 4 + v_:                                         \
        nn_avx2_fixed(m_, v_, a, lda, b, ldb, K, out, ldo);   \
        break;
        NN_CASE(4, 3) NN_CASE(4, 2) NN_CASE(4, 1)
        NN_CASE(3, 3) NN_CASE(3, 2) NN_CASE(3, 1)
        NN_CASE(2, 3) NN_CASE(2, 2) NN_CASE(2, 1)
        NN_CASE(1, 3) NN_CASE(1, 2) NN_CASE(1, 1)
#undef NN_CASE
    default:
        break;
    }
    for (int i = 0; i < mr; i++)
        for (int j = nc / 8 * 8; j < nc; j++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++) acc = fmaf(a[(size_t)i * lda + k], b[(size_t)k * ldb + j], acc);
            out[(size_t)i * ldo + j] = acc;
        }
}
#endif

void decode_gemm_nn(float *out, int ldo, const float *a, int lda, const float *b, int ldb, int M, int N, int K) {
    const int NC = 8 * NR;
    for (int j = 0; j < N; j += NC) {
        int nc = N - j < NC ? N - j : NC;
        for (int i = 0; i < M; i += MR) {
            int mr = M - i < MR ? M - i : MR;
            const float *ai = a + (size_t)i * lda, *bj = b + j;
            float *o = out + (size_t)i * ldo + j;
#ifdef HAVE_X86
            if (use_avx2()) {
                nn_avx2(mr, nc, ai, lda, bj, ldb, K, o, ldo);
                continue;
            }
#endif
            nn_scalar(ai, lda, bj, ldb, K, o, ldo, mr, 0, nc);
        }
    }
}

static void tile(int mr, int nr, const float *a, int lda, const float *w, int ldw, int K, float res[MR][NR]) {
#ifdef HAVE_X86
    if (use_avx2()) {
        tile_avx2(mr, nr, a, lda, w, ldw, K, res);
        return;
    }
#endif
    tile_portable(mr, nr, a, lda, w, ldw, K, res);
}

/* Rows [i0, i1) x columns [j0, j1) of out = a w^T (+ bias) (+ resid), resid with stride ldo. */
static void block(float *out, int ldo, const float *a, int lda, const float *w, int ldw, const float *bias,
                  const float *resid, int i0, int i1, int j0, int j1, int K) {
    float res[MR][NR];
    for (int i = i0; i < i1; i += MR) {
        int mr = i1 - i < MR ? i1 - i : MR;
        for (int j = j0; j < j1; j += NR) {
            int nr = j1 - j < NR ? j1 - j : NR;
            tile(mr, nr, a + (size_t)i * lda, lda, w + (size_t)j * ldw, ldw, K, res);
            for (int r = 0; r < mr; r++)
                for (int c = 0; c < nr; c++) {
                    size_t o = (size_t)(i + r) * ldo + j + c;
                    float v = res[r][c];
                    if (bias) v = v + bias[j + c];
                    if (resid) v = v + resid[o];
                    out[o] = v;
                }
        }
    }
}

void decode_gemm_nt(float *out, int ldo, const float *a, int lda, const float *w, int ldw, int M, int N, int K) {
    for (int j0 = 0; j0 < N; j0 += JB) block(out, ldo, a, lda, w, ldw, NULL, NULL, 0, M, j0, j0 + JB < N ? j0 + JB : N, K);
}

void decode_matmul(float *out, const float *inp, const float *w, const float *bias, const float *resid, int N, int C,
                   int OC) {
    int njb = (OC + JB - 1) / JB, nib = (N + IB - 1) / IB, ntasks = njb * nib;
    /* Which thread computes a block changes nothing: every element is computed the same way. */
#pragma omp parallel for schedule(dynamic, 1) if (ntasks > 1 && (size_t)N * OC * C > 200000)
    for (int t = 0; t < ntasks; t++) {
        int jb = t % njb, ib = t / njb;
        int j0 = jb * JB, i0 = ib * IB;
        block(out, OC, inp, C, w, C, bias, resid, i0, i0 + IB < N ? i0 + IB : N, j0, j0 + JB < OC ? j0 + JB : OC, C);
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

/* CPU kernels against double-precision references: every backward against central finite
 * differences of a double forward written here, attention against a naive full T x T
 * attention (several T, including T not a multiple of the tile), AdamW against hand-computed
 * steps, gradient clipping, and thread-count invariance of the reductions.
 *
 * Tolerances (|kernel - reference| <= atol + rtol |reference|), chosen from float rounding of
 * the kernel (about 1e-7 per operation, growing with the length of the sums involved):
 *   forwards 1e-5 + 1e-5 rel; backwards vs finite differences 1e-5 + 1e-4 rel;
 *   attention vs naive reference 5e-6 + 2e-5 rel (forward, lse and backward), 2e-4 + 2e-4 rel
 *   with scores in the hundreds.
 * Measured worst errors are below 1e-6 everywhere. */
#include <math.h>
#include <stdlib.h>

#include "core/rng.h"
#include "kernels/cpu/ops.h"
#include "tests/test.h"

static Rng g_rng;

static void fill(float *x, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = scale * (float)(2.0 * rng_uniform(&g_rng) - 1.0);
}

/* Counts elements outside atol + rtol |ref| and reports the worst one. */
static int close_all(const char *what, const float *got, const double *ref, size_t n, double atol, double rtol) {
    size_t bad = 0, worst = 0;
    double worst_err = -1.0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - ref[i]), lim = atol + rtol * fabs(ref[i]);
        if (!(err <= lim)) bad++;
        if (!(err <= worst_err)) worst_err = err, worst = i;
    }
    if (bad)
        fprintf(stderr, "%s: %zu of %zu outside tolerance; worst [%zu] got %.9g want %.9g\n", what, bad, n, worst,
                (double)got[worst], ref[worst]);
    CHECK_MSG(bad == 0, "%s", what);
    return bad == 0;
}

/* A scalar objective sum_k r_k f(x)_k over a double forward, for finite differences. */
typedef double (*Objective)(const double *x, void *ctx);

/* Central differences of f at x (modified and restored in place) into g. */
static void finite_diff(Objective f, double *x, size_t n, void *ctx, double *g) {
    for (size_t i = 0; i < n; i++) {
        double x0 = x[i], h = 1e-6 * (1.0 + fabs(x0));
        x[i] = x0 + h;
        double fp = f(x, ctx);
        x[i] = x0 - h;
        double fm = f(x, ctx);
        x[i] = x0;
        g[i] = (fp - fm) / (2.0 * h);
    }
}

static double *to_double(const float *x, size_t n) {
    double *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

/* ---- matmul: x = [inp | w | bias] ---- */
typedef struct {
    int N, C, OC;
    const float *r;
} MatCtx;

static void ref_matmul(double *out, const double *inp, const double *w, const double *b, int N, int C, int OC) {
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) {
            double s = b[o];
            for (int c = 0; c < C; c++) s += inp[i * C + c] * w[o * C + c];
            out[i * OC + o] = s;
        }
}

static double obj_matmul(const double *x, void *vctx) {
    MatCtx *k = vctx;
    double *out = malloc(sizeof(double) * k->N * k->OC), s = 0.0;
    ref_matmul(out, x, x + k->N * k->C, x + k->N * k->C + k->OC * k->C, k->N, k->C, k->OC);
    for (int i = 0; i < k->N * k->OC; i++) s += k->r[i] * out[i];
    free(out);
    return s;
}

static void test_matmul(void) {
    MatCtx k = {5, 7, 6, NULL};
    size_t ni = k.N * k.C, nw = k.OC * k.C, n = ni + nw + k.OC;
    float *x = malloc(n * sizeof(float)), *out = malloc(sizeof(float) * k.N * k.OC),
          *r = malloc(sizeof(float) * k.N * k.OC), *g = calloc(n, sizeof(float));
    fill(x, n, 1.0f);
    fill(r, k.N * k.OC, 1.0f);
    fill(out, k.N * k.OC, 1.0f); /* used as the residual, updated in place */
    double *ref = malloc(sizeof(double) * k.N * k.OC), *xd = to_double(x, n), *fd = malloc(n * sizeof(double));
    ref_matmul(ref, xd, xd + ni, xd + ni + nw, k.N, k.C, k.OC);
    for (int i = 0; i < k.N * k.OC; i++) ref[i] += out[i];
    matmul_forward(out, x, x + ni, x + ni + nw, out, 1, k.N, k.C, k.OC);
    close_all("matmul_forward (bias + in-place residual)", out, ref, k.N * k.OC, 1e-5, 1e-5);
    k.r = r;
    for (size_t i = 0; i < n; i++) g[i] = 0.25f; /* gradients must accumulate onto existing values */
    matmul_backward(g, g + ni, g + ni + nw, r, x, x + ni, 1, k.N, k.C, k.OC, 1);
    finite_diff(obj_matmul, xd, n, &k, fd);
    for (size_t i = 0; i < n; i++) fd[i] += 0.25;
    close_all("matmul_backward vs finite differences", g, fd, n, 1e-5, 1e-4);
    free(x), free(out), free(r), free(g), free(ref), free(xd), free(fd);
}

/* The task grid of the matmuls: several sequences, several column blocks and dw blocks, against
 * double references; a sequence's rows alone equal its rows in the batch; 1 and 2 threads agree. */
static void test_matmul_grid(void) {
    enum { B = 3, T = 5, C = 300, OC = 520, N = B * T };
    float *x = malloc(sizeof(float) * N * C), *w = malloc(sizeof(float) * OC * C), bias[OC],
          *out = malloc(sizeof(float) * N * OC), *alone = malloc(sizeof(float) * T * OC),
          *dout = malloc(sizeof(float) * N * OC), *dx[2], *dw[2], *db[2];
    fill(x, N * C, 1.0f), fill(w, OC * C, 1.0f), fill(bias, OC, 1.0f), fill(dout, N * OC, 1.0f);
    double *ref = malloc(sizeof(double) * N * OC), *rdx = calloc(N * C, sizeof(double)),
           *rdw = calloc(OC * C, sizeof(double)), rdb[OC] = {0};
    for (int i = 0; i < N; i++)
        for (int o = 0; o < OC; o++) {
            double acc = bias[o];
            for (int c = 0; c < C; c++) acc += (double)x[i * C + c] * w[o * C + c];
            ref[i * OC + o] = acc;
            double d = dout[i * OC + o];
            rdb[o] += d;
            for (int c = 0; c < C; c++) rdx[i * C + c] += d * w[o * C + c], rdw[o * C + c] += d * x[i * C + c];
        }
    for (int th = 0; th < 2; th++) {
        kernels_set_threads(th + 1);
        matmul_forward(out, x, w, bias, NULL, B, T, C, OC);
        if (th == 0) close_all("matmul_forward grid", out, ref, N * OC, 1e-5, 1e-5);
        matmul_forward(alone, x + T * C, w, bias, NULL, 1, T, C, OC);
        CHECK_MSG(memcmp(alone, out + T * OC, sizeof(float) * T * OC) == 0, "sequence 1 alone differs (%d threads)",
                  th + 1);
        dx[th] = calloc(N * C, sizeof(float)), dw[th] = calloc(OC * C, sizeof(float)), db[th] = calloc(OC, sizeof(float));
        matmul_backward(dx[th], dw[th], db[th], dout, x, w, B, T, C, OC, 0);
    }
    kernels_set_threads(1);
    close_all("matmul_backward grid dinp", dx[0], rdx, N * C, 1e-5, 1e-5);
    close_all("matmul_backward grid dw", dw[0], rdw, OC * C, 1e-5, 1e-5);
    close_all("matmul_backward grid dbias", db[0], rdb, OC, 1e-5, 1e-5);
    CHECK(memcmp(dx[0], dx[1], sizeof(float) * N * C) == 0);
    CHECK(memcmp(dw[0], dw[1], sizeof(float) * OC * C) == 0);
    CHECK(memcmp(db[0], db[1], sizeof(float) * OC) == 0);
    for (int th = 0; th < 2; th++) free(dx[th]), free(dw[th]), free(db[th]);
    free(x), free(w), free(out), free(alone), free(dout), free(ref), free(rdx), free(rdw);
}

/* ---- layernorm: x = [inp | w | b] ---- */
typedef struct {
    int N, C;
    const float *r;
} LnCtx;

static void ref_layernorm(double *out, const double *x, const double *w, const double *b, int N, int C) {
    for (int i = 0; i < N; i++) {
        double m = 0.0, v = 0.0;
        for (int c = 0; c < C; c++) m += x[i * C + c];
        m /= C;
        for (int c = 0; c < C; c++) v += (x[i * C + c] - m) * (x[i * C + c] - m);
        double s = 1.0 / sqrt(v / C + 1e-5);
        for (int c = 0; c < C; c++) out[i * C + c] = (x[i * C + c] - m) * s * w[c] + b[c];
    }
}

static double obj_layernorm(const double *x, void *vctx) {
    LnCtx *k = vctx;
    double *out = malloc(sizeof(double) * k->N * k->C), s = 0.0;
    ref_layernorm(out, x, x + k->N * k->C, x + k->N * k->C + k->C, k->N, k->C);
    for (int i = 0; i < k->N * k->C; i++) s += k->r[i] * out[i];
    free(out);
    return s;
}

static void test_layernorm(int N, int C) {
    LnCtx k = {N, C, NULL};
    size_t ni = (size_t)N * C, n = ni + 2 * C;
    float *x = malloc(n * sizeof(float)), *out = malloc(ni * sizeof(float)), *r = malloc(ni * sizeof(float)),
          *g = calloc(n, sizeof(float)), mean[64], rstd[64];
    fill(x, n, 2.0f);
    for (int i = 0; i < (int)ni; i++) x[i] += 3.0f; /* an offset the two-pass variance must handle */
    fill(r, ni, 1.0f);
    double *ref = malloc(ni * sizeof(double)), *xd = to_double(x, n), *fd = malloc(n * sizeof(double));
    ref_layernorm(ref, xd, xd + ni, xd + ni + C, N, C);
    layernorm_forward(out, mean, rstd, x, x + ni, x + ni + C, N, C);
    close_all("layernorm_forward", out, ref, ni, 1e-5, 1e-5);
    k.r = r;
    layernorm_backward(g, g + ni, g + ni + C, r, x, x + ni, mean, rstd, N, C);
    finite_diff(obj_layernorm, xd, n, &k, fd);
    close_all("layernorm_backward vs finite differences", g, fd, n, 1e-5, 1e-4);
    free(x), free(out), free(r), free(g), free(ref), free(xd), free(fd);
}

/* ---- gelu ---- */
static double ref_gelu(double x) {
    return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}

static double obj_gelu(const double *x, void *vctx) {
    const float *r = vctx;
    double s = 0.0;
    for (int i = 0; i < 41; i++) s += r[i] * ref_gelu(x[i]);
    return s;
}

static void test_gelu(void) {
    float x[41], out[41], r[41], g[41];
    double ref[41], fd[41], xd[41];
    for (int i = 0; i < 41; i++) x[i] = -10.0f + 0.5f * i, xd[i] = x[i], ref[i] = ref_gelu(xd[i]);
    x[20] = 1e-4f, xd[20] = x[20], ref[20] = ref_gelu(xd[20]); /* tiny input: no cancellation */
    fill(r, 41, 1.0f);
    gelu_forward(out, x, 41);
    close_all("gelu_forward", out, ref, 41, 1e-6, 1e-6);
    gelu_backward(g, x, r, 41);
    finite_diff(obj_gelu, xd, 41, r, fd);
    close_all("gelu_backward vs finite differences", g, fd, 41, 1e-5, 1e-4);
    /* In place, as the model uses it. */
    for (int i = 0; i < 41; i++) out[i] = r[i];
    gelu_backward(out, x, out, 41);
    CHECK(memcmp(out, g, sizeof g) == 0);
}

/* ---- encoder: linear, so the gradient is exact sums ---- */
static void test_encoder(void) {
    enum { B = 2, T = 3, C = 5, V = 4 };
    int32_t tok[B * T] = {1, 3, 1, 1, 0, 3}; /* repeated tokens must accumulate */
    float wte[V * C], wpe[T * C], out[B * T * C], dout[B * T * C], dwte[V * C] = {0}, dwpe[T * C] = {0};
    fill(wte, V * C, 1.0f), fill(wpe, T * C, 1.0f), fill(dout, B * T * C, 1.0f);
    encoder_forward(out, tok, wte, wpe, B, T, C);
    double ref[B * T * C], rwte[V * C] = {0}, rwpe[T * C] = {0};
    for (int bt = 0; bt < B * T; bt++)
        for (int c = 0; c < C; c++) {
            ref[bt * C + c] = (double)wte[tok[bt] * C + c] + wpe[(bt % T) * C + c];
            rwte[tok[bt] * C + c] += dout[bt * C + c];
            rwpe[(bt % T) * C + c] += dout[bt * C + c];
        }
    close_all("encoder_forward", out, ref, B * T * C, 0, 1e-7);
    encoder_backward(dwte, dwpe, dout, tok, B, T, C);
    close_all("encoder_backward dwte", dwte, rwte, V * C, 1e-6, 1e-6);
    close_all("encoder_backward dwpe", dwpe, rwpe, T * C, 1e-6, 1e-6);
    float a[5] = {1, 2, 3, 4, 5}, b[5] = {0.5f, -2, 0, 1, 1e-3f}, s[5];
    double rs[5];
    for (int i = 0; i < 5; i++) rs[i] = (double)a[i] + b[i];
    residual_forward(s, a, b, 5);
    close_all("residual_forward", s, rs, 5, 0, 1e-7);
}

/* ---- cross-entropy over V real columns of Vp ---- */
typedef struct {
    int N, V, Vp;
    const int32_t *tgt;
    const float *dl;
} CeCtx;

static double ref_ce(const double *row, int V, int tgt) {
    double m = row[0], s = 0.0;
    for (int j = 1; j < V; j++) m = row[j] > m ? row[j] : m;
    for (int j = 0; j < V; j++) s += exp(row[j] - m);
    return m + log(s) - row[tgt];
}

static double obj_ce(const double *x, void *vctx) {
    CeCtx *k = vctx;
    double s = 0.0;
    for (int i = 0; i < k->N; i++) s += k->dl[i] * ref_ce(x + (size_t)i * k->Vp, k->V, k->tgt[i]);
    return s;
}

static void test_crossentropy(void) {
    enum { N = 5, V = 67, Vp = 128 };
    float logits[N * Vp], losses[N], lse[N], mask[N] = {1, 0, 1, 1, 0}, dl[N];
    int32_t tgt[N] = {3, 66, 0, 66, 5};
    fill(logits, N * Vp, 8.0f);
    for (int i = 0; i < N; i++) {
        for (int j = V; j < Vp; j++) logits[i * Vp + j] = 1e4f; /* padding must not enter the softmax */
        logits[i * Vp] += 60.0f * i;                            /* large logits: max subtraction */
        dl[i] = mask[i] * 0.37f;
    }
    double *xd = to_double(logits, N * Vp), ref[N], fd[N * Vp];
    for (int i = 0; i < N; i++) ref[i] = mask[i] ? ref_ce(xd + i * Vp, V, tgt[i]) : 0.0;
    crossentropy_forward(losses, lse, logits, tgt, mask, N, V, Vp);
    close_all("crossentropy_forward (masked, padded)", losses, ref, N, 1e-5, 1e-5);
    CHECK(losses[1] == 0.0f && losses[4] == 0.0f);
    CeCtx k = {N, V, Vp, tgt, dl};
    finite_diff(obj_ce, xd, N * Vp, &k, fd);
    crossentropy_backward(logits, lse, tgt, dl, N, V, Vp);
    close_all("crossentropy_backward vs finite differences", logits, fd, N * Vp, 1e-6, 1e-4);
    int pad_zero = 1;
    for (int i = 0; i < N; i++)
        for (int j = V; j < Vp; j++) pad_zero &= logits[i * Vp + j] == 0.0f;
    CHECK_MSG(pad_zero, "padding columns of dlogits are exactly 0");
    free(xd);
}

/* ---- attention: naive full T x T in double, and finite differences ---- */
typedef struct {
    int B, T, C, NH;
    const float *r;
} AttCtx;

/* out and lse from qkv; with dout also the gradient dqkv (all double, full T x T per head). */
static void ref_attention(const AttCtx *k, const double *qkv, double *out, double *lse, const double *dout,
                          double *dqkv) {
    int T = k->T, C = k->C, hs = C / k->NH, C3 = 3 * C;
    double scale = 1.0 / sqrt((double)hs);
    double *p = malloc(sizeof(double) * T * T), *dp = malloc(sizeof(double) * T * T);
    if (dqkv) memset(dqkv, 0, sizeof(double) * k->B * T * C3);
    for (int b = 0; b < k->B; b++)
        for (int h = 0; h < k->NH; h++) {
            const double *base = qkv + (size_t)b * T * C3 + h * hs;
            for (int i = 0; i < T; i++) {
                double m = -INFINITY, s = 0.0;
                for (int j = 0; j <= i; j++) {
                    double d = 0.0;
                    for (int c = 0; c < hs; c++) d += base[i * C3 + c] * base[j * C3 + C + c];
                    p[i * T + j] = d * scale;
                    m = p[i * T + j] > m ? p[i * T + j] : m;
                }
                for (int j = 0; j <= i; j++) s += exp(p[i * T + j] - m);
                if (lse) lse[(b * k->NH + h) * T + i] = m + log(s);
                for (int j = 0; j <= i; j++) p[i * T + j] = exp(p[i * T + j] - m) / s;
                for (int c = 0; c < hs; c++) {
                    double o = 0.0;
                    for (int j = 0; j <= i; j++) o += p[i * T + j] * base[j * C3 + 2 * C + c];
                    out[((size_t)b * T + i) * C + h * hs + c] = o;
                }
            }
            if (!dqkv) continue;
            double *dbase = dqkv + (size_t)b * T * C3 + h * hs;
            const double *dob = dout + (size_t)b * T * C + h * hs;
            for (int i = 0; i < T; i++) {
                double rowsum = 0.0;
                for (int j = 0; j <= i; j++) {
                    double d = 0.0;
                    for (int c = 0; c < hs; c++) d += dob[i * C + c] * base[j * C3 + 2 * C + c];
                    dp[i * T + j] = d;
                    rowsum += p[i * T + j] * d;
                }
                for (int j = 0; j <= i; j++) {
                    double ds = p[i * T + j] * (dp[i * T + j] - rowsum) * scale;
                    for (int c = 0; c < hs; c++) {
                        dbase[i * C3 + c] += ds * base[j * C3 + C + c];
                        dbase[j * C3 + C + c] += ds * base[i * C3 + c];
                        dbase[j * C3 + 2 * C + c] += p[i * T + j] * dob[i * C + c];
                    }
                }
            }
        }
    free(p), free(dp);
}

static double obj_attention(const double *x, void *vctx) {
    AttCtx *k = vctx;
    size_t n = (size_t)k->B * k->T * k->C;
    double *out = malloc(n * sizeof(double)), s = 0.0;
    ref_attention(k, x, out, NULL, NULL, NULL);
    for (size_t i = 0; i < n; i++) s += k->r[i] * out[i];
    free(out);
    return s;
}

/* qscale sets the spread of q, k, v; a large one makes scores of hundreds, where the online
 * softmax has to rescale by large factors between key tiles. Float rounding of such scores
 * (about 1e-5 absolute) becomes relative error of the probabilities, so that case gets a
 * tolerance of 2e-4 + 2e-4 relative (measured worst 7e-5) instead of 5e-6 + 2e-5. */
static void test_attention(int T, int with_fd, float qscale) {
    const double atol = qscale > 2.0f ? 2e-4 : 5e-6, rtol = qscale > 2.0f ? 2e-4 : 2e-5;
    AttCtx k = {2, T, 32, 2, NULL};
    Error e;
    size_t nq = (size_t)k.B * T * 3 * k.C, no = (size_t)k.B * T * k.C, nl = (size_t)k.B * k.NH * T;
    float *qkv = malloc(nq * sizeof(float)), *out = malloc(no * sizeof(float)), *lse = malloc(nl * sizeof(float)),
          *r = malloc(no * sizeof(float)), *dqkv = malloc(nq * sizeof(float));
    fill(qkv, nq, qscale);
    fill(r, no, 1.0f);
    for (size_t i = 0; i < nq; i++) dqkv[i] = 123.0f; /* the backward overwrites, never accumulates */
    double *xd = to_double(qkv, nq), *rout = malloc(no * sizeof(double)), *rlse = malloc(nl * sizeof(double)),
           *rd = to_double(r, no), *rdq = malloc(nq * sizeof(double));
    k.r = r;
    ref_attention(&k, xd, rout, rlse, rd, rdq);
    char what[96];
    size_t wsb = attention_workspace(T);
    void *ws = malloc(wsb);
    CHECK_OK(attention_forward(out, lse, qkv, k.B, T, k.C, k.NH, ws, wsb, &e), &e);
    snprintf(what, sizeof what, "attention_forward T=%d scale %g out", T, qscale);
    close_all(what, out, rout, no, atol, rtol);
    snprintf(what, sizeof what, "attention_forward T=%d lse", T);
    close_all(what, lse, rlse, nl, atol, rtol);
    CHECK_OK(attention_backward(dqkv, r, qkv, out, lse, k.B, T, k.C, k.NH, ws, wsb, &e), &e);
    /* A workspace for fewer threads runs on fewer threads with the same bits; none is an error. */
    float *out1 = malloc(no * sizeof(float));
    CHECK_OK(attention_forward(out1, lse, qkv, k.B, T, k.C, k.NH, ws, wsb / (size_t)kernels_threads(), &e), &e);
    CHECK(memcmp(out1, out, no * sizeof(float)) == 0);
    CHECK(attention_forward(out1, lse, qkv, k.B, T, k.C, k.NH, ws, 16, &e) == RP_EINTERNAL);
    free(out1);
    free(ws);
    snprintf(what, sizeof what, "attention_backward T=%d vs naive T x T", T);
    close_all(what, dqkv, rdq, nq, atol, rtol);
    if (with_fd) {
        /* The naive reference's own backward is checked too, so the comparison above stands on
         * finite differences rather than on a second hand-derived formula. */
        double *fd = malloc(nq * sizeof(double));
        finite_diff(obj_attention, xd, nq, &k, fd);
        snprintf(what, sizeof what, "attention_backward T=%d vs finite differences", T);
        close_all(what, dqkv, fd, nq, 2e-5, 1e-4);
        free(fd);
    }
    free(qkv), free(out), free(lse), free(r), free(dqkv), free(xd), free(rout), free(rlse), free(rd), free(rdq);
}

/* ---- AdamW: two steps worked by hand ---- */
static void test_adamw(void) {
    /* lr 0.1, b1 0.9, b2 0.999, eps 1e-8, wd 0.01, p0 = 1.
     * step 1, g = 0.5:   m = 0.1*0.5 = 0.05;  v = 0.001*0.25 = 0.00025
     *   mhat = 0.05/(1-0.9) = 0.5;  vhat = 0.00025/(1-0.999) = 0.25;  sqrt = 0.5
     *   p = 1 - 0.1*(0.5/(0.5+1e-8) + 0.01*1) = 1 - 0.1*1.00999998 = 0.899000002
     * step 2, g = -0.25: m = 0.9*0.05 - 0.025 = 0.02;  v = 0.999*0.00025 + 0.001*0.0625 = 0.00031225
     *   mhat = 0.02/(1-0.81) = 0.105263158;  vhat = 0.00031225/(1-0.998001) = 0.156203102
     *   sqrt(vhat) = 0.395225381;  mhat/sqrt = 0.266335...;  + 0.01*0.899000002 = 0.275325...
     *   p = 0.899000002 - 0.0275325 = 0.8714673 */
    enum { n = 7 }; /* 7: the 4-wide path and the scalar tail both run and must agree bitwise */
    float p[n], g[n], m[n] = {0}, v[n] = {0};
    for (int i = 0; i < n; i++) p[i] = 1.0f, g[i] = 0.5f;
    adamw_update(p, g, m, v, n, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 1.0f, 1);
    /* 1 - b2 is 0.00099998713 in float (relative error 1.3e-5), hence v's looser tolerance. */
    CHECK_NEAR(m[0], 0.05, 1e-7);
    CHECK_NEAR(v[0], 0.00025, 0.00025 * 2e-5);
    CHECK_NEAR(p[0], 0.899000002, 1e-7);
    for (int i = 0; i < n; i++) g[i] = -0.25f;
    adamw_update(p, g, m, v, n, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 1.0f, 2);
    CHECK_NEAR(m[0], 0.02, 1e-7);
    CHECK_NEAR(v[0], 0.00031225, 0.00031225 * 2e-5);
    CHECK_NEAR(p[0], 0.8714673, 2e-7);
    int same = 1;
    for (int i = 1; i < n; i++) same &= p[i] == p[0] && m[i] == m[0] && v[i] == v[0];
    CHECK_MSG(same, "vector and scalar AdamW paths agree bitwise");
    /* No decay: p = 1 - 0.1 * 0.5/(0.5+1e-8) = 0.900000002. grad_scale 2 on g 0.25 is g 0.5. */
    float q = 1.0f, gq = 0.25f, mq = 0.0f, vq = 0.0f;
    adamw_update(&q, &gq, &mq, &vq, 1, 0.1f, 0.9f, 0.999f, 1e-8f, 0.0f, 2.0f, 1);
    CHECK_NEAR(q, 0.900000002, 1e-7);
    CHECK_NEAR(mq, 0.05, 1e-7);
}

/* ---- gradient norm (clipping is folded into the model's AdamW step: test_gpt) ---- */
static void test_clip(void) {
    float g[2] = {3.0f, 4.0f};
    CHECK_NEAR(grad_sumsq(g, 2), 25.0, 0);
    size_t n = 3 * 65536 + 1001;
    float *big = malloc(n * sizeof(float));
    fill(big, n, 1.0f);
    double ref = 0.0;
    for (size_t i = 0; i < n; i++) ref += (double)big[i] * big[i];
    kernels_set_threads(1);
    double s1 = grad_sumsq(big, n);
    kernels_set_threads(2);
    double s2 = grad_sumsq(big, n);
    kernels_set_threads(1);
    CHECK_NEAR(s1, ref, 1e-9 * ref);
    CHECK_MSG(s1 == s2, "grad_sumsq bitwise equal on 1 and 2 threads (%.17g vs %.17g)", s1, s2);
    free(big);
}

/* Column reductions and attention give the same bits on 1 and 2 threads. */
static void test_threads_invariance(void) {
    enum { N = 300, C = 200, T = 150, NH = 4, CA = 64 };
    float *x = malloc(sizeof(float) * N * C), *d = malloc(sizeof(float) * N * C), w[C], b[C], mean[N], rstd[N];
    float *out = malloc(sizeof(float) * N * C), *dw[2], *di[2];
    fill(x, N * C, 1.0f), fill(d, N * C, 1.0f), fill(w, C, 1.0f), fill(b, C, 1.0f);
    float *qkv = malloc(sizeof(float) * 2 * T * 3 * CA), *ao[2], *dq[2], lse[2 * NH * T];
    fill(qkv, 2 * T * 3 * CA, 1.0f);
    Error e;
    for (int th = 0; th < 2; th++) {
        kernels_set_threads(th + 1);
        CHECK(kernels_threads() == th + 1);
        dw[th] = calloc(2 * C, sizeof(float)), di[th] = calloc(N * C, sizeof(float));
        layernorm_forward(out, mean, rstd, x, w, b, N, C);
        layernorm_backward(di[th], dw[th], dw[th] + C, d, x, w, mean, rstd, N, C);
        ao[th] = malloc(sizeof(float) * 2 * T * CA), dq[th] = malloc(sizeof(float) * 2 * T * 3 * CA);
        size_t wsb = attention_workspace(T);
        void *ws = malloc(wsb);
        CHECK_OK(attention_forward(ao[th], lse, qkv, 2, T, CA, NH, ws, wsb, &e), &e);
        CHECK_OK(attention_backward(dq[th], d, qkv, ao[th], lse, 2, T, CA, NH, ws, wsb, &e), &e);
        free(ws);
    }
    kernels_set_threads(1);
    CHECK(memcmp(dw[0], dw[1], sizeof(float) * 2 * C) == 0);
    CHECK(memcmp(di[0], di[1], sizeof(float) * N * C) == 0);
    CHECK(memcmp(ao[0], ao[1], sizeof(float) * 2 * T * CA) == 0);
    CHECK(memcmp(dq[0], dq[1], sizeof(float) * 2 * T * 3 * CA) == 0);
    for (int th = 0; th < 2; th++) free(dw[th]), free(di[th]), free(ao[th]), free(dq[th]);
    free(x), free(d), free(out), free(qkv);
}

int main(void) {
    rng_seed(&g_rng, 12345);
    kernels_set_threads(1);
    test_matmul();
    test_matmul_grid();
    test_layernorm(4, 19);
    test_layernorm(3, 40);
    test_gelu();
    test_encoder();
    test_crossentropy();
    test_attention(1, 1, 1.5f);
    test_attention(9, 1, 1.5f);
    test_attention(70, 0, 1.5f);
    test_attention(64, 0, 1.5f);
    test_attention(130, 0, 1.5f);
    test_attention(200, 0, 1.5f);
    test_attention(130, 0, 8.0f);
    test_adamw();
    test_clip();
    test_threads_invariance();
    return test_summary("test_kernels");
}

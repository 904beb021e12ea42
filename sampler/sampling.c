/* Temperature / top-k / top-p token choice (see sampling.h). */
#include "sampler/sampling.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int sampling_work_init(SamplingWork *w, int n_vocab, Error *e) {
    w->n = n_vocab;
    w->prob = xmalloc(sizeof(float) * (size_t)n_vocab, e);
    w->idx = xmalloc(sizeof(int32_t) * (size_t)n_vocab, e);
    if (!w->prob || !w->idx) {
        sampling_work_free(w);
        return RP_ENOMEM;
    }
    return RP_OK;
}

void sampling_work_free(SamplingWork *w) {
    free(w->prob);
    free(w->idx);
    w->prob = NULL;
    w->idx = NULL;
}

/* qsort has no context argument; each thread sorts with its own key array. */
static __thread const float *t_keys;

static int by_key_desc(const void *a, const void *b) {
    int32_t i = *(const int32_t *)a, j = *(const int32_t *)b;
    if (t_keys[i] != t_keys[j]) return t_keys[i] > t_keys[j] ? -1 : 1;
    return (i > j) - (i < j);
}

static int32_t argmax(const float *x, int n) {
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Fills w->prob with the temperature-scaled probabilities and w->idx[0..return) with the tokens
 * the filters keep, best first. Without filters the support is every token in id order (no sort
 * needed for an inverse-CDF draw). With filters only tokens with probability >= t are sorted,
 * t being the lowest power of two at which that set provably contains the answer: it holds the k
 * best once it has k members, and the nucleus once its mass reaches top_p (anything outside is
 * less likely than everything inside). A histogram by binary exponent finds t in one pass, so a
 * 50k vocabulary costs two passes and a sort of the few hundred tokens that matter. */
static int support(const float *logits, int n, const SamplingParams *p, SamplingWork *w) {
    float mx = logits[argmax(logits, n)];
    double inv_t = 1.0 / p->temperature, z = 0;
    for (int i = 0; i < n; i++) {
        w->prob[i] = (float)exp((logits[i] - mx) * inv_t);
        z += w->prob[i];
    }
    for (int i = 0; i < n; i++) w->prob[i] = (float)(w->prob[i] / z);
    int k = p->top_k > 0 && p->top_k < n ? p->top_k : n;
    int nucleus = p->top_p < 1.0;
    int m = 0;
    if (k == n && !nucleus) {
        for (int i = 0; i < n; i++) w->idx[i] = i;
        return n;
    }
    /* One pass buckets the probabilities by binary exponent (bucket b holds [2^-(b+1), 2^-b));
     * the first buckets whose count reaches k, or whose mass reaches top_p, hold the answer, so
     * a second pass collects just them. */
    enum { N_BUCKETS = 150 };
    double mass[N_BUCKETS] = {0};
    int count[N_BUCKETS] = {0};
    for (int i = 0; i < n; i++) {
        /* The IEEE exponent field gives the bucket directly: p in [2^(E-127), 2^(E-126)). */
        uint32_t bits;
        memcpy(&bits, &w->prob[i], sizeof bits);
        int b = 126 - (int)((bits >> 23) & 0xff);
        b = b < 0 ? 0 : b >= N_BUCKETS ? N_BUCKETS - 1 : b;
        mass[b] += w->prob[i];
        count[b]++;
    }
    int last = N_BUCKETS - 1;
    double cum_mass = 0;
    int cum_count = 0;
    for (int b = 0; b < N_BUCKETS - 1; b++) {
        cum_mass += mass[b];
        cum_count += count[b];
        if (k < n ? cum_count >= k : cum_mass >= p->top_p) {
            last = b;
            break;
        }
    }
    float t = last == N_BUCKETS - 1 ? -1.0f : ldexpf(1.0f, -(last + 1));
    for (int i = 0; i < n; i++)
        if (w->prob[i] >= t) w->idx[m++] = i;
    t_keys = w->prob;
    qsort(w->idx, (size_t)m, sizeof(int32_t), by_key_desc);
    if (m > k) m = k;
    if (nucleus) {
        /* The nucleus is taken over the top-k renormalised; without top-k over everything. */
        double kept = 0, acc = 0;
        if (k < n)
            for (int r = 0; r < m; r++) kept += w->prob[w->idx[r]];
        else
            for (int i = 0; i < n; i++) kept += w->prob[i];
        for (int r = 0; r < m; r++) {
            acc += w->prob[w->idx[r]] / kept;
            if (acc >= p->top_p) {
                m = r + 1;
                break;
            }
        }
    }
    return m;
}

static double model_logprob(const float *logits, int n, int32_t tok) {
    float mx = logits[argmax(logits, n)];
    double z = 0;
    for (int i = 0; i < n; i++) z += exp((double)logits[i] - mx);
    return (double)logits[tok] - mx - log(z);
}

/* Whether the logits define a distribution: no NaN, no +Inf (exp(Inf - Inf) is NaN), and at least
 * one token above -Inf. A model with broken weights produces such logits; every choice would be
 * garbage (argmax silently token 0, the draw reading outside its support). */
static int logits_ok(const float *x, int n) {
    int any = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(x[i]) || x[i] == INFINITY) return 0;
        any |= x[i] != -INFINITY;
    }
    return any;
}

int32_t sampling_choose(const float *logits, int n_valid, const SamplingParams *p, double u, SamplingWork *w,
                        double *logprob) {
    int32_t tok;
    if (n_valid < 1 || !logits_ok(logits, n_valid)) return -1;
    if (p->temperature <= 0.0) {
        tok = argmax(logits, n_valid);
    } else {
        int m = support(logits, n_valid, p, w);
        /* Empty only if the temperature scaling itself overflowed (a subnormal temperature). */
        if (m < 1) return -1;
        double total = 0;
        for (int r = 0; r < m; r++) total += w->prob[w->idx[r]];
        double target = u * total, acc = 0;
        tok = w->idx[m - 1];
        for (int r = 0; r < m; r++) {
            acc += w->prob[w->idx[r]];
            if (target < acc) {
                tok = w->idx[r];
                break;
            }
        }
    }
    if (logprob) *logprob = model_logprob(logits, n_valid, tok);
    return tok;
}

int sampling_support(const float *logits, int n_valid, const SamplingParams *p, SamplingWork *w, int32_t *ids) {
    if (n_valid < 1 || !logits_ok(logits, n_valid)) return 0;
    if (p->temperature <= 0.0) {
        ids[0] = argmax(logits, n_valid);
        return 1;
    }
    int m = support(logits, n_valid, p, w);
    memcpy(ids, w->idx, sizeof(int32_t) * (size_t)m);
    return m;
}

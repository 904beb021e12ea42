/* Okapi BM25 with rank_bm25's BM25Okapi semantics, and Python-compatible whitespace splitting
 * (see bm25.h). */
#include "data/bm25.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Byte length of the whitespace character starting at s[i] (Python's str.isspace() set), or 0.
 * Every multi-byte pattern starts with a UTF-8 lead byte, which never occurs inside another
 * character, so testing each byte position is safe. */
static size_t space_len(const char *str, size_t n, size_t i) {
    const unsigned char *s = (const unsigned char *)str + i;
    size_t left = n - i;
    unsigned c = s[0];
    if ((c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20)) return 1;
    if (c == 0xC2 && left >= 2 && (s[1] == 0x85 || s[1] == 0xA0)) return 2;
    if (left < 3) return 0;
    if (c == 0xE1 && s[1] == 0x9A && s[2] == 0x80) return 3;                      /* U+1680 */
    if (c == 0xE2 && s[1] == 0x80 && ((s[2] >= 0x80 && s[2] <= 0x8A) ||           /* U+2000..200A */
                                      s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF)) /* 2028 2029 202F */
        return 3;
    if (c == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) return 3; /* U+205F */
    if (c == 0xE3 && s[1] == 0x80 && s[2] == 0x80) return 3; /* U+3000 */
    return 0;
}

int pysplit_next(const char *s, size_t n, size_t *pos, size_t *start, size_t *len) {
    size_t i = *pos, w;
    while (i < n && (w = space_len(s, n, i))) i += w;
    if (i >= n) {
        *pos = n;
        return 0;
    }
    size_t b = i;
    while (i < n && !space_len(s, n, i)) i++;
    *start = b;
    *len = i - b;
    *pos = i;
    return 1;
}

void pystrip(const char *s, size_t n, size_t *start, size_t *len) {
    size_t pos = 0, b, l, first = n, end = n;
    while (pysplit_next(s, n, &pos, &b, &l)) {
        if (first == n) first = b;
        end = b + l;
    }
    *start = first;
    *len = first == n ? 0 : end - first;
}

void bm25_free(Bm25 *m) {
    strmap_free(&m->vocab);
    free(m->idf);
    free(m->doc_len);
    free(m->post_off);
    free(m->post_doc);
    free(m->post_tf);
    memset(m, 0, sizeof *m);
}

/* Tokenizes every document into term ids (assigned in order of first occurrence, which is also
 * the order rank_bm25 sums idfs in). */
static int collect_terms(Bm25 *m, const char *const *docs, int64_t n, int64_t **tok, int64_t **tok_off, Error *e) {
    int64_t cap = 256, count = 0;
    *tok = xmalloc((size_t)cap * sizeof(int64_t), e);
    *tok_off = xmalloc((size_t)(n + 1) * sizeof(int64_t), e);
    if (!*tok || !*tok_off) return RP_ENOMEM;
    for (int64_t d = 0; d < n; d++) {
        (*tok_off)[d] = count;
        size_t len = strlen(docs[d]), pos = 0, b, l;
        while (pysplit_next(docs[d], len, &pos, &b, &l)) {
            int64_t *id = strmap_slot(&m->vocab, docs[d] + b, l, m->n_terms, e);
            if (!id) return RP_ENOMEM;
            if (*id == m->n_terms) m->n_terms++;
            if (count == cap) {
                cap *= 2;
                int64_t *t = xrealloc(*tok, (size_t)cap * sizeof(int64_t), e);
                if (!t) return RP_ENOMEM;
                *tok = t;
            }
            (*tok)[count++] = *id;
        }
        m->doc_len[d] = count - (*tok_off)[d];
    }
    (*tok_off)[n] = count;
    return RP_OK;
}

/* Builds the term-major postings from the token ids: df per term, then a counting sort. */
static int build_postings(Bm25 *m, const int64_t *tok, const int64_t *tok_off, Error *e) {
    int64_t nt = m->n_terms, ntok = tok_off[m->n_docs];
    int64_t *last = xmalloc((size_t)(nt + 1) * sizeof(int64_t), e);
    int64_t *slot = xmalloc((size_t)(nt + 1) * sizeof(int64_t), e);
    m->post_off = xcalloc((size_t)nt + 1, sizeof(int64_t), e);
    m->post_doc = xmalloc((size_t)(ntok + 1) * sizeof(int64_t), e);
    m->post_tf = xcalloc((size_t)ntok + 1, sizeof(int32_t), e);
    int rc = (!last || !slot || !m->post_off || !m->post_doc || !m->post_tf) ? RP_ENOMEM : RP_OK;
    if (!rc) {
        for (int64_t t = 0; t < nt; t++) last[t] = -1;
        for (int64_t d = 0; d < m->n_docs; d++)
            for (int64_t j = tok_off[d]; j < tok_off[d + 1]; j++)
                if (last[tok[j]] != d) {
                    last[tok[j]] = d;
                    m->post_off[tok[j] + 1]++;
                }
        for (int64_t t = 0; t < nt; t++) {
            m->post_off[t + 1] += m->post_off[t];
            slot[t] = m->post_off[t];
            last[t] = -1;
        }
        /* Documents are visited in order, so each term's postings come out ascending. */
        for (int64_t d = 0; d < m->n_docs; d++)
            for (int64_t j = tok_off[d]; j < tok_off[d + 1]; j++) {
                int64_t t = tok[j];
                if (last[t] != d) {
                    last[t] = d;
                    m->post_doc[slot[t]++] = d;
                }
                m->post_tf[slot[t] - 1]++;
            }
    }
    free(last);
    free(slot);
    return rc;
}

int bm25_init(Bm25 *m, const char *const *docs, int64_t n, Error *e) {
    memset(m, 0, sizeof *m);
    int rc = strmap_init(&m->vocab, 256, e);
    if (rc) return rc;
    m->n_docs = n;
    m->doc_len = xcalloc((size_t)n + 1, sizeof(int64_t), e);
    if (!m->doc_len) {
        bm25_free(m);
        return RP_ENOMEM;
    }
    int64_t *tok = NULL, *tok_off = NULL;
    rc = collect_terms(m, docs, n, &tok, &tok_off, e);
    if (!rc) rc = build_postings(m, tok, tok_off, e);
    if (!rc) {
        m->avgdl = n ? (double)tok_off[n] / (double)n : 0.0;
        m->idf = xmalloc((size_t)(m->n_terms + 1) * sizeof(double), e);
        if (!m->idf) rc = RP_ENOMEM;
    }
    if (!rc) {
        double sum = 0.0, N = (double)n;
        for (int64_t t = 0; t < m->n_terms; t++) {
            double df = (double)(m->post_off[t + 1] - m->post_off[t]);
            m->idf[t] = log(N - df + 0.5) - log(df + 0.5);
            sum += m->idf[t];
        }
        m->average_idf = m->n_terms ? sum / (double)m->n_terms : 0.0;
        for (int64_t t = 0; t < m->n_terms; t++)
            if (m->idf[t] < 0) m->idf[t] = BM25_EPSILON * m->average_idf;
    }
    free(tok);
    free(tok_off);
    if (rc) bm25_free(m);
    return rc;
}

double bm25_idf(const Bm25 *m, const char *term) {
    int64_t t;
    return strmap_get(&m->vocab, term, strlen(term), &t) ? m->idf[t] : 0.0;
}

void bm25_score(const Bm25 *m, const char *query, double *scores) {
    for (int64_t d = 0; d < m->n_docs; d++) scores[d] = 0.0;
    size_t len = strlen(query), pos = 0, b, l;
    while (pysplit_next(query, len, &pos, &b, &l)) {
        int64_t t;
        if (!strmap_get(&m->vocab, query + b, l, &t)) continue;
        /* Same operation order as rank_bm25: tf*(k1+1) / (tf + k1*(1 - b + b*dl/avgdl)), times idf. */
        for (int64_t j = m->post_off[t]; j < m->post_off[t + 1]; j++) {
            double tf = (double)m->post_tf[j], dl = (double)m->doc_len[m->post_doc[j]];
            double norm = BM25_K1 * (1.0 - BM25_B + BM25_B * dl / m->avgdl);
            scores[m->post_doc[j]] += m->idf[t] * (tf * (BM25_K1 + 1.0) / (tf + norm));
        }
    }
}

typedef struct {
    double score;
    int64_t doc;
} Ranked;

static int ranked_cmp(const void *pa, const void *pb) {
    const Ranked *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return a->doc < b->doc ? -1 : a->doc > b->doc;
}

int bm25_top_k(const Bm25 *m, const char *query, int64_t k, int64_t *idx, double *scores, int64_t *n_out, Error *e) {
    *n_out = 0;
    if (k <= 0 || m->n_docs == 0) return RP_OK;
    double *s = xmalloc((size_t)m->n_docs * sizeof(double), e);
    Ranked *r = xmalloc((size_t)m->n_docs * sizeof(Ranked), e);
    if (!s || !r) {
        free(s);
        free(r);
        return RP_ENOMEM;
    }
    bm25_score(m, query, s);
    for (int64_t d = 0; d < m->n_docs; d++) r[d] = (Ranked){s[d], d};
    qsort(r, (size_t)m->n_docs, sizeof(Ranked), ranked_cmp);
    int64_t n = k < m->n_docs ? k : m->n_docs;
    for (int64_t i = 0; i < n; i++) {
        idx[i] = r[i].doc;
        if (scores) scores[i] = r[i].score;
    }
    *n_out = n;
    free(s);
    free(r);
    return RP_OK;
}

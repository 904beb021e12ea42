/* Okapi BM25 over a small corpus (one user's profile items), with the semantics of rank_bm25's
 * BM25Okapi, which LongLaMP's retrieval uses:
 *   - documents and queries are split on whitespace exactly as Python's str.split() does
 *     (Unicode whitespace included; punctuation stays attached to words);
 *   - idf(t) = ln(N - df + 0.5) - ln(df + 0.5); every negative idf is replaced by
 *     epsilon * (mean of all idfs before the replacement); an idf of exactly 0 stays 0;
 *   - score(d, q) = sum over query tokens (repeats count again) of
 *     idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * |d| / avgdl)); unknown tokens add nothing;
 *   - k1 = 1.5, b = 0.75, epsilon = 0.25.
 * Top-k differs from rank_bm25 only in ties: ours are broken by document index ascending (numpy's
 * reversed argsort gives no documented tie order). */
#ifndef RESTPG_DATA_BM25_H
#define RESTPG_DATA_BM25_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/text.h"

#define BM25_K1 1.5
#define BM25_B 0.75
#define BM25_EPSILON 0.25

typedef struct {
    int64_t n_docs, n_terms;
    double avgdl;         /* mean document length in tokens (0 for an empty corpus) */
    double average_idf;   /* mean idf before the epsilon floor (0 without terms) */
    StrMap vocab;         /* term -> term id, ids in order of first occurrence */
    double *idf;          /* [n_terms], floor applied */
    int64_t *doc_len;     /* [n_docs] */
    /* Postings, term-major: term t occurs in post_doc[j] post_tf[j] times for j in
     * post_off[t] .. post_off[t+1]-1, documents ascending. */
    int64_t *post_off, *post_doc;
    int32_t *post_tf;
} Bm25;

/* Indexes docs[0..n) (n may be 0; an empty document is allowed). */
int bm25_init(Bm25 *m, const char *const *docs, int64_t n, Error *e);
void bm25_free(Bm25 *m);

/* The idf of a term (after the floor), or 0 for a term not in the corpus. */
double bm25_idf(const Bm25 *m, const char *term);
/* Writes the score of every document for `query` into scores[0..n_docs). */
void bm25_score(const Bm25 *m, const char *query, double *scores);
/* The min(k, n_docs) best documents for `query`: idx[r] is the document of rank r (score
 * descending, ties by index ascending) and, if scores is non-NULL, scores[r] its score. Documents
 * scoring 0 are returned too, as rank_bm25's get_top_n does. *n_out gets the count. */
int bm25_top_k(const Bm25 *m, const char *query, int64_t k, int64_t *idx, double *scores, int64_t *n_out, Error *e);

/* Python's str.split() and str.strip() over UTF-8 text, used for queries, documents and the
 * 750-word cap of LongLaMP's abstract prompts. pysplit_next finds the next token at or after
 * *pos in s[0..n): returns 1 with s[*start .. *start + *len) the token and *pos past it, or 0 when
 * no token is left. Bytes that are not valid UTF-8 count as non-space characters. */
int pysplit_next(const char *s, size_t n, size_t *pos, size_t *start, size_t *len);
/* Sets s[*start .. *start + *len) to s[0..n) without leading and trailing whitespace. */
void pystrip(const char *s, size_t n, size_t *start, size_t *len);

#endif

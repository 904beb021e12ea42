/* ROUGE-1, ROUGE-2 and ROUGE-L exactly as Google's rouge_score computes them (the scorer behind
 * LongLaMP's Hugging Face `evaluate` numbers): Python lowercasing, every run outside [a-z0-9]
 * becomes a separator, optional NLTK Porter stemming of tokens longer than 3 characters, clipped
 * n-gram overlap, and ROUGE-L as the LCS over the whole token sequence. Results agree with
 * rouge_score to the last bit on tests/reference/rouge_expected.jsonl (docs/metrics.md).
 *
 * Speed: texts become integer ids through a vocabulary owned by the Rouge object, so n-grams are
 * hashed integers and the LCS is bit-parallel over the reference. A RougeRef prepares one
 * reference for many candidates (the E-step scores N samples against one expected output).
 * A Rouge object and the RougeRefs built with it belong to one thread; use one Rouge per
 * thread. The vocabulary grows with the distinct words seen (tens of bytes per word). */
#ifndef RESTPG_REWARD_ROUGE_H
#define RESTPG_REWARD_ROUGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/text.h"

typedef struct {
    double p, r, f; /* precision, recall, F1 */
} RougeScore;

typedef struct {
    RougeScore rouge1, rouge2, rougeL;
} RougeScores;

/* One reference, tokenized and indexed. Fields are private to rouge.c. */
typedef struct {
    size_t n;                  /* tokens */
    uint32_t *ids;
    uint32_t uni_mask, bi_mask; /* hash table sizes - 1 (powers of two) */
    uint32_t *uni_key;         /* token id, or UINT32_MAX for an empty slot */
    int32_t *uni_cnt;
    uint32_t *uni_row;         /* row of the token's LCS match mask */
    uint64_t *bi_key;          /* id pair, or UINT64_MAX for an empty slot */
    int32_t *bi_cnt;
    size_t words;              /* 64-bit words per match mask */
    uint64_t *masks;           /* one row per distinct token; NULL when too big (DP is used) */
    size_t cap_ids, cap_uni, cap_bi, cap_masks;
} RougeRef;

/* String -> int64 map with keys in one arena and full hashes in the slots: token lookup is the
 * hot loop of tokenizing, and core's StrMap (a malloc and a pointer chase per key) is 2x slower. */
typedef struct {
    uint64_t *hash; /* 0 marks an empty slot */
    uint32_t *off, *len;
    int64_t *val;
    size_t mask, count;
    char *arena;
    size_t used, cap_arena;
} RougeVocab;

typedef struct {
    int stem;
    RougeVocab raw;   /* token as the tokenizer cut it -> id of the form that is scored */
    RougeVocab forms; /* stemmed form -> id (only with stemming) */
    int64_t n_ids;
    char *tok;     /* scratch: the token being cut */
    size_t cap_tok;
    uint32_t *cand;
    size_t cap_cand;
    int32_t *rem;  /* scratch: reference counts not yet matched (unigrams then bigrams) */
    size_t cap_rem;
    void *row;     /* scratch: LCS bit vector or DP row */
    size_t cap_row; /* bytes */
    RougeRef tmp;  /* the reference of rouge_score() */
} Rouge;

/* Prepares a scorer; stem = 1 stems tokens longer than 3 characters with reward/porter.h, as
 * rouge_score's use_stemmer=True does (LongLaMP uses no stemming). */
int rouge_init(Rouge *r, int stem, Error *e);
/* Releases the scorer. RougeRefs built with it still need rouge_ref_free and are no longer usable. */
void rouge_free(Rouge *r);

/* Tokenizes the UTF-8 text t[0..n) as rouge_score does and appends the tokens (stemmed if the
 * scorer stems) to out, separated by single spaces. For tests and debugging. */
int rouge_tokens(Rouge *r, const char *t, size_t n, StrBuf *out, Error *e);

/* Prepares the reference text t[0..n) for rouge_score_ref. ref is overwritten (no free needed
 * before); free it with rouge_ref_free. It is valid only with the Rouge that built it. */
int rouge_ref_init(Rouge *r, RougeRef *ref, const char *t, size_t n, Error *e);
/* Releases a prepared reference (a zeroed RougeRef is fine too). */
void rouge_ref_free(RougeRef *ref);

/* Scores the prediction pred[0..n) against a prepared reference. */
int rouge_score_ref(Rouge *r, const RougeRef *ref, const char *pred, size_t n, RougeScores *out,
                    Error *e);

/* Scores one prediction against one reference (rouge_score's scorer.score(ref, pred)). */
int rouge_score(Rouge *r, const char *pred, size_t pred_n, const char *ref, size_t ref_n,
                RougeScores *out, Error *e);

#endif

/* ROUGE-1/2/L with rouge_score's semantics (see rouge.h): tokenizer, vocabulary, prepared
 * references, clipped n-gram overlap and a bit-parallel LCS. */
#include "reward/rouge.h"

#include <stdlib.h>
#include <string.h>

#include "reward/porter.h"
#include "reward/unicase.h"
#include "core/vec.h"

#define EMPTY32 UINT32_MAX
#define EMPTY64 UINT64_MAX
#define DROP (-1) /* vocabulary value of a token whose stem is not a valid token */
/* Above this many bytes of LCS match masks the O(n*m) DP with one row is used instead. */
#define MASK_LIMIT ((size_t)64 << 20)

/* Grows *p to hold need elements of size elem, keeping contents. */
/* realloc that leaves *p intact on failure. */
static int resize(void *p, size_t bytes, Error *e) {
    void *q = xrealloc(*(void **)p, bytes, e);
    if (!q) return e->code;
    *(void **)p = q;
    return RP_OK;
}

static int vocab_init(RougeVocab *v, Error *e) {
    memset(v, 0, sizeof *v);
    size_t cap = 4096;
    v->hash = xcalloc(cap, sizeof *v->hash, e);
    v->off = xmalloc(cap * sizeof *v->off, e);
    v->len = xmalloc(cap * sizeof *v->len, e);
    v->val = xmalloc(cap * sizeof *v->val, e);
    v->mask = cap - 1;
    return v->hash && v->off && v->len && v->val ? RP_OK : RP_ENOMEM;
}

static void vocab_free(RougeVocab *v) {
    free(v->hash);
    free(v->off);
    free(v->len);
    free(v->val);
    free(v->arena);
    memset(v, 0, sizeof *v);
}

static inline uint64_t word_hash(const char *s, size_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n, x;
    for (; n >= 8; s += 8, n -= 8) {
        memcpy(&x, s, 8);
        h = (h ^ x) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
    }
    x = 0;
    memcpy(&x, s, n);
    h = (h ^ x) * 0x94D049BB133111EBull;
    h ^= h >> 29;
    return h | 1;
}

/* Slot holding s[0..n) with hash h, or the empty slot where it would go. */
static inline size_t vocab_find(const RougeVocab *v, const char *s, size_t n, uint64_t h) {
    size_t i = (size_t)(h >> 17) & v->mask;
    while (v->hash[i] && !(v->hash[i] == h && v->len[i] == n && !memcmp(v->arena + v->off[i], s, n)))
        i = (i + 1) & v->mask;
    return i;
}

static int vocab_grow(RougeVocab *v, Error *e) {
    RougeVocab big = *v;
    size_t cap = 2 * (v->mask + 1);
    big.hash = xcalloc(cap, sizeof *big.hash, e);
    big.off = xmalloc(cap * sizeof *big.off, e);
    big.len = xmalloc(cap * sizeof *big.len, e);
    big.val = xmalloc(cap * sizeof *big.val, e);
    if (!big.hash || !big.off || !big.len || !big.val) {
        free(big.hash), free(big.off), free(big.len), free(big.val);
        return RP_ENOMEM;
    }
    big.mask = cap - 1;
    for (size_t i = 0; i <= v->mask; i++) {
        if (!v->hash[i]) continue;
        size_t j = (size_t)(v->hash[i] >> 17) & big.mask;
        while (big.hash[j]) j = (j + 1) & big.mask;
        big.hash[j] = v->hash[i], big.off[j] = v->off[i], big.len[j] = v->len[i], big.val[j] = v->val[i];
    }
    free(v->hash), free(v->off), free(v->len), free(v->val);
    *v = big;
    return RP_OK;
}

static int vocab_get(const RougeVocab *v, const char *s, size_t n, int64_t *val) {
    size_t i = vocab_find(v, s, n, word_hash(s, n));
    if (!v->hash[i]) return 0;
    *val = v->val[i];
    return 1;
}

/* The value slot of s[0..n), inserted with value init if absent; NULL on failure. */
static int64_t *vocab_slot(RougeVocab *v, const char *s, size_t n, int64_t init, Error *e) {
    if (2 * (v->count + 1) > v->mask + 1 && vocab_grow(v, e)) return NULL;
    uint64_t h = word_hash(s, n);
    size_t i = vocab_find(v, s, n, h);
    if (v->hash[i]) return &v->val[i];
    if (v->used + n > UINT32_MAX) {
        error_set(e, RP_EINTERNAL, "rouge: vocabulary text over 4 GiB");
        return NULL;
    }
    if (vec_reserve(&v->arena, &v->cap_arena, v->used + n, 1, e)) return NULL;
    memcpy(v->arena + v->used, s, n);
    v->hash[i] = h, v->off[i] = (uint32_t)v->used, v->len[i] = (uint32_t)n, v->val[i] = init;
    v->used += n;
    v->count++;
    return &v->val[i];
}

int rouge_init(Rouge *r, int stem, Error *e) {
    memset(r, 0, sizeof *r);
    r->stem = stem;
    if (vocab_init(&r->raw, e) || (stem && vocab_init(&r->forms, e))) {
        vocab_free(&r->raw);
        vocab_free(&r->forms);
        return RP_ENOMEM;
    }
    return RP_OK;
}

void rouge_free(Rouge *r) {
    vocab_free(&r->raw);
    vocab_free(&r->forms);
    free(r->tok);
    free(r->cand);
    free(r->rem);
    free(r->row);
    rouge_ref_free(&r->tmp);
    memset(r, 0, sizeof *r);
}

/* Where the tokenizer puts tokens: ids into an array, or text into a StrBuf. */
typedef struct {
    uint32_t **ids;
    size_t *cap, n;
    StrBuf *text;
} Sink;

static int new_id(Rouge *r, int64_t *slot, Error *e) {
    if (*slot == r->n_ids) {
        if (r->n_ids >= (int64_t)EMPTY32 - 1)
            return error_set(e, RP_EINTERNAL, "rouge: vocabulary full (%lld words)", (long long)r->n_ids);
        r->n_ids++;
    }
    return RP_OK;
}

/* The form a token is scored as: itself, or its Porter stem when stemming and longer than 3
 * characters (tokens are ASCII here, so bytes are characters). Returns its length, 0 if the
 * stem is not a valid token (rouge_score drops those), -1 on allocation failure. */
static int token_form(const Rouge *r, const char *s, size_t n, char *buf, size_t cap) {
    if (!r->stem || n <= 3) {
        memcpy(buf, s, n);
        return (int)n;
    }
    int len = porter_stem(s, n, buf, cap);
    if (len < 0) return -1;
    for (int i = 0; i < len; i++)
        if (!((buf[i] >= 'a' && buf[i] <= 'z') || (buf[i] >= '0' && buf[i] <= '9'))) return 0;
    return len;
}

static int emit(Rouge *r, Sink *k, const char *s, size_t n, Error *e) {
    char small[256], *buf = small;
    size_t cap = 3 * n + 8;
    int rc = RP_OK;
    if (k->text) {
        if (cap > sizeof small && !(buf = xmalloc(cap, e))) return e->code;
        int len = token_form(r, s, n, buf, cap);
        if (len < 0) rc = error_set(e, RP_ENOMEM, "rouge: out of memory stemming a token");
        else if (len > 0 && k->text->len) rc = strbuf_append(k->text, " ", 1, e);
        if (rc == RP_OK && len > 0) rc = strbuf_append(k->text, buf, (size_t)len, e);
        if (buf != small) free(buf);
        return rc;
    }
    int64_t id;
    if (!vocab_get(&r->raw, s, n, &id)) {
        if (!r->stem) {
            int64_t *slot = vocab_slot(&r->raw, s, n, r->n_ids, e);
            if (!slot || new_id(r, slot, e)) return e->code;
            id = *slot;
        } else {
            if (cap > sizeof small && !(buf = xmalloc(cap, e))) return e->code;
            int len = token_form(r, s, n, buf, cap);
            id = DROP;
            if (len < 0) rc = error_set(e, RP_ENOMEM, "rouge: out of memory stemming a token");
            if (rc == RP_OK && len > 0) {
                int64_t *slot = vocab_slot(&r->forms, buf, (size_t)len, r->n_ids, e);
                if (!slot || new_id(r, slot, e)) rc = e->code;
                else id = *slot;
            }
            if (buf != small) free(buf);
            if (rc == RP_OK) {
                int64_t *slot = vocab_slot(&r->raw, s, n, id, e);
                if (!slot) rc = e->code;
            }
            if (rc) return rc;
        }
    }
    if (id == DROP) return RP_OK;
    if (vec_reserve(k->ids, k->cap, k->n + 1, sizeof **k->ids, e)) return e->code;
    (*k->ids)[k->n++] = (uint32_t)id;
    return RP_OK;
}

static int is_token_char(uint32_t c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* rouge_score: text.lower(), every run of [^a-z0-9] -> " ", split. Non-ASCII characters are
 * separators unless Python's lowercase of them contains ASCII letters (U+0130 -> "i" + U+0307,
 * KELVIN SIGN -> "k"). Final_Sigma only chooses between two non-ASCII letters, so the
 * context-free mapping suffices here. */
static int tokenize(Rouge *r, const char *t, size_t n, Sink *k, Error *e) {
    size_t len = 0;
    if (vec_reserve(&r->tok, &r->cap_tok, n + 1, 1, e)) return e->code;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)t[i];
        if (c < 0x80) {
            i++;
            if (c >= 'A' && c <= 'Z') c += 32;
            if (is_token_char(c)) {
                r->tok[len++] = (char)c;
                continue;
            }
        } else {
            uint32_t cp, low[2];
            i += utf8_decode(t + i, n - i, &cp);
            int m = unicase_lower_cp(cp, low), j = 0;
            for (; j < m && is_token_char(low[j]); j++) r->tok[len++] = (char)low[j];
            if (j == m) continue;
            if (len && emit(r, k, r->tok, len, e)) return e->code;
            len = 0;
            for (j++; j < m && is_token_char(low[j]); j++) r->tok[len++] = (char)low[j];
            continue;
        }
        if (len && emit(r, k, r->tok, len, e)) return e->code;
        len = 0;
    }
    if (len && emit(r, k, r->tok, len, e)) return e->code;
    return RP_OK;
}

int rouge_tokens(Rouge *r, const char *t, size_t n, StrBuf *out, Error *e) {
    Sink k = {NULL, NULL, 0, out};
    return tokenize(r, t, n, &k, e);
}

static inline uint32_t hash_id(uint32_t k, uint32_t mask) {
    return (uint32_t)(((uint64_t)k * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

static inline uint32_t hash_pair(uint64_t k, uint32_t mask) {
    k ^= k >> 29;
    return (uint32_t)((k * 0xBF58476D1CE4E5B9ull) >> 32) & mask;
}

/* Slot of id in the reference's unigram table, or -1. */
static inline int64_t find_uni(const RougeRef *f, uint32_t id) {
    uint32_t i = hash_id(id, f->uni_mask);
    while (f->uni_key[i] != EMPTY32) {
        if (f->uni_key[i] == id) return i;
        i = (i + 1) & f->uni_mask;
    }
    return -1;
}

static inline int64_t find_bi(const RougeRef *f, uint64_t key) {
    uint32_t i = hash_pair(key, f->bi_mask);
    while (f->bi_key[i] != EMPTY64) {
        if (f->bi_key[i] == key) return i;
        i = (i + 1) & f->bi_mask;
    }
    return -1;
}

static uint32_t table_size(size_t n) {
    uint32_t s = 8;
    while (s < 2 * n) s *= 2;
    return s;
}

/* Builds the n-gram tables and LCS masks over ref->ids[0..ref->n). */
static int ref_index(RougeRef *f, Error *e) {
    size_t n = f->n;
    uint32_t us = table_size(n), bs = table_size(n);
    if (us > f->cap_uni) { /* the three unigram arrays share cap_uni */
        if (resize(&f->uni_key, us * sizeof *f->uni_key, e)) return e->code;
        if (resize(&f->uni_cnt, us * sizeof *f->uni_cnt, e)) return e->code;
        if (resize(&f->uni_row, us * sizeof *f->uni_row, e)) return e->code;
        f->cap_uni = us;
    }
    if (bs > f->cap_bi) {
        if (resize(&f->bi_key, bs * sizeof *f->bi_key, e)) return e->code;
        if (resize(&f->bi_cnt, bs * sizeof *f->bi_cnt, e)) return e->code;
        f->cap_bi = bs;
    }
    f->uni_mask = us - 1;
    f->bi_mask = bs - 1;
    memset(f->uni_key, 0xFF, us * sizeof *f->uni_key);
    memset(f->bi_key, 0xFF, bs * sizeof *f->bi_key);
    uint32_t rows = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t h = hash_id(f->ids[i], f->uni_mask);
        while (f->uni_key[h] != EMPTY32 && f->uni_key[h] != f->ids[i]) h = (h + 1) & f->uni_mask;
        if (f->uni_key[h] == EMPTY32) {
            f->uni_key[h] = f->ids[i];
            f->uni_cnt[h] = 0;
            f->uni_row[h] = rows++;
        }
        f->uni_cnt[h]++;
    }
    for (size_t i = 1; i < n; i++) {
        uint64_t key = ((uint64_t)f->ids[i - 1] << 32) | f->ids[i];
        uint32_t h = hash_pair(key, f->bi_mask);
        while (f->bi_key[h] != EMPTY64 && f->bi_key[h] != key) h = (h + 1) & f->bi_mask;
        if (f->bi_key[h] == EMPTY64) {
            f->bi_key[h] = key;
            f->bi_cnt[h] = 0;
        }
        f->bi_cnt[h]++;
    }
    f->words = (n + 63) / 64;
    size_t need = (size_t)rows * f->words;
    if (need * sizeof(uint64_t) > MASK_LIMIT) {
        f->words = 0; /* too many distinct tokens x length: rouge_score_ref uses the DP */
        return RP_OK;
    }
    if (vec_reserve(&f->masks, &f->cap_masks, need ? need : 1, sizeof *f->masks, e)) return e->code;
    memset(f->masks, 0, need * sizeof *f->masks);
    for (size_t i = 0; i < n; i++) {
        uint64_t row = f->uni_row[find_uni(f, f->ids[i])];
        f->masks[row * f->words + i / 64] |= 1ull << (i % 64);
    }
    return RP_OK;
}

int rouge_ref_init(Rouge *r, RougeRef *ref, const char *t, size_t n, Error *e) {
    memset(ref, 0, sizeof *ref);
    Sink k = {&ref->ids, &ref->cap_ids, 0, NULL};
    int rc = tokenize(r, t, n, &k, e);
    ref->n = k.n;
    if (rc == RP_OK) rc = ref_index(ref, e);
    if (rc) rouge_ref_free(ref);
    return rc;
}

void rouge_ref_free(RougeRef *ref) {
    free(ref->ids);
    free(ref->uni_key);
    free(ref->uni_cnt);
    free(ref->uni_row);
    free(ref->bi_key);
    free(ref->bi_cnt);
    free(ref->masks);
    memset(ref, 0, sizeof *ref);
}

/* rouge_score's precision/recall/F with its exact float operations (counts floored at 1). */
static RougeScore prf(size_t overlap, size_t pred_count, size_t ref_count) {
    RougeScore s;
    s.p = (double)overlap / (double)(pred_count ? pred_count : 1);
    s.r = (double)overlap / (double)(ref_count ? ref_count : 1);
    s.f = s.p + s.r > 0 ? 2 * s.p * s.r / (s.p + s.r) : 0.0;
    return s;
}

/* LCS by the O(n*m) recurrence with one row, for references too big for match masks. */
static size_t lcs_dp(const RougeRef *f, const uint32_t *c, size_t m, uint32_t *row) {
    memset(row, 0, (f->n + 1) * sizeof *row);
    for (size_t j = 0; j < m; j++) {
        uint32_t diag = 0;
        for (size_t i = 1; i <= f->n; i++) {
            uint32_t up = row[i];
            row[i] = f->ids[i - 1] == c[j] ? diag + 1 : (up > row[i - 1] ? up : row[i - 1]);
            diag = up;
        }
    }
    return row[f->n];
}

int rouge_score_ref(Rouge *r, const RougeRef *f, const char *pred, size_t n, RougeScores *out,
                    Error *e) {
    Sink k = {&r->cand, &r->cap_cand, 0, NULL};
    if (tokenize(r, pred, n, &k, e)) return e->code;
    const uint32_t *c = r->cand;
    size_t m = k.n, us = (size_t)f->uni_mask + 1, bs = (size_t)f->bi_mask + 1;
    size_t row_bytes = f->words ? f->words * sizeof(uint64_t) : (f->n + 1) * sizeof(uint32_t);
    if (vec_reserve(&r->rem, &r->cap_rem, us + bs, sizeof *r->rem, e)) return e->code;
    if (vec_reserve(&r->row, &r->cap_row, row_bytes, 1, e)) return e->code;
    int32_t *rem1 = r->rem, *rem2 = r->rem + us;
    memcpy(rem1, f->uni_cnt, us * sizeof *rem1); /* empty slots are never read */
    memcpy(rem2, f->bi_cnt, bs * sizeof *rem2);

    /* One pass: clipped unigram matches and the bit-parallel LCS (Hyyro's row update
     * V' = (V + (V & M)) | (V & ~M); the LCS is the number of zero bits among the first n). */
    uint64_t *v = r->row;
    size_t w = f->words, ov1 = 0, ov2 = 0, lcs = 0;
    if (w) memset(v, 0xFF, w * sizeof *v);
    for (size_t j = 0; j < m; j++) {
        int64_t s = find_uni(f, c[j]);
        if (s < 0) continue;
        if (rem1[s] > 0) ov1++, rem1[s]--;
        if (!w) continue;
        const uint64_t *mask = f->masks + (size_t)f->uni_row[s] * w;
        uint64_t carry = 0;
        for (size_t i = 0; i < w; i++) {
            uint64_t x = v[i], u = x & mask[i], sum = x + u, c1 = sum < x;
            sum += carry;
            carry = c1 | (sum < carry);
            v[i] = sum | (x & ~u);
        }
    }
    for (size_t j = 1; j < m; j++) {
        int64_t s = find_bi(f, ((uint64_t)c[j - 1] << 32) | c[j]);
        if (s >= 0 && rem2[s] > 0) ov2++, rem2[s]--;
    }
    if (f->n && m) {
        if (w) {
            size_t ones = 0;
            for (size_t i = 0; i < w; i++) {
                uint64_t x = v[i];
                if (i == w - 1 && f->n % 64) x &= (1ull << (f->n % 64)) - 1;
                ones += (size_t)__builtin_popcountll(x);
            }
            lcs = f->n - ones;
        } else {
            lcs = lcs_dp(f, c, m, r->row);
        }
    }
    out->rouge1 = prf(ov1, m, f->n);
    out->rouge2 = prf(ov2, m ? m - 1 : 0, f->n ? f->n - 1 : 0);
    if (f->n && m) out->rougeL = prf(lcs, m, f->n);
    else out->rougeL = (RougeScore){0, 0, 0};
    return RP_OK;
}

int rouge_score(Rouge *r, const char *pred, size_t pred_n, const char *ref, size_t ref_n,
                RougeScores *out, Error *e) {
    RougeRef *f = &r->tmp;
    Sink k = {&f->ids, &f->cap_ids, 0, NULL};
    if (tokenize(r, ref, ref_n, &k, e)) return e->code;
    f->n = k.n;
    if (ref_index(f, e)) return e->code;
    return rouge_score_ref(r, f, pred, pred_n, out, e);
}

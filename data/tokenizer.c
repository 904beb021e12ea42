/* Byte-level BPE encoding and decoding (see tokenizer.h): GPT-2 pre-tokenization with PCRE2, a
 * rank-ordered merge loop per pre-token (linear scan for short words, a heap for long ones so a
 * long run stays O(n log n)), and a memo of pre-token -> ids shared by encode calls. SentencePiece
 * vocabularies are handed to tokenizer_spm.c, tokenizer.json ones to tokenizer_hf_encode.c (which
 * uses the merge loop and the memo too). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "data/tokenizer_hf.h"
#include "data/tokenizer_spm.h"

const char *const TOKENIZER_SPECIAL_TEXT[TOK_N_SPECIAL] = {"<|endoftext|>", "<|reasoning|>", "<|answer|>"};

/* Words longer than this use the heap merge; shorter ones the scan (faster on few symbols). */
#define BPE_SCAN_MAX 48
/* Memo bounds: when either is passed the memo starts over. */
#define CACHE_MAX_ENTRIES (1u << 20)
#define CACHE_MAX_KEY_BYTES ((size_t)32 << 20)

void tokvec_init(TokenVec *t) {
    t->v = NULL;
    t->n = t->cap = 0;
}

void tokvec_free(TokenVec *t) {
    free(t->v);
    tokvec_init(t);
}

static int tokvec_reserve(TokenVec *t, int64_t extra, Error *e) {
    if (t->n + extra <= t->cap) return RP_OK;
    int64_t cap = t->cap ? t->cap : 256;
    while (cap < t->n + extra) cap *= 2;
    int32_t *v = xrealloc(t->v, sizeof(int32_t) * (size_t)cap, e);
    if (!v) return RP_ENOMEM;
    t->v = v;
    t->cap = cap;
    return RP_OK;
}

int tokvec_push(TokenVec *t, int32_t id, Error *e) {
    if (t->n == t->cap && tokvec_reserve(t, 1, e)) return RP_ENOMEM;
    t->v[t->n++] = id;
    return RP_OK;
}

/* ---- pre-tokenization ---- */

/* Through tokenizer.json's pattern compiler, which reads \s as GPT-2's (and tokenizers') Unicode
 * White_Space: PCRE2's own \s also takes U+180E, which would split " \u180ea" differently. */
int pretok_compile(pcre2_code **re, Error *e) {
    return hf_compile(TOKENIZER_PATTERN, strlen(TOKENIZER_PATTERN), 0, re, "tokenizer", "GPT-2's pattern", e);
}

int pretok_walk(const pcre2_code *re, pcre2_match_data *md, const char *text, size_t n, PretokenFn fn, void *ctx,
                Error *e) {
    size_t pos = 0;
    while (pos < n) {
        int rc = pcre2_match(re, (PCRE2_SPTR)text, n, pos, 0, md, NULL);
        size_t ms = n, me = n;
        if (rc >= 0) {
            PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
            ms = ov[0];
            me = ov[1];
        } else if (rc != PCRE2_ERROR_NOMATCH) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(rc, msg, sizeof msg);
            return error_set(e, RP_EINTERNAL, "tokenizer: pre-tokenizer failed at byte %zu: %s", pos, (char *)msg);
        }
        /* Every valid character matches some alternative, so a skipped span is invalid UTF-8. */
        if (ms > pos && (rc = fn(text + pos, ms - pos, ctx))) return rc;
        if (me > ms && (rc = fn(text + ms, me - ms, ctx))) return rc;
        if (me == pos) return error_set(e, RP_EINTERNAL, "tokenizer: pre-tokenizer made no progress at byte %zu", pos);
        pos = me;
    }
    return RP_OK;
}

/* ---- merging ---- */

static inline uint64_t pair_key(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static inline size_t pair_slot(uint64_t k, size_t cap) {
    k ^= k >> 29;
    k *= 0xbf58476d1ce4e5b9ULL;
    k ^= k >> 32;
    return (size_t)k & (cap - 1);
}

/* Rank of merging (a, b), or INT32_MAX if the pair never merges. */
static inline int32_t pair_rank(const PairMap *m, int32_t a, int32_t b) {
    uint64_t k = pair_key(a, b);
    for (size_t i = pair_slot(k, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == k) return m->rank[i];
        if (m->keys[i] == UINT64_MAX) return INT32_MAX;
    }
}

int pairmap_build(PairMap *m, const Merge *merges, int32_t n, Error *e) {
    m->cap = 16;
    while (m->cap < (size_t)n * 2 + 2) m->cap *= 2;
    m->keys = xmalloc(m->cap * sizeof(uint64_t), e);
    m->rank = xmalloc(m->cap * sizeof(int32_t), e);
    if (!m->keys || !m->rank) return RP_ENOMEM;
    memset(m->keys, 0xff, m->cap * sizeof(uint64_t));
    for (int32_t r = 0; r < n; r++) {
        uint64_t k = pair_key(merges[r].left, merges[r].right);
        size_t i = pair_slot(k, m->cap);
        while (m->keys[i] != UINT64_MAX && m->keys[i] != k) i = (i + 1) & (m->cap - 1);
        if (m->keys[i] == k) return error_set(e, RP_EINPUT, "merge %d repeats the pair of merge %d", r, m->rank[i]);
        m->keys[i] = k;
        m->rank[i] = r;
    }
    return RP_OK;
}

int bpe_scratch_reserve(BpeScratch *s, size_t n, Error *e) {
    if (n <= s->cap) return RP_OK;
    size_t cap = s->cap ? s->cap : 64;
    while (cap < n) cap *= 2;
    free(s->sym), free(s->aux), free(s->prev), free(s->next), free(s->heap);
    s->sym = xmalloc(cap * sizeof(int32_t), e);
    s->aux = xmalloc(cap * sizeof(int32_t), e);
    s->prev = xmalloc(cap * sizeof(int32_t), e);
    s->next = xmalloc(cap * sizeof(int32_t), e);
    s->heap = xmalloc(cap * 3 * sizeof(uint64_t), e); /* n initial pairs + 2 pushes per merge */
    s->cap = cap;
    if (!s->sym || !s->aux || !s->prev || !s->next || !s->heap) {
        s->cap = 0;
        return RP_ENOMEM;
    }
    return RP_OK;
}

void bpe_scratch_free(BpeScratch *s) {
    free(s->sym), free(s->aux), free(s->prev), free(s->next), free(s->heap);
    memset(s, 0, sizeof *s);
}

/* Short words: keep each adjacent pair's rank and merge the lowest (leftmost on ties) until none
 * merges. Returns the new length of sym. */
static int64_t bpe_scan(const Tokenizer *t, int32_t *sym, int32_t *rank, int64_t n) {
    for (int64_t i = 0; i + 1 < n; i++) rank[i] = pair_rank(&t->pairs, sym[i], sym[i + 1]);
    while (n > 1) {
        int64_t best = 0;
        for (int64_t i = 1; i + 1 < n; i++)
            if (rank[i] < rank[best]) best = i;
        if (rank[best] == INT32_MAX) break;
        sym[best] = t->merges[rank[best]].result;
        memmove(sym + best + 1, sym + best + 2, sizeof(int32_t) * (size_t)(n - best - 2));
        memmove(rank + best, rank + best + 1, sizeof(int32_t) * (size_t)(n - best - 2));
        n--;
        if (best > 0) rank[best - 1] = pair_rank(&t->pairs, sym[best - 1], sym[best]);
        if (best + 1 < n) rank[best] = pair_rank(&t->pairs, sym[best], sym[best + 1]);
    }
    return n;
}

static void heap_push(uint64_t *h, int64_t *n, uint64_t v) {
    int64_t i = (*n)++;
    while (i > 0 && h[(i - 1) / 2] > v) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = v;
}

static uint64_t heap_pop(uint64_t *h, int64_t *n) {
    uint64_t top = h[0], v = h[--(*n)];
    int64_t i = 0;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= *n) break;
        if (c + 1 < *n && h[c + 1] < h[c]) c++;
        if (h[c] >= v) break;
        h[i] = h[c];
        i = c;
    }
    if (*n > 0) h[i] = v;
    return top;
}

/* Long words: a min-heap of (rank, position) over a linked list of symbols. Stale entries (a
 * side already merged away) are skipped when popped. Taking the lowest rank, leftmost first,
 * merges exactly what GPT-2's "merge every occurrence of the best pair" loop merges, because a
 * merge's result only takes part in later-ranked merges (checked when an RPTK vocabulary loads);
 * for any merge list it is what tokenizers' BPE does (tokenizer.json vocabularies). */
static int64_t bpe_heap(const Tokenizer *t, BpeScratch *s, int64_t n) {
    int32_t *sym = s->sym, *prev = s->prev, *next = s->next;
    int64_t hn = 0;
    for (int64_t i = 0; i < n; i++) {
        prev[i] = (int32_t)i - 1;
        next[i] = i + 1 < n ? (int32_t)i + 1 : -1;
        int32_t r = i + 1 < n ? pair_rank(&t->pairs, sym[i], sym[i + 1]) : INT32_MAX;
        if (r != INT32_MAX) heap_push(s->heap, &hn, ((uint64_t)r << 32) | (uint64_t)i);
    }
    while (hn > 0) {
        uint64_t top = heap_pop(s->heap, &hn);
        int32_t r = (int32_t)(top >> 32), p = (int32_t)(top & 0xffffffffu);
        const Merge *m = &t->merges[r];
        int32_t q = next[p];
        if (sym[p] != m->left || q < 0 || sym[q] != m->right) continue;
        sym[p] = m->result;
        sym[q] = -1; /* dead: no merge has a negative side, so its stale entries never match */
        next[p] = next[q];
        if (next[q] >= 0) prev[next[q]] = p;
        if (prev[p] >= 0 && (r = pair_rank(&t->pairs, sym[prev[p]], sym[p])) != INT32_MAX)
            heap_push(s->heap, &hn, ((uint64_t)r << 32) | (uint64_t)prev[p]);
        if (next[p] >= 0 && (r = pair_rank(&t->pairs, sym[p], sym[next[p]])) != INT32_MAX)
            heap_push(s->heap, &hn, ((uint64_t)r << 32) | (uint64_t)p);
    }
    int64_t k = 0;
    for (int32_t i = 0; i >= 0; i = next[i]) sym[k++] = sym[i];
    return k;
}

int64_t bpe_merge(const Tokenizer *t, BpeScratch *s, int64_t n) {
    return n <= BPE_SCAN_MAX ? bpe_scan(t, s->sym, s->aux, n) : bpe_heap(t, s, n);
}

/* ---- the memo ---- */

static void cache_clear(EncodeCache *c) {
    memset(c->slot, 0, c->cap * sizeof(uint32_t));
    c->count = c->keys_len = c->ids_n = 0;
}

const int32_t *encode_cache_get(const EncodeCache *c, const char *s, size_t n, uint64_t h, int64_t *len) {
    for (size_t i = h & (c->cap - 1); c->slot[i]; i = (i + 1) & (c->cap - 1)) {
        uint32_t k = c->slot[i] - 1;
        if (c->hash[k] == h && c->key_len[k] == n && !memcmp(c->keys + c->key_off[k], s, n)) {
            *len = c->ids_len[k];
            return c->ids + c->ids_off[k];
        }
    }
    return NULL;
}

static int grow_array(void **p, size_t *cap, size_t need, size_t elem, Error *e) {
    if (need <= *cap) return RP_OK;
    size_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    void *q = xrealloc(*p, c * elem, e);
    if (!q) return RP_ENOMEM;
    *p = q;
    *cap = c;
    return RP_OK;
}

int encode_cache_put(EncodeCache *c, const char *s, size_t n, uint64_t h, const int32_t *ids, int64_t len, Error *e) {
    if (c->count >= CACHE_MAX_ENTRIES || c->keys_len + n > CACHE_MAX_KEY_BYTES) cache_clear(c);
    if ((c->count + 1) * 2 > c->cap) {
        size_t cap = c->cap * 2;
        uint32_t *slot = xcalloc(cap, sizeof(uint32_t), e);
        if (!slot) return RP_ENOMEM;
        for (uint32_t k = 0; k < c->count; k++) {
            size_t i = c->hash[k] & (cap - 1);
            while (slot[i]) i = (i + 1) & (cap - 1);
            slot[i] = k + 1;
        }
        free(c->slot);
        c->slot = slot;
        c->cap = cap;
    }
    if (c->count == c->ent_cap) {
        size_t cap = c->ent_cap ? 2 * c->ent_cap : 1024;
        uint64_t *hash = xrealloc(c->hash, cap * sizeof(uint64_t), e);
        if (!hash) return RP_ENOMEM;
        c->hash = hash;
        uint32_t **cols[4] = {&c->key_off, &c->key_len, &c->ids_off, &c->ids_len};
        for (int j = 0; j < 4; j++) {
            uint32_t *col = xrealloc(*cols[j], cap * sizeof(uint32_t), e);
            if (!col) return RP_ENOMEM;
            *cols[j] = col;
        }
        c->ent_cap = cap;
    }
    if (grow_array((void **)&c->keys, &c->keys_cap, c->keys_len + n, 1, e) ||
        grow_array((void **)&c->ids, &c->ids_cap, c->ids_n + (size_t)len, sizeof(int32_t), e))
        return RP_ENOMEM;
    uint32_t k = (uint32_t)c->count++;
    c->hash[k] = h;
    c->key_off[k] = (uint32_t)c->keys_len;
    c->key_len[k] = (uint32_t)n;
    c->ids_off[k] = (uint32_t)c->ids_n;
    c->ids_len[k] = (uint32_t)len;
    memcpy(c->keys + c->keys_len, s, n);
    c->keys_len += n;
    memcpy(c->ids + c->ids_n, ids, sizeof(int32_t) * (size_t)len);
    c->ids_n += (size_t)len;
    size_t i = h & (c->cap - 1);
    while (c->slot[i]) i = (i + 1) & (c->cap - 1);
    c->slot[i] = k + 1;
    return RP_OK;
}

int encode_cache_create(EncodeCache **out, Error *e) {
    EncodeCache *c = xcalloc(1, sizeof *c, e);
    if (!c) return RP_ENOMEM;
    c->cap = 1 << 12;
    c->slot = xcalloc(c->cap, sizeof(uint32_t), e);
    if (!c->slot || pthread_mutex_init(&c->lock, NULL)) {
        free(c->slot);
        free(c);
        return e->code ? e->code : error_set(e, RP_EINTERNAL, "tokenizer: cannot create the encode cache lock");
    }
    *out = c;
    return RP_OK;
}

void encode_cache_free(EncodeCache *c) {
    if (!c) return;
    pthread_mutex_destroy(&c->lock);
    free(c->slot), free(c->hash), free(c->key_off), free(c->key_len), free(c->ids_off), free(c->ids_len);
    free(c->keys), free(c->ids);
    free(c);
}

/* ---- encode / decode ---- */

typedef struct {
    const Tokenizer *t;
    TokenVec *out;
    EncodeCache *cache; /* NULL when another thread holds it */
    BpeScratch scratch;
    Error *e;
} EncodeCtx;

static int encode_piece(const char *s, size_t n, void *arg) {
    EncodeCtx *c = arg;
    const Tokenizer *t = c->t;
    Error *e = c->e;
    if (n == 1) return tokvec_push(c->out, t->byte_id[(unsigned char)s[0]], e);
    uint64_t h = 0;
    if (c->cache && n <= TOKENIZER_CACHE_KEY_MAX) {
        int64_t len;
        h = hash_bytes(s, n);
        const int32_t *ids = encode_cache_get(c->cache, s, n, h, &len);
        if (ids) {
            if (tokvec_reserve(c->out, len, e)) return RP_ENOMEM;
            memcpy(c->out->v + c->out->n, ids, sizeof(int32_t) * (size_t)len);
            c->out->n += len;
            return RP_OK;
        }
    }
    if (bpe_scratch_reserve(&c->scratch, n, e)) return RP_ENOMEM;
    int32_t *sym = c->scratch.sym;
    for (size_t i = 0; i < n; i++) sym[i] = t->byte_id[(unsigned char)s[i]];
    int64_t len = bpe_merge(t, &c->scratch, (int64_t)n);
    if (tokvec_reserve(c->out, len, e)) return RP_ENOMEM;
    memcpy(c->out->v + c->out->n, sym, sizeof(int32_t) * (size_t)len);
    c->out->n += len;
    if (c->cache && n <= TOKENIZER_CACHE_KEY_MAX) return encode_cache_put(c->cache, s, n, h, sym, len, e);
    return RP_OK;
}

int tokenizer_encode(const Tokenizer *t, const char *text, size_t n, TokenVec *out, Error *e) {
    if (t->spm) return spm_encode(t->spm, text, n, out, e);
    if (t->hf) return hf_encode(t, text, n, out, e);
    if (n == 0) return RP_OK;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(t->re, NULL);
    if (!md) return error_set(e, RP_ENOMEM, "tokenizer: out of memory for match data");
    EncodeCtx c = {t, out, NULL, {0}, e};
    int locked = pthread_mutex_trylock(&t->cache->lock) == 0;
    if (locked) c.cache = t->cache;
    int rc = pretok_walk(t->re, md, text, n, encode_piece, &c, e);
    if (locked) pthread_mutex_unlock(&t->cache->lock);
    bpe_scratch_free(&c.scratch);
    pcre2_match_data_free(md);
    return rc;
}

int tokenizer_decode(const Tokenizer *t, const int32_t *ids, int64_t n, StrBuf *out, Error *e) {
    if (t->spm) return spm_decode(t->spm, ids, n, out, e);
    if (t->hf) return hf_decode(t, ids, n, out, e);
    for (int64_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n_tokens)
            return error_set(e, RP_EINPUT, "token %lld: id %d is outside the vocabulary (0..%d)", (long long)i, id,
                             t->n_tokens - 1);
        if (strbuf_append(out, t->tok_bytes + t->tok_off[id], t->tok_off[id + 1] - t->tok_off[id], e))
            return RP_ENOMEM;
    }
    if (!out->s) return strbuf_append(out, "", 0, e); /* callers may rely on a NUL-terminated buffer */
    return RP_OK;
}

int tokenizer_vocab_size(const Tokenizer *t) { return t->n_tokens; }

int32_t tokenizer_special(const Tokenizer *t, SpecialToken s) { return t->special[s]; }

int32_t tokenizer_bos(const Tokenizer *t) {
    if (t->hf) return t->hf->bos;
    return t->spm && t->spm->opt.add_bos ? t->spm->opt.bos : -1;
}

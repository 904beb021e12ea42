/* Byte-level BPE training (tokenizer_train in tokenizer.h).
 *
 * The texts are pre-tokenized once into a word -> count map; each word becomes a symbol array.
 * A pair table holds every adjacent pair's total count and the words it occurs in, and a lazy
 * max-heap orders pairs by (count desc, left id, right id). A merge rewrites only the words that
 * hold the pair and adjusts the counts of the neighbouring pairs, so training costs about the
 * size of the corpus plus the words each merge touches, not merges x corpus. */
#include <stdlib.h>
#include <string.h>

#include "data/tokenizer_internal.h"

typedef struct {
    int64_t count;
    int32_t a, b;
    int32_t *words;   /* words that held the pair when it was counted (may repeat, may be stale) */
    int32_t n_words, cap_words;
    int32_t touched;  /* last merge step whose heap refresh includes this pair */
} Pair;

typedef struct {
    /* words */
    int32_t *sym;     /* all words' symbols */
    int64_t *off;     /* word w's symbols start at sym[off[w]] */
    int32_t *len, *seen;
    int64_t *wcount;
    int32_t n_words;
    /* pairs */
    Pair *pairs;
    int32_t n_pairs, cap_pairs;
    uint64_t *pkeys;  /* open addressing: (a, b) packed; UINT64_MAX = empty */
    int32_t *pidx;
    size_t pcap;
    /* heap of (count, pair key) */
    struct HeapEnt {
        int64_t count;
        uint64_t key;
    } *heap;
    int64_t hn, hcap;
    int32_t *touched; /* pairs whose count rose during the current merge */
    int32_t n_touched, cap_touched;
    Error *e;
} BpeTrainer;

static inline uint64_t pkey(int32_t a, int32_t b) { return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b; }

static inline size_t pslot(uint64_t k, size_t cap) {
    k ^= k >> 31;
    k *= 0x9e3779b97f4a7c15ULL;
    k ^= k >> 29;
    return (size_t)k & (cap - 1);
}

static int grow(void **p, int64_t *cap, int64_t need, size_t elem, Error *e) {
    if (need <= *cap) return RP_OK;
    int64_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = xrealloc(*p, (size_t)c * elem, e);
    if (!q) return RP_ENOMEM;
    *p = q;
    *cap = c;
    return RP_OK;
}

static int grow32(void **p, int32_t *cap, int64_t need, size_t elem, Error *e) {
    int64_t c = *cap;
    int rc = grow(p, &c, need, elem, e);
    *cap = (int32_t)c;
    return rc;
}

/* Index of pair (a, b), created with count 0 if absent; -1 on OOM. */
static int32_t pair_get(BpeTrainer *T, int32_t a, int32_t b) {
    uint64_t k = pkey(a, b);
    size_t i = pslot(k, T->pcap);
    while (T->pkeys[i] != UINT64_MAX) {
        if (T->pkeys[i] == k) return T->pidx[i];
        i = (i + 1) & (T->pcap - 1);
    }
    if ((size_t)(T->n_pairs + 1) * 2 > T->pcap) {
        size_t cap = T->pcap * 2;
        uint64_t *keys = xmalloc(cap * sizeof(uint64_t), T->e);
        int32_t *idx = xmalloc(cap * sizeof(int32_t), T->e);
        if (!keys || !idx) {
            free(keys), free(idx);
            return -1;
        }
        memset(keys, 0xff, cap * sizeof(uint64_t));
        for (size_t j = 0; j < T->pcap; j++) {
            if (T->pkeys[j] == UINT64_MAX) continue;
            size_t s = pslot(T->pkeys[j], cap);
            while (keys[s] != UINT64_MAX) s = (s + 1) & (cap - 1);
            keys[s] = T->pkeys[j];
            idx[s] = T->pidx[j];
        }
        free(T->pkeys), free(T->pidx);
        T->pkeys = keys, T->pidx = idx, T->pcap = cap;
        i = pslot(k, cap);
        while (keys[i] != UINT64_MAX) i = (i + 1) & (cap - 1);
    }
    if (grow32((void **)&T->pairs, &T->cap_pairs, T->n_pairs + 1, sizeof(Pair), T->e)) return -1;
    int32_t p = T->n_pairs++;
    T->pairs[p] = (Pair){0, a, b, NULL, 0, 0, -1};
    T->pkeys[i] = k;
    T->pidx[i] = p;
    return p;
}

/* Max-heap order: higher count first, then the smaller (a, b), so training is deterministic. */
static inline int heap_above(const struct HeapEnt *x, const struct HeapEnt *y) {
    return x->count > y->count || (x->count == y->count && x->key < y->key);
}

static int heap_push(BpeTrainer *T, int64_t count, uint64_t key) {
    if (grow((void **)&T->heap, &T->hcap, T->hn + 1, sizeof *T->heap, T->e)) return RP_ENOMEM;
    struct HeapEnt v = {count, key};
    int64_t i = T->hn++;
    while (i > 0 && heap_above(&v, &T->heap[(i - 1) / 2])) {
        T->heap[i] = T->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    T->heap[i] = v;
    return RP_OK;
}

static struct HeapEnt heap_pop(BpeTrainer *T) {
    struct HeapEnt top = T->heap[0], v = T->heap[--T->hn];
    int64_t i = 0;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= T->hn) break;
        if (c + 1 < T->hn && heap_above(&T->heap[c + 1], &T->heap[c])) c++;
        if (!heap_above(&T->heap[c], &v)) break;
        T->heap[i] = T->heap[c];
        i = c;
    }
    if (T->hn > 0) T->heap[i] = v;
    return top;
}

/* Adds delta occurrences of (a, b); a rise records word w and marks the pair for a heap refresh. */
static int pair_add(BpeTrainer *T, int32_t a, int32_t b, int64_t delta, int32_t w, int32_t step) {
    int32_t p = pair_get(T, a, b);
    if (p < 0) return RP_ENOMEM;
    Pair *q = &T->pairs[p];
    q->count += delta;
    if (delta <= 0) return RP_OK;
    if (q->n_words == 0 || q->words[q->n_words - 1] != w) {
        if (grow32((void **)&q->words, &q->cap_words, q->n_words + 1, sizeof(int32_t), T->e)) return RP_ENOMEM;
        q->words[q->n_words++] = w;
    }
    if (q->touched != step) {
        q->touched = step;
        if (grow32((void **)&T->touched, &T->cap_touched, T->n_touched + 1, sizeof(int32_t), T->e)) return RP_ENOMEM;
        T->touched[T->n_touched++] = p;
    }
    return RP_OK;
}

/* Replaces every (a, b) in word w by x, moving the counts of the pairs around each occurrence. */
static int word_merge(BpeTrainer *T, int32_t w, int32_t a, int32_t b, int32_t x, int32_t step) {
    int32_t *s = T->sym + T->off[w];
    int32_t n = T->len[w], j = 0;
    int64_t c = T->wcount[w];
    int rc = RP_OK;
    for (int32_t i = 0; i < n && !rc;) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            /* s[j-1] is already rewritten, so after "a b a b" the left pair is (x, a) as counted. */
            if (j > 0 && !(rc = pair_add(T, s[j - 1], a, -c, w, step))) rc = pair_add(T, s[j - 1], x, c, w, step);
            if (!rc && i + 2 < n && !(rc = pair_add(T, b, s[i + 2], -c, w, step)))
                rc = pair_add(T, x, s[i + 2], c, w, step);
            s[j++] = x;
            i += 2;
        } else s[j++] = s[i++];
    }
    T->len[w] = j;
    return rc;
}

typedef struct {
    StrMap *counts;
    Error *e;
} CountCtx;

static int count_word(const char *s, size_t n, void *arg) {
    CountCtx *c = arg;
    if (n < 2) return RP_OK; /* a single byte never takes part in a pair */
    int64_t *v = strmap_slot(c->counts, s, n, 0, c->e);
    if (!v) return RP_ENOMEM;
    ++*v;
    return RP_OK;
}

static int count_words(char *const *texts, int64_t n, StrMap *counts, Error *e) {
    pcre2_code *re;
    int rc = pretok_compile(&re, e);
    if (rc) return rc;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!md) rc = error_set(e, RP_ENOMEM, "tokenizer: out of memory for match data");
    CountCtx c = {counts, e};
    for (int64_t i = 0; i < n && !rc; i++)
        if (texts[i]) rc = pretok_walk(re, md, texts[i], strlen(texts[i]), count_word, &c, e);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return rc;
}

static int bpe_trainer_load_words(BpeTrainer *T, const StrMap *counts) {
    int64_t total = 0;
    for (size_t i = 0; i < counts->cap; i++)
        if (counts->keys[i]) total += (int64_t)counts->klen[i];
    int32_t nw = (int32_t)counts->count;
    T->sym = xmalloc((size_t)total * sizeof(int32_t) + 1, T->e);
    T->off = xmalloc((size_t)nw * sizeof(int64_t) + 1, T->e);
    T->len = xmalloc((size_t)nw * sizeof(int32_t) + 1, T->e);
    T->seen = xmalloc((size_t)nw * sizeof(int32_t) + 1, T->e);
    T->wcount = xmalloc((size_t)nw * sizeof(int64_t) + 1, T->e);
    T->pcap = 1 << 16;
    T->pkeys = xmalloc(T->pcap * sizeof(uint64_t), T->e);
    T->pidx = xmalloc(T->pcap * sizeof(int32_t), T->e);
    if (!T->sym || !T->off || !T->len || !T->seen || !T->wcount || !T->pkeys || !T->pidx) return RP_ENOMEM;
    memset(T->pkeys, 0xff, T->pcap * sizeof(uint64_t));
    int64_t at = 0;
    for (size_t i = 0; i < counts->cap; i++) {
        if (!counts->keys[i]) continue;
        int32_t w = T->n_words++;
        T->off[w] = at;
        T->len[w] = (int32_t)counts->klen[i];
        T->seen[w] = -1;
        T->wcount[w] = counts->vals[i];
        for (size_t k = 0; k < counts->klen[i]; k++) T->sym[at++] = (unsigned char)counts->keys[i][k];
        for (int32_t k = 0; k + 1 < T->len[w]; k++) {
            int32_t *s = T->sym + T->off[w];
            if (pair_add(T, s[k], s[k + 1], T->wcount[w], w, -1)) return RP_ENOMEM; /* -1: the heap is built below */
        }
    }
    for (int32_t p = 0; p < T->n_pairs; p++)
        if (T->pairs[p].count >= 2 && heap_push(T, T->pairs[p].count, pkey(T->pairs[p].a, T->pairs[p].b)))
            return RP_ENOMEM;
    return RP_OK;
}

/* Runs up to max_merges merges, appending them to merges; returns how many through *done. */
static int bpe_trainer_run(BpeTrainer *T, Merge *merges, int32_t max_merges, int32_t *done) {
    int32_t k = 0;
    while (k < max_merges && T->hn > 0) {
        struct HeapEnt top = heap_pop(T);
        int32_t p = pair_get(T, (int32_t)(top.key >> 32), (int32_t)(top.key & 0xffffffffu));
        if (p < 0) return RP_ENOMEM;
        Pair *q = &T->pairs[p];
        if (q->count != top.count) { /* stale: requeue with the true count if it can still win */
            if (q->count >= 2 && heap_push(T, q->count, top.key)) return RP_ENOMEM;
            continue;
        }
        int32_t a = q->a, b = q->b, x = 256 + k;
        merges[k] = (Merge){a, b, x};
        T->n_touched = 0;
        int32_t *words = q->words, n_words = q->n_words;
        q->words = NULL;
        q->n_words = q->cap_words = 0;
        int rc = RP_OK;
        for (int32_t i = 0; i < n_words && !rc; i++) {
            int32_t w = words[i];
            if (T->seen[w] == k) continue;
            T->seen[w] = k;
            rc = word_merge(T, w, a, b, x, k);
        }
        free(words);
        if (rc) return rc;
        T->pairs[pair_get(T, a, b)].count = 0; /* every occurrence is merged now */
        for (int32_t i = 0; i < T->n_touched; i++) {
            Pair *t = &T->pairs[T->touched[i]];
            if (t->count >= 2 && heap_push(T, t->count, pkey(t->a, t->b))) return RP_ENOMEM;
        }
        k++;
    }
    *done = k;
    return RP_OK;
}

static void bpe_trainer_free(BpeTrainer *T) {
    for (int32_t p = 0; p < T->n_pairs; p++) free(T->pairs[p].words);
    free(T->pairs), free(T->pkeys), free(T->pidx), free(T->heap), free(T->touched);
    free(T->sym), free(T->off), free(T->len), free(T->seen), free(T->wcount);
}

/* Lays out ids: bytes 0..255, merge k -> 256 + k, then the special tokens. */
static int build_tokenizer(const Merge *merges, int32_t n_merges, Tokenizer **out, Error *e) {
    int32_t n_tokens = 256 + n_merges + TOK_N_SPECIAL;
    uint32_t *len = xmalloc(sizeof(uint32_t) * (size_t)n_tokens, e);
    if (!len) return RP_ENOMEM;
    size_t total = 0;
    for (int32_t id = 0; id < n_tokens; id++) {
        if (id < 256) len[id] = 1;
        else if (id < 256 + n_merges) len[id] = len[merges[id - 256].left] + len[merges[id - 256].right];
        else len[id] = (uint32_t)strlen(TOKENIZER_SPECIAL_TEXT[id - 256 - n_merges]);
        total += len[id];
    }
    Tokenizer *t;
    int rc = tokenizer_alloc(n_tokens, total, n_merges, &t, e);
    if (rc) {
        free(len);
        return rc;
    }
    uint32_t off = 0;
    for (int32_t id = 0; id < n_tokens; id++) {
        char *dst = t->tok_bytes + off;
        t->tok_off[id] = off;
        if (id < 256) dst[0] = (char)id;
        else if (id < 256 + n_merges) {
            const Merge *m = &merges[id - 256];
            memcpy(dst, t->tok_bytes + t->tok_off[m->left], len[m->left]);
            memcpy(dst + len[m->left], t->tok_bytes + t->tok_off[m->right], len[m->right]);
        } else memcpy(dst, TOKENIZER_SPECIAL_TEXT[id - 256 - n_merges], len[id]);
        off += len[id];
    }
    t->tok_off[n_tokens] = off;
    memcpy(t->merges, merges, sizeof(Merge) * (size_t)n_merges);
    for (int s = 0; s < TOK_N_SPECIAL; s++) t->special[s] = 256 + n_merges + s;
    free(len);
    if ((rc = tokenizer_finish(t, "trained tokenizer", e))) {
        tokenizer_free(t);
        return rc;
    }
    *out = t;
    return RP_OK;
}

int tokenizer_train(char *const *texts, int64_t n, int vocab_size, Tokenizer **out, Error *e) {
    const int min_size = 256 + TOK_N_SPECIAL, max_size = 1 << 24;
    if (vocab_size < min_size || vocab_size > max_size)
        return error_set(e, RP_EINPUT, "vocab size %d: must be %d..%d (256 bytes + merges + %d special tokens)",
                         vocab_size, min_size, max_size, TOK_N_SPECIAL);
    StrMap counts;
    int rc = strmap_init(&counts, 1 << 16, e);
    if (rc) return rc;
    BpeTrainer T;
    memset(&T, 0, sizeof T);
    T.e = e;
    int32_t max_merges = vocab_size - min_size, done = 0;
    Merge *merges = xmalloc(sizeof(Merge) * (size_t)max_merges + 1, e);
    if (!merges) rc = RP_ENOMEM;
    if (!rc) rc = count_words(texts, n, &counts, e);
    if (!rc) rc = bpe_trainer_load_words(&T, &counts);
    strmap_free(&counts);
    if (!rc) rc = bpe_trainer_run(&T, merges, max_merges, &done);
    bpe_trainer_free(&T);
    if (!rc) rc = build_tokenizer(merges, done, out, e);
    free(merges);
    return rc;
}

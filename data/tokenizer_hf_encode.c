/* Encoding and decoding with a tokenizer.json vocabulary, step for step as tokenizers does with
 * encode_special_tokens set and add_special_tokens false (docs/tokenizer.md): non-normalized added
 * tokens are split off the raw text; each remaining piece is normalized and loses its normalized
 * added tokens; what is left is pre-tokenized into words; the BPE model turns each word into
 * characters (or bytes, byte fallback, the unknown token), then applies merges lowest rank first
 * with tokenizer.c's merge loop and encode memo. */
#include <stdlib.h>
#include <string.h>

#include "data/tokenizer_hf.h"

/* ---- finding added tokens ---- */

static int cmp_desc(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x > y ? -1 : x < y;
}

int hf_index_added(HfAddedSet *s, Error *e) {
    int rc = strmap_init(&s->map, (size_t)s->n + 1, e);
    for (int i = 0; i < s->n && !rc; i++) {
        int64_t first;
        const HfAdded *a = &s->tok[i];
        /* Two tokens that match the same text: the first one wins, as in the automaton. */
        if (strmap_get(&s->map, a->pat, a->npat, &first)) continue;
        if ((rc = strmap_put(&s->map, a->pat, a->npat, i, e))) break;
        uint8_t c = (uint8_t)a->pat[0];
        int k = 0;
        while (k < s->n_lens[c] && s->lens[c][k] != a->npat) k++;
        if (k < s->n_lens[c]) continue;
        uint32_t *g = xrealloc(s->lens[c], (size_t)(k + 1) * sizeof *g, e);
        if (!g) return RP_ENOMEM;
        g[k] = (uint32_t)a->npat;
        s->lens[c] = g;
        s->n_lens[c]++;
    }
    for (int c = 0; c < 256 && !rc; c++)
        if (s->n_lens[c] > 1) qsort(s->lens[c], (size_t)s->n_lens[c], sizeof(uint32_t), cmp_desc);
    return rc;
}

void hf_free_added(HfAddedSet *s) {
    for (int i = 0; i < s->n; i++) free(s->tok[i].pat);
    free(s->tok);
    for (int c = 0; c < 256; c++) free(s->lens[c]);
    if (s->map.keys) strmap_free(&s->map);
}

/* The leftmost-longest added token in s[from..n): its index (*at its position), or -1. */
static int find_added(const HfAddedSet *set, const char *s, size_t n, size_t from, size_t *at) {
    for (size_t p = from; p < n; p++) {
        uint8_t c = (uint8_t)s[p];
        for (int k = 0; k < set->n_lens[c]; k++) {
            int64_t i;
            if (set->lens[c][k] <= n - p && strmap_get(&set->map, s + p, set->lens[c][k], &i)) {
                *at = p;
                return (int)i;
            }
        }
    }
    return -1;
}

/* Unicode White_Space (Rust's char::is_whitespace), which lstrip and rstrip take away. */
static int is_space_cp(uint32_t c) {
    return (c >= 9 && c <= 13) || c == 32 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* The byte length of the white-space character starting at s[0..n), or 0. */
static size_t space_at(const char *s, size_t n) {
    const unsigned char *u = (const unsigned char *)s;
    if (n >= 1 && u[0] < 0x80) return is_space_cp(u[0]);
    if (n >= 2 && (u[0] & 0xE0) == 0xC0 && (u[1] & 0xC0) == 0x80) return is_space_cp((u[0] & 0x1Fu) << 6 | (u[1] & 0x3Fu)) ? 2 : 0;
    if (n >= 3 && (u[0] & 0xF0) == 0xE0 && (u[1] & 0xC0) == 0x80 && (u[2] & 0xC0) == 0x80)
        return is_space_cp((u[0] & 0xFu) << 12 | (u[1] & 0x3Fu) << 6 | (u[2] & 0x3Fu)) ? 3 : 0;
    return 0;
}

typedef struct Enc Enc;
typedef int (*GapFn)(Enc *c, const char *s, size_t n);

struct Enc {
    const Tokenizer *t;
    const HfVocab *v;
    TokenVec *out;
    EncodeCache *cache; /* NULL when another thread holds it */
    BpeScratch scratch;
    pcre2_match_data *md;
    StrBuf norm;
    Error *e;
};

/* Splits s[0..n) at the set's tokens as tokenizers' AddedVocabulary does: leftmost-longest
 * matches left to right; a special token's match is skipped (its text stays in the gap); lstrip
 * and rstrip widen a match over the white space beside it. Gaps go to `gap`, ids to the output. */
static int split_added(Enc *c, const HfAddedSet *set, const char *s, size_t n, GapFn gap) {
    size_t done = 0, from = 0, at;
    int i, rc = RP_OK;
    while (!rc && (i = set->n ? find_added(set, s, n, from, &at) : -1) >= 0) {
        const HfAdded *a = &set->tok[i];
        size_t start = at, stop = at + a->npat;
        from = stop;
        if (a->id < 0) continue;
        /* lstrip: back over the white space before the match, but not into an earlier match. */
        while (a->lstrip && start > done) {
            size_t lead = start - 1;
            while (lead > done && start - lead < 4 && ((unsigned char)s[lead] & 0xC0) == 0x80) lead--;
            if (space_at(s + lead, start - lead) != start - lead) break;
            start = lead;
        }
        for (size_t l; a->rstrip && (l = space_at(s + stop, n - stop));) stop += l;
        from = stop;
        if (start > done) rc = gap(c, s + done, start - done);
        if (!rc) rc = tokvec_push(c->out, a->id, c->e);
        done = stop;
    }
    return !rc && done < n ? gap(c, s + done, n - done) : rc;
}

/* ---- the BPE model on one word ---- */

/* Unknown characters wait in `unk_n` (fused into one when fuse_unk) until a known one or the end. */
typedef struct {
    int32_t *sym;
    int64_t n;
    int pending;
} Word;

static void flush_unk(const HfVocab *v, Word *w) {
    if (w->pending) w->sym[w->n++] = v->unk;
    w->pending = 0;
}

/* One character the vocabulary lacks, as tokenizers' BPE handles it: its bytes' "<0xAB>" tokens
 * when byte_fallback has them all (a pending unknown is not flushed first, as in tokenizers), else
 * the unknown token, else nothing. */
static void unknown_char(const HfVocab *v, const unsigned char *cs, size_t cn, Word *w) {
    size_t k = 0;
    while (v->byte_fallback && k < cn && v->fallback[cs[k]] >= 0) k++;
    if (v->byte_fallback && k == cn) {
        for (k = 0; k < cn; k++) w->sym[w->n++] = v->fallback[cs[k]];
        return;
    }
    if (v->unk < 0) return;
    if (w->pending && !v->fuse_unk) flush_unk(v, w);
    w->pending = 1;
}

/* The byte length of the UTF-8 character at s[0..n), 1 for a byte that starts none. */
static size_t char_len(const char *s, size_t n) {
    unsigned c = (unsigned char)s[0];
    size_t l = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    size_t bad;
    return l > n || !utf8_valid(s, l, &bad) ? 1 : l;
}

static int model_word(const char *s, size_t n, void *arg) {
    Enc *c = arg;
    const Tokenizer *t = c->t;
    const HfVocab *v = c->v;
    Error *e = c->e;
    uint64_t h = 0;
    int64_t len;
    int cached = c->cache && n <= TOKENIZER_CACHE_KEY_MAX;
    if (cached) {
        h = hash_bytes(s, n);
        const int32_t *ids = encode_cache_get(c->cache, s, n, h, &len);
        if (ids) {
            for (int64_t i = 0; i < len; i++)
                if (tokvec_push(c->out, ids[i], e)) return RP_ENOMEM;
            return RP_OK;
        }
    }
    int64_t whole;
    if (v->ignore_merges && strmap_get(&v->vocab, s, n, &whole)) return tokvec_push(c->out, (int32_t)whole, e);
    /* At most a symbol per byte, or two byte-level: a byte missing from the vocabulary falls back
     * through its two-byte alphabet character. */
    if (bpe_scratch_reserve(&c->scratch, v->byte_level ? 2 * n : n, e)) return RP_ENOMEM;
    Word w = {c->scratch.sym, 0, 0};
    for (size_t i = 0, l; i < n; i += l) {
        int64_t id;
        l = v->byte_level ? 1 : char_len(s + i, n - i);
        int32_t known = v->byte_level ? t->byte_id[(unsigned char)s[i]] : strmap_get(&v->vocab, s + i, l, &id) ? (int32_t)id : -1;
        if (known >= 0) {
            flush_unk(v, &w);
            w.sym[w.n++] = known;
        } else if (v->byte_level) {
            uint32_t cp = hf_byte_char((unsigned char)s[i]);
            unsigned char ch[2] = {(unsigned char)(0xC0 | cp >> 6), (unsigned char)(0x80 | (cp & 0x3F))};
            unknown_char(v, cp < 0x80 ? (const unsigned char *)s + i : ch, cp < 0x80 ? 1 : 2, &w);
        } else unknown_char(v, (const unsigned char *)s + i, l, &w);
    }
    flush_unk(v, &w);
    len = bpe_merge(t, &c->scratch, w.n);
    for (int64_t i = 0; i < len; i++)
        if (tokvec_push(c->out, c->scratch.sym[i], e)) return RP_ENOMEM;
    return cached ? encode_cache_put(c->cache, s, n, h, c->scratch.sym, len, e) : RP_OK;
}

/* ---- the pipeline ---- */

static int gap_pretok(Enc *c, const char *s, size_t n) { return hf_pre_tokenize(c->v, c->md, s, n, model_word, c, c->e); }

/* A piece of raw text between added tokens: normalized, then split at normalized added tokens. */
static int gap_normalize(Enc *c, const char *s, size_t n) {
    if (!c->v->n_norm) return split_added(c, &c->v->normed, s, n, gap_pretok);
    int rc = hf_normalize(c->v, s, n, &c->norm, c->e);
    return rc ? rc : split_added(c, &c->v->normed, c->norm.s, c->norm.len, gap_pretok);
}

int hf_encode(const Tokenizer *t, const char *text, size_t n, TokenVec *out, Error *e) {
    if (n == 0) return RP_OK;
    Enc c = {t, t->hf, out, NULL, {0}, pcre2_match_data_create(1, NULL), {0}, e};
    if (!c.md) return error_set(e, RP_ENOMEM, "tokenizer: out of memory for match data");
    int locked = pthread_mutex_trylock(&t->cache->lock) == 0;
    if (locked) c.cache = t->cache;
    int rc = split_added(&c, &c.v->raw, text, n, gap_normalize);
    if (locked) pthread_mutex_unlock(&t->cache->lock);
    bpe_scratch_free(&c.scratch);
    strbuf_free(&c.norm);
    pcre2_match_data_free(c.md);
    return rc;
}

int hf_decode(const Tokenizer *t, const int32_t *ids, int64_t n, StrBuf *out, Error *e) {
    const HfVocab *v = t->hf;
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= t->n_tokens)
            return error_set(e, RP_EINPUT, "token %lld: id %d is outside the vocabulary (0..%d)", (long long)i, ids[i],
                             t->n_tokens - 1);
    int rc = RP_OK;
    if (v->byte_level)
        for (int64_t i = 0; i < n && !rc; i++)
            rc = strbuf_append(out, v->dec_bytes + v->dec_off[ids[i]], v->dec_off[ids[i] + 1] - v->dec_off[ids[i]], e);
    else rc = hf_decode_chain(t, ids, n, out, e);
    if (!rc && !out->s) rc = strbuf_append(out, "", 0, e); /* callers may rely on a NUL-terminated buffer */
    return rc;
}

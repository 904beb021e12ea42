/* SentencePiece-style (SPM) vocabularies, encoding exactly as llama.cpp's "llama" vocabulary does
 * (docs/tokenizer.md): user-defined pieces split off the text first; each remaining run gets its
 * spaces turned into ▁, is cut into UTF-8 characters, and adjacent symbols whose concatenation is
 * a piece merge, highest score first (leftmost on ties); symbols that are no piece fall back to
 * byte tokens. Also the vocabulary checks and the lookup tables encoding needs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/tokenizer_spm.h"

#define SPM_SPACE "\xe2\x96\x81" /* U+2581, SentencePiece's visible space */
#define SPM_MAX_TOKENS (1 << 24)

/* ---- construction ---- */

int spm_alloc(int32_t n, size_t text_bytes, Tokenizer **out, Error *e) {
    Tokenizer *t = xcalloc(1, sizeof *t, e);
    SpmVocab *v = t ? xcalloc(1, sizeof *v, e) : NULL;
    if (!v) {
        free(t);
        return RP_ENOMEM;
    }
    t->spm = v;
    v->n = n;
    v->off = xcalloc((size_t)n + 1, sizeof(uint32_t), e);
    v->text = xmalloc(text_bytes ? text_bytes : 1, e);
    v->score = xcalloc((size_t)n, sizeof(float), e);
    v->type = xcalloc((size_t)n, 1, e);
    if (!v->off || !v->text || !v->score || !v->type) {
        tokenizer_free(t);
        return RP_ENOMEM;
    }
    *out = t;
    return RP_OK;
}

void spm_free(SpmVocab *v) {
    if (!v) return;
    free(v->off), free(v->text), free(v->score), free(v->type), free(v->dec_off), free(v->dec);
    free(v->slot), free(v->hash), free(v->user);
    free(v);
}

static inline uint32_t piece_len(const SpmVocab *v, int32_t id) { return v->off[id + 1] - v->off[id]; }
static inline const char *piece_ptr(const SpmVocab *v, int32_t id) { return v->text + v->off[id]; }

/* FNV-1a with a final mix, so that the low bits (the slot) depend on every byte. */
static inline uint64_t piece_hash(const char *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 0x100000001b3ULL;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 33);
}

/* The id whose piece is s[0..n), or -1. */
static int32_t spm_lookup(const SpmVocab *v, const char *s, size_t n) {
    if (n > v->max_len) return -1;
    uint64_t h = piece_hash(s, n);
    for (size_t i = (size_t)h & (v->cap - 1); v->slot[i]; i = (i + 1) & (v->cap - 1)) {
        int32_t id = (int32_t)v->slot[i] - 1;
        if (v->hash[id] == (uint32_t)(h >> 32) && piece_len(v, id) == n && !memcmp(piece_ptr(v, id), s, n)) return id;
    }
    return -1;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* The byte a byte token stands for ("<0xAB>"), or -1 if it is not spelt so. */
static int byte_value(const char *s, uint32_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>' || hex_digit(s[3]) < 0 || hex_digit(s[4]) < 0) return -1;
    return hex_digit(s[3]) * 16 + hex_digit(s[4]);
}

static int check_pieces(SpmVocab *v, const char *src, Error *e) {
    for (int32_t id = 0; id < v->n; id++) {
        uint32_t len = piece_len(v, id);
        if (len == 0) return error_set(e, RP_EINPUT, "%s: token %d: empty piece", src, id);
        if (v->type[id] < SPM_NORMAL || v->type[id] > SPM_BYTE)
            return error_set(e, RP_EINPUT, "%s: token %d ('%.*s'): token type %d is not 1..6", src, id, (int)len,
                             piece_ptr(v, id), v->type[id]);
        if (v->type[id] == SPM_BYTE && byte_value(piece_ptr(v, id), len) < 0)
            return error_set(e, RP_EINPUT, "%s: token %d ('%.*s'): a byte token must be spelt <0xAB>", src, id,
                             (int)len, piece_ptr(v, id));
        if (len > v->max_len) v->max_len = len;
    }
    v->cap = 16;
    while (v->cap < (size_t)v->n * 2) v->cap *= 2;
    v->slot = xcalloc(v->cap, sizeof(uint32_t), e);
    v->hash = xmalloc((size_t)v->n * sizeof(uint32_t), e);
    if (!v->slot || !v->hash) return RP_ENOMEM;
    for (int32_t id = 0; id < v->n; id++) {
        uint64_t h = piece_hash(piece_ptr(v, id), piece_len(v, id));
        size_t i = (size_t)h & (v->cap - 1);
        for (; v->slot[i]; i = (i + 1) & (v->cap - 1)) {
            int32_t o = (int32_t)v->slot[i] - 1;
            if (piece_len(v, o) == piece_len(v, id) && !memcmp(piece_ptr(v, o), piece_ptr(v, id), piece_len(v, id)))
                return error_set(e, RP_EINPUT, "%s: tokens %d and %d are both '%.*s'", src, o, id,
                                 (int)piece_len(v, id), piece_ptr(v, id));
        }
        v->slot[i] = (uint32_t)id + 1;
        v->hash[id] = (uint32_t)(h >> 32);
    }
    return RP_OK;
}

/* What each id decodes to: normal pieces with ▁ as space, byte tokens as their byte, others
 * (control, unknown, unused, user-defined) as written, so special ids show in decoded text. */
static int build_decoded(SpmVocab *v, Error *e) {
    v->dec_off = xmalloc(((size_t)v->n + 1) * sizeof(uint32_t), e);
    v->dec = xmalloc((size_t)v->off[v->n] + 1, e);
    if (!v->dec_off || !v->dec) return RP_ENOMEM;
    uint32_t k = 0;
    for (int32_t id = 0; id < v->n; id++) {
        const char *s = piece_ptr(v, id);
        uint32_t len = piece_len(v, id);
        v->dec_off[id] = k;
        if (v->type[id] == SPM_BYTE) {
            v->dec[k++] = (char)byte_value(s, len);
        } else if (v->type[id] == SPM_NORMAL) {
            for (uint32_t i = 0; i < len;) {
                if (i + 3 <= len && !memcmp(s + i, SPM_SPACE, 3)) v->dec[k++] = ' ', i += 3;
                else v->dec[k++] = s[i++];
            }
        } else {
            memcpy(v->dec + k, s, len);
            k += len;
        }
    }
    v->dec_off[v->n] = k;
    return RP_OK;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* User-defined ids longest first, then by id (llama.cpp sorts by length only; equal-length pieces
 * can only disagree where two of them overlap in a text, which none of Gemma 3's can). */
static int build_user(SpmVocab *v, Error *e) {
    for (int32_t id = 0; id < v->n; id++) v->n_user += v->type[id] == SPM_USER_DEFINED;
    if (!v->n_user) return RP_OK;
    uint64_t *key = xmalloc((size_t)v->n_user * sizeof(uint64_t), e);
    v->user = xmalloc((size_t)v->n_user * sizeof(int32_t), e);
    if (!key || !v->user) {
        free(key);
        return RP_ENOMEM;
    }
    int32_t k = 0;
    for (int32_t id = 0; id < v->n; id++)
        if (v->type[id] == SPM_USER_DEFINED) key[k++] = ((uint64_t)(UINT32_MAX - piece_len(v, id)) << 32) | (uint32_t)id;
    qsort(key, (size_t)k, sizeof *key, cmp_u64);
    for (int32_t i = 0; i < k; i++) v->user[i] = (int32_t)(key[i] & 0xffffffffu);
    free(key);
    return RP_OK;
}

static int check_id(int32_t id, int32_t n, const char *what, const char *src, Error *e) {
    if (id < -1 || id >= n)
        return error_set(e, RP_EINPUT, "%s: %s id %d is outside the vocabulary (0..%d)", src, what, id, n - 1);
    return RP_OK;
}

/* restpg's specials: the model's EOS ends a document; two reserved pieces that ordinary text never
 * produces mark reasoning and answer (docs/tokenizer.md). */
static int set_specials(Tokenizer *t, const char *src, Error *e) {
    SpmVocab *v = t->spm;
    static const char *const reserved[2] = {"<unused0>", "<unused1>"};
    int rc = check_id(v->opt.bos, v->n, "bos_token", src, e);
    if (!rc) rc = check_id(v->opt.eos, v->n, "eos_token", src, e);
    if (!rc) rc = check_id(v->opt.unk, v->n, "unknown_token", src, e);
    if (!rc) rc = check_id(v->opt.pad, v->n, "padding_token", src, e);
    if (rc) return rc;
    if (v->opt.eos < 0) return error_set(e, RP_EINPUT, "%s: no eos_token_id (restpg ends documents with it)", src);
    if (v->opt.add_bos && v->opt.bos < 0) return error_set(e, RP_EINPUT, "%s: add_bos_token is set but no bos_token_id", src);
    t->special[TOK_EOT] = v->opt.eos;
    for (int s = 0; s < 2; s++) {
        int32_t id = spm_lookup(v, reserved[s], strlen(reserved[s]));
        if (id < 0 || (v->type[id] != SPM_CONTROL && v->type[id] != SPM_UNUSED))
            return error_set(e, RP_EINPUT,
                             "%s: no reserved token %s of type control or unused (restpg's %s marker needs one)", src,
                             reserved[s], s ? "answer" : "reasoning");
        if (id == v->opt.eos) return error_set(e, RP_EINPUT, "%s: %s is also the eos token", src, reserved[s]);
        t->special[TOK_REASONING + s] = id;
    }
    return RP_OK;
}

int spm_finish(Tokenizer *t, const char *src, Error *e) {
    SpmVocab *v = t->spm;
    int rc = check_pieces(v, src, e);
    if (!rc) rc = build_decoded(v, e);
    if (!rc) rc = build_user(v, e);
    if (rc) return rc;
    /* As llama.cpp's byte_to_token: the "<0xAB>" piece whatever its type, else the byte itself. */
    for (int b = 0; b < 256; b++) {
        char hex[7], one = (char)b;
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        v->byte_id[b] = spm_lookup(v, hex, 6);
        if (v->byte_id[b] < 0) v->byte_id[b] = spm_lookup(v, &one, 1);
    }
    t->n_tokens = v->n;
    return set_specials(t, src, e);
}

int tokenizer_from_spm(const char *const *tokens, const float *scores, const int32_t *types, int32_t n,
                       const SpmOptions *o, const char *src, Tokenizer **out, Error *e) {
    if (n < 1 || n > SPM_MAX_TOKENS)
        return error_set(e, RP_EINPUT, "%s: %d tokens (a vocabulary has 1..%d)", src, n, SPM_MAX_TOKENS);
    size_t total = 0;
    for (int32_t id = 0; id < n; id++) {
        if (!tokens[id]) return error_set(e, RP_EINPUT, "%s: token %d has no text", src, id);
        total += strlen(tokens[id]);
    }
    if (total > UINT32_MAX - 1) return error_set(e, RP_EINPUT, "%s: %zu bytes of pieces (at most 4 GiB)", src, total);
    Tokenizer *t;
    int rc = spm_alloc(n, total, &t, e);
    if (rc) return rc;
    SpmVocab *v = t->spm;
    uint32_t k = 0;
    for (int32_t id = 0; id < n && !rc; id++) {
        size_t len = strlen(tokens[id]);
        v->off[id] = k;
        memcpy(v->text + k, tokens[id], len);
        k += (uint32_t)len;
        v->score[id] = scores ? scores[id] : 0.0f;
        if (types && (types[id] < SPM_NORMAL || types[id] > SPM_BYTE))
            rc = error_set(e, RP_EINPUT, "%s: token %d ('%s'): token type %d is not 1..6", src, id, tokens[id],
                           types[id]);
        v->type[id] = types ? (uint8_t)types[id] : SPM_NORMAL;
    }
    v->off[n] = k;
    v->opt = *o;
    v->opt.add_bos = o->add_bos != 0;
    v->opt.add_space_prefix = o->add_space_prefix != 0;
    if (!rc) rc = spm_finish(t, src, e);
    if (rc) {
        tokenizer_free(t);
        return rc;
    }
    *out = t;
    return RP_OK;
}

/* ---- encoding ---- */

typedef struct {
    float score;
    int32_t left, right;
    uint32_t size;
} Bigram;

/* Scratch space of one encode call, reused across its text runs. */
typedef struct {
    char *buf; /* the run with ▁ for spaces */
    size_t buf_cap;
    uint32_t *start, *len; /* symbols: a span of buf; len 0 = merged into its left neighbour */
    int32_t *prev, *next;
    Bigram *heap;
    size_t sym_cap, heap_n;
} Session;

static void session_free(Session *s) {
    free(s->buf), free(s->start), free(s->len), free(s->prev), free(s->next), free(s->heap);
}

static int session_reserve(Session *s, size_t bytes, Error *e) {
    if (bytes > s->buf_cap) {
        free(s->buf);
        s->buf_cap = bytes * 2;
        if (!(s->buf = xmalloc(s->buf_cap, e))) return s->buf_cap = 0, RP_ENOMEM;
    }
    if (bytes <= s->sym_cap) return RP_OK; /* at most one symbol per byte */
    free(s->start), free(s->len), free(s->prev), free(s->next), free(s->heap);
    s->sym_cap = bytes * 2;
    s->start = xmalloc(s->sym_cap * sizeof(uint32_t), e);
    s->len = xmalloc(s->sym_cap * sizeof(uint32_t), e);
    s->prev = xmalloc(s->sym_cap * sizeof(int32_t), e);
    s->next = xmalloc(s->sym_cap * sizeof(int32_t), e);
    s->heap = xmalloc(s->sym_cap * 3 * sizeof(Bigram), e); /* n - 1 seeds + 2 pushes per merge */
    if (!s->start || !s->len || !s->prev || !s->next || !s->heap) return s->sym_cap = 0, RP_ENOMEM;
    return RP_OK;
}

/* Pops first: the higher score, then the smaller left index (llama.cpp's queue order). */
static inline int bigram_first(const Bigram *a, const Bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void heap_push(Session *s, Bigram b) {
    size_t i = s->heap_n++;
    while (i > 0 && bigram_first(&b, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = b;
}

static Bigram heap_pop(Session *s) {
    Bigram top = s->heap[0], last = s->heap[--s->heap_n];
    size_t i = 0, n = s->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && bigram_first(&s->heap[c + 1], &s->heap[c])) c++;
        if (!bigram_first(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n > 0) s->heap[i] = last;
    return top;
}

static void try_pair(const SpmVocab *v, Session *s, int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    uint32_t size = s->len[left] + s->len[right];
    int32_t id = spm_lookup(v, s->buf + s->start[left], size);
    if (id >= 0) heap_push(s, (Bigram){v->score[id], left, right, size});
}

/* Byte length of the UTF-8 character a lead byte starts (llama.cpp's table: a stray continuation
 * byte is a character of its own). */
static inline uint32_t utf8_len(uint8_t c) {
    static const uint8_t len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[c >> 4];
}

/* Encodes one run of text (no user-defined piece inside), with SentencePiece's space prefix if
 * `prefix`. */
static int encode_run(const SpmVocab *v, Session *s, const char *text, size_t n, int prefix, TokenVec *out,
                      Error *e) {
    size_t spaces = 0;
    for (size_t i = 0; i < n; i++) spaces += text[i] == ' ';
    size_t m = n + 2 * spaces + (prefix ? 3 : 0);
    if (m > UINT32_MAX / 2) return error_set(e, RP_EINPUT, "tokenizer: a text of %zu bytes is too long to encode", n);
    if (session_reserve(s, m, e)) return RP_ENOMEM;
    char *p = s->buf;
    if (prefix) memcpy(p, SPM_SPACE, 3), p += 3;
    for (size_t i = 0; i < n; i++) {
        if (text[i] == ' ') memcpy(p, SPM_SPACE, 3), p += 3;
        else *p++ = text[i];
    }
    int32_t k = 0;
    for (uint32_t at = 0; at < m; k++) {
        uint32_t l = utf8_len((uint8_t)s->buf[at]);
        s->start[k] = at;
        s->len[k] = l < m - at ? l : (uint32_t)(m - at);
        s->prev[k] = k - 1;
        at += s->len[k];
        s->next[k] = at < m ? k + 1 : -1;
    }
    s->heap_n = 0;
    for (int32_t i = 1; i < k; i++) try_pair(v, s, i - 1, i);
    while (s->heap_n) {
        Bigram b = heap_pop(s);
        int32_t l = b.left, r = b.right;
        /* Stale: a side was merged away or grew since the pair was queued. */
        if (!s->len[l] || !s->len[r] || s->len[l] + s->len[r] != b.size) continue;
        s->len[l] += s->len[r];
        s->len[r] = 0;
        s->next[l] = s->next[r];
        if (s->next[r] >= 0) s->prev[s->next[r]] = l;
        try_pair(v, s, s->prev[l], l);
        try_pair(v, s, l, s->next[l]);
    }
    /* Every merged symbol is a piece, so only single characters can miss the vocabulary. */
    for (int32_t i = 0; i >= 0; i = s->next[i]) {
        const char *sym = s->buf + s->start[i];
        int32_t id = spm_lookup(v, sym, s->len[i]);
        if (id >= 0) {
            if (tokvec_push(out, id, e)) return RP_ENOMEM;
            continue;
        }
        for (uint32_t j = 0; j < s->len[i]; j++) {
            id = v->byte_id[(uint8_t)sym[j]];
            if (id < 0) id = v->opt.unk;
            if (id < 0)
                return error_set(e, RP_EINPUT, "tokenizer: byte 0x%02X has no byte token and the vocabulary no "
                                               "unknown token", (uint8_t)sym[j]);
            if (tokvec_push(out, id, e)) return RP_ENOMEM;
        }
    }
    return RP_OK;
}

typedef struct {
    size_t pos;
    int32_t id;
} Match;

static int match_cmp(const void *a, const void *b) {
    const Match *x = a, *y = b;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Finds where user-defined pieces split the text, as llama.cpp's partition does: piece by piece,
 * longest first, each taking its leftmost non-overlapping occurrences in the text that earlier
 * pieces left free. One pass per piece with memchr keeps a long run of spaces linear (Gemma has
 * user-defined runs of up to 31 spaces, tabs and newlines). Returns the matches in text order. */
static int user_matches(const SpmVocab *v, const char *text, size_t n, Match **out, size_t *n_out, Error *e) {
    Match *m = NULL;
    size_t nm = 0, cap = 0;
    uint8_t *taken = xcalloc(n, 1, e);
    if (!taken) return RP_ENOMEM;
    for (int32_t r = 0; r < v->n_user; r++) {
        int32_t id = v->user[r];
        const char *piece = piece_ptr(v, id);
        size_t len = piece_len(v, id);
        for (size_t pos = 0; pos + len <= n;) {
            const char *hit = memchr(text + pos, piece[0], n - len + 1 - pos);
            if (!hit) break;
            pos = (size_t)(hit - text);
            size_t j = 0; /* free bytes of an occurrence; stays 0 if this is none */
            if ((len < 2 || hit[1] == piece[1]) && !memcmp(hit, piece, len))
                while (j < len && !taken[pos + j]) j++;
            if (j < len) {
                pos++;
                continue;
            }
            if (nm == cap) {
                Match *g = xrealloc(m, (cap = cap ? cap * 2 : 64) * sizeof *m, e);
                if (!g) {
                    free(m);
                    free(taken);
                    return RP_ENOMEM;
                }
                m = g;
            }
            m[nm++] = (Match){pos, id};
            memset(taken + pos, 1, len);
            pos += len;
        }
    }
    free(taken);
    if (nm) qsort(m, nm, sizeof *m, match_cmp); /* qsort(NULL, 0) is undefined (UBSan) */
    *out = m;
    *n_out = nm;
    return RP_OK;
}

int spm_encode(const SpmVocab *v, const char *text, size_t n, TokenVec *out, Error *e) {
    if (n == 0) return RP_OK;
    Session s = {0};
    Match *m = NULL;
    size_t nm = 0;
    int rc = v->n_user ? user_matches(v, text, n, &m, &nm, e) : RP_OK;
    /* Every run starts the text or follows a user-defined piece, so each gets SentencePiece's
     * space prefix (when the vocabulary asks for it), as in llama.cpp. */
    size_t at = 0;
    for (size_t i = 0; i < nm && !rc; i++) {
        if (m[i].pos > at) rc = encode_run(v, &s, text + at, m[i].pos - at, v->opt.add_space_prefix, out, e);
        if (!rc) rc = tokvec_push(out, m[i].id, e);
        at = m[i].pos + piece_len(v, m[i].id);
    }
    if (!rc && at < n) rc = encode_run(v, &s, text + at, n - at, v->opt.add_space_prefix, out, e);
    free(m);
    session_free(&s);
    return rc;
}

int spm_decode(const SpmVocab *v, const int32_t *ids, int64_t n, StrBuf *out, Error *e) {
    for (int64_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= v->n)
            return error_set(e, RP_EINPUT, "token %lld: id %d is outside the vocabulary (0..%d)", (long long)i, id,
                             v->n - 1);
        if (strbuf_append(out, v->dec + v->dec_off[id], v->dec_off[id + 1] - v->dec_off[id], e)) return RP_ENOMEM;
    }
    if (!out->s) return strbuf_append(out, "", 0, e); /* callers may rely on a NUL-terminated buffer */
    return RP_OK;
}

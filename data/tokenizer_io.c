/* Tokenizer construction and files: the consistency checks every BPE vocabulary passes, restpg's
 * binary formats "RPTK" (BPE) and "RPSP" (SentencePiece) (docs/formats.md), loading GPT-2's
 * encoder.json + vocab.bpe, and telling a tokenizer.json or an "RPHF" file (tokenizer_hf.c) from
 * the others. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "core/fileio.h"
#include "data/tokenizer_hf.h"
#include "data/tokenizer_spm.h"

int tokenizer_alloc(int32_t n_tokens, size_t total_bytes, int32_t n_merges, Tokenizer **out, Error *e) {
    Tokenizer *t = xcalloc(1, sizeof *t, e);
    if (!t) return RP_ENOMEM;
    t->n_tokens = n_tokens;
    t->n_merges = n_merges;
    t->tok_off = xcalloc((size_t)n_tokens + 1, sizeof(uint32_t), e);
    t->tok_bytes = xmalloc(total_bytes, e);
    t->merges = xcalloc((size_t)n_merges, sizeof(Merge), e);
    if (!t->tok_off || !t->tok_bytes || !t->merges) {
        tokenizer_free(t);
        return RP_ENOMEM;
    }
    *out = t;
    return RP_OK;
}

void tokenizer_free(Tokenizer *t) {
    if (!t) return;
    free(t->tok_off);
    free(t->tok_bytes);
    free(t->merges);
    free(t->pairs.keys);
    free(t->pairs.rank);
    if (t->re) pcre2_code_free(t->re);
    encode_cache_free(t->cache);
    spm_free(t->spm);
    hf_free(t->hf);
    free(t);
}

static inline uint32_t tok_len(const Tokenizer *t, int32_t id) { return t->tok_off[id + 1] - t->tok_off[id]; }
static inline const char *tok_ptr(const Tokenizer *t, int32_t id) { return t->tok_bytes + t->tok_off[id]; }

int tokenizer_finish(Tokenizer *t, const char *src, Error *e) {
    int rc = RP_OK;
    uint8_t *kind = xcalloc((size_t)t->n_tokens, 1, e); /* 1 special, 2 byte or merged so far */
    if (!kind) return RP_ENOMEM;
    for (int s = 0; s < TOK_N_SPECIAL && !rc; s++) {
        int32_t id = t->special[s];
        const char *want = TOKENIZER_SPECIAL_TEXT[s];
        if (id < 0 || id >= t->n_tokens || kind[id])
            rc = error_set(e, RP_EINPUT, "%s: special token %s has a bad or repeated id %d", src, want, id);
        else if (tok_len(t, id) != strlen(want) || memcmp(tok_ptr(t, id), want, strlen(want)))
            rc = error_set(e, RP_EINPUT, "%s: special token id %d does not hold %s", src, id, want);
        else kind[id] = 1;
    }
    for (int b = 0; b < 256; b++) t->byte_id[b] = -1;
    for (int32_t id = 0; id < t->n_tokens && !rc; id++) {
        if (kind[id] || tok_len(t, id) != 1) continue;
        unsigned char b = (unsigned char)tok_ptr(t, id)[0];
        if (t->byte_id[b] >= 0)
            rc = error_set(e, RP_EINPUT, "%s: tokens %d and %d both hold byte 0x%02x", src, t->byte_id[b], id, b);
        t->byte_id[b] = id;
        kind[id] = 2;
    }
    for (int b = 0; b < 256 && !rc; b++)
        if (t->byte_id[b] < 0) rc = error_set(e, RP_EINPUT, "%s: no token holds byte 0x%02x", src, b);
    /* Each merge joins two tokens that exist by then, into a token made of exactly their bytes
     * that no earlier rule produced: the heap merge in tokenizer.c relies on this order. */
    for (int32_t r = 0; r < t->n_merges && !rc; r++) {
        const Merge *m = &t->merges[r];
        int32_t ids[3] = {m->left, m->right, m->result};
        for (int j = 0; j < 3 && !rc; j++)
            if (ids[j] < 0 || ids[j] >= t->n_tokens)
                rc = error_set(e, RP_EINPUT, "%s: merge %d: id %d is outside the vocabulary", src, r, ids[j]);
        if (rc) break;
        if (kind[m->left] != 2 || kind[m->right] != 2)
            rc = error_set(e, RP_EINPUT, "%s: merge %d uses token %d before any rule makes it", src, r,
                           kind[m->left] != 2 ? m->left : m->right);
        else if (kind[m->result])
            rc = error_set(e, RP_EINPUT, "%s: merge %d produces token %d a second time", src, r, m->result);
        else if (tok_len(t, m->result) != tok_len(t, m->left) + tok_len(t, m->right) ||
                 memcmp(tok_ptr(t, m->result), tok_ptr(t, m->left), tok_len(t, m->left)) ||
                 memcmp(tok_ptr(t, m->result) + tok_len(t, m->left), tok_ptr(t, m->right), tok_len(t, m->right)))
            rc = error_set(e, RP_EINPUT, "%s: merge %d: token %d is not tokens %d and %d joined", src, r, m->result,
                           m->left, m->right);
        else kind[m->result] = 2;
    }
    free(kind);
    if (!rc && (rc = pairmap_build(&t->pairs, t->merges, t->n_merges, e))) error_wrap(e, "%s", src);
    if (!rc) rc = pretok_compile(&t->re, e);
    if (!rc) rc = encode_cache_create(&t->cache, e);
    return rc;
}

/* ---- RPTK: header | token lengths | token bytes | merges | CRC-32 (docs/formats.md) ---- */

#define RPTK_HEADER 32
#define RPTK_MAX_TOKENS (1 << 24)

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

/* As zlib.crc32 computes it, so a Python reader can check a file in one line. */
uint32_t tokenizer_crc32(const uint8_t *p, size_t n) {
    pthread_once(&crc_once, crc_init);
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static void put_u32(uint8_t **p, uint32_t v) {
    for (int i = 0; i < 4; i++) (*p)[i] = (uint8_t)(v >> (8 * i));
    *p += 4;
}

static uint32_t get_u32(const uint8_t **p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)(*p)[i] << (8 * i);
    *p += 4;
    return v;
}

int tokenizer_serialize(const Tokenizer *t, uint8_t **buf, size_t *n, Error *e) {
    if (t->spm) return spm_serialize(t, buf, n, e);
    if (t->hf) return hf_serialize(t, buf, n, e);
    size_t bytes = t->tok_off[t->n_tokens];
    size_t total = RPTK_HEADER + 4 * (size_t)t->n_tokens + bytes + 12 * (size_t)t->n_merges + 4;
    uint8_t *b = xmalloc(total, e), *p = b;
    if (!b) return RP_ENOMEM;
    memcpy(p, TOKENIZER_MAGIC, 4);
    p += 4;
    put_u32(&p, TOKENIZER_VERSION);
    put_u32(&p, (uint32_t)t->n_tokens);
    put_u32(&p, (uint32_t)t->n_merges);
    for (int s = 0; s < TOK_N_SPECIAL; s++) put_u32(&p, (uint32_t)t->special[s]);
    put_u32(&p, (uint32_t)bytes);
    for (int32_t id = 0; id < t->n_tokens; id++) put_u32(&p, tok_len(t, id));
    memcpy(p, t->tok_bytes, bytes);
    p += bytes;
    for (int32_t r = 0; r < t->n_merges; r++) {
        put_u32(&p, (uint32_t)t->merges[r].left);
        put_u32(&p, (uint32_t)t->merges[r].right);
        put_u32(&p, (uint32_t)t->merges[r].result);
    }
    put_u32(&p, tokenizer_crc32(b, total - 4));
    *buf = b;
    *n = total;
    return RP_OK;
}

int tokenizer_deserialize(const uint8_t *buf, size_t n, const char *src, Tokenizer **out, Error *e) {
    if (n >= 4 && !memcmp(buf, SPM_MAGIC, 4)) return spm_deserialize(buf, n, src, out, e);
    if (n >= 4 && !memcmp(buf, HF_MAGIC, 4)) return hf_deserialize(buf, n, src, out, e);
    if (n < 8 || memcmp(buf, TOKENIZER_MAGIC, 4))
        return error_set(e, RP_EINPUT, "%s: not a restpg tokenizer file (no \"%s\", \"%s\" or \"%s\" magic) nor a "
                         "tokenizer.json", src, TOKENIZER_MAGIC, SPM_MAGIC, HF_MAGIC);
    const uint8_t *p = buf + 4;
    uint32_t version = get_u32(&p);
    if (version != TOKENIZER_VERSION)
        return error_set(e, RP_EINPUT, "%s: tokenizer file version %u is not supported (this restpg reads version %d)",
                         src, version, TOKENIZER_VERSION);
    if (n < RPTK_HEADER + 4) return error_set(e, RP_EINPUT, "%s: truncated tokenizer file (%zu bytes)", src, n);
    uint32_t n_tokens = get_u32(&p), n_merges = get_u32(&p), special[TOK_N_SPECIAL];
    for (int s = 0; s < TOK_N_SPECIAL; s++) special[s] = get_u32(&p);
    uint32_t bytes = get_u32(&p);
    if (n_tokens < 256 + TOK_N_SPECIAL || n_tokens > RPTK_MAX_TOKENS || n_merges >= n_tokens)
        return error_set(e, RP_EINPUT, "%s: corrupt tokenizer file: %u tokens and %u merges", src, n_tokens, n_merges);
    size_t want = RPTK_HEADER + 4 * (size_t)n_tokens + bytes + 12 * (size_t)n_merges + 4;
    if (n != want)
        return error_set(e, RP_EINPUT, "%s: %s tokenizer file: %zu bytes where its header implies %zu", src,
                         n < want ? "truncated" : "corrupt", n, want);
    uint32_t crc = tokenizer_crc32(buf, n - 4);
    const uint8_t *q = buf + n - 4;
    if (get_u32(&q) != crc) return error_set(e, RP_EINPUT, "%s: corrupt tokenizer file: checksum mismatch", src);
    Tokenizer *t;
    int rc = tokenizer_alloc((int32_t)n_tokens, bytes, (int32_t)n_merges, &t, e);
    if (rc) return rc;
    uint64_t off = 0;
    for (uint32_t id = 0; id < n_tokens; id++) {
        t->tok_off[id] = (uint32_t)off;
        off += get_u32(&p);
        if (off > bytes) {
            tokenizer_free(t);
            return error_set(e, RP_EINPUT, "%s: corrupt tokenizer file: token %u ends past the token bytes", src, id);
        }
    }
    t->tok_off[n_tokens] = (uint32_t)off;
    if (off != bytes) {
        tokenizer_free(t);
        return error_set(e, RP_EINPUT, "%s: corrupt tokenizer file: token lengths sum to %llu, header says %u", src,
                         (unsigned long long)off, bytes);
    }
    memcpy(t->tok_bytes, p, bytes);
    p += bytes;
    for (uint32_t r = 0; r < n_merges; r++) {
        t->merges[r].left = (int32_t)get_u32(&p);
        t->merges[r].right = (int32_t)get_u32(&p);
        t->merges[r].result = (int32_t)get_u32(&p);
    }
    for (int s = 0; s < TOK_N_SPECIAL; s++) t->special[s] = (int32_t)special[s];
    if ((rc = tokenizer_finish(t, src, e))) {
        tokenizer_free(t);
        return rc;
    }
    *out = t;
    return RP_OK;
}

/* ---- RPSP: header | piece lengths | scores | types | piece bytes | CRC-32 (docs/formats.md) ---- */

#define RPSP_HEADER 48

int spm_serialize(const Tokenizer *t, uint8_t **buf, size_t *n, Error *e) {
    const SpmVocab *v = t->spm;
    size_t bytes = v->off[v->n], total = RPSP_HEADER + 9 * (size_t)v->n + bytes + 4;
    uint8_t *b = xmalloc(total, e), *p = b;
    if (!b) return RP_ENOMEM;
    memcpy(p, SPM_MAGIC, 4);
    p += 4;
    put_u32(&p, SPM_VERSION);
    put_u32(&p, (uint32_t)v->n);
    put_u32(&p, (uint32_t)(v->opt.add_bos | v->opt.add_space_prefix << 1));
    int32_t ids[4 + TOK_N_SPECIAL] = {v->opt.bos, v->opt.eos, v->opt.unk, v->opt.pad};
    for (int s = 0; s < TOK_N_SPECIAL; s++) ids[4 + s] = t->special[s];
    for (int i = 0; i < 4 + TOK_N_SPECIAL; i++) put_u32(&p, (uint32_t)ids[i]);
    put_u32(&p, (uint32_t)bytes);
    for (int32_t id = 0; id < v->n; id++) put_u32(&p, v->off[id + 1] - v->off[id]);
    for (int32_t id = 0; id < v->n; id++) {
        uint32_t bits;
        memcpy(&bits, &v->score[id], 4);
        put_u32(&p, bits);
    }
    memcpy(p, v->type, (size_t)v->n);
    p += v->n;
    memcpy(p, v->text, bytes);
    p += bytes;
    put_u32(&p, tokenizer_crc32(b, total - 4));
    *buf = b;
    *n = total;
    return RP_OK;
}

int spm_deserialize(const uint8_t *buf, size_t n, const char *src, Tokenizer **out, Error *e) {
    const uint8_t *p = buf + 4;
    if (n < RPSP_HEADER + 4) return error_set(e, RP_EINPUT, "%s: truncated tokenizer file (%zu bytes)", src, n);
    uint32_t version = get_u32(&p);
    if (version != SPM_VERSION)
        return error_set(e, RP_EINPUT, "%s: %s tokenizer file version %u is not supported (this restpg reads version %d)",
                         src, SPM_MAGIC, version, SPM_VERSION);
    uint32_t n_tokens = get_u32(&p), flags = get_u32(&p), ids[4 + TOK_N_SPECIAL];
    for (int i = 0; i < 4 + TOK_N_SPECIAL; i++) ids[i] = get_u32(&p);
    uint32_t bytes = get_u32(&p);
    if (n_tokens < 1 || n_tokens > RPTK_MAX_TOKENS || flags > 3)
        return error_set(e, RP_EINPUT, "%s: corrupt tokenizer file: %u tokens, flags %u", src, n_tokens, flags);
    size_t want = RPSP_HEADER + 9 * (size_t)n_tokens + bytes + 4;
    if (n != want)
        return error_set(e, RP_EINPUT, "%s: %s tokenizer file: %zu bytes where its header implies %zu", src,
                         n < want ? "truncated" : "corrupt", n, want);
    const uint8_t *q = buf + n - 4;
    if (get_u32(&q) != tokenizer_crc32(buf, n - 4))
        return error_set(e, RP_EINPUT, "%s: corrupt tokenizer file: checksum mismatch", src);
    Tokenizer *t;
    int rc = spm_alloc((int32_t)n_tokens, bytes, &t, e);
    if (rc) return rc;
    SpmVocab *v = t->spm;
    uint64_t off = 0;
    for (uint32_t id = 0; id < n_tokens && !rc; id++) {
        v->off[id] = (uint32_t)off;
        if ((off += get_u32(&p)) > bytes)
            rc = error_set(e, RP_EINPUT, "%s: corrupt tokenizer file: token %u ends past the piece bytes", src, id);
    }
    if (!rc && off != bytes)
        rc = error_set(e, RP_EINPUT, "%s: corrupt tokenizer file: piece lengths sum to %llu, header says %u", src,
                       (unsigned long long)off, bytes);
    if (!rc) {
        v->off[n_tokens] = bytes;
        for (uint32_t id = 0; id < n_tokens; id++) {
            uint32_t bits = get_u32(&p);
            memcpy(&v->score[id], &bits, 4);
        }
        memcpy(v->type, p, n_tokens);
        memcpy(v->text, p + n_tokens, bytes);
        v->opt = (SpmOptions){(int32_t)ids[0], (int32_t)ids[1], (int32_t)ids[2], (int32_t)ids[3], (int)(flags & 1),
                              (int)(flags >> 1)};
        rc = spm_finish(t, src, e);
    }
    /* The specials follow from the vocabulary; stored ones that differ mean a damaged or foreign file. */
    for (int s = 0; s < TOK_N_SPECIAL && !rc; s++)
        if (t->special[s] != (int32_t)ids[4 + s])
            rc = error_set(e, RP_EINPUT, "%s: corrupt tokenizer file: special token %d is stored as %d, the "
                                         "vocabulary makes it %d", src, s, (int32_t)ids[4 + s], t->special[s]);
    if (rc) {
        tokenizer_free(t);
        return rc;
    }
    *out = t;
    return RP_OK;
}

int tokenizer_save(const Tokenizer *t, const char *path, Error *e) {
    uint8_t *buf;
    size_t n;
    int rc = tokenizer_serialize(t, &buf, &n, e);
    if (rc) return rc;
    rc = atomic_write(path, buf, n, e);
    free(buf);
    return rc;
}

/* ---- GPT-2's files ---- */

/* GPT-2 writes each byte as one printable character: printable Latin-1 bytes stand for
 * themselves, the other 68 bytes for U+0100.. in byte order. Returns code point -> byte (-1). */
static void gpt2_byte_alphabet(int16_t cp_to_byte[512]) {
    for (int i = 0; i < 512; i++) cp_to_byte[i] = -1;
    int next = 256;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        cp_to_byte[printable ? b : next++] = (int16_t)b;
    }
}

/* Decodes a GPT-2 token string (UTF-8 of alphabet characters) into bytes (out may be s itself,
 * or NULL to only count); returns the byte count, or -1 if a character is outside the alphabet. */
static int gpt2_unmap(const int16_t cp_to_byte[512], const char *s, size_t n, char *out) {
    int k = 0;
    for (size_t i = 0; i < n;) {
        unsigned c = (unsigned char)s[i];
        unsigned cp;
        if (c < 0x80) cp = c, i += 1;
        else if ((c & 0xE0) == 0xC0 && i + 1 < n) cp = ((c & 0x1F) << 6) | (s[i + 1] & 0x3F), i += 2;
        else return -1; /* the alphabet ends at U+0143: two UTF-8 bytes at most */
        if (cp >= 512 || cp_to_byte[cp] < 0) return -1;
        if (out) out[k] = (char)cp_to_byte[cp];
        k++;
    }
    return k;
}

static int gpt2_merges(Tokenizer *t, const char *path, const int16_t cp_to_byte[512], const StrMap *ids, Error *e) {
    char *text;
    size_t len;
    int rc = file_read_all(path, &text, &len, e);
    if (rc) return rc;
    char buf[1024];
    int32_t r = 0;
    int line = 0;
    for (char *s = text, *end; s < text + len && !rc; s = end + 1) {
        end = memchr(s, '\n', (size_t)(text + len - s));
        if (!end) end = text + len;
        line++;
        size_t n = (size_t)(end - s);
        if (n && s[n - 1] == '\r') n--;
        if (n == 0 || (line == 1 && s[0] == '#')) continue;
        char *sp = memchr(s, ' ', n);
        int la = sp ? gpt2_unmap(cp_to_byte, s, (size_t)(sp - s), buf) : -1;
        int lb = la > 0 && n < sizeof buf / 2 ? gpt2_unmap(cp_to_byte, sp + 1, n - (size_t)(sp - s) - 1, buf + la) : -1;
        int64_t a, b, c;
        if (lb <= 0) rc = error_set(e, RP_EINPUT, "%s: line %d: expected two tokens separated by one space", path, line);
        else if (!strmap_get(ids, buf, (size_t)la, &a) || !strmap_get(ids, buf + la, (size_t)lb, &b) ||
                 !strmap_get(ids, buf, (size_t)(la + lb), &c))
            rc = error_set(e, RP_EINPUT, "%s: line %d: a token of merge '%.*s' is not in encoder.json", path, line,
                           (int)n, s);
        else if (r >= t->n_merges)
            rc = error_set(e, RP_EINPUT, "%s: line %d: more merges than encoder.json has tokens", path, line);
        else t->merges[r++] = (Merge){(int32_t)a, (int32_t)b, (int32_t)c};
    }
    free(text);
    t->n_merges = r;
    return rc;
}

static int load_gpt2_files(const char *dir, const char *enc_path, const char *bpe_path, Tokenizer **out, Error *e);

static int load_gpt2(const char *dir, Tokenizer **out, Error *e) {
    char *enc_path = xasprintf(e, "%s/encoder.json", dir), *bpe_path = xasprintf(e, "%s/vocab.bpe", dir);
    int rc = enc_path && bpe_path ? load_gpt2_files(dir, enc_path, bpe_path, out, e) : RP_ENOMEM;
    free(enc_path);
    free(bpe_path);
    return rc;
}

/* GPT-2's encoder.json (token -> id) and vocab.bpe (merges in rank order) of directory dir. */
static int load_gpt2_files(const char *dir, const char *enc_path, const char *bpe_path, Tokenizer **out, Error *e) {
    if (!path_exists(bpe_path)) return error_set(e, RP_EINPUT, "%s: missing (a GPT-2 tokenizer directory needs "
                                                               "encoder.json and vocab.bpe)", bpe_path);
    char *text;
    size_t len;
    int rc = file_read_all(enc_path, &text, &len, e);
    if (rc) return rc;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return error_set(e, RP_EINPUT, "%s: not a JSON object of token -> id", enc_path);
    }
    int16_t cp_to_byte[512];
    gpt2_byte_alphabet(cp_to_byte);
    int32_t n = cJSON_GetArraySize(root), eot = -1;
    Tokenizer *t = NULL;
    StrMap ids = {0};
    char **tok = xcalloc((size_t)n + 1, sizeof(char *), e);
    int *tlen = xcalloc((size_t)n + 1, sizeof(int), e);
    size_t total = 0;
    rc = !tok || !tlen ? RP_ENOMEM : strmap_init(&ids, (size_t)n, e);
    for (cJSON *it = root->child; it && !rc; it = it->next) {
        double v = cJSON_IsNumber(it) ? it->valuedouble : -1;
        int32_t id = (int32_t)v;
        size_t kl = strlen(it->string);
        if (v < 0 || v >= n || v != (double)id || tok[id])
            rc = error_set(e, RP_EINPUT, "%s: token '%s': id must be a unique integer in 0..%d", enc_path, it->string,
                           n - 1);
        else if (!strcmp(it->string, TOKENIZER_SPECIAL_TEXT[TOK_EOT])) eot = id, tlen[id] = (int)kl;
        else if ((tlen[id] = gpt2_unmap(cp_to_byte, it->string, kl, NULL)) <= 0)
            rc = error_set(e, RP_EINPUT, "%s: token '%s' is not in GPT-2's byte alphabet", enc_path, it->string);
        else {
            gpt2_unmap(cp_to_byte, it->string, kl, it->string); /* in place: never longer than the text */
            rc = strmap_put(&ids, it->string, (size_t)tlen[id], id, e);
        }
        if (!rc) tok[id] = it->string, total += (size_t)tlen[id];
    }
    if (!rc && eot < 0) rc = error_set(e, RP_EINPUT, "%s: no %s token", enc_path, TOKENIZER_SPECIAL_TEXT[TOK_EOT]);
    for (int s = 1; s < TOK_N_SPECIAL; s++) total += strlen(TOKENIZER_SPECIAL_TEXT[s]);
    if (!rc) rc = tokenizer_alloc(n + TOK_N_SPECIAL - 1, total, n, &t, e);
    if (!rc) {
        uint32_t off = 0;
        for (int32_t id = 0; id < t->n_tokens; id++) {
            const char *s = id < n ? tok[id] : TOKENIZER_SPECIAL_TEXT[id - n + 1];
            size_t l = id < n ? (size_t)tlen[id] : strlen(s);
            t->tok_off[id] = off;
            memcpy(t->tok_bytes + off, s, l);
            off += (uint32_t)l;
        }
        t->tok_off[t->n_tokens] = off;
        t->special[TOK_EOT] = eot;
        for (int s = 1; s < TOK_N_SPECIAL; s++) t->special[s] = n + s - 1;
        rc = gpt2_merges(t, bpe_path, cp_to_byte, &ids, e);
    }
    if (!rc) rc = tokenizer_finish(t, dir, e);
    cJSON_Delete(root);
    strmap_free(&ids);
    free(tok);
    free(tlen);
    if (rc) tokenizer_free(t);
    else *out = t;
    return rc;
}

int tokenizer_load(const char *path, Tokenizer **t, Error *e) {
    struct stat st;
    if (stat(path, &st) != 0) return error_set(e, RP_EINPUT, "%s: cannot open tokenizer: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        char *json = xasprintf(e, "%s/tokenizer.json", path);
        int rc = !json ? RP_ENOMEM : path_exists(json) ? hf_load(path, 1, t, e) : load_gpt2(path, t, e);
        free(json);
        return rc;
    }
    char *buf;
    size_t n;
    int rc = file_read_all(path, &buf, &n, e);
    if (rc) return rc;
    size_t i = 0; /* a JSON object, after any white space, is a tokenizer.json */
    while (i < n && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t')) i++;
    if (i < n && buf[i] == '{') rc = hf_load(path, 0, t, e);
    else rc = tokenizer_deserialize((const uint8_t *)buf, n, path, t, e);
    free(buf);
    return rc;
}

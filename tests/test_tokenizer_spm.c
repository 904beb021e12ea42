/* SentencePiece (SPM) tokenizer tests. Without arguments (label unit): a tiny hand-made vocabulary
 * checks merges by score and their tie rule, byte and unknown fallback, user-defined pieces, the
 * space prefix, specials, round trips, the RPSP format and its corrupt inputs. With --model
 * (label model): Gemma 3 270M's vocabulary from the real GGUF must encode every text of
 * tests/spm_ref.py to exactly llama.cpp's ids, decode back, and survive RPSP bit for bit. */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileio.h"
#include "data/tokenizer.h"
#include "tests/test.h"

#define SP "\xe2\x96\x81" /* ▁ */

/* ---- the tiny vocabulary ---- */

enum { TINY_BYTES = 6, TINY_NORMAL = TINY_BYTES + 256 };

typedef struct {
    const char *pieces[TINY_NORMAL + 32];
    float scores[TINY_NORMAL + 32];
    int32_t types[TINY_NORMAL + 32];
    char bytes[256][7];
    int32_t n;
} Tiny;

static void tiny_add(Tiny *v, const char *piece, float score, int32_t type) {
    v->pieces[v->n] = piece;
    v->scores[v->n] = score;
    v->types[v->n++] = type;
}

/* Ids 0..5 are <pad> <eos> <bos> <unk> <unused0> <unused1>; 6..261 the byte tokens (unless
 * no_bytes); then ▁ a b c ab bc ▁a ▁ab x, and the user-defined "\n" and "  ". ab_score and
 * bc_score decide which pair of "abc" merges first. */
static void tiny_build(Tiny *v, float ab_score, float bc_score, int no_bytes) {
    memset(v, 0, sizeof *v);
    tiny_add(v, "<pad>", 0, SPM_CONTROL);
    tiny_add(v, "<eos>", 0, SPM_CONTROL);
    tiny_add(v, "<bos>", 0, SPM_CONTROL);
    tiny_add(v, "<unk>", 0, SPM_UNKNOWN);
    tiny_add(v, "<unused0>", 0, SPM_CONTROL);
    tiny_add(v, "<unused1>", 0, SPM_UNUSED);
    for (int b = 0; b < 256 && !no_bytes; b++) {
        snprintf(v->bytes[b], sizeof v->bytes[b], "<0x%02X>", b);
        tiny_add(v, v->bytes[b], 0, SPM_BYTE);
    }
    tiny_add(v, SP, -1, SPM_NORMAL);
    tiny_add(v, "a", -2, SPM_NORMAL);
    tiny_add(v, "b", -2, SPM_NORMAL);
    tiny_add(v, "c", -2, SPM_NORMAL);
    tiny_add(v, "ab", ab_score, SPM_NORMAL);
    tiny_add(v, "bc", bc_score, SPM_NORMAL);
    tiny_add(v, SP "a", -3, SPM_NORMAL);
    tiny_add(v, SP "ab", -4, SPM_NORMAL);
    tiny_add(v, "x", -5, SPM_NORMAL);
    tiny_add(v, "\n", 0, SPM_USER_DEFINED);
    tiny_add(v, "  ", 0, SPM_USER_DEFINED);
}

static int32_t tiny_id(const Tiny *v, const char *piece) {
    for (int32_t i = 0; i < v->n; i++)
        if (!strcmp(v->pieces[i], piece)) return i;
    return -1;
}

static const SpmOptions TINY_OPT = {2, 1, 3, 0, 1, 0};

static Tokenizer *tiny_tok(const Tiny *v, const SpmOptions *o) {
    Tokenizer *t = NULL;
    Error e = {0};
    CHECK_OK(tokenizer_from_spm(v->pieces, v->scores, v->types, v->n, o, "tiny", &t, &e), &e);
    return t;
}

/* Encodes text and compares with the pieces named in want (NULL-terminated). */
static void expect_pieces(const Tokenizer *t, const Tiny *v, const char *text, const char *const *want) {
    TokenVec ids;
    tokvec_init(&ids);
    Error e = {0};
    CHECK_OK(tokenizer_encode(t, text, strlen(text), &ids, &e), &e);
    int64_t n = 0;
    while (want[n]) n++;
    int same = ids.n == n;
    for (int64_t i = 0; same && i < n; i++) same = ids.v[i] == tiny_id(v, want[i]);
    CHECK_MSG(same, "'%s': got %lld ids, first %d", text, (long long)ids.n, ids.n ? ids.v[0] : -1);
    tokvec_free(&ids);
}

static void expect_roundtrip(const Tokenizer *t, const char *text, size_t n, const char *want, size_t want_n) {
    TokenVec ids;
    StrBuf back;
    tokvec_init(&ids);
    strbuf_init(&back);
    Error e = {0};
    int rc = tokenizer_encode(t, text, n, &ids, &e);
    if (!rc) rc = tokenizer_decode(t, ids.v, ids.n, &back, &e);
    CHECK_MSG(!rc && back.len == want_n && !memcmp(back.s, want, want_n), "round trip of %zu bytes: %s", n, e.msg);
    tokvec_free(&ids);
    strbuf_free(&back);
}

static void expect_error(int rc, const Error *e, const char *needle1, const char *needle2) {
    CHECK_MSG(rc == RP_EINPUT && strstr(e->msg, needle1) && strstr(e->msg, needle2), "rc %d: %s", rc, e->msg);
}

static void test_merges(void) {
    Tiny v;
    tiny_build(&v, -1.5f, -1.8f, 0); /* "ab" outscores "bc" */
    Tokenizer *t = tiny_tok(&v, &TINY_OPT);
    expect_pieces(t, &v, "abc", (const char *[]){"ab", "c", NULL});
    /* "▁a" (-3) and "ab" (-1.5) compete for the a of " abc": ab wins, then ▁+ab -> ▁ab. */
    expect_pieces(t, &v, " abc", (const char *[]){SP "ab", "c", NULL});
    expect_pieces(t, &v, "xabx", (const char *[]){"x", "ab", "x", NULL});
    tokenizer_free(t);
    tiny_build(&v, -1.8f, -1.5f, 0); /* "bc" outscores "ab" */
    t = tiny_tok(&v, &TINY_OPT);
    expect_pieces(t, &v, "abc", (const char *[]){"a", "bc", NULL});
    tokenizer_free(t);
    tiny_build(&v, -1.5f, -1.5f, 0); /* a tie: the leftmost pair merges */
    t = tiny_tok(&v, &TINY_OPT);
    expect_pieces(t, &v, "abc", (const char *[]){"ab", "c", NULL});
    expect_pieces(t, &v, "bcab", (const char *[]){"bc", "ab", NULL});
    tokenizer_free(t);
}

static void test_fallback_and_user(void) {
    Tiny v;
    tiny_build(&v, -1.5f, -1.8f, 0);
    Tokenizer *t = tiny_tok(&v, &TINY_OPT);
    /* é is no piece: its two bytes; a lone continuation byte is a character of its own. */
    expect_pieces(t, &v, "a\xc3\xa9", (const char *[]){"a", "<0xC3>", "<0xA9>", NULL});
    expect_pieces(t, &v, "\xa9" "b", (const char *[]){"<0xA9>", "b", NULL});
    /* User-defined pieces split the text before merging; the longest ("  ") first. */
    expect_pieces(t, &v, "a   b\n\nc", (const char *[]){"a", "  ", SP, "b", "\n", "\n", "c", NULL});
    /* Control, unknown and unused pieces never come out of text. */
    expect_pieces(t, &v, "<eos>", (const char *[]){"<0x3C>", "<0x65>", "<0x6F>", "<0x73>", "<0x3E>", NULL});
    TokenVec ids;
    tokvec_init(&ids);
    Error e = {0};
    CHECK_OK(tokenizer_encode(t, "", 0, &ids, &e), &e);
    CHECK(ids.n == 0);
    tokvec_free(&ids);
    /* Round trips with all byte tokens present: any valid UTF-8, and any bytes without spaces
     * (docs/tokenizer.md: an invalid lead byte swallows the ▁ of a space after it). */
    static const char *const chars[] = {"a", "b", "c", " ", "  ", "\n", "x", "\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x98\x80"};
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    char buf[1200];
    for (int k = 0; k < 600; k++) {
        size_t n = 0;
        for (int i = 0; i < k % 300; i++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            if (k % 2) {
                const char *c = chars[(s >> 33) % 10];
                memcpy(buf + n, c, strlen(c));
                n += strlen(c);
            } else if ((buf[n] = (char)(s >> 56)) != ' ') n++;
        }
        if (memmem(buf, n, SP, 3)) continue;
        expect_roundtrip(t, buf, n, buf, n);
    }
    /* A literal ▁ is SentencePiece's space: it comes back as one. */
    expect_roundtrip(t, SP "a" SP, 7, " a ", 3);
    /* Decoding: control pieces as their text, byte tokens as bytes, ▁ as space. */
    StrBuf out;
    strbuf_init(&out);
    int32_t dec[] = {1, tiny_id(&v, SP "ab"), 6 + 0x41, 5};
    CHECK_OK(tokenizer_decode(t, dec, 4, &out, &e), &e);
    CHECK_STR(out.s, "<eos> abA<unused1>");
    int32_t bad = v.n;
    CHECK(tokenizer_decode(t, &bad, 1, &out, &e) == RP_EINPUT && strstr(e.msg, "outside"));
    strbuf_free(&out);
    CHECK(tokenizer_special(t, TOK_EOT) == 1 && tokenizer_special(t, TOK_REASONING) == 4 &&
          tokenizer_special(t, TOK_ANSWER) == 5 && tokenizer_vocab_size(t) == v.n && tokenizer_bos(t) == 2);
    tokenizer_free(t);

    /* Without byte tokens the unknown token stands in; with add_space_prefix each run gets ▁. */
    tiny_build(&v, -1.5f, -1.8f, 1);
    SpmOptions o = TINY_OPT;
    o.add_bos = 0;
    o.add_space_prefix = 1;
    t = tiny_tok(&v, &o);
    expect_pieces(t, &v, "ab\xc3\xa9", (const char *[]){SP "ab", "<unk>", "<unk>", NULL});
    expect_pieces(t, &v, "a\nab", (const char *[]){SP "a", "\n", SP "ab", NULL});
    expect_roundtrip(t, "ab", 2, " ab", 3);
    CHECK(tokenizer_bos(t) == -1);
    tokenizer_free(t);
}

static void test_bad_vocab(void) {
    Tiny v;
    Tokenizer *t = NULL;
    Error e = {0};
    tiny_build(&v, -1.5f, -1.8f, 0);
    v.pieces[5] = "<unused7>";
    expect_error(tokenizer_from_spm(v.pieces, v.scores, v.types, v.n, &TINY_OPT, "bad.gguf", &t, &e), &e,
                 "bad.gguf", "<unused1>");
    tiny_build(&v, -1.5f, -1.8f, 0);
    v.types[4] = SPM_NORMAL; /* a reserved marker that text could produce */
    expect_error(tokenizer_from_spm(v.pieces, v.scores, v.types, v.n, &TINY_OPT, "bad.gguf", &t, &e), &e,
                 "bad.gguf", "<unused0>");
    tiny_build(&v, -1.5f, -1.8f, 0);
    v.pieces[v.n - 1] = "a";
    expect_error(tokenizer_from_spm(v.pieces, v.scores, v.types, v.n, &TINY_OPT, "bad.gguf", &t, &e), &e,
                 "bad.gguf", "both 'a'");
    tiny_build(&v, -1.5f, -1.8f, 0);
    v.pieces[6] = "<0xZZ>";
    expect_error(tokenizer_from_spm(v.pieces, v.scores, v.types, v.n, &TINY_OPT, "bad.gguf", &t, &e), &e,
                 "bad.gguf", "token 6");
    tiny_build(&v, -1.5f, -1.8f, 0);
    v.types[7] = 9;
    expect_error(tokenizer_from_spm(v.pieces, v.scores, v.types, v.n, &TINY_OPT, "bad.gguf", &t, &e), &e,
                 "bad.gguf", "type 9");
    tiny_build(&v, -1.5f, -1.8f, 0);
    SpmOptions o = TINY_OPT;
    o.eos = -1;
    expect_error(tokenizer_from_spm(v.pieces, v.scores, v.types, v.n, &o, "bad.gguf", &t, &e), &e, "bad.gguf", "eos");
    o = TINY_OPT;
    o.bos = -1;
    expect_error(tokenizer_from_spm(v.pieces, v.scores, v.types, v.n, &o, "bad.gguf", &t, &e), &e, "bad.gguf", "bos");
    o = TINY_OPT;
    o.unk = v.n;
    expect_error(tokenizer_from_spm(v.pieces, v.scores, v.types, v.n, &o, "bad.gguf", &t, &e), &e, "bad.gguf",
                 "unknown_token");
    CHECK(t == NULL);
}

static void put_u32(uint8_t *p, uint32_t x) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(x >> (8 * i));
}

/* Zlib's CRC-32, written independently of the library so the test can forge a valid checksum. */
static uint32_t crc32_ref(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

/* Serializes t, checks it loads back to the same bytes and the same encoding of text. */
static void check_serial(const Tokenizer *t, const char *text, const char *tmpdir) {
    uint8_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    Error e = {0};
    Tokenizer *u = NULL, *w = NULL;
    CHECK_OK(tokenizer_serialize(t, &a, &na, &e), &e);
    CHECK(na >= 4 && !memcmp(a, "RPSP", 4));
    CHECK_OK(tokenizer_deserialize(a, na, "ckpt", &u, &e), &e);
    if (u) CHECK_OK(tokenizer_serialize(u, &b, &nb, &e), &e);
    CHECK(b && na == nb && !memcmp(a, b, na));
    char path[4200];
    snprintf(path, sizeof path, "%s/spm.tok", tmpdir);
    CHECK_OK(tokenizer_save(t, path, &e), &e);
    CHECK_OK(tokenizer_load(path, &w, &e), &e);
    TokenVec x, y, z;
    tokvec_init(&x), tokvec_init(&y), tokvec_init(&z);
    if (u && w) {
        CHECK_OK(tokenizer_encode(t, text, strlen(text), &x, &e), &e);
        CHECK_OK(tokenizer_encode(u, text, strlen(text), &y, &e), &e);
        CHECK_OK(tokenizer_encode(w, text, strlen(text), &z, &e), &e);
        CHECK(x.n == y.n && x.n == z.n && !memcmp(x.v, y.v, 4 * (size_t)x.n) && !memcmp(x.v, z.v, 4 * (size_t)x.n));
        CHECK(tokenizer_bos(u) == tokenizer_bos(t) && tokenizer_special(u, TOK_ANSWER) == tokenizer_special(t, TOK_ANSWER));
    }
    tokvec_free(&x), tokvec_free(&y), tokvec_free(&z);
    tokenizer_free(u);
    tokenizer_free(w);
    free(a);
    free(b);
}

static void test_serial(const char *tmpdir) {
    Tiny v;
    tiny_build(&v, -1.5f, -1.8f, 0);
    Tokenizer *t = tiny_tok(&v, &TINY_OPT), *u = NULL;
    check_serial(t, " abc\n  x\xc3\xa9", tmpdir);
    uint8_t *a;
    size_t n;
    Error e = {0};
    CHECK_OK(tokenizer_serialize(t, &a, &n, &e), &e);
    uint8_t *c = malloc(n);
    /* Every damaged copy is refused with RP_EINPUT naming the source. */
    memcpy(c, a, n);
    c[n / 2] ^= 0x10;
    expect_error(tokenizer_deserialize(c, n, "ckpt.h5:/tokenizer", &u, &e), &e, "ckpt.h5:/tokenizer", "checksum");
    expect_error(tokenizer_deserialize(a, n - 1, "ckpt.h5:/tokenizer", &u, &e), &e, "ckpt.h5:/tokenizer", "truncated");
    expect_error(tokenizer_deserialize(a, 20, "ckpt.h5:/tokenizer", &u, &e), &e, "ckpt.h5:/tokenizer", "truncated");
    memcpy(c, a, n);
    put_u32(c + 4, 2);
    expect_error(tokenizer_deserialize(c, n, "ckpt.h5:/tokenizer", &u, &e), &e, "ckpt.h5:/tokenizer", "version 2");
    memcpy(c, a, n);
    put_u32(c + 8, 0x7fffffff);
    expect_error(tokenizer_deserialize(c, n, "ckpt.h5:/tokenizer", &u, &e), &e, "ckpt.h5:/tokenizer", "corrupt");
    /* Valid checksums over wrong content: the answer id, then a byte token's spelling. */
    memcpy(c, a, n);
    put_u32(c + 40, 3);
    put_u32(c + n - 4, crc32_ref(c, n - 4));
    expect_error(tokenizer_deserialize(c, n, "ckpt.h5:/tokenizer", &u, &e), &e, "ckpt.h5:/tokenizer", "special");
    memcpy(c, a, n);
    size_t text_at = 48 + 9 * (size_t)v.n;
    CHECK(!memcmp(c + text_at + strlen("<pad><eos><bos><unk><unused0><unused1>"), "<0x00>", 6));
    c[text_at + strlen("<pad><eos><bos><unk><unused0><unused1>") + 3] = 'G';
    put_u32(c + n - 4, crc32_ref(c, n - 4));
    expect_error(tokenizer_deserialize(c, n, "ckpt.h5:/tokenizer", &u, &e), &e, "ckpt.h5:/tokenizer", "<0xG0>");
    CHECK(u == NULL);
    free(c);
    free(a);
    tokenizer_free(t);
}

/* ---- the real vocabulary (--model) ---- */

static int hexval(char c) { return c <= '9' ? c - '0' : (c | 32) - 'a' + 10; }

/* Decodes hex (or "-" for empty) from s up to a separator into a new NUL-terminated buffer. */
static char *unhex(const char *s, const char **end, size_t *n) {
    size_t k = strcspn(s, " \t\n");
    *end = s + k;
    *n = s[0] == '-' ? 0 : k / 2;
    char *out = malloc(*n + 1);
    for (size_t i = 0; i < *n; i++) out[i] = (char)(hexval(s[2 * i]) * 16 + hexval(s[2 * i + 1]));
    out[*n] = 0;
    return out;
}

static Tokenizer *load_ref_vocab(const char *dir, const char *gguf, int32_t **types_out) {
    char path[4200], *text;
    size_t len;
    Error e = {0};
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    if (file_read_all(path, &text, &len, &e)) {
        CHECK_MSG(0, "%s", e.msg);
        return NULL;
    }
    int n, ids[4], add_bos, prefix, off;
    if (sscanf(text, "spm_ref 1 %d %d %d %d %d %d %d%n", &n, &ids[0], &ids[1], &ids[2], &ids[3], &add_bos, &prefix,
               &off) != 7) {
        CHECK_MSG(0, "%s: bad header", path);
        free(text);
        return NULL;
    }
    char **pieces = calloc((size_t)n, sizeof(char *));
    float *scores = calloc((size_t)n, sizeof(float));
    int32_t *types = calloc((size_t)n, sizeof(int32_t));
    const char *p = text + off;
    for (int i = 0; i < n; i++) { /* strtol, not sscanf: sscanf measures the whole rest of text */
        char *q;
        types[i] = (int32_t)strtol(p, &q, 10);
        uint32_t bits = (uint32_t)strtoul(q, &q, 16);
        memcpy(&scores[i], &bits, 4);
        size_t plen;
        pieces[i] = unhex(q + 1, &p, &plen);
    }
    SpmOptions o = {ids[0], ids[1], ids[2], ids[3], add_bos, prefix};
    Tokenizer *t = NULL;
    CHECK_OK(tokenizer_from_spm((const char *const *)pieces, scores, types, n, &o, gguf, &t, &e), &e);
    for (int i = 0; i < n; i++) free(pieces[i]);
    free(pieces);
    free(scores);
    free(text);
    *types_out = types;
    return t;
}

static int run_model(const char *tmpdir) {
    const char *src = getenv("RESTPG_SOURCE_DIR") ? getenv("RESTPG_SOURCE_DIR") : ".";
    char cmd[8800], python[4200] = "", gguf[4200] = "", line[4200];
    snprintf(cmd, sizeof cmd, "bash '%s/scripts/model_env.sh'", src);
    FILE *f = popen(cmd, "r");
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!strncmp(line, "python=", 7)) snprintf(python, sizeof python, "%s", line + 7);
        if (!strncmp(line, "gguf=", 5)) snprintf(gguf, sizeof gguf, "%s", line + 5);
    }
    if (!f || pclose(f) != 0 || !python[0] || !gguf[0]) {
        fprintf(stderr, "scripts/model_env.sh failed: no python= / gguf= lines\n");
        return 1;
    }
    snprintf(cmd, sizeof cmd, "'%s' '%s/tests/spm_ref.py' '%s' '%s'", python, src, gguf, tmpdir);
    int rc = system(cmd);
    if (rc != -1 && WEXITSTATUS(rc) == 77) return 77;
    CHECK_MSG(rc == 0, "%s exited %d", cmd, rc);
    int32_t *types = NULL;
    Tokenizer *t = rc == 0 ? load_ref_vocab(tmpdir, gguf, &types) : NULL;
    if (!t) return test_summary("test_tokenizer_spm --model");

    /* Gemma 3: <bos> 2 starts sequences, <eos> 1 ends documents, <unused0>/<unused1> (6, 7). */
    CHECK(tokenizer_vocab_size(t) == 262144 && tokenizer_bos(t) == 2 && tokenizer_special(t, TOK_EOT) == 1 &&
          tokenizer_special(t, TOK_REASONING) == 6 && tokenizer_special(t, TOK_ANSWER) == 7);
    char path[4200], *text;
    size_t len;
    Error e = {0};
    snprintf(path, sizeof path, "%s/cases.txt", tmpdir);
    if (file_read_all(path, &text, &len, &e)) {
        CHECK_MSG(0, "%s", e.msg);
        return 1;
    }
    int cases = 0, same_ids = 0, same_text = 0;
    TokenVec ids;
    StrBuf back;
    tokvec_init(&ids);
    strbuf_init(&back);
    for (const char *p = text; p < text + len && *p; cases++) {
        size_t n, dn;
        char *s = unhex(p, &p, &n);
        TokenVec want;
        tokvec_init(&want);
        for (p++; *p != '\t';) {
            if (*p == '-') p++;
            else tokvec_push(&want, (int32_t)strtol(p, (char **)&p, 10), &e);
            while (*p == ' ') p++;
        }
        char *detok = unhex(p + 1, &p, &dn);
        p++;
        ids.n = 0;
        strbuf_clear(&back);
        CHECK_OK(tokenizer_encode(t, s, n, &ids, &e), &e);
        int ok = ids.n == want.n && !memcmp(ids.v, want.v, 4 * (size_t)ids.n);
        same_ids += ok;
        CHECK_MSG(ok, "case %d '%.60s': %lld ids, llama.cpp %lld", cases, s, (long long)ids.n, (long long)want.n);
        for (int64_t i = 0; i < ids.n; i++)
            if (types[ids.v[i]] == SPM_CONTROL || types[ids.v[i]] == SPM_UNKNOWN) ok = 0;
        CHECK_MSG(ok, "case %d: a control token came out of text", cases);
        /* decode(encode(x)) == x, with any literal ▁ read back as the space it stands for; and
         * it equals llama.cpp's detokenization of the same ids. */
        CHECK_OK(tokenizer_decode(t, ids.v, ids.n, &back, &e), &e);
        for (char *q; (q = memmem(s, n, SP, 3));) {
            *q = ' ';
            memmove(q + 1, q + 3, n - (size_t)(q + 3 - s));
            n -= 2;
        }
        ok = back.len == n && !memcmp(back.s, s, n) && dn == n && !memcmp(detok, s, n);
        same_text += ok;
        CHECK_MSG(ok, "case %d '%.60s': decodes to '%.60s'", cases, s, back.s);
        tokvec_free(&want);
        free(s);
        free(detok);
    }
    printf("gemma3 vocabulary: %d texts, %d with llama.cpp's ids, %d decoded back\n", cases, same_ids, same_text);
    CHECK(cases >= 360);
    check_serial(t, "Hello <eos> world\n\n  \t日本語 😀", tmpdir);
    tokvec_free(&ids);
    strbuf_free(&back);
    free(text);
    free(types);
    tokenizer_free(t);
    return test_summary("test_tokenizer_spm --model");
}

/* Removes what the tests wrote, so runs do not pile up. */
static void cleanup(const char *dir) {
    static const char *const files[] = {"spm.tok", "vocab.txt", "cases.txt"};
    char path[4200];
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

int main(int argc, char **argv) {
    const char *base = getenv("RESTPG_TEST_TMP") ? getenv("RESTPG_TEST_TMP") : "/tmp";
    char tmpdir[4096];
    snprintf(tmpdir, sizeof tmpdir, "%s/spm.XXXXXX", base);
    if (!mkdtemp(tmpdir)) return fprintf(stderr, "cannot make a directory under %s\n", base), 1;
    int rc;
    if (argc > 1 && !strcmp(argv[1], "--model")) rc = run_model(tmpdir);
    else {
        test_merges();
        test_fallback_and_user();
        test_bad_vocab();
        test_serial(tmpdir);
        rc = test_summary("test_tokenizer_spm");
    }
    cleanup(tmpdir);
    return rc;
}

/* Tokenizer training: the incremental trainer against a naive one that recounts every pair at
 * every step, vocabulary size and early stop, special tokens, round trips, determinism, and
 * save/load/serialize giving the same bytes. */
#include <stdlib.h>
#include <unistd.h>

#include "core/fileio.h"
#include "data/tokenizer.h"
#include "data/tokenizer_internal.h"
#include "tests/test.h"

/* Real text from the repository, one text per line (blank lines dropped). */
typedef struct {
    char *buf;
    char **texts;
    int64_t n;
    size_t bytes;
} Corpus;

static void corpus_load(Corpus *c) {
    const char *root = getenv("RESTPG_SOURCE_DIR") ? getenv("RESTPG_SOURCE_DIR") : ".";
    const char *files[] = {"DEVELOPERS.md", "data/tokenizer.c", "data/tokenizer_io.c", "data/gpt2/LICENSE.txt",
                           "tests/reference/make_gpt2_refs.py"};
    StrBuf all;
    strbuf_init(&all);
    for (int i = 0; i < 5; i++) {
        Error e;
        char path[4096], *text;
        size_t len;
        snprintf(path, sizeof path, "%s/%s", root, files[i]);
        int got = file_read_all(path, &text, &len, &e);
        CHECK_OK(got, &e);
        if (got) continue;
        strbuf_append(&all, text, len, &e);
        strbuf_append(&all, "\n", 1, &e);
        free(text);
    }
    c->buf = all.s;
    c->bytes = all.len;
    c->texts = malloc(sizeof(char *) * (all.len + 1));
    c->n = 0;
    for (char *line = strtok(c->buf, "\n"); line; line = strtok(NULL, "\n")) c->texts[c->n++] = line;
}

/* ---- the naive reference trainer ---- */

typedef struct {
    int32_t *s;
    int n;
    int64_t count;
} Word;

typedef struct {
    Word *w;
    int n, cap;
} Words;

static int collect(const char *s, size_t n, void *arg) {
    Words *ws = arg;
    for (int i = 0; i < ws->n; i++) {
        Word *w = &ws->w[i];
        if ((size_t)w->n != n) continue;
        int same = 1;
        for (size_t k = 0; k < n && same; k++) same = w->s[k] == (unsigned char)s[k];
        if (same) {
            w->count++;
            return 0;
        }
    }
    if (ws->n == ws->cap) {
        ws->cap = ws->cap ? 2 * ws->cap : 256;
        ws->w = realloc(ws->w, sizeof(Word) * (size_t)ws->cap);
    }
    Word *w = &ws->w[ws->n++];
    w->s = malloc(sizeof(int32_t) * (n + 1));
    w->n = (int)n;
    w->count = 1;
    for (size_t k = 0; k < n; k++) w->s[k] = (unsigned char)s[k];
    return 0;
}

/* Recounts all pairs each step; takes the most frequent, the smallest (left, right) on ties. */
static int naive_train(const Corpus *c, int max_merges, Merge *out) {
    Error e;
    pcre2_code *re;
    CHECK_OK(pretok_compile(&re, &e), &e);
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    Words ws = {0};
    for (int64_t i = 0; i < c->n; i++) pretok_walk(re, md, c->texts[i], strlen(c->texts[i]), collect, &ws, &e);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    int32_t vocab = 256 + max_merges;
    int64_t *count = malloc(sizeof(int64_t) * (size_t)vocab * (size_t)vocab);
    int k = 0;
    for (; k < max_merges; k++) {
        memset(count, 0, sizeof(int64_t) * (size_t)vocab * (size_t)vocab);
        for (int i = 0; i < ws.n; i++)
            for (int j = 0; j + 1 < ws.w[i].n; j++) count[ws.w[i].s[j] * vocab + ws.w[i].s[j + 1]] += ws.w[i].count;
        int64_t best = 0;
        for (int64_t p = 1; p < (int64_t)vocab * vocab; p++)
            if (count[p] > count[best]) best = p;
        if (count[best] < 2) break;
        int32_t a = (int32_t)(best / vocab), b = (int32_t)(best % vocab), x = 256 + k;
        out[k] = (Merge){a, b, x};
        for (int i = 0; i < ws.n; i++) {
            Word *w = &ws.w[i];
            int o = 0;
            for (int j = 0; j < w->n;) {
                if (j + 1 < w->n && w->s[j] == a && w->s[j + 1] == b) w->s[o++] = x, j += 2;
                else w->s[o++] = w->s[j++];
            }
            w->n = o;
        }
    }
    for (int i = 0; i < ws.n; i++) free(ws.w[i].s);
    free(ws.w);
    free(count);
    return k;
}

static int round_trips(const Tokenizer *t, const char *s, size_t n, int64_t *n_ids) {
    Error e;
    TokenVec ids;
    StrBuf out;
    tokvec_init(&ids);
    strbuf_init(&out);
    int ok = tokenizer_encode(t, s, n, &ids, &e) == RP_OK && tokenizer_decode(t, ids.v, ids.n, &out, &e) == RP_OK &&
             out.len == n && (n == 0 || !memcmp(out.s, s, n));
    if (n_ids) *n_ids = ids.n;
    tokvec_free(&ids);
    strbuf_free(&out);
    return ok;
}

static int same_bytes(const Tokenizer *a, const Tokenizer *b) {
    Error e;
    uint8_t *x, *y;
    size_t nx, ny;
    if (tokenizer_serialize(a, &x, &nx, &e) || tokenizer_serialize(b, &y, &ny, &e)) return 0;
    int same = nx == ny && !memcmp(x, y, nx);
    free(x);
    free(y);
    return same;
}

static void check_tiny(void) {
    Error e;
    /* Pre-tokens "ab", " ab", " ab", " cd": (a,b) occurs 3 times, then (" ", ab) twice; nothing
     * else twice, so training stops after two merges whatever size was asked. */
    char *texts[] = {"ab ab ab cd"};
    Tokenizer *t = NULL;
    CHECK_OK(tokenizer_train(texts, 1, 1000, &t, &e), &e);
    if (!t) return;
    CHECK(tokenizer_vocab_size(t) == 256 + 2 + TOK_N_SPECIAL);
    CHECK(t->n_merges == 2 && t->merges[0].left == 'a' && t->merges[0].right == 'b');
    CHECK(t->merges[1].left == ' ' && t->merges[1].right == 256);
    TokenVec ids;
    tokvec_init(&ids);
    CHECK_OK(tokenizer_encode(t, "ab ab cd", 8, &ids, &e), &e);
    CHECK(ids.n == 5 && ids.v[0] == 256 && ids.v[1] == 257 && ids.v[2] == ' ' && ids.v[3] == 'c' && ids.v[4] == 'd');
    tokvec_free(&ids);
    tokenizer_free(t);

    char *once[] = {"ab", "cd"};
    CHECK_OK(tokenizer_train(once, 2, 300, &t, &e), &e);
    if (t) CHECK(tokenizer_vocab_size(t) == 256 + TOK_N_SPECIAL);
    tokenizer_free(t);
    t = NULL;
    CHECK(tokenizer_train(once, 2, 258, &t, &e) == RP_EINPUT && strstr(e.msg, "vocab size 258"));
    CHECK(t == NULL);
    /* No texts at all still gives a usable byte-level tokenizer. */
    CHECK_OK(tokenizer_train(NULL, 0, 500, &t, &e), &e);
    if (t) CHECK(round_trips(t, "x\xffy", 3, NULL));
    tokenizer_free(t);
}

int main(void) {
    Error e;
    Corpus c;
    corpus_load(&c);
    CHECK(c.n > 100);

    check_tiny();

    /* The incremental trainer makes exactly the naive trainer's merges. */
    const int ref_merges = 600;
    Merge *ref = malloc(sizeof(Merge) * ref_merges);
    int n_ref = naive_train(&c, ref_merges, ref);
    CHECK(n_ref == ref_merges);
    Tokenizer *t = NULL;
    CHECK_OK(tokenizer_train(c.texts, c.n, 256 + ref_merges + TOK_N_SPECIAL, &t, &e), &e);
    if (t) {
        int first_diff = -1;
        for (int k = 0; k < n_ref && first_diff < 0; k++)
            if (t->merges[k].left != ref[k].left || t->merges[k].right != ref[k].right) first_diff = k;
        CHECK_MSG(t->n_merges == n_ref && first_diff < 0, "%d merges vs %d naive; first difference at %d",
                  t->n_merges, n_ref, first_diff);
    }
    tokenizer_free(t);
    free(ref);

    /* A larger vocabulary: size respected, specials last, round trips, compresses. */
    const int vocab = 1500;
    CHECK_OK(tokenizer_train(c.texts, c.n, vocab, &t, &e), &e);
    if (!t) return test_summary("test_tokenizer_train");
    CHECK_MSG(tokenizer_vocab_size(t) == vocab, "vocab %d", tokenizer_vocab_size(t));
    for (int s = 0; s < TOK_N_SPECIAL; s++) {
        int32_t id = tokenizer_special(t, (SpecialToken)s);
        CHECK(id == vocab - TOK_N_SPECIAL + s);
        StrBuf out;
        strbuf_init(&out);
        CHECK_OK(tokenizer_decode(t, &id, 1, &out, &e), &e);
        CHECK_STR(out.s, TOKENIZER_SPECIAL_TEXT[s]);
        strbuf_free(&out);
    }
    int64_t n_ids = 0;
    CHECK(round_trips(t, c.buf, c.bytes, &n_ids)); /* strtok left NULs between lines: still bytes */
    CHECK_MSG(n_ids > 0 && (double)n_ids < 0.5 * (double)c.bytes, "%lld tokens for %zu bytes", (long long)n_ids,
              c.bytes);
    const char *odd = "\xff\xfe<|endoftext|>\xe4\xb8 caf\xc3\xa9 \xf0\x9f\x98\x80\x80";
    CHECK(round_trips(t, odd, strlen(odd), NULL));
    TokenVec ids;
    tokvec_init(&ids);
    CHECK_OK(tokenizer_encode(t, "<|endoftext|>", 13, &ids, &e), &e);
    for (int64_t i = 0; i < ids.n; i++) CHECK(ids.v[i] < vocab - TOK_N_SPECIAL);
    tokvec_free(&ids);

    /* Deterministic: the same texts give the same bytes. */
    Tokenizer *t2 = NULL;
    CHECK_OK(tokenizer_train(c.texts, c.n, vocab, &t2, &e), &e);
    if (t2) CHECK(same_bytes(t, t2));
    tokenizer_free(t2);

    /* Save, load, serialize and deserialize all give the same bytes and the same encoding. */
    char path[4096];
    const char *tmp = getenv("RESTPG_TEST_TMP");
    snprintf(path, sizeof path, "%s/test_tokenizer_train_%d.tok", tmp ? tmp : "/tmp", (int)getpid());
    CHECK_OK(tokenizer_save(t, path, &e), &e);
    Tokenizer *loaded = NULL;
    CHECK_OK(tokenizer_load(path, &loaded, &e), &e);
    if (loaded) {
        CHECK(same_bytes(t, loaded));
        CHECK(tokenizer_vocab_size(loaded) == vocab);
        int64_t n2 = 0;
        CHECK(round_trips(loaded, c.buf, c.bytes, &n2) && n2 == n_ids);
        char *file;
        size_t flen;
        uint8_t *ser;
        size_t sn;
        CHECK_OK(file_read_all(path, &file, &flen, &e), &e);
        CHECK_OK(tokenizer_serialize(loaded, &ser, &sn, &e), &e);
        CHECK(flen == sn && !memcmp(file, ser, sn));
        Tokenizer *back = NULL;
        CHECK_OK(tokenizer_deserialize(ser, sn, "memory", &back, &e), &e);
        if (back) CHECK(same_bytes(back, t));
        tokenizer_free(back);
        free(ser);
        free(file);
    }
    tokenizer_free(loaded);
    unlink(path);
    tokenizer_free(t);
    free(c.texts);
    free(c.buf);
    return test_summary("test_tokenizer_train");
}

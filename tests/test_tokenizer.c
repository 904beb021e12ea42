/* Tokenizer with GPT-2's vocabulary: exact ids against an independent implementation
 * (tests/reference/gpt2_encodings.jsonl, made by make_gpt2_refs.py with HF tokenizers), byte
 * round trips on random and invalid UTF-8, concurrent encoders, RPTK save/load, and the errors
 * wrong, truncated or corrupt files give. */
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/fileio.h"
#include "data/tokenizer.h"
#include "tests/test.h"

static const char *src_dir(void) {
    const char *s = getenv("RESTPG_SOURCE_DIR");
    return s ? s : ".";
}

static void tmp_path(char *out, size_t n, const char *name) {
    const char *tmp = getenv("RESTPG_TEST_TMP");
    snprintf(out, n, "%s/test_tokenizer_%d_%s", tmp ? tmp : "/tmp", (int)getpid(), name);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint32_t rng(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

/* Encodes then decodes; returns 1 if the bytes come back exactly and no special id appears. */
static int round_trips(const Tokenizer *t, const char *s, size_t n) {
    Error e;
    TokenVec ids;
    StrBuf out;
    tokvec_init(&ids);
    strbuf_init(&out);
    int ok = tokenizer_encode(t, s, n, &ids, &e) == RP_OK && tokenizer_decode(t, ids.v, ids.n, &out, &e) == RP_OK &&
             out.len == n && (n == 0 || !memcmp(out.s, s, n));
    for (int64_t i = 0; i < ids.n; i++)
        for (int k = 0; k < TOK_N_SPECIAL; k++) ok &= ids.v[i] != tokenizer_special(t, (SpecialToken)k);
    tokvec_free(&ids);
    strbuf_free(&out);
    return ok;
}

static size_t unhex(const char *h, char *out) {
    size_t n = strlen(h) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    return n;
}

/* Every reference line must encode to exactly its ids and decode back. Returns cases checked. */
static int check_gpt2_refs(const Tokenizer *t, const char *label) {
    Error e;
    char path[4096], *text;
    size_t len;
    snprintf(path, sizeof path, "%s/tests/reference/gpt2_encodings.jsonl", src_dir());
    int got = file_read_all(path, &text, &len, &e);
    CHECK_OK(got, &e);
    if (got) return 0;
    int cases = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *j = cJSON_Parse(line);
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(j, "name"));
        const char *hex = cJSON_GetStringValue(cJSON_GetObjectItem(j, "utf8_hex"));
        cJSON *want = cJSON_GetObjectItem(j, "ids");
        CHECK(name && hex && cJSON_IsArray(want));
        if (!name || !hex || !cJSON_IsArray(want)) {
            cJSON_Delete(j);
            continue;
        }
        char *s = malloc(strlen(hex) / 2 + 1);
        size_t n = unhex(hex, s);
        TokenVec ids;
        tokvec_init(&ids);
        CHECK_OK(tokenizer_encode(t, s, n, &ids, &e), &e);
        int64_t at = 0;
        cJSON *w = want->child;
        for (; w && at < ids.n && ids.v[at] == (int32_t)w->valuedouble; w = w->next) at++;
        CHECK_MSG(!w && at == ids.n, "%s: case '%s': %lld ids, reference %d, first difference at id %lld", label,
                  name, (long long)ids.n, cJSON_GetArraySize(want), (long long)at);
        CHECK_MSG(round_trips(t, s, n), "%s: case '%s' does not round-trip", label, name);
        tokvec_free(&ids);
        free(s);
        cJSON_Delete(j);
        cases++;
    }
    free(text);
    return cases;
}

static void check_random_round_trips(const Tokenizer *t) {
    /* Valid pieces of several classes and invalid sequences: lone continuation, truncated
     * multi-byte, surrogate, beyond U+10FFFF, overlong, bytes 0xF8..0xFF. */
    static const char *pieces[] = {"a", "Z", "7", " ", "  ", "\n", "\t", "'", "'s", "'ll", ".", "é", "中", "😀",
                                   "\xc2\xa0", "\x80", "\xbf", "\xc3", "\xe4\xb8", "\xf0\x9f\x98", "\xed\xa0\x80",
                                   "\xf4\x90\x80\x80", "\xc0\xaf", "\xf8", "\xfe\xff", "\x00", "word", " the"};
    const int n_pieces = (int)(sizeof pieces / sizeof pieces[0]);
    char buf[4096];
    int bad = 0;
    for (int trial = 0; trial < 600; trial++) {
        size_t n = 0;
        if (trial % 2) {
            size_t len = rng() % 400;
            for (; n < len; n++) buf[n] = (char)(rng() & 0xff);
        } else {
            int k = (int)(rng() % 200);
            for (int i = 0; i < k; i++) {
                const char *p = pieces[rng() % n_pieces];
                size_t l = p[0] ? strlen(p) : 1; /* "\x00" is one NUL byte */
                memcpy(buf + n, p, l);
                n += l;
            }
        }
        bad += !round_trips(t, buf, n);
    }
    CHECK_MSG(bad == 0, "%d of 600 random byte strings did not round-trip", bad);
    size_t big = 1 << 18;
    char *s = malloc(big);
    for (size_t i = 0; i < big; i++) s[i] = (char)(rng() % 3 ? 'a' + rng() % 26 : rng() & 0xff);
    CHECK(round_trips(t, s, big));
    memset(s, 'x', big); /* one pre-token of 256 KiB: the heap merge path */
    CHECK(round_trips(t, s, big));
    free(s);
}

static void check_real_text(const Tokenizer *t) {
    const char *files[] = {"DEVELOPERS.md", "data/tokenizer.c", "data/gpt2/LICENSE.txt"};
    for (int i = 0; i < 3; i++) {
        Error e;
        char path[4096], *text;
        size_t len;
        snprintf(path, sizeof path, "%s/%s", src_dir(), files[i]);
        int got = file_read_all(path, &text, &len, &e);
        CHECK_OK(got, &e);
        if (got) continue;
        CHECK_MSG(round_trips(t, text, len), "%s does not round-trip", files[i]);
        TokenVec ids;
        tokvec_init(&ids);
        CHECK_OK(tokenizer_encode(t, text, len, &ids, &e), &e);
        CHECK_MSG(ids.n > 0 && (size_t)ids.n < len / 2, "%s: %lld tokens for %zu bytes", files[i], (long long)ids.n,
                  len);
        tokvec_free(&ids);
        free(text);
    }
}

typedef struct {
    const Tokenizer *t;
    const char *s;
    size_t n;
    TokenVec ids;
    int rc;
} Job;

static void *encode_job(void *arg) {
    Job *j = arg;
    Error e;
    for (int r = 0; r < 3 && !j->rc; r++) {
        j->ids.n = 0;
        j->rc = tokenizer_encode(j->t, j->s, j->n, &j->ids, &e);
    }
    return NULL;
}

/* Two threads share one tokenizer (and its memo) and must get the serial answer. */
static void check_concurrent(const Tokenizer *t) {
    Error e;
    char path[4096], *text;
    size_t len;
    snprintf(path, sizeof path, "%s/DEVELOPERS.md", src_dir());
    int got = file_read_all(path, &text, &len, &e);
    CHECK_OK(got, &e);
    if (got) return;
    TokenVec serial;
    tokvec_init(&serial);
    CHECK_OK(tokenizer_encode(t, text, len, &serial, &e), &e);
    Job jobs[2] = {{t, text, len, {0}, 0}, {t, text, len, {0}, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&th[i], NULL, encode_job, &jobs[i]) == 0);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].rc == RP_OK && jobs[i].ids.n == serial.n &&
              !memcmp(jobs[i].ids.v, serial.v, sizeof(int32_t) * (size_t)serial.n));
        tokvec_free(&jobs[i].ids);
    }
    tokvec_free(&serial);
    free(text);
}

static void write_file(const char *path, const void *p, size_t n) {
    Error e;
    CHECK_OK(atomic_write(path, p, n, &e), &e);
}

static uint32_t crc32_ref(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFu;
}

/* Loading `path` fails with RP_EINPUT and a message naming `name` and containing `what`. */
static void expect_bad(const char *path, const char *name, const char *what) {
    Error e;
    Tokenizer *t = NULL;
    int rc = tokenizer_load(path, &t, &e);
    CHECK_MSG(rc == RP_EINPUT && strstr(e.msg, name) && strstr(e.msg, what), "%s: rc %d, message '%s' (want '%s')",
              path, rc, e.msg, what);
    if (!rc) tokenizer_free(t);
}

static void check_bad_files(const Tokenizer *gpt2) {
    Error e;
    char path[4096], dir[4096], file[4200];
    uint8_t *buf;
    size_t n;
    int got = tokenizer_serialize(gpt2, &buf, &n, &e);
    CHECK_OK(got, &e);
    if (got) return;
    tmp_path(path, sizeof path, "bad.tok");

    expect_bad(path, path, "cannot open");
    buf[0] = 'X';
    write_file(path, buf, n);
    expect_bad(path, path, "magic");
    buf[0] = 'R';
    buf[4] = 2;
    write_file(path, buf, n);
    expect_bad(path, path, "version 2");
    buf[4] = 1;
    write_file(path, buf, n / 2);
    expect_bad(path, path, "truncated");
    write_file(path, buf, 30);
    expect_bad(path, path, "truncated");
    uint8_t garbage[1000];
    for (size_t i = 0; i < sizeof garbage; i++) garbage[i] = (uint8_t)rng();
    write_file(path, garbage, sizeof garbage);
    expect_bad(path, path, "magic");
    buf[n / 2] ^= 0x40;
    write_file(path, buf, n);
    expect_bad(path, path, "checksum");
    buf[n / 2] ^= 0x40;
    /* A valid checksum over inconsistent content: the first merge's result becomes token 0. */
    uint32_t n_merges = buf[12] | (uint32_t)buf[13] << 8 | (uint32_t)buf[14] << 16 | (uint32_t)buf[15] << 24;
    size_t merges_at = n - 4 - 12 * (size_t)n_merges;
    memset(buf + merges_at + 8, 0, 4);
    uint32_t crc = crc32_ref(buf, n - 4);
    for (int i = 0; i < 4; i++) buf[n - 4 + i] = (uint8_t)(crc >> (8 * i));
    write_file(path, buf, n);
    expect_bad(path, path, "merge 0");
    Tokenizer *t = NULL;
    CHECK(tokenizer_deserialize(buf, n, "ckpt.h5:/tokenizer", &t, &e) == RP_EINPUT);
    CHECK(strstr(e.msg, "ckpt.h5:/tokenizer") != NULL);
    unlink(path);
    free(buf);

    /* GPT-2 directories missing a file, or with a broken encoder.json. */
    tmp_path(dir, sizeof dir, "gpt2dir");
    CHECK(mkdir(dir, 0755) == 0);
    snprintf(file, sizeof file, "%s/vocab.bpe", dir);
    expect_bad(dir, file, "missing");
    write_file(file, "#version: 0.2\nh e\n", strlen("#version: 0.2\nh e\n"));
    snprintf(file, sizeof file, "%s/encoder.json", dir);
    expect_bad(dir, file, "cannot open");
    write_file(file, "{\"h\": 0, ", strlen("{\"h\": 0, "));
    expect_bad(dir, file, "JSON");
    write_file(file, "{\"h\": 0, \"e\": 0}", strlen("{\"h\": 0, \"e\": 0}"));
    expect_bad(dir, file, "unique");
    unlink(file);
    snprintf(file, sizeof file, "%s/vocab.bpe", dir);
    unlink(file);
    rmdir(dir);
}

static void check_specials_and_decode(const Tokenizer *t) {
    Error e;
    CHECK(tokenizer_vocab_size(t) == 50259);
    CHECK(tokenizer_special(t, TOK_EOT) == 50256);
    CHECK(tokenizer_special(t, TOK_REASONING) == 50257);
    CHECK(tokenizer_special(t, TOK_ANSWER) == 50258);
    int32_t ids[3] = {50257, 50258, 50256};
    StrBuf out;
    strbuf_init(&out);
    CHECK_OK(tokenizer_decode(t, ids, 3, &out, &e), &e);
    CHECK_STR(out.s, "<|reasoning|><|answer|><|endoftext|>");
    int32_t bad[2] = {15496, 50259};
    CHECK(tokenizer_decode(t, bad, 2, &out, &e) == RP_EINPUT && strstr(e.msg, "50259"));
    bad[1] = -1;
    CHECK(tokenizer_decode(t, bad, 2, &out, &e) == RP_EINPUT);
    strbuf_free(&out);
}

int main(void) {
    Error e;
    char dir[4096], path[4096];
    snprintf(dir, sizeof dir, "%s/data/gpt2", src_dir());
    Tokenizer *t = NULL;
    CHECK_OK(tokenizer_load(dir, &t, &e), &e);
    if (!t) return test_summary("test_tokenizer");
    CHECK(check_gpt2_refs(t, "gpt2 dir") >= 90);
    check_specials_and_decode(t);
    check_random_round_trips(t);
    check_real_text(t);
    check_concurrent(t);

    /* The GPT-2 vocabulary saved as RPTK loads back identical and encodes identically. */
    tmp_path(path, sizeof path, "gpt2.tok");
    CHECK_OK(tokenizer_save(t, path, &e), &e);
    Tokenizer *r = NULL;
    CHECK_OK(tokenizer_load(path, &r, &e), &e);
    if (r) {
        uint8_t *a, *b;
        size_t na, nb;
        CHECK_OK(tokenizer_serialize(t, &a, &na, &e), &e);
        CHECK_OK(tokenizer_serialize(r, &b, &nb, &e), &e);
        CHECK(na == nb && !memcmp(a, b, na));
        free(a);
        free(b);
        CHECK(check_gpt2_refs(r, "gpt2 rptk") >= 90);
        check_specials_and_decode(r);
        tokenizer_free(r);
    }
    unlink(path);
    check_bad_files(t);
    tokenizer_free(t);
    return test_summary("test_tokenizer");
}

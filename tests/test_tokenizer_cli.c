/* `restpg tokenizer train|encode|decode`: trains on a small dataset built here with the Dataset
 * API, round-trips bytes through encode | decode pipes (trained and GPT-2 vocabularies), checks
 * the CLI's ids equal the library's, and that bad input exits 2 with a message naming it. */
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fileio.h"
#include "data/dataset.h"
#include "data/tokenizer.h"
#include "tests/test.h"

static char dir[4096];

/* Runs a shell command line; returns its exit status (-1 if it did not exit normally). */
static int sh(const char *fmt, ...) {
    char cmd[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *name, size_t *n) {
    char path[4200], *s = NULL;
    Error e;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (file_read_all(path, &s, n, &e)) return NULL;
    return s;
}

static void put(const char *name, const char *s, size_t n) {
    char path[4200];
    Error e;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    CHECK_OK(atomic_write(path, s, n, &e), &e);
}

static void build_dataset(const char *path) {
    Error e;
    Dataset d;
    static const char *subjects[] = {"Quarterly report", "Lunch on Friday?", "Re: the build is broken again",
                                     "Café meeting notes", "Holiday schedule"};
    static const char *bodies[] = {
        "Hi team, the quarterly numbers are in and they look good. Revenue grew 12% over last quarter.",
        "Are we still on for lunch on Friday? I'd suggest the new place near the station, around 12:30.",
        "The nightly build failed again; it's the linker step. I've pinned the toolchain, please retry.",
        "Notes from the café: we'll ship the beta next week, then gather feedback from early users.",
        "Reminder: the office is closed from Dec 24 to Jan 2. Enjoy the holidays and rest well!"};
    CHECK_OK(dataset_init(&d, "email_completion", &e), &e);
    for (int i = 0; i < 12; i++) {
        char id[32], user[32];
        snprintf(id, sizeof id, "ex%d", i);
        snprintf(user, sizeof user, "u%d", i % 3);
        CHECK_OK(dataset_add(&d, id, user, i < 8 ? "train" : "test", subjects[i % 5], bodies[(i + 1) % 5], NULL, &e),
                 &e);
        for (int j = 0; j < 3; j++) {
            const char *item[2] = {subjects[(i + j) % 5], bodies[(i + j) % 5]};
            CHECK_OK(dataset_add_item(&d, item, &e), &e);
        }
    }
    CHECK_OK(dataset_write(&d, path, &e), &e);
    dataset_free(&d);
}

/* encode | decode through pipes gives back the input bytes; the ids equal the library's. */
static void check_pipes(const char *restpg, const char *tok) {
    Error e;
    static const char input[] = "Hello,  world!\n\tIt's 2024 — café ☕ 中文 😀 <|endoftext|>\xff\xfe\xe4\xb8 end  ";
    size_t n_in = sizeof input - 1, n_out = 0, n_ids = 0;
    put("in.txt", input, n_in);
    CHECK(sh("'%s' tokenizer encode --tokenizer '%s' < '%s/in.txt' > '%s/ids.txt'", restpg, tok, dir, dir) == 0);
    CHECK(sh("'%s' tokenizer encode --tokenizer '%s' < '%s/in.txt' | '%s' tokenizer decode --tokenizer '%s' > "
             "'%s/out.txt'",
             restpg, tok, dir, restpg, tok, dir) == 0);
    char *out = slurp("out.txt", &n_out), *ids = slurp("ids.txt", &n_ids);
    CHECK_MSG(out && n_out == n_in && !memcmp(out, input, n_in), "%s: round trip gave %zu bytes for %zu", tok, n_out,
              n_in);
    Tokenizer *t = NULL;
    CHECK_OK(tokenizer_load(tok, &t, &e), &e);
    if (t && ids) {
        TokenVec want;
        tokvec_init(&want);
        CHECK_OK(tokenizer_encode(t, input, n_in, &want, &e), &e);
        char *p = ids;
        int64_t k = 0, same = 1;
        for (char *end; k < want.n; k++, p = end) {
            long v = strtol(p, &end, 10);
            if (end == p || v != want.v[k]) same = 0;
        }
        while (*p == ' ' || *p == '\n') p++;
        CHECK_MSG(same && *p == '\0', "%s: CLI ids differ from the library's", tok);
        tokvec_free(&want);
    }
    tokenizer_free(t);
    free(out);
    free(ids);
    /* Empty input: no ids, and decoding nothing gives nothing. */
    CHECK(sh("printf '' | '%s' tokenizer encode --tokenizer '%s' | '%s' tokenizer decode --tokenizer '%s' > "
             "'%s/empty.txt'",
             restpg, tok, restpg, tok, dir) == 0);
    out = slurp("empty.txt", &n_out);
    CHECK(out && n_out == 0);
    free(out);
}

int main(void) {
    const char *restpg = getenv("RESTPG"), *src = getenv("RESTPG_SOURCE_DIR"), *tmp = getenv("RESTPG_TEST_TMP");
    if (!restpg || !src) {
        fprintf(stderr, "test_tokenizer_cli: RESTPG and RESTPG_SOURCE_DIR must be set (run through ctest)\n");
        return 1;
    }
    Error e;
    snprintf(dir, sizeof dir, "%s/test_tokenizer_cli_%d", tmp ? tmp : "/tmp", (int)getpid());
    CHECK_OK(mkdir_p(dir, &e), &e);
    char data[4200], tok[4200], gpt2[4200];
    snprintf(data, sizeof data, "%s/emails.h5", dir);
    snprintf(tok, sizeof tok, "%s/emails.tok", dir);
    snprintf(gpt2, sizeof gpt2, "%s/data/gpt2", src);
    build_dataset(data);

    CHECK(sh("'%s' tokenizer train --data '%s' --vocab-size 400 --out '%s' > '%s/train.log'", restpg, data, tok, dir) ==
          0);
    Tokenizer *t = NULL;
    CHECK_OK(tokenizer_load(tok, &t, &e), &e);
    if (t) CHECK(tokenizer_vocab_size(t) > 256 + 3 && tokenizer_vocab_size(t) <= 400);
    tokenizer_free(t);
    check_pipes(restpg, tok);
    check_pipes(restpg, gpt2);

    /* Training on one split only still works and gives a (smaller or equal) vocabulary. */
    CHECK(sh("'%s' tokenizer train --data '%s' --split test --vocab-size 300 --out '%s/test.tok' > /dev/null", restpg,
             data, dir) == 0);

    /* Bad input: exit status 2 and a message naming what was wrong. */
    put("bad.tok", "RPTK\x02\0\0\0 garbage", 16);
    CHECK(sh("echo hi | '%s' tokenizer encode --tokenizer '%s/bad.tok' 2> '%s/err.txt' > /dev/null", restpg, dir,
             dir) == 2);
    size_t n;
    char *err = slurp("err.txt", &n);
    CHECK_MSG(err && strstr(err, "bad.tok") && strstr(err, "version 2"), "stderr: %s", err ? err : "(none)");
    free(err);
    CHECK(sh("echo '15496 abc' | '%s' tokenizer decode --tokenizer '%s' 2> '%s/err.txt' > /dev/null", restpg, gpt2,
             dir) == 2);
    err = slurp("err.txt", &n);
    CHECK_MSG(err && strstr(err, "token 1") && strstr(err, "'abc'"), "stderr: %s", err ? err : "(none)");
    free(err);
    CHECK(sh("echo '15496 99999' | '%s' tokenizer decode --tokenizer '%s' 2> /dev/null > /dev/null", restpg, gpt2) == 2);
    CHECK(sh("'%s' tokenizer train --data '%s/none.h5' --out '%s/x.tok' 2> /dev/null", restpg, dir, dir) == 2);
    CHECK(sh("'%s' tokenizer train --data '%s' --out '%s/x.tok' --split dev 2> /dev/null", restpg, data, dir) == 2);
    CHECK(sh("'%s' tokenizer train --data '%s' --out '%s/x.tok' --vocab-size 100 2> /dev/null", restpg, data, dir) == 2);
    CHECK(sh("'%s' tokenizer encode < /dev/null 2> /dev/null", restpg) == 2);
    CHECK(sh("'%s' tokenizer encode --tokenizer '%s/nowhere' < /dev/null 2> /dev/null", restpg, dir) == 2);

    sh("rm -rf '%s'", dir);
    return test_summary("test_tokenizer_cli");
}

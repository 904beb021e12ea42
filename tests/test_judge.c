/* External judge protocol: correct answers, batching, retry after a crash, and every failure mode
 * ending in a clear error (never a hang). Uses tests/data/judge.py. */
#include <stdlib.h>
#include <unistd.h>

#include "core/log.h"
#include "reward/judge.h"
#include "tests/test.h"

static char script[1024];
static JudgeItem items[5] = {
    {"a", "in", "red green blue", "r", "red green"},
    {"b", "in", "one two", "r", "one two"},
    {"c", "in", "x", "r", "y"},
    {"d", "in", "alpha beta gamma delta", "r", "beta"},
    {"e", "in", "", "r", "anything"},
};

static int run_mode(const char *mode, const char *arg2, double timeout, int retries, double *rw, Error *e) {
    char *argv[] = {"/usr/bin/python3", script, (char *)mode, (char *)arg2, NULL};
    Judge j;
    int rc = judge_start(&j, argv, timeout, 2, retries, e);
    if (!rc) rc = judge_score(&j, items, 5, rw, e);
    judge_stop(&j);
    return rc;
}

int main(void) {
    Error e;
    error_clear(&e);
    snprintf(script, sizeof script, "%s/tests/data/judge.py", getenv("RESTPG_SOURCE_DIR"));
    double rw[5];

    CHECK_OK(run_mode("ok", NULL, 10, 0, rw, &e), &e);
    CHECK_NEAR(rw[0], 2.0 / 3.0, 1e-12);
    CHECK_NEAR(rw[1], 1.0, 1e-12);
    CHECK_NEAR(rw[2], 0.0, 1e-12);
    CHECK_NEAR(rw[3], 0.25, 1e-12);

    const struct {
        const char *mode, *needle;
    } bad[] = {
        {"badjson", "not a JSON object"}, {"wrongid", "unknown id 'nope'"}, {"twice", "twice"},
        {"nan", "not a JSON object"},     {"range", "outside [0, 1]"},      {"missing", "'reward' missing"},
        {"crash", "exited with status 3"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        int rc = run_mode(bad[k].mode, NULL, 10, 0, rw, &e);
        CHECK_MSG(rc != RP_OK && strstr(e.msg, bad[k].needle), "mode %s: rc %d msg %s", bad[k].mode, rc, e.msg);
        CHECK_MSG(strstr(e.msg, "judge.py") || strstr(e.msg, "python3"), "mode %s names the judge: %s", bad[k].mode, e.msg);
    }

    /* A hanging judge times out (and with one retry times out again) instead of blocking. */
    double t0 = time_now();
    int rc = run_mode("hang", NULL, 0.5, 1, rw, &e);
    CHECK(rc == RP_EIO && strstr(e.msg, "no answer within 0.5 s"));
    CHECK(time_now() - t0 < 10.0);

    /* A judge that crashes once is restarted and the batch resent. */
    char marker[512];
    const char *tmp = getenv("RESTPG_TEST_TMP");
    snprintf(marker, sizeof marker, "%s/judge_marker_%d", tmp ? tmp : "/tmp", (int)getpid());
    unlink(marker);
    CHECK_OK(run_mode("crash-once", marker, 10, 1, rw, &e), &e);
    CHECK_NEAR(rw[1], 1.0, 1e-12);
    unlink(marker);
    /* Without retries the same crash is an error. */
    CHECK(run_mode("crash-once", marker, 10, 0, rw, &e) == RP_EIO);
    unlink(marker);

    char *missing[] = {"/nonexistent/judge", NULL};
    Judge j;
    CHECK(judge_start(&j, missing, 1, 1, 0, &e) == RP_EINPUT && strstr(e.msg, "cannot run '/nonexistent/judge'"));
    judge_stop(&j);

    char **argv = NULL;
    CHECK_OK(judge_argv_parse("[\"python3\", \"a b.py\"]", &argv, &e), &e);
    CHECK(argv && !strcmp(argv[1], "a b.py") && argv[2] == NULL);
    judge_argv_free(argv);
    CHECK_OK(judge_argv_parse("  python3   judge.py  ok ", &argv, &e), &e);
    CHECK(argv && !strcmp(argv[2], "ok") && argv[3] == NULL);
    judge_argv_free(argv);
    CHECK(judge_argv_parse("[1]", &argv, &e) == RP_EINPUT);
    return test_summary("test_judge");
}

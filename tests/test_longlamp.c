/* LongLaMP import: both published shapes of all four tasks (the fixtures in tests/data/longlamp),
 * field mapping, numbers, derived ids and users, split names, and the messages of bad input. */
#include <stdlib.h>
#include <unistd.h>

#include "data/longlamp.h"
#include "tests/test.h"

/* The fixtures' folder: from ctest's environment, else next to this source file. */
static void fixture(char *buf, size_t n, const char *name) {
    const char *s = getenv("RESTPG_SOURCE_DIR");
    if (s) snprintf(buf, n, "%s/tests/data/longlamp/%s", s, name);
    else snprintf(buf, n, "%.*s/data/longlamp/%s", (int)(strrchr(__FILE__, '/') - __FILE__), __FILE__, name);
}

/* Imports a fixture of `task` (JSON Lines when outputs is NULL) into a fresh dataset; returns
 * 1 on success (a failure is counted and d is freed). */
static int load(Dataset *d, const char *task, const char *input, const char *outputs, const char *split, Error *e) {
    char in[1024], out[1024];
    fixture(in, sizeof in, input);
    if (outputs) fixture(out, sizeof out, outputs);
    CHECK_OK(dataset_init(d, task, e), e);
    int rc = longlamp_import(d, in, outputs ? out : NULL, split, e);
    CHECK_OK(rc, e);
    if (rc) dataset_free(d);
    return rc == RP_OK;
}

static void test_jsonl(void) {
    Error e;
    Dataset d;
    if (!load(&d, "abstract_generation", "abstract_generation.jsonl", NULL, "train", &e)) return;
    CHECK(d.n == 2 && d.n_items == 3);
    CHECK_STR(d.id[0], "train-1");
    CHECK_STR(d.id[1], "train-2");
    CHECK_STR(d.user[0], "Ada Lovelace");
    CHECK_STR(d.output[1], "Can machines think? We replace the question with a game.");
    CHECK_STR(dataset_item(&d, 0, 1)[0], "Poetical science");
    CHECK_STR(dataset_item(&d, 0, 1)[1], "imagination is the discovering faculty .");
    CHECK(dataset_n_items(&d, 1) == 1);
    CHECK_OK(dataset_validate(&d, "abstract", &e), &e);
    dataset_free(&d);

    if (!load(&d, "product_review", "product_review.jsonl", NULL, "test", &e)) return;
    CHECK(d.n == 1 && dataset_n_items(&d, 0) == 3);
    CHECK_STR(d.user[0], "A1B2C3");
    CHECK_STR(d.split[0], "test");
    CHECK_STR(d.id[0], "test-1");
    /* Ratings render like Python floats; a string rating is kept as written. */
    CHECK_STR(dataset_item(&d, 0, 0)[0], "5.0");
    CHECK_STR(dataset_item(&d, 0, 1)[0], "4.0");
    CHECK_STR(dataset_item(&d, 0, 2)[0], "3.5");
    CHECK_STR(dataset_item(&d, 0, 0)[3], "Heats evenly and lasts forever.");
    CHECK_STR(dataset_item(&d, 0, 1)[2], "A ceramic mug");
    dataset_free(&d);

    /* Both topic variants in one file land in summary/content. */
    if (!load(&d, "topic_writing", "topic_writing.jsonl", NULL, "val", &e)) return;
    CHECK(d.n == 2 && d.n_items == 3);
    CHECK_STR(d.user[1], "redditor_2");
    CHECK_STR(dataset_item(&d, 0, 0)[0], "My first tomato harvest");
    CHECK_STR(dataset_item(&d, 0, 1)[1], "A worm bin under the sink works better than you think.");
    CHECK_STR(dataset_item(&d, 1, 0)[0], "Vinyl versus streaming");
    CHECK_STR(dataset_item(&d, 1, 0)[1], "Records sound warmer to me, though that may be nostalgia.");
    dataset_free(&d);

    if (!load(&d, "email_completion", "email_completion.jsonl", NULL, "train", &e)) return;
    CHECK(d.n == 2);
    CHECK_STR(d.user[0], "emp-17");
    CHECK_STR(d.user[1], "emp-42"); /* the `user` spelling */
    CHECK_STR(dataset_item(&d, 1, 0)[1], "Thursday works, see you at noon.");
    dataset_free(&d);
}

static void test_github(void) {
    Error e;
    Dataset d;
    /* Golds in another order than the questions; no user_id -> the example is its own user. */
    if (!load(&d, "abstract_generation", "abstract_generation_questions.json", "abstract_generation_outputs.json", "val", &e)) return;
    CHECK(d.n == 2 && d.n_items == 3);
    CHECK_STR(d.id[0], "ag-100");
    CHECK_STR(d.user[0], "ag-100");
    CHECK_STR(d.output[0], "Sparse attention scales to long sequences.");
    CHECK_STR(d.output[1], "We distil a large model into a tiny one.");
    CHECK_STR(dataset_item(&d, 1, 1)[0], "Pruning");
    dataset_free(&d);

    if (!load(&d, "product_review", "product_review_questions.json", "product_review_outputs.json", "test", &e)) return;
    CHECK(d.n == 1);
    CHECK_STR(d.user[0], "R77");
    CHECK_STR(dataset_item(&d, 0, 0)[0], "2.0");
    dataset_free(&d);

    /* Integer ids on both sides; the input/output topic variant. */
    if (!load(&d, "topic_writing", "topic_writing_questions.json", "topic_writing_outputs.json", "train", &e)) return;
    CHECK(d.n == 1 && d.n_items == 2);
    CHECK_STR(d.id[0], "501");
    CHECK_STR(d.user[0], "redditor_9");
    CHECK_STR(d.output[0], "Start with two balls and count out loud.");
    CHECK_STR(dataset_item(&d, 0, 1)[0], "Kite surfing");
    CHECK_STR(dataset_item(&d, 0, 1)[1], "The wind was perfect at the beach.");
    dataset_free(&d);

    if (!load(&d, "email_completion", "email_completion_questions.json", "email_completion_outputs.json", "test", &e)) return;
    CHECK(d.n == 2);
    CHECK_STR(d.user[0], "emp-3");
    CHECK_STR(d.user[1], "emp-3");
    CHECK_STR(d.output[1], "the nightly backup failed; I reran it by hand.");
    dataset_free(&d);
}

static void test_splits_and_tasks(void) {
    Error e;
    const char *c = NULL;
    CHECK_OK(longlamp_split_name("dev", &c, &e), &e);
    CHECK_STR(c, "val");
    CHECK_OK(longlamp_split_name("validation", &c, &e), &e);
    CHECK_STR(c, "val");
    CHECK_OK(longlamp_split_name("test", &c, &e), &e);
    CHECK_STR(c, "test");
    CHECK(longlamp_split_name("holdout", &c, &e) == RP_EINPUT);
    CHECK(strstr(e.msg, "'holdout'") != NULL);

    Dataset d;
    char in[1024];
    fixture(in, sizeof in, "email_completion.jsonl");
    CHECK_OK(dataset_init(&d, "synthetic", &e), &e);
    CHECK(longlamp_import(&d, in, NULL, "train", &e) == RP_EINPUT);
    CHECK(strstr(e.msg, "not a LongLaMP task") != NULL);
    dataset_free(&d);
}

/* Writes text to a temp file and imports it as JSON Lines of `task`; returns the status and
 * leaves the message in e. */
static int import_text(const char *task, const char *text, char *path, size_t n, Error *e) {
    const char *tmp = getenv("RESTPG_TEST_TMP");
    snprintf(path, n, "%s/test_longlamp_%d.jsonl", tmp ? tmp : "/tmp", (int)getpid());
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
    Dataset d;
    dataset_init(&d, task, e);
    int rc = longlamp_import(&d, path, NULL, "train", e);
    dataset_free(&d);
    unlink(path);
    return rc;
}

#define ROW(user, extra) "{\"name\": \"" user "\", \"input\": \"i\", \"output\": \"o\", \"profile\": [{\"title\": \"t\", \"abstract\": \"a\"}]" extra "}\n"

static void test_bad_rows(void) {
    Error e;
    char path[512];
    /* Each case: the status is RP_EINPUT and the message names the file, line and field. */
    CHECK(import_text("abstract_generation", ROW("u", "") "\n{\"name\": 1,\n", path, sizeof path, &e) == RP_EINPUT);
    CHECK_MSG(strstr(e.msg, path) && strstr(e.msg, "line 3, column") && strstr(e.msg, "malformed JSON"), "%s", e.msg);

    CHECK(import_text("abstract_generation", "{\"name\": \"u\", \"input\": \"i\", \"output\": [\"o\"], \"profile\": []}\n", path,
                      sizeof path, &e) == RP_EINPUT);
    CHECK_MSG(strstr(e.msg, "line 1 (id 'train-1'): field 'output': expected a string, got a list"), "%s", e.msg);

    CHECK(import_text("abstract_generation", "{\"name\": \"u\", \"input\": 3, \"output\": \"o\", \"profile\": []}\n", path,
                      sizeof path, &e) == RP_EINPUT);
    CHECK_MSG(strstr(e.msg, "line 1 (id 'train-1'): field 'input': expected a string, got a number"), "%s", e.msg);

    CHECK(import_text("abstract_generation", "{\"name\": \"u\", \"input\": \"i\", \"profile\": [{\"title\": \"t\", \"abstract\": \"a\"}]}\n",
                      path, sizeof path, &e) == RP_EINPUT);
    CHECK_MSG(strstr(e.msg, path) && strstr(e.msg, "field 'output': missing"), "%s", e.msg);

    CHECK(import_text("abstract_generation", ROW("u", "") "{\"id\": \"x9\", \"name\": \"v\", \"input\": \"i\", \"output\": \"o\", \"profile\": [{\"title\": \"t\"}]}\n",
                      path, sizeof path, &e) == RP_EINPUT);
    CHECK_MSG(strstr(e.msg, "line 2 (id 'x9'): field 'profile[0].abstract': missing"), "%s", e.msg);

    CHECK(import_text("product_review", "{\"reviewerId\": \"r\", \"input\": \"i\", \"output\": \"o\", \"profile\": [{\"overall\": true, \"summary\": \"s\", \"description\": \"d\", \"reviewText\": \"t\"}]}\n",
                      path, sizeof path, &e) == RP_EINPUT);
    CHECK_MSG(strstr(e.msg, "field 'profile[0].overall': expected a string or a number, got a boolean"), "%s", e.msg);

    /* Only `overall` may be a number. */
    CHECK(import_text("product_review", "{\"reviewerId\": \"r\", \"input\": \"i\", \"output\": \"o\", \"profile\": [{\"overall\": 1, \"summary\": 2, \"description\": \"d\", \"reviewText\": \"t\"}]}\n",
                      path, sizeof path, &e) == RP_EINPUT);
    CHECK_MSG(strstr(e.msg, "field 'profile[0].summary': expected a string, got a number"), "%s", e.msg);

    CHECK(import_text("abstract_generation", "{\"name\": \"u\", \"input\": \"i\", \"output\": \"bad \xC3\x28 byte\", \"profile\": [{\"title\": \"t\", \"abstract\": \"a\"}]}\n",
                      path, sizeof path, &e) == RP_EINPUT);
    CHECK_MSG(strstr(e.msg, "line 1") && strstr(e.msg, "field 'output': invalid UTF-8 at byte 4"), "%s", e.msg);

    CHECK(import_text("abstract_generation", "{\"name\": \"u\", \"input\": \"i\", \"output\": \"o\", \"profile\": []}\n", path,
                      sizeof path, &e) == RP_EINPUT);
    CHECK_MSG(strstr(e.msg, "field 'profile': is empty"), "%s", e.msg);

    CHECK(import_text("abstract_generation", ROW("u", ", \"id\": \"a\"") ROW("v", ", \"id\": \"a\""), path, sizeof path, &e) == RP_EINPUT);
    CHECK_MSG(strstr(e.msg, "line 2 (id 'a'): field 'id': duplicate id 'a'"), "%s", e.msg);

    CHECK(import_text("abstract_generation", "[1, 2]\n", path, sizeof path, &e) == RP_EINPUT);
    CHECK_MSG(strstr(e.msg, "needs --outputs"), "%s", e.msg);

    CHECK(import_text("abstract_generation", "\"just a string\"\n", path, sizeof path, &e) == RP_EINPUT);
    CHECK_MSG(strstr(e.msg, "line 1: expected a JSON object per line, got a string"), "%s", e.msg);

    CHECK(import_text("abstract_generation", "{\"author\": \"u\", \"input\": \"i\", \"output\": \"o\", \"profile\": [{\"title\": \"t\", \"abstract\": \"a\"}]}\n",
                      path, sizeof path, &e) == RP_EINPUT);
    CHECK_MSG(strstr(e.msg, "field 'name': missing"), "%s", e.msg);

    CHECK(import_text("topic_writing", "{\"author\": \"u\", \"input\": \"i\", \"output\": \"o\", \"profile\": [{\"summary\": \"s\", \"output\": \"c\"}]}\n",
                      path, sizeof path, &e) == RP_EINPUT);
    CHECK_MSG(strstr(e.msg, "field 'profile[0].content': missing") && strstr(e.msg, "input/output"), "%s", e.msg);

    CHECK(import_text("abstract_generation", "\n  \n", path, sizeof path, &e) == RP_EINPUT);
    CHECK_MSG(strstr(e.msg, "no rows"), "%s", e.msg);

    Dataset d;
    dataset_init(&d, "abstract_generation", &e);
    CHECK(longlamp_import(&d, "/nonexistent/x.jsonl", NULL, "train", &e) == RP_EINPUT);
    CHECK_MSG(strstr(e.msg, "/nonexistent/x.jsonl: cannot open"), "%s", e.msg);
    dataset_free(&d);
}

/* A line far longer than any stdio buffer still parses. */
static void test_long_line(void) {
    Error e;
    char path[512];
    size_t n = 3u << 20;
    char *big = malloc(n + 256);
    strcpy(big, "{\"name\": \"u\", \"input\": \"i\", \"output\": \"");
    size_t k = strlen(big);
    memset(big + k, 'x', n);
    strcpy(big + k + n, "\", \"profile\": [{\"title\": \"t\", \"abstract\": \"a\"}]}\n");
    const char *tmp = getenv("RESTPG_TEST_TMP");
    snprintf(path, sizeof path, "%s/test_longlamp_big_%d.jsonl", tmp ? tmp : "/tmp", (int)getpid());
    FILE *f = fopen(path, "wb");
    fputs(big, f);
    fputs(big, f);
    fclose(f);
    Dataset d;
    dataset_init(&d, "abstract_generation", &e);
    CHECK_OK(longlamp_import(&d, path, NULL, "train", &e), &e);
    CHECK(d.n == 2 && strlen(d.output[1]) == n);
    CHECK_STR(d.id[1], "train-2");
    dataset_free(&d);
    unlink(path);
    free(big);
}

int main(void) {
    test_jsonl();
    test_github();
    test_splits_and_tasks();
    test_bad_rows();
    test_long_line();
    return test_summary("test_longlamp");
}

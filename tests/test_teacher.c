/* The built-in reasoning teacher: it names the user's recurring topics and phrasing that shape
 * the output, reports length and tone, and never copies more than TEACHER_MAX_COPY consecutive
 * words of the expected output, even when the output repeats the profile verbatim. */
#include <stdlib.h>

#include "data/teacher.h"
#include "tests/test.h"

static void add_items(Dataset *d, const char *const *bodies, int n, Error *e) {
    for (int k = 0; k < n; k++) {
        const char *vals[2] = {"a title", bodies[k]};
        CHECK_OK(dataset_add_item(d, vals, e), e);
    }
}

int main(void) {
    Error e;
    error_clear(&e);
    Dataset d;
    CHECK_OK(dataset_init(&d, "synthetic", &e), &e);
    const char *profile[] = {
        "Sourdough baking needs patience. My starter loves rye flour and a warm kitchen!",
        "I bake sourdough every weekend; rye flour gives the crumb a deep flavour.",
        "Hiking in autumn: the trail was muddy but the views were worth it.",
        "Another sourdough loaf today. Rye flour again, longer proof, better oven spring!",
    };
    const char *output = "This week my sourdough used rye flour and a long cold proof. The oven spring was great, "
                         "and the crumb stayed open and soft. I will bake it again!";
    CHECK_OK(dataset_add(&d, "ex1", "u1", "train", "Write a note about bread", output, NULL, &e), &e);
    add_items(&d, profile, 4, &e);
    /* An adversarial example whose output is a profile item verbatim. */
    CHECK_OK(dataset_add(&d, "ex2", "u1", "train", "Write a note", profile[1], NULL, &e), &e);
    add_items(&d, profile, 4, &e);

    int64_t items[4] = {0, 1, 2, 3};
    StrBuf r;
    strbuf_init(&r);
    CHECK_OK(teacher_reason(&d, 0, items, 4, &r, &e), &e);
    printf("reasoning for ex1:\n%s\n", r.s);
    CHECK(r.s && r.s[0] == '-' && strstr(r.s, "sourdough") && strstr(r.s, "rye"));
    CHECK(strstr(r.s, "\"rye flour\"") != NULL);
    CHECK(strstr(r.s, "first person") != NULL);
    CHECK(strstr(r.s, "words") != NULL);
    int64_t run = teacher_longest_shared_run(r.s, output, &e);
    CHECK_MSG(run >= 1 && run <= TEACHER_MAX_COPY, "longest shared run %lld", (long long)run);

    CHECK_OK(teacher_reason(&d, 1, items, 4, &r, &e), &e);
    printf("reasoning for ex2:\n%s\n", r.s);
    run = teacher_longest_shared_run(r.s, profile[1], &e);
    CHECK_MSG(run <= TEACHER_MAX_COPY, "longest shared run %lld", (long long)run);
    CHECK(r.len > 0);

    CHECK(teacher_longest_shared_run("the cat sat on the mat", "a cat sat on the mat today", &e) == 5);
    CHECK(teacher_longest_shared_run("", "anything", &e) == 0);
    CHECK(teacher_longest_shared_run("Rye-Flour!", "rye flour", &e) == 2);

    /* Deterministic: the same input gives the same text. */
    StrBuf r2;
    strbuf_init(&r2);
    CHECK_OK(teacher_reason(&d, 0, items, 4, &r, &e), &e);
    CHECK_OK(teacher_reason(&d, 0, items, 4, &r2, &e), &e);
    CHECK_STR(r.s, r2.s);
    /* No items: still a valid (possibly empty) text, no crash. */
    CHECK_OK(teacher_reason(&d, 0, items, 0, &r, &e), &e);
    strbuf_free(&r);
    strbuf_free(&r2);
    dataset_free(&d);
    return test_summary("test_teacher");
}

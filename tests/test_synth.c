/* The synthetic task: determinism per seed, user-disjoint splits, note lengths, and that the
 * user's traits show in the output and the profile but never in the input. */
#include <stdlib.h>

#include "data/synth.h"
#include "tests/test.h"

static int same(const Dataset *a, const Dataset *b) {
    if (a->n != b->n || a->n_items != b->n_items) return 0;
    for (int64_t i = 0; i < a->n; i++)
        if (strcmp(a->id[i], b->id[i]) || strcmp(a->user[i], b->user[i]) || strcmp(a->split[i], b->split[i]) ||
            strcmp(a->input[i], b->input[i]) || strcmp(a->output[i], b->output[i]) || a->prof_off[i + 1] != b->prof_off[i + 1])
            return 0;
    for (int64_t k = 0; k < a->n_items * a->n_fields; k++)
        if (strcmp(a->items[k], b->items[k])) return 0;
    return 1;
}

static int words(const char *s) {
    int n = 0, in = 0;
    for (; *s; s++) {
        int sp = *s == ' ';
        n += !sp && !in;
        in = !sp;
    }
    return n;
}

static int ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && !strcmp(s + n - m, tail);
}

static void test_determinism(void) {
    Error e;
    Dataset a, b, c;
    SynthConfig cfg = {20, 5, 42};
    CHECK_OK(synth_build(&cfg, &a, &e), &e);
    CHECK_OK(synth_build(&cfg, &b, &e), &e);
    CHECK(a.n == 100 && a.n_items == 400);
    CHECK(same(&a, &b));
    cfg.seed = 43;
    CHECK_OK(synth_build(&cfg, &c, &e), &e);
    int differ = 0;
    for (int64_t i = 0; i < a.n; i++) differ += strcmp(a.output[i], c.output[i]) != 0;
    CHECK_MSG(differ > a.n / 2, "only %d of %lld outputs differ between seeds", differ, (long long)a.n);
    dataset_free(&c);

    /* A user's notes do not depend on how many users are generated. */
    cfg = (SynthConfig){5, 5, 42};
    CHECK_OK(synth_build(&cfg, &c, &e), &e);
    for (int64_t i = 0; i < c.n; i++) {
        CHECK_STR(c.id[i], a.id[i]);
        CHECK_STR(c.output[i], a.output[i]);
    }
    dataset_free(&c);
    dataset_free(&a);
    dataset_free(&b);
}

/* Every user sits in exactly one split; the split sizes follow the 80/10/10 rule. */
static void check_splits(long users, long want_train, long want_val, long want_test) {
    Error e;
    Dataset d;
    SynthConfig cfg = {users, 3, 9};
    CHECK_OK(synth_build(&cfg, &d, &e), &e);
    CHECK_OK(dataset_validate(&d, "synth", &e), &e);
    StrMap where;
    strmap_init(&where, 64, &e);
    long count[3] = {0, 0, 0};
    for (int64_t i = 0; i < d.n; i++) {
        int64_t s = !strcmp(d.split[i], "train") ? 0 : !strcmp(d.split[i], "val") ? 1 : 2, prev;
        if (strmap_get(&where, d.user[i], strlen(d.user[i]), &prev)) {
            CHECK_MSG(prev == s, "user %s in two splits", d.user[i]);
        } else {
            strmap_put(&where, d.user[i], strlen(d.user[i]), s, &e);
            count[s]++;
        }
    }
    CHECK_MSG(count[0] == want_train && count[1] == want_val && count[2] == want_test,
              "%ld users: train %ld val %ld test %ld", users, count[0], count[1], count[2]);
    strmap_free(&where);
    dataset_free(&d);
}

static void test_traits(void) {
    Error e;
    Dataset d;
    const long users = 200, per = 6;
    SynthConfig cfg = {users, per, 5};
    CHECK_OK(synth_build(&cfg, &d, &e), &e);
    CHECK(d.n == users * per);
    int min_w = 1000, max_w = 0, bad_trait = 0, leaks = 0, bad_profile = 0;
    StrMap inputs, openings;
    strmap_init(&inputs, 64, &e);
    strmap_init(&openings, 64, &e);
    for (int64_t i = 0; i < d.n; i++) {
        long u = atol(d.user[i] + 4);
        SynthUser t;
        synth_user(cfg.seed, u, &t);
        int w = words(d.output[i]);
        min_w = w < min_w ? w : min_w;
        max_w = w > max_w ? w : max_w;
        /* The output carries the user's signature and a favourite... */
        bad_trait += strncmp(d.output[i], t.opening, strlen(t.opening)) || !ends_with(d.output[i], t.closing) ||
                     (!strstr(d.output[i], t.favourite[0]) && !strstr(d.output[i], t.favourite[1]));
        /* ...the input carries none of it... */
        leaks += strncmp(d.input[i], "Write a note about ", 19) || strstr(d.input[i], t.opening) ||
                 strstr(d.input[i], t.closing) || strstr(d.input[i], t.favourite[0]) || strstr(d.input[i], t.favourite[1]);
        strmap_put(&inputs, d.input[i], strlen(d.input[i]), 1, &e);
        strmap_put(&openings, t.opening, strlen(t.opening), 1, &e);
        /* ...and every profile item, another note of the same user, shows it too. */
        bad_profile += dataset_n_items(&d, i) != per - 1;
        for (int64_t j = 0; j < dataset_n_items(&d, i); j++) {
            const char *text = dataset_item(&d, i, j)[1];
            bad_profile += strncmp(text, t.opening, strlen(t.opening)) || !ends_with(text, t.closing) ||
                           strncmp(dataset_item(&d, i, j)[0], "A note about ", 13) != 0;
        }
    }
    CHECK_MSG(min_w >= 20 && max_w <= 80, "note lengths %d..%d words", min_w, max_w);
    CHECK(bad_trait == 0);
    CHECK(leaks == 0);
    CHECK(bad_profile == 0);
    /* Inputs come from a dozen topic prompts shared by all users; signatures vary across users. */
    CHECK_MSG(inputs.count <= 12, "%zu distinct inputs", inputs.count);
    CHECK_MSG(openings.count >= 8, "%zu distinct openings", openings.count);
    strmap_free(&inputs);
    strmap_free(&openings);

    /* The profile is exactly the user's other notes, in order: note k's item j is note j (j < k)
     * or j + 1, i.e. the output of example u * per + that note. */
    int wrong = 0;
    for (int64_t i = 0; i < d.n; i++) {
        int64_t first = i - i % per, k = i % per;
        for (int64_t j = 0; j < dataset_n_items(&d, i); j++)
            wrong += strcmp(dataset_item(&d, i, j)[1], d.output[first + (j < k ? j : j + 1)]) != 0;
    }
    CHECK(wrong == 0);
    dataset_free(&d);
}

static void test_options(void) {
    Error e;
    Dataset d;
    SynthConfig cfg = {0, 4, 1};
    CHECK(synth_build(&cfg, &d, &e) == RP_EINPUT);
    CHECK(strstr(e.msg, "--users") != NULL);
    cfg = (SynthConfig){3, 1, 1};
    CHECK(synth_build(&cfg, &d, &e) == RP_EINPUT);
    CHECK(strstr(e.msg, "--per-user") != NULL);
}

int main(void) {
    test_determinism();
    check_splits(1, 1, 0, 0);
    check_splits(2, 2, 0, 0);
    check_splits(3, 1, 1, 1);
    check_splits(10, 8, 1, 1);
    check_splits(100, 80, 10, 10);
    check_splits(33, 27, 3, 3);
    check_splits(35, 27, 4, 4);
    test_traits();
    test_options();
    return test_summary("test_synth");
}

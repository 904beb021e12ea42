/* Samples file round trip and the filtering rules: threshold, top-K best first, deterministic
 * ties, drop-uniform, stats. */
#include <stdlib.h>
#include <unistd.h>

#include "reward/filter.h"
#include "tests/test.h"

static void add(Samples *s, const char *id, int c, double r, Error *e) {
    int32_t toks[3] = {c, c + 1, c + 2};
    CHECK_OK(samples_add(s, id, c, toks, 3, "because", "answer", 1, -1.5, FINISH_EOS, e), e);
    (void)r;
}

int main(void) {
    Error e;
    error_clear(&e);
    Samples s;
    samples_init(&s);
    /* Input x: rewards 0.9 0.5 0.5 0.1 0.5 (candidates 0..4); input y: all 0.4; input z: all below tau. */
    const double rx[] = {0.9, 0.5, 0.5, 0.1, 0.5};
    for (int c = 0; c < 5; c++) add(&s, "x", c, rx[c], &e);
    for (int c = 0; c < 3; c++) add(&s, "y", c, 0.4, &e);
    for (int c = 0; c < 2; c++) add(&s, "z", c, 0.05, &e);
    CHECK_OK(samples_alloc_rewards(&s, &e), &e);
    for (int c = 0; c < 5; c++) s.reward[c] = rx[c];
    for (int c = 5; c < 8; c++) s.reward[c] = 0.4;
    s.reward[8] = s.reward[9] = 0.05;

    FilterOptions o;
    filter_options_default(&o);
    o.keep = 3;
    FilterStats st;
    CHECK_OK(filter_apply(&s, &o, &st, &e), &e);
    /* x keeps 0.9 (c0) and the two lowest-index 0.5s (c1, c2), not c4; y keeps all 3; z none. */
    const uint8_t want[] = {1, 1, 1, 0, 0, 1, 1, 1, 0, 0};
    for (int i = 0; i < 10; i++) CHECK_MSG(s.kept[i] == want[i], "row %d kept %d want %d", i, s.kept[i], want[i]);
    CHECK(st.inputs == 3 && st.inputs_kept == 2 && st.kept == 6 && st.candidates == 10);
    CHECK_NEAR(st.mean_kept_reward, (0.9 + 0.5 + 0.5 + 0.4 * 3) / 6, 1e-12);

    o.drop_uniform = 1;
    CHECK_OK(filter_apply(&s, &o, &st, &e), &e);
    CHECK(s.kept[5] == 0 && s.kept[6] == 0 && s.kept[0] == 1 && st.dropped_uniform == 2);

    o.drop_uniform = 0;
    o.keep = 0; /* no cap */
    o.tau = 0.5;
    CHECK_OK(filter_apply(&s, &o, &st, &e), &e);
    CHECK(st.kept == 4 && s.kept[4] == 1 && s.kept[5] == 0);

    /* Candidates without a separator are passed over when it is required; the next best is kept. */
    s.has_separator[0] = 0;
    o.keep = 1;
    o.require_separator = 1;
    CHECK_OK(filter_apply(&s, &o, &st, &e), &e);
    CHECK(s.kept[0] == 0 && s.kept[1] == 1 && st.no_separator == 1);
    s.has_separator[0] = 1;
    /* So is one whose separator follows an empty reasoning (SFT on it would have no reasoning). */
    char *saved = s.reasoning_text[0];
    s.reasoning_text[0] = (char *)"";
    CHECK_OK(filter_apply(&s, &o, &st, &e), &e);
    CHECK(s.kept[0] == 0 && s.kept[1] == 1 && st.no_separator == 1);
    s.reasoning_text[0] = saved;
    o.keep = 0;
    o.require_separator = 0;
    CHECK_OK(filter_apply(&s, &o, &st, &e), &e);

    /* Round trip through the file keeps everything, rewards included. */
    char path[512];
    const char *tmp = getenv("RESTPG_TEST_TMP");
    snprintf(path, sizeof path, "%s/test_filter_%d.h5", tmp ? tmp : "/tmp", (int)getpid());
    s.model = strdup("m.h5");
    s.split = strdup("train");
    s.n_per_input = 5;
    s.temperature = 0.7;
    s.reward_spec = strdup("rouge1:0.5,rougeL:0.5");
    CHECK_OK(samples_write(&s, path, &e), &e);
    Samples r;
    CHECK_OK(samples_read(path, &r, &e), &e);
    CHECK(r.m == 10 && r.has_reward && r.kept[4] == 1 && r.tokens[r.token_offset[9] + 2] == 3);
    CHECK_NEAR(r.temperature, 0.7, 0);
    CHECK_NEAR(r.tau, 0.5, 0);
    CHECK_STR(r.split, "train");
    CHECK_STR(r.answer[7], "answer");
    samples_free(&r);

    /* Duplicate (example, candidate) rows are rejected on read. */
    add(&s, "x", 0, 0, &e);
    s.has_reward = 0;
    CHECK_OK(samples_write(&s, path, &e), &e);
    CHECK(samples_read(path, &r, &e) == RP_EINPUT && strstr(e.msg, "duplicate candidate 0 of example 'x'"));
    unlink(path);
    samples_free(&s);

    Samples none;
    samples_init(&none);
    CHECK(filter_apply(&none, &o, &st, &e) == RP_EINPUT);
    return test_summary("test_filter");
}

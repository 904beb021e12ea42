/* sampler_run on a tiny random GPT-2 over the synthetic task (one process, no mpirun):
 *  - greedy candidates equal step-by-step argmax of gpt_forward over the whole sequence, and
 *    their logprob the full forward's summed log-softmax (within 1e-3);
 *  - every prompt leaves max_new_tokens of n_positions and ends with the reasoning marker;
 *  - sampled candidates are bitwise the same for --batch 32, 3 and 1 and for 1 and 2 threads;
 *  - a run over the first 5 inputs that resumes from the progress file of a run over the first
 *    2 equals the uninterrupted run; a progress file of another seed is refused;
 *  - --id (example_id) gives that example's rows of the split run;
 *  - option errors are RP_EINPUT. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/h5.h"
#include "data/synth.h"
#include "kernels/cpu/ops.h"
#include "sampler/sampler.h"
#include "tests/test.h"

static Model g_m;
static Tokenizer *g_t;
static Dataset g_d;

static void setup(void) {
    Error e;
    SynthConfig sc = {.users = 6, .per_user = 4, .seed = 2};
    CHECK_OK(synth_build(&sc, &g_d, &e), &e);
    char **texts = malloc(sizeof(char *) * (size_t)g_d.n * 2);
    for (int64_t i = 0; i < g_d.n; i++) texts[2 * i] = g_d.input[i], texts[2 * i + 1] = g_d.output[i];
    CHECK_OK(tokenizer_train(texts, g_d.n * 2, 350, &g_t, &e), &e);
    free(texts);
    GPTConfig c = {.vocab_size = tokenizer_vocab_size(g_t), .n_layer = 2, .n_head = 2, .n_embd = 64, .n_positions = 160};
    CHECK_OK(model_init(&g_m, &(ModelConfig){.arch = ARCH_GPT2, .gpt2 = c}, &e), &e);
    CHECK_OK(model_init_random(&g_m, 3, &e), &e);
    /* Sharper logits than GPT-2's init, so greedy choices are not near-ties. */
    for (size_t i = 0; i < g_m.gpt2.store.t[0].numel; i++) g_m.gpt2.params.wte[i] *= 20.0f;
}

static SamplerOptions options(void) {
    SamplerOptions o;
    sampler_options_default(&o);
    o.n = 3;
    o.max_new_tokens = 20;
    o.sp.temperature = 0.9;
    o.sp.top_p = 0.95;
    o.sp.top_k = 60;
    o.seed = 12;
    o.round = 1;
    o.limit = 5;
    o.batch = 4;
    o.threads = 1;
    o.model_path = "m.h5";
    o.data_path = "d.h5";
    return o;
}

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

static void test_greedy(void) {
    Error e;
    SamplerOptions o = options();
    o.sp.temperature = 0.0;
    o.n = 2;
    o.limit = 3;
    Samples s;
    samples_init(&s);
    CHECK_OK(sampler_run(&g_m, g_t, &g_d, &o, &s, &e), &e);
    CHECK(s.m == 6);
    const int V = g_m.gpt2.cfg.vocab_size, Vp = g_m.gpt2.cfg.padded_vocab_size, T = g_m.gpt2.cfg.n_positions;
    CHECK_OK(model_plan(&g_m, 1, T, &e), &e);
    int32_t *seq = malloc(sizeof(int32_t) * T);
    BuiltPrompt b;
    built_prompt_init(&b);
    int same = 1, lp_ok = 1;
    for (int64_t r = 0; r < s.m; r++) {
        int64_t idx = dataset_find(&g_d, s.example_id[r]);
        CHECK_OK(sampler_prompt(&g_m, g_t, &g_d, idx, &o, &b, &e), &e);
        CHECK(b.n_prompt + o.max_new_tokens <= T);
        CHECK(b.tokens.v[b.n_prompt - 1] == tokenizer_special(g_t, TOK_REASONING));
        int n = (int)b.n_prompt, len = 0;
        memcpy(seq, b.tokens.v, sizeof(int32_t) * n);
        double lp = 0;
        for (;;) {
            CHECK_OK(model_forward(&g_m, seq, NULL, NULL, 1, n, NULL, &e), &e);
            float lg[Vp];
            CHECK_OK(model_logits_download(&g_m, n - 1, 1, lg, &e), &e);
            int tok = argmax(lg, V);
            double mx = lg[tok], z = 0;
            for (int v = 0; v < V; v++) z += exp((double)lg[v] - mx);
            lp += -log(z);
            seq[n++] = tok;
            len++;
            if (tok == tokenizer_special(g_t, TOK_EOT) || len == o.max_new_tokens) break;
        }
        const int32_t *got = s.tokens + s.token_offset[r];
        if (s.length[r] != len || memcmp(got, seq + b.n_prompt, sizeof(int32_t) * len)) same = 0;
        if (fabs(s.logprob[r] - lp) > 1e-3) lp_ok = 0;
        CHECK(s.finish[r] == (seq[n - 1] == tokenizer_special(g_t, TOK_EOT) ? FINISH_EOS : FINISH_LENGTH));
    }
    CHECK_MSG(same, "greedy candidates differ from the full forward's argmax");
    CHECK_MSG(lp_ok, "greedy logprob differs from the full forward's");
    built_prompt_free(&b);
    free(seq);
    samples_free(&s);
}

/* Every column of two sample sets equal (texts, tokens, logprob bits). */
static int same_samples(const Samples *a, const Samples *b) {
    if (a->m != b->m || a->token_offset[a->m] != b->token_offset[b->m]) return 0;
    if (memcmp(a->tokens, b->tokens, sizeof(int32_t) * (size_t)a->token_offset[a->m])) return 0;
    for (int64_t i = 0; i < a->m; i++)
        if (strcmp(a->example_id[i], b->example_id[i]) || a->candidate[i] != b->candidate[i] ||
            a->token_offset[i] != b->token_offset[i] || memcmp(&a->logprob[i], &b->logprob[i], sizeof(double)) ||
            a->finish[i] != b->finish[i] || a->has_separator[i] != b->has_separator[i] ||
            strcmp(a->reasoning_text[i], b->reasoning_text[i]) || strcmp(a->answer[i], b->answer[i]))
            return 0;
    return 1;
}

static Samples g_ref; /* options() with batch 32, 1 thread */

static void test_invariance(void) {
    Error e;
    SamplerOptions o = options();
    o.batch = 32;
    samples_init(&g_ref);
    CHECK_OK(sampler_run(&g_m, g_t, &g_d, &o, &g_ref, &e), &e);
    CHECK(g_ref.m == 15);
    for (int64_t i = 0; i < g_ref.m; i++) CHECK(g_ref.candidate[i] == i % 3);
    const int cfg[][2] = {{3, 2}, {1, 1}, {7, 2}};
    for (size_t k = 0; k < sizeof cfg / sizeof cfg[0]; k++) {
        o.batch = cfg[k][0];
        o.threads = cfg[k][1];
        Samples s;
        samples_init(&s);
        CHECK_OK(sampler_run(&g_m, g_t, &g_d, &o, &s, &e), &e);
        CHECK_MSG(same_samples(&g_ref, &s), "batch %d threads %d differ from batch 32", o.batch, o.threads);
        samples_free(&s);
    }
    kernels_set_threads(1);
    /* One example alone: its rows of the split run. */
    o = options();
    o.example_id = g_ref.example_id[6];
    Samples one;
    samples_init(&one);
    CHECK_OK(sampler_run(&g_m, g_t, &g_d, &o, &one, &e), &e);
    CHECK(one.m == 3);
    int same = one.m == 3;
    for (int64_t i = 0; same && i < 3; i++)
        same = !strcmp(one.answer[i], g_ref.answer[6 + i]) && one.logprob[i] == g_ref.logprob[6 + i];
    CHECK_MSG(same, "example_id run differs from the split run");
    samples_free(&one);
}

static void test_resume(const char *dir) {
    Error e;
    char partial[700];
    snprintf(partial, sizeof partial, "%s/sampler_gen_partial.h5", dir);
    remove(partial);
    SamplerOptions o = options();
    o.partial = partial;
    o.save_every = 0;
    o.limit = 2;
    Samples s;
    samples_init(&s);
    CHECK_OK(sampler_run(&g_m, g_t, &g_d, &o, &s, &e), &e);
    samples_free(&s);
    Samples saved;
    CHECK_OK(samples_read(partial, &saved, &e), &e);
    CHECK(saved.m == 6);
    samples_free(&saved);
    o.limit = 5;
    CHECK_OK(sampler_run(&g_m, g_t, &g_d, &o, &s, &e), &e);
    CHECK_MSG(same_samples(&g_ref, &s), "resumed run differs from the uninterrupted one");
    samples_free(&s);
    o.seed = 13;
    CHECK(sampler_run(&g_m, g_t, &g_d, &o, &s, &e) == RP_EINPUT);
    CHECK(strstr(e.msg, "seed") != NULL);
    samples_free(&s);
    remove(partial);
}

static void expect_input_error(SamplerOptions o, const char *needle) {
    Error e;
    Samples s;
    samples_init(&s);
    int rc = sampler_run(&g_m, g_t, &g_d, &o, &s, &e);
    CHECK_MSG(rc == RP_EINPUT && strstr(e.msg, needle), "expected RP_EINPUT with '%s', got %d: %s", needle, rc, e.msg);
    samples_free(&s);
}

static void test_errors(void) {
    SamplerOptions o = options();
    o.n = 0;
    expect_input_error(o, "--n");
    o = options(), o.sp.temperature = -1;
    expect_input_error(o, "--temperature");
    o = options(), o.sp.top_p = 0;
    expect_input_error(o, "--top-p");
    o = options(), o.sp.top_p = 1.5;
    expect_input_error(o, "--top-p");
    o = options(), o.sp.top_k = -1;
    expect_input_error(o, "--top-k");
    o = options(), o.max_new_tokens = g_m.gpt2.cfg.n_positions;
    expect_input_error(o, "n_positions");
    o = options(), o.split = "nosuch";
    expect_input_error(o, "no examples in split 'nosuch'");
    o = options(), o.example_id = "nosuch";
    expect_input_error(o, "no example with id 'nosuch'");
    o = options(), o.batch = 0;
    expect_input_error(o, "--batch");
}

int main(void) {
    h5_init();
    const char *tmp = getenv("RESTPG_TEST_TMP");
    setup();
    test_greedy();
    test_invariance();
    test_resume(tmp ? tmp : "/tmp");
    test_errors();
    samples_free(&g_ref);
    model_free(&g_m);
    tokenizer_free(g_t);
    dataset_free(&g_d);
    return test_summary("test_sampler_gen");
}

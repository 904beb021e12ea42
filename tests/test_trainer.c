/* Trainer building blocks: the learning-rate schedule at chosen steps, model config YAML errors,
 * the fixed reduction tree, the all-reduce's local sums and leaf partition, ZeRO-1's sharded
 * AdamW against the whole one, padded batches and their masks, the epoch order and its restore,
 * and trainer_eval against a loss computed here from the logits. */
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/rng.h"
#include "model/config.h"
#include "model/params.h"
#include "trainer/batch.h"
#include "core/comm.h"
#include "trainer/dp.h"
#include "trainer/schedule.h"
#include "trainer/trainer.h"
#include "tests/test.h"

static char g_dir[512];

static const char *write_tmp(const char *name, const char *text) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static void test_schedule(void) {
    Schedule s = {SCHED_COSINE, 1.0, 0.1, 10, 110};
    Error e;
    CHECK_OK(schedule_check(&s, &e), &e);
    CHECK_NEAR(schedule_lr(&s, 0), 0.1, 1e-12);  /* warm-up: (0+1)/10 */
    CHECK_NEAR(schedule_lr(&s, 4), 0.5, 1e-12);
    CHECK_NEAR(schedule_lr(&s, 9), 1.0, 1e-12);
    CHECK_NEAR(schedule_lr(&s, 10), 1.0, 1e-12); /* decay starts at the peak */
    CHECK_NEAR(schedule_lr(&s, 35), 0.1 + 0.45 * (1.0 + cos(M_PI / 4)), 1e-12);
    CHECK_NEAR(schedule_lr(&s, 60), 0.55, 1e-12);
    CHECK_NEAR(schedule_lr(&s, 110), 0.1, 1e-12);
    CHECK_NEAR(schedule_lr(&s, 500), 0.1, 1e-12);
    s.kind = SCHED_LINEAR;
    CHECK_NEAR(schedule_lr(&s, 35), 0.775, 1e-12);
    CHECK_NEAR(schedule_lr(&s, 60), 0.55, 1e-12);
    CHECK_NEAR(schedule_lr(&s, 85), 0.325, 1e-12);
    s.warmup = 0;
    CHECK_NEAR(schedule_lr(&s, 0), 1.0, 1e-12);
    s.warmup = 200; /* longer than the run: warm-up, then the peak */
    CHECK_NEAR(schedule_lr(&s, 99), 0.5, 1e-12);
    CHECK_NEAR(schedule_lr(&s, 300), 1.0, 1e-12);
    ScheduleKind k;
    CHECK(schedule_parse_kind("step", &k, &e) == RP_EINPUT && strstr(e.msg, "--lr-schedule"));
    s.min_frac = 1.5;
    CHECK(schedule_check(&s, &e) == RP_EINPUT && strstr(e.msg, "--min-lr-frac"));
}

static void expect_config_error(const char *name, const char *text, const char *key, const char *detail) {
    Error e;
    GPTConfig c;
    const char *path = write_tmp(name, text);
    int rc = model_config_load(path, &c, &e);
    CHECK_MSG(rc == RP_EINPUT, "%s: rc %d", name, rc);
    CHECK_MSG(strstr(e.msg, path) != NULL, "%s: message lacks the file: %s", name, e.msg);
    CHECK_MSG(strstr(e.msg, key) != NULL, "%s: message lacks '%s': %s", name, key, e.msg);
    if (detail) CHECK_MSG(strstr(e.msg, detail) != NULL, "%s: message lacks '%s': %s", name, detail, e.msg);
    unlink(path);
}

static void test_config(void) {
    Error e;
    GPTConfig c;
    const char *path = write_tmp("ok.yaml", "# tiny\nn_layer: 2\nn_head: 4\nn_embd: 64\nn_positions: 128\n");
    CHECK_OK(model_config_load(path, &c, &e), &e);
    CHECK(c.n_layer == 2 && c.n_head == 4 && c.n_embd == 64 && c.n_positions == 128 && c.vocab_size == 0);
    unlink(path);
    expect_config_error("unknown.yaml", "n_layer: 2\nn_head: 4\nn_embd: 64\nn_positions: 128\nn_inner: 9\n", "'n_inner'", "line 5");
    expect_config_error("vocab.yaml", "n_layer: 2\nvocab_size: 50257\n", "'vocab_size'", "tokenizer");
    expect_config_error("type.yaml", "n_layer: two\nn_head: 4\nn_embd: 64\nn_positions: 128\n", "'n_layer'", "'two'");
    expect_config_error("quoted.yaml", "n_layer: 2\nn_head: \"4\"\nn_embd: 64\nn_positions: 128\n", "'n_head'", "line 2");
    expect_config_error("list.yaml", "n_layer: 2\nn_head: 4\nn_embd: [64]\nn_positions: 128\n", "'n_embd'", "a list");
    expect_config_error("neg.yaml", "n_layer: 2\nn_head: 4\nn_embd: 64\nn_positions: -1\n", "'n_positions'", NULL);
    expect_config_error("missing.yaml", "n_layer: 2\nn_head: 4\nn_embd: 64\n", "'n_positions'", "missing");
    expect_config_error("dup.yaml", "n_layer: 2\nn_layer: 3\n", "'n_layer'", "twice");
    expect_config_error("syntax.yaml", "n_layer: 2\n  n_head: [4\n", "line", "YAML");
    CHECK(model_config_load("/nonexistent/m.yaml", &c, &e) == RP_EINPUT && strstr(e.msg, "/nonexistent/m.yaml"));
}

/* Leaf j of the tree test is a vector of values that make float addition order visible. */
static float leaf_value(int j, size_t i) { return (float)((j * 7 + 3) * (i + 1)) * (j % 2 ? 1e7f : 1.1e-3f) * (i % 3 ? -1 : 1); }

typedef struct {
    int calls[5];
    float *grad; /* the reducer's gradient buffer, which a leaf overwrites */
} LeafFill;

static int leaf_fill(void *ctx, int leaf, Error *e) {
    (void)e;
    LeafFill *f = ctx;
    f->calls[leaf]++;
    for (size_t i = 0; i < 16; i++) f->grad[i] = leaf_value(leaf, i);
    return RP_OK;
}

static void test_dp(void) {
    int lo, hi;
    comm_block(0, 3, 5, &lo, &hi);
    CHECK(lo == 0 && hi == 1);
    comm_block(1, 3, 5, &lo, &hi);
    CHECK(lo == 1 && hi == 3);
    comm_block(2, 3, 5, &lo, &hi);
    CHECK(lo == 3 && hi == 5);
    comm_block(3, 4, 2, &lo, &hi); /* more ranks than leaves: some own none */
    CHECK(lo == 1 && hi == 2);
    comm_block(2, 4, 2, &lo, &hi);
    CHECK(lo == 1 && hi == 1);

    /* Without MPI the walk is local; the sum must follow the documented tree exactly:
     * [0,5) = [0,3) + [3,5), [0,3) = [0,2) + [2,3). */
    Error e;
    float *out = NULL;
    CHECK_OK(backend_get()->ops->alloc(16 * sizeof(float), (void **)&out, &e), &e);
    GradReducer *r;
    CHECK_OK(dp_tree_init(&r, backend_get(), out, 16, 5, &e), &e);
    LeafFill f = {{0}, out};
    CHECK_OK(r->reduce(r, leaf_fill, &f, &e), &e);
    int exact = 1;
    for (size_t i = 0; i < 16; i++) {
        float l[5];
        for (int j = 0; j < 5; j++) l[j] = leaf_value(j, i);
        float want = ((l[0] + l[1]) + l[2]) + (l[3] + l[4]);
        exact &= memcmp(&want, &out[i], sizeof want) == 0;
    }
    CHECK(exact);
    CHECK(f.calls[0] == 1 && f.calls[1] == 1 && f.calls[2] == 1 && f.calls[3] == 1 && f.calls[4] == 1);
    r->free(r);
    CHECK(dp_tree_init(&r, backend_get(), NULL, 16, 0, &e) == RP_EINPUT);

    /* The all-reduce on one rank: the local sum in leaf order, whatever the bucket (3 floats, or
     * sharded: one shard of everything); the extra buffer only with two or more leaves. */
    for (int shard = 0; shard < 2; shard++) {
        CHECK_OK(dp_allreduce_init(&r, backend_get(), out, 16, 5, 3 * sizeof(float), shard, &e), &e);
        CHECK(r->sum_lo == 0 && r->sum_hi == 16 && !strcmp(r->name, "allreduce"));
        LeafFill g = {{0}, out};
        CHECK_OK(r->reduce(r, leaf_fill, &g, &e), &e);
        exact = 1;
        for (size_t i = 0; i < 16; i++) {
            float want = leaf_value(0, i);
            for (int j = 1; j < 5; j++) want += leaf_value(j, i);
            exact &= memcmp(&want, &out[i], sizeof want) == 0;
        }
        CHECK_MSG(exact, "allreduce, shard %d", shard);
        CHECK(g.calls[0] == 1 && g.calls[4] == 1);
        r->free(r);
    }
    CHECK(dp_allreduce_bytes(16, 5, 1) == 64 && dp_allreduce_bytes(16, 4, 4) == 0 && dp_allreduce_bytes(16, 5, 4) == 64);
    CHECK(dp_allreduce_init(&r, backend_get(), out, 16, 5, 2, 0, &e) == RP_EINPUT && strstr(e.msg, "bucket"));
    DPReduce how;
    CHECK(dp_reduce_parse("ring", &how, &e) == RP_EINPUT && strstr(e.msg, "'ring'"));
    CHECK_OK(dp_reduce_parse("allreduce", &how, &e), &e);
    CHECK(how == DP_REDUCE_ALLREDUCE && !strcmp(dp_reduce_name(how), "allreduce"));
    backend_get()->ops->free(out);
    double stats[4] = {1, 2, 3, 4};
    CHECK_OK(comm_share_blocks(2, stats, 2, &e), &e);
    CHECK(stats[3] == 4);
    CHECK(comm_agree(RP_EINPUT, &e) == RP_EINPUT);
}

static void test_batch(void) {
    Error e;
    SeqSet s;
    seqset_init(&s);
    int32_t a[] = {5, 6, 7, 8, 9}, b[] = {1, 2, 3};
    CHECK_OK(seqset_add(&s, a, 5, 3, &e), &e); /* prompt 5 6 7, target 8 9 */
    CHECK_OK(seqset_add(&s, b, 3, 1, &e), &e);
    CHECK(seqset_add(&s, b, 1, 1, &e) == RP_EINTERNAL);
    CHECK(seqset_targets(&s) == 2 + 2);
    Batch bt;
    CHECK_OK(batch_init(&bt, 3, 8, &e), &e);
    int64_t idx[2] = {0, 1};
    batch_fill(&bt, &s, idx, 2, 0);
    CHECK(bt.T_used == 4);
    const int32_t want_in[12] = {5, 6, 7, 8, 1, 2, 0, 0, 0, 0, 0, 0};
    const int32_t want_tg[12] = {6, 7, 8, 9, 2, 3, 0, 0, 0, 0, 0, 0};
    const float want_mk[12] = {0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0};
    CHECK(!memcmp(bt.inputs, want_in, sizeof want_in) && !memcmp(bt.targets, want_tg, sizeof want_tg));
    CHECK(!memcmp(bt.mask, want_mk, sizeof want_mk));
    CHECK(bt.n_target == 4 && bt.n_real == 6);
    batch_free(&bt);
    CHECK_OK(batch_init(&bt, 1, 2, &e), &e); /* longer than T+1: cut */
    batch_fill(&bt, &s, idx, 1, 0);
    CHECK(bt.T_used == 2 && bt.inputs[1] == 6 && bt.targets[1] == 7 && bt.mask[1] == 0 && bt.n_target == 0);
    batch_free(&bt);
    seqset_free(&s);
}

static void test_order(void) {
    Error e;
    DataOrder o;
    CHECK_OK(order_init(&o, 7, 42, &e), &e);
    int64_t seq[30];
    uint64_t state_at[30];
    int64_t epoch_at[30], pos_at[30];
    for (int i = 0; i < 30; i++) {
        state_at[i] = o.epoch_state, epoch_at[i] = o.epoch, pos_at[i] = o.pos;
        seq[i] = order_next(&o);
    }
    for (int ep = 0; ep < 4; ep++) { /* each full epoch is a permutation */
        int seen[7] = {0}, ok = 1;
        for (int i = 0; i < 7; i++) seen[seq[ep * 7 + i]]++;
        for (int i = 0; i < 7; i++) ok &= seen[i] == 1;
        CHECK(ok);
    }
    CHECK(memcmp(seq, seq + 7, 7 * sizeof(int64_t)) != 0); /* epochs are reshuffled */
    order_free(&o);
    for (int at = 0; at < 30; at += 4) { /* restoring any saved position continues identically */
        CHECK_OK(order_restore(&o, 7, state_at[at], epoch_at[at], pos_at[at], &e), &e);
        int same = 1;
        for (int i = at; i < 30; i++) same &= order_next(&o) == seq[i];
        CHECK_MSG(same, "restore at draw %d", at);
        order_free(&o);
    }
    CHECK(order_restore(&o, 7, 1, 0, 8, &e) == RP_EINPUT);
}

/* ZeRO-1's pieces on one process: every rank's shard of world ranks, updated alone by
 * params_adamw_held with the global norm, must equal that part of the whole update bitwise
 * (parameters and moments) over two steps, also where a shard's ends cut a tensor. */
static void test_zero_shards(void) {
    Error e;
    GPTConfig c = {.vocab_size = 50, .n_layer = 2, .n_head = 2, .n_embd = 12, .n_positions = 8};
    CHECK_OK(gpt_config_check(&c, &e), &e);
    Model m;
    CHECK_OK(model_init(&m, &(ModelConfig){.arch = ARCH_GPT2, .gpt2 = c}, &e), &e);
    CHECK_OK(model_init_random(&m, 5, &e), &e);
    ParamStore *ps = model_store_mut(&m);
    size_t n = m.n_params;
    float *p0 = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float)), *want[3], *got = malloc(n * sizeof(float));
    for (int i = 0; i < 3; i++) want[i] = malloc(n * sizeof(float));
    Rng rng;
    rng_seed(&rng, 11);
    for (size_t i = 0; i < n; i++) g[i] = (float)rng_normal(&rng) * 0.3f;
    CHECK_OK(model_state_download(&m, 'p', p0, &e), &e);
    CHECK_OK(model_grads(&m, NULL, &e), &e);
    CHECK_OK(model_state_upload(&m, 'g', g, &e), &e);
    AdamW h = {1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f};
    double norm = 0, norm2 = 0;
    CHECK_OK(model_opt_reset(&m, &e), &e);
    for (int step = 1; step <= 2; step++) CHECK_OK(model_adamw_step(&m, &h, 0.5, step, &norm, &e), &e);
    CHECK(norm > 0.5); /* clipping is on */
    CHECK_OK(model_state_download(&m, 'p', want[0], &e), &e);
    CHECK_OK(model_state_download(&m, 'm', want[1], &e), &e);
    CHECK_OK(model_state_download(&m, 'v', want[2], &e), &e);
    int worlds[3] = {2, 3, 7}, cuts = 0;
    for (int wi = 0; wi < 3; wi++)
        for (int rank = 0; rank < worlds[wi]; rank++) {
            ParamShard sh;
            params_shard(n, rank, worlds[wi], &sh);
            for (int k = 0; k < model_tensor_count(&m); k++) {
                const ParamTensor *t = model_tensor(&m, k);
                cuts += sh.lo > t->offset && sh.lo < t->offset + t->numel;
            }
            CHECK_OK(model_state_upload(&m, 'p', p0, &e), &e);
            CHECK_OK(model_opt_reset(&m, &e), &e);
            CHECK_OK(params_opt_shard(ps, &sh, &e), &e);
            CHECK(model_state_download(&m, 'm', got, &e) == RP_EINTERNAL && strstr(e.msg, "sharded"));
            CHECK_OK(params_grad_sumsq(ps, &norm2, &e), &e);
            for (int step = 1; step <= 2; step++) CHECK_OK(params_adamw_held(ps, &h, norm, 0.5, step, &e), &e);
            CHECK_OK(model_state_download(&m, 'p', got, &e), &e);
            int same = !memcmp(got + sh.lo, want[0] + sh.lo, (sh.hi - sh.lo) * sizeof(float));
            for (int i = 0; i < 2; i++) {
                ps->be->ops->download(got, params_mem(ps, i ? 'v' : 'm'), (sh.hi - sh.lo) * sizeof(float), &e);
                same &= !memcmp(got, want[1 + i] + sh.lo, (sh.hi - sh.lo) * sizeof(float));
            }
            CHECK_MSG(same, "rank %d of %d: shard [%zu, %zu) differs from the whole update", rank, worlds[wi], sh.lo, sh.hi);
            double part = 0;
            for (size_t i = sh.lo; i < sh.hi; i++) part += (double)g[i] * g[i];
            CHECK_NEAR(norm2, part, 1e-9 * part);
        }
    CHECK_MSG(cuts >= 5, "only %d shard starts cut a tensor", cuts);
    ParamShard sh;
    params_shard(10, 2, 3, &sh);
    CHECK(sh.per_rank == 3 && sh.lo == 6 && sh.hi == 10); /* the last rank takes the tail */
    params_shard(2, 1, 3, &sh);
    CHECK(sh.per_rank == 0 && sh.lo == 0 && sh.hi == 0);
    CHECK_OK(model_opt_reset(&m, &e), &e); /* a sharded store gets every parameter's moments back */
    CHECK_OK(model_state_download(&m, 'm', got, &e), &e);
    for (int i = 0; i < 3; i++) free(want[i]);
    free(p0);
    free(g);
    free(got);
    model_free(&m);
}

/* trainer_eval's padded batches against the mean of -log softmax computed here, one sequence at
 * a time from the model's logits. */
static void test_eval(void) {
    Error e;
    GPTConfig c = {.vocab_size = 50, .n_layer = 1, .n_head = 2, .n_embd = 16, .n_positions = 16};
    CHECK_OK(gpt_config_check(&c, &e), &e);
    Model m;
    CHECK_OK(model_init(&m, &(ModelConfig){.arch = ARCH_GPT2, .gpt2 = c}, &e), &e);
    CHECK_OK(model_init_random(&m, 7, &e), &e);
    SeqSet s;
    seqset_init(&s);
    Rng rng;
    rng_seed(&rng, 3);
    const int lens[4] = {9, 3, 12, 5};
    for (int q = 0; q < 4; q++) {
        int32_t ids[16];
        for (int i = 0; i < lens[q]; i++) ids[i] = (int32_t)(rng_next(&rng) % 50);
        CHECK_OK(seqset_add(&s, ids, lens[q], 1, &e), &e);
    }
    double want_sum = 0;
    int64_t want_n = 0;
    CHECK_OK(model_plan(&m, 3, 15, &e), &e);
    for (int q = 0; q < 4; q++) {
        const int32_t *ids = s.tok + s.start[q];
        int T = lens[q] - 1;
        CHECK_OK(model_forward(&m, ids, NULL, NULL, 1, T, NULL, &e), &e);
        float lg[16 * 128];
        CHECK_OK(model_logits_download(&m, 0, T, lg, &e), &e);
        for (int t = 0; t < T; t++) {
            const float *row = lg + (size_t)t * c.padded_vocab_size;
            double mx = -1e30, z = 0;
            for (int v = 0; v < c.vocab_size; v++) mx = row[v] > mx ? row[v] : mx;
            for (int v = 0; v < c.vocab_size; v++) z += exp(row[v] - mx);
            want_sum += mx + log(z) - row[ids[t + 1]];
            want_n++;
        }
    }
    int64_t idx[4] = {0, 1, 2, 3}, n = 0;
    double loss = 0;
    CHECK_OK(trainer_eval(&m, &s, idx, 4, 3, 0, &loss, &n, &e), &e);
    CHECK(n == want_n);
    CHECK_NEAR(loss, want_sum / (double)want_n, 1e-5);
    seqset_free(&s);
    model_free(&m);
}

int main(void) {
    const char *tmp = getenv("RESTPG_TEST_TMP");
    snprintf(g_dir, sizeof g_dir, "%s", tmp ? tmp : "/tmp");
    test_schedule();
    test_config();
    test_dp();
    test_zero_shards();
    test_batch();
    test_order();
    test_eval();
    return test_summary("test_trainer");
}

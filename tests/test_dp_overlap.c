/* The all-reduce overlapped with the backward (trainer/dp.h: dp_allreduce_overlap, dp_grad_ready;
 * model/model.h: the gradient-ready hook) under mpiexec with 1, 2 and 3 ranks, on the CPU backend
 * and on the CUDA backend's table (the SIMT emulation as test_dp_overlap_*ranks; NCCL on a device
 * as test_dp_overlap_gpu_*, label gpu), so the table's allreduce_sum_start / comm_wait run:
 *  - the models' reports: for GPT-2 and every Llama-family variant (tied and untied heads, biases,
 *    q/k norms, post norms) a backward reports exactly model_grad_plan's ranges, in its order,
 *    and the plan covers the gradient once;
 *  - fake leaves over a made-up plan (three per-layer tensors of 4 layers, two whole ones): with
 *    1, 2 or 5 leaves (some ranks hold none, some several) and buckets of 1, 37 or all floats, a
 *    backward that reports every stage or stops early, the overlapped sum equals the sum computed
 *    here (each rank's leaves in leaf order, then the ranks in rank order) bitwise, as does the
 *    reducer without overlap;
 *  - errors: the last rank's leaf fails before reporting, after reporting two of five stages, or
 *    reports out of the plan's order: every rank returns an error (none hangs: the test's
 *    timeout), and the next reduction on the same reducers is right again (the ranks' sequences
 *    of collectives stayed matched);
 *  - real models: two micro-batches per rank of a tiny GPT-2 and a tiny Qwen3 (emulated CUDA:
 *    GPT-2 only, for time), with 1 KiB buckets so sums start mid-backward: the gradient sums
 *    with and without overlap are equal bitwise (on the CPU and in the emulation the collectives
 *    sum in rank order; NCCL runs this at 2 ranks, where a sum is one addition). */
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "core/comm.h"
#include "kernels/cpu/ops.h"
#include "kernels/cuda/backend_cuda.h"
#include "kernels/cuda/ops_cuda.h"
#include "trainer/dp.h"
#include "tests/train_fixture.h"

static int g_rank, g_world;

/* ---- the made-up model: per-layer tensors T1 [4 x 30], T2 [4 x 7], T3 [4 x 100] between the
 * whole tensors A [50] and Z [13], as a table lays them out ---- */
enum { NL = 4, N_STAGES = NL + 1, NF = 50 + 4 * 30 + 4 * 7 + 4 * 100 + 13 };
static const size_t T_OFF[3] = {50, 170, 198}, T_PER[3] = {30, 7, 100};

/* Stage s: layer NL-1-s's slices for s < NL, then the whole tensors. */
static int stage_ranges(int s, ParamRange *r) {
    if (s == NL) {
        r[0] = (ParamRange){0, 50};
        r[1] = (ParamRange){598, 611};
        return 2;
    }
    int l = NL - 1 - s;
    for (int k = 0; k < 3; k++) r[k] = (ParamRange){T_OFF[k] + l * T_PER[k], T_OFF[k] + (l + 1) * T_PER[k]};
    return 3;
}

static int fake_plan(ParamRange *plan) {
    int n = 0;
    for (int s = 0; s < N_STAGES; s++) n += stage_ranges(s, plan + n);
    return n;
}

/* Leaf j's gradient: magnitudes far apart, so the order of every sum shows in its bits. */
static float leaf_value(int j, size_t i) {
    return (float)((j * 7 + 3) * (i + 1)) * (j % 2 ? 1e7f : 1.1e-3f) * (i % 3 ? -1.0f : 1.0f) + 0.25f * (float)j;
}

typedef struct {
    const Backend *be;
    GradReducer *r; /* reports go to it (NULL: no reports, the reducer does not overlap) */
    float *grad;
    int report;     /* stages the fake backward reports (fewer than N_STAGES: it stops early) */
    int fail_leaf;  /* on the last rank this leaf fails (-1: none) ... */
    int fail_after; /* ... after reporting this many stages */
    int disorder;   /* the last rank reports stage 1 before stage 0 */
} Fake;

static int fake_leaf(void *ctx, int leaf, Error *e) {
    Fake *f = ctx;
    float h[NF];
    for (size_t i = 0; i < NF; i++) h[i] = leaf_value(leaf, i);
    int rc = f->be->ops->upload(f->grad, h, sizeof h, e);
    int last = g_rank == g_world - 1, fails = last && leaf == f->fail_leaf;
    for (int s = 0; s < f->report && f->r && !rc; s++) {
        if (fails && s == f->fail_after) break;
        ParamRange r[3];
        int k = last && f->disorder && s < 2 ? 1 - s : s;
        rc = dp_grad_ready(f->r, r, stage_ranges(k, r), e);
    }
    if (!rc && fails) rc = error_set(e, RP_EINPUT, "injected failure in leaf %d on rank %d", leaf, g_rank);
    return rc;
}

/* The sum the contract promises: each rank's leaves in leaf order, then the ranks in order. */
static void expected(int n_leaves, float *want) {
    for (size_t i = 0; i < NF; i++) {
        float total = 0.0f;
        for (int q = 0; q < g_world; q++) {
            int lo, hi;
            comm_block(q, g_world, n_leaves, &lo, &hi);
            float local = 0.0f;
            for (int j = lo; j < hi; j++) local = j == lo ? leaf_value(j, i) : local + leaf_value(j, i);
            total = q == 0 ? local : total + local;
        }
        want[i] = total;
    }
}

static size_t mismatches(const Backend *be, const float *grad, const float *want) {
    float got[NF];
    Error e;
    CHECK_OK(be->ops->download(got, grad, sizeof got, &e), &e);
    size_t bad = 0;
    for (size_t i = 0; i < NF; i++) bad += memcmp(&got[i], &want[i], sizeof(float)) != 0;
    return bad;
}

static GradReducer *reducer(const Backend *be, float *grad, int n_leaves, size_t bucket_floats, int overlap) {
    Error e;
    GradReducer *r = NULL;
    CHECK_OK(dp_allreduce_init(&r, be, grad, NF, n_leaves, bucket_floats * sizeof(float), 0, &e), &e);
    ParamRange plan[3 * NL + 2];
    if (overlap) CHECK_OK(dp_allreduce_overlap(r, plan, fake_plan(plan), &e), &e);
    return r;
}

static void test_fake(const char *dev, const Backend *be) {
    Error e;
    float *grad = NULL, want[NF];
    CHECK_OK(be->ops->alloc(NF * sizeof(float), (void **)&grad, &e), &e);
    const int leaves[] = {1, 2, 5};
    const size_t buckets[] = {1, 37, NF};
    for (int li = 0; li < 3; li++) {
        expected(leaves[li], want);
        for (int bi = 0; bi < 3; bi++)
            for (int overlap = 0; overlap < 2; overlap++)
                for (int report = N_STAGES; report >= (overlap ? 2 : N_STAGES); report -= 3) {
                    GradReducer *r = reducer(be, grad, leaves[li], buckets[bi], overlap);
                    Fake f = {be, overlap ? r : NULL, grad, report, -1, 0, 0};
                    CHECK_OK(r->reduce(r, fake_leaf, &f, &e), &e);
                    size_t bad = mismatches(be, grad, want);
                    CHECK_MSG(bad == 0, "%s: %d leaves, bucket %zu, overlap %d, %d stages reported: %zu floats differ",
                              dev, leaves[li], buckets[bi], overlap, report, bad);
                    r->free(r);
                }
    }
    /* Failures on the last rank; then the same reducer again, right. */
    struct {
        int n_leaves, fail_leaf, fail_after, disorder;
        const char *what;
    } fails[] = {{5, 3, 0, 0, "an earlier leaf"},
                 {5, 4, 2, 0, "the last leaf after two stages"},
                 {2, 1, 0, 0, "the only leaf before any report"},
                 {5, -1, 0, 1, "a report out of order"}};
    for (int k = 0; k < 4; k++) {
        GradReducer *r = reducer(be, grad, fails[k].n_leaves, 37, 1);
        Fake f = {be, r, grad, N_STAGES, fails[k].fail_leaf, fails[k].fail_after, fails[k].disorder};
        int rc = r->reduce(r, fake_leaf, &f, &e);
        CHECK_MSG(rc != RP_OK, "%s, %s on rank %d: rank %d returned RP_OK", dev, fails[k].what, g_world - 1, g_rank);
        if (g_rank == g_world - 1)
            CHECK_MSG(strstr(e.msg, fails[k].disorder ? "out of the plan's order" : "injected"),
                      "%s, %s: the failing rank says '%s'", dev, fails[k].what, e.msg);
        f.fail_leaf = -1, f.disorder = 0;
        CHECK_OK(r->reduce(r, fake_leaf, &f, &e), &e);
        expected(fails[k].n_leaves, want);
        CHECK_MSG(mismatches(be, grad, want) == 0, "%s: the reduction after %s is wrong", dev, fails[k].what);
        r->free(r);
    }
    /* Plans that cannot serve, and reducers that cannot overlap. */
    GradReducer *r = reducer(be, grad, 2, 37, 0), *z = NULL, *t = NULL;
    ParamRange bad[2] = {{0, 300}, {299, NF}};
    CHECK(dp_allreduce_overlap(r, bad, 2, &e) == RP_EINTERNAL && strstr(e.msg, "cover"));
    CHECK(dp_allreduce_overlap(r, bad, 1, &e) == RP_EINTERNAL);
    CHECK_OK(dp_allreduce_init(&z, be, grad, NF, 2, 64, 1, &e), &e);
    CHECK(dp_allreduce_overlap(z, bad, 1, &e) == RP_EINTERNAL && strstr(e.msg, "ZeRO-1"));
    CHECK_OK(dp_tree_init(&t, be, grad, NF, 2, &e), &e);
    CHECK(dp_allreduce_overlap(t, bad, 1, &e) == RP_EINTERNAL && strstr(e.msg, "tree"));
    r->free(r), z->free(z), t->free(t);
    be->ops->free(grad);
}

/* ---- the models' reports ---- */

typedef struct {
    ParamRange got[4096];
    int n;
} Recorder;

static int record(void *ctx, const ParamRange *r, int n, Error *e) {
    Recorder *rec = ctx;
    for (int i = 0; i < n; i++)
        if (rec->n < 4096) rec->got[rec->n++] = r[i];
    (void)e;
    return RP_OK;
}

/* A random batch of B x T; leaf j's draws depend on j only. */
static int model_leaf(void *ctx, int leaf, Error *e) {
    Model *m = ctx;
    Rng r;
    rng_seed(&r, 100 + (uint64_t)leaf);
    int32_t in[B * T], tg[B * T];
    float mask[B * T], loss;
    random_batch(&r, in, tg, mask, B * T, m->vocab_size);
    int rc = model_zero_grad(m, e);
    if (!rc) rc = model_forward(m, in, tg, mask, B, T, &loss, e);
    return rc ? rc : model_backward(m, 0.25f, e);
}

static void test_reports(const char *name, ModelConfig c) {
    Error e;
    Model m;
    CHECK_OK(model_config_check(&c, &e), &e);
    CHECK_OK(model_init(&m, &c, &e), &e);
    CHECK_OK(model_init_random(&m, 3, &e), &e);
    CHECK_OK(model_plan(&m, B, T, &e), &e);
    ParamRange *plan;
    int n;
    CHECK_OK(model_grad_plan(&m, &plan, &n, &e), &e);
    Recorder *rec = calloc(1, sizeof *rec);
    model_set_grad_hook(&m, record, rec);
    CHECK_OK(model_leaf(&m, 0, &e), &e);
    model_set_grad_hook(&m, NULL, NULL);
    CHECK_MSG(rec->n == n && !memcmp(rec->got, plan, sizeof *plan * (size_t)n),
              "%s: the backward reported %d ranges, the plan has %d (or another order)", name, rec->n, n);
    /* The plan covers the gradient once: the reducer refuses any other. */
    GradReducer *r;
    float *g;
    CHECK_OK(model_grads(&m, &g, &e), &e);
    CHECK_OK(dp_allreduce_init(&r, m.be, g, m.n_params, 1, 1024, 0, &e), &e);
    CHECK_OK(dp_allreduce_overlap(r, plan, n, &e), &e);
    r->free(r);
    free(rec);
    free(plan);
    model_free(&m);
}

/* The gradient sum of 2 x world micro-batches with overlap (1 KiB buckets) and without. */
static void test_model(const char *dev, const char *name, ModelConfig c) {
    Error e;
    Model m;
    CHECK_OK(model_config_check(&c, &e), &e);
    CHECK_OK(model_init(&m, &c, &e), &e);
    CHECK_OK(model_init_random(&m, 3, &e), &e);
    CHECK_OK(model_plan(&m, B, T, &e), &e);
    float *g, *sum[2];
    CHECK_OK(model_grads(&m, &g, &e), &e);
    for (int overlap = 0; overlap < 2; overlap++) {
        GradReducer *r;
        CHECK_OK(dp_allreduce_init(&r, m.be, g, m.n_params, 2 * g_world, 1024, 0, &e), &e);
        if (overlap) {
            ParamRange *plan;
            int n;
            CHECK_OK(model_grad_plan(&m, &plan, &n, &e), &e);
            CHECK_OK(dp_allreduce_overlap(r, plan, n, &e), &e);
            free(plan);
            model_set_grad_hook(&m, dp_grad_ready, r);
        }
        CHECK_OK(r->reduce(r, model_leaf, &m, &e), &e);
        model_set_grad_hook(&m, NULL, NULL);
        sum[overlap] = malloc(sizeof(float) * m.n_params);
        CHECK_OK(model_state_download(&m, 'g', sum[overlap], &e), &e);
        r->free(r);
    }
    size_t bad = 0;
    for (size_t i = 0; i < m.n_params; i++) bad += memcmp(&sum[0][i], &sum[1][i], sizeof(float)) != 0;
    CHECK_MSG(bad == 0, "%s %s: %zu of %zu gradient floats differ with overlap", dev, name, bad, m.n_params);
    if (g_rank == 0) printf("%s %s, %d rank(s): overlapped gradient sum bitwise equal (%zu floats)\n", dev, name, g_world, m.n_params);
    free(sum[0]), free(sum[1]);
    model_free(&m);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_world);
    Error e;
    error_clear(&e);
    kernels_set_threads(1);
    backend_register(cuda_backend());
#ifndef RESTPG_SIMT_EMU
    int devices = 0;
    if (cudaGetDeviceCount(&devices) != cudaSuccess || devices < g_world) {
        printf("SKIP: %d rank(s) need as many CUDA devices, found %d\n", g_world, devices);
        MPI_Finalize();
        return 77;
    }
#endif
    CHECK_OK(backend_select("cpu", &e), &e);
    test_reports("gpt2", gpt2_tiny());
    test_reports("gemma3", gemma3_tiny());
    test_reports("llama (untied)", llama_tiny());
    test_reports("qwen2", family_tiny(llama_config_qwen2()));
    test_reports("qwen3", family_tiny(llama_config_qwen3()));
    test_fake("cpu", backend_get());
    test_model("cpu", "gpt2", gpt2_tiny());
    test_model("cpu", "qwen3", family_tiny(llama_config_qwen3()));
    CHECK_OK(backend_select("cuda", &e), &e);
    test_fake("cuda", backend_get());
    test_model("cuda", "gpt2", gpt2_tiny());
    char name[64];
    snprintf(name, sizeof name, "test_dp_overlap rank %d of %d", g_rank, g_world);
    int rc = test_summary(name);
    backend_get()->ops->comm_free();
    MPI_Finalize();
    return rc;
}

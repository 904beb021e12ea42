/* Benchmark: a data-parallel training step (per rank: --leaves micro-batches of zero grads,
 * forward, backward; the gradient all-reduce in buckets of --bucket-mb; AdamW) with the
 * all-reduce overlapped with the last micro-batch's backward (trainer/dp.h) and without, on the
 * same model and batches, under mpiexec. The two modes alternate step by step (after one warm-up
 * step each), so drift on a shared machine hits both alike; each step starts after a barrier and
 * ends when every rank is done (a barrier), and the median and fastest step of each mode are
 * printed. On the CPU backend the collectives are synchronous (kernels/cpu/comm_cpu.h), so
 * overlap can only move the messages, not hide them; on cuda (CUDA builds) NCCL runs on its own
 * stream beside the backward's kernels. Both modes' gradients are also compared bitwise.
 * Usage: mpiexec -n 2 bench_overlap [--shapes tiny,124M:64] [--steps N] [--leaves L]
 *        [--bucket-mb M] [--threads N] [--device cpu|cuda] [--batch B]
 * Prints one JSON line per (shape, mode) on rank 0. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/args.h"
#include "core/log.h"
#include "core/comm.h"
#include "core/rng.h"
#include "model/model.h"
#include "trainer/dp.h"
#ifdef RESTPG_WITH_CUDA
#include "kernels/cuda/backend_cuda.h"
#endif

typedef struct {
    Model *m;
    int B, T;
    int32_t *in, *tg; /* [leaves][B*T] */
} Leaves;

static int leaf(void *ctx, int j, Error *e) {
    Leaves *l = ctx;
    size_t off = (size_t)j * l->B * l->T;
    float loss;
    int rc = model_zero_grad(l->m, e);
    if (!rc) rc = model_forward(l->m, l->in + off, l->tg + off, NULL, l->B, l->T, &loss, e);
    return rc ? rc : model_backward(l->m, 1.0f, e);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One step of mode `overlap`: the reduction (with its hook installed) and AdamW; *secs is the
 * slowest rank's time between two barriers. */
static int step(Model *m, GradReducer *r, int overlap, Leaves *l, int k, double *secs, Error *e) {
    model_set_grad_hook(m, overlap ? dp_grad_ready : NULL, overlap ? r : NULL);
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = time_now(), norm;
    const AdamW h = {1e-5f, 0.9f, 0.95f, 1e-8f, 0.0f};
    int rc = r->reduce(r, leaf, l, e);
    if (!rc) rc = model_adamw_step(m, &h, 1.0, k, &norm, e);
    MPI_Barrier(MPI_COMM_WORLD);
    *secs = time_now() - t0;
    model_set_grad_hook(m, NULL, NULL);
    return rc;
}

static int run_shape(const char *name, ModelConfig cfg, int B, int T, int leaves, size_t bucket, int steps, Error *e) {
    int rank, world;
    comm_world(&rank, &world);
    Model m;
    int rc = model_init(&m, &cfg, e);
    if (rc) return rc;
    GradReducer *r[2] = {NULL, NULL};
    float *g = NULL, *host[2] = {NULL, NULL};
    ParamRange *plan = NULL;
    int n_plan = 0;
    Leaves l = {&m, B, T, malloc(sizeof(int32_t) * leaves * world * B * T), malloc(sizeof(int32_t) * leaves * world * B * T)};
    Rng rng;
    rng_seed(&rng, 7);
    for (size_t i = 0; i < (size_t)leaves * world * B * T; i++) {
        l.in[i] = (int32_t)(rng_next(&rng) % (uint64_t)m.vocab_size);
        l.tg[i] = (int32_t)(rng_next(&rng) % (uint64_t)m.vocab_size);
    }
    if (!(rc = model_init_random(&m, 1, e)) && !(rc = model_opt_reset(&m, e)) && !(rc = model_plan(&m, B, T, e)) &&
        !(rc = model_grads(&m, &g, e)) && !(rc = model_grad_plan(&m, &plan, &n_plan, e)))
        for (int o = 0; o < 2 && !rc; o++)
            if (!(rc = dp_allreduce_init(&r[o], m.be, g, m.n_params, leaves * world, bucket, 0, e)) && o)
                rc = dp_allreduce_overlap(r[o], plan, n_plan, e);
    /* Both modes' sums of the same parameters, to compare. */
    for (int o = 0; o < 2 && !rc; o++) {
        host[o] = malloc(sizeof(float) * m.n_params);
        model_set_grad_hook(&m, o ? dp_grad_ready : NULL, o ? r[o] : NULL);
        rc = r[o]->reduce(r[o], leaf, &l, e);
        model_set_grad_hook(&m, NULL, NULL);
        if (!rc) rc = model_state_download(&m, 'g', host[o], e);
    }
    double *t[2] = {calloc((size_t)steps + 1, sizeof(double)), calloc((size_t)steps + 1, sizeof(double))};
    /* A warm-up step each, then alternating. */
    for (int k = 0; k <= steps && !rc; k++)
        for (int o = 0; o < 2 && !rc; o++) rc = step(&m, r[o], o, &l, 1 + 2 * k + o, &t[o][k], e);
    if (!rc && rank == 0) {
        int same = !memcmp(host[0], host[1], sizeof(float) * m.n_params);
        for (int o = 0; o < 2; o++) {
            qsort(t[o] + 1, (size_t)steps, sizeof(double), cmp_double);
            printf("{\"bench\":\"overlap\",\"device\":\"%s\",\"shape\":\"%s\",\"B\":%d,\"T\":%d,\"ranks\":%d,"
                   "\"leaves_per_rank\":%d,\"bucket_mb\":%.2f,\"params\":%zu,\"threads\":%d,\"overlap\":%d,\"steps\":%d,"
                   "\"ms_per_step_median\":%.1f,\"ms_per_step_min\":%.1f,\"grads_bitwise_equal\":%s}\n",
                   m.be->ops->name, name, B, T, world, leaves, bucket / 1048576.0, m.n_params, m.be->ops->threads(), o,
                   steps, 1e3 * t[o][1 + steps / 2], 1e3 * t[o][1], same ? "true" : "false");
        }
        fflush(stdout);
    }
    for (int o = 0; o < 2; o++) {
        if (r[o]) r[o]->free(r[o]);
        free(t[o]), free(host[o]);
    }
    free(plan), free(l.in), free(l.tg);
    model_free(&m);
    return rc;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    const char *shapes = "tiny,124M:64", *device = "cpu";
    long steps = 5, leaves = 1, threads = 1, batch = 4;
    double bucket_mb = 32;
    ArgSpec specs[] = {{"--shapes", ARG_STR, &shapes, "comma-separated: tiny, 124M:T (GPT-2 124M at sequence length T)", 0, 0},
                       {"--steps", ARG_INT, &steps, "timed steps per mode (after one warm-up each)", 0, ARG_RANGE(1, 10000)},
                       {"--leaves", ARG_INT, &leaves, "micro-batches per rank and step", 0, ARG_RANGE(1, 64)},
                       {"--bucket-mb", ARG_DOUBLE, &bucket_mb, "gradient per all-reduce bucket, MiB (default 32)", 0,
                        ARG_ABOVE(0)},
                       {"--threads", ARG_INT, &threads, "CPU threads per rank", 0, ARG_THREADS},
                       {"--batch", ARG_INT, &batch, "sequences per micro-batch (default 4)", 0, ARG_RANGE(1, 4096)},
                       BACKEND_DEVICE_SPEC(device),
                       {NULL, 0, NULL, NULL, 0, 0}};
    Error e;
    error_clear(&e);
    int rc = args_parse("bench_overlap", "Times data-parallel steps with and without overlap; prints JSON lines.", specs,
                        argc, argv, &e);
#ifdef RESTPG_WITH_CUDA
    backend_register(cuda_backend());
#endif
    if (!rc) rc = backend_select(device, &e);
    if (!rc) backend_get()->ops->set_threads((int)threads);
    ModelConfig gpt2 = {.arch = ARCH_GPT2, .gpt2 = {.vocab_size = 50257, .n_layer = 12, .n_head = 12, .n_embd = 768, .n_positions = 1024}};
    ModelConfig tiny = {.arch = ARCH_GPT2, .gpt2 = {.vocab_size = 512, .n_layer = 4, .n_head = 4, .n_embd = 128, .n_positions = 256}};
    if (!rc) rc = model_config_check(&gpt2, &e);
    if (!rc) rc = model_config_check(&tiny, &e);
    char sbuf[256];
    snprintf(sbuf, sizeof sbuf, "%s", shapes);
    char *save = NULL;
    for (char *sh = rc ? NULL : strtok_r(sbuf, ",", &save); sh && !rc; sh = strtok_r(NULL, ",", &save)) {
        if (!strcmp(sh, "tiny")) rc = run_shape(sh, tiny, (int)batch, 64, (int)leaves, (size_t)(bucket_mb * 1048576.0), (int)steps, &e);
        else if (!strncmp(sh, "124M:", 5) && atoi(sh + 5) >= 1 && atoi(sh + 5) <= 1024)
            rc = run_shape(sh, gpt2, (int)batch, atoi(sh + 5), (int)leaves, (size_t)(bucket_mb * 1048576.0), (int)steps, &e);
        else rc = error_set(&e, RP_EINPUT, "--shapes: unknown shape '%s'", sh);
    }
    if (rc && rc != RP_HELP) fprintf(stderr, "error: %s\n", e.msg);
    backend_get()->ops->comm_free();
    MPI_Finalize();
    return rc == RP_HELP ? 0 : rc;
}

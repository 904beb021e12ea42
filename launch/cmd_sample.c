/* `restpg sample`: the E-step from the command line. Every rank loads the checkpoint and the
 * dataset, sampler_run shards the inputs, rank 0 writes the samples file. Progress is saved to
 * OUT.partial as inputs finish, so a killed run continues with --resume. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/args.h"
#include "core/fileio.h"
#include "core/log.h"
#include "data/dataset.h"
#include "kernels/backend.h"
#include "launch/commands.h"
#include "launch/runtime.h"
#include "model/checkpoint.h"
#include "sampler/sampler.h"
#include "core/comm.h"
#include "core/watchdog.h"

typedef struct {
    const char *model, *data, *split, *out, *reasoning, *dtype;
    long n, top_k, max_new, seed, limit, round, k, batch, threads, stall, max_reason, max_answer;
    DType weights; /* parsed from dtype */
    double temperature, top_p, save_every;
    int resume, no_profile, limit_random;
} SampleArgs;

/* SamplerOptions from the parsed arguments (already within the option table's rules). */
static void sample_options(const SampleArgs *a, SamplerOptions *o) {
    sampler_options_default(o);
    o->model_path = a->model;
    o->data_path = a->data;
    o->split = a->split;
    o->sp.temperature = a->temperature;
    o->sp.top_p = a->top_p;
    o->save_every = a->save_every;
    o->limit = a->limit;
    o->limit_random = a->limit_random;
    o->round = a->round;
    o->prompt.profile = !a->no_profile;
    o->seed = (uint64_t)a->seed;
    o->n = (int)a->n;
    o->sp.top_k = (int)a->top_k;
    o->max_new_tokens = (int)a->max_new;
    o->max_reasoning_tokens = (int)a->max_reason;
    o->max_answer_tokens = (int)a->max_answer;
    o->batch = (int)a->batch;
    o->threads = (int)a->threads;
    o->weights = a->weights;
    if (a->k >= 0) o->prompt.k = (int)a->k;
    o->prompt.reasoning = !strcmp(a->reasoning, "on");
}

/* Without --threads, ranks sharing a node split its cores instead of each taking all of them. */
static void default_threads(SamplerOptions *o) {
    if (o->threads || getenv("OMP_NUM_THREADS")) return;
    int local = comm_local_ranks(), procs = omp_get_num_procs();
    if (local > 1) o->threads = procs / local > 1 ? procs / local : 1;
}

typedef struct {
    Model m;
    int have_model;
    Tokenizer *tok;
    Dataset d;
    int have_data;
    Samples s;
    char *partial; /* OUT.partial */
} SampleJob;

static int load(const SampleArgs *a, SampleJob *j, int rank, Error *e) {
    int rc = checkpoint_load_any(a->model, &j->m, &j->tok, NULL, e);
    if (rc) return rc;
    j->have_model = 1;
    if ((rc = dataset_read(a->data, &j->d, e))) return rc;
    j->have_data = 1;
    if (!(j->partial = xasprintf(e, "%s.partial", a->out))) return RP_ENOMEM;
    if (rank == 0 && !a->resume && path_exists(j->partial))
        return error_set(e, RP_EINPUT, "%s exists: an earlier run of this command was interrupted; add --resume to "
                                       "continue it, or delete the file to start over", j->partial);
    if (rank == 0 && a->resume && !path_exists(j->partial)) log_info("--resume: no %s yet; starting from the first input", j->partial);
    return RP_OK;
}

static int run(const SampleArgs *a, Error *e) {
    SamplerOptions o;
    sample_options(a, &o);
    Runtime rt;
    int rc = runtime_init(&rt, e);
    if (!rc) rc = watchdog_start(a->stall, "sampling", e);
    if (rc) {
        watchdog_stop();
        runtime_finalize(&rt);
        return rc;
    }
    SampleJob j;
    memset(&j, 0, sizeof j);
    samples_init(&j.s);
    rc = comm_agree(load(a, &j, rt.rank, e), e);
    if (!rc) {
        default_threads(&o);
        o.partial = j.partial;
        rc = sampler_run(&j.m, j.tok, &j.d, &o, &j.s, e);
    }
    if (!rc && rt.rank == 0) {
        rc = samples_write(&j.s, a->out, e);
        if (!rc && remove(j.partial) && path_exists(j.partial)) log_warn("could not remove %s", j.partial);
        if (!rc) log_info("sample: wrote %lld candidates to %s", (long long)j.s.m, a->out);
    }
    rc = comm_agree(rc, e);
    samples_free(&j.s);
    if (j.have_data) dataset_free(&j.d);
    if (j.have_model) model_free(&j.m);
    tokenizer_free(j.tok);
    free(j.partial);
    watchdog_stop();
    runtime_finalize(&rt);
    return rc;
}

int cmd_sample(int argc, char **argv, Error *e) {
    SampleArgs a = {.split = "train", .reasoning = "on", .dtype = "auto", .n = 32, .max_new = 256, .k = -1, .batch = 32,
                    .temperature = 0.7, .top_p = 0.9, .save_every = 5.0, .stall = WATCHDOG_DEFAULT_S};
    const char *device = "cpu";
    ArgSpec specs[] = {
        {"--model", ARG_STR, &a.model, "checkpoint (.h5) to sample from", 1, 0},
        {"--data", ARG_STR, &a.data, "dataset file (restpg-dataset)", 1, 0},
        {"--out", ARG_STR, &a.out, "samples file to write (restpg-samples)", 1, 0},
        {"--split", ARG_STR, &a.split, "split whose inputs are sampled (default train)", 0, ARG_SPLIT},
        {"--n", ARG_INT, &a.n, "candidates per input (default 32)", 0, ARG_RANGE(1, 1000000)},
        {"--temperature", ARG_DOUBLE, &a.temperature, "softmax temperature, 0 = greedy (default 0.7)", 0, ARG_MIN(0)},
        {"--top-p", ARG_DOUBLE, &a.top_p, "nucleus mass in (0, 1], 1 = off (default 0.9)", 0, ARG_ABOVE_UPTO(0, 1)},
        {"--top-k", ARG_INT, &a.top_k, "keep the k most likely tokens, 0 = off (default 0)", 0, ARG_RANGE(0, 1 << 30)},
        {"--max-new-tokens", ARG_INT, &a.max_new, "generated tokens per candidate at most (default 256)", 0, ARG_RANGE(1, 1 << 30)},
        {"--max-reasoning-tokens", ARG_INT, &a.max_reason, "separate budgets: reasoning tokens, then the separator is "
                                                           "forced (needs --max-answer-tokens)", 0, ARG_RANGE(0, 1 << 30)},
        {"--max-answer-tokens", ARG_INT, &a.max_answer, "separate budgets: answer tokens (replaces --max-new-tokens)", 0,
         ARG_RANGE(0, 1 << 30)},
        {"--seed", ARG_INT, &a.seed, "random seed (default 0)", 0, ARG_MIN(0)},
        {"--round", ARG_INT, &a.round, "EM round, part of the random key (default 0)", 0, ARG_MIN(0)},
        {"--limit", ARG_INT, &a.limit, "only the first N inputs of the split (default 0 = all)", 0, ARG_MIN(0)},
        {"--limit-random", ARG_FLAG, &a.limit_random, "--limit's N inputs are a random subset keyed by --seed and "
                                                      "--round instead of the first N", 0, 0},
        {"--reasoning", ARG_STR, &a.reasoning, "on: candidates are reasoning + answer (default); off: answer only", 0,
         ARG_ONE_OF("on", "off")},
        {"--k", ARG_INT, &a.k, "profile items retrieved into each prompt (default 4)", 0, ARG_RANGE(0, 100000)},
        {"--no-profile", ARG_FLAG, &a.no_profile, "no retrieved profile items (non-personalized baseline)", 0, 0},
        {"--batch", ARG_INT, &a.batch, "candidates decoded together per rank (default 32)", 0, ARG_RANGE(1, 65536)},
        {"--threads", ARG_INT, &a.threads, "CPU threads per rank (default: OMP_NUM_THREADS, or the node's cores "
                                           "split between its ranks)", 0, ARG_THREADS},
        BACKEND_DEVICE_SPEC(device),
        MODEL_DTYPE_SPEC(a.dtype),
        WATCHDOG_SPEC(a.stall),
        {"--resume", ARG_FLAG, &a.resume, "continue from OUT.partial left by an interrupted run", 0, 0},
        {"--save-every", ARG_DOUBLE, &a.save_every, "most seconds between saves of OUT.partial (default 5; sooner while saving is cheap)", 0,
         ARG_MIN(0)},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("sample",
                        "Generates N candidates (reasoning + answer) for every input of a split with a KV cache "
                        "shared by each input's candidates. Runs under mpirun (inputs handed out dynamically, "
                        "rank 0 writes --out) or alone; the file is the same for any rank count, --batch and "
                        "--threads. Progress goes to OUT.partial; --resume continues a killed run.",
                        specs, argc, argv, e);
    const char *ins[] = {"--model", a.model, "--data", a.data};
    if (rc || (rc = file_check_out("--out", a.out, 2, ins, e)) || (rc = backend_select(device, e)) ||
        (rc = model_dtype_parse(a.dtype, &a.weights, e)))
        return rc;
    return run(&a, e);
}

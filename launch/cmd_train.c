/* The pretrain and sft stages (launch/stages.h): load data, tokenizer and model (or the checkpoint
 * to resume), build the token sequences and hand them to trainer_run; and `restpg pretrain` and
 * `restpg sft`, which parse their options into the stages' structs. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/args.h"
#include "core/fileio.h"
#include "core/log.h"
#include "data/dataset.h"
#include "kernels/backend.h"
#include "launch/commands.h"
#include "launch/stages.h"
#include "launch/runtime.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "core/comm.h"
#include "core/watchdog.h"
#include "trainer/trainer.h"

/* Options common to both commands; numbers parse as long/double within the option table's rules. */
typedef struct {
    const char *data, *out, *tokenizer, *schedule, *metrics, *tensorboard;
    const char *device;
    long steps, batch, seq, seed, threads, ckpt_every, accum, warmup, val_every, val_batches, skip_nonfinite, stall;
    double lr, min_frac, wd, clip;
    int resume, recompute;
    const char *reduce, *dtype, *vocab_chunk;
    long zero, overlap;
} CommonOpts;

#define COMMON_SPECS(o)                                                                                              \
    {"--data", ARG_STR, &(o).data, "dataset file (restpg-dataset)", 1, 0},                                           \
    {"--out", ARG_STR, &(o).out, "checkpoint to write (every --checkpoint-every steps and at the end)", 1, 0},        \
    {"--tokenizer", ARG_STR, &(o).tokenizer, "tokenizer file or GPT-2 directory", 0, 0},                            \
    {"--steps", ARG_INT, &(o).steps, "optimizer steps in total (default 100)", 0, 0},                                \
    {"--batch-size", ARG_INT, &(o).batch, "sequences per micro-batch (default 4)", 0, ARG_RANGE(1, INT_MAX)},                            \
    {"--seq-len", ARG_INT, &(o).seq, "tokens per sequence (default: the model's n_positions)", 0, ARG_RANGE(0, INT_MAX)},                \
    {"--grad-accum", ARG_INT, &(o).accum, "micro-batches per step, split over ranks (default 1)", 0, ARG_RANGE(1, INT_MAX)},            \
    {"--recompute", ARG_FLAG, &(o).recompute, "keep only each layer's input and recompute its activations in the backward: less memory, more compute, same results", 0, 0}, \
    {"--reduce", ARG_STR, &(o).reduce, "gradient sum over ranks: tree (default; bitwise the same for any rank count) or allreduce (bucketed all-reduce, NCCL on GPUs; bitwise the same for the same rank count)", 0, ARG_ONE_OF(DP_REDUCE_NAMES)}, \
    {"--dtype", ARG_STR, &(o).dtype, "the products' precision: auto (default: bf16 mixed precision on cuda, fp32 on cpu), fp32 or bf16 (cuda; fp32 master weights, gradients and moments)", 0, ARG_ONE_OF("auto", "fp32", "bf16")}, \
    MODEL_VOCAB_CHUNK_SPEC((o).vocab_chunk),                                                                        \
    {"--zero", ARG_INT, &(o).zero, "1: ZeRO-1, AdamW moments sharded over the ranks (needs --reduce allreduce; default 0)", 0, ARG_RANGE(0, 1)}, \
    {"--overlap", ARG_INT, &(o).overlap, "1 (default): with --reduce allreduce (not --zero 1), each bucket's all-reduce starts during the backward as its layers finish; 0: after the backward (the same result on the cpu)", 0, ARG_RANGE(0, 1)}, \
    {"--lr", ARG_DOUBLE, &(o).lr, "peak learning rate (default 3e-4)", 0, 0},                                        \
    {"--warmup", ARG_INT, &(o).warmup, "warm-up steps (default 0)", 0, 0},                                           \
    {"--lr-schedule", ARG_STR, &(o).schedule, "cosine or linear decay after warm-up (default cosine)", 0, 0},       \
    {"--min-lr-frac", ARG_DOUBLE, &(o).min_frac, "final lr as a fraction of --lr (default 0.1)", 0, 0},             \
    {"--weight-decay", ARG_DOUBLE, &(o).wd, "AdamW weight decay of matmul weights and embeddings (default 0.1)", 0, 0}, \
    {"--grad-clip", ARG_DOUBLE, &(o).clip, "max global gradient norm, 0 = off (default 1.0)", 0, ARG_MIN(0)},                \
    {"--skip-nonfinite", ARG_INT, &(o).skip_nonfinite, "skip up to N steps with a NaN/Inf loss or gradient norm (default 0: stop at the first)", 0, ARG_MIN(0)}, \
    {"--seed", ARG_INT, &(o).seed, "seed of initialisation and data order (default 1)", 0, ARG_MIN(0)},                       \
    {"--threads", ARG_INT, &(o).threads, "CPU threads per rank (default: OMP_NUM_THREADS or all cores)", 0, ARG_THREADS},      \
    BACKEND_DEVICE_SPEC((o).device),                                                                               \
    WATCHDOG_SPEC((o).stall),                                                                                      \
    {"--checkpoint-every", ARG_INT, &(o).ckpt_every, "write --out every N steps (default 0: only at the end)", 0, 0},   \
    {"--resume", ARG_FLAG, &(o).resume, "continue from --out if it exists (bitwise as if never stopped)", 0, 0},     \
    {"--val-every", ARG_INT, &(o).val_every, "validation loss every N steps (default 0: off)", 0, 0},                \
    {"--val-batches", ARG_INT, &(o).val_batches, "micro-batches of the val split per validation (default 8)", 0, ARG_RANGE(1, INT_MAX)}, \
    {"--metrics", ARG_STR, &(o).metrics, "append JSON lines (step, loss, lr, grad_norm, tokens/s, val_loss) here", 0, 0}, \
    {"--tensorboard", ARG_STR, &(o).tensorboard, "also write those metrics, as they come, as TensorBoard scalars (tags pretrain/loss, sft/val_loss, ...) to a new events file in this directory (tensorboard --logdir DIR)", 0, 0}

void train_stage_options_default(TrainStageOptions *o) {
    memset(o, 0, sizeof *o);
    train_config_default(&o->train);
    o->train.seq_len = 0; /* the model's n_positions, as `restpg pretrain`/`sft` default it */
}

static void common_defaults(CommonOpts *o) {
    TrainConfig d;
    train_config_default(&d);
    memset(o, 0, sizeof *o);
    o->schedule = "cosine";
    o->reduce = dp_reduce_name(d.reduce);
    o->overlap = d.overlap;
    o->dtype = "auto";
    o->vocab_chunk = "auto";
    o->device = "cpu";
    o->steps = d.steps;
    o->batch = d.batch_size;
    o->seed = (long)d.seed;
    o->accum = d.grad_accum;
    o->val_batches = d.val_batches;
    o->stall = WATCHDOG_DEFAULT_S;
    o->lr = d.sched.max_lr;
    o->min_frac = d.sched.min_frac;
    o->wd = d.weight_decay;
    o->clip = d.grad_clip;
}

/* --out is rewritten every checkpoint: it must not be one of the files the run reads. */
static int check_out(const CommonOpts *o, const char *opt, const char *path, Error *e) {
    const char *ins[] = {"--data", o->data, "--tokenizer", o->tokenizer, "--metrics", o->metrics, opt, path};
    return file_check_out("--out", o->out, 4, ins, e);
}

/* The stage options of the parsed command line (values already within the table's rules). */
static int to_stage(const CommonOpts *o, TrainStageOptions *s, Error *e) {
    train_stage_options_default(s);
    s->data = o->data;
    s->tokenizer = o->tokenizer;
    s->threads = (int)o->threads;
    s->resume = o->resume;
    TrainConfig *tc = &s->train;
    tc->out = o->out;
    tc->metrics = o->metrics;
    tc->steps = o->steps;
    tc->seed = (uint64_t)o->seed;
    tc->checkpoint_every = o->ckpt_every;
    tc->val_every = o->val_every;
    tc->sched.max_lr = o->lr;
    tc->sched.min_frac = o->min_frac;
    tc->sched.warmup = o->warmup;
    tc->weight_decay = o->wd;
    tc->grad_clip = o->clip;
    tc->skip_nonfinite = o->skip_nonfinite;
    tc->batch_size = (int)o->batch;
    tc->grad_accum = (int)o->accum;
    tc->recompute = o->recompute;
    tc->zero = (int)o->zero;
    tc->overlap = (int)o->overlap;
    tc->val_batches = (int)o->val_batches;
    tc->seq_len = (int)o->seq;
    int rc = dp_reduce_parse(o->reduce, &tc->reduce, e);
    if (!rc) rc = model_dtype_parse(o->dtype, &tc->dtype, e); /* auto: by the device, selected before */
    if (!rc && model_vocab_chunk_parse(o->vocab_chunk, &tc->vocab_chunk, e)) rc = error_wrap(e, "--vocab-chunk");
    return rc ? rc : schedule_parse_kind(o->schedule, &tc->sched.kind, e);
}

/* --tensorboard DIR: rank 0 opens the stage's events file there (collective). */
static int tensorboard_open(const CommonOpts *o, TrainStageOptions *s, Error *e) {
    int rc = o->tensorboard && log_rank() == 0 ? tbevents_open(&s->train.tb, o->tensorboard, e) : RP_OK;
    if (!rc && s->train.tb) log_info("tensorboard: scalars go to %s", s->train.tb->path);
    return comm_agree(rc, e);
}

/* A --tokenizer given next to a checkpoint must be the checkpoint's own (same serialized bytes). */
static int same_tokenizer(const char *path, const Tokenizer *have, const char *ckpt, Error *e) {
    Tokenizer *t = NULL;
    uint8_t *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    int rc = tokenizer_load(path, &t, e);
    if (!rc && !(rc = tokenizer_serialize(t, &a, &na, e)) && !(rc = tokenizer_serialize(have, &b, &nb, e)) &&
        (na != nb || memcmp(a, b, na)))
        rc = error_set(e, RP_EINPUT, "--tokenizer %s differs from the tokenizer embedded in %s", path, ckpt);
    free(a);
    free(b);
    tokenizer_free(t);
    return rc;
}

typedef struct {
    Model m;
    int have_model;
    Tokenizer *tok;
    CheckpointMeta meta;
    Dataset d;
    int have_data;
    SeqSet train, val;
    TrainConfig tc;
    int resumed;
} TrainJob;

static void job_free(TrainJob *j) {
    if (j->have_model) model_free(&j->m);
    tokenizer_free(j->tok);
    if (j->have_data) dataset_free(&j->d);
    seqset_free(&j->train);
    seqset_free(&j->val);
}

/* Loads train.out for resume if it exists; *resumed says whether it did. */
static int try_resume(const TrainStageOptions *o, TrainJob *j, int *resumed, Error *e) {
    *resumed = 0;
    const char *out = o->train.out;
    if (!o->resume) return RP_OK;
    if (!path_exists(out)) {
        log_info("--resume: %s does not exist yet; starting from step 0", out);
        return RP_OK;
    }
    int rc = checkpoint_load(out, &j->m, &j->tok, &j->meta, e);
    if (rc) return rc;
    j->have_model = 1;
    if (!j->meta.has_train) return error_set(e, RP_EINPUT, "%s: has no training state to resume from (weights only)", out);
    *resumed = 1;
    log_info("resuming from %s at step %lld", out, (long long)j->meta.step);
    if (o->tokenizer) return same_tokenizer(o->tokenizer, j->tok, out, e);
    return RP_OK;
}

/* The job's TrainConfig: the stage's, labelled, with seq_len 0 meaning the model's n_positions. */
static int job_config(const TrainStageOptions *o, const char *label, TrainJob *j, Error *e) {
    j->tc = o->train;
    j->tc.label = label;
    if (!j->tc.seq_len) j->tc.seq_len = j->m.n_positions;
    int rc = dataset_read(o->data, &j->d, e);
    if (!rc) j->have_data = 1;
    return rc;
}

static int prepare_pretrain(const PretrainOptions *o, TrainJob *j, Error *e) {
    GPTConfig cfg = o->shape;
    int rc = try_resume(&o->t, j, &j->resumed, e);
    if (rc) return rc;
    if (j->resumed) {
        if (j->m.arch != ARCH_GPT2) return error_set(e, RP_EINPUT, "%s: cannot resume pretraining: it is a %s model", o->t.train.out, model_arch_name(j->m.arch));
        const GPTConfig *c = &j->m.gpt2.cfg;
        if (c->n_layer != cfg.n_layer || c->n_head != cfg.n_head || c->n_embd != cfg.n_embd || c->n_positions != cfg.n_positions)
            return error_set(e, RP_EINPUT, "%s: cannot resume: its model config differs from %s", o->t.train.out, o->shape_origin);
    } else {
        if (!o->t.tokenizer) return error_set(e, RP_EINPUT, "pretrain: --tokenizer is required (a tokenizer file or GPT-2 directory)");
        if ((rc = tokenizer_load(o->t.tokenizer, &j->tok, e))) return rc;
        cfg.vocab_size = tokenizer_vocab_size(j->tok);
        ModelConfig mc = {.arch = ARCH_GPT2, .gpt2 = cfg};
        if ((rc = model_config_check(&mc, e))) return error_wrap(e, "%s", o->shape_origin);
        if ((rc = model_init(&j->m, &mc, e))) return rc;
        j->have_model = 1;
        if ((rc = model_init_random(&j->m, o->t.train.seed, e))) return rc;
    }
    if ((rc = job_config(&o->t, "pretrain", j, e))) return rc;
    return batch_pretrain_corpus(&j->d, o->t.data, j->tok, j->tc.seq_len, &j->train, &j->val, e);
}

static int prepare_sft(const SftOptions *o, TrainJob *j, Error *e) {
    int rc = try_resume(&o->t, j, &j->resumed, e);
    if (rc) return rc;
    if (!j->resumed) {
        if (!o->init) return error_set(e, RP_EINPUT, "sft: --init is required (the checkpoint to fine-tune)");
        if ((rc = checkpoint_load_any(o->init, &j->m, &j->tok, NULL, e))) return rc;
        j->have_model = 1;
        if (o->t.tokenizer && (rc = same_tokenizer(o->t.tokenizer, j->tok, o->init, e))) return rc;
    }
    if ((rc = job_config(&o->t, "sft", j, e))) return rc;
    const TrainConfig *tc = &j->tc;
    const char *data = o->t.data;
    PromptOptions po = o->prompt;
    if (o->reasoning_auto) {
        po.reasoning = 1;
        for (int64_t i = 0; i < j->d.n; i++)
            if (!strcmp(j->d.split[i], "train") && !j->d.reasoning[i][0]) po.reasoning = 0;
        log_info("sft: --reasoning auto -> %s", po.reasoning ? "on (every train example has a reasoning text)" : "off");
    }
    int64_t trunc, skipped;
    if ((rc = batch_sft_corpus(&j->d, "train", j->tok, &po, tc->seq_len, 0, &j->train, &trunc, &skipped, e)))
        return error_wrap(e, "%s", data);
    if (j->train.n == 0) return error_set(e, RP_EINPUT, "%s: the train split is empty", data);
    if (trunc) log_warn("sft: %lld train targets were longer than --seq-len %d and were cut", (long long)trunc, tc->seq_len);
    if ((rc = batch_sft_corpus(&j->d, "val", j->tok, &po, tc->seq_len, 1, &j->val, &trunc, &skipped, e)))
        return error_wrap(e, "%s", data);
    if (skipped) log_warn("sft: %lld val examples have no reasoning text and are left out of validation", (long long)skipped);
    return RP_OK;
}

/* Every rank prepares (loads and tokenizes) on its own, then all agree on success before the
 * first collective, so a failure on one rank never leaves the others waiting. trainer_run
 * agrees on errors at each of its collectives itself. */
static int train(TrainJob *j, int prepare_rc, int threads, Error *e) {
    int rc = comm_agree(prepare_rc, e);
    if (!rc) {
        if (threads > 0) backend_get()->ops->set_threads(threads);
        trainer_print_memory(&j->m, &j->tc);
        TrainResult res;
        rc = trainer_run(&j->tc, &j->m, j->tok, &j->train, &j->val, j->resumed ? &j->meta : NULL, &res, e);
    }
    job_free(j);
    return rc;
}

int stage_pretrain(const PretrainOptions *o, Error *e) {
    TrainJob j;
    memset(&j, 0, sizeof j);
    return train(&j, prepare_pretrain(o, &j, e), o->t.threads, e);
}

int stage_sft(const SftOptions *o, Error *e) {
    TrainJob j;
    memset(&j, 0, sizeof j);
    return train(&j, prepare_sft(o, &j, e), o->t.threads, e);
}

int cmd_pretrain(int argc, char **argv, Error *e) {
    CommonOpts o;
    common_defaults(&o);
    const char *config = NULL;
    ArgSpec specs[] = {
        COMMON_SPECS(o),
        {"--config", ARG_STR, &config, "model config YAML (n_layer, n_head, n_embd, n_positions)", 1, 0},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("pretrain",
                        "Trains a base model from scratch on a dataset's texts (train-split outputs and profile items, "
                        "documents separated by <|endoftext|>, packed into --seq-len windows). Works under mpirun "
                        "(data parallel, same result for any rank count) and without it.",
                        specs, argc, argv, e);
    PretrainOptions p = {.shape_origin = config};
    if (rc || (rc = check_out(&o, "--config", config, e)) || (rc = backend_select(o.device, e)) || (rc = to_stage(&o, &p.t, e))) return rc;
    Runtime rt;
    if (!(rc = runtime_init(&rt, e)) && !(rc = watchdog_start(o.stall, "pretrain", e))) {
        /* The model config is read on every rank; all agree before the stage's first collective. */
        rc = comm_agree(model_config_load(config, &p.shape, e), e);
        if (!rc) rc = tensorboard_open(&o, &p.t, e);
        if (!rc) rc = stage_pretrain(&p, e);
    }
    tbevents_close(p.t.train.tb);
    watchdog_stop();
    runtime_finalize(&rt);
    return rc;
}

int cmd_sft(int argc, char **argv, Error *e) {
    CommonOpts o;
    common_defaults(&o);
    const char *init = NULL, *reasoning = "auto", *profile = "on";
    long k = -1;
    ArgSpec specs[] = {
        COMMON_SPECS(o),
        {"--init", ARG_STR, &init, "checkpoint to start from (required unless --resume finds --out)", 0, 0},
        {"--reasoning", ARG_STR, &reasoning, "on: target is reasoning + answer; off: answer only; auto (default): on if "
                                             "every train example has a reasoning text", 0, ARG_ONE_OF("on", "off", "auto")},
        {"--k", ARG_INT, &k, "profile items retrieved into each prompt (default: the prompt builder's, 4)", 0, ARG_RANGE(0, 1000)},
        {"--profile", ARG_STR, &profile, "on (default): retrieved profile items in the prompt; off: none (no personalization)", 0,
         ARG_ONE_OF("on", "off")},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("sft",
                        "Fine-tunes a checkpoint on prompt -> target pairs of the train split (loss on target tokens "
                        "only), with validation loss on the val split. Works under mpirun and without it.",
                        specs, argc, argv, e);
    SftOptions s = {.init = init};
    if (!rc) rc = check_out(&o, "--init", init, e);
    if (!rc) rc = backend_select(o.device, e);
    if (!rc) rc = to_stage(&o, &s.t, e);
    if (rc) return rc;
    prompt_options_default(&s.prompt);
    if (k >= 0) s.prompt.k = (int)k;
    s.prompt.profile = !strcmp(profile, "on");
    s.prompt.reasoning = !strcmp(reasoning, "on");
    s.reasoning_auto = !strcmp(reasoning, "auto");
    Runtime rt;
    if (!(rc = runtime_init(&rt, e)) && !(rc = watchdog_start(o.stall, "sft", e)) && !(rc = tensorboard_open(&o, &s.t, e)))
        rc = stage_sft(&s, e);
    tbevents_close(s.t.train.tb);
    watchdog_stop();
    runtime_finalize(&rt);
    return rc;
}

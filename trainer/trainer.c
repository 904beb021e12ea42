/* The training loop (see trainer.h): step = data-parallel gradient (tree or all-reduce), clip,
 * AdamW (whole, or ZeRO-1's shard then an all-gather); validation, progress, metrics and
 * checkpoints around it. */
#include "trainer/trainer.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/comm.h"
#include "core/watchdog.h"
#include "model/params.h"
#include "model/vocab_chunk.h"

void train_config_default(TrainConfig *c) {
    memset(c, 0, sizeof *c);
    c->label = "train";
    c->steps = 100;
    c->batch_size = 4;
    c->seq_len = 256;
    c->grad_accum = 1;
    c->sched.kind = SCHED_COSINE;
    c->sched.max_lr = 3e-4;
    c->sched.min_frac = 0.1;
    c->weight_decay = 0.1;
    c->grad_clip = 1.0;
    c->beta1 = 0.9;
    c->beta2 = 0.95;
    c->eps = 1e-8;
    c->seed = 1;
    c->val_batches = 8;
    c->reduce = DP_REDUCE_TREE;
    c->bucket_bytes = DP_BUCKET_BYTES;
    c->overlap = 1;
}

void trainer_print_memory(const Model *m, const TrainConfig *tc) {
    const ModelConfig cfg = model_config(m), *c = &cfg;
    size_t np = m->n_params;
    const double MiB = 1024.0 * 1024.0;
    int rank, world;
    comm_world(&rank, &world);
    /* ZeRO-1: the largest shard, the last rank's (it also holds the few left-over floats). */
    ParamShard sh;
    params_shard(np, world - 1, world, &sh);
    size_t params = 4 * np, grads = 4 * np, opt = 8 * (tc->zero ? sh.hi - sh.lo : np);
    size_t red = tc->reduce == DP_REDUCE_TREE ? dp_tree_bytes(np, tc->grad_accum)
                                              : dp_allreduce_bytes(np, tc->grad_accum, world);
    size_t fixed = params + grads + opt + red;
    size_t act = model_activation_bytes(c, tc->batch_size, tc->seq_len, tc->recompute, tc->vocab_chunk);
    int local = comm_local_ranks();
    const BackendOps *ops = m->be->ops;
    size_t avail = 0, total = 0;
    Error ignored; /* a backend that cannot say reports 0 available: the plan still prints */
    if (ops->mem_info(&avail, &total, &ignored)) avail = 0;
    if (ops->host_memory) avail /= (size_t)local; /* the node's ranks share the host's memory */
    /* Mixed precision adds the weights' bf16 copy. */
    size_t copy = tc->dtype == DTYPE_BF16 && ops->set_compute_dtype ? 2 * np : 0;
    fixed += copy;
    char where[96], half[64] = "";
    if (ops->host_memory) snprintf(where, sizeof where, "%d rank(s) share this node's memory", local);
    else snprintf(where, sizeof where, "on %s: each rank's own device, %d per node", ops->name, local);
    if (copy) snprintf(half, sizeof half, ", bf16 weight copy %.1f MiB (mixed precision)", copy / MiB);
    char zero[160] = "";
    if (tc->zero && world > 1)
        snprintf(zero, sizeof zero, " (ZeRO-1: a shard of 1/%d; rank 0 holds all %.1f MiB more while it writes a checkpoint)",
                 world, 8 * np / MiB);
    else if (tc->zero)
        snprintf(zero, sizeof zero, " (ZeRO-1 on one rank: all of them)");
    char chunk[96] = "";
    int V = c->arch == ARCH_GPT2 ? c->gpt2.vocab_size : c->llama.vocab_size;
    if (vchunk_cols(tc->vocab_chunk, V))
        snprintf(chunk, sizeof chunk, ", logits in vocabulary chunks of %d", vchunk_cols(tc->vocab_chunk, V));
    log_info("memory plan per rank (%s): fp32 master weights %.1f MiB%s, fp32 gradients %.1f MiB, "
             "fp32 AdamW moments %.1f MiB%s, %s reduction buffers %.1f MiB, "
             "activations %.1f MiB (batch %d x seq %d%s%s); total %.1f MiB of %.1f MiB available",
             where, params / MiB, half, grads / MiB, opt / MiB, zero, dp_reduce_name(tc->reduce), red / MiB, act / MiB,
             tc->batch_size, tc->seq_len, tc->recompute ? ", recomputed per layer" : "", chunk, (fixed + act) / MiB,
             avail / MiB);
    int lo = 0, hi = 1;
    while (hi < (1 << 24) && fixed + model_activation_bytes(c, hi, tc->seq_len, tc->recompute, tc->vocab_chunk) <= avail) lo = hi, hi *= 2;
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2;
        if (fixed + model_activation_bytes(c, mid, tc->seq_len, tc->recompute, tc->vocab_chunk) <= avail) lo = mid;
        else hi = mid;
    }
    if (lo == 0) log_warn("even batch size 1 at seq %d does not fit the available memory", tc->seq_len);
    else log_info("largest batch size that fits in available memory at seq %d: %d", tc->seq_len, lo);
}

/* Target positions sequence i contributes when cut to T inputs. */
static int64_t seq_targets(const SeqSet *s, int64_t i, int T) {
    int64_t len = s->len[i] - 1 < T ? s->len[i] - 1 : T;
    int64_t n = len - (s->loss_from[i] - 1);
    return n > 0 ? n : 0;
}

typedef struct {
    Model *m;
    const SeqSet *s;
    Batch *batch;
    const int64_t *idx; /* the global batch: leaf j uses idx[j*B .. j*B+B) */
    int B;
    int32_t pad;
    double n_global;    /* target tokens in the global batch */
    double *stats;      /* per leaf: loss sum, targets, real tokens */
} LeafCtx;

static int leaf_grad(void *ctx, int leaf, Error *e) {
    LeafCtx *c = ctx;
    Batch *b = c->batch;
    batch_fill(b, c->s, c->idx + (size_t)leaf * c->B, c->B, c->pad);
    float loss = 0;
    int rc = model_zero_grad(c->m, e);
    if (!rc) rc = model_forward(c->m, b->inputs, b->targets, b->mask, b->B, b->T_used, &loss, e);
    if (!rc) rc = model_backward(c->m, (float)((double)b->n_target / c->n_global), e);
    if (rc) return rc;
    c->stats[3 * leaf] = (double)loss * (double)b->n_target;
    c->stats[3 * leaf + 1] = (double)b->n_target;
    c->stats[3 * leaf + 2] = (double)b->n_real;
    return RP_OK;
}

/* Forward-only loss of batches [lo, hi) of `n` sequences idx taken B at a time; per batch the
 * loss sum and target count go to stats[2j], stats[2j+1]. */
static int eval_batches(Model *m, const SeqSet *s, const int64_t *idx, int64_t n, Batch *b, int32_t pad, int lo, int hi,
                        double *stats, Error *e) {
    for (int j = lo; j < hi; j++) {
        int64_t first = (int64_t)j * b->B;
        int cnt = n - first < b->B ? (int)(n - first) : b->B;
        batch_fill(b, s, idx + first, cnt, pad);
        float loss = 0;
        int rc = b->n_target ? model_forward(m, b->inputs, b->targets, b->mask, b->B, b->T_used, &loss, e) : RP_OK;
        if (rc) return rc;
        stats[2 * j] = b->n_target ? (double)loss * (double)b->n_target : 0.0;
        stats[2 * j + 1] = (double)b->n_target;
    }
    return RP_OK;
}

static double sum_ratio(const double *stats, int n, int width) {
    double num = 0, den = 0;
    for (int j = 0; j < n; j++) num += stats[width * j], den += stats[width * j + 1];
    return den > 0 ? num / den : 0.0;
}

int trainer_eval(Model *m, const SeqSet *s, const int64_t *idx, int64_t n, int B, int32_t pad, double *loss,
                 int64_t *n_tokens, Error *e) {
    int T = 1;
    for (int64_t i = 0; i < n; i++)
        if (s->len[idx[i]] - 1 > T) T = s->len[idx[i]] - 1;
    int nb = (int)((n + B - 1) / B);
    Batch b;
    int rc = batch_init(&b, B, T, e);
    if (rc) return rc;
    double *stats = xcalloc((size_t)(nb ? nb : 1) * 2, sizeof(double), e);
    if (!stats) rc = RP_ENOMEM;
    if (!rc) rc = eval_batches(m, s, idx, n, &b, pad, 0, nb, stats, e);
    if (!rc) {
        *loss = sum_ratio(stats, nb, 2);
        *n_tokens = 0;
        for (int j = 0; j < nb; j++) *n_tokens += (int64_t)stats[2 * j + 1];
    }
    free(stats);
    batch_free(&b);
    return rc;
}

/* Everything trainer_run keeps between steps. */
typedef struct {
    const TrainConfig *tc;
    Model *m;
    const Tokenizer *t;
    const SeqSet *train, *val;
    int rank, world;
    GradReducer *dp;
    ParamShard shard; /* this rank's part of the flat state under ZeRO-1 */
    DataOrder order;
    Batch batch;
    int64_t *idx, *val_idx;
    double *stats;
    int32_t pad;
    FILE *metrics;
    TbEvents *tb; /* rank 0's TensorBoard writer (tc->tb), NULL elsewhere */
} Run;

/* One metrics line (a JSON object, printf-style): appended to the metrics file, and its numbers
 * as TensorBoard scalars at step, as each is written. */
static void metrics_line(Run *r, int64_t step, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void metrics_line(Run *r, int64_t step, const char *fmt, ...) {
    if (!r->metrics && !r->tb) return;
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    char *line = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (line) vsnprintf(line, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    va_end(ap);
    if (!line) {
        log_warn("%s: step %lld: out of memory for the metrics line", r->tc->label, (long long)step);
        return;
    }
    if (r->metrics) {
        fprintf(r->metrics, "%s\n", line);
        fflush(r->metrics);
    }
    tbevents_json(r->tb, r->tc->tb_prefix ? r->tc->tb_prefix : r->tc->label, step, line);
    free(line);
}

static int validate(Run *r, int64_t step, double *val_loss, Error *e) {
    const TrainConfig *tc = r->tc;
    int64_t nb64 = (r->val->n + tc->batch_size - 1) / tc->batch_size;
    int nb = nb64 < tc->val_batches ? (int)nb64 : tc->val_batches;
    int64_t n = (int64_t)nb * tc->batch_size < r->val->n ? (int64_t)nb * tc->batch_size : r->val->n;
    double *stats = xcalloc((size_t)nb * 2, sizeof(double), e);
    if (!stats) return RP_ENOMEM;
    int lo, hi;
    comm_block(r->rank, r->world, nb, &lo, &hi);
    int rc = eval_batches(r->m, r->val, r->val_idx, n, &r->batch, r->pad, lo, hi, stats, e);
    if ((rc = comm_agree(rc, e)) || (rc = comm_share_blocks(nb, stats, 2, e))) {
        free(stats);
        return rc;
    }
    *val_loss = sum_ratio(stats, nb, 2);
    double tokens = 0;
    for (int j = 0; j < nb; j++) tokens += stats[2 * j + 1];
    free(stats);
    log_info("%s: step %lld val_loss %.4f (%d batches, %.0f tokens)", tc->label, (long long)step, *val_loss, nb, tokens);
    metrics_line(r, step, "{\"step\": %lld, \"val_loss\": %.6f, \"val_tokens\": %.0f}", (long long)step, *val_loss, tokens);
    return RP_OK;
}

/* The run options a resumed run must share with the checkpoint (1) or should (0: warn). */
static const struct {
    const char *name;
    int must;
} RUN_OPTS[] = {
    {"seed", 1},    {"batch_size", 1}, {"seq_len", 1},     {"grad_accum", 1},   {"train_sequences", 1},
    {"train_tokens", 1}, {"steps", 0},  {"lr", 0},          {"warmup", 0},       {"lr_schedule", 0},
    {"min_lr_frac", 0},  {"weight_decay", 0}, {"grad_clip", 0},
};
#define N_RUN_OPTS (sizeof RUN_OPTS / sizeof RUN_OPTS[0])

static void run_opt_values(const Run *r, double *v) {
    const TrainConfig *tc = r->tc;
    const double vals[N_RUN_OPTS] = {(double)tc->seed, tc->batch_size, tc->seq_len, tc->grad_accum, (double)r->train->n,
                                     (double)r->train->n_tok, (double)tc->steps, tc->sched.max_lr, (double)tc->sched.warmup,
                                     tc->sched.kind, tc->sched.min_frac, tc->weight_decay, tc->grad_clip};
    memcpy(v, vals, sizeof vals);
}

/* Under ZeRO-1 rank 0 gathers every rank's moments for the write and keeps its shard again after. */
static int save(Run *r, int64_t step, Error *e) {
    int rc = r->tc->zero ? params_opt_gather(model_store_mut(r->m), &r->shard, e) : RP_OK;
    if (rc) return rc;
    if (r->rank == 0) {
        CheckpointMeta meta;
        checkpoint_meta_init(&meta);
        meta.has_train = 1;
        meta.step = step;
        meta.rng_state = r->order.epoch_state;
        meta.data_epoch = r->order.epoch;
        meta.data_pos = r->order.pos;
        double v[N_RUN_OPTS];
        run_opt_values(r, v);
        for (size_t i = 0; i < N_RUN_OPTS && !rc; i++) rc = checkpoint_meta_set_opt(&meta, RUN_OPTS[i].name, v[i], e);
        if (!rc) rc = checkpoint_save(r->tc->out, r->m, r->t, &meta, e);
        Error e2;
        int rc2 = r->tc->zero ? params_opt_shard(model_store_mut(r->m), &r->shard, rc ? &e2 : e) : RP_OK;
        if (!rc) rc = rc2;
    }
    return comm_agree(rc, e);
}

static int restore(Run *r, const CheckpointMeta *ck, int64_t *start, Error *e) {
    const char *out = r->tc->out;
    if (!ck->has_train) return error_set(e, RP_EINPUT, "%s: has no training state to resume from", out);
    double now[N_RUN_OPTS];
    run_opt_values(r, now);
    for (size_t i = 0; i < N_RUN_OPTS; i++) {
        double was;
        if (!checkpoint_meta_get_opt(ck, RUN_OPTS[i].name, &was))
            return error_set(e, RP_EINPUT, "%s: run option '%s' missing from /run_options", out, RUN_OPTS[i].name);
        if (was == now[i]) continue;
        if (RUN_OPTS[i].must)
            return error_set(e, RP_EINPUT, "%s: cannot resume: run option '%s' was %g, now %g (the data order would differ)",
                             out, RUN_OPTS[i].name, was, now[i]);
        log_warn("%s: resuming with run option '%s' changed from %g to %g; the run will not match an uninterrupted one", out,
                 RUN_OPTS[i].name, was, now[i]);
    }
    if (ck->step > r->tc->steps)
        return error_set(e, RP_EINPUT, "%s: checkpoint is at step %lld, past --steps %lld", out, (long long)ck->step,
                         (long long)r->tc->steps);
    if (!model_opt_ready(r->m)) return error_set(e, RP_EINTERNAL, "%s: the model was loaded without its AdamW moments", out);
    *start = ck->step;
    int rc = order_restore(&r->order, r->train->n, ck->rng_state, ck->data_epoch, ck->data_pos, e);
    return rc ? error_wrap(e, "%s", out) : RP_OK;
}

static void run_free(Run *r) {
    model_set_grad_hook(r->m, NULL, NULL); /* the reducer it reports to goes */
    if (r->dp) r->dp->free(r->dp);
    order_free(&r->order);
    batch_free(&r->batch);
    free(r->idx);
    free(r->val_idx);
    free(r->stats);
    if (r->metrics) fclose(r->metrics);
}

/* With the unsharded all-reduce and overlap on, the reducer learns the backward's plan and the
 * model reports to it (trainer/dp.h); the tree and ZeRO-1 reduce after the backward. */
static int reducer_init(Run *r, float *grads, Error *e) {
    const TrainConfig *tc = r->tc;
    size_t np = r->m->n_params;
    if (tc->reduce == DP_REDUCE_TREE) return dp_tree_init(&r->dp, r->m->be, grads, np, tc->grad_accum, e);
    int rc = dp_allreduce_init(&r->dp, r->m->be, grads, np, tc->grad_accum, tc->bucket_bytes, tc->zero, e);
    if (rc || tc->zero || !tc->overlap) return rc;
    ParamRange *plan;
    int n;
    if ((rc = model_grad_plan(r->m, &plan, &n, e))) return rc;
    rc = dp_allreduce_overlap(r->dp, plan, n, e);
    free(plan);
    if (!rc) model_set_grad_hook(r->m, dp_grad_ready, r->dp);
    return rc;
}

static int run_setup(Run *r, const CheckpointMeta *resume, int64_t *start, Error *e) {
    const TrainConfig *tc = r->tc;
    size_t gb = (size_t)tc->grad_accum * (size_t)tc->batch_size;
    float *grads = NULL;
    int rc;
    params_shard(r->m->n_params, r->rank, r->world, &r->shard);
    model_set_recompute(r->m, tc->recompute); /* the plan below allocates for this mode */
    model_set_vocab_chunk(r->m, tc->vocab_chunk);
    DType in_force;
    if ((rc = model_set_compute_dtype(r->m, tc->dtype, &in_force, e))) return rc;
    if ((rc = model_plan(r->m, tc->batch_size, tc->seq_len, e)) || (rc = batch_init(&r->batch, tc->batch_size, tc->seq_len, e)) ||
        (rc = model_grads(r->m, &grads, e)) || (rc = reducer_init(r, grads, e)))
        return rc;
    r->idx = xmalloc(sizeof(int64_t) * gb, e);
    r->val_idx = xmalloc(sizeof(int64_t) * (size_t)(r->val->n ? r->val->n : 1), e);
    r->stats = xcalloc((size_t)tc->grad_accum * 3, sizeof(double), e);
    if (!r->idx || !r->val_idx || !r->stats) return RP_ENOMEM;
    for (int64_t i = 0; i < r->val->n; i++) r->val_idx[i] = i;
    *start = 0;
    /* A fresh ZeRO-1 run allocates only its shard's moments (zeroed), unless moments exist. */
    if (resume) rc = restore(r, resume, start, e);
    else if (!(rc = tc->zero && !model_opt_ready(r->m) ? RP_OK : model_opt_reset(r->m, e)))
        rc = order_init(&r->order, r->train->n, tc->seed, e);
    if (!rc && tc->zero) rc = params_opt_shard(model_store_mut(r->m), &r->shard, e);
    if (rc) return rc;
    if (r->rank == 0) r->tb = tc->tb;
    if (r->rank == 0 && tc->metrics && !(r->metrics = fopen(tc->metrics, "a")))
        rc = error_set(e, RP_EIO, "--metrics %s: cannot open for appending", tc->metrics);
    return rc;
}

static int check_config(const TrainConfig *tc, const Model *m, const SeqSet *train, Error *e) {
    if (tc->batch_size < 1) return error_set(e, RP_EINPUT, "--batch-size: must be >= 1, got %d", tc->batch_size);
    if (tc->grad_accum < 1) return error_set(e, RP_EINPUT, "--grad-accum: must be >= 1, got %d", tc->grad_accum);
    if (tc->seq_len < 1 || tc->seq_len > m->n_positions)
        return error_set(e, RP_EINPUT, "--seq-len: must be in 1..%d (the model's n_positions), got %d", m->n_positions,
                         tc->seq_len);
    if (tc->steps < 1) return error_set(e, RP_EINPUT, "--steps: must be >= 1, got %lld", (long long)tc->steps);
    if (tc->checkpoint_every < 0 || tc->val_every < 0 || tc->val_batches < 1)
        return error_set(e, RP_EINPUT, "--checkpoint-every and --val-every must be >= 0, --val-batches >= 1");
    if (tc->skip_nonfinite < 0) return error_set(e, RP_EINPUT, "--skip-nonfinite: must be >= 0, got %lld", (long long)tc->skip_nonfinite);
    if (!(tc->weight_decay >= 0)) return error_set(e, RP_EINPUT, "--weight-decay: must be >= 0, got %g", tc->weight_decay);
    if (tc->zero != 0 && tc->zero != 1) return error_set(e, RP_EINPUT, "--zero: must be 0 or 1, got %d", tc->zero);
    if (tc->overlap != 0 && tc->overlap != 1)
        return error_set(e, RP_EINPUT, "--overlap: must be 0 or 1, got %d", tc->overlap);
    if (tc->zero && tc->reduce != DP_REDUCE_ALLREDUCE)
        return error_set(e, RP_EINPUT, "--zero 1 needs --reduce allreduce (ZeRO-1 reduce-scatters the all-reduce's "
                                       "sum; the tree's order cannot be sharded), got --reduce %s",
                         dp_reduce_name(tc->reduce));
    if (train->n < 1) return error_set(e, RP_EINPUT, "no training sequences");
    return schedule_check(&tc->sched, e);
}

/* The summed gradient's sum of squares: over the whole buffer, or under ZeRO-1 over each rank's
 * shard, those summed in rank order (the same double on every rank). */
static int grad_sumsq(Run *r, double *ss, Error *e) {
    float *grads = NULL;
    int rc;
    if (!r->tc->zero) {
        if (!(rc = model_grads(r->m, &grads, e))) rc = r->m->be->ops->sumsq(grads, r->m->n_params, ss, e);
        return rc;
    }
    double *part = xcalloc((size_t)r->world, sizeof(double), e);
    if (!part) return RP_ENOMEM;
    rc = comm_agree(params_grad_sumsq(model_store(r->m), &part[r->rank], e), e);
    if (!rc) rc = comm_share_blocks(r->world, part, 1, e);
    *ss = 0;
    for (int q = 0; q < r->world; q++) *ss += part[q];
    free(part);
    return rc;
}

/* Whether the step's loss and gradient are finite; if not, *why says which (and for the loss, the
 * first micro-batch and the rank that computed it). Loss and gradient are already summed over
 * every rank, so every rank reaches the same verdict from the same bits. The norm is taken here,
 * before the update, because model_adamw_step would already have applied a NaN gradient. */
static int step_finite(Run *r, double loss, double *norm, char *why, size_t n, Error *e) {
    int A = r->tc->grad_accum;
    if (!isfinite(loss)) {
        int leaf = 0, owner = 0, lo, hi;
        while (leaf < A - 1 && isfinite(r->stats[3 * leaf])) leaf++;
        for (int q = 0; q < r->world; q++) {
            comm_block(q, r->world, A, &lo, &hi);
            if (leaf >= lo && leaf < hi) owner = q;
        }
        snprintf(why, n, "loss %g (micro-batch %d, computed on rank %d)", loss, leaf, owner);
        return 0;
    }
    double ss = 0;
    int rc = grad_sumsq(r, &ss, e);
    if (rc) return -rc;
    *norm = sqrt(ss);
    if (isfinite(*norm)) return 1;
    snprintf(why, n, "gradient norm %g (summed over %d rank(s))", *norm, r->world);
    return 0;
}

/* One optimizer step; *loss gets the global batch's mean loss, *norm the pre-clip gradient norm.
 * A non-finite loss or norm leaves the model as it was and sets *skipped with the reason. */
static int train_step(Run *r, int64_t step, double lr, double *loss, double *norm, double *tokens, char *skipped,
                      size_t n_skipped, Error *e) {
    const TrainConfig *tc = r->tc;
    int A = tc->grad_accum, B = tc->batch_size;
    double n_global = 0;
    skipped[0] = 0;
    for (int i = 0; i < A * B; i++) {
        r->idx[i] = order_next(&r->order);
        n_global += (double)seq_targets(r->train, r->idx[i], tc->seq_len);
    }
    LeafCtx ctx = {r->m, r->train, &r->batch, r->idx, B, r->pad, n_global, r->stats};
    int rc;
    if ((rc = r->dp->reduce(r->dp, leaf_grad, &ctx, e)) || (rc = comm_share_blocks(A, r->stats, 3, e))) return rc;
    *loss = sum_ratio(r->stats, A, 3);
    *tokens = 0;
    for (int j = 0; j < A; j++) *tokens += r->stats[3 * j + 2];
    int ok = step_finite(r, *loss, norm, skipped, n_skipped, e);
    if (ok <= 0) return -ok;
    AdamW h = {(float)lr, (float)tc->beta1, (float)tc->beta2, (float)tc->eps, (float)tc->weight_decay};
    if (!tc->zero) return model_adamw_step(r->m, &h, tc->grad_clip, (int)(step + 1), norm, e);
    ParamStore *ps = model_store_mut(r->m);
    if ((rc = comm_agree(params_adamw_held(ps, &h, *norm, tc->grad_clip, (int)(step + 1), e), e))) return rc;
    return params_gather_shards(ps, &r->shard, e);
}

/* A step skipped for a non-finite loss or gradient: an error once more than --skip-nonfinite were
 * (the model is unchanged, so the last checkpoint written stays the last good one), else logged
 * and recorded in the metrics. */
static int skip_step(Run *r, int64_t step, const char *why, int64_t n_skipped, Error *e) {
    const TrainConfig *tc = r->tc;
    if (n_skipped > tc->skip_nonfinite)
        return error_set(e, RP_EINPUT,
                         "%s: step %lld: non-finite %s; stopped without writing a checkpoint (%s keeps the last one "
                         "saved, if any); lower --lr, or let --skip-nonfinite N skip up to N such steps (now %lld)",
                         tc->label, (long long)step + 1, why, tc->out, (long long)tc->skip_nonfinite);
    log_warn("%s: step %lld skipped (%lld of at most %lld): non-finite %s; the model is unchanged", tc->label,
             (long long)step + 1, (long long)n_skipped, (long long)tc->skip_nonfinite, why);
    metrics_line(r, step + 1, "{\"step\": %lld, \"skipped\": \"non-finite %s\", \"skipped_nonfinite\": %lld}",
                 (long long)step + 1, why, (long long)n_skipped);
    return RP_OK;
}

int trainer_run(const TrainConfig *tc_in, Model *m, const Tokenizer *t, const SeqSet *train, const SeqSet *val,
                const CheckpointMeta *resume, TrainResult *res, Error *e) {
    TrainConfig tcv = *tc_in;
    tcv.sched.total = tcv.steps;
    const TrainConfig *tc = &tcv;
    memset(res, 0, sizeof *res);
    res->last_val_loss = -1;
    int rc = check_config(tc, m, train, e);
    if (rc) return rc;
    Run r;
    memset(&r, 0, sizeof r);
    r.tc = tc;
    r.m = m;
    r.t = t;
    r.train = train;
    r.val = val;
    r.pad = tokenizer_special(t, TOK_EOT);
    comm_world(&r.rank, &r.world);
    int64_t start = 0;
    /* The communicator first, on every rank alike, before any rank can fail alone in the setup. */
    rc = comm_agree(m->be->ops->comm_init(e), e);
    if (!rc) rc = comm_agree(run_setup(&r, resume, &start, e), e);
    if (rc) {
        run_free(&r);
        return rc;
    }
    if (r.world > tc->grad_accum)
        log_warn("%d ranks but only %d micro-batches per step (--grad-accum): %d ranks will idle", r.world, tc->grad_accum,
                 r.world - tc->grad_accum);
    log_info("%s: steps %lld..%lld, global batch %d x %d sequences of up to %d tokens over %d rank(s) (%s reduction%s); "
             "%lld train sequences (%lld target tokens), %lld val sequences",
             tc->label, (long long)start, (long long)tc->steps, tc->grad_accum, tc->batch_size, tc->seq_len, r.world,
             dp_reduce_name(tc->reduce),
             tc->zero ? ", ZeRO-1" : tc->reduce == DP_REDUCE_ALLREDUCE && tc->overlap ? ", overlapped with the backward" : "",
             (long long)train->n,
             (long long)seqset_targets(train), (long long)val->n);
    if (tc->val_every && !val->n) log_warn("%s: no validation sequences; --val-every is ignored", tc->label);
    Progress p;
    progress_init(&p, tc->label, tc->steps - start);
    double t0 = time_now(), tokens_total = 0, loss = 0, norm = 0, tokens = 0;
    int64_t n_skipped = 0;
    for (int64_t step = start; step < tc->steps && !rc; step++) {
        double lr = schedule_lr(&tc->sched, step), ts = time_now();
        char why[160];
        if ((rc = train_step(&r, step, lr, &loss, &norm, &tokens, why, sizeof why, e))) break;
        watchdog_progress();
        int last = step + 1 == tc->steps;
        if (why[0]) rc = skip_step(&r, step, why, ++n_skipped, e);
        else {
            tokens_total += tokens;
            double now = time_now(), tps = tokens_total / (now - t0 > 1e-9 ? now - t0 : 1e-9);
            res->steps_done++;
            res->last_loss = loss;
            char extra[160];
            snprintf(extra, sizeof extra, "step %lld loss %.4f lr %.2e norm %.3f tok/s %.0f", (long long)step + 1, loss, lr, norm,
                     tps);
            progress_update(&p, step + 1 - start, extra);
            if (r.metrics || r.tb) {
                /* Only a run that skipped steps has the field, so the lines of a healthy run are as before. */
                char skipped_field[48];
                snprintf(skipped_field, sizeof skipped_field, ", \"skipped_nonfinite\": %lld", (long long)n_skipped);
                metrics_line(&r, step + 1,
                             "{\"step\": %lld, \"loss\": %.6f, \"lr\": %.6e, \"grad_norm\": %.6f, \"tokens\": %.0f, "
                             "\"tokens_per_s\": %.1f, \"step_s\": %.4f%s}",
                             (long long)step + 1, loss, lr, norm, tokens, tps, now - ts, n_skipped ? skipped_field : "");
            }
        }
        if (!rc && val->n && tc->val_every && ((step + 1) % tc->val_every == 0 || last))
            rc = validate(&r, step + 1, &res->last_val_loss, e);
        if (!rc && (last || (tc->checkpoint_every && (step + 1) % tc->checkpoint_every == 0))) rc = save(&r, step + 1, e);
    }
    if (!rc) {
        /* Cosmetic: without memory for it the line goes out without the checkpoint path, and the
         * run (whose checkpoint is already saved) still succeeds. */
        char *extra = xasprintf(NULL, "loss %.4f, checkpoint %s", res->last_loss, tc->out);
        progress_finish(&p, tc->steps - start, extra);
        free(extra);
    }
    run_free(&r);
    return rc;
}

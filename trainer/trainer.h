/* The training loop shared by `restpg pretrain`, `restpg sft` and the EM rounds: data-parallel
 * micro-batches with gradient accumulation over a GradReducer (trainer/dp.h: the fixed tree by
 * default), global-norm clipping, AdamW with a warm-up + decay schedule (optionally ZeRO-1
 * sharded), validation loss, progress, JSON-lines metrics (optionally TensorBoard scalars too), and
 * resumable checkpoints.
 *
 * One optimizer step consumes a global batch of grad_accum x batch_size sequences drawn from the
 * training SeqSet in a per-epoch shuffled order. The global batch is split into grad_accum
 * micro-batches of batch_size sequences (the leaves of the reduction tree; rank r computes a
 * contiguous block of them), and the loss is the mean over all target tokens of the global
 * batch: each micro-batch's backward is scaled by its target count / the global target count.
 * With the tree reduction the result is bitwise the same for any number of ranks (same kernels
 * and threads per rank); with the all-reduce, for the same number. A run resumed from a
 * checkpoint continues bitwise as if it had never stopped.
 *
 * A step whose loss or gradient norm is NaN or infinite never updates the model: it is skipped
 * (logged, and in the metrics) up to skip_nonfinite times, and then trainer_run fails with
 * RP_EINPUT naming the step, the value and the rank, before anything more is written; the
 * checkpoint writer refuses non-finite tensors too, so no checkpoint ever holds one. */
#ifndef RESTPG_TRAINER_TRAINER_H
#define RESTPG_TRAINER_TRAINER_H

#include <stdint.h>

#include "core/error.h"
#include "core/tbevents.h"
#include "data/tokenizer.h"
#include "model/checkpoint.h"
#include "model/model.h"
#include "trainer/batch.h"
#include "trainer/dp.h"
#include "trainer/schedule.h"

typedef struct {
    const char *label;        /* "pretrain" / "sft": progress label */
    int64_t steps;            /* optimizer steps in total (a resumed run continues to this) */
    int batch_size;           /* sequences per micro-batch */
    int seq_len;              /* T: input positions per sequence */
    int grad_accum;           /* micro-batches per optimizer step (fixed across world sizes) */
    int recompute;            /* activations recomputed per layer in the backward (model_set_recompute,
                               * which the caller applies to the model before trainer_run): less
                               * memory, more compute, the same bits; not a run option to match */
    int vocab_chunk;          /* vocabulary columns per chunk of the loss (model_set_vocab_chunk, which
                               * trainer_run applies; model_vocab_chunk_parse resolves auto), 0: whole
                               * logits. Chunked: [N, chunk] logits instead of [N, Vp], a second
                               * LM-head product, results equal to float rounding */
    Schedule sched;           /* total is set from steps by trainer_run */
    double weight_decay;      /* applied to matmul weights and embeddings, not biases/LayerNorms */
    double grad_clip;         /* max global gradient norm; <= 0 disables clipping */
    double beta1, beta2, eps;
    uint64_t seed;            /* data order */
    const char *out;          /* checkpoint path (also written at the end) */
    int64_t checkpoint_every; /* 0: only at the end */
    int64_t val_every;        /* 0: no validation */
    int val_batches;          /* micro-batches of the validation set per evaluation */
    const char *metrics;      /* JSON-lines file appended by rank 0, or NULL */
    TbEvents *tb;             /* rank 0's TensorBoard writer (the caller's), or NULL: every metrics
                               * line's numbers also go there as scalars "<tb_prefix>/<field>" */
    const char *tb_prefix;    /* the tags' stage name; NULL: label */
    int64_t skip_nonfinite;   /* steps with a non-finite loss or gradient norm skipped (no update)
                               * before the next one is an error; 0: the first is (per invocation) */
    DType dtype;              /* the products' precision (model_set_compute_dtype): DTYPE_BF16 is mixed
                               * precision where the backend has it (cuda); the cpu computes in fp32 */
    DPReduce reduce;          /* the gradient sum over ranks (trainer/dp.h states each one's
                               * determinism): tree, bitwise the same for any rank count, or
                               * allreduce, for the same rank count */
    size_t bucket_bytes;      /* gradient per all-reduce collective */
    int overlap;              /* 1 (default): with the unsharded all-reduce, the buckets' collectives
                               * start during the last micro-batch's backward as layers finish
                               * (trainer/dp.h; on the CPU the same bits as 0); the tree and ZeRO-1
                               * ignore it */
    int zero;                 /* 1: ZeRO-1 (needs reduce allreduce): the sum is reduce-scattered,
                               * each rank keeps AdamW moments and runs AdamW for its contiguous
                               * shard of the parameters only (model/params.h's ParamShard), the
                               * clipping norm sums the shards' sums of squares in rank order, and
                               * the parameters are all-gathered after the update. On the CPU the
                               * parameters equal zero = 0's bitwise as long as the clipping factor
                               * rounds alike (the norm is summed in another order); checkpoints
                               * hold the full moments (gathered to rank 0 for the write), so a run
                               * resumes with or without it, on any rank count. */
} TrainConfig;

/* Defaults: batch_size 4, seq_len 256, grad_accum 1, lr 3e-4 cosine, warmup 0, min_lr_frac 0.1,
 * weight_decay 0.1, grad_clip 1.0, betas 0.9/0.95, eps 1e-8, seed 1, val_batches 8, reduce
 * tree, bucket 32 MiB, overlap 1, zero 0. */
void train_config_default(TrainConfig *c);

typedef struct {
    int64_t steps_done;       /* steps run by this call */
    double last_loss;         /* training loss of the last step (nats/token) */
    double last_val_loss;     /* last validation loss, or -1 when none was computed */
} TrainResult;

/* Prints the memory plan of a rank (parameters, gradients, optimizer moments, sharded under
 * ZeRO-1, reduction buffers, activations for batch_size x seq_len) and the largest batch size
 * that fits MemAvailable. */
void trainer_print_memory(const Model *m, const TrainConfig *tc);

/* Trains m (already initialised or loaded) on train, validating on val (may be empty), and
 * writes checkpoints with tokenizer t to tc->out. resume: the state of a checkpoint of this run
 * (NULL to start at step 0); its run options must match tc (seed, batch size, sequence length,
 * grad_accum and the number of training sequences; schedule changes only warn). Collective over
 * MPI_COMM_WORLD: every rank calls it with the same arguments. */
int trainer_run(const TrainConfig *tc, Model *m, const Tokenizer *t, const SeqSet *train, const SeqSet *val,
                const CheckpointMeta *resume, TrainResult *res, Error *e);

/* Mean next-token loss (nats/token) of sequences idx[0..n) of s, evaluated in micro-batches of
 * B on this process only; *n_tokens gets the target count. The model must be planned for
 * (B, longest sequence - 1). */
int trainer_eval(Model *m, const SeqSet *s, const int64_t *idx, int64_t n, int B, int32_t pad, double *loss,
                 int64_t *n_tokens, Error *e);

#endif

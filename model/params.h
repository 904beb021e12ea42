/* The parameter memory every architecture shares (llm.c's one-buffer layout): a table of tensors
 * laid out back to back in one device buffer per state — parameters, gradients and the two AdamW
 * moments — on the selected backend; named views bound from the architecture's field table; host
 * copies per tensor or per state; and the AdamW step with gradient-norm clipping folded in. The
 * architectures (model/gpt.c, model/llama.c) keep only what differs: shapes, names, init and the
 * forward/backward. */
#ifndef RESTPG_MODEL_PARAMS_H
#define RESTPG_MODEL_PARAMS_H

#include <stddef.h>

#include "core/error.h"
#include "kernels/backend.h"

#define PARAMS_MAX_TENSORS 32

/* Where tensor k lives in a state buffer and its shape (up to 3 dims, unused dims 0). */
typedef struct {
    size_t offset, numel;
    int ndim;
    size_t dims[3];
} ParamTensor;

/* AdamW's hyper-parameters (llm.c's formulation: decoupled weight decay on the tensors whose
 * table entry says decays). */
typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
} AdamW;

/* The architecture's tensor table as the store reads it: entry k's field offset in the named
 * views struct (size_t) at field0 + k * stride, and its weight-decay flag (int) at decays0 +
 * k * stride; views[i] are the named views of state 'p', 'g', 'm', 'v', bound whenever a state
 * is allocated; its per-layer flag (int) at layered0 + k * stride (NULL: no tensor is per layer),
 * a per-layer tensor being [L, ...] with layer l's slice the l-th of L equal parts. */
typedef struct {
    const size_t *field0;
    const int *decays0;
    size_t stride;
    void *views[4];
    const int *layered0;
} ParamTable;

/* Floats [lo, hi) of a state buffer. */
typedef struct {
    size_t lo, hi;
} ParamRange;

/* The gradient-ready hook (model_set_grad_hook): the backward reports ranges of the gradient
 * buffer it will not write again in this backward; a non-zero return fails the backward. */
typedef int (*GradReadyFn)(void *ctx, const ParamRange *ranges, int n, Error *e);

typedef struct {
    const Backend *be;
    int n;                            /* tensors */
    ParamTensor t[PARAMS_MAX_TENSORS];
    size_t n_params;
    float *mem[4];                    /* 'p' parameters, 'g' gradients, 'm' and 'v' AdamW moments */
    size_t opt_lo, opt_hi;            /* the moments held: [opt_lo, opt_hi) of the flat vector, all
                                       * of it unless sharded (ZeRO-1, params_opt_shard) */
    ParamTable table;
    GradReadyFn ready;                /* the gradient-ready hook, or NULL */
    void *ready_ctx;
} ParamStore;

/* ZeRO-1's split of a flat state of n floats over world ranks: rank r owns [r*q, (r+1)*q) with
 * q = per_rank = n / world (what reduce_scatter_sum and all_gather move per rank), and the last
 * rank also the n - world*q < world floats left over (the tail), so shards are contiguous and
 * cover the vector in rank order. */
typedef struct {
    int rank, world;
    size_t n, per_rank, lo, hi;
} ParamShard;
void params_shard(size_t n, int rank, int world, ParamShard *sh);

/* Lays out n tensors of the given dims (a 0 ends a shape) back to back from offset 0. */
void params_layout(ParamTensor *t, const size_t (*dims)[3], int n);
/* Lays out the tensors, allocates zeroed parameters on the selected backend and binds their
 * views. Gradients come with the first params_grads / params_zero_grad (a backward asks for
 * them), so a model that only runs inference never holds them. */
int params_init(ParamStore *s, const size_t (*dims)[3], int n, const ParamTable *table, Error *e);
void params_free(ParamStore *s);

/* Layers of the per-layer tensors (their first dimension; 0 when the table has none). */
int params_n_layer(const ParamStore *s);
/* What becomes final together in a backward, in table order, into out (room for s->n ranges),
 * returning the count: for layer l in [0, params_n_layer), layer l's slice of every per-layer
 * tensor; for PARAMS_REST, every tensor that is not per layer, whole (embeddings, final norm,
 * LM head: a tied embedding gets its last contribution at the very end). */
#define PARAMS_REST (-1)
int params_ready_ranges(const ParamStore *s, int l, ParamRange *out);
/* The order an architecture's backward reports them (top layer first, then PARAMS_REST), as
 * one list of *n ranges covering [0, n_params) once (*out: malloc'd, the caller frees it). */
int params_ready_plan(const ParamStore *s, ParamRange **out, int *n, Error *e);
/* Installs the gradient-ready hook (fn NULL removes it) and, for the backward, reports the
 * ranges of stage l (a layer, or PARAMS_REST) to it: RP_OK at once when no hook is set. */
void params_set_grad_hook(ParamStore *s, GradReadyFn fn, void *ctx);
int params_grad_ready(const ParamStore *s, int l, Error *e);

/* The device buffer of state which ('p', 'g', 'm', 'v'); NULL if it is not allocated. */
float *params_mem(const ParamStore *s, int which);
/* The largest tensor's element count (for host staging buffers). */
size_t params_largest(const ParamStore *s);

/* Host copies of tensor k of state which, or of a whole state (n_params floats). */
int params_tensor_download(const ParamStore *s, int which, int k, float *host, Error *e);
int params_tensor_upload(ParamStore *s, int which, int k, const float *host, Error *e);
int params_state_download(const ParamStore *s, int which, float *host, Error *e);
int params_state_upload(ParamStore *s, int which, const float *host, Error *e);

/* The gradient state, allocated zeroed (and its views bound) if the store has none yet; *out
 * (may be NULL) gets its device buffer. */
int params_grads(ParamStore *s, float **out, Error *e);
/* Zeroes the gradients (allocating them if needed). */
int params_zero_grad(ParamStore *s, Error *e);
/* Allocates (and binds) the AdamW moments of every parameter if needed (replacing a shard) and
 * zeroes them; params_opt_ready: 1 if moments (all, or a shard) exist. */
int params_opt_reset(ParamStore *s, Error *e);
int params_opt_ready(const ParamStore *s);
/* One AdamW step number `step` (from 1) over every tensor, weight decay where the table says;
 * gradients clipped to global L2 norm max_norm (<= 0: no clipping) by a factor folded into the
 * update; *norm gets the norm before clipping (summed in an order fixed by n_params). Needs the
 * moments of every parameter. */
int params_adamw(ParamStore *s, const AdamW *h, double max_norm, int step, double *norm, Error *e);

/* ZeRO-1 (trainer/trainer.h). The moments of a shard only: [sh->lo, sh->hi) keeps the values of
 * the moments held (which must cover it), or zeroes when there are none; the rest is freed. While
 * sharded, the moments have no named views and params_*_download/upload of 'm' or 'v' are
 * errors, so no caller reads a part as the whole. */
int params_opt_shard(ParamStore *s, const ParamShard *sh, Error *e);
/* Collective over the shard's world, every rank holding its shard of sh: rank 0 ends with the
 * moments of every parameter (the others' shards sent to it: memory for 2 x n_params more on
 * rank 0 only, until it calls params_opt_shard again); the other ranks keep their shards. For a
 * checkpoint, which always holds the full moments (a resume may use another rank count, or no
 * sharding). */
int params_opt_gather(ParamStore *s, const ParamShard *sh, Error *e);
/* The sum of squares of the gradient over the moments held (all of it unless sharded), in an
 * order fixed by their range. */
int params_grad_sumsq(const ParamStore *s, double *out, Error *e);
/* AdamW over the moments held (the update of params_adamw, cut per tensor at the shard's ends:
 * each tensor keeps its own weight decay), clipping by the factor that max_norm and the global
 * norm give. */
int params_adamw_held(ParamStore *s, const AdamW *h, double norm, double max_norm, int step, Error *e);
/* Collective: after each rank updated its shard, every rank gets every shard's parameters
 * (all_gather of the per_rank parts, then the tail from the last rank). */
int params_gather_shards(ParamStore *s, const ParamShard *sh, Error *e);

#endif

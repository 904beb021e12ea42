/* Data-parallel gradient reduction as an interface with two implementations, both over the
 * backend's collectives (kernels/backend.h: send/recv, allreduce_sum, reduce_scatter_sum), so
 * they run on any backend: the fixed tree and the bucketed all-reduce.
 *
 * A global batch is split into a fixed number of micro-batches ("leaves"), chosen by the user and
 * independent of the world size. Leaves go to ranks in contiguous blocks (comm_block).
 *
 * The contract every implementation states: what the sum is bitwise reproducible across.
 *
 * The tree reduction (dp_tree_init): leaf gradients are summed over one fixed binary tree over
 * leaf indices: node [lo, hi) = node [lo, mid) + node [mid, hi) with mid = lo + ceil((hi-lo)/2).
 * The owner of leaf lo computes the node; when the right child lives on another rank that rank
 * sends it (point-to-point, never an all-reduce, whose summation order is the library's). Every
 * addition therefore sees the same operands in the same order for any world size. Determinism:
 * the sum is bitwise identical with 1, 2 or A ranks, given identical leaf gradients (the same
 * kernels and thread count per rank). All ranks walk the tree in the same post-order, so the
 * sends, which may wait for their receives, cannot deadlock. The root's owner then sends the sum
 * down a binomial tree. Memory: about log2(A)+1 gradients of partial sums; messages: the whole
 * gradient per tree edge that crosses ranks, one after another.
 *
 * The all-reduce (dp_allreduce_init): each rank sums its own leaves in leaf order
 * (((g_lo + g_lo+1) + ...) in one extra gradient buffer, needed only by a rank with two or more
 * leaves), then the ranks' sums are added by allreduce_sum in buckets of bucket_bytes (one
 * collective each, so a backend can pipeline them). Determinism: bitwise reproducible for the same
 * rank count, seed and config (bucket size included), not across rank counts (the leaves' grouping
 * changes with the blocks, and the cross-rank order is the backend's). On the CPU backend the
 * cross-rank sum is in rank order element by element, so the bucket size changes no bit, and
 * the sharded variant below equals it bitwise; under NCCL it is NCCL's order.
 *
 * Overlapped (dp_allreduce_overlap, the trainer's default with the all-reduce): the same sums,
 * but the collectives start during the rank's last leaf's backward. The model reports, through
 * the gradient-ready hook (model_set_grad_hook with dp_grad_ready), the ranges of the gradient
 * that are final, a layer at a time in a fixed plan (model_grad_plan); each is added to the
 * rank's earlier leaves' sum (grad + acc: the same bits as the local sum's last addition) and
 * pended, merged with adjacent pending ranges, until a bucket's worth (bucket_bytes) is pending;
 * then each pending range is queued as allreduce_sum_start in pieces of at most a bucket. After
 * the backward the rest of the plan is queued and comm_wait waits for all of it. The sequence of
 * collectives is a function of the plan and bucket_bytes only, so a rank whose leaf fails (or
 * that owns no leaf) still queues every one of them, with whatever its buffer holds, and the
 * ranks agree on the failure after the wait: no rank waits in a collective another never
 * starts. Determinism: on the CPU backend bitwise the non-overlapped all-reduce's (rank-order
 * sums element by element, whatever the cut into collectives); under NCCL bitwise reproducible
 * for the same rank count, config, model and bucket size (the cut into collectives, which NCCL's
 * order can depend on, is fixed by them), within float rounding of the non-overlapped sum.
 *
 * Sharded (ZeRO-1, shard = 1): the same local sums, then a reduce_scatter_sum leaves on each rank
 * only its shard of the sum (model/params.h's ParamShard: the per_rank floats by reduce-scatter,
 * the few left-over floats by an all-reduce); sum_lo and sum_hi say which part holds the sum.
 * ZeRO-1 does not overlap: its reduce-scatter runs after the backward as before. */
#ifndef RESTPG_TRAINER_DP_H
#define RESTPG_TRAINER_DP_H

#include <stddef.h>

#include "core/error.h"
#include "kernels/backend.h"
#include "model/params.h"

/* Computes the gradient of one leaf into the reducer's gradient buffer (overwriting it). Called
 * only on the leaf's owner, in increasing leaf order. */
typedef int (*DPLeafFn)(void *ctx, int leaf, Error *e);

typedef struct GradReducer GradReducer;
struct GradReducer {
    const char *name;
    size_t sum_lo, sum_hi; /* where reduce leaves the sum: [0, n), or this rank's shard */
    /* Runs leaf() for this rank's leaves, sums all leaves and leaves the sum in [sum_lo, sum_hi)
     * of the gradient buffer on every rank. Collective over MPI_COMM_WORLD when world > 1. An
     * error in leaf() on one rank is reported on all ranks (no rank is left waiting). */
    int (*reduce)(GradReducer *r, DPLeafFn leaf, void *ctx, Error *e);
    void (*free)(GradReducer *r);
};

/* The reductions by name, for train.reduce and --reduce. */
typedef enum { DP_REDUCE_TREE = 0, DP_REDUCE_ALLREDUCE = 1 } DPReduce;
#define DP_REDUCE_NAMES "tree", "allreduce"
const char *dp_reduce_name(DPReduce r);
/* RP_EINPUT naming s and the choices when it is neither. */
int dp_reduce_parse(const char *s, DPReduce *r, Error *e);

/* The all-reduce's default bucket: 32 MiB of gradient per collective. */
#define DP_BUCKET_BYTES ((size_t)32 << 20)

/* The reducers of n_leaves leaves over grad[n] (device memory of backend be). Both initialise
 * the backend's communicator (comm_init: collective the first time). */
int dp_tree_init(GradReducer **out, const Backend *be, float *grad, size_t n, int n_leaves, Error *e);
/* bucket_bytes >= sizeof(float) (unused when sharded); shard: 1 for ZeRO-1's reduce-scatter. */
int dp_allreduce_init(GradReducer **out, const Backend *be, float *grad, size_t n, int n_leaves, size_t bucket_bytes,
                      int shard, Error *e);

/* Turns on the overlap of an unsharded all-reduce reducer (RP_EINTERNAL for another one): plan
 * lists the n ranges the backward of the rank's leaves will report to dp_grad_ready, in its
 * order (model_grad_plan), and must cover the gradient [0, n) once (RP_EINTERNAL otherwise).
 * The reducer keeps a copy. */
int dp_allreduce_overlap(GradReducer *r, const ParamRange *plan, int n, Error *e);
/* The gradient-ready hook (GradReadyFn) of an overlapping reducer (ctx: the GradReducer): takes
 * the ranges during the rank's last leaf, ignores the reports of its earlier leaves; a range out
 * of the plan's order is RP_EINTERNAL (the backward fails, the reduction still completes). */
int dp_grad_ready(void *reducer, const ParamRange *ranges, int n, Error *e);

/* Bytes of buffers the tree allocates for n floats and n_leaves leaves; and the all-reduce on the
 * rank with the most leaves of world ranks. */
size_t dp_tree_bytes(size_t n, int n_leaves);
size_t dp_allreduce_bytes(size_t n, int n_leaves, int world);

#endif

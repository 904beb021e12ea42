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
 * Sharded (ZeRO-1, shard = 1): the same local sums, then a reduce_scatter_sum leaves on each rank
 * only its shard of the sum (model/params.h's ParamShard: the per_rank floats by reduce-scatter,
 * the few left-over floats by an all-reduce); sum_lo and sum_hi say which part holds the sum. */
#ifndef RESTPG_TRAINER_DP_H
#define RESTPG_TRAINER_DP_H

#include <stddef.h>

#include "core/error.h"
#include "kernels/backend.h"

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

/* Bytes of buffers the tree allocates for n floats and n_leaves leaves; and the all-reduce on the
 * rank with the most leaves of world ranks. */
size_t dp_tree_bytes(size_t n, int n_leaves);
size_t dp_allreduce_bytes(size_t n, int n_leaves, int world);

#endif

/* Data-parallel gradient reduction as an interface, with the fixed-tree MPI reduction as its
 * implementation for host-memory backends (an NCCL all-reduce for device memory would be a
 * second GradReducer beside it).
 *
 * The contract every implementation states: what the sum is bitwise reproducible across.
 *
 * The tree reduction (dp_tree_init): a global batch is split into a fixed number of micro-batches
 * ("leaves"), chosen by the user and independent of the world size. Leaves go to ranks in
 * contiguous blocks (comm_block). Leaf gradients are summed over one fixed binary tree over leaf
 * indices: node [lo, hi) = node [lo, mid) + node [mid, hi) with mid = lo + ceil((hi-lo)/2). The
 * owner of leaf lo computes the node; when the right child lives on another rank that rank sends
 * it with MPI_Send (point-to-point, never MPI_Allreduce, whose summation order is unspecified).
 * Every addition therefore sees the same operands in the same order for any world size.
 * Determinism: the sum is bitwise identical with 1, 2 or A ranks, given identical leaf gradients
 * (the same kernels and thread count per rank). All ranks walk the tree in the same post-order,
 * which makes the blocking sends deadlock-free. Needs a backend whose memory is host-addressable
 * (MPI sends the gradient buffers themselves). */
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
    /* Runs leaf() for this rank's leaves, sums all leaves and leaves the sum in the gradient
     * buffer on every rank. Collective over MPI_COMM_WORLD when world > 1. An error in leaf()
     * on one rank is reported on all ranks (no rank is left waiting). */
    int (*reduce)(GradReducer *r, DPLeafFn leaf, void *ctx, Error *e);
    void (*free)(GradReducer *r);
};

/* The fixed-tree reduction of n_leaves leaves over grad[n] (device memory of backend be, which
 * must be host-addressable), with its partial-sum buffers (about log2(n_leaves)+1 gradients). */
int dp_tree_init(GradReducer **out, const Backend *be, float *grad, size_t n, int n_leaves, Error *e);

/* Bytes of partial-sum buffers the tree reduction allocates for n floats and n_leaves leaves. */
size_t dp_tree_bytes(size_t n, int n_leaves);

#endif

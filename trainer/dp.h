/* Data-parallel gradient reduction with a result that does not depend on the number of ranks.
 *
 * A global batch is split into a fixed number of micro-batches ("leaves"), chosen by the user and
 * independent of the world size. Leaves go to ranks in contiguous blocks (rank r owns leaves
 * [r*A/W, (r+1)*A/W)). Leaf gradients are summed over one fixed binary tree over leaf indices:
 * node [lo, hi) = node [lo, mid) + node [mid, hi) with mid = lo + ceil((hi-lo)/2). The owner of
 * leaf lo computes the node; when the right child lives on another rank that rank sends it with
 * MPI_Send (point-to-point, never MPI_Allreduce, whose summation order is unspecified). Every
 * addition therefore sees the same operands in the same order for any world size, and the sum
 * is bitwise identical with 1, 2 or A ranks (given identical leaf gradients, i.e. the same
 * kernels and thread count per rank). All ranks walk the tree in the same post-order, which
 * makes the blocking sends deadlock-free. */
#ifndef RESTPG_TRAINER_DP_H
#define RESTPG_TRAINER_DP_H

#include <stddef.h>

#include "core/error.h"

typedef struct {
    int rank, world;
    int n_leaves;   /* A: micro-batches per global batch */
    size_t n;       /* floats per gradient */
    int depth;      /* levels of partial-sum buffers */
    float **level;  /* [depth][n]: partial sums held while the walk descends */
} DPReducer;

/* Allocates the partial-sum buffers (about log2(n_leaves)+1 gradients). */
int dp_init(DPReducer *r, int rank, int world, int n_leaves, size_t n, Error *e);
void dp_free(DPReducer *r);

/* Computes the gradient of one leaf into out[n] (overwriting it). Called only on the leaf's
 * owner, in increasing leaf order. */
typedef int (*DPLeafFn)(void *ctx, int leaf, float *out, Error *e);

/* Runs leaf() for this rank's leaves, sums all leaves over the fixed tree and leaves the sum in
 * out[n] on every rank. Collective over MPI_COMM_WORLD when world > 1. An error in leaf() on one
 * rank is reported on all ranks (no rank is left waiting). */
int dp_reduce(DPReducer *r, DPLeafFn leaf, void *ctx, float *out, Error *e);

#endif

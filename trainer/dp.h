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

/* Turns an MPI return code into RP_OK or RP_EMPI with "what: <MPI error string>". */
int dp_check(int mpi_rc, const char *what, Error *e);

/* Rank and world size of MPI_COMM_WORLD, or 0 and 1 when MPI is not initialised. */
void dp_world(int *rank, int *world);

/* Ranks sharing this node's memory (MPI_COMM_TYPE_SHARED), 1 without MPI or on failure.
 * Collective on its first call (every rank must make it); later calls only read the answer. */
int dp_local_ranks(void);

/* Allocates the partial-sum buffers (about log2(n_leaves)+1 gradients). */
int dp_init(DPReducer *r, int rank, int world, int n_leaves, size_t n, Error *e);
void dp_free(DPReducer *r);

/* The leaves rank owns: [*lo, *hi) (empty when world > n_leaves for the surplus ranks). */
void dp_leaves(int rank, int world, int n_leaves, int *lo, int *hi);

/* Computes the gradient of one leaf into out[n] (overwriting it). Called only on the leaf's
 * owner, in increasing leaf order. */
typedef int (*DPLeafFn)(void *ctx, int leaf, float *out, Error *e);

/* Runs leaf() for this rank's leaves, sums all leaves over the fixed tree and leaves the sum in
 * out[n] on every rank. Collective over MPI_COMM_WORLD when world > 1. An error in leaf() on one
 * rank is reported on all ranks (no rank is left waiting). */
int dp_reduce(DPReducer *r, DPLeafFn leaf, void *ctx, float *out, Error *e);

/* Per-leaf statistics for n_leaves leaves split over the world as dp_leaves does: each rank fills
 * v[leaf * width .. + width) for its own leaves (others may hold anything); afterwards every rank
 * holds every leaf's values. Exact (values are copied, never summed across ranks). Collective. */
int dp_share_leaves(int n_leaves, double *v, int width, Error *e);

/* Broadcasts n bytes from rank 0 (no-op with one rank). */
int dp_bcast(void *buf, size_t n, Error *e);

/* Makes an error on any rank an error on every rank: returns the status of the lowest failing
 * rank, with its message copied into e, or RP_OK if all are OK. Collective when world > 1. */
int dp_agree(int rc, Error *e);

#endif

/* MPI helpers shared by every module that talks across ranks (trainer, sampler, pipeline):
 * error translation, the world's shape, node-local rank counts, block splits of work items,
 * exact sharing of per-item statistics, broadcast and agreement on an error. All use
 * MPI_COMM_WORLD and degrade to no-ops (rank 0 of 1) when MPI is not initialised, so the same
 * code runs without mpirun. */
#ifndef RESTPG_CORE_COMM_H
#define RESTPG_CORE_COMM_H

#include <stddef.h>

#include "core/error.h"

#ifdef __cplusplus /* called from the CUDA backend (C++ under nvcc) */
extern "C" {
#endif

/* Turns an MPI return code into RP_OK or RP_EMPI with "what: <MPI error string>". */
int comm_check(int mpi_rc, const char *what, Error *e);

/* Rank and world size of MPI_COMM_WORLD, or 0 and 1 when MPI is not initialised. */
void comm_world(int *rank, int *world);

/* Ranks sharing this node's memory (MPI_COMM_TYPE_SHARED), 1 without MPI or on failure.
 * Collective on its first call once MPI is up (every rank must make it); later calls only read
 * the answer. Before MPI_Init (where a device is chosen) it is the launcher's word: Open MPI's
 * OMPI_COMM_WORLD_LOCAL_SIZE, MPICH's MPI_LOCALNRANKS or LOCAL_WORLD_SIZE, else 1. */
int comm_local_ranks(void);
/* This rank's index among its node's ranks (0 without MPI or on failure); the same first-call
 * collective as comm_local_ranks, and before MPI_Init OMPI_COMM_WORLD_LOCAL_RANK,
 * MPI_LOCALRANKID, SLURM_LOCALID or LOCAL_RANK. A device backend picks its GPU by it. */
int comm_local_rank(void);

/* The block of n_items that rank owns when they are split into contiguous blocks over world
 * ranks: [*lo, *hi) = [rank*n/world, (rank+1)*n/world) (empty when world > n_items for the
 * surplus ranks). */
void comm_block(int rank, int world, int n_items, int *lo, int *hi);

/* Per-item statistics for n_items items split over the world as comm_block does: each rank fills
 * v[item * width .. + width) for its own items (others may hold anything); afterwards every rank
 * holds every item's values. Exact (values are copied, never summed across ranks). Collective. */
int comm_share_blocks(int n_items, double *v, int width, Error *e);

/* Broadcasts n bytes from rank 0 (no-op with one rank). */
int comm_bcast(void *buf, size_t n, Error *e);

/* Makes an error on any rank an error on every rank: returns the status of the lowest failing
 * rank, with its message copied into e, or RP_OK if all are OK. Collective when world > 1. */
int comm_agree(int rc, Error *e);

#ifdef __cplusplus
}
#endif

#endif

/* The CPU backend's collectives (kernels/backend.h's comm_init ... recv) over MPI on host
 * memory; also what the CUDA backend's collectives run in the SIMT emulation, where device
 * memory is host memory (kernels/cuda/comm_cuda.cu).
 *
 * Determinism: every sum is taken in rank order, ((in_0 + in_1) + in_2) + ..., element by
 * element, whatever the message sizes or thread count: never MPI_Allreduce or
 * MPI_Reduce_scatter, whose order the MPI standard leaves to the library. allreduce_sum is a
 * reduce-scatter then an all-gather, so it equals reduce_scatter_sum + all_gather bitwise, and
 * the result of a sum does not depend on how the caller cuts a buffer into calls (buckets).
 *
 * Cost: the bandwidth-optimal pattern of a ring (each rank sends and receives (world-1)/world of
 * the buffer per reduce-scatter or all-gather), as direct messages to every rank, in pieces of
 * at most 16 Mi floats over all ranks (so every MPI count fits an int) through a host staging
 * buffer of that size allocated per call. Messages use a duplicate of MPI_COMM_WORLD, so they
 * never match another module's receives. */
#ifndef RESTPG_KERNELS_CPU_COMM_CPU_H
#define RESTPG_KERNELS_CPU_COMM_CPU_H

#include <stddef.h>

#include "core/error.h"

#ifdef __cplusplus
extern "C" {
#endif

int cpu_comm_init(Error *e);
void cpu_comm_free(void);
int cpu_allreduce_sum(float *buf, size_t n, Error *e);
int cpu_reduce_scatter_sum(float *out, const float *in, size_t n_per_rank, Error *e);
int cpu_all_gather(float *out, const float *in, size_t n_per_rank, Error *e);
int cpu_send(const float *buf, size_t n, int peer, Error *e);
int cpu_recv(float *buf, size_t n, int peer, Error *e);
/* The split all-reduce of kernels/backend.h, synchronous here: start sums at once (host memory
 * has nothing to overlap with but the caller's own threads, which compute), wait has nothing
 * left to wait for. */
int cpu_allreduce_sum_start(float *buf, size_t n, Error *e);
int cpu_comm_wait(Error *e);

#ifdef __cplusplus
}
#endif

#endif

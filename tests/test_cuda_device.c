/* The CUDA backend's device choice, as the CLI makes it: backend_select("cuda") before MPI_Init
 * (every command parses its options and selects its device first), then MPI. Run on 1 to 3 ranks
 * of one node over the SIMT emulation (8 emulated devices): each rank must be on the device of
 * its node-local rank, the ranks on distinct devices, and the launcher-given local rank must be
 * what MPI then says. On 1 rank without a launcher it is device 0. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/comm.h"
#include "kernels/cuda/backend_cuda.h"
#include "kernels/cuda/simt_api.h"
#include "tests/test.h"

int main(int argc, char **argv) {
    Error e;
    error_clear(&e);
    backend_register(cuda_backend());
    int before = comm_local_rank();
    CHECK_OK(backend_select("cuda", &e), &e);
    int dev = -1;
    CHECK(cudaGetDevice(&dev) == cudaSuccess);
    MPI_Init(&argc, &argv);
    int rank, world;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    int local = comm_local_rank();
    CHECK_MSG(dev == local, "rank %d: device %d, node-local rank %d", rank, dev, local);
    CHECK_MSG(before == local, "rank %d: the launcher said local rank %d before MPI_Init, MPI says %d", rank, before, local);
    CHECK_MSG(comm_local_ranks() == world, "rank %d: %d ranks on this node, %d in all", rank, comm_local_ranks(), world);
    int *all = malloc(sizeof(int) * world);
    MPI_Allgather(&dev, 1, MPI_INT, all, 1, MPI_INT, MPI_COMM_WORLD);
    for (int i = 0; i < world; i++)
        for (int j = i + 1; j < world; j++) CHECK_MSG(all[i] != all[j], "ranks %d and %d share device %d", i, j, all[i]);
    if (rank == 0) printf("%d rank(s): devices chosen before MPI_Init by node-local rank, all distinct\n", world);
    free(all);
    int failed = test_summary("test_cuda_device");
    MPI_Finalize();
    return failed;
}

/* MPI helpers shared by the trainer, sampler and pipeline (see comm.h). */
#include "core/comm.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int comm_check(int mpi_rc, const char *what, Error *e) {
    if (mpi_rc == MPI_SUCCESS) return RP_OK;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(mpi_rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "MPI error code %d", mpi_rc);
    return error_set(e, RP_EMPI, "%s: %s", what, msg);
}

void comm_world(int *rank, int *world) {
    int inited = 0, fin = 0;
    *rank = 0;
    *world = 1;
    if (MPI_Initialized(&inited) != MPI_SUCCESS || !inited) return;
    if (MPI_Finalized(&fin) != MPI_SUCCESS || fin) return;
    if (MPI_Comm_rank(MPI_COMM_WORLD, rank) != MPI_SUCCESS || MPI_Comm_size(MPI_COMM_WORLD, world) != MPI_SUCCESS) {
        *rank = 0;
        *world = 1;
    }
}

/* This node's ranks (MPI_COMM_TYPE_SHARED): their count and this rank's index among them, once
 * MPI is up (0: not known yet). */
static int g_node_size, g_node_rank;

/* The launcher's word for it, before MPI_Init (a device is chosen then): Open MPI's mpirun,
 * MPICH/Hydra, Slurm's srun, then torchrun's convention; -1 when none is set. */
static int env_int(const char *const *names) {
    for (int i = 0; names[i]; i++) {
        const char *v = getenv(names[i]);
        char *end;
        long x = v ? strtol(v, &end, 10) : -1;
        if (v && *v && !*end && x >= 0 && x < INT_MAX) return (int)x;
    }
    return -1;
}

static const char *const LOCAL_RANK_VARS[] = {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID",
                                              "LOCAL_RANK", NULL};
static const char *const LOCAL_SIZE_VARS[] = {"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "LOCAL_WORLD_SIZE", NULL};

/* Whether MPI is initialised and not finalised. */
static int mpi_up(void) {
    int inited = 0, fin = 0;
    return MPI_Initialized(&inited) == MPI_SUCCESS && inited && MPI_Finalized(&fin) == MPI_SUCCESS && !fin;
}

static void node_discover(void) {
    /* Collective the first time only: later calls (possibly from one rank alone, e.g. rank 0's
     * scoring) must not start a collective the other ranks never join. Before MPI is up nothing
     * is cached: the answer then comes from the launcher's environment. */
    if (g_node_size || !mpi_up()) return;
    int rank, world;
    comm_world(&rank, &world);
    g_node_size = 1;
    g_node_rank = 0;
    if (world == 1) return;
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node) != MPI_SUCCESS) return;
    int n = 1, r = 0;
    if (MPI_Comm_size(node, &n) != MPI_SUCCESS || MPI_Comm_rank(node, &r) != MPI_SUCCESS) n = 1, r = 0;
    MPI_Comm_free(&node);
    g_node_size = n;
    g_node_rank = r;
}

int comm_local_ranks(void) {
    node_discover();
    if (g_node_size) return g_node_size;
    int n = env_int(LOCAL_SIZE_VARS);
    return n > 0 ? n : 1;
}

int comm_local_rank(void) {
    node_discover();
    if (g_node_size) return g_node_rank;
    int r = env_int(LOCAL_RANK_VARS);
    return r >= 0 ? r : 0;
}

void comm_block(int rank, int world, int n_items, int *lo, int *hi) {
    *lo = (int)((long long)rank * n_items / world);
    *hi = (int)((long long)(rank + 1) * n_items / world);
}

int comm_share_blocks(int n_items, double *v, int width, Error *e) {
    int rank, world;
    comm_world(&rank, &world);
    if (world == 1) return RP_OK;
    int *counts = xmalloc(sizeof(int) * (size_t)world * 2, e);
    if (!counts) return RP_ENOMEM;
    int *displs = counts + world;
    for (int k = 0; k < world; k++) {
        int lo, hi;
        comm_block(k, world, n_items, &lo, &hi);
        counts[k] = (hi - lo) * width;
        displs[k] = lo * width;
    }
    int rc = comm_check(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, v, counts, displs, MPI_DOUBLE, MPI_COMM_WORLD),
                      "gathering per-micro-batch statistics", e);
    free(counts);
    return rc;
}

int comm_bcast(void *buf, size_t n, Error *e) {
    int rank, world;
    comm_world(&rank, &world);
    if (world == 1) return RP_OK;
    if (n > INT_MAX) return error_set(e, RP_EINTERNAL, "comm_bcast: %zu bytes is too large", n);
    return comm_check(MPI_Bcast(buf, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD), "broadcasting", e);
}

int comm_agree(int rc, Error *e) {
    int rank, world;
    comm_world(&rank, &world);
    if (world == 1) return rc;
    int mine = rc ? rank : world, first = world;
    Error tmp;
    error_clear(&tmp);
    int mrc = comm_check(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "agreeing on status", &tmp);
    if (mrc) {
        *e = tmp;
        return mrc;
    }
    if (first == world) return RP_OK;
    int code = rc;
    char msg[sizeof e->msg];
    memcpy(msg, e->msg, sizeof msg);
    if ((mrc = comm_check(MPI_Bcast(&code, 1, MPI_INT, first, MPI_COMM_WORLD), "broadcasting status", &tmp)) ||
        (mrc = comm_check(MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, first, MPI_COMM_WORLD), "broadcasting an error", &tmp))) {
        *e = tmp;
        return mrc;
    }
    e->code = code;
    memcpy(e->msg, msg, sizeof msg);
    if (first != rank) error_wrap(e, "rank %d", first);
    return code;
}

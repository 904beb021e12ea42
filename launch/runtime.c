/* MPI init/finalize and rank/world discovery (see runtime.h). */
#include "launch/runtime.h"

#include <mpi.h>

#include "core/log.h"
#include "core/comm.h"
#include "kernels/backend.h"

int runtime_init(Runtime *rt, Error *e) {
    rt->rank = 0;
    rt->world = 1;
    rt->owns_mpi = 0;
    int inited = 0;
    int rc = comm_check(MPI_Initialized(&inited), "MPI_Initialized", e);
    if (rc) return rc;
    if (!inited) {
        if ((rc = comm_check(MPI_Init(NULL, NULL), "MPI_Init", e))) return rc;
        rt->owns_mpi = 1;
    }
    /* Errors come back as codes (and become Error messages) instead of aborting the job. */
    if ((rc = comm_check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler", e)) ||
        (rc = comm_check(MPI_Comm_rank(MPI_COMM_WORLD, &rt->rank), "MPI_Comm_rank", e)) ||
        (rc = comm_check(MPI_Comm_size(MPI_COMM_WORLD, &rt->world), "MPI_Comm_size", e)))
        return rc;
    log_set_rank(rt->rank, rt->world);
    return RP_OK;
}

void runtime_finalize(Runtime *rt) {
    if (!rt->owns_mpi) return;
    backend_get()->ops->comm_free(); /* the backend's communicator goes before MPI does */
    int fin = 0;
    if (MPI_Finalized(&fin) == MPI_SUCCESS && !fin) MPI_Finalize();
    rt->owns_mpi = 0;
}

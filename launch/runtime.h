/* The MPI runtime of a restpg process: init/finalize, this process's rank and the world size.
 *
 * Commands that may run under mpirun (pretrain, sft) call runtime_init first; without mpirun
 * MPI starts as a singleton (world size 1), so every command also works as a plain process.
 * runtime_init tells core/log.h the rank so only rank 0 prints. MPI errors are returned as
 * codes (MPI_ERRORS_RETURN) and turned into RP_EMPI by comm_check (trainer/dp.h). */
#ifndef RESTPG_LAUNCH_RUNTIME_H
#define RESTPG_LAUNCH_RUNTIME_H

#include "core/error.h"

typedef struct {
    int rank, world;
    int owns_mpi; /* 1 if runtime_init called MPI_Init (so runtime_finalize calls MPI_Finalize) */
} Runtime;

/* Initialises MPI (unless already initialised), fills rank and world, and sets the log rank.
 * RP_EMPI with MPI's own error string on failure. */
int runtime_init(Runtime *rt, Error *e);
/* Finalises MPI if runtime_init started it. Safe to call after a failed runtime_init. */
void runtime_finalize(Runtime *rt);

#endif

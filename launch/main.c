/* The `restpg` binary: dispatches to a subcommand, prints its error and exits with its status.
 * This is the only place in restpg that exits. Built with RESTPG_WITH_CUDA it registers the CUDA
 * backend: `restpg` on machines with nvcc, and always `restpg_emu`, the same program over the
 * SIMT-emulated CUDA backend, which the tests run where no GPU is attached. */
#include <stdio.h>

#include "core/h5.h"
#include "launch/commands.h"
#ifdef RESTPG_WITH_CUDA
#include "kernels/cuda/backend_cuda.h"
#endif

int main(int argc, char **argv) {
    Error e;
    error_clear(&e);
    h5_init();
#ifdef RESTPG_WITH_CUDA
    backend_register(cuda_backend());
#endif
    int rc = command_dispatch(NULL, COMMANDS, argc, argv, &e);
    if (rc == RP_HELP) return 0;
    if (rc != RP_OK) {
        fprintf(stderr, "restpg: error: %s\n", e.msg[0] ? e.msg : "failed");
        return rc;
    }
    return 0;
}

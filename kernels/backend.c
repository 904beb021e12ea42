/* The backend registry (see backend.h): the devices this binary has and the process's choice. */
#include "kernels/backend.h"

#include <string.h>

#include "kernels/cpu/ops.h"

static Backend g_backend;
static const BackendOps *g_cuda; /* registered by a binary built with the CUDA backend */

void backend_register(const BackendOps *ops) {
    if (ops && !strcmp(ops->name, "cuda")) g_cuda = ops;
}

const char *backend_available(void) { return g_cuda ? "cpu, cuda" : "cpu"; }

const Backend *backend_get(void) {
    if (!g_backend.ops) g_backend.ops = cpu_backend();
    return &g_backend;
}

int backend_select(const char *device, Error *e) {
    const BackendOps *ops = NULL;
    if (device && !strcmp(device, "cpu")) ops = cpu_backend();
    if (device && !strcmp(device, "cuda")) ops = g_cuda;
    if (!ops)
        return error_set(e, RP_EINPUT, "--device: '%s' is not available in this binary (available: %s%s)",
                         device ? device : "", backend_available(),
                         device && !strcmp(device, "cuda") ? "; build on a machine with nvcc for the CUDA backend" : "");
    if (ops->init) {
        int rc = ops->init(e);
        if (rc) return error_wrap(e, "--device %s", device);
    }
    g_backend.ops = ops;
    return RP_OK;
}

/* The backend registry (see backend.h): the devices this build has and the process's choice. */
#include "kernels/backend.h"

#include <string.h>

#include "kernels/cpu/ops.h"

static Backend g_backend;

const char *backend_available(void) { return BACKEND_DEVICES; }

const Backend *backend_get(void) {
    if (!g_backend.ops) g_backend.ops = cpu_backend();
    return &g_backend;
}

int backend_select(const char *device, Error *e) {
    if (device && !strcmp(device, "cpu")) {
        g_backend.ops = cpu_backend();
        return RP_OK;
    }
    return error_set(e, RP_EINPUT, "--device: '%s' is not available in this build (available: %s)", device ? device : "",
                     backend_available());
}

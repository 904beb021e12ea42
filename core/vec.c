/* Growable arrays (see vec.h). */
#include "core/vec.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int vec_next_cap(size_t cap, size_t need, size_t elem, size_t *out, Error *e) {
    if (elem == 0) return error_set(e, RP_EINTERNAL, "vec: element size 0");
    size_t max = SIZE_MAX / elem;
    if (need > max) return error_set(e, RP_ENOMEM, "out of memory: %zu elements of %zu bytes exceed the address space", need, elem);
    size_t c = cap ? cap : VEC_MIN_CAP;
    if (c > max) c = max;
    while (c < need) c = c > max / 2 ? max : 2 * c;
    *out = c;
    return RP_OK;
}

int vec_resize(void *pp, size_t n, size_t elem, Error *e) {
    if (elem == 0) return error_set(e, RP_EINTERNAL, "vec: element size 0");
    if (n > SIZE_MAX / elem)
        return error_set(e, RP_ENOMEM, "out of memory: %zu elements of %zu bytes exceed the address space", n, elem);
    /* pp points at some T*; copying the pointer's bytes rather than writing through a void**
     * keeps this within the aliasing rules for every T. */
    void *p;
    memcpy(&p, pp, sizeof p);
    void *q = xrealloc(p, n * elem, e);
    if (!q) return RP_ENOMEM;
    memcpy(pp, &q, sizeof q);
    return RP_OK;
}

int vec_reserve(void *pp, size_t *cap, size_t need, size_t elem, Error *e) {
    if (need <= *cap) return RP_OK;
    size_t c = 0;
    int rc = vec_next_cap(*cap, need, elem, &c, e);
    if (rc || (rc = vec_resize(pp, c, elem, e))) return rc;
    *cap = c;
    return RP_OK;
}

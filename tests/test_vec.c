/* Growable arrays: growth keeps the contents and reaches any requested size, sizes past the
 * address space fail with RP_ENOMEM before any arithmetic wraps, and asking for nothing
 * allocates nothing. */
#include <stdint.h>
#include <stdlib.h>

#include "core/vec.h"
#include "tests/test.h"

int main(void) {
    Error e;
    error_clear(&e);

    /* Appending one at a time: capacity doubles from VEC_MIN_CAP and the values survive. */
    int64_t *v = NULL;
    size_t cap = 0, grows = 0;
    for (size_t i = 0; i < 10000; i++) {
        size_t before = cap;
        CHECK_OK(VEC_RESERVE(v, cap, i + 1, &e), &e);
        if (cap != before) grows++;
        v[i] = (int64_t)i * 7;
    }
    CHECK(cap >= 10000 && cap < 20000);
    CHECK(grows == 11); /* 16, 32, ..., 16384: geometric, not one realloc per append */
    int same = 1;
    for (size_t i = 0; i < 10000; i++) same &= v[i] == (int64_t)i * 7;
    CHECK(same);

    /* A jump larger than doubling reaches the request at once. */
    size_t c2 = cap;
    CHECK_OK(VEC_RESERVE(v, c2, 5 * cap + 3, &e), &e);
    CHECK(c2 >= 5 * cap + 3);
    free(v);

    /* Zero elements: nothing allocated, nothing changed. */
    char *z = NULL;
    size_t zc = 0;
    CHECK_OK(VEC_RESERVE(z, zc, 0, &e), &e);
    CHECK(z == NULL && zc == 0);

    /* need * elem past SIZE_MAX: RP_ENOMEM, the array and capacity untouched. */
    double *d = NULL;
    size_t dc = 0;
    CHECK_OK(VEC_RESERVE(d, dc, 4, &e), &e);
    double *keep = d;
    size_t keep_cap = dc;
    error_clear(&e);
    CHECK(VEC_RESERVE(d, dc, SIZE_MAX / sizeof(double) + 1, &e) == RP_ENOMEM);
    CHECK(e.code == RP_ENOMEM && d == keep && dc == keep_cap);
    CHECK(vec_resize(&d, SIZE_MAX / 2, 4, &e) == RP_ENOMEM && d == keep);
    free(d);

    /* Doubling near the top is capped at the largest representable count, not wrapped. */
    size_t out = 0, max8 = SIZE_MAX / 8;
    CHECK_OK(vec_next_cap(max8 / 2 + 1, max8 / 2 + 2, 8, &out, &e), &e);
    CHECK(out == max8);
    CHECK_OK(vec_next_cap(max8 - 1, max8, 8, &out, &e), &e);
    CHECK(out == max8);
    CHECK(vec_next_cap(0, max8 + 1, 8, &out, &e) == RP_ENOMEM);
    /* Huge elements: the minimum capacity itself is clamped so its byte size fits. */
    CHECK_OK(vec_next_cap(0, 1, SIZE_MAX / 4, &out, &e), &e);
    CHECK(out >= 1 && out <= 4);
    CHECK(vec_next_cap(0, 1, 0, &out, &e) == RP_EINTERNAL);
    return test_summary("test_vec");
}

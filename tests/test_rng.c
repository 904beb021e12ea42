/* core/rng: reproducible streams, the counter-based hash's sensitivity to each argument, and
 * the moments of the uniform and normal draws. */
#include <math.h>

#include "core/rng.h"
#include "tests/test.h"

int main(void) {
    Rng a, b;
    rng_seed(&a, 42);
    rng_seed(&b, 42);
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= rng_next(&a) == rng_next(&b);
    CHECK(same);
    rng_seed(&b, 43);
    CHECK(rng_next(&a) != rng_next(&b));

    uint64_t h = rng_hash(1, 2, 3, 4);
    CHECK(h == rng_hash(1, 2, 3, 4));
    uint64_t v[4] = {rng_hash(0, 2, 3, 4), rng_hash(1, 3, 3, 4), rng_hash(1, 2, 4, 4), rng_hash(1, 2, 3, 5)};
    for (int k = 0; k < 4; k++) {
        int bits = __builtin_popcountll(h ^ v[k]);
        CHECK_MSG(bits > 16 && bits < 48, "changing argument %d flips %d bits", k, bits);
    }
    CHECK(rng_hash(0, 1, 2, 0) != rng_hash(0, 2, 1, 0)); /* argument order matters */

    /* Moments over 200000 draws: uniform mean 1/2, variance 1/12; normal mean 0, variance 1. */
    const int n = 200000;
    double su = 0, su2 = 0, sn = 0, sn2 = 0, sh = 0, sh2 = 0, umin = 1, umax = 0;
    rng_seed(&a, 7);
    for (int i = 0; i < n; i++) {
        double u = rng_uniform(&a), z = rng_normal(&a);
        double z2[2];
        rng_hash_normal2(9, 1, (uint64_t)i, z2);
        su += u, su2 += u * u, sn += z, sn2 += z * z, sh += z2[0] + z2[1], sh2 += z2[0] * z2[0] + z2[1] * z2[1];
        umin = u < umin ? u : umin, umax = u > umax ? u : umax;
        if (i < 100) CHECK(z2[0] == rng_hash_normal(9, 1, (uint64_t)i));
    }
    CHECK(umin >= 0.0 && umax < 1.0);
    CHECK_NEAR(su / n, 0.5, 0.005);
    CHECK_NEAR(su2 / n - 0.25, 1.0 / 12, 0.002);
    CHECK_NEAR(sn / n, 0.0, 0.01);
    CHECK_NEAR(sn2 / n, 1.0, 0.02);
    CHECK_NEAR(sh / (2 * n), 0.0, 0.01);
    CHECK_NEAR(sh2 / (2 * n), 1.0, 0.02);
    return test_summary("test_rng");
}

/* splitmix64 streams and the counter-based hash built from its finalizer (see rng.h). */
#include "core/rng.h"

#include <math.h>

#define GOLDEN 0x9E3779B97F4A7C15ULL

/* splitmix64's output function: a bijection on 64-bit words with full avalanche. */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

void rng_seed(Rng *r, uint64_t seed) { r->state = seed; }

uint64_t rng_next(Rng *r) {
    r->state += GOLDEN;
    return mix64(r->state);
}

double rng_to_uniform(uint64_t bits) { return (double)(bits >> 11) * (1.0 / 9007199254740992.0); }

double rng_uniform(Rng *r) { return rng_to_uniform(rng_next(r)); }

/* u1 in (0, 1] so the logarithm is finite. */
static double box_muller(double u1, double u2) {
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

double rng_normal(Rng *r) {
    double u1 = rng_uniform(r);
    double u2 = rng_uniform(r);
    return box_muller(u1, u2);
}

/* Each counter goes through its own mixing round so that (a, b, c) and its permutations give
 * unrelated outputs; offsets by multiples of GOLDEN keep zero counters from cancelling. */
uint64_t rng_hash(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
    uint64_t h = mix64(seed + GOLDEN);
    h = mix64(h ^ (a + 2 * GOLDEN));
    h = mix64(h ^ (b + 3 * GOLDEN));
    h = mix64(h ^ (c + 4 * GOLDEN));
    return h;
}

double rng_hash_normal(uint64_t seed, uint64_t a, uint64_t b) {
    return box_muller(rng_to_uniform(rng_hash(seed, a, b, 0)), rng_to_uniform(rng_hash(seed, a, b, 1)));
}

void rng_hash_normal2(uint64_t seed, uint64_t a, uint64_t b, double out[2]) {
    double r = sqrt(-2.0 * log(1.0 - rng_to_uniform(rng_hash(seed, a, b, 0))));
    double th = 6.283185307179586 * rng_to_uniform(rng_hash(seed, a, b, 1));
    out[0] = r * cos(th);
    out[1] = r * sin(th);
}

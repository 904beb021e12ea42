/* Deterministic random numbers.
 *
 * Two kinds: a splitmix64 stream (Rng) for sequential draws, and a counter-based hash
 * (rng_hash) for draws addressed by indices, e.g. "parameter i of tensor k" or "token t of
 * sample s". Addressed draws depend only on (seed, counters), never on thread count, call order
 * or how work is split between ranks, which is what parallel initialisation and sharded
 * sampling need to stay reproducible. */
#ifndef RESTPG_CORE_RNG_H
#define RESTPG_CORE_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t state;
} Rng;

/* Starts a stream; equal seeds give equal streams. */
void rng_seed(Rng *r, uint64_t seed);
/* Next 64 random bits (splitmix64). */
uint64_t rng_next(Rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double rng_uniform(Rng *r);
/* Standard normal by Box-Muller; consumes two draws per call (the second variate is dropped so
 * a call's result depends on nothing but the stream position). */
double rng_normal(Rng *r);

/* A well-mixed 64-bit hash of (seed, a, b, c): the counter-based generator. Changing any
 * argument by one changes about half the output bits. */
uint64_t rng_hash(uint64_t seed, uint64_t a, uint64_t b, uint64_t c);
/* Maps 64 random bits to a uniform double in [0, 1). */
double rng_to_uniform(uint64_t bits);
/* Standard normal addressed by (seed, a, b): Box-Muller on rng_hash(seed, a, b, 0) and
 * rng_hash(seed, a, b, 1). */
double rng_hash_normal(uint64_t seed, uint64_t a, uint64_t b);
/* Both Box-Muller variates of the same draw: out[0] = rng_hash_normal(seed, a, b) and out[1]
 * its independent sine partner; half the cost per normal when filling arrays. */
void rng_hash_normal2(uint64_t seed, uint64_t a, uint64_t b, double out[2]);

#endif

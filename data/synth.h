/* The synthetic personalized task (task "synthetic", profile fields title, text; docs/data.md).
 *
 * Each user has latent traits: a register (formal, casual or enthusiastic sentence templates), a
 * length (how many body sentences), a signature opening and closing line, and two favourite
 * topics that every note of theirs brings up. Each user writes per_user short notes (20-80
 * words) on random topics; every note is an example whose input is only "Write a note about
 * <topic>." (the same words for every user) and whose profile is the user's other notes. So an
 * output can match its user's traits only by reading the profile. The vocabulary is a few
 * hundred words, small enough for a ~1M-parameter model to learn on a CPU in minutes.
 * Everything is a pure function of the seed (a counter-based generator, no global state); user
 * u's traits and notes do not depend on the number of users. Users are split disjointly into
 * train/val/test, about 80/10/10, at least one user in each split when there are 3 or more. */
#ifndef RESTPG_DATA_SYNTH_H
#define RESTPG_DATA_SYNTH_H

#include <stdint.h>

#include "core/error.h"
#include "data/dataset.h"

#define SYNTH_MAX_USERS 1000000L
#define SYNTH_MAX_PER_USER 1000L

typedef struct {
    long users;      /* 1..SYNTH_MAX_USERS */
    long per_user;   /* notes per user = examples per user, 2..SYNTH_MAX_PER_USER */
    uint64_t seed;
} SynthConfig;

/* A user's latent traits, as strings so tests and docs can check them against the text. */
typedef struct {
    const char *tone;        /* "formal", "casual" or "enthusiastic" */
    const char *opening;     /* first sentence of every note */
    const char *closing;     /* last sentence of every note */
    const char *favourite[2]; /* the phrases their notes relate every topic to */
    int body_min, body_max;  /* body sentences per note */
} SynthUser;

/* Fills the traits of user u (0-based) for a seed. */
void synth_user(uint64_t seed, long u, SynthUser *out);

/* Builds the whole dataset into d (which this initialises; free with dataset_free). User u is
 * "user<u>" and its note k the example "u<u>-n<k>", examples in user-then-note order. RP_EINPUT
 * naming the option when users or per_user is out of range; on error d is freed. */
int synth_build(const SynthConfig *c, Dataset *d, Error *e);

#endif

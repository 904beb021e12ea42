/* `restpg data synth` and its stage: writes the synthetic personalized task (data/synth.h) to a
 * dataset file. */
#include "core/args.h"
#include "core/log.h"
#include "data/dataset.h"
#include "data/synth.h"
#include "launch/cmd_data.h"
#include "launch/stages.h"

int stage_synth(const SynthConfig *c, const char *out, Error *e) {
    Dataset d;
    int rc = synth_build(c, &d, e);
    if (rc) return rc;
    if (!(rc = dataset_validate(&d, "synth", e)) && !(rc = dataset_write(&d, out, e)))
        log_info("wrote %lld synthetic examples (%ld users, %ld notes each, seed %ld) to %s", (long long)d.n, c->users,
                 c->per_user, (long)c->seed, out);
    dataset_free(&d);
    return rc;
}

int cmd_data_synth(int argc, char **argv, Error *e) {
    long users = 0, seed = 0, per_user = 8;
    const char *out = NULL;
    ArgSpec specs[] = {
        {"--users", ARG_INT, &users, "number of synthetic users (1..1000000)", 1, 0},
        {"--seed", ARG_INT, &seed, "generator seed; the same seed gives the same dataset", 1, 0},
        {"--per-user", ARG_INT, &per_user, "notes (examples) per user, 2..1000; default 8", 0, 0},
        {"--out", ARG_STR, &out, "dataset file to write (HDF5)", 1, 0},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("data synth",
                        "Generates the synthetic personalized task: users with latent traits (register, length, "
                        "signature opening and closing, favourite topics) that an output can match only by reading "
                        "the user's profile. Users are split disjointly into train/val/test (about 80/10/10).",
                        specs, argc, argv, e);
    if (rc) return rc;
    SynthConfig c = {users, per_user, (uint64_t)seed};
    return stage_synth(&c, out, e);
}

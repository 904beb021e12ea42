/* `restpg data debian` and its stage: builds the Debian-maintainer benchmark (task
 * package_description) from apt's Packages and Translation-en lists (data/debian.c, docs/debian.md). */
#include <stdio.h>

#include "core/args.h"
#include "core/log.h"
#include "data/debian.h"
#include "launch/cmd_data.h"
#include "launch/stages.h"

int stage_debian(const DebianOptions *o, const char *out, Error *e) {
    double t0 = time_now();
    Dataset d;
    DebianStats st;
    int rc = debian_build(o, &d, &st, e);
    if (rc) return rc;
    rc = dataset_write(&d, out, e);
    dataset_free(&d);
    if (rc) return rc;
    log_info("debian: %lld list files, %lld Packages stanzas, %lld packages, %lld with a usable long description, "
             "%lld qualifying maintainers",
             (long long)st.files, (long long)st.stanzas, (long long)st.packages, (long long)st.eligible,
             (long long)st.qualifying);
    log_info("debian: users train/val/test %lld/%lld/%lld, examples %lld/%lld/%lld, profile items %lld",
             (long long)st.users[0], (long long)st.users[1], (long long)st.users[2], (long long)st.examples[0],
             (long long)st.examples[1], (long long)st.examples[2], (long long)st.items);
    log_info("debian: wrote %s in %.1f s", out, time_now() - t0);
    return RP_OK;
}

int cmd_data_debian(int argc, char **argv, Error *e) {
    DebianOptions o;
    debian_options_default(&o);
    const char *out = NULL;
    ArgSpec specs[] = {
        {"--out", ARG_STR, &out, "the dataset file to write (.h5)", 1, 0},
        {"--lists", ARG_STR, &o.lists_dir, "apt lists directory with *Packages[.lz4] and *Translation-en[.lz4] "
                                           "(default /var/lib/apt/lists)", 0, 0},
        {"--min-items", ARG_INT, &o.min_items, "profile items (other source packages) an example needs (default 5)", 0, 0},
        {"--min-words", ARG_INT, &o.min_words, "skip long descriptions shorter than this many words (default 10)", 0, 0},
        {"--seed", ARG_INT, &o.seed, "seed of the user split and of the user/target choice (default 1)", 0, 0},
        {"--max-users", ARG_INT, &o.max_users, "keep at most this many users, 0 = all (default 0)", 0, 0},
        {"--max-examples-per-user", ARG_INT, &o.max_examples_per_user,
         "target packages per user (default 4)", 0, 0},
        {"--max-profile", ARG_INT, &o.max_profile, "profile items per example, most similar first (default 8)", 0, 0},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("data debian",
                        "Builds the Debian-maintainer benchmark: users are package maintainers, an example asks for a "
                        "package's long description from its name, section and short description, the profile is the "
                        "maintainer's other packages. Users are split 80/10/10 into train/val/test by a hash of the "
                        "seed and the user. See docs/debian.md.",
                        specs, argc, argv, e);
    if (rc) return rc;
    return stage_debian(&o, out, e);
}

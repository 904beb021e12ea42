/* The Debian-maintainer benchmark (task "package_description", docs/debian.md): a real
 * personalised long-form task built from apt's archive metadata. A user is a package maintainer;
 * an example asks for the long description of one of their packages given its name, section and
 * short description; the profile is that maintainer's other packages {package, summary,
 * description}. Users are split disjointly into train/val/test (LongLaMP's user setting). */
#ifndef RESTPG_DATA_DEBIAN_H
#define RESTPG_DATA_DEBIAN_H

#include <stdint.h>

#include "core/error.h"
#include "data/dataset.h"

typedef struct {
    const char *lists_dir;      /* apt lists directory (default /var/lib/apt/lists) */
    long min_items;             /* an example needs this many profile-eligible items (default 5) */
    long min_words;             /* long descriptions shorter than this many words are skipped (10) */
    long seed;                  /* drives the user split, user and example choice (default 1) */
    long max_users;             /* 0 = every qualifying user (default 0) */
    long max_examples_per_user; /* targets per user (default 4) */
    long max_profile;           /* profile items per example (default 8) */
} DebianOptions;

typedef struct {
    int64_t files;        /* list files read (Packages + Translation-en) */
    int64_t stanzas;      /* Packages stanzas read, before one entry per package name is kept */
    int64_t packages;     /* distinct package names */
    int64_t eligible;     /* packages with a usable long description (not transitional/dummy) */
    int64_t qualifying;   /* maintainers with at least one example, before --max-users */
    int64_t users[3];     /* train, val, test */
    int64_t examples[3];
    int64_t items;        /* profile items over all examples */
} DebianStats;

/* Fills o with the documented defaults. */
void debian_options_default(DebianOptions *o);

/* Checks the options' ranges (min_items >= 1, max_profile >= min_items, ...); RP_EINPUT naming
 * the option otherwise. */
int debian_options_check(const DebianOptions *o, Error *e);

/* Builds the benchmark from the Packages and Translation-en lists under o->lists_dir into d
 * (initialised here; on failure d is left freed). The result depends only on the lists' content
 * and the options, not on file or stanza order. RP_EINPUT names the file and line for unreadable
 * or missing lists, corrupt lz4 data and malformed stanzas, and says why when no user qualifies.
 * st (may be NULL) receives the counts. */
int debian_build(const DebianOptions *o, Dataset *d, DebianStats *st, Error *e);

#endif

/* Benchmark: building the Debian-maintainer benchmark with its default options from the apt
 * lists (argv[1], default /var/lib/apt/lists). Prints one JSON line: build seconds (reading,
 * decompressing, parsing, assembling), write seconds and file size for the HDF5 output, users and
 * examples. Exits 2 with a message when the lists are missing or bad. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "data/debian.h"

int main(int argc, char **argv) {
    Error e;
    error_clear(&e);
    DebianOptions o;
    debian_options_default(&o);
    if (argc > 1) o.lists_dir = argv[1];
    Dataset d;
    DebianStats st;
    double t0 = time_now();
    int rc = debian_build(&o, &d, &st, &e);
    double t_build = time_now() - t0;
    if (rc) {
        fprintf(stderr, "bench_debian: %s\n", e.msg);
        return rc;
    }
    char path[512];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/bench_debian_%d.h5", tmp ? tmp : "/tmp", (int)getpid());
    t0 = time_now();
    rc = dataset_write(&d, path, &e);
    double t_write = time_now() - t0;
    struct stat sb;
    long long bytes = rc == RP_OK && stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
    unlink(path);
    if (rc) {
        fprintf(stderr, "bench_debian: %s\n", e.msg);
        dataset_free(&d);
        return rc;
    }
    printf("{\"bench\": \"debian_build\", \"lists\": \"%s\", \"seconds\": %.3f, \"write_seconds\": %.3f, "
           "\"file_bytes\": %lld, \"packages\": %lld, \"users\": %lld, \"users_train\": %lld, \"users_val\": %lld, "
           "\"users_test\": %lld, \"examples\": %lld, \"profile_items\": %lld}\n",
           o.lists_dir, t_build, t_write, bytes, (long long)st.packages,
           (long long)(st.users[0] + st.users[1] + st.users[2]), (long long)st.users[0], (long long)st.users[1],
           (long long)st.users[2], (long long)d.n, (long long)st.items);
    dataset_free(&d);
    return 0;
}

/* A stand-in for libFuzzer's driver, so every build (gcc, the sanitizer build) can replay a fuzz
 * target's corpus as an ordinary ctest: `fuzz_NAME FILE_OR_DIR...` feeds each file (each file of
 * a directory, in name order) to LLVMFuzzerTestOneInput once. A crash is the test failing; the
 * file being fed is printed first so the reproducer is named in the log. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return 1;
    }
    size_t cap = 1 << 16, n = 0, r;
    uint8_t *buf = malloc(cap);
    while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    if (!buf) {
        fprintf(stderr, "%s: out of memory\n", path);
        return 1;
    }
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

int main(int argc, char **argv) {
    int bad = 0, files = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st)) {
            perror(argv[i]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            bad |= replay_file(argv[i]);
            files++;
            continue;
        }
        struct dirent **ents;
        int n = scandir(argv[i], &ents, NULL, by_name);
        if (n < 0) {
            perror(argv[i]);
            return 1;
        }
        for (int k = 0; k < n; k++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[i], ents[k]->d_name);
            if (ents[k]->d_name[0] != '.' && !stat(path, &st) && S_ISREG(st.st_mode)) {
                bad |= replay_file(path);
                files++;
            }
            free(ents[k]);
        }
        free(ents);
    }
    /* An empty corpus means the seeds went missing: that must not pass as "nothing crashed". */
    if (!files) fprintf(stderr, "replay: no input files\n");
    printf("replayed %d inputs\n", files);
    return bad || !files;
}

/* Shared by the fuzz targets (tests/fuzz/fuzz_*.c, docs/testing.md). Every restpg parser reads a
 * path, so a target writes its input to a per-process scratch file and hands the parser that path:
 * the parser then sees exactly the bytes a hostile file would give it, through the same open/read/
 * HDF5/mmap calls. The scratch file lives in $TMPDIR (or /tmp) and is rewritten for every input. */
#ifndef RESTPG_TESTS_FUZZ_H
#define RESTPG_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes data[0..size) to the scratch file for slot `slot` (a target with two input files uses two
 * slots) with the given suffix, and returns its path (static storage per slot). Aborts if the
 * file cannot be written: a fuzzer that silently tests nothing is worse than one that stops. */
static inline const char *fuzz_file(int slot, const uint8_t *data, size_t size, const char *suffix) {
    static char paths[2][512];
    const char *dir = getenv("TMPDIR");
    snprintf(paths[slot], sizeof paths[slot], "%s/restpg_fuzz.%ld.%d%s", dir && *dir ? dir : "/tmp", (long)getpid(), slot,
             suffix);
    FILE *f = fopen(paths[slot], "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) {
        perror(paths[slot]);
        abort();
    }
    return paths[slot];
}

#endif

/* Fuzz target: the samples loader (data/samples.c): candidates, their token ragged array and,
 * when present, the reward columns. Seeds are small samples files written by `restpg sample`
 * and `restpg reward`. */
#include "data/samples.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Samples s;
    Error e;
    if (!samples_read(fuzz_file(0, data, size, ".h5"), &s, &e)) samples_free(&s);
    return 0;
}

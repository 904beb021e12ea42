/* Fuzz target: the dataset loader (data/dataset.c, HDF5 through core/h5.c). Inputs are whole
 * HDF5 files; the seeds are tiny datasets written by restpg itself, so mutations land in real
 * superblocks, object headers, string heaps and attributes. A dataset that loads is validated
 * as every command that reads one does. */
#include "data/dataset.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Dataset d;
    Error e;
    if (!dataset_read(fuzz_file(0, data, size, ".h5"), &d, &e)) {
        dataset_validate(&d, "fuzz", &e);
        dataset_free(&d);
    }
    return 0;
}

/* Fuzz target: the safetensors reader (model/safetensors.c, safetensors_dir.c): the header
 * length, the JSON header, every entry and the layout of the data section, then every float
 * tensor converted (bounded so one input cannot ask for gigabytes) and the metadata looked up.
 * An input starting with '{' is also tried as a model.safetensors.index.json, whose shards are
 * then looked for beside it (usually missing: the index's own checks are what runs). */
#include <stdlib.h>

#include "model/safetensors.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Error e;
    STFile *f = NULL;
    if (!st_open(fuzz_file(0, data, size, ".safetensors"), &f, &e)) {
        for (size_t i = 0; i < st_metadata_count(f); i++) {
            const char *k, *v;
            st_metadata_at(f, i, &k, &v);
            if (st_metadata_get(f, k) == NULL) abort();
        }
        for (size_t i = 0; i < st_tensor_count(f); i++) {
            const STTensor *t = st_tensor_at(f, i);
            size_t at;
            if (st_find(f, t->name, &at) != t || at != i) abort();
            if (t->n_elems > (1u << 20)) continue;
            float *out = malloc((t->n_elems ? t->n_elems : 1) * sizeof(float));
            if (out) st_tensor_read_f32(f, i, out, &e);
            free(out);
        }
        st_close(f);
    }
    if (size && data[0] == '{') {
        STDir *d = NULL;
        if (!st_dir_open(fuzz_file(1, data, size, ".json"), &d, &e)) st_dir_close(d);
    }
    return 0;
}

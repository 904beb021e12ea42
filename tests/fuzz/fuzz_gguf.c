/* Fuzz target: the GGUF reader (model/gguf.c, model/gguf_quant.c): header, metadata, tensor
 * table, then every tensor dequantized (bounded so one input cannot ask for gigabytes), which is
 * where a table that lies about sizes or offsets would read outside the mapping. */
#include <stdlib.h>

#include "model/gguf.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    GGUF *g = NULL;
    Error e;
    if (gguf_open(fuzz_file(0, data, size, ".gguf"), &g, &e)) return 0;
    for (size_t i = 0; i < gguf_kv_count(g); i++) {
        const GGUFKV *kv = gguf_kv_at(g, i);
        const char *s;
        if (kv && gguf_find_kv(g, kv->key) != NULL) gguf_get_str(g, kv->key, &s, &e);
    }
    for (size_t i = 0; i < gguf_tensor_count(g); i++) {
        const GGUFTensor *t = gguf_tensor_at(g, i);
        if (!t || t->n_elems > (1u << 20) || gguf_find_tensor(g, t->name) == NULL) continue;
        float *out = malloc((t->n_elems ? t->n_elems : 1) * sizeof(float));
        if (out) gguf_tensor_to_f32(g, t, out, &e);
        free(out);
    }
    gguf_close(g);
    return 0;
}

/* Fuzz target: checkpoints (model/checkpoint.c via checkpoint_load_any, so a GGUF magic takes the
 * GGUF import path too): config, embedded tokenizer, parameters and the optional training state.
 * Seeds are tiny checkpoints from `restpg pretrain` (with train state) and `restpg convert`. */
#include "data/tokenizer.h"
#include "model/checkpoint.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Model m;
    Tokenizer *t = NULL;
    CheckpointMeta meta;
    Error e;
    checkpoint_meta_init(&meta);
    if (!checkpoint_load_any(fuzz_file(0, data, size, ".h5"), &m, &t, &meta, &e)) {
        model_free(&m);
        tokenizer_free(t);
    }
    return 0;
}

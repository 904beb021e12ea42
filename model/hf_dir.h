/* Hugging Face model directories in and out: config.json (+ generation_config.json), one or
 * sharded *.safetensors (model/safetensors.h), and the tokenizer files (tokenizer.json,
 * tokenizer_config.json; data/tokenizer.h reads them). docs/models.md has the recipe and the
 * table of supported families.
 *
 * Import: the family comes from config.json's `model_type` and every hyper-parameter from its
 * keys (model/hf_config.c maps them). A key the family does not know is RP_EINPUT naming it,
 * unless it is one of the keys known to change nothing restpg computes (ids, dtype, version,
 * cache and initialisation settings); a known key with a value restpg does not implement
 * (`hidden_act: relu`, `use_sliding_window: true`, ...) is RP_EINPUT naming key and value. Every
 * tensor of the family's table must be present with the shape the config implies, in any float
 * dtype the safetensors reader converts (F32, F16, BF16), finite; a tensor the table does not
 * know is RP_EINPUT naming it (a file with more weights than restpg would use is another model).
 *
 * Export writes what transformers loads unchanged: config.json, model.safetensors (or shards of
 * at most shard_bytes with model.safetensors.index.json), generation_config.json and the
 * tokenizer files, all into a temp directory renamed into place at the end, so an interrupted
 * export leaves nothing. */
#ifndef RESTPG_MODEL_HF_DIR_H
#define RESTPG_MODEL_HF_DIR_H

#include <stdint.h>

#include "core/error.h"
#include "data/tokenizer.h"
#include "model/model.h"

/* 1 if path is a directory holding config.json, or is "hf:DIR" (the run config's form). */
int hf_dir_is(const char *path);

/* Loads the model (and, if t is not NULL, its tokenizer) from the directory (or "hf:DIR"). */
int hf_dir_load(const char *dir, Model *m, Tokenizer **t, Error *e);

typedef struct {
    DType dtype;          /* tensors as fp32 or bf16 */
    uint64_t shard_bytes; /* largest shard (0: one file) */
    int overwrite;        /* replace an existing directory */
} HfDirExportOptions;

/* Writes m and t as a Hugging Face directory `dir` (see above); `source` is recorded nowhere but
 * must not be dir (inputs are never overwritten). */
int hf_dir_export(const Model *m, const Tokenizer *t, const char *dir, const char *source, const HfDirExportOptions *o,
              Error *e);

#endif

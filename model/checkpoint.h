/* restpg checkpoints: one HDF5 file (format "restpg-checkpoint", docs/formats.md) that carries
 * everything later commands need: the model config, the parameters named and shaped like Hugging
 * Face's GPT2LMHeadModel state dict, the tokenizer, and (for resumable training) the AdamW
 * moments, step, RNG state, data position and the run options that must not change on resume.
 *
 * Files are written to a temp file and renamed into place, so a crash mid-write leaves the
 * previous checkpoint intact. Loading checks format, version, config attributes, every tensor's
 * shape and the tokenizer's vocabulary against the config, every dataset's fletcher32 checksum
 * (files written before checksums load without one) and every tensor value for NaN/Inf; any
 * failure is RP_EINPUT naming the file and the object. */
#ifndef RESTPG_MODEL_CHECKPOINT_H
#define RESTPG_MODEL_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "data/tokenizer.h"
#include "model/model.h"

#define CHECKPOINT_FORMAT "restpg-checkpoint"
#define CHECKPOINT_VERSION 1
#define CHECKPOINT_MAX_OPTS 32

typedef struct {
    /* V of the llm.c file the weights were imported from (0: none). Export writes it back into
     * the llm.c header, so llm.c -> restpg -> llm.c is bitwise even when restpg's tokenizer adds
     * special tokens after GPT-2's 50257. */
    int64_t llmc_vocab_size;
    /* Training state; has_train = 0 for a weights-only checkpoint. */
    int has_train;
    int64_t step;                            /* optimizer steps completed (the AdamW moments live in
                                              * the model: saved from it, loaded into it) */
    uint64_t rng_state;                      /* data-order RNG (core/rng.h) at the start of the epoch */
    int64_t data_epoch, data_pos;            /* epoch, and sequences of it already consumed */
    int n_opts;                              /* run options (name -> number) checked on resume */
    char opt_name[CHECKPOINT_MAX_OPTS][32];
    double opt_value[CHECKPOINT_MAX_OPTS];
} CheckpointMeta;

/* Zeroes meta (no train state, no llm.c origin). */
void checkpoint_meta_init(CheckpointMeta *meta);
/* Adds or replaces a run option; RP_EINTERNAL if more than CHECKPOINT_MAX_OPTS. */
int checkpoint_meta_set_opt(CheckpointMeta *meta, const char *name, double value, Error *e);
/* Returns 1 and sets *value if the option is present. */
int checkpoint_meta_get_opt(const CheckpointMeta *meta, const char *name, double *value);

/* Writes model parameters, config and tokenizer (and, when meta->has_train, meta's train state
 * with the model's AdamW moments) atomically to path. meta may be NULL (weights only). */
int checkpoint_save(const char *path, const Model *m, const Tokenizer *t, const CheckpointMeta *meta, Error *e);

/* Reads a checkpoint: initialises m (gpt_init with the file's config, parameters loaded),
 * creates *t from the embedded tokenizer, and fills meta (train state only if the file has it,
 * its AdamW moments loaded into m; meta may be NULL to skip it). On error nothing is left
 * allocated. */
int checkpoint_load(const char *path, Model *m, Tokenizer **t, CheckpointMeta *meta, Error *e);

/* Any model restpg reads: a restpg checkpoint (as checkpoint_load), a GGUF file imported on the
 * fly (model/gguf_import.h), recognised by its magic number or named as "gguf:FILE", or a Hugging
 * Face directory (model/hf_dir.h), a directory with config.json or "hf:DIR" (the run config's
 * model.init forms). Imports carry no training state (meta, if given, says so). */
int checkpoint_load_any(const char *path, Model *m, Tokenizer **t, CheckpointMeta *meta, Error *e);
/* 1 if path names a GGUF file as checkpoint_load_any recognises it ("gguf:FILE" or the magic). */
int model_file_is_gguf(const char *path);
/* 1 if path names a model checkpoint_load_any imports rather than loads: a GGUF file or a Hugging
 * Face directory. */
int model_file_is_import(const char *path);

/* RP_EINPUT naming `tensor` and the first index whose value is NaN or infinite. Every tensor read
 * from a model file passes through it, and so does every tensor written to a checkpoint. */
int checkpoint_check_finite(const float *x, size_t n, const char *tensor, Error *e);

#endif

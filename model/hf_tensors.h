/* A model's parameters as Hugging Face tensors: one walk over the architecture's tensor table that
 * gives every per-layer slice its Hugging Face name and stored shape (GPT-2's Conv1D weights are
 * stored transposed; embeddings store the real vocabulary rows only, not the padding). The
 * checkpoint writer/reader (model/checkpoint.c, HDF5) and the Hugging Face directory importer and
 * exporter (model/hf_dir.c, safetensors) both walk it, so their names, shapes and transposes cannot
 * disagree. */
#ifndef RESTPG_MODEL_HF_TENSORS_H
#define RESTPG_MODEL_HF_TENSORS_H

#include <stdint.h>

#include "core/error.h"
#include "model/model.h"

/* One slice as stored: name, rank (1 or 2) and dims. */
typedef struct {
    char name[128];
    int rank;
    uint64_t dims[2];
} HfSlice;

/* save: fn receives each slice's values of state `which` ('p' parameters, 'g' gradients) in the
 * stored layout (valid during the call); load: fn fills the parameters' slices, and the walk
 * checks they are finite before uploading the tensor. fn's non-zero return stops the walk and is
 * returned. */
typedef int (*HfSliceFn)(void *ctx, const HfSlice *s, float *data, Error *e);
int hf_tensors_walk(Model *m, int save, int which, HfSliceFn fn, void *ctx, Error *e);

/* Calls fn(ctx, name) for every slice name of m, in the walk's order (for "is this tensor one of
 * ours" checks on import). */
int hf_tensors_names(const Model *m, int (*fn)(void *ctx, const char *name, Error *e), void *ctx, Error *e);

#endif

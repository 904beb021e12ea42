/* safetensors files (Hugging Face checkpoints): reading one file or a model directory (one
 * model.safetensors, or shards listed by model.safetensors.index.json), and writing fp32 tensors
 * as F32 or BF16, in one file or in shards named as transformers names them (docs/formats.md).
 *
 * st_open maps the file read-only and validates its whole header against the file size before
 * returning: the header length, the JSON (cJSON), every entry's dtype, shape and data_offsets,
 * byte sizes, and the layout of the data section, which the tensors must cover exactly, back to
 * back, as the reference implementation requires (no overlap, no hole, no trailing bytes). Nothing
 * is read from the mapping later except tensor data whose bounds were checked at open, so a
 * handle is safe on any file that opened without error. Errors are RP_EINPUT naming the file, the
 * tensor and the field, like the GGUF reader's (model/gguf.h).
 *
 * Shapes keep the file's convention: row-major, shape[0] outermost (numpy's and PyTorch's). */
#ifndef RESTPG_MODEL_SAFETENSORS_H
#define RESTPG_MODEL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Every dtype of the format (safetensors 0.8). Only F32, F16 and BF16 are read as float; the
 * others are sized, bounds-checked and listed. */
typedef enum {
    ST_BOOL, ST_F4, ST_F6_E2M3, ST_F6_E3M2, ST_U8, ST_I8, ST_F8_E5M2, ST_F8_E4M3, ST_F8_E8M0,
    ST_F8_E4M3FNUZ, ST_F8_E5M2FNUZ, ST_I16, ST_U16, ST_F16, ST_BF16, ST_I32, ST_U32, ST_F32,
    ST_C64, ST_F64, ST_I64, ST_U64, ST_N_DTYPES
} STDtype;

/* "F32", "BF16", ... as the header spells it; "?" for a value outside the enum. */
const char *st_dtype_name(int dtype);
/* Bits per element (4, 6, 8, 16, 32, 64); 0 for a value outside the enum. */
unsigned st_dtype_bits(int dtype);

/* One tensor. data points into the mapping (n_bytes bytes, not necessarily aligned). */
typedef struct {
    const char *name;
    STDtype dtype;
    size_t n_dims;         /* 0 for a scalar */
    const uint64_t *shape; /* n_dims entries */
    uint64_t n_elems;      /* the product of shape (1 for a scalar, 0 for an empty tensor) */
    uint64_t begin, end;   /* data_offsets as stored: bytes [begin, end) of the data section */
    uint64_t n_bytes;      /* end - begin */
    const void *data;
} STTensor;

typedef struct STFile STFile;

/* Opens and validates one .safetensors file (see above). *f is NULL on failure: RP_EINPUT for a
 * file that is missing, not a regular file, over the input size limit (core/fileio.h) or invalid;
 * RP_EIO when the mapping fails. */
int st_open(const char *path, STFile **f, Error *e);
/* Unmaps and frees; every pointer obtained from f dies with it. NULL is allowed. */
void st_close(STFile *f);

const char *st_path(const STFile *f);
/* File offset of the data section: 8 + the header length. */
uint64_t st_data_start(const STFile *f);

/* Tensors in header order; st_find returns NULL when name is absent (and *index, if non-NULL,
 * gets the tensor's position otherwise). */
size_t st_tensor_count(const STFile *f);
const STTensor *st_tensor_at(const STFile *f, size_t i);
const STTensor *st_find(const STFile *f, const char *name, size_t *index);

/* The __metadata__ map (string -> string), in header order; st_metadata_get returns NULL when
 * key is absent. A file without __metadata__ has none. */
size_t st_metadata_count(const STFile *f);
void st_metadata_at(const STFile *f, size_t i, const char **key, const char **value);
const char *st_metadata_get(const STFile *f, const char *key);

/* Converts tensor i (st_tensor_at order) to n_elems floats in dst: F32 as stored, F16 and BF16
 * widened exactly (NaN payloads kept). Any other dtype is RP_EINPUT naming the file, the tensor
 * and its dtype. */
int st_tensor_read_f32(const STFile *f, size_t i, float *dst, Error *e);
/* The same by name; a name the file lacks is RP_EINPUT naming the file and the tensor. */
int st_read_f32(const STFile *f, const char *name, float *dst, Error *e);

/* A model directory: its shards, each opened once, and one table of all their tensors. */
typedef struct STDir STDir;

/* Opens `path`: a directory holding model.safetensors.index.json (whose weight_map maps every
 * tensor to its shard, a file name in the same directory) or else model.safetensors; an index
 * file itself; or a single .safetensors file. Every shard is validated by st_open. The index
 * must be a JSON object whose weight_map is an object of strings naming plain files (no '/');
 * a missing shard, a tensor the index maps to a shard that lacks it, a tensor a shard holds but
 * the index does not map there (so also a tensor in two shards) are RP_EINPUT naming the index
 * file and the tensor. metadata.total_size is informative and not checked. *d is NULL on failure. */
int st_dir_open(const char *path, STDir **d, Error *e);
void st_dir_close(STDir *d);

/* The index file, or NULL when path was a single file or a directory without one. */
const char *st_dir_index_path(const STDir *d);
/* Shards in the order the index first names them (one for a single file). */
size_t st_dir_file_count(const STDir *d);
const STFile *st_dir_file(const STDir *d, size_t i);
/* All tensors: shard by shard, each shard's in header order. *file (if non-NULL) gets the shard
 * holding it. */
size_t st_dir_tensor_count(const STDir *d);
const STTensor *st_dir_tensor_at(const STDir *d, size_t i, const STFile **file);
const STTensor *st_dir_find(const STDir *d, const char *name, const STFile **file);
/* st_read_f32 on the shard holding name; a name no shard holds is RP_EINPUT naming path. */
int st_dir_read_f32(const STDir *d, const char *name, float *dst, Error *e);

/* Writing. Tensors are given in order as fp32 arrays and written in that order, each as
 * STWriteOptions.dtype: ST_F32 (bit for bit) or ST_BF16 (rounded to nearest, ties to even; NaN
 * stays NaN, quiet, sign kept; values beyond bf16's range become infinities, as numpy and PyTorch
 * round). Every file's header is {"__metadata__":{"format":"pt"}, tensors...} padded with spaces
 * to a multiple of 8 bytes, so tensor data is 8-byte aligned.
 *
 * Output: the directory `dir` gets model.safetensors when the tensors' data fits in
 * shard_bytes (or shard_bytes is 0), else model-00001-of-0000N.safetensors ... and
 * model.safetensors.index.json ({"metadata":{"total_size":BYTES},"weight_map":{name: shard}}).
 * Shards are filled greedily in order as huggingface_hub splits a state dict: a tensor that
 * would take the current shard past shard_bytes starts the next one; a tensor larger than
 * shard_bytes gets a shard of its own.
 *
 * Atomic: every file goes to a temp name in dir and all are renamed into place only after all
 * were written (the index last); on any failure nothing new is left in dir. An output that
 * exists is refused unless `overwrite` is set; with it, the export files of an earlier write
 * (model.safetensors, the index, model-*-of-*.safetensors) that the new one does not replace
 * are removed after it is in place, so dir never mixes two exports. An output that is the same
 * file as one of `inputs` (paths of files or directories; an input directory counts as every
 * export file name in it) is refused whatever `overwrite` says. */
typedef struct {
    STDtype dtype;
    uint64_t shard_bytes;
    int overwrite;
    int n_inputs;
    const char *const *inputs;
} STWriteOptions;

typedef struct STWriter STWriter;

/* Starts a write into dir (created if missing, with its parents). Nothing is written until
 * st_writer_finish. RP_EINPUT for a dtype other than ST_F32/ST_BF16. */
int st_writer_open(const char *dir, const STWriteOptions *opt, STWriter **w, Error *e);
/* Adds a tensor: name (non-empty, valid UTF-8, not "__metadata__", not added before), shape of
 * n_dims dimensions (0 for a scalar), and data: the product of shape floats, which must stay
 * valid until st_writer_finish (nothing is copied). */
int st_writer_add(STWriter *w, const char *name, size_t n_dims, const uint64_t *shape,
                  const float *data, Error *e);
/* Writes every file and puts them in place (see above). Call it once, then st_writer_free. */
int st_writer_finish(STWriter *w, Error *e);
/* Frees the writer; NULL is allowed. */
void st_writer_free(STWriter *w);

/* A tensor (or key, or file) name fit for an error message, written into out: at most 120
 * bytes, then "...", control bytes shown as '?' so a garbage name cannot garble the message. */
const char *st_shown(const char *s, char out[128]);

#endif

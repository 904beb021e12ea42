/* GGUF reader: the file format llama.cpp/ggml use for pretrained models (v2 and v3, little-endian).
 *
 * gguf_open maps the file read-only, validates the whole header against the file size (every
 * count, length, type, shape and offset; see docs/gguf.md) and builds an index of the metadata
 * and the tensors. Nothing is read from the mapping later except tensor data whose bounds were
 * checked at open, so a GGUF handle is safe to use on any file that opened without error.
 *
 * Metadata values are decoded at open into native, aligned copies (strings NUL-terminated), so
 * callers never touch unaligned little-endian bytes. Tensors keep ggml's conventions: ne[0] is the
 * fastest-varying dimension, a "row" is ne[0] consecutive elements. gguf_tensor_to_f32 and
 * gguf_rows_to_f32 dequantize F32, F16, BF16, Q5_0, Q8_0, Q4_K, Q5_K and Q6_K to fp32,
 * bit-identically to gguf-py's numpy reference (gguf.quants.dequantize). */
#ifndef RESTPG_MODEL_GGUF_H
#define RESTPG_MODEL_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* Metadata value types, numbered as in the file. */
enum {
    GGUF_TYPE_U8 = 0,
    GGUF_TYPE_I8 = 1,
    GGUF_TYPE_U16 = 2,
    GGUF_TYPE_I16 = 3,
    GGUF_TYPE_U32 = 4,
    GGUF_TYPE_I32 = 5,
    GGUF_TYPE_F32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STR = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_U64 = 10,
    GGUF_TYPE_I64 = 11,
    GGUF_TYPE_F64 = 12
};

/* The ggml tensor types this reader dequantizes (ggml's numbering). Other ggml types are sized
 * and bounds-checked at open, but gguf_tensor_to_f32 refuses them. */
enum {
    GGML_TYPE_F32 = 0,
    GGML_TYPE_F16 = 1,
    GGML_TYPE_Q5_0 = 6,
    GGML_TYPE_Q8_0 = 8,
    GGML_TYPE_Q4_K = 12,
    GGML_TYPE_Q5_K = 13,
    GGML_TYPE_Q6_K = 14,
    GGML_TYPE_BF16 = 30
};

/* A string from the file: s is NUL-terminated; len counts bytes (a string may hold a NUL). */
typedef struct {
    const char *s;
    size_t len;
} GGUFStr;

/* One metadata entry. For a scalar, n is 1 and the value is in the matching union member
 * (u for U8/U16/U32/U64/BOOL, i for I8/I16/I32/I64, f for F32/F64, str for STR). For an array,
 * type is GGUF_TYPE_ARRAY, elem_type says what it holds, n is its length and arr points to n
 * native elements: uint8_t, int8_t, ..., float, double, uint8_t (0/1) for BOOL, GGUFStr for STR. */
typedef struct {
    const char *key;
    int type;
    int elem_type;
    size_t n;
    union {
        uint64_t u;
        int64_t i;
        double f;
        GGUFStr str;
    } v;
    const void *arr;
} GGUFKV;

/* One tensor. ne[i] for i >= n_dims is 1. data points into the mapping (n_bytes bytes, aligned
 * to the file's general.alignment relative to the data section). */
typedef struct {
    const char *name;
    uint32_t n_dims;
    uint64_t ne[4];
    int type;
    uint64_t offset; /* relative to the data section, as stored */
    uint64_t n_elems;
    uint64_t n_rows;  /* ne[1] * ne[2] * ne[3] */
    uint64_t n_bytes;
    const void *data;
} GGUFTensor;

typedef struct GGUF GGUF;

/* Opens and validates path. Bad files (truncated, inconsistent, unknown types, ...) give RP_EINPUT
 * with a message naming the file, the record (key or tensor, by index and name) and the field;
 * a file that cannot be opened gives RP_EINPUT, mmap failure RP_EIO. *g is NULL on failure. */
int gguf_open(const char *path, GGUF **g, Error *e);
/* Unmaps and frees; every pointer obtained from g dies with it. NULL is allowed. */
void gguf_close(GGUF *g);

const char *gguf_path(const GGUF *g);
uint32_t gguf_version(const GGUF *g);
/* general.alignment, or 32 when the file does not set it. */
uint32_t gguf_alignment(const GGUF *g);
/* File offset of the data section (tensor offsets are relative to it). */
uint64_t gguf_data_start(const GGUF *g);

/* Metadata in file order, for listing; gguf_find_kv returns NULL when key is absent. */
size_t gguf_kv_count(const GGUF *g);
const GGUFKV *gguf_kv_at(const GGUF *g, size_t i);
const GGUFKV *gguf_find_kv(const GGUF *g, const char *key);

/* Typed getters. A missing key or a value that does not fit gives RP_EINPUT naming the file and
 * key. Integer getters accept any integer type whose value fits the result (so a u8 serves
 * gguf_get_u32); gguf_get_f32 accepts F32 and F64 (rounded to float); the others want their own
 * type. Strings and arrays stay owned by g. */
int gguf_get_u32(const GGUF *g, const char *key, uint32_t *out, Error *e);
int gguf_get_i32(const GGUF *g, const char *key, int32_t *out, Error *e);
int gguf_get_u64(const GGUF *g, const char *key, uint64_t *out, Error *e);
int gguf_get_f32(const GGUF *g, const char *key, float *out, Error *e);
int gguf_get_bool(const GGUF *g, const char *key, int *out, Error *e);
int gguf_get_str(const GGUF *g, const char *key, const char **out, Error *e);
/* Any array: *elem_type, *n and *data as described for GGUFKV.arr. */
int gguf_get_array(const GGUF *g, const char *key, int *elem_type, size_t *n, const void **data,
                   Error *e);
/* Arrays of one element type (RP_EINPUT when the array holds another type). */
int gguf_get_str_array(const GGUF *g, const char *key, const GGUFStr **out, size_t *n, Error *e);
int gguf_get_f32_array(const GGUF *g, const char *key, const float **out, size_t *n, Error *e);
int gguf_get_i32_array(const GGUF *g, const char *key, const int32_t **out, size_t *n, Error *e);

/* Tensors in file order; gguf_find_tensor returns NULL when name is absent. */
size_t gguf_tensor_count(const GGUF *g);
const GGUFTensor *gguf_tensor_at(const GGUF *g, size_t i);
const GGUFTensor *gguf_find_tensor(const GGUF *g, const char *name);

/* Dequantizes all of t (t->n_elems floats, ne[0] fastest) into out. RP_EINPUT naming the file,
 * tensor and type when the type is not one of GGML_TYPE_*. */
int gguf_tensor_to_f32(const GGUF *g, const GGUFTensor *t, float *out, Error *e);
/* Dequantizes rows [row, row + n_rows) of t (rows of ne[0] elements) into out, e.g. the
 * embedding rows of a batch's tokens without expanding the whole table. */
int gguf_rows_to_f32(const GGUF *g, const GGUFTensor *t, uint64_t row, uint64_t n_rows, float *out,
                     Error *e);

/* Raw ggml data (gguf_quant.c). gguf_type_block fills a ggml type's elements and bytes per block
 * and returns 1, or returns 0 for a type ggml does not define. gguf_dequantize expands n elements
 * (whole blocks) of src to fp32; RP_EINPUT when the type is not one of the GGML_TYPE_* above. */
int gguf_type_block(int type, uint32_t *block_elems, uint32_t *block_bytes);
int gguf_dequantize(int type, const void *src, uint64_t n, float *out, Error *e);

/* Names for printing: "u32", "str", "array", ...; "F32", "Q4_K", ...; "?" when unknown. */
const char *gguf_type_name(int type);
const char *gguf_tensor_type_name(int type);

#endif

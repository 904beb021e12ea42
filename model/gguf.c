/* GGUF reader: mapping a file, validating its header (metadata and tensor infos) against the file
 * size, the metadata getters and tensor lookup. Dequantization lives in gguf_quant.c.
 *
 * Every read goes through a Cursor that checks the bytes are there before touching them, and
 * every size is computed with overflow checks, because the counts and lengths come from the file:
 * a corrupt or hostile header must give an error, never an out-of-bounds read or a huge malloc. */
#include "model/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_DEFAULT_ALIGNMENT 32

typedef struct {
    GGUFKV kv;
    char *chars; /* the bytes of a string array, one block */
} KVEntry;

struct GGUF {
    char *path;
    const uint8_t *map;
    size_t size;
    uint32_t version, alignment;
    uint64_t data_start;
    KVEntry *kv;
    size_t n_kv;
    GGUFTensor *tensors;
    size_t n_tensors;
};

/* Reads the header in order. ctx names the record being read ("metadata key 3 ('general.name')")
 * so every message says where in the file the problem is. */
typedef struct {
    const uint8_t *p;
    uint64_t size, pos;
    const char *path;
    char ctx[320];
} Cursor;

static int past_end(const Cursor *c, const char *what, uint64_t n, Error *e) {
    return error_set(e, RP_EINPUT,
                     "%s: %s: %s (%llu bytes at offset %llu) runs past the end of the file "
                     "(%llu bytes)", c->path, c->ctx, what, (unsigned long long)n,
                     (unsigned long long)c->pos, (unsigned long long)c->size);
}

static int need(const Cursor *c, uint64_t n, const char *what, Error *e) {
    return n <= c->size - c->pos ? RP_OK : past_end(c, what, n, e);
}

static int rd_u32(Cursor *c, const char *what, uint32_t *v, Error *e) {
    if (need(c, 4, what, e)) return RP_EINPUT;
    memcpy(v, c->p + c->pos, 4);
    c->pos += 4;
    return RP_OK;
}

static int rd_u64(Cursor *c, const char *what, uint64_t *v, Error *e) {
    if (need(c, 8, what, e)) return RP_EINPUT;
    memcpy(v, c->p + c->pos, 8);
    c->pos += 8;
    return RP_OK;
}

/* A length-prefixed string; *s points into the mapping. */
static int rd_str(Cursor *c, const char *what, const uint8_t **s, uint64_t *len, Error *e) {
    char lw[96];
    snprintf(lw, sizeof lw, "%s length", what);
    if (rd_u64(c, lw, len, e) || need(c, *len, what, e)) return RP_EINPUT;
    *s = c->p + c->pos;
    c->pos += *len;
    return RP_OK;
}

/* Sets c->ctx to "<kind> <i> ('<name>')", the name shortened and its control bytes shown as '?'
 * so a garbage name cannot garble the message. */
static void ctx_named(Cursor *c, const char *kind, uint64_t i, const uint8_t *s, uint64_t len) {
    char name[129];
    size_t n = len < 128 ? (size_t)len : 128;
    for (size_t k = 0; k < n; k++) name[k] = (s[k] < 0x20 || s[k] == 0x7f) ? '?' : (char)s[k];
    name[n] = '\0';
    snprintf(c->ctx, sizeof c->ctx, "%s %llu ('%s%s')", kind, (unsigned long long)i, name,
             len > 128 ? "..." : "");
}

/* A NUL-terminated copy of a name; names with a NUL inside could not be looked up by C string. */
static int copy_name(const Cursor *c, const uint8_t *s, uint64_t len, char **out, Error *e) {
    if (memchr(s, 0, len))
        return error_set(e, RP_EINPUT, "%s: %s: the name contains a NUL byte", c->path, c->ctx);
    *out = xmalloc(len + 1, e);
    if (!*out) return RP_ENOMEM;
    memcpy(*out, s, len);
    (*out)[len] = '\0';
    return RP_OK;
}

static const uint8_t scalar_size[] = {
    [GGUF_TYPE_U8] = 1,  [GGUF_TYPE_I8] = 1,  [GGUF_TYPE_U16] = 2, [GGUF_TYPE_I16] = 2,
    [GGUF_TYPE_U32] = 4, [GGUF_TYPE_I32] = 4, [GGUF_TYPE_F32] = 4, [GGUF_TYPE_BOOL] = 1,
    [GGUF_TYPE_STR] = 0, [GGUF_TYPE_ARRAY] = 0, [GGUF_TYPE_U64] = 8, [GGUF_TYPE_I64] = 8,
    [GGUF_TYPE_F64] = 8,
};

const char *gguf_type_name(int type) {
    static const char *const names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                        "bool", "str", "array", "u64", "i64", "f64"};
    return type >= 0 && type <= GGUF_TYPE_F64 ? names[type] : "?";
}

/* Decodes one scalar of `type` (not STR/ARRAY) at p into kv's union. */
static void scalar_decode(int type, const uint8_t *p, GGUFKV *kv) {
    uint8_t u8; int8_t i8; uint16_t u16; int16_t i16; uint32_t u32; int32_t i32; float f32;
    switch (type) {
    case GGUF_TYPE_U8: case GGUF_TYPE_BOOL: memcpy(&u8, p, 1); kv->v.u = u8; break;
    case GGUF_TYPE_I8: memcpy(&i8, p, 1); kv->v.i = i8; break;
    case GGUF_TYPE_U16: memcpy(&u16, p, 2); kv->v.u = u16; break;
    case GGUF_TYPE_I16: memcpy(&i16, p, 2); kv->v.i = i16; break;
    case GGUF_TYPE_U32: memcpy(&u32, p, 4); kv->v.u = u32; break;
    case GGUF_TYPE_I32: memcpy(&i32, p, 4); kv->v.i = i32; break;
    case GGUF_TYPE_F32: memcpy(&f32, p, 4); kv->v.f = f32; break;
    case GGUF_TYPE_U64: memcpy(&kv->v.u, p, 8); break;
    case GGUF_TYPE_I64: memcpy(&kv->v.i, p, 8); break;
    case GGUF_TYPE_F64: memcpy(&kv->v.f, p, 8); break;
    }
}

/* An array length that cannot fit: reported without computing n * size, which may overflow. */
static int array_past_end(const Cursor *c, uint64_t n, const char *type, uint64_t min_size,
                          Error *e) {
    return error_set(e, RP_EINPUT, "%s: %s: array of %llu %s (at least %llu bytes each) runs past "
                     "the end of the file (%llu bytes left at offset %llu)", c->path, c->ctx,
                     (unsigned long long)n, type, (unsigned long long)min_size,
                     (unsigned long long)(c->size - c->pos), (unsigned long long)c->pos);
}

/* An array of n strings: lengths are checked in a first pass, so the copies are allocated once. */
static int read_str_array(Cursor *c, uint64_t n, KVEntry *ent, Error *e) {
    if (n > (c->size - c->pos) / 8) return array_past_end(c, n, "str", 8, e);
    uint64_t start = c->pos, total = 0;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t len;
        char what[64];
        snprintf(what, sizeof what, "array string %llu", (unsigned long long)k);
        if (rd_u64(c, what, &len, e) || need(c, len, what, e)) return RP_EINPUT;
        c->pos += len;
        total += len + 1; /* cannot wrap: each len is below the file size */
    }
    GGUFStr *strs = xcalloc(n, sizeof *strs, e);
    char *chars = xmalloc(total, e);
    if (!strs || !chars) {
        free(strs);
        free(chars);
        return RP_ENOMEM;
    }
    c->pos = start;
    char *dst = chars;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t len;
        memcpy(&len, c->p + c->pos, 8);
        memcpy(dst, c->p + c->pos + 8, len);
        dst[len] = '\0';
        strs[k].s = dst;
        strs[k].len = len;
        dst += len + 1;
        c->pos += 8 + len;
    }
    ent->kv.arr = strs;
    ent->chars = chars;
    return RP_OK;
}

static int read_value(Cursor *c, KVEntry *ent, Error *e) {
    GGUFKV *kv = &ent->kv;
    uint32_t type;
    if (rd_u32(c, "value type", &type, e)) return RP_EINPUT;
    if (type > GGUF_TYPE_F64)
        return error_set(e, RP_EINPUT, "%s: %s: value type %u is not a GGUF type", c->path, c->ctx,
                         type);
    kv->type = (int)type;
    kv->n = 1;
    if (type == GGUF_TYPE_STR) {
        const uint8_t *s;
        uint64_t len;
        if (rd_str(c, "string value", &s, &len, e)) return RP_EINPUT;
        char *copy = xmalloc(len + 1, e);
        if (!copy) return RP_ENOMEM;
        memcpy(copy, s, len);
        copy[len] = '\0';
        kv->v.str.s = copy;
        kv->v.str.len = len;
        return RP_OK;
    }
    if (type != GGUF_TYPE_ARRAY) {
        if (need(c, scalar_size[type], "value", e)) return RP_EINPUT;
        scalar_decode((int)type, c->p + c->pos, kv);
        c->pos += scalar_size[type];
        return RP_OK;
    }
    uint32_t et;
    uint64_t n;
    if (rd_u32(c, "array element type", &et, e)) return RP_EINPUT;
    if (et > GGUF_TYPE_F64)
        return error_set(e, RP_EINPUT, "%s: %s: array element type %u is not a GGUF type", c->path,
                         c->ctx, et);
    if (et == GGUF_TYPE_ARRAY)
        return error_set(e, RP_EINPUT, "%s: %s: arrays of arrays are not supported", c->path,
                         c->ctx);
    if (rd_u64(c, "array length", &n, e)) return RP_EINPUT;
    kv->elem_type = (int)et;
    kv->n = (size_t)n;
    if (et == GGUF_TYPE_STR) return read_str_array(c, n, ent, e);
    uint64_t es = scalar_size[et];
    if (n > (c->size - c->pos) / es) return array_past_end(c, n, gguf_type_name((int)et), es, e);
    /* The numeric types' little-endian layout is this host's, so the copy is the decoded array. */
    void *arr = xmalloc(n * es, e);
    if (!arr) return RP_ENOMEM;
    memcpy(arr, c->p + c->pos, n * es);
    c->pos += n * es;
    kv->arr = arr;
    return RP_OK;
}

static int cmp_kv_key(const void *a, const void *b) {
    return strcmp((*(const KVEntry *const *)a)->kv.key, (*(const KVEntry *const *)b)->kv.key);
}

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp((*(const GGUFTensor *const *)a)->name, (*(const GGUFTensor *const *)b)->name);
}

static int cmp_tensor_offset(const void *a, const void *b) {
    uint64_t x = (*(const GGUFTensor *const *)a)->offset, y = (*(const GGUFTensor *const *)b)->offset;
    return x < y ? -1 : x > y;
}

static int read_kvs(GGUF *g, Cursor *c, uint64_t n_kv, Error *e) {
    g->kv = xcalloc(n_kv, sizeof *g->kv, e);
    if (!g->kv) return RP_ENOMEM;
    for (uint64_t i = 0; i < n_kv; i++) {
        KVEntry *ent = &g->kv[i];
        const uint8_t *key;
        uint64_t len;
        snprintf(c->ctx, sizeof c->ctx, "metadata key %llu", (unsigned long long)i);
        if (rd_str(c, "key", &key, &len, e)) return RP_EINPUT;
        ctx_named(c, "metadata key", i, key, len);
        char *name = NULL;
        int rc = copy_name(c, key, len, &name, e);
        if (rc) return rc;
        ent->kv.key = name;
        g->n_kv = (size_t)i + 1; /* from here gguf_close frees this entry */
        if ((rc = read_value(c, ent, e))) return rc;
    }
    const KVEntry **idx = xcalloc(n_kv, sizeof *idx, e);
    if (!idx) return RP_ENOMEM;
    for (size_t i = 0; i < n_kv; i++) idx[i] = &g->kv[i];
    qsort(idx, n_kv, sizeof *idx, cmp_kv_key);
    for (size_t i = 1; i < n_kv; i++)
        if (!strcmp(idx[i - 1]->kv.key, idx[i]->kv.key)) {
            error_set(e, RP_EINPUT, "%s: metadata key '%s' appears twice (keys %zu and %zu)",
                      g->path, idx[i]->kv.key, (size_t)(idx[i - 1] - g->kv), (size_t)(idx[i] - g->kv));
            free(idx);
            return RP_EINPUT;
        }
    free(idx);
    const GGUFKV *al = gguf_find_kv(g, "general.alignment");
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    if (al) {
        if (al->type != GGUF_TYPE_U32)
            return error_set(e, RP_EINPUT, "%s: metadata key 'general.alignment' is %s, not u32",
                             g->path, gguf_type_name(al->type));
        if (al->v.u == 0 || (al->v.u & (al->v.u - 1)))
            return error_set(e, RP_EINPUT, "%s: metadata key 'general.alignment': %llu is not a "
                             "power of two", g->path, (unsigned long long)al->v.u);
        g->alignment = (uint32_t)al->v.u;
    }
    return RP_OK;
}

/* One tensor info: name, shape, type and offset, with the shape's element and byte counts. */
static int read_tensor_info(GGUF *g, Cursor *c, uint64_t i, GGUFTensor *t, Error *e) {
    const uint8_t *s;
    uint64_t len;
    snprintf(c->ctx, sizeof c->ctx, "tensor %llu", (unsigned long long)i);
    if (rd_str(c, "name", &s, &len, e)) return RP_EINPUT;
    ctx_named(c, "tensor", i, s, len);
    char *name = NULL;
    int rc = copy_name(c, s, len, &name, e);
    if (rc) return rc;
    t->name = name;
    g->n_tensors = (size_t)i + 1; /* from here gguf_close frees this name */
    if (rd_u32(c, "n_dims", &t->n_dims, e)) return RP_EINPUT;
    if (t->n_dims > 4)
        return error_set(e, RP_EINPUT, "%s: %s: n_dims %u is more than 4", c->path, c->ctx, t->n_dims);
    uint64_t rows = 1;
    for (int d = 0; d < 4; d++) {
        t->ne[d] = 1;
        if ((uint32_t)d >= t->n_dims) continue;
        char what[16];
        snprintf(what, sizeof what, "ne[%d]", d);
        if (rd_u64(c, what, &t->ne[d], e)) return RP_EINPUT;
        /* ggml holds dimensions and counts as int64. */
        if (t->ne[d] > INT64_MAX)
            return error_set(e, RP_EINPUT, "%s: %s: ne[%d] = %llu is out of range", c->path, c->ctx,
                             d, (unsigned long long)t->ne[d]);
        if (d > 0) {
            if (t->ne[d] && rows > INT64_MAX / t->ne[d])
                return error_set(e, RP_EINPUT, "%s: %s: the shape has more than 2^63 rows",
                                 c->path, c->ctx);
            rows *= t->ne[d];
        }
    }
    if (rows && t->ne[0] > INT64_MAX / rows)
        return error_set(e, RP_EINPUT, "%s: %s: the shape has more than 2^63 elements", c->path,
                         c->ctx);
    t->n_rows = rows;
    t->n_elems = rows * t->ne[0];
    uint32_t type, be, bb;
    if (rd_u32(c, "type", &type, e)) return RP_EINPUT;
    if (!gguf_type_block((int)type, &be, &bb))
        return error_set(e, RP_EINPUT, "%s: %s: type %u is not supported (not a ggml type)",
                         c->path, c->ctx, type);
    t->type = (int)type;
    if (t->ne[0] % be)
        return error_set(e, RP_EINPUT, "%s: %s: ne[0] = %llu is not a multiple of the %s block "
                         "size %u", c->path, c->ctx, (unsigned long long)t->ne[0],
                         gguf_tensor_type_name(t->type), be);
    if (t->ne[0] / be > UINT64_MAX / bb ||
        (rows && t->ne[0] / be * bb > UINT64_MAX / rows))
        return error_set(e, RP_EINPUT, "%s: %s: the tensor's byte size overflows", c->path, c->ctx);
    t->n_bytes = t->ne[0] / be * bb * rows;
    if (rd_u64(c, "offset", &t->offset, e)) return RP_EINPUT;
    if (t->offset % g->alignment)
        return error_set(e, RP_EINPUT, "%s: %s: offset %llu is not a multiple of the alignment %u",
                         c->path, c->ctx, (unsigned long long)t->offset, g->alignment);
    return RP_OK;
}

/* Places every tensor in the data section: inside the file and not overlapping another. */
static int place_tensors(GGUF *g, Error *e) {
    uint64_t avail = g->size - g->data_start;
    for (size_t i = 0; i < g->n_tensors; i++) {
        GGUFTensor *t = &g->tensors[i];
        if (t->offset > avail || t->n_bytes > avail - t->offset)
            return error_set(e, RP_EINPUT, "%s: tensor %zu ('%s'): data (%llu bytes at offset %llu "
                             "of the data section) runs past the end of the file (the data section "
                             "holds %llu bytes)", g->path, i, t->name, (unsigned long long)t->n_bytes,
                             (unsigned long long)t->offset, (unsigned long long)avail);
        t->data = g->map + g->data_start + t->offset;
    }
    const GGUFTensor **idx = xcalloc(g->n_tensors, sizeof *idx, e);
    if (!idx) return RP_ENOMEM;
    for (size_t i = 0; i < g->n_tensors; i++) idx[i] = &g->tensors[i];
    int rc = RP_OK;
    qsort(idx, g->n_tensors, sizeof *idx, cmp_tensor_name);
    for (size_t i = 1; i < g->n_tensors && !rc; i++)
        if (!strcmp(idx[i - 1]->name, idx[i]->name))
            rc = error_set(e, RP_EINPUT, "%s: tensor '%s' appears twice (tensors %zu and %zu)",
                           g->path, idx[i]->name, (size_t)(idx[i - 1] - g->tensors),
                           (size_t)(idx[i] - g->tensors));
    qsort(idx, g->n_tensors, sizeof *idx, cmp_tensor_offset);
    for (size_t i = 1; i < g->n_tensors && !rc; i++) {
        const GGUFTensor *a = idx[i - 1], *b = idx[i];
        if (a->offset + a->n_bytes > b->offset)
            rc = error_set(e, RP_EINPUT, "%s: tensor %zu ('%s') and tensor %zu ('%s') overlap: "
                           "bytes %llu..%llu and %llu..%llu of the data section", g->path,
                           (size_t)(a - g->tensors), a->name, (size_t)(b - g->tensors), b->name,
                           (unsigned long long)a->offset, (unsigned long long)(a->offset + a->n_bytes),
                           (unsigned long long)b->offset, (unsigned long long)(b->offset + b->n_bytes));
    }
    free(idx);
    return rc;
}

static int parse(GGUF *g, Error *e) {
    Cursor c = {.p = g->map, .size = g->size, .pos = 0, .path = g->path};
    snprintf(c.ctx, sizeof c.ctx, "header");
    uint32_t magic, version;
    uint64_t n_tensors, n_kv;
    if (rd_u32(&c, "magic", &magic, e)) return RP_EINPUT;
    if (memcmp(g->map, "GGUF", 4))
        return error_set(e, RP_EINPUT, "%s: not a GGUF file (the magic is not 'GGUF')", g->path);
    if (rd_u32(&c, "version", &version, e)) return RP_EINPUT;
    if (version >= 0x10000 && (version & 0xffff) == 0)
        return error_set(e, RP_EINPUT, "%s: header: a big-endian GGUF file (version field %#x); "
                         "only little-endian files are supported", g->path, version);
    if (version != 2 && version != 3)
        return error_set(e, RP_EINPUT, "%s: header: version %u is not supported (2 and 3 are)",
                         g->path, version);
    g->version = version;
    if (rd_u64(&c, "tensor_count", &n_tensors, e) || rd_u64(&c, "kv_count", &n_kv, e))
        return RP_EINPUT;
    /* The smallest metadata entry is 13 bytes (empty key, type, one byte), the smallest tensor
     * info 24 (empty name, n_dims 0, type, offset): counts beyond that cannot be in the file. */
    uint64_t rest = c.size - c.pos;
    if (n_kv > rest / 13 || n_tensors > rest / 24 || n_kv * 13 > rest - n_tensors * 24)
        return error_set(e, RP_EINPUT, "%s: header: tensor_count %llu and kv_count %llu need more "
                         "than the %llu bytes left in the file", g->path,
                         (unsigned long long)n_tensors, (unsigned long long)n_kv,
                         (unsigned long long)rest);
    int rc = read_kvs(g, &c, n_kv, e);
    if (rc) return rc;
    g->tensors = xcalloc(n_tensors, sizeof *g->tensors, e);
    if (!g->tensors) return RP_ENOMEM;
    for (uint64_t i = 0; i < n_tensors; i++)
        if ((rc = read_tensor_info(g, &c, i, &g->tensors[i], e))) return rc;
    uint64_t pad = (g->alignment - c.pos % g->alignment) % g->alignment;
    g->data_start = c.pos + pad;
    if (n_tensors && g->data_start > g->size)
        return error_set(e, RP_EINPUT, "%s: the data section would start at offset %llu (the "
                         "header ends at %llu, aligned to %u), past the end of the file (%llu bytes)",
                         g->path, (unsigned long long)g->data_start, (unsigned long long)c.pos,
                         g->alignment, (unsigned long long)g->size);
    if (g->data_start > g->size) g->data_start = g->size;
    return place_tensors(g, e);
}

int gguf_open(const char *path, GGUF **out, Error *e) {
    *out = NULL;
    GGUF *g = xcalloc(1, sizeof *g, e);
    if (!g) return RP_ENOMEM;
    if (!(g->path = xstrdup(path, e))) {
        free(g);
        return RP_ENOMEM;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error_set(e, RP_EINPUT, "%s: cannot open: %s", path, strerror(errno));
        gguf_close(g);
        return RP_EINPUT;
    }
    struct stat st;
    int rc = RP_OK;
    if (fstat(fd, &st) != 0) rc = error_set(e, RP_EIO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode)) rc = error_set(e, RP_EINPUT, "%s: not a regular file", path);
    else if (st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) rc = error_set(e, RP_EIO, "%s: cannot map: %s", path, strerror(errno));
        else {
            g->map = m;
            g->size = (size_t)st.st_size;
        }
    }
    close(fd);
    if (!rc) rc = parse(g, e);
    if (rc) {
        gguf_close(g);
        return rc;
    }
    *out = g;
    return RP_OK;
}

void gguf_close(GGUF *g) {
    if (!g) return;
    for (size_t i = 0; i < g->n_kv; i++) {
        KVEntry *ent = &g->kv[i];
        free((char *)ent->kv.key);
        if (ent->kv.type == GGUF_TYPE_STR) free((char *)ent->kv.v.str.s);
        free((void *)ent->kv.arr);
        free(ent->chars);
    }
    free(g->kv);
    for (size_t i = 0; i < g->n_tensors; i++) free((char *)g->tensors[i].name);
    free(g->tensors);
    if (g->map) munmap((void *)g->map, g->size);
    free(g->path);
    free(g);
}

const char *gguf_path(const GGUF *g) { return g->path; }
uint32_t gguf_version(const GGUF *g) { return g->version; }
uint32_t gguf_alignment(const GGUF *g) { return g->alignment; }
uint64_t gguf_data_start(const GGUF *g) { return g->data_start; }
size_t gguf_kv_count(const GGUF *g) { return g->n_kv; }
const GGUFKV *gguf_kv_at(const GGUF *g, size_t i) { return i < g->n_kv ? &g->kv[i].kv : NULL; }
size_t gguf_tensor_count(const GGUF *g) { return g->n_tensors; }

const GGUFTensor *gguf_tensor_at(const GGUF *g, size_t i) {
    return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const GGUFKV *gguf_find_kv(const GGUF *g, const char *key) {
    for (size_t i = 0; i < g->n_kv; i++)
        if (!strcmp(g->kv[i].kv.key, key)) return &g->kv[i].kv;
    return NULL;
}

const GGUFTensor *gguf_find_tensor(const GGUF *g, const char *name) {
    for (size_t i = 0; i < g->n_tensors; i++)
        if (!strcmp(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}

/* key's entry, which must have type `type` (or be any integer when type is -1). */
static int get_kv(const GGUF *g, const char *key, int type, const GGUFKV **kv, Error *e) {
    *kv = gguf_find_kv(g, key);
    if (!*kv) return error_set(e, RP_EINPUT, "%s: metadata key '%s' is missing", g->path, key);
    int t = (*kv)->type;
    int is_int = t <= GGUF_TYPE_I32 || t == GGUF_TYPE_U64 || t == GGUF_TYPE_I64;
    if (type == -1 ? !is_int : t != type)
        return error_set(e, RP_EINPUT, "%s: metadata key '%s' is %s, not %s", g->path, key,
                         gguf_type_name(t), type == -1 ? "an integer" : gguf_type_name(type));
    return RP_OK;
}

/* An integer value checked against [lo, hi] (both within int64/uint64 as the sign says). */
static int get_int(const GGUF *g, const char *key, int64_t lo, uint64_t hi, const char *want,
                   uint64_t *out, Error *e) {
    const GGUFKV *kv;
    if (get_kv(g, key, -1, &kv, e)) return RP_EINPUT;
    int t = kv->type;
    int is_signed = t == GGUF_TYPE_I8 || t == GGUF_TYPE_I16 || t == GGUF_TYPE_I32 || t == GGUF_TYPE_I64;
    int ok = is_signed ? kv->v.i >= lo && (kv->v.i < 0 || (uint64_t)kv->v.i <= hi) : kv->v.u <= hi;
    if (!ok) {
        if (is_signed)
            return error_set(e, RP_EINPUT, "%s: metadata key '%s': %lld does not fit %s", g->path,
                             key, (long long)kv->v.i, want);
        return error_set(e, RP_EINPUT, "%s: metadata key '%s': %llu does not fit %s", g->path, key,
                         (unsigned long long)kv->v.u, want);
    }
    *out = is_signed ? (uint64_t)kv->v.i : kv->v.u;
    return RP_OK;
}

int gguf_get_u32(const GGUF *g, const char *key, uint32_t *out, Error *e) {
    uint64_t v = 0;
    if (get_int(g, key, 0, UINT32_MAX, "u32", &v, e)) return RP_EINPUT;
    *out = (uint32_t)v;
    return RP_OK;
}

int gguf_get_i32(const GGUF *g, const char *key, int32_t *out, Error *e) {
    uint64_t v = 0;
    if (get_int(g, key, INT32_MIN, INT32_MAX, "i32", &v, e)) return RP_EINPUT;
    *out = (int32_t)(int64_t)v;
    return RP_OK;
}

int gguf_get_u64(const GGUF *g, const char *key, uint64_t *out, Error *e) {
    return get_int(g, key, 0, UINT64_MAX, "u64", out, e);
}

int gguf_get_f32(const GGUF *g, const char *key, float *out, Error *e) {
    const GGUFKV *kv = gguf_find_kv(g, key);
    if (kv && kv->type == GGUF_TYPE_F64) {
        *out = (float)kv->v.f;
        return RP_OK;
    }
    if (get_kv(g, key, GGUF_TYPE_F32, &kv, e)) return RP_EINPUT;
    *out = (float)kv->v.f;
    return RP_OK;
}

int gguf_get_bool(const GGUF *g, const char *key, int *out, Error *e) {
    const GGUFKV *kv;
    if (get_kv(g, key, GGUF_TYPE_BOOL, &kv, e)) return RP_EINPUT;
    *out = kv->v.u != 0;
    return RP_OK;
}

int gguf_get_str(const GGUF *g, const char *key, const char **out, Error *e) {
    const GGUFKV *kv;
    if (get_kv(g, key, GGUF_TYPE_STR, &kv, e)) return RP_EINPUT;
    *out = kv->v.str.s;
    return RP_OK;
}

int gguf_get_array(const GGUF *g, const char *key, int *elem_type, size_t *n, const void **data,
                   Error *e) {
    const GGUFKV *kv;
    if (get_kv(g, key, GGUF_TYPE_ARRAY, &kv, e)) return RP_EINPUT;
    *elem_type = kv->elem_type;
    *n = kv->n;
    *data = kv->arr;
    return RP_OK;
}

/* An array whose elements must be of type et. */
static int get_typed_array(const GGUF *g, const char *key, int et, const void **out, size_t *n,
                           Error *e) {
    int have;
    if (gguf_get_array(g, key, &have, n, out, e)) return RP_EINPUT;
    if (have != et)
        return error_set(e, RP_EINPUT, "%s: metadata key '%s' is an array of %s, not of %s",
                         g->path, key, gguf_type_name(have), gguf_type_name(et));
    return RP_OK;
}

int gguf_get_str_array(const GGUF *g, const char *key, const GGUFStr **out, size_t *n, Error *e) {
    return get_typed_array(g, key, GGUF_TYPE_STR, (const void **)out, n, e);
}

int gguf_get_f32_array(const GGUF *g, const char *key, const float **out, size_t *n, Error *e) {
    return get_typed_array(g, key, GGUF_TYPE_F32, (const void **)out, n, e);
}

int gguf_get_i32_array(const GGUF *g, const char *key, const int32_t **out, size_t *n, Error *e) {
    return get_typed_array(g, key, GGUF_TYPE_I32, (const void **)out, n, e);
}

int gguf_rows_to_f32(const GGUF *g, const GGUFTensor *t, uint64_t row, uint64_t n_rows, float *out,
                     Error *e) {
    size_t idx = (size_t)(t - g->tensors);
    if (row > t->n_rows || n_rows > t->n_rows - row)
        return error_set(e, RP_EINPUT, "%s: tensor %zu ('%s'): rows %llu..%llu are past its %llu "
                         "rows", g->path, idx, t->name, (unsigned long long)row,
                         (unsigned long long)(row + n_rows), (unsigned long long)t->n_rows);
    uint32_t be, bb;
    gguf_type_block(t->type, &be, &bb); /* the type was checked at open */
    const uint8_t *src = (const uint8_t *)t->data + row * (t->ne[0] / be * bb);
    if (gguf_dequantize(t->type, src, n_rows * t->ne[0], out, e))
        return error_wrap(e, "%s: tensor %zu ('%s')", g->path, idx, t->name);
    return RP_OK;
}

int gguf_tensor_to_f32(const GGUF *g, const GGUFTensor *t, float *out, Error *e) {
    return gguf_rows_to_f32(g, t, 0, t->n_rows, out, e);
}

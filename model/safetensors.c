/* safetensors reader: mapping one file, validating its JSON header against the file size, tensor
 * lookup and conversion to fp32. Directories and index files live in safetensors_dir.c, the writer
 * in safetensors_write.c.
 *
 * Every number in the header comes from the file, so each is checked before use and every size
 * is computed with overflow checks: a corrupt or hostile header gives an error, never a read
 * outside the mapping or a huge allocation. */
#include "model/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/fileio.h"
#include "core/text.h"
#include "model/gguf.h"

/* The reference implementation's limit: a header this large is an attack, not a model. */
#define ST_MAX_HEADER 100000000ull
/* cJSON keeps numbers as doubles, exact for integers below 2^53; larger offsets or dimensions
 * could not be told apart from their neighbours (and no input file is that large). */
#define ST_MAX_JSON_INT 9007199254740992.0

static const struct {
    const char *name;
    unsigned bits;
} DTYPES[ST_N_DTYPES] = {
    [ST_BOOL] = {"BOOL", 8},        [ST_F4] = {"F4", 4},
    [ST_F6_E2M3] = {"F6_E2M3", 6},  [ST_F6_E3M2] = {"F6_E3M2", 6},
    [ST_U8] = {"U8", 8},            [ST_I8] = {"I8", 8},
    [ST_F8_E5M2] = {"F8_E5M2", 8},  [ST_F8_E4M3] = {"F8_E4M3", 8},
    [ST_F8_E8M0] = {"F8_E8M0", 8},  [ST_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 8},
    [ST_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 8},
    [ST_I16] = {"I16", 16},         [ST_U16] = {"U16", 16},
    [ST_F16] = {"F16", 16},         [ST_BF16] = {"BF16", 16},
    [ST_I32] = {"I32", 32},         [ST_U32] = {"U32", 32},
    [ST_F32] = {"F32", 32},         [ST_C64] = {"C64", 64},
    [ST_F64] = {"F64", 64},         [ST_I64] = {"I64", 64},
    [ST_U64] = {"U64", 64},
};

const char *st_dtype_name(int dtype) {
    return dtype >= 0 && dtype < ST_N_DTYPES ? DTYPES[dtype].name : "?";
}

unsigned st_dtype_bits(int dtype) { return dtype >= 0 && dtype < ST_N_DTYPES ? DTYPES[dtype].bits : 0; }

struct STFile {
    char *path;
    const uint8_t *map;
    size_t size;
    uint64_t data_start;
    cJSON *root; /* names and metadata strings point into it */
    STTensor *tensors;
    size_t n_tensors;
    const cJSON **meta; /* the __metadata__ entries */
    size_t n_meta;
    StrMap by_name; /* name -> index */
};

const char *st_shown(const char *s, char out[128]) {
    size_t n = 0;
    for (; s[n] && n < 120; n++) out[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? '?' : s[n];
    strcpy(out + n, s[n] ? "..." : "");
    return out;
}

/* A JSON number that is a whole number in [0, 2^53). */
static int json_count(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0 && d < ST_MAX_JSON_INT) || d != floor(d)) return 0;
    *out = (uint64_t)d;
    return 1;
}

/* One field of a tensor entry, which must occur exactly once among the entry's keys. */
static int entry_field(const STFile *f, const cJSON *ent, const char *tname, const char *field,
                       const cJSON **out, Error *e) {
    char nb[128];
    int seen = 0;
    for (const cJSON *c = ent->child; c; c = c->next)
        if (c->string && !strcmp(c->string, field)) {
            *out = c;
            seen++;
        }
    if (seen == 1) return RP_OK;
    return error_set(e, RP_EINPUT, "%s: tensor '%s': field '%s' is %s", f->path, st_shown(tname, nb),
                     field, seen ? "given more than once" : "missing");
}

/* Parses one tensor entry into t (bounds against the data section are checked later). */
static int parse_tensor(STFile *f, const cJSON *ent, STTensor *t, Error *e) {
    char nb[128];
    const char *nm = st_shown(t->name, nb);
    if (!cJSON_IsObject(ent))
        return error_set(e, RP_EINPUT, "%s: tensor '%s': the entry is not a JSON object", f->path, nm);
    const cJSON *dt = NULL, *shape = NULL, *offs = NULL;
    if (entry_field(f, ent, t->name, "dtype", &dt, e) || entry_field(f, ent, t->name, "shape", &shape, e) ||
        entry_field(f, ent, t->name, "data_offsets", &offs, e))
        return RP_EINPUT;
    if (!cJSON_IsString(dt))
        return error_set(e, RP_EINPUT, "%s: tensor '%s': dtype is not a string", f->path, nm);
    int d = 0;
    while (d < ST_N_DTYPES && strcmp(dt->valuestring, DTYPES[d].name)) d++;
    if (d == ST_N_DTYPES) {
        char db[128];
        return error_set(e, RP_EINPUT, "%s: tensor '%s': dtype '%s' is not a safetensors dtype",
                         f->path, nm, st_shown(dt->valuestring, db));
    }
    t->dtype = (STDtype)d;
    if (!cJSON_IsArray(shape))
        return error_set(e, RP_EINPUT, "%s: tensor '%s': shape is not a JSON array", f->path, nm);
    t->n_dims = (size_t)cJSON_GetArraySize(shape);
    uint64_t *dims = t->n_dims ? xcalloc(t->n_dims, sizeof *dims, e) : NULL;
    if (t->n_dims && !dims) return RP_ENOMEM;
    t->shape = dims;
    uint64_t n = 1;
    size_t k = 0;
    for (const cJSON *c = shape->child; c; c = c->next, k++) {
        if (!json_count(c, &dims[k]))
            return error_set(e, RP_EINPUT, "%s: tensor '%s': shape[%zu] is not a whole number in "
                             "0..2^53", f->path, nm, k);
        if (dims[k] && n > UINT64_MAX / dims[k])
            return error_set(e, RP_EINPUT, "%s: tensor '%s': the shape's element count overflows "
                             "64 bits", f->path, nm);
        n *= dims[k];
    }
    t->n_elems = n;
    unsigned bits = DTYPES[d].bits;
    if (n > UINT64_MAX / bits)
        return error_set(e, RP_EINPUT, "%s: tensor '%s': the shape's byte size overflows 64 bits",
                         f->path, nm);
    if (n * bits % 8)
        return error_set(e, RP_EINPUT, "%s: tensor '%s': %llu elements of %s are not a whole number "
                         "of bytes", f->path, nm, (unsigned long long)n, DTYPES[d].name);
    t->n_bytes = n * bits / 8;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !json_count(offs->child, &t->begin) ||
        !json_count(offs->child->next, &t->end))
        return error_set(e, RP_EINPUT, "%s: tensor '%s': data_offsets is not [BEGIN, END] of whole "
                         "numbers in 0..2^53", f->path, nm);
    if (t->end < t->begin)
        return error_set(e, RP_EINPUT, "%s: tensor '%s': data_offsets [%llu, %llu] end before they "
                         "begin", f->path, nm, (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end - t->begin != t->n_bytes) {
        StrBuf sb;
        strbuf_init(&sb);
        for (size_t i = 0; i < t->n_dims; i++) strbuf_printf(&sb, NULL, "%s%llu", i ? ", " : "", (unsigned long long)dims[i]);
        int rc = error_set(e, RP_EINPUT, "%s: tensor '%s': data_offsets [%llu, %llu] hold %llu bytes, "
                           "but dtype %s and shape [%s] need %llu", f->path, nm,
                           (unsigned long long)t->begin, (unsigned long long)t->end,
                           (unsigned long long)(t->end - t->begin), DTYPES[d].name, sb.s ? sb.s : "",
                           (unsigned long long)t->n_bytes);
        strbuf_free(&sb);
        return rc;
    }
    return RP_OK;
}

static int parse_metadata(STFile *f, const cJSON *m, Error *e) {
    if (f->meta)
        return error_set(e, RP_EINPUT, "%s: __metadata__ is given more than once", f->path);
    if (!cJSON_IsObject(m))
        return error_set(e, RP_EINPUT, "%s: __metadata__ is not a JSON object", f->path);
    size_t n = (size_t)cJSON_GetArraySize(m);
    f->meta = xcalloc(n ? n : 1, sizeof *f->meta, e);
    if (!f->meta) return RP_ENOMEM;
    for (const cJSON *c = m->child; c; c = c->next) {
        char kb[128];
        if (!cJSON_IsString(c))
            return error_set(e, RP_EINPUT, "%s: __metadata__: the value of '%s' is not a string",
                             f->path, st_shown(c->string, kb));
        for (size_t i = 0; i < f->n_meta; i++)
            if (!strcmp(f->meta[i]->string, c->string))
                return error_set(e, RP_EINPUT, "%s: __metadata__: key '%s' is given more than once",
                                 f->path, st_shown(c->string, kb));
        f->meta[f->n_meta++] = c;
    }
    return RP_OK;
}

static int cmp_offsets(const void *a, const void *b) {
    const STTensor *x = *(const STTensor *const *)a, *y = *(const STTensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* The tensors must tile the data section: sorted by offset, each begins where the previous one
 * ends, and the last ends at the end of the file (the reference implementation's rule, which
 * rules out overlaps and bytes no tensor owns). */
static int place_tensors(STFile *f, Error *e) {
    uint64_t avail = f->size - f->data_start;
    char nb[128], pb[128];
    for (size_t i = 0; i < f->n_tensors; i++) {
        STTensor *t = &f->tensors[i];
        if (t->end > avail)
            return error_set(e, RP_EINPUT, "%s: tensor '%s': data_offsets [%llu, %llu] run past the end "
                             "of the data section (%llu bytes)", f->path, st_shown(t->name, nb),
                             (unsigned long long)t->begin, (unsigned long long)t->end,
                             (unsigned long long)avail);
        t->data = f->map + f->data_start + t->begin;
    }
    const STTensor **idx = xcalloc(f->n_tensors ? f->n_tensors : 1, sizeof *idx, e);
    if (!idx) return RP_ENOMEM;
    for (size_t i = 0; i < f->n_tensors; i++) idx[i] = &f->tensors[i];
    qsort(idx, f->n_tensors, sizeof *idx, cmp_offsets);
    uint64_t at = 0;
    int rc = RP_OK;
    for (size_t i = 0; i < f->n_tensors && !rc; i++) {
        const STTensor *t = idx[i];
        if (t->begin < at)
            rc = error_set(e, RP_EINPUT, "%s: tensors '%s' and '%s' overlap: data_offsets [%llu, %llu] "
                           "and [%llu, %llu]", f->path, st_shown(idx[i - 1]->name, pb), st_shown(t->name, nb),
                           (unsigned long long)idx[i - 1]->begin, (unsigned long long)idx[i - 1]->end,
                           (unsigned long long)t->begin, (unsigned long long)t->end);
        else if (t->begin > at)
            rc = error_set(e, RP_EINPUT, "%s: bytes %llu..%llu of the data section belong to no tensor "
                           "(tensor '%s' begins at %llu; safetensors data must be contiguous)", f->path,
                           (unsigned long long)at, (unsigned long long)t->begin, st_shown(t->name, nb),
                           (unsigned long long)t->begin);
        at = t->end;
    }
    free(idx);
    if (!rc && at != avail)
        rc = error_set(e, RP_EINPUT, "%s: the last %llu bytes of the file belong to no tensor (the "
                       "tensors end at byte %llu of the %llu-byte data section)", f->path,
                       (unsigned long long)(avail - at), (unsigned long long)at,
                       (unsigned long long)avail);
    return rc;
}

static int parse(STFile *f, Error *e) {
    if (f->size < 8)
        return error_set(e, RP_EINPUT, "%s: %zu bytes, too short for a safetensors file (8-byte "
                         "header length)", f->path, f->size);
    uint64_t n;
    memcpy(&n, f->map, 8);
    if (n > ST_MAX_HEADER)
        return error_set(e, RP_EINPUT, "%s: header length %llu is over the limit of %llu bytes (not a "
                         "safetensors file?)", f->path, (unsigned long long)n, ST_MAX_HEADER);
    if (n > f->size - 8)
        return error_set(e, RP_EINPUT, "%s: header length %llu runs past the end of the file (%zu "
                         "bytes)", f->path, (unsigned long long)n, f->size);
    const char *h = (const char *)f->map + 8;
    f->data_start = 8 + n;
    size_t bad;
    if (n == 0 || h[0] != '{')
        return error_set(e, RP_EINPUT, "%s: header: does not start with '{' (not a safetensors file?)",
                         f->path);
    if (memchr(h, 0, n))
        return error_set(e, RP_EINPUT, "%s: header: holds a NUL byte at byte %zu", f->path,
                         (size_t)((const char *)memchr(h, 0, n) - h));
    if (!utf8_valid(h, n, &bad))
        return error_set(e, RP_EINPUT, "%s: header: not valid UTF-8 at byte %zu", f->path, bad);
    /* cJSON parses a NUL-terminated copy: the header may end at the end of the mapping, and a
     * parser that looked one byte further must find the terminator, not an unmapped page. */
    char *copy = xmalloc(n + 1, e);
    if (!copy) return RP_ENOMEM;
    memcpy(copy, h, n);
    copy[n] = '\0';
    const char *end = NULL;
    f->root = cJSON_ParseWithLengthOpts(copy, n, &end, 0);
    size_t at = end ? (size_t)(end - copy) : 0;
    free(copy);
    if (!f->root)
        return error_set(e, RP_EINPUT, "%s: header: not valid JSON (at byte %zu of %llu)", f->path,
                         at, (unsigned long long)n);
    for (; at < n; at++)
        if (h[at] != ' ' && h[at] != '\t' && h[at] != '\n' && h[at] != '\r')
            return error_set(e, RP_EINPUT, "%s: header: bytes after the JSON object (at byte %zu)",
                             f->path, at);
    if (!cJSON_IsObject(f->root))
        return error_set(e, RP_EINPUT, "%s: header: not a JSON object", f->path);
    size_t count = (size_t)cJSON_GetArraySize(f->root);
    f->tensors = xcalloc(count ? count : 1, sizeof *f->tensors, e);
    int rc = f->tensors ? strmap_init(&f->by_name, count, e) : RP_ENOMEM;
    if (rc) return rc;
    for (const cJSON *c = f->root->child; c; c = c->next) {
        if (!strcmp(c->string, "__metadata__")) {
            if ((rc = parse_metadata(f, c, e))) return rc;
            continue;
        }
        STTensor *t = &f->tensors[f->n_tensors++];
        t->name = c->string;
        size_t len = strlen(c->string);
        int64_t dummy;
        if (strmap_get(&f->by_name, c->string, len, &dummy)) {
            char nb[128];
            return error_set(e, RP_EINPUT, "%s: tensor '%s' appears twice in the header", f->path,
                             st_shown(c->string, nb));
        }
        if ((rc = strmap_put(&f->by_name, c->string, len, (int64_t)(f->n_tensors - 1), e))) return rc;
        if ((rc = parse_tensor(f, c, t, e))) return rc;
    }
    return place_tensors(f, e);
}

int st_open(const char *path, STFile **out, Error *e) {
    *out = NULL;
    int rc = file_check_input(path, e);
    if (rc) return rc;
    STFile *f = xcalloc(1, sizeof *f, e);
    if (!f) return RP_ENOMEM;
    if (!(f->path = xstrdup(path, e))) {
        free(f);
        return RP_ENOMEM;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) rc = error_set(e, RP_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    else if (fstat(fd, &st) != 0) rc = error_set(e, RP_EIO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode)) rc = error_set(e, RP_EINPUT, "%s: not a regular file", path);
    else if (st.st_size > 0) {
        void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) rc = error_set(e, RP_EIO, "%s: cannot map: %s", path, strerror(errno));
        else {
            f->map = m;
            f->size = (size_t)st.st_size;
        }
    }
    if (fd >= 0) close(fd);
    if (!rc) rc = parse(f, e);
    if (rc) {
        st_close(f);
        return rc;
    }
    *out = f;
    return RP_OK;
}

void st_close(STFile *f) {
    if (!f) return;
    for (size_t i = 0; i < f->n_tensors; i++) free((void *)f->tensors[i].shape);
    free(f->tensors);
    free(f->meta);
    strmap_free(&f->by_name);
    cJSON_Delete(f->root);
    if (f->map) munmap((void *)f->map, f->size);
    free(f->path);
    free(f);
}

const char *st_path(const STFile *f) { return f->path; }
uint64_t st_data_start(const STFile *f) { return f->data_start; }
size_t st_tensor_count(const STFile *f) { return f->n_tensors; }
const STTensor *st_tensor_at(const STFile *f, size_t i) { return i < f->n_tensors ? &f->tensors[i] : NULL; }
size_t st_metadata_count(const STFile *f) { return f->n_meta; }

void st_metadata_at(const STFile *f, size_t i, const char **key, const char **value) {
    *key = i < f->n_meta ? f->meta[i]->string : NULL;
    *value = i < f->n_meta ? f->meta[i]->valuestring : NULL;
}

const char *st_metadata_get(const STFile *f, const char *key) {
    for (size_t i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta[i]->string, key)) return f->meta[i]->valuestring;
    return NULL;
}

const STTensor *st_find(const STFile *f, const char *name, size_t *index) {
    int64_t i;
    if (!strmap_get(&f->by_name, name, strlen(name), &i)) return NULL;
    if (index) *index = (size_t)i;
    return &f->tensors[i];
}

int st_tensor_read_f32(const STFile *f, size_t i, float *dst, Error *e) {
    char nb[128];
    if (i >= f->n_tensors)
        return error_set(e, RP_EINPUT, "%s: no tensor %zu (the file has %zu)", f->path, i, f->n_tensors);
    const STTensor *t = &f->tensors[i];
    /* GGUF's converters are exact and tested against gguf-py; the raw layouts are the same. */
    int type = t->dtype == ST_F32 ? GGML_TYPE_F32 : t->dtype == ST_F16 ? GGML_TYPE_F16
             : t->dtype == ST_BF16 ? GGML_TYPE_BF16 : -1;
    if (type < 0)
        return error_set(e, RP_EINPUT, "%s: tensor '%s' has dtype %s, which is not read as float "
                         "(F32, F16 and BF16 are)", f->path, st_shown(t->name, nb), st_dtype_name(t->dtype));
    if (gguf_dequantize(type, t->data, t->n_elems, dst, e))
        return error_wrap(e, "%s: tensor '%s'", f->path, st_shown(t->name, nb));
    return RP_OK;
}

int st_read_f32(const STFile *f, const char *name, float *dst, Error *e) {
    size_t i;
    char nb[128];
    if (!st_find(f, name, &i))
        return error_set(e, RP_EINPUT, "%s: no tensor '%s'", f->path, st_shown(name, nb));
    return st_tensor_read_f32(f, i, dst, e);
}

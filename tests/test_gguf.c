/* GGUF reader tests (model/gguf.c, model/gguf_quant.c).
 *
 *   test_gguf               files written by gguf-py (tests/make_gguf.py, run by the fixture into
 *                           $RESTPG_TEST_TMP/gguf): metadata of every type, tensor infos equal to
 *                           gguf-py's GGUFReader, dequantization bit-identical to gguf.quants;
 *                           then bad files: truncations, corrupted fields, random byte flips. Every
 *                           bad file must give RP_EINPUT naming the file; none may crash.
 *   test_gguf --real MODEL  reads `make_gguf.py stream MODEL` on stdin and compares every tensor
 *                           of MODEL bitwise; prints the metadata, the tensor types and the time. */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "model/gguf.h"
#include "tests/test.h"

static char dir[1024], bad_path[1100];

static int read_file(const char *path, uint8_t **data, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    *data = malloc(len > 0 ? (size_t)len : 1);
    *n = fread(*data, 1, (size_t)len, f);
    fclose(f);
    return *n == (size_t)len ? 0 : -1;
}

static void write_file(const char *path, const uint8_t *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

/* Opens bad_path. A non-OK status must be RP_EINPUT with the path in the message; an OK file
 * must dequantize (or refuse a type) without crashing. Returns the status. */
static int open_bad(Error *e) {
    GGUF *g = NULL;
    error_clear(e);
    int rc = gguf_open(bad_path, &g, e);
    if (rc) {
        CHECK_MSG(rc == RP_EINPUT && strstr(e->msg, bad_path) && !g, "rc %d: %s", rc, e->msg);
        return rc;
    }
    for (size_t i = 0; i < gguf_tensor_count(g); i++) {
        const GGUFTensor *t = gguf_tensor_at(g, i);
        float *out = malloc(t->n_elems * sizeof *out + 1);
        Error e2;
        int r = out ? gguf_tensor_to_f32(g, t, out, &e2) : RP_OK;
        CHECK_MSG(r == RP_OK || (r == RP_EINPUT && strstr(e2.msg, bad_path)), "%s", e2.msg);
        free(out);
    }
    gguf_close(g);
    return RP_OK;
}

static int open_bytes(const uint8_t *data, size_t n, Error *e) {
    write_file(bad_path, data, n);
    return open_bad(e);
}

/* Expects RP_EINPUT with `want` in the message. */
static void expect_bad(const uint8_t *data, size_t n, const char *want) {
    Error e;
    int rc = open_bytes(data, n, &e);
    CHECK_MSG(rc == RP_EINPUT && strstr(e.msg, want), "want '%s', got rc %d: %s", want, rc, e.msg);
}

/* ---- the files gguf-py wrote ---- */

static void check_metadata(const GGUF *g) {
    Error e;
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    float f;
    int b;
    const char *s;
    CHECK(gguf_version(g) == 3 && gguf_alignment(g) == 32);
    CHECK_OK(gguf_get_str(g, "general.architecture", &s, &e), &e);
    CHECK_STR(s, "testarch");
    const GGUFKV *kv = gguf_find_kv(g, "test.u8");
    CHECK(kv && kv->type == GGUF_TYPE_U8 && kv->v.u == 200);
    CHECK((kv = gguf_find_kv(g, "test.i8")) && kv->type == GGUF_TYPE_I8 && kv->v.i == -100);
    CHECK((kv = gguf_find_kv(g, "test.u16")) && kv->type == GGUF_TYPE_U16 && kv->v.u == 60000);
    CHECK((kv = gguf_find_kv(g, "test.i16")) && kv->type == GGUF_TYPE_I16 && kv->v.i == -30000);
    CHECK((kv = gguf_find_kv(g, "test.i64")) && kv->type == GGUF_TYPE_I64 && kv->v.i == -(1LL << 62));
    CHECK((kv = gguf_find_kv(g, "test.f64")) && kv->type == GGUF_TYPE_F64 && kv->v.f == -1.0 / 3.0);
    CHECK((kv = gguf_find_kv(g, "test.empty")) && kv->type == GGUF_TYPE_STR && kv->v.str.len == 0);
    CHECK_OK(gguf_get_u32(g, "test.u32", &u32, &e), &e);
    CHECK(u32 == 4000000000u);
    CHECK_OK(gguf_get_u32(g, "test.u8", &u32, &e), &e); /* widening is allowed */
    CHECK(u32 == 200);
    CHECK_OK(gguf_get_i32(g, "test.i32", &i32, &e), &e);
    CHECK(i32 == -2000000000);
    CHECK_OK(gguf_get_u64(g, "test.u64", &u64, &e), &e);
    CHECK(u64 == (1ULL << 63) + 5);
    CHECK_OK(gguf_get_f32(g, "test.f32", &f, &e), &e);
    CHECK(f == 3.25f);
    CHECK_OK(gguf_get_bool(g, "test.bool", &b, &e), &e);
    CHECK(b == 1);
    CHECK_OK(gguf_get_str(g, "test.str", &s, &e), &e);
    CHECK_STR(s, "h\xc3\xa9llo w\xc3\xb6rld");
    /* Refusals name the file and the key. */
    CHECK(gguf_get_u32(g, "test.missing", &u32, &e) == RP_EINPUT && strstr(e.msg, "'test.missing' is missing"));
    CHECK(gguf_get_i32(g, "test.u32", &i32, &e) == RP_EINPUT && strstr(e.msg, "does not fit i32"));
    CHECK(gguf_get_u32(g, "test.i8", &u32, &e) == RP_EINPUT && strstr(e.msg, "-100 does not fit u32"));
    CHECK(gguf_get_u32(g, "test.str", &u32, &e) == RP_EINPUT && strstr(e.msg, "is str, not an integer"));
    CHECK(gguf_get_str(g, "test.u8", &s, &e) == RP_EINPUT && strstr(e.msg, gguf_path(g)));

    const void *arr;
    int et;
    size_t n;
    CHECK_OK(gguf_get_array(g, "test.arr_u8", &et, &n, &arr, &e), &e);
    CHECK(et == GGUF_TYPE_U8 && n == 3 && ((const uint8_t *)arr)[2] == 255);
    CHECK_OK(gguf_get_array(g, "test.arr_i8", &et, &n, &arr, &e), &e);
    CHECK(et == GGUF_TYPE_I8 && n == 3 && ((const int8_t *)arr)[0] == -128);
    CHECK_OK(gguf_get_array(g, "test.arr_u16", &et, &n, &arr, &e), &e);
    CHECK(et == GGUF_TYPE_U16 && n == 2 && ((const uint16_t *)arr)[1] == 65535);
    CHECK_OK(gguf_get_array(g, "test.arr_i16", &et, &n, &arr, &e), &e);
    CHECK(et == GGUF_TYPE_I16 && n == 3 && ((const int16_t *)arr)[0] == -32768);
    CHECK_OK(gguf_get_array(g, "test.arr_u32", &et, &n, &arr, &e), &e);
    CHECK(et == GGUF_TYPE_U32 && n == 2 && ((const uint32_t *)arr)[1] == 4294967295u);
    const int32_t *ia;
    CHECK_OK(gguf_get_i32_array(g, "test.arr_i32", &ia, &n, &e), &e);
    CHECK(n == 3 && ia[0] == -1 && ia[1] == 7 && ia[2] == 2147483647);
    const float *fa;
    CHECK_OK(gguf_get_f32_array(g, "test.arr_f32", &fa, &n, &e), &e);
    CHECK(n == 3 && fa[0] == 0.5f && fa[1] == -2.0f && fa[2] == 1e-3f);
    CHECK_OK(gguf_get_array(g, "test.arr_bool", &et, &n, &arr, &e), &e);
    CHECK(et == GGUF_TYPE_BOOL && n == 3 && !memcmp(arr, "\1\0\1", 3));
    CHECK_OK(gguf_get_array(g, "test.arr_u64", &et, &n, &arr, &e), &e);
    CHECK(et == GGUF_TYPE_U64 && n == 2 && ((const uint64_t *)arr)[0] == UINT64_MAX);
    CHECK_OK(gguf_get_array(g, "test.arr_i64", &et, &n, &arr, &e), &e);
    CHECK(et == GGUF_TYPE_I64 && n == 2 && ((const int64_t *)arr)[0] == INT64_MIN);
    CHECK_OK(gguf_get_array(g, "test.arr_f64", &et, &n, &arr, &e), &e);
    CHECK(et == GGUF_TYPE_F64 && n == 2 && ((const double *)arr)[0] == 1e300 && ((const double *)arr)[1] == -0.1);
    const GGUFStr *sa;
    CHECK_OK(gguf_get_str_array(g, "test.arr_str", &sa, &n, &e), &e);
    CHECK(n == 4 && !strcmp(sa[0].s, "a") && sa[1].len == 0 && !strcmp(sa[2].s, "\xc3\xbcn\xc3\xaf" "code"));
    CHECK(n == 4 && sa[3].len == 7 && !strcmp(sa[3].s, "tab\tnl\n"));
    CHECK_OK(gguf_get_str_array(g, "test.arr_tokens", &sa, &n, &e), &e);
    CHECK(n == 1000 && !strcmp(sa[999].s, "tok999") && sa[999].len == 6);
    CHECK(gguf_get_str_array(g, "test.arr_f32", &sa, &n, &e) == RP_EINPUT && strstr(e.msg, "array of f32, not of str"));
    /* 13 scalars, 13 arrays, general.architecture. */
    CHECK(gguf_kv_count(g) == 27);
    CHECK_STR(gguf_kv_at(g, 0)->key, "general.architecture");
    CHECK(gguf_kv_at(g, 27) == NULL && gguf_find_kv(g, "nope") == NULL);
}

/* Compares every tensor listed in tensors.txt (gguf-py's GGUFReader view) with ours, and our
 * dequantization with gguf.quants.dequantize's, bit for bit. */
static void check_tensors(void) {
    char path[1400], file[64], name[128], open_file[64] = "";
    snprintf(path, sizeof path, "%s/tensors.txt", dir);
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot read %s (did the fixture test_gguf_files run?)", path);
    if (!f) return;
    GGUF *g = NULL;
    Error e;
    int type, n_dims, n_checked = 0, types_seen[64] = {0};
    unsigned long long ne[4], n_elems, n_bytes, data_off;
    while (fscanf(f, "%63s %127s %d %d %llu %llu %llu %llu %llu %llu %llu", file, name, &type,
                  &n_dims, &ne[0], &ne[1], &ne[2], &ne[3], &n_elems, &n_bytes, &data_off) == 11) {
        if (strcmp(file, open_file)) {
            gguf_close(g);
            g = NULL;
            snprintf(path, sizeof path, "%s/%s", dir, file);
            CHECK_OK(gguf_open(path, &g, &e), &e);
            if (!g) break;
            snprintf(open_file, sizeof open_file, "%s", file);
            if (!strcmp(file, "all.gguf")) check_metadata(g);
            if (!strcmp(file, "align64.gguf")) CHECK(gguf_alignment(g) == 64);
        }
        const GGUFTensor *t = gguf_find_tensor(g, name);
        CHECK_MSG(t != NULL, "%s: tensor %s not found", file, name);
        if (!t) continue;
        CHECK(t->type == type && (int)t->n_dims == n_dims && t->n_elems == n_elems && t->n_bytes == n_bytes);
        CHECK(t->ne[0] == ne[0] && t->ne[1] == ne[1] && t->ne[2] == ne[2] && t->ne[3] == ne[3]);
        CHECK(t->n_rows == ne[1] * ne[2] * ne[3]);
        CHECK_MSG(gguf_data_start(g) + t->offset == data_off, "%s %s: data at %llu, gguf-py says %llu",
                  file, name, (unsigned long long)(gguf_data_start(g) + t->offset), data_off);
        uint8_t *ref = NULL;
        size_t ref_n = 0;
        snprintf(path, sizeof path, "%s/ref/%s.%s.f32", dir, file, name);
        if (read_file(path, &ref, &ref_n) != 0 || ref_n != n_elems * 4) {
            CHECK_MSG(0, "cannot read %s with %llu values", path, n_elems);
            free(ref);
            continue;
        }
        float *out = malloc(n_elems * 4 + 4);
        CHECK_OK(gguf_tensor_to_f32(g, t, out, &e), &e);
        CHECK_MSG(!memcmp(out, ref, ref_n), "%s %s (%s): dequantized values differ from gguf-py",
                  file, name, gguf_tensor_type_name(type));
        /* A row range gives the same bits as the matching slice of the whole. */
        if (t->n_rows > 1) {
            CHECK_OK(gguf_rows_to_f32(g, t, 1, t->n_rows - 1, out, &e), &e);
            CHECK(!memcmp(out, ref + t->ne[0] * 4, (t->n_rows - 1) * t->ne[0] * 4));
        }
        CHECK(gguf_rows_to_f32(g, t, t->n_rows, 1, out, &e) == RP_EINPUT && strstr(e.msg, name));
        free(out);
        free(ref);
        types_seen[type & 63]++;
        n_checked++;
    }
    fclose(f);
    gguf_close(g);
    CHECK(n_checked == 14);
    int want[] = {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_BF16, GGML_TYPE_Q5_0, GGML_TYPE_Q8_0, GGML_TYPE_Q4_K,
                  GGML_TYPE_Q5_K, GGML_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK_MSG(types_seen[want[i]] > 0, "no %s tensor was checked", gguf_tensor_type_name(want[i]));
}

/* all.gguf truncated at every length: an error until the last tensor's bytes are all there
 * (gguf-py pads after the last tensor; cutting only padding leaves a valid file). Also the
 * version field: 2 reads like 3, anything else is refused. */
static void check_truncations_and_versions(void) {
    char path[1200];
    snprintf(path, sizeof path, "%s/all.gguf", dir);
    uint8_t *data;
    size_t n;
    Error e;
    GGUF *g = NULL;
    if (read_file(path, &data, &n)) {
        CHECK_MSG(0, "cannot read %s", path);
        return;
    }
    CHECK_OK(gguf_open(path, &g, &e), &e);
    if (!g) {
        free(data);
        return;
    }
    uint64_t data_end = 0, n_tensors = gguf_tensor_count(g);
    for (size_t i = 0; i < n_tensors; i++) {
        const GGUFTensor *t = gguf_tensor_at(g, i);
        if (gguf_data_start(g) + t->offset + t->n_bytes > data_end)
            data_end = gguf_data_start(g) + t->offset + t->n_bytes;
    }
    gguf_close(g);
    CHECK(data_end <= n && data_end > n - 32);
    write_file(bad_path, data, n);
    int wrong = 0;
    for (size_t len = n; len-- > 0;) {
        if (truncate(bad_path, (off_t)len) != 0) {
            CHECK_MSG(0, "truncate %s", bad_path);
            break;
        }
        int rc = open_bad(&e);
        if ((len < data_end) != (rc == RP_EINPUT)) {
            if (!wrong++) fprintf(stderr, "truncated to %zu bytes: rc %d: %s\n", len, rc, e.msg);
        }
    }
    CHECK_MSG(wrong == 0, "%d truncation lengths gave the wrong result", wrong);

    uint32_t v = 2;
    memcpy(data + 4, &v, 4);
    CHECK(open_bytes(data, n, &e) == RP_OK);
    write_file(bad_path, data, n);
    CHECK_OK(gguf_open(bad_path, &g, &e), &e);
    if (g) CHECK(gguf_version(g) == 2 && gguf_tensor_count(g) == n_tensors && gguf_kv_count(g) == 27);
    gguf_close(g);
    v = 1;
    memcpy(data + 4, &v, 4);
    expect_bad(data, n, "header: version 1 is not supported");
    v = 4;
    memcpy(data + 4, &v, 4);
    expect_bad(data, n, "header: version 4 is not supported");
    v = 0x03000000;
    memcpy(data + 4, &v, 4);
    expect_bad(data, n, "big-endian");
    free(data);
}

/* ---- a hand-built file whose field positions are known, corrupted field by field ---- */

typedef struct {
    uint8_t b[1024];
    size_t n;
} Buf;

static size_t put(Buf *b, const void *p, size_t n) {
    size_t at = b->n;
    memcpy(b->b + b->n, p, n);
    b->n += n;
    return at;
}
static size_t put_u32(Buf *b, uint32_t v) { return put(b, &v, 4); }
static size_t put_u64(Buf *b, uint64_t v) { return put(b, &v, 8); }
static size_t put_str(Buf *b, const char *s) {
    size_t at = put_u64(b, strlen(s));
    put(b, s, strlen(s));
    return at;
}

typedef struct {
    size_t version, n_tensors, n_kv, k0_len, k0_type, k0_val, k1_key, k1_type, k1_len, k2_etype,
        k2_n, t0_ndims, t0_ne0, t0_ne1, t0_type, t0_off, t1_name, t1_ne0, t1_off;
} Layout;

/* 3 metadata entries (general.alignment = 32, a string, a u32 array) and 2 tensors: 'a', F32
 * 32x2 at offset 0, and 'b', one Q8_0 block at offset 256; the file ends with b's bytes. */
static Layout build_small(Buf *b) {
    Layout L;
    b->n = 0;
    put(b, "GGUF", 4);
    L.version = put_u32(b, 3);
    L.n_tensors = put_u64(b, 2);
    L.n_kv = put_u64(b, 3);
    L.k0_len = put_str(b, "general.alignment");
    L.k0_type = put_u32(b, GGUF_TYPE_U32);
    L.k0_val = put_u32(b, 32);
    L.k1_key = put_str(b, "x.str") + 8;
    L.k1_type = put_u32(b, GGUF_TYPE_STR);
    L.k1_len = put_str(b, "abc");
    put_str(b, "x.arr");
    put_u32(b, GGUF_TYPE_ARRAY);
    L.k2_etype = put_u32(b, GGUF_TYPE_U32);
    L.k2_n = put_u64(b, 3);
    for (uint32_t i = 1; i <= 3; i++) put_u32(b, i);
    put_str(b, "a");
    L.t0_ndims = put_u32(b, 2);
    L.t0_ne0 = put_u64(b, 32);
    L.t0_ne1 = put_u64(b, 2);
    L.t0_type = put_u32(b, GGML_TYPE_F32);
    L.t0_off = put_u64(b, 0);
    L.t1_name = put_str(b, "b") + 8;
    put_u32(b, 1);
    L.t1_ne0 = put_u64(b, 32);
    put_u32(b, GGML_TYPE_Q8_0);
    L.t1_off = put_u64(b, 256);
    while (b->n % 32) b->b[b->n++] = 0;
    for (int i = 0; i < 64; i++) {
        float f = (float)i * 0.5f;
        put(b, &f, 4);
    }
    put(b, "\x00\x3c", 2); /* d = 1.0 */
    for (int i = 0; i < 32; i++) b->b[b->n++] = (uint8_t)(i - 16);
    return L;
}

typedef struct {
    size_t field; /* offsetof(Layout, ...) */
    int width;    /* bytes written little-endian from value */
    uint64_t value;
    const char *want;
} Patch;

static void check_corruptions(void) {
    Buf base, b;
    Layout L = build_small(&base);
    Error e;
    CHECK(open_bytes(base.b, base.n, &e) == RP_OK);
    GGUF *g = NULL;
    CHECK_OK(gguf_open(bad_path, &g, &e), &e);
    if (g) {
        const GGUFTensor *t = gguf_find_tensor(g, "b");
        float out[64];
        CHECK(t && t->n_bytes == 34 && gguf_tensor_to_f32(g, t, out, &e) == RP_OK && out[0] == -16.0f && out[31] == 15.0f);
        CHECK((t = gguf_find_tensor(g, "a")) && gguf_tensor_to_f32(g, t, out, &e) == RP_OK && out[63] == 31.5f);
        CHECK(gguf_find_tensor(g, "c") == NULL);
    }
    gguf_close(g);
#define AT(f) offsetof(Layout, f)
    const Patch patches[] = {
        {0, 4, 0x58554747, "not a GGUF file"},
        {AT(n_tensors), 8, 1000000, "header: tensor_count 1000000 and kv_count 3 need more"},
        {AT(n_kv), 8, 1ULL << 63, "kv_count 9223372036854775808 need more"},
        {AT(n_kv), 8, 4, ""},
        {AT(k0_len), 8, 1000000000000ULL, "metadata key 0: key (1000000000000 bytes at offset 32) runs past the end of the file"},
        {AT(k0_type), 4, GGUF_TYPE_I32, "metadata key 'general.alignment' is i32, not u32"},
        {AT(k0_val), 4, 3, "'general.alignment': 3 is not a power of two"},
        {AT(k0_val), 4, 0, "'general.alignment': 0 is not a power of two"},
        {AT(k0_val), 4, 512, "tensor 1 ('b'): offset 256 is not a multiple of the alignment 512"},
        {AT(k1_key), 1, 0, "metadata key 1 ('?.str'): the name contains a NUL byte"},
        {AT(k1_key), 4, 0x72612e78, "metadata key 'x.arr' appears twice (keys 1 and 2)"},
        {AT(k1_type), 4, 99, "metadata key 1 ('x.str'): value type 99 is not a GGUF type"},
        {AT(k1_len), 8, 1000000000000ULL, "metadata key 1 ('x.str'): string value (1000000000000 bytes"},
        {AT(k2_etype), 4, 99, "metadata key 2 ('x.arr'): array element type 99 is not a GGUF type"},
        {AT(k2_etype), 4, GGUF_TYPE_ARRAY, "arrays of arrays are not supported"},
        {AT(k2_etype), 4, GGUF_TYPE_STR, "metadata key 2 ('x.arr')"},
        {AT(k2_n), 8, 1ULL << 62, "array of 4611686018427387904 u32 (at least 4 bytes each) runs past"},
        {AT(t0_ndims), 4, 5, "tensor 0 ('a'): n_dims 5 is more than 4"},
        {AT(t0_ndims), 4, 0, "tensor 0 ('a')"},
        {AT(t0_ne0), 8, 1ULL << 63, "tensor 0 ('a'): ne[0] = 9223372036854775808 is out of range"},
        {AT(t0_ne1), 8, 1ULL << 62, "tensor 0 ('a'): the shape has more than 2^63 elements"},
        {AT(t0_ne0), 8, 1ULL << 40, "tensor 0 ('a'): data (8796093022208 bytes at offset 0 of the data section) runs past"},
        {AT(t0_type), 4, 99, "tensor 0 ('a'): type 99 is not supported"},
        {AT(t1_ne0), 8, 33, "tensor 1 ('b'): ne[0] = 33 is not a multiple of the Q8_0 block size 32"},
        {AT(t1_off), 8, 255, "tensor 1 ('b'): offset 255 is not a multiple of the alignment 32"},
        {AT(t1_off), 8, 224, "tensor 0 ('a') and tensor 1 ('b') overlap"},
        {AT(t1_off), 8, 1ULL << 60, "tensor 1 ('b'): data (34 bytes at offset 1152921504606846976"},
        {AT(t1_name), 1, 'a', "tensor 'a' appears twice (tensors 0 and 1)"},
    };
    for (size_t i = 0; i < sizeof patches / sizeof patches[0]; i++) {
        b = base;
        size_t at = patches[i].field ? *(const size_t *)((const char *)&L + patches[i].field) : 0;
        memcpy(b.b + at, &patches[i].value, (size_t)patches[i].width);
        expect_bad(b.b, b.n, patches[i].want);
    }
#undef AT
    /* A ggml type this reader does not dequantize (Q4_0): the file opens, the tensor is refused. */
    b = base;
    uint32_t q4_0 = 2;
    memcpy(b.b + L.t0_type, &q4_0, 4);
    write_file(bad_path, b.b, b.n);
    CHECK_OK(gguf_open(bad_path, &g, &e), &e);
    if (g) {
        float out[64];
        const GGUFTensor *t = gguf_find_tensor(g, "a");
        CHECK(t && t->n_bytes == 36 && gguf_tensor_to_f32(g, t, out, &e) == RP_EINPUT);
        CHECK_MSG(strstr(e.msg, bad_path) && strstr(e.msg, "tensor 0 ('a'): type 2 (Q4_0) is not supported"), "%s", e.msg);
        gguf_close(g);
    }
    /* Every truncation of the small file, which ends with its last tensor, is an error. */
    for (size_t len = 0; len < base.n; len++) expect_bad(base.b, len, "");
    /* Not a file, no file, an empty file. */
    CHECK(gguf_open(dir, &g, &e) == RP_EINPUT && strstr(e.msg, "not a regular file") && !g);
    char missing[1200];
    snprintf(missing, sizeof missing, "%s/missing.gguf", dir);
    CHECK(gguf_open(missing, &g, &e) == RP_EINPUT && strstr(e.msg, "cannot open"));
    expect_bad(base.b, 0, "header: magic (4 bytes at offset 0) runs past the end of the file (0 bytes)");
}

/* Random byte changes in the header regions: each file must open cleanly or fail with RP_EINPUT
 * naming it (open_bad checks), never crash or read out of bounds (run under ASan, see
 * docs/gguf.md). */
static void check_fuzz(void) {
    Buf base;
    build_small(&base);
    char path[1200];
    snprintf(path, sizeof path, "%s/all.gguf", dir);
    uint8_t *all, *copy;
    size_t n_all;
    if (read_file(path, &all, &n_all)) return;
    copy = malloc(n_all);
    GGUF *g;
    Error e;
    CHECK_OK(gguf_open(path, &g, &e), &e);
    if (!g) return;
    size_t header_end = (size_t)gguf_data_start(g);
    gguf_close(g);
    uint64_t s = 0x9e3779b97f4a7c15ULL;
    int ok = 0, bad = 0;
    for (int iter = 0; iter < 4000; iter++) {
        int small = iter % 2 == 0;
        size_t n = small ? base.n : n_all;
        memcpy(copy, small ? base.b : all, n);
        /* all.gguf: hit the tensor infos (the last ~500 header bytes) more often than the
         * 1000 token strings before them. */
        size_t lo = small || iter % 4 == 1 ? 0 : header_end - 512, hi = small ? n : header_end;
        int flips = 1 + (int)(s % 3);
        for (int k = 0; k < flips; k++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t at = lo + (size_t)((s >> 33) % (hi - lo));
            copy[at] = (s >> 17) & 1 ? (uint8_t)(s >> 24) : (uint8_t)(copy[at] ^ (1u << ((s >> 40) & 7)));
        }
        if (open_bytes(copy, n, &e) == RP_OK) ok++;
        else bad++;
    }
    printf("fuzz: %d corrupted files opened, %d refused\n", ok, bad);
    CHECK(bad > 1000);
    free(copy);
    free(all);
}

/* ---- the real model against `make_gguf.py stream` on stdin ---- */

static int read_exact(void *p, size_t n) { return fread(p, 1, n, stdin) == n ? 0 : -1; }

static void print_metadata(const GGUF *g) {
    for (size_t i = 0; i < gguf_kv_count(g); i++) {
        const GGUFKV *kv = gguf_kv_at(g, i);
        printf("  %-44s ", kv->key);
        switch (kv->type) {
        case GGUF_TYPE_STR: printf("str   '%.60s'%s\n", kv->v.str.s, kv->v.str.len > 60 ? "..." : ""); break;
        case GGUF_TYPE_ARRAY: printf("array[%s] of %zu\n", gguf_type_name(kv->elem_type), kv->n); break;
        case GGUF_TYPE_F32: case GGUF_TYPE_F64: printf("%-5s %.9g\n", gguf_type_name(kv->type), kv->v.f); break;
        case GGUF_TYPE_I8: case GGUF_TYPE_I16: case GGUF_TYPE_I32: case GGUF_TYPE_I64:
            printf("%-5s %lld\n", gguf_type_name(kv->type), (long long)kv->v.i); break;
        default: printf("%-5s %llu\n", gguf_type_name(kv->type), (unsigned long long)kv->v.u);
        }
    }
}

static int real_check(const char *model) {
    GGUF *g;
    Error e;
    if (gguf_open(model, &g, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 2;
    }
    printf("%s: GGUF v%u, %zu metadata keys, %zu tensors, alignment %u\n", model, gguf_version(g),
           gguf_kv_count(g), gguf_tensor_count(g), gguf_alignment(g));
    print_metadata(g);
    int counts[64] = {0}, same = 0, differ = 0;
    double secs = 0;
    uint64_t elems = 0;
    size_t chunk = 1 << 20;
    float *ref = malloc(chunk * sizeof *ref);
    for (size_t i = 0; i < gguf_tensor_count(g); i++) {
        const GGUFTensor *t = gguf_tensor_at(g, i);
        uint32_t len;
        uint64_t n;
        char name[256];
        if (read_exact(&len, 4) || len >= sizeof name || read_exact(name, len)) break;
        name[len] = '\0';
        if (read_exact(&n, 8) || strcmp(name, t->name) || n != t->n_elems) {
            fprintf(stderr, "tensor %zu: gguf-py has '%s' (%llu values), we have '%s' (%llu)\n", i,
                    name, (unsigned long long)n, t->name, (unsigned long long)t->n_elems);
            differ++;
            break;
        }
        float *out = malloc(t->n_elems * sizeof *out + 1);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rc = gguf_tensor_to_f32(g, t, out, &e);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        secs += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        if (rc) fprintf(stderr, "%s\n", e.msg);
        int equal = rc == RP_OK;
        for (uint64_t k = 0; k < n; k += chunk) {
            size_t m = (size_t)(n - k < chunk ? n - k : chunk);
            if (read_exact(ref, m * sizeof *ref)) {
                equal = 0;
                break;
            }
            if (equal && memcmp(out + k, ref, m * sizeof *ref)) {
                for (size_t j = 0; j < m; j++)
                    if (memcmp(&out[k + j], &ref[j], 4)) {
                        fprintf(stderr, "%s (%s): value %llu is %.9g, gguf-py has %.9g\n", t->name,
                                gguf_tensor_type_name(t->type), (unsigned long long)(k + j),
                                out[k + j], ref[j]);
                        break;
                    }
                equal = 0;
            }
        }
        free(out);
        equal ? same++ : differ++;
        counts[t->type & 63]++;
        elems += t->n_elems;
    }
    printf("tensor types:");
    for (int k = 0; k < 64; k++)
        if (counts[k]) printf(" %s x%d", gguf_tensor_type_name(k), counts[k]);
    printf("\n%d of %zu tensors (%llu values) bit-identical to gguf-py, %d differ; "
           "dequantized in %.2f s\n", same, gguf_tensor_count(g), (unsigned long long)elems, differ, secs);
    free(ref);
    int all = same == (int)gguf_tensor_count(g) && differ == 0;
    gguf_close(g);
    return all ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--real")) return real_check(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: test_gguf | test_gguf --real MODEL.gguf < make_gguf.py stream\n");
        return 2;
    }
    const char *tmp = getenv("RESTPG_TEST_TMP");
    snprintf(dir, sizeof dir, "%s/gguf", tmp ? tmp : ".");
    snprintf(bad_path, sizeof bad_path, "%s/bad.%d.gguf", dir, (int)getpid());
    check_tensors();
    check_truncations_and_versions();
    check_corruptions();
    check_fuzz();
    unlink(bad_path);
    printf("%d passed, %d failed\n", t_pass, t_fail);
    return t_fail ? 1 : 0;
}

/* safetensors reader and writer tests that need no Python (model/safetensors*.c); the comparison
 * with PyPI's safetensors is tests/test_safetensors_ref.c with tests/safetensors_ref.py.
 *
 *  - bf16 rounding on the cases IEEE round-to-nearest-even defines (ties both ways, carries into
 *    the exponent and to infinity, NaN of either sign, subnormals);
 *  - the writer: single and sharded F32/BF16 output read back (names, order, shapes, values,
 *    metadata, shard names and index), refusals (existing output, an input as output, bad names),
 *    stale files of an earlier export removed on overwrite, and a write that fails midway (a file
 *    size limit) leaving nothing behind;
 *  - bad files, each RP_EINPUT naming the file and the field: hand-made headers for every check,
 *    every truncation of a valid file, byte flips all over its header; and bad index files. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bf16.h"
#include "core/error.h"
#include "core/fileio.h"
#include "model/safetensors.h"
#include "tests/test.h"

static char root[512];

static char *path_of(const char *rel) {
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", root, rel);
    return buf[k];
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f)) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

/* A file with the given header length field, header text and data_len data bytes. */
static void mk_raw(const char *path, uint64_t hlen, const char *header, size_t data_len) {
    size_t n = strlen(header);
    uint8_t *b = calloc(8 + n + data_len + 1, 1);
    memcpy(b, &hlen, 8);
    memcpy(b + 8, header, n);
    for (size_t i = 0; i < data_len; i++) b[8 + n + i] = (uint8_t)(i * 7 + 1);
    write_bytes(path, b, 8 + n + data_len);
    free(b);
}

static void mk(const char *path, const char *header, size_t data_len) {
    mk_raw(path, strlen(header), header, data_len);
}

/* path must fail to open with RP_EINPUT, a message naming the file and containing `needle`. */
static void expect_bad(const char *path, const char *needle) {
    STFile *f = (STFile *)1;
    Error e;
    error_clear(&e);
    int rc = st_open(path, &f, &e);
    CHECK_MSG(rc == RP_EINPUT && !f && strstr(e.msg, path) && strstr(e.msg, needle), "rc %d, want '%s': %s",
              rc, needle, e.msg);
    st_close(rc ? NULL : f);
}

static void expect_bad_dir(const char *path, const char *names, const char *needle) {
    STDir *d = (STDir *)1;
    Error e;
    error_clear(&e);
    int rc = st_dir_open(path, &d, &e);
    CHECK_MSG(rc == RP_EINPUT && !d && strstr(e.msg, names) && strstr(e.msg, needle), "rc %d, want '%s' and '%s': %s",
              rc, names, needle, e.msg);
    st_dir_close(rc ? NULL : d);
}

static uint16_t bf16_of_bits(uint32_t u) {
    float x;
    memcpy(&x, &u, 4);
    return bf16_from_f32(x);
}

static void test_bf16(void) {
    CHECK(bf16_of_bits(0x3f800000u) == 0x3f80);          /* 1.0 exact */
    CHECK(bf16_of_bits(0x3f808000u) == 0x3f80);          /* tie, even below: down */
    CHECK(bf16_of_bits(0x3f818000u) == 0x3f82);          /* tie, odd below: up */
    CHECK(bf16_of_bits(0x3f807fffu) == 0x3f80);          /* under half: down */
    CHECK(bf16_of_bits(0x3f808001u) == 0x3f81);          /* over half: up */
    CHECK(bf16_of_bits(0xbf818000u) == 0xbf82);          /* negative ties alike */
    CHECK(bf16_of_bits(0x3fffffffu) == 0x4000);          /* carry into the exponent */
    CHECK(bf16_of_bits(0x7f7fffffu) == 0x7f80);          /* FLT_MAX rounds to infinity */
    CHECK(bf16_of_bits(0x7f7f7fffu) == 0x7f7f);          /* just below: the largest bf16 */
    CHECK(bf16_of_bits(0x7f800000u) == 0x7f80);          /* +inf */
    CHECK(bf16_of_bits(0xff800000u) == 0xff80);          /* -inf */
    CHECK(bf16_of_bits(0x7fc00000u) == 0x7fc0);          /* NaN */
    CHECK(bf16_of_bits(0xffc00000u) == 0xffc0);          /* -NaN keeps its sign */
    CHECK(bf16_of_bits(0x7f800001u) == 0x7fc0);          /* payload only in the low half: still NaN */
    CHECK(bf16_of_bits(0x7fffffffu) == 0x7fc0);          /* would carry into the sign if rounded */
    CHECK(bf16_of_bits(0x00000001u) == 0x0000);          /* smallest subnormal: to zero */
    CHECK(bf16_of_bits(0x00018000u) == 0x0002);          /* subnormal tie, odd: up */
    CHECK(bf16_of_bits(0x80000000u) == 0x8000);          /* -0 */
}

static int rm_entry(const char *p, const struct stat *s, int flag, struct FTW *ftw) {
    (void)s, (void)flag, (void)ftw;
    return remove(p);
}

static size_t count_entries(const char *dir) {
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)))
        n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    if (d) closedir(d);
    return n;
}

#define NT 6
static const char *const W_NAMES[NT] = {"embed.weight", "scalar", "empty", "ünïcode.名前", "odd", "big"};
static const size_t W_DIMS[NT] = {2, 0, 2, 1, 3, 1};
static const uint64_t W_SHAPES[NT][3] = {{5, 4}, {0}, {0, 3}, {3}, {3, 5, 7}, {300}};
static float *w_data[NT];
static uint64_t w_n[NT];

static int write_set(const char *dir, STDtype dt, uint64_t shard, int overwrite, int n_in, const char *const *in,
                     Error *e) {
    STWriteOptions o = {.dtype = dt, .shard_bytes = shard, .overwrite = overwrite, .n_inputs = n_in, .inputs = in};
    STWriter *w;
    int rc = st_writer_open(dir, &o, &w, e);
    for (int i = 0; i < NT && !rc; i++) rc = st_writer_add(w, W_NAMES[i], W_DIMS[i], W_SHAPES[i], w_data[i], e);
    if (!rc) rc = st_writer_finish(w, e);
    st_writer_free(w);
    return rc;
}

/* Reads dir back: every tensor in order, its shape and values (bf16: the rounded bits). */
static void check_set(const char *dir, STDtype dt, size_t want_files) {
    STDir *d = NULL;
    Error e;
    CHECK_OK(st_dir_open(dir, &d, &e), &e);
    if (!d) return;
    CHECK_MSG(st_dir_file_count(d) == want_files, "%s: %zu files", dir, st_dir_file_count(d));
    CHECK((want_files > 1) == (st_dir_index_path(d) != NULL));
    CHECK(st_dir_tensor_count(d) == NT);
    for (size_t i = 0; i < st_dir_file_count(d); i++) {
        CHECK_STR(st_metadata_get(st_dir_file(d, i), "format"), "pt");
        CHECK(st_data_start(st_dir_file(d, i)) % 8 == 0);
    }
    for (size_t i = 0; i < NT && i < st_dir_tensor_count(d); i++) {
        const STTensor *t = st_dir_tensor_at(d, i, NULL);
        CHECK_STR(t->name, W_NAMES[i]);
        CHECK(t->dtype == dt && t->n_dims == W_DIMS[i] && t->n_elems == w_n[i]);
        for (size_t k = 0; k < t->n_dims && k < W_DIMS[i]; k++) CHECK(t->shape[k] == W_SHAPES[i][k]);
        float *v = malloc((w_n[i] + 1) * sizeof *v);
        CHECK_OK(st_dir_read_f32(d, W_NAMES[i], v, &e), &e);
        int same = 1;
        for (uint64_t k = 0; k < w_n[i]; k++) {
            uint32_t a, b;
            memcpy(&a, &v[k], 4);
            memcpy(&b, &w_data[i][k], 4);
            if (dt == ST_BF16) b = (uint32_t)bf16_from_f32(w_data[i][k]) << 16;
            same &= a == b;
        }
        CHECK_MSG(same, "%s: tensor %s differs", dir, W_NAMES[i]);
        free(v);
    }
    st_dir_close(d);
}

static void test_writer(void) {
    uint32_t s = 12345;
    for (int i = 0; i < NT; i++) {
        w_n[i] = 1;
        for (size_t k = 0; k < W_DIMS[i]; k++) w_n[i] *= W_SHAPES[i][k];
        w_data[i] = malloc((w_n[i] + 1) * sizeof(float));
        for (uint64_t k = 0; k < w_n[i]; k++) {
            s = s * 1664525u + 1013904223u;
            w_data[i][k] = ((float)(s >> 8) / 16777216.0f - 0.5f) * (float)(i + 1);
        }
    }
    w_data[1][0] = -0.0f;
    Error e;
    CHECK_OK(write_set(path_of("w_f32"), ST_F32, 0, 0, 0, NULL, &e), &e);
    check_set(path_of("w_f32"), ST_F32, 1);
    CHECK_OK(write_set(path_of("w_bf16"), ST_BF16, 0, 0, 0, NULL, &e), &e);
    check_set(path_of("w_bf16"), ST_BF16, 1);
    /* F32 sizes 80, 4, 0, 12, 420, 1200 with a 500-byte limit: [80 4 0 12] [420] [1200]. */
    CHECK_OK(write_set(path_of("w_shard"), ST_F32, 500, 0, 0, NULL, &e), &e);
    check_set(path_of("w_shard"), ST_F32, 3);
    CHECK(path_exists(path_of("w_shard/model-00003-of-00003.safetensors")));
    CHECK(count_entries(path_of("w_shard")) == 4);

    /* An existing output is kept unless overwriting. */
    int rc = write_set(path_of("w_f32"), ST_BF16, 0, 0, 0, NULL, &e);
    CHECK_MSG(rc == RP_EINPUT && strstr(e.msg, "model.safetensors: exists"), "%s", e.msg);
    check_set(path_of("w_f32"), ST_F32, 1);
    /* An earlier sharded export is refused, then replaced and cleaned up with overwrite. */
    rc = write_set(path_of("w_shard"), ST_F32, 0, 0, 0, NULL, &e);
    CHECK_MSG(rc == RP_EINPUT && strstr(e.msg, "earlier safetensors export"), "%s", e.msg);
    CHECK_OK(write_set(path_of("w_shard"), ST_BF16, 0, 1, 0, NULL, &e), &e);
    check_set(path_of("w_shard"), ST_BF16, 1);
    CHECK(count_entries(path_of("w_shard")) == 1);
    /* Inputs are never outputs: as a file, or as the directory that holds them. */
    const char *in_file[] = {path_of("w_f32/model.safetensors")};
    rc = write_set(path_of("w_f32"), ST_F32, 0, 1, 1, in_file, &e);
    CHECK_MSG(rc == RP_EINPUT && strstr(e.msg, "one of the inputs"), "%s", e.msg);
    const char *in_dir[] = {path_of("w_bf16")};
    rc = write_set(path_of("w_bf16"), ST_F32, 0, 1, 1, in_dir, &e);
    CHECK_MSG(rc == RP_EINPUT && strstr(e.msg, "input directory"), "%s", e.msg);
    check_set(path_of("w_bf16"), ST_BF16, 1);

    /* Refused names and dtypes. */
    STWriter *w;
    STWriteOptions o = {.dtype = ST_F16};
    CHECK(st_writer_open(path_of("w_x"), &o, &w, &e) == RP_EINPUT);
    o.dtype = ST_F32;
    CHECK_OK(st_writer_open(path_of("w_x"), &o, &w, &e), &e);
    uint64_t one = 1;
    CHECK(st_writer_add(w, "", 1, &one, w_data[0], &e) == RP_EINPUT);
    CHECK(st_writer_add(w, "__metadata__", 1, &one, w_data[0], &e) == RP_EINPUT);
    CHECK(st_writer_add(w, "\xff", 1, &one, w_data[0], &e) == RP_EINPUT);
    CHECK_OK(st_writer_add(w, "a", 1, &one, w_data[0], &e), &e);
    CHECK(st_writer_add(w, "a", 1, &one, w_data[0], &e) == RP_EINPUT);
    st_writer_free(w);
    CHECK(!path_exists(path_of("w_x/model.safetensors")));

    /* A write that fails midway (the file size limit stops the second shard) leaves nothing. */
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 1024;
    signal(SIGXFSZ, SIG_IGN);
    mkdir(path_of("w_fail"), 0777);
    if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
        rc = write_set(path_of("w_fail"), ST_F32, 500, 0, 0, NULL, &e);
        int rc2 = write_set(path_of("w_fail_new/sub"), ST_F32, 500, 0, 0, NULL, &e);
        setrlimit(RLIMIT_FSIZE, &old);
        CHECK_MSG(rc == RP_EIO && strstr(e.msg, "model-00003-of-00003.safetensors"), "rc %d: %s", rc, e.msg);
        CHECK_MSG(count_entries(path_of("w_fail")) == 0, "w_fail holds %zu files", count_entries(path_of("w_fail")));
        CHECK(rc2 == RP_EIO && !path_exists(path_of("w_fail_new/sub"))); /* the directory it made goes too */
    }
    signal(SIGXFSZ, SIG_DFL);
}

/* Every check of the reader on hand-made headers. */
static void test_bad_headers(void) {
    const char *p = path_of("bad.safetensors");
    const char *good = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[8,14]}}";
    mk(p, good, 14);
    STFile *f = NULL;
    Error e;
    CHECK_OK(st_open(p, &f, &e), &e);
    st_close(f);
    mk(p, good, 13);
    expect_bad(p, "run past the end of the data section");
    mk(p, good, 15);
    expect_bad(p, "last 1 bytes of the file belong to no tensor");
    write_bytes(p, "\x10\0\0", 3);
    expect_bad(p, "too short");
    mk_raw(p, 1000, "{}", 0);
    expect_bad(p, "header length 1000 runs past the end");
    mk_raw(p, 200000000, "{}", 0);
    expect_bad(p, "over the limit");
    mk(p, "[1, 2]", 0);
    expect_bad(p, "does not start with '{'");
    mk(p, "{\"a\": }", 0);
    expect_bad(p, "not valid JSON");
    mk(p, "{} x", 0);
    expect_bad(p, "bytes after the JSON object");
    mk(p, "{\"\xc3\x28\": 1}", 0);
    expect_bad(p, "not valid UTF-8");
    write_bytes(p, "\x03\0\0\0\0\0\0\0{\0}", 11);
    expect_bad(p, "NUL byte");
    mk(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
          "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12);
    expect_bad(p, "tensors 'a' and 'b' overlap");
    mk(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
          "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12);
    expect_bad(p, "bytes 4..8 of the data section belong to no tensor");
    mk(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
    expect_bad(p, "hold 8 bytes, but dtype F32 and shape [3] need 12");
    mk(p, "{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    expect_bad(p, "dtype 'F33' is not a safetensors dtype");
    mk(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8);
    expect_bad(p, "tensor 'a': shape[0] is not a whole number");
    mk(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,8]}}", 8);
    expect_bad(p, "shape[0]");
    mk(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8);
    expect_bad(p, "shape is not a JSON array");
    mk(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8);
    expect_bad(p, "data_offsets is not [BEGIN, END]");
    mk(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", 4);
    expect_bad(p, "end before they begin");
    mk(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8);
    expect_bad(p, "field 'data_offsets' is missing");
    mk(p, "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    expect_bad(p, "field 'dtype' is given more than once");
    mk(p, "{\"a\":{\"dtype\":7,\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    expect_bad(p, "dtype is not a string");
    mk(p, "{\"a\":[1]}", 0);
    expect_bad(p, "the entry is not a JSON object");
    mk(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
          "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8);
    expect_bad(p, "tensor 'a' appears twice");
    mk(p, "{\"__metadata__\":{\"k\":1}}", 0);
    expect_bad(p, "the value of 'k' is not a string");
    mk(p, "{\"__metadata__\":[]}", 0);
    expect_bad(p, "__metadata__ is not a JSON object");
    mk(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,0]}}", 0);
    expect_bad(p, "overflows 64 bits");
    mk(p, "{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,1]}}", 1);
    expect_bad(p, "not a whole number of bytes");
    mk(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[9007199254740993],\"data_offsets\":[0,8]}}", 8);
    expect_bad(p, "shape[0]");
    /* Valid corner cases: no tensors, an empty tensor anywhere, F4 pairs, extra entry keys. */
    mk(p, "{\"__metadata__\":{\"format\":\"pt\"}}   ", 0);
    CHECK_OK(st_open(p, &f, &e), &e);
    CHECK(f && st_tensor_count(f) == 0 && st_metadata_count(f) == 1);
    st_close(f);
    mk(p, "{\"e\":{\"dtype\":\"I8\",\"shape\":[0,9],\"data_offsets\":[1,1]},"
          "\"q\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[0,1],\"extra\":1},"
          "\"r\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[1,2]}}", 2);
    CHECK_OK(st_open(p, &f, &e), &e);
    if (f) {
        float v[2];
        CHECK(st_find(f, "r", NULL) && st_find(f, "r", NULL)->n_elems == 1);
        int rc = st_read_f32(f, "q", v, &e);
        CHECK_MSG(rc == RP_EINPUT && strstr(e.msg, "'q' has dtype F4"), "%s", e.msg);
        rc = st_read_f32(f, "zz", v, &e);
        CHECK_MSG(rc == RP_EINPUT && strstr(e.msg, "no tensor 'zz'"), "%s", e.msg);
    }
    st_close(f);
}

/* Every truncation and many byte changes of a valid file: each opens or fails cleanly. */
static void test_mangled(void) {
    const char *src = path_of("w_f32/model.safetensors");
    FILE *fp = fopen(src, "rb");
    uint8_t *b = malloc(1 << 16);
    size_t n = fp ? fread(b, 1, 1 << 16, fp) : 0;
    if (fp) fclose(fp);
    CHECK(n > 100);
    const char *p = path_of("mangled.safetensors");
    int opened = 0, refused = 0;
    for (size_t len = 0; len < n; len++) {
        write_bytes(p, b, len);
        expect_bad(p, "");
    }
    uint64_t hlen;
    memcpy(&hlen, b, 8);
    for (size_t at = 0; at < 8 + hlen && at < n; at++)
        for (int flip = 0; flip < 3; flip++) {
            uint8_t keep = b[at];
            b[at] ^= flip == 0 ? 0xff : flip == 1 ? 0x01 : 0x20;
            write_bytes(p, b, n);
            b[at] = keep;
            STFile *f = NULL;
            Error e;
            int rc = st_open(p, &f, &e);
            if (rc) {
                refused++;
                CHECK_MSG(rc == RP_EINPUT && strstr(e.msg, p), "rc %d: %s", rc, e.msg);
                continue;
            }
            opened++;
            for (size_t i = 0; i < st_tensor_count(f); i++) {
                const STTensor *t = st_tensor_at(f, i);
                float *v = malloc(t->n_elems * sizeof *v + 4);
                int r = v && t->n_elems < (1u << 20) ? st_tensor_read_f32(f, i, v, &e) : RP_OK;
                CHECK_MSG(r == RP_OK || (r == RP_EINPUT && strstr(e.msg, p)), "%s", e.msg);
                free(v);
            }
            st_close(f);
        }
    printf("mangled headers: %d refused, %d opened\n", refused, opened);
    free(b);
}

static void test_bad_index(void) {
    const char *d = path_of("idx");
    mkdir(d, 0777);
    mk(path_of("idx/s1.safetensors"), "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                                      "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8);
    mk(path_of("idx/s2.safetensors"), "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    const char *ip = path_of("idx/model.safetensors.index.json");
#define INDEX(text) write_bytes(ip, text, strlen(text))
    INDEX("{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\"}}");
    STDir *dd = NULL;
    Error e;
    CHECK_OK(st_dir_open(d, &dd, &e), &e);
    CHECK(dd && st_dir_tensor_count(dd) == 2 && st_dir_file_count(dd) == 1);
    st_dir_close(dd);
    INDEX("{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\",\"c\":\"missing.safetensors\"}}");
    expect_bad_dir(d, "index.json: weight_map: tensor 'c' is in shard 'missing.safetensors'", "cannot open");
    INDEX("{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s1.safetensors\",\"c\":\"s2.safetensors\"}}");
    expect_bad_dir(d, "index.json: weight_map: tensor 'c' is in shard 's2.safetensors'", "does not hold it");
    INDEX("{\"weight_map\":{\"a\":\"s1.safetensors\",\"b\":\"s2.safetensors\"}}");
    expect_bad_dir(d, "index.json: tensor 'b' is in two shards", "'s1.safetensors' holds it too");
    INDEX("{\"weight_map\":{\"a\":\"s1.safetensors\"}}");
    expect_bad_dir(d, "index.json: shard 's1.safetensors' holds tensor 'b'", "does not list");
    INDEX("{\"weight_map\":{\"a\":\"../s1.safetensors\"}}");
    expect_bad_dir(d, "index.json: weight_map: tensor 'a'", "not a file name");
    INDEX("{\"weight_map\":{\"a\":\"s1.safetensors\",\"a\":\"s1.safetensors\"}}");
    expect_bad_dir(d, "index.json: weight_map: tensor 'a'", "listed twice");
    INDEX("{\"metadata\":{}}");
    expect_bad_dir(d, "index.json", "weight_map is missing");
    INDEX("{\"weight_map\":");
    expect_bad_dir(d, "index.json", "not valid JSON");
    unlink(ip);
    expect_bad_dir(d, "idx", "neither model.safetensors.index.json nor model.safetensors");
    expect_bad_dir(path_of("nothing_here"), "nothing_here", "cannot open");
#undef INDEX
}

int main(void) {
    const char *tmp = getenv("RESTPG_TEST_TMP");
    snprintf(root, sizeof root, "%s/test_safetensors_%d", tmp ? tmp : "/tmp", (int)getpid());
    if (mkdir(root, 0777) != 0) {
        perror(root);
        return 1;
    }
    test_bf16();
    test_writer();
    test_bad_headers();
    test_mangled();
    test_bad_index();
    for (int i = 0; i < NT; i++) free(w_data[i]);
    nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return test_summary("test_safetensors");
}

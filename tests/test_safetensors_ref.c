/* The C side of the comparison with PyPI's safetensors (driven by tests/safetensors_ref.sh):
 *
 *   test_safetensors_ref DIR
 *
 * 1. Reads DIR/manifest.jsonl, written with DIR/ref/ by `safetensors_ref.py write`: every file or
 *    directory it lists must open with st_dir_open and hold exactly its tensors (name, dtype,
 *    shape, shard) and metadata; float tensors must read back bit for bit as numpy widened them to
 *    float32 (DIR/expect/N.f32); the other dtypes must be refused, naming the tensor and dtype.
 * 2. Writes tensors with restpg's writer into DIR/w/ (F32, BF16, sharded F32 and BF16) and dumps
 *    their fp32 inputs (DIR/w/inputs.jsonl, DIR/w/in_N.f32) and the outputs made
 *    (DIR/w/outputs.jsonl) for `safetensors_ref.py check`, which reads them with safe_open. */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "core/error.h"
#include "core/fileio.h"
#include "core/text.h"
#include "model/safetensors.h"
#include "tests/test.h"

static const char *root;

static char *rel(const char *r) {
    static char buf[4][2048];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", root, r);
    return buf[k];
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* One "file" line: the path opens and holds `count` tensors and (for a file) this metadata. */
static STDir *check_file(const cJSON *ln) {
    const char *path = cJSON_GetObjectItem(ln, "path")->valuestring;
    STDir *d = NULL;
    Error e;
    CHECK_OK(st_dir_open(rel(path), &d, &e), &e);
    if (!d) return NULL;
    int count = cJSON_GetObjectItem(ln, "count")->valueint;
    CHECK_MSG(st_dir_tensor_count(d) == (size_t)count, "%s: %zu tensors, want %d", path, st_dir_tensor_count(d), count);
    const cJSON *meta = cJSON_GetObjectItem(ln, "metadata");
    if (cJSON_IsObject(meta)) {
        const STFile *f = st_dir_file(d, 0);
        CHECK_MSG(st_metadata_count(f) == (size_t)cJSON_GetArraySize(meta), "%s: metadata count", path);
        for (const cJSON *m = meta->child; m; m = m->next)
            CHECK_STR(st_metadata_get(f, m->string), m->valuestring);
    }
    return d;
}

/* One "tensor" line against the open directory. */
static void check_tensor(const STDir *d, const cJSON *ln) {
    const char *name = cJSON_GetObjectItem(ln, "name")->valuestring;
    const STFile *f = NULL;
    const STTensor *t = st_dir_find(d, name, &f);
    CHECK_MSG(t, "tensor '%s' not found", name);
    if (!t) return;
    CHECK_STR(st_dtype_name(t->dtype), cJSON_GetObjectItem(ln, "dtype")->valuestring);
    CHECK_STR(base_name(st_path(f)), cJSON_GetObjectItem(ln, "shard")->valuestring);
    const cJSON *shape = cJSON_GetObjectItem(ln, "shape");
    int same = t->n_dims == (size_t)cJSON_GetArraySize(shape);
    size_t k = 0;
    for (const cJSON *c = shape->child; c && same; c = c->next, k++) same = t->shape[k] == (uint64_t)c->valuedouble;
    CHECK_MSG(same, "tensor '%s': shape differs", name);
    const cJSON *ex = cJSON_GetObjectItem(ln, "expect");
    float *got = malloc((t->n_elems + 1) * sizeof *got), *want = malloc((t->n_elems + 1) * sizeof *want);
    Error e;
    if (cJSON_IsString(ex)) {
        FILE *fp = fopen(rel(ex->valuestring), "rb");
        size_t n = fp ? fread(want, sizeof *want, t->n_elems + 1, fp) : 0;
        if (fp) fclose(fp);
        CHECK_MSG(n == t->n_elems, "tensor '%s': %zu expected values for %llu elements", name, n,
                  (unsigned long long)t->n_elems);
        CHECK_OK(st_dir_read_f32(d, name, got, &e), &e);
        CHECK_MSG(n == t->n_elems && !memcmp(got, want, n * sizeof *got), "tensor '%s' (%s): values differ from numpy's",
                  name, st_dtype_name(t->dtype));
    } else {
        int rc = st_dir_read_f32(d, name, got, &e);
        CHECK_MSG(rc == RP_EINPUT && strstr(e.msg, name) && strstr(e.msg, st_dtype_name(t->dtype)), "rc %d: %s", rc,
                  e.msg);
    }
    free(got);
    free(want);
}

static void check_references(void) {
    FILE *fp = fopen(rel("manifest.jsonl"), "r");
    CHECK_MSG(fp, "no %s", rel("manifest.jsonl"));
    if (!fp) return;
    char *line = NULL;
    size_t cap = 0;
    STDir *d = NULL;
    int files = 0, tensors = 0;
    while (getline(&line, &cap, fp) > 0) {
        cJSON *ln = cJSON_Parse(line);
        const char *kind = cJSON_GetObjectItem(ln, "kind")->valuestring;
        if (!strcmp(kind, "file")) {
            st_dir_close(d);
            d = check_file(ln);
            files++;
        } else if (d) {
            check_tensor(d, ln);
            tensors++;
        }
        cJSON_Delete(ln);
    }
    st_dir_close(d);
    free(line);
    fclose(fp);
    printf("references: %d tensors in %d files and directories\n", tensors, files);
}

#define NW 8
static const char *const NAMES[NW] = {"bits.random", "bits.ties", "specials", "scalar", "empty", "odd",
                                      "ünïcode.名前/x \"q\"", "big"};
static const size_t DIMS[NW] = {2, 2, 1, 0, 2, 3, 2, 2};
static const uint64_t SHAPES[NW][3] = {{64, 64}, {3, 128}, {16}, {0}, {0, 5}, {3, 5, 7}, {2, 2}, {40, 40}};
static const uint32_t SPECIAL_BITS[16] = {0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u,
                                          0xffc00000u, 0x7f800001u, 0xffbfffffu, 0x7fffffffu, 0x7f7fffffu,
                                          0xff7fffffu, 0x7f7f7fffu, 0x00000001u, 0x00018000u, 0x3f800000u,
                                          0x3f808000u};

/* The writer's inputs: random bit patterns of every class, rounding ties, specials, odd shapes. */
static float *make_input(int i, uint64_t n, uint64_t *state) {
    float *v = malloc((n + 1) * sizeof *v);
    for (uint64_t k = 0; k < n; k++) {
        *state = *state * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t r = (uint32_t)(*state >> 32), u = r;
        if (i == 1) u = (r & 0xffff0000u) | (k % 3 == 0 ? 0x8000u : k % 3 == 1 ? 0x7fffu : 0x8001u);
        if (i == 2) u = SPECIAL_BITS[k];
        if (i >= 3) {
            float x = ((float)(r >> 8) / 16777216.0f - 0.5f) * 100.0f;
            memcpy(&u, &x, 4);
        }
        memcpy(&v[k], &u, 4);
    }
    return v;
}

static void write_outputs(void) {
    Error e;
    CHECK_OK(mkdir_p(rel("w"), &e), &e);
    float *data[NW];
    uint64_t state = 99;
    StrBuf in;
    strbuf_init(&in);
    for (int i = 0; i < NW; i++) {
        uint64_t n = 1;
        for (size_t k = 0; k < DIMS[i]; k++) n *= SHAPES[i][k];
        data[i] = make_input(i, n, &state);
        char raw[64];
        snprintf(raw, sizeof raw, "w/in_%d.f32", i);
        FILE *fp = fopen(rel(raw), "wb");
        CHECK(fp && fwrite(data[i], sizeof(float), n, fp) == n && !fclose(fp));
        strbuf_puts(&in, "{\"name\": ", NULL);
        strbuf_json_string(&in, NAMES[i], NULL);
        strbuf_puts(&in, ", \"shape\": [", NULL);
        for (size_t k = 0; k < DIMS[i]; k++) strbuf_printf(&in, NULL, "%s%llu", k ? ", " : "", (unsigned long long)SHAPES[i][k]);
        strbuf_printf(&in, NULL, "], \"raw\": \"%s\"}\n", raw);
    }
    CHECK_OK(atomic_write(rel("w/inputs.jsonl"), in.s, in.len, &e), &e);
    /* F32 limit 6000: [random] [ties .. unicode] [big]; BF16 limit 1000: four shards. */
    const struct {
        const char *dir;
        STDtype dt;
        uint64_t shard;
    } outs[] = {{"w/f32", ST_F32, 0}, {"w/bf16", ST_BF16, 0}, {"w/f32_shards", ST_F32, 6000},
                {"w/bf16_shards", ST_BF16, 1000}};
    StrBuf ol;
    strbuf_init(&ol);
    for (size_t o = 0; o < sizeof outs / sizeof *outs; o++) {
        STWriteOptions opt = {.dtype = outs[o].dt, .shard_bytes = outs[o].shard};
        STWriter *w = NULL;
        CHECK_OK(st_writer_open(rel(outs[o].dir), &opt, &w, &e), &e);
        for (int i = 0; i < NW && w; i++) CHECK_OK(st_writer_add(w, NAMES[i], DIMS[i], SHAPES[i], data[i], &e), &e);
        if (w) CHECK_OK(st_writer_finish(w, &e), &e);
        st_writer_free(w);
        strbuf_printf(&ol, NULL, "{\"dir\": \"%s\", \"dtype\": \"%s\", \"shard_bytes\": %llu}\n", outs[o].dir,
                      st_dtype_name(outs[o].dt), (unsigned long long)outs[o].shard);
    }
    CHECK_OK(atomic_write(rel("w/outputs.jsonl"), ol.s, ol.len, &e), &e);
    strbuf_free(&in);
    strbuf_free(&ol);
    for (int i = 0; i < NW; i++) free(data[i]);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: test_safetensors_ref DIR (see tests/safetensors_ref.sh)\n");
        return 2;
    }
    root = argv[1];
    check_references();
    write_outputs();
    return test_summary("test_safetensors_ref");
}

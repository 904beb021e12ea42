/* Bit flips at many offsets of a training checkpoint (config attributes, parameters, AdamW moments,
 * tokenizer, RNG state, HDF5 metadata): each load must either fail with RP_EINPUT naming the file
 * (and, for a flip inside a dataset's stored chunk, naming that dataset: the fletcher32 checksum
 * catches it) or succeed with every tensor, the tokenizer and the training state identical (the flip
 * hit unused bytes). Never a crash, a hang, or a silently different model. Each load runs in a
 * forked child so a crash or hang in any library is seen as one, not as the end of the test.
 * Also: a checkpoint is not written when the model holds a NaN, and a NaN written into a stored
 * tensor (checksum recomputed) is refused by name. */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/h5.h"
#include "model/checkpoint.h"
#include "tests/test.h"

static char g_path[600], g_flip[600];

/* A stored chunk of a dataset: the bytes [addr, addr + size) of the file. */
typedef struct {
    char name[160];
    haddr_t addr;
    hsize_t size;
} Region;

static Region g_reg[256];
static int g_nreg;

static herr_t add_regions(hid_t loc, const char *name, const H5O_info_t *info, void *data) {
    (void)data;
    if (info->type != H5O_TYPE_DATASET) return 0;
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    hsize_t n = 0;
    hid_t sp = H5Dget_space(ds);
    CHECK(H5Dget_num_chunks(ds, sp, &n) >= 0 && n > 0);
    for (hsize_t i = 0; i < n && g_nreg < 256; i++) {
        Region *r = &g_reg[g_nreg++];
        hsize_t off[2];
        unsigned mask;
        CHECK(H5Dget_chunk_info(ds, sp, i, off, &mask, &r->addr, &r->size) >= 0);
        const char *base = strrchr(name, '/');
        snprintf(r->name, sizeof r->name, "%s", base ? base + 1 : name);
    }
    H5Sclose(sp);
    H5Dclose(ds);
    return 0;
}

static const Region *region_at(long off) {
    for (int i = 0; i < g_nreg; i++)
        if ((haddr_t)off >= g_reg[i].addr && (haddr_t)off < g_reg[i].addr + g_reg[i].size) return &g_reg[i];
    return NULL;
}

static Tokenizer *make_tokenizer(Error *e) {
    char *texts[] = {"the quick brown fox jumps over the lazy dog", "the lazy dog sleeps", "quick quick fox"};
    Tokenizer *t = NULL;
    CHECK_OK(tokenizer_train(texts, 3, 300, &t, e), e);
    return t;
}

/* Everything a load yields, flattened for comparison. */
typedef struct {
    float *params, *mom;
    size_t np;
    uint8_t *tok;
    size_t ntok;
    CheckpointMeta meta;
    GPTConfig cfg;
} Snapshot;

static int snapshot(Model *m, const Tokenizer *t, const CheckpointMeta *meta, Snapshot *s, Error *e) {
    memset(s, 0, sizeof *s);
    s->np = m->n_params;
    s->params = calloc(s->np, sizeof(float));
    s->mom = calloc(2 * s->np, sizeof(float));
    if (!s->params || !s->mom) return RP_ENOMEM;
    int rc = RP_OK;
    for (int k = 0; k < model_tensor_count(m) && !rc; k++)
        rc = model_tensor_download(m, 'p', k, s->params + model_tensor(m, k)->offset, e);
    if (!rc) rc = model_state_download(m, 'm', s->mom, e);
    if (!rc) rc = model_state_download(m, 'v', s->mom + s->np, e);
    if (!rc) rc = tokenizer_serialize(t, &s->tok, &s->ntok, e);
    s->meta = *meta;
    s->cfg = m->gpt2.cfg;
    return rc;
}

static int same_snapshot(const Snapshot *a, const Snapshot *b) {
    const CheckpointMeta *x = &a->meta, *y = &b->meta;
    int same = a->np == b->np && !memcmp(a->params, b->params, a->np * sizeof(float)) &&
               !memcmp(a->mom, b->mom, 2 * a->np * sizeof(float)) && a->ntok == b->ntok && !memcmp(a->tok, b->tok, a->ntok) &&
               x->step == y->step && x->rng_state == y->rng_state && x->data_epoch == y->data_epoch &&
               x->data_pos == y->data_pos && x->n_opts == y->n_opts && x->has_train == y->has_train &&
               a->cfg.n_layer == b->cfg.n_layer && a->cfg.n_head == b->cfg.n_head && a->cfg.n_embd == b->cfg.n_embd &&
               a->cfg.n_positions == b->cfg.n_positions && a->cfg.vocab_size == b->cfg.vocab_size;
    for (int i = 0; same && i < x->n_opts; i++)
        same = !strcmp(x->opt_name[i], y->opt_name[i]) && x->opt_value[i] == y->opt_value[i];
    return same;
}

enum { CHILD_SAME = 0, CHILD_REFUSED = 2, CHILD_DIFFERENT = 10, CHILD_UNNAMED = 11, CHILD_OTHER_RC = 12 };

/* In the child: loads the flipped file and classifies the outcome (the exit status). */
static int child_load(const Snapshot *want, const Region *reg) {
    alarm(20);
    Model m;
    Tokenizer *t = NULL;
    CheckpointMeta meta;
    Error e;
    int rc = checkpoint_load(g_flip, &m, &t, &meta, &e);
    if (rc == RP_EINPUT) {
        if (!strstr(e.msg, g_flip) || (reg && !strstr(e.msg, reg->name))) {
            fprintf(stderr, "unnamed: %s\n", e.msg);
            return CHILD_UNNAMED;
        }
        return CHILD_REFUSED;
    }
    if (rc) {
        fprintf(stderr, "rc %d: %s\n", rc, e.msg);
        return CHILD_OTHER_RC;
    }
    Snapshot got;
    int ok = !snapshot(&m, t, &meta, &got, &e) && same_snapshot(want, &got);
    return ok ? CHILD_SAME : CHILD_DIFFERENT;
}

static void write_file(const char *path, const unsigned char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(b, 1, n, f) == n);
    if (f) fclose(f);
}

static void test_flips(const Snapshot *want) {
    FILE *f = fopen(g_path, "rb");
    CHECK(f != NULL);
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    unsigned char *b = malloc((size_t)n);
    CHECK(b && fread(b, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    hid_t h = H5Fopen(g_path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(h >= 0 && H5Ovisit(h, H5_INDEX_NAME, H5_ITER_INC, add_regions, NULL) >= 0);
    H5Fclose(h);
    CHECK(g_nreg >= 5); /* params..., tokenizer, adam_m, adam_v, rng/state */
    /* About 2500 offsets over the whole file, plus 16 inside every stored chunk. */
    long stride = n / 2500 > 1 ? n / 2500 : 1;
    long n_off = 0, *offs = malloc(sizeof(long) * (size_t)(n / stride + 16 * g_nreg + 1));
    for (long o = 0; o < n; o += stride) offs[n_off++] = o;
    for (int i = 0; i < g_nreg; i++)
        for (int j = 0; j < 16; j++) offs[n_off++] = (long)g_reg[i].addr + (long)(g_reg[i].size * (hsize_t)j / 16);
    int count[16] = {0}, crashed = 0, in_data = 0, data_refused = 0;
    for (long q = 0; q < n_off; q++) {
        long off = offs[q];
        unsigned char bit = (unsigned char)(1u << ((off * 5 + q) % 8));
        b[off] ^= bit;
        write_file(g_flip, b, (size_t)n);
        b[off] ^= bit;
        const Region *reg = region_at(off);
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) _exit(child_load(want, reg));
        int st = 0;
        CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
        if (!WIFEXITED(st)) {
            crashed++;
            CHECK_MSG(0, "flip of bit 0x%02x at offset %ld (%s): the load died of signal %d", bit, off, reg ? reg->name : "metadata",
                      WIFSIGNALED(st) ? WTERMSIG(st) : -1);
            continue;
        }
        int code = WEXITSTATUS(st);
        count[code < 16 ? code : 15]++;
        in_data += reg != NULL;
        data_refused += reg && code == CHILD_REFUSED;
        CHECK_MSG(code == CHILD_SAME || code == CHILD_REFUSED, "flip of bit 0x%02x at offset %ld (%s): outcome %d", bit, off,
                  reg ? reg->name : "metadata", code);
    }
    /* fletcher32 catches every single-bit flip inside a chunk. */
    CHECK_MSG(in_data > 0 && data_refused == in_data, "%d of %d flips inside stored chunks refused", data_refused, in_data);
    printf("flips: %ld offsets of %ld bytes (%d inside stored chunks): %d refused, %d loaded identical, %d crashed\n", n_off, n,
           in_data, count[CHILD_REFUSED], count[CHILD_SAME], crashed);
    free(offs);
    free(b);
    unlink(g_flip);
}

/* A model holding a NaN is not written, and nothing is left at the path. */
static void test_save_refuses_nan(Model *m, const Tokenizer *t) {
    Error e;
    float *w = malloc(model_tensor(m, 2)->numel * sizeof(float));
    CHECK_OK(model_tensor_download(m, 'p', 2, w, &e), &e);
    float keep = w[1];
    w[1] = NAN;
    CHECK_OK(model_tensor_upload(m, 'p', 2, w, &e), &e);
    unlink(g_flip);
    int rc = checkpoint_save(g_flip, m, t, NULL, &e);
    CHECK_MSG(rc == RP_EINPUT && strstr(e.msg, g_flip) && strstr(e.msg, "transformer.h.0.ln_1.weight") && strstr(e.msg, "index 1"),
              "rc %d: %s", rc, e.msg);
    CHECK(access(g_flip, F_OK) != 0);
    w[1] = keep;
    CHECK_OK(model_tensor_upload(m, 'p', 2, w, &e), &e);
    free(w);
}

/* A NaN written into a stored tensor with a valid checksum (as h5py would write it) is refused by
 * name and index. */
static void test_load_refuses_nan(void) {
    hid_t f = H5Fopen(g_flip, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK(f >= 0);
    hid_t ds = H5Dopen2(f, "/optimizer/adam_v", H5P_DEFAULT);
    hsize_t n = H5Sget_simple_extent_npoints(H5Dget_space(ds));
    float *v = malloc(n * sizeof(float));
    CHECK(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    v[n - 1] = INFINITY;
    CHECK(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    free(v);
    H5Dclose(ds);
    H5Fclose(f);
    Model m;
    Tokenizer *t = NULL;
    CheckpointMeta meta;
    Error e;
    int rc = checkpoint_load(g_flip, &m, &t, &meta, &e);
    char idx[64];
    snprintf(idx, sizeof idx, "index %llu", (unsigned long long)(n - 1));
    CHECK_MSG(rc == RP_EINPUT && strstr(e.msg, g_flip) && strstr(e.msg, "adam_v") && strstr(e.msg, idx), "rc %d: %s", rc, e.msg);
}

int main(void) {
    const char *tmp = getenv("RESTPG_TEST_TMP");
    snprintf(g_path, sizeof g_path, "%s/test_checkpoint_flips_%d.h5", tmp ? tmp : "/tmp", (int)getpid());
    snprintf(g_flip, sizeof g_flip, "%s/test_checkpoint_flips_%d.flip.h5", tmp ? tmp : "/tmp", (int)getpid());
    h5_init();
    Error e;
    Tokenizer *t = make_tokenizer(&e);
    Model m;
    GPTConfig c = {.vocab_size = tokenizer_vocab_size(t), .n_layer = 2, .n_head = 2, .n_embd = 8, .n_positions = 12};
    CHECK_OK(gpt_config_check(&c, &e), &e);
    CHECK_OK(model_init(&m, &(ModelConfig){.arch = ARCH_GPT2, .gpt2 = c}, &e), &e);
    CHECK_OK(model_init_random(&m, 11, &e), &e);
    CHECK_OK(model_opt_reset(&m, &e), &e);
    /* Moments that are not all zero, so a flip in them changes something. */
    float *mom = malloc(m.n_params * sizeof(float));
    for (size_t i = 0; i < m.n_params; i++) mom[i] = 1e-3f * (float)(i % 97);
    CHECK_OK(model_state_upload(&m, 'm', mom, &e), &e);
    CHECK_OK(model_state_upload(&m, 'v', mom, &e), &e);
    free(mom);
    CheckpointMeta meta;
    checkpoint_meta_init(&meta);
    meta.has_train = 1;
    meta.step = 7;
    meta.rng_state = 0x0123456789abcdefULL;
    meta.data_epoch = 1;
    meta.data_pos = 3;
    CHECK_OK(checkpoint_meta_set_opt(&meta, "seed", 5, &e), &e);
    CHECK_OK(checkpoint_save(g_path, &m, t, &meta, &e), &e);
    Snapshot want;
    CHECK_OK(snapshot(&m, t, &meta, &want, &e), &e);

    test_flips(&want);
    test_save_refuses_nan(&m, t);
    CHECK_OK(checkpoint_save(g_flip, &m, t, &meta, &e), &e);
    test_load_refuses_nan();

    unlink(g_path);
    unlink(g_flip);
    free(want.params);
    free(want.mom);
    free(want.tok);
    model_free(&m);
    tokenizer_free(t);
    return test_summary("test_checkpoint_flips");
}

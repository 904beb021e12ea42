/* Checkpoints and llm.c files: bitwise round trips (parameters, moments, step, RNG, data position,
 * run options, tokenizer), HF layout transposes, and every bad-file case giving RP_EINPUT with a
 * message naming the file: truncated, not HDF5, wrong format, newer version, shape mismatch,
 * config mismatch with the tokenizer; llm.c wrong magic/version, truncated, vocabulary too big. */
#include <stdlib.h>
#include <unistd.h>

#include "core/h5.h"
#include "model/checkpoint.h"
#include "model/llmc.h"
#include "tests/test.h"

static char g_path[600], g_bin[600];

static Tokenizer *make_tokenizer(Error *e) {
    char *texts[] = {"the quick brown fox jumps over the lazy dog", "the lazy dog sleeps", "quick quick fox"};
    Tokenizer *t = NULL;
    CHECK_OK(tokenizer_train(texts, 3, 300, &t, e), e);
    return t;
}

static void make_model(Model *m, int V, Error *e) {
    GPTConfig c = {.vocab_size = V, .n_layer = 2, .n_head = 2, .n_embd = 8, .n_positions = 12};
    CHECK_OK(gpt_config_check(&c, e), e);
    CHECK_OK(model_init(m, &(ModelConfig){.arch = ARCH_GPT2, .gpt2 = c}, e), e);
    CHECK_OK(model_init_random(m, 11, e), e);
}

static int same_floats(const float *a, const float *b, size_t n) { return !memcmp(a, b, n * sizeof(float)); }

/* Rewrites one attribute (or, with name NULL, one dataset) of the checkpoint in place. */
static void poke_attr(const char *name, int64_t v) {
    hid_t f = H5Fopen(g_path, H5F_ACC_RDWR, H5P_DEFAULT);
    Error e;
    CHECK(f >= 0);
    CHECK_OK(h5_attr_set_i64(f, name, v, &e), &e);
    H5Fclose(f);
}

static void expect_load_error(const char *what, const char *needle) {
    Model m;
    Tokenizer *t = NULL;
    CheckpointMeta meta;
    Error e;
    int rc = checkpoint_load(g_path, &m, &t, &meta, &e);
    CHECK_MSG(rc == RP_EINPUT, "%s: rc %d (%s)", what, rc, e.msg);
    CHECK_MSG(strstr(e.msg, g_path) && strstr(e.msg, needle), "%s: message '%s' lacks the file or '%s'", what, e.msg, needle);
}

static void test_roundtrip(Tokenizer *t) {
    Error e;
    Model m;
    make_model(&m, tokenizer_vocab_size(t), &e);
    CheckpointMeta meta;
    checkpoint_meta_init(&meta);
    meta.has_train = 1;
    meta.step = 17;
    meta.rng_state = 0x123456789abcdef0ULL;
    meta.data_epoch = 3;
    meta.data_pos = 5;
    /* The moments live in the model (the CPU backend's memory is host memory). */
    CHECK_OK(model_opt_reset(&m, &e), &e);
    for (size_t i = 0; i < m.n_params; i++) m.gpt2.store.mem[2][i] = (float)i * 1e-3f, m.gpt2.store.mem[3][i] = 1.0f / (float)(i + 1);
    CHECK_OK(checkpoint_meta_set_opt(&meta, "lr", 3e-4, &e), &e);
    CHECK_OK(checkpoint_meta_set_opt(&meta, "seed", 9, &e), &e);
    CHECK_OK(checkpoint_save(g_path, &m, t, &meta, &e), &e);

    Model r;
    Tokenizer *rt = NULL;
    CheckpointMeta got;
    CHECK_OK(checkpoint_load(g_path, &r, &rt, &got, &e), &e);
    CHECK(r.n_params == m.n_params && same_floats(r.gpt2.store.mem[0], m.gpt2.store.mem[0], m.n_params));
    CHECK(got.has_train && got.step == 17 && got.rng_state == meta.rng_state && got.data_epoch == 3 && got.data_pos == 5);
    CHECK(same_floats(r.gpt2.store.mem[2], m.gpt2.store.mem[2], m.n_params) && same_floats(r.gpt2.store.mem[3], m.gpt2.store.mem[3], m.n_params));
    double v = 0;
    CHECK(checkpoint_meta_get_opt(&got, "lr", &v) && v == 3e-4);
    CHECK(checkpoint_meta_get_opt(&got, "seed", &v) && v == 9);
    CHECK(rt && tokenizer_vocab_size(rt) == tokenizer_vocab_size(t));
    model_free(&r);
    tokenizer_free(rt);

    /* HF's Conv1D layout is the transpose of ours: c_attn.weight[i][j] = qkvw[j][i] of layer 1. */
    hid_t f;
    CHECK_OK(h5_open_read(g_path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, &f, &e), &e);
    hsize_t dims[2];
    float *w = NULL;
    CHECK_OK(h5_read_array(f, "params/transformer.h.1.attn.c_attn.weight", H5T_NATIVE_FLOAT, 2, dims, (void **)&w, &e), &e);
    size_t C = 8;
    CHECK(dims[0] == C && dims[1] == 3 * C);
    const float *q = m.gpt2.params.qkvw + 3 * C * C; /* layer 1 of qkvw [3C, C] */
    int ok = 1;
    for (size_t i = 0; w && i < C; i++)
        for (size_t j = 0; j < 3 * C; j++) ok &= w[i * 3 * C + j] == q[j * C + i];
    CHECK(ok);
    free(w);
    CHECK_OK(h5_read_array(f, "params/transformer.wte.weight", H5T_NATIVE_FLOAT, 2, dims, (void **)&w, &e), &e);
    CHECK(dims[0] == (hsize_t)tokenizer_vocab_size(t) && dims[1] == C); /* real rows only */
    free(w);
    h5_close(f);

    /* Weights-only checkpoints load without train state. */
    CHECK_OK(checkpoint_save(g_path, &m, t, NULL, &e), &e);
    CHECK_OK(checkpoint_load(g_path, &r, &rt, &got, &e), &e);
    CHECK(!got.has_train && same_floats(r.gpt2.store.mem[0], m.gpt2.store.mem[0], m.n_params));
    model_free(&r);
    tokenizer_free(rt);
    model_free(&m);
}

static void test_bad_files(Tokenizer *t) {
    Error e;
    Model m;
    make_model(&m, tokenizer_vocab_size(t), &e);
    CHECK_OK(checkpoint_save(g_path, &m, t, NULL, &e), &e);

    poke_attr("version", 99);
    expect_load_error("version", "version 99 is not supported");
    CHECK_OK(checkpoint_save(g_path, &m, t, NULL, &e), &e);
    hid_t f = H5Fopen(g_path, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK_OK(h5_attr_set_str(f, "format", "restpg-dataset", &e), &e);
    H5Fclose(f);
    expect_load_error("format", "expected 'restpg-checkpoint'");

    /* Config says more vocabulary than the embedded tokenizer has (same padded size). */
    CHECK_OK(checkpoint_save(g_path, &m, t, NULL, &e), &e);
    poke_attr("vocab_size", tokenizer_vocab_size(t) + 1);
    expect_load_error("tokenizer mismatch", "config mismatch with the tokenizer");

    /* A tensor with the wrong shape. */
    CHECK_OK(checkpoint_save(g_path, &m, t, NULL, &e), &e);
    f = H5Fopen(g_path, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK(H5Ldelete(f, "params/transformer.h.0.mlp.c_fc.weight", H5P_DEFAULT) >= 0);
    hsize_t bad[2] = {8, 31};
    float *zeros = calloc(8 * 31, sizeof(float));
    hid_t g = H5Gopen2(f, "params", H5P_DEFAULT);
    CHECK_OK(h5_write_array(g, "transformer.h.0.mlp.c_fc.weight", H5T_NATIVE_FLOAT, 2, bad, zeros, &e), &e);
    free(zeros);
    H5Gclose(g);
    H5Fclose(f);
    expect_load_error("shape", "shape mismatch");

    /* Layer count disagrees with the tensors present. */
    CHECK_OK(checkpoint_save(g_path, &m, t, NULL, &e), &e);
    poke_attr("n_layer", 3);
    expect_load_error("config", "transformer.h.2.");

    /* Truncated at several points: always a clear error, never a crash. */
    CHECK_OK(checkpoint_save(g_path, &m, t, NULL, &e), &e);
    FILE *fp = fopen(g_path, "rb");
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fclose(fp);
    for (int k = 1; k <= 4; k++) {
        CHECK_OK(checkpoint_save(g_path, &m, t, NULL, &e), &e);
        CHECK(truncate(g_path, size * k / 5) == 0);
        expect_load_error("truncated", "");
    }
    fp = fopen(g_path, "wb");
    fputs("garbage", fp);
    fclose(fp);
    expect_load_error("garbage", "not an HDF5 file");
    unlink(g_path);
    expect_load_error("missing", "no such file");
    model_free(&m);
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(p, 1, n, f);
    fclose(f);
}

static void expect_llmc_error(const Tokenizer *t, const char *what, const char *needle) {
    Model m;
    int v = 0;
    Error e;
    int rc = llmc_load(g_bin, t, &m, &v, &e);
    CHECK_MSG(rc == RP_EINPUT, "%s: rc %d", what, rc);
    CHECK_MSG(strstr(e.msg, g_bin) && strstr(e.msg, needle), "%s: message '%s' lacks the file or '%s'", what, e.msg, needle);
}

static void test_llmc(Tokenizer *t) {
    Error e;
    Model m;
    int V = tokenizer_vocab_size(t);
    make_model(&m, V, &e);
    CHECK(!llmc_sniff(g_bin));
    CHECK_OK(llmc_save(g_bin, &m, V - 2, &e), &e);
    CHECK(llmc_sniff(g_bin));
    Model r;
    int fv = 0;
    CHECK_OK(llmc_load(g_bin, t, &r, &fv, &e), &e);
    CHECK(fv == V - 2 && r.gpt2.cfg.vocab_size == V && same_floats(r.gpt2.store.mem[0], m.gpt2.store.mem[0], m.n_params));
    model_free(&r);

    char *buf = NULL;
    size_t n = 0;
    FILE *f = fopen(g_bin, "rb");
    fseek(f, 0, SEEK_END);
    n = (size_t)ftell(f);
    rewind(f);
    buf = malloc(n);
    CHECK(fread(buf, 1, n, f) == n);
    fclose(f);
    int32_t *h = (int32_t *)buf;
    h[0] = 20240327;
    write_bytes(g_bin, buf, n);
    expect_llmc_error(t, "magic", "magic 20240327");
    h[0] = LLMC_MAGIC;
    h[1] = 1;
    write_bytes(g_bin, buf, n);
    expect_llmc_error(t, "version", "version 1 is not supported");
    h[1] = LLMC_VERSION;
    write_bytes(g_bin, buf, n - 4);
    expect_llmc_error(t, "truncated", "truncated");
    write_bytes(g_bin, buf, 100);
    expect_llmc_error(t, "short header", "truncated");
    h[3] = V + 1; /* more ids than the tokenizer knows */
    write_bytes(g_bin, buf, n);
    expect_llmc_error(t, "vocab", "config mismatch with the tokenizer");
    h[3] = V;
    h[6] = 7; /* C not a multiple of H */
    write_bytes(g_bin, buf, n);
    expect_llmc_error(t, "heads", "multiple of H");
    free(buf);
    unlink(g_bin);
    model_free(&m);
}

int main(void) {
    const char *tmp = getenv("RESTPG_TEST_TMP");
    snprintf(g_path, sizeof g_path, "%s/test_checkpoint_%d.h5", tmp ? tmp : "/tmp", (int)getpid());
    snprintf(g_bin, sizeof g_bin, "%s/test_checkpoint_%d.bin", tmp ? tmp : "/tmp", (int)getpid());
    h5_init();
    Error e;
    Tokenizer *t = make_tokenizer(&e);
    if (t) {
        test_roundtrip(t);
        test_bad_files(t);
        test_llmc(t);
    }
    tokenizer_free(t);
    unlink(g_path);
    return test_summary("test_checkpoint");
}

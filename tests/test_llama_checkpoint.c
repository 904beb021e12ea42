/* Checkpoints of the Llama family (model/checkpoint.c): for Gemma 3, Llama 3 (llama3 RoPE
 * scaling, untied head), Llama (linear scaling, tied), Qwen2 (biases) and Qwen3 (q/k norms), a
 * save and load through the Model API gives back the config field by field and the parameters
 * and AdamW moments bit for bit; the file holds the variant's "architecture" attribute, its
 * tensors under their HF names (lm_head.weight and the embedding with the real vocabulary rows
 * only, q_proj.bias, the pre-MLP norm as post_attention_layernorm without post norms) and only
 * the attributes the variant has (a Gemma 3 file exactly its former ones). Also the architecture
 * names, and a bad rope_scaling attribute being RP_EINPUT naming it. */
#include <stdlib.h>

#include "core/h5.h"
#include "core/rng.h"
#include "model/checkpoint.h"
#include "tests/test.h"

static char g_path[600];

static LlamaConfig sized(LlamaConfig c, int V) {
    c.vocab_size = V, c.hidden_size = 32, c.intermediate_size = 48, c.n_layer = 2, c.n_head = 4, c.n_kv_head = 2;
    c.head_dim = 8, c.max_positions = 64;
    return c;
}

static LlamaConfig variant(int i, int V) {
    LlamaConfig c;
    switch (i) {
    case 0:
        c = sized(llama_config_gemma3(), V);
        c.sliding_window = 16, c.sliding_window_pattern = 2, c.query_pre_attn_scalar = 8.0f;
        return c;
    case 1:
        c = sized(llama_config_llama(), V);
        c.tie_word_embeddings = 0, c.rope_scaling = ROPE_LLAMA3, c.rope_factor = 8.0, c.rope_low_freq_factor = 1.0;
        c.rope_high_freq_factor = 4.0, c.rope_original_max_positions = 32;
        return c;
    case 2:
        c = sized(llama_config_llama(), V);
        c.rope_scaling = ROPE_LINEAR, c.rope_factor = 2.0;
        return c;
    case 3: return sized(llama_config_qwen2(), V);
    default: return sized(llama_config_qwen3(), V);
    }
}

static int same_config(const LlamaConfig *a, const LlamaConfig *b) {
    return a->arch == b->arch && a->vocab_size == b->vocab_size && a->padded_vocab_size == b->padded_vocab_size &&
           a->hidden_size == b->hidden_size && a->intermediate_size == b->intermediate_size &&
           a->n_layer == b->n_layer && a->n_head == b->n_head && a->n_kv_head == b->n_kv_head &&
           a->head_dim == b->head_dim && a->sliding_window == b->sliding_window &&
           a->sliding_window_pattern == b->sliding_window_pattern && a->max_positions == b->max_positions &&
           a->query_pre_attn_scalar == b->query_pre_attn_scalar && a->rms_norm_eps == b->rms_norm_eps &&
           a->rope_theta == b->rope_theta && a->rope_local_base_freq == b->rope_local_base_freq &&
           a->rope_scaling == b->rope_scaling && a->rope_factor == b->rope_factor &&
           a->rope_low_freq_factor == b->rope_low_freq_factor && a->rope_high_freq_factor == b->rope_high_freq_factor &&
           a->rope_original_max_positions == b->rope_original_max_positions && a->norm_offset == b->norm_offset &&
           a->scale_embeddings == b->scale_embeddings && a->post_norms == b->post_norms && a->qk_norm == b->qk_norm &&
           a->qkv_bias == b->qkv_bias && a->tie_word_embeddings == b->tie_word_embeddings &&
           a->hidden_act == b->hidden_act;
}

/* Dataset `name` under /params exists with these dims (d1 0: a vector). */
static int has_tensor(hid_t f, const char *name, hsize_t d0, hsize_t d1) {
    char path[256];
    snprintf(path, sizeof path, "params/%s", name);
    if (!h5_exists(f, path)) return 0;
    hid_t ds = H5Dopen2(f, path, H5P_DEFAULT), sp = H5Dget_space(ds);
    hsize_t dims[2] = {0, 0};
    int rank = H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    H5Dclose(ds);
    return rank == (d1 ? 2 : 1) && dims[0] == d0 && (!d1 || dims[1] == d1);
}

static herr_t count_attr(hid_t loc, const char *name, const H5A_info_t *info, void *n) {
    (void)loc, (void)name, (void)info;
    ++*(int *)n;
    return 0;
}

static void test_variant(int i, Tokenizer *t) {
    Error e;
    const int V = tokenizer_vocab_size(t);
    ModelConfig c = {.arch = variant(i, V).arch, .llama = variant(i, V)};
    const char *name = model_arch_name(c.arch);
    Model m;
    CHECK_OK(model_init(&m, &c, &e), &e);
    CHECK_OK(model_init_random(&m, 3, &e), &e);
    float *p = malloc(sizeof(float) * m.n_params);
    Rng r;
    rng_seed(&r, 4);
    CHECK_OK(model_state_download(&m, 'p', p, &e), &e);
    /* Vectors off their initial values, padding rows of the embeddings still 0. */
    for (int k = 0; k < model_tensor_count(&m); k++) {
        const ParamTensor *pt = model_tensor(&m, k);
        if (m.llama.info[k].kind == LLAMA_EMBEDDING) continue;
        for (size_t j = 0; j < pt->numel; j++) p[pt->offset + j] += 0.1f * (float)rng_normal(&r);
    }
    CHECK_OK(model_state_upload(&m, 'p', p, &e), &e);
    CHECK_OK(model_opt_reset(&m, &e), &e);
    for (int w = 0; w < 2; w++) {
        for (size_t j = 0; j < m.n_params; j++) p[j] = (float)rng_normal(&r);
        CHECK_OK(model_state_upload(&m, w ? 'v' : 'm', p, &e), &e);
    }
    CheckpointMeta meta;
    checkpoint_meta_init(&meta);
    meta.has_train = 1, meta.step = 5;
    CHECK_OK(checkpoint_save(g_path, &m, t, &meta, &e), &e);

    Model got;
    Tokenizer *gt = NULL;
    CheckpointMeta gm;
    CHECK_OK(checkpoint_load(g_path, &got, &gt, &gm, &e), &e);
    CHECK_MSG(got.arch == c.arch && same_config(&got.llama.cfg, &m.llama.cfg), "%s: config differs after load", name);
    float *q = malloc(sizeof(float) * m.n_params);
    for (int w = 0; w < 3; w++) {
        const int which = "pmv"[w];
        CHECK_OK(model_state_download(&m, which, p, &e), &e);
        CHECK_OK(model_state_download(&got, which, q, &e), &e);
        CHECK_MSG(got.n_params == m.n_params && !memcmp(p, q, sizeof(float) * m.n_params), "%s: state '%c' differs",
                  name, which);
    }
    CHECK(gm.has_train && gm.step == 5);
    model_free(&got);
    tokenizer_free(gt);

    hid_t f;
    CHECK_OK(h5_open_read(g_path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, &f, &e), &e);
    char *arch = NULL;
    CHECK_OK(h5_attr_get_str(f, "architecture", &arch, &e), &e);
    CHECK_STR(arch, name);
    free(arch);
    const LlamaConfig *lc = &m.llama.cfg;
    const hsize_t C = lc->hidden_size, Q = (hsize_t)lc->n_head * lc->head_dim, KV = (hsize_t)lc->n_kv_head * lc->head_dim;
    CHECK(has_tensor(f, "model.embed_tokens.weight", V, C)); /* real rows only */
    CHECK(has_tensor(f, "model.layers.1.self_attn.q_proj.weight", Q, C));
    CHECK(has_tensor(f, "model.norm.weight", C, 0));
    CHECK(has_tensor(f, "lm_head.weight", V, C) == !lc->tie_word_embeddings);
    CHECK(has_tensor(f, "model.layers.0.self_attn.q_proj.bias", Q, 0) == lc->qkv_bias);
    CHECK(has_tensor(f, "model.layers.1.self_attn.v_proj.bias", KV, 0) == lc->qkv_bias);
    CHECK(has_tensor(f, "model.layers.1.self_attn.k_norm.weight", (hsize_t)lc->head_dim, 0) == lc->qk_norm);
    CHECK(has_tensor(f, "model.layers.0.pre_feedforward_layernorm.weight", C, 0) == lc->post_norms);
    CHECK(has_tensor(f, "model.layers.0.post_attention_layernorm.weight", C, 0)); /* one or the other norm */
    CHECK(!h5_exists(f, "params/model.layers.0.self_attn.o_proj.bias"));
    const int gemma = c.arch == ARCH_GEMMA3;
    CHECK((H5Aexists(f, "sliding_window") > 0) == gemma && (H5Aexists(f, "query_pre_attn_scalar") > 0) == gemma);
    CHECK((H5Aexists(f, "tie_word_embeddings") > 0) == !gemma);
    CHECK((H5Aexists(f, "rope_scaling") > 0) == (lc->rope_scaling != ROPE_DEFAULT));
    if (gemma) {
        hsize_t idx = 0;
        int n = 0;
        CHECK(H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, &idx, count_attr, &n) >= 0);
        /* format, version, architecture and the 15 config attributes Gemma 3 files always had */
        CHECK_MSG(n == 18, "a Gemma 3 file has %d attributes", n);
    }
    h5_close(f);
    printf("%s: %d tensors, %zu parameters, saved and loaded bit for bit under HF names\n", name,
           model_tensor_count(&m), m.n_params);
    free(p);
    free(q);
    model_free(&m);
}

static void test_bad_scaling(Tokenizer *t) {
    Error e;
    ModelConfig c = {.arch = ARCH_LLAMA, .llama = variant(1, tokenizer_vocab_size(t))};
    Model m;
    CHECK_OK(model_init(&m, &c, &e), &e);
    CHECK_OK(checkpoint_save(g_path, &m, t, NULL, &e), &e);
    model_free(&m);
    hid_t f = H5Fopen(g_path, H5F_ACC_RDWR, H5P_DEFAULT);
    CHECK(f >= 0 && H5Adelete(f, "rope_scaling") >= 0);
    CHECK_OK(h5_attr_set_str(f, "rope_scaling", "yarn", &e), &e);
    H5Fclose(f);
    Tokenizer *gt = NULL;
    int rc = checkpoint_load(g_path, &m, &gt, NULL, &e);
    CHECK_MSG(rc == RP_EINPUT && strstr(e.msg, g_path) && strstr(e.msg, "attribute 'rope_scaling' is 'yarn'"),
              "rc %d: %s", rc, e.msg);
}

static void test_arch_names(void) {
    Error e;
    const Arch all[] = {ARCH_GPT2, ARCH_GEMMA3, ARCH_LLAMA, ARCH_QWEN2, ARCH_QWEN3};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        Arch a;
        CHECK_OK(model_arch_parse(model_arch_name(all[i]), &a, &e), &e);
        CHECK(a == all[i] && model_arch_is_llama(a) == (a != ARCH_GPT2));
    }
    Arch a;
    CHECK(model_arch_parse("mistral", &a, &e) == RP_EINPUT && strstr(e.msg, "'mistral'"));
    ModelConfig c = {.arch = ARCH_QWEN2, .llama = variant(4, 300)};
    CHECK(model_config_check(&c, &e) == RP_EINPUT && strstr(e.msg, "'qwen3'"));
}

int main(void) {
    const char *tmp = getenv("RESTPG_TEST_TMP");
    snprintf(g_path, sizeof g_path, "%s/llama_ckpt.h5", tmp ? tmp : "/tmp");
    h5_init();
    char *texts[] = {"the quick brown fox jumps over the lazy dog", "the lazy dog sleeps", "quick quick fox"};
    Tokenizer *t = NULL;
    Error e;
    CHECK_OK(tokenizer_train(texts, 3, 300, &t, &e), &e);
    for (int i = 0; i < 5; i++) test_variant(i, t);
    test_bad_scaling(t);
    test_arch_names();
    tokenizer_free(t);
    return test_summary("test_llama_checkpoint");
}

/* GGUF -> restpg model and tokenizer (see gguf_import.h).
 *
 * Conventions converted: llama.cpp's converter stores Gemma's RMSNorm weights as 1 + w (the scale
 * the norm applies), while restpg keeps HF's w, so 1 is subtracted from every norm weight; GGUF's
 * ne[0] is the fastest dimension, so a [ne1 = out, ne0 = in] matrix is already restpg's row-major
 * [out, in]. Keys the file does not carry for Gemma 3 take the values llama.cpp's Gemma 3 loader
 * uses: a global layer every 6th, local RoPE base 10000, attention scale 1/sqrt(head_dim). */
#include "model/gguf_import.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/checkpoint.h"
#include "model/gguf.h"

int gguf_sniff(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char magic[4] = {0};
    int ok = fread(magic, 1, 4, f) == 4 && !memcmp(magic, "GGUF", 4);
    fclose(f);
    return ok;
}

/* Gemma 3's hyper-parameters from the gemma3.* keys. */
static int gemma3_config_from(const GGUF *g, int vocab, LlamaConfig *c, Error *e) {
    *c = llama_config_gemma3();
    const struct {
        const char *key;
        int *dst;
    } ints[] = {{"gemma3.context_length", &c->max_positions},     {"gemma3.embedding_length", &c->hidden_size},
                {"gemma3.block_count", &c->n_layer},              {"gemma3.feed_forward_length", &c->intermediate_size},
                {"gemma3.attention.head_count", &c->n_head},      {"gemma3.attention.head_count_kv", &c->n_kv_head},
                {"gemma3.attention.key_length", &c->head_dim},    {"gemma3.attention.sliding_window", &c->sliding_window}};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        int32_t v;
        int rc = gguf_get_i32(g, ints[i].key, &v, e);
        if (rc) return rc;
        *ints[i].dst = v;
    }
    uint32_t vlen;
    int rc = gguf_get_u32(g, "gemma3.attention.value_length", &vlen, e);
    if (!rc && (int)vlen != c->head_dim)
        return error_set(e, RP_EINPUT, "key 'gemma3.attention.value_length' is %u, restpg needs it equal to key_length %d",
                         vlen, c->head_dim);
    float eps, base;
    if (!rc) rc = gguf_get_f32(g, "gemma3.attention.layer_norm_rms_epsilon", &eps, e);
    if (!rc) rc = gguf_get_f32(g, "gemma3.rope.freq_base", &base, e);
    if (rc) return rc;
    const GGUFKV *scale = gguf_find_kv(g, "gemma3.rope.scaling.factor");
    if (scale) {
        float f;
        if ((rc = gguf_get_f32(g, "gemma3.rope.scaling.factor", &f, e))) return rc;
        if (f != 1.0f) return error_set(e, RP_EINPUT, "key 'gemma3.rope.scaling.factor' is %g: RoPE scaling is not supported", f);
    }
    c->vocab_size = vocab;
    c->rms_norm_eps = eps;
    c->rope_theta = base;
    c->rope_local_base_freq = 10000.0;
    c->sliding_window_pattern = 6;
    c->query_pre_attn_scalar = (float)c->head_dim;
    return llama_config_check(c, e);
}

static int tokenizer_from(const GGUF *g, const char *path, Tokenizer **t, int *vocab, Error *e) {
    const char *kind;
    int rc = gguf_get_str(g, "tokenizer.ggml.model", &kind, e);
    if (rc) return rc;
    if (strcmp(kind, "llama"))
        return error_set(e, RP_EINPUT, "key 'tokenizer.ggml.model' is '%s': only SentencePiece vocabularies ('llama') are supported", kind);
    const GGUFStr *tok;
    const float *scores;
    const int32_t *types;
    size_t n, ns, nt;
    if ((rc = gguf_get_str_array(g, "tokenizer.ggml.tokens", &tok, &n, e)) ||
        (rc = gguf_get_f32_array(g, "tokenizer.ggml.scores", &scores, &ns, e)) ||
        (rc = gguf_get_i32_array(g, "tokenizer.ggml.token_type", &types, &nt, e)))
        return rc;
    if (ns != n || nt != n || n > 0x7fffffff)
        return error_set(e, RP_EINPUT, "tokenizer.ggml.tokens has %zu entries, scores %zu and token_type %zu", n, ns, nt);
    SpmOptions o = {-1, -1, -1, -1, 0, 0};
    const struct {
        const char *key;
        int32_t *dst;
    } ids[] = {{"tokenizer.ggml.bos_token_id", &o.bos}, {"tokenizer.ggml.eos_token_id", &o.eos},
               {"tokenizer.ggml.unknown_token_id", &o.unk}, {"tokenizer.ggml.padding_token_id", &o.pad}};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0] && !rc; i++)
        if (gguf_find_kv(g, ids[i].key)) rc = gguf_get_i32(g, ids[i].key, ids[i].dst, e);
    if (!rc && gguf_find_kv(g, "tokenizer.ggml.add_bos_token")) rc = gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &o.add_bos, e);
    if (!rc && gguf_find_kv(g, "tokenizer.ggml.add_space_prefix"))
        rc = gguf_get_bool(g, "tokenizer.ggml.add_space_prefix", &o.add_space_prefix, e);
    if (rc) return rc;
    const char **pieces = xmalloc(sizeof(char *) * (n ? n : 1), e);
    if (!pieces) return RP_ENOMEM;
    for (size_t i = 0; i < n; i++) pieces[i] = tok[i].s;
    char *source = xasprintf(e, "%s:tokenizer.ggml", path);
    rc = source ? tokenizer_from_spm(pieces, scores, types, (int32_t)n, &o, source, t, e) : RP_ENOMEM;
    free(source);
    free(pieces);
    *vocab = (int)n;
    return rc;
}

/* Dequantizes tensor k (every layer) into host and uploads it. */
static int import_tensor(const GGUF *g, Model *m, int k, float *host, Error *e) {
    const LlamaTensorInfo *info = llama_tensor_info(&m->llama, k);
    const ParamTensor *pt = model_tensor(m, k);
    int layers = info->layered ? m->llama.cfg.n_layer : 1;
    const size_t *d = pt->dims + (info->layered ? 1 : 0);
    int nd = pt->ndim - (info->layered ? 1 : 0);
    size_t rows = info->kind == LLAMA_EMBEDDING ? (size_t)m->vocab_size : d[0], cols = nd > 1 ? d[1] : 1, per_layer = pt->numel / (size_t)layers;
    memset(host, 0, pt->numel * sizeof(float));
    for (int l = 0; l < layers; l++) {
        char name[128];
        int rc = llama_tensor_name(info, l, 0, name, sizeof name, e);
        if (rc) return rc;
        const GGUFTensor *t = gguf_find_tensor(g, name);
        if (!t) return error_set(e, RP_EINPUT, "tensor '%s' is missing", name);
        uint64_t want1 = nd > 1 ? rows : 1;
        if (t->ne[0] != (nd > 1 ? cols : rows) || t->ne[1] != want1 || t->n_dims > 2)
            return error_set(e, RP_EINPUT, "tensor '%s' has shape [%llu, %llu], the metadata implies [%zu, %llu]", name,
                             (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], nd > 1 ? cols : rows,
                             (unsigned long long)want1);
        float *dst = host + (size_t)l * per_layer;
        if ((rc = gguf_tensor_to_f32(g, t, dst, e)) || (rc = checkpoint_check_finite(dst, rows * cols, name, e))) return rc;
        if (info->kind == LLAMA_NORM)
            for (size_t i = 0; i < rows * cols; i++) dst[i] -= m->llama.cfg.norm_offset;
    }
    return model_tensor_upload(m, 'p', k, host, e);
}

int gguf_import(const char *path, Model *m, Tokenizer **t, Error *e) {
    GGUF *g = NULL;
    *t = NULL;
    int rc = gguf_open(path, &g, e);
    if (rc) return rc;
    const char *arch = NULL;
    int vocab = 0, have_model = 0;
    ModelConfig c = {.arch = ARCH_GEMMA3};
    rc = gguf_get_str(g, "general.architecture", &arch, e);
    if (!rc && strcmp(arch, "gemma3"))
        rc = error_set(e, RP_EINPUT, "key 'general.architecture' is '%s': restpg imports gemma3 from GGUF", arch);
    if (!rc) rc = tokenizer_from(g, path, t, &vocab, e);
    if (!rc) rc = gemma3_config_from(g, vocab, &c.llama, e);
    if (!rc && !(rc = model_init(m, &c, e))) have_model = 1;
    float *host = NULL;
    if (!rc) {
        size_t most = 0;
        for (int k = 0; k < model_tensor_count(m); k++) most = model_tensor(m, k)->numel > most ? model_tensor(m, k)->numel : most;
        if (!(host = xmalloc(most * sizeof(float), e))) rc = RP_ENOMEM;
    }
    for (int k = 0; !rc && k < model_tensor_count(m); k++) rc = import_tensor(g, m, k, host, e);
    free(host);
    gguf_close(g);
    if (rc) {
        if (have_model) model_free(m);
        tokenizer_free(*t);
        *t = NULL;
        return error_wrap(e, "%s", path);
    }
    return RP_OK;
}

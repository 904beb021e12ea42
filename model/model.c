/* The architecture-independent model API (see model.h): one switch per call, between GPT-2 and
 * the Llama family. */
#include "model/model.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const ARCH_NAMES[] = {[ARCH_GPT2] = "gpt2", [ARCH_GEMMA3] = "gemma3", [ARCH_LLAMA] = "llama",
                                         [ARCH_QWEN2] = "qwen2", [ARCH_QWEN3] = "qwen3"};
#define N_ARCHS (int)(sizeof ARCH_NAMES / sizeof ARCH_NAMES[0])

const char *model_dtype_name(DType d) { return d == DTYPE_BF16 ? "bf16" : "fp32"; }

int model_dtype_parse(const char *s, DType *d, Error *e) {
    if (!strcmp(s, "auto")) *d = backend_get()->ops->set_compute_dtype ? DTYPE_BF16 : DTYPE_F32;
    else if (!strcmp(s, "fp32")) *d = DTYPE_F32;
    else if (!strcmp(s, "bf16")) *d = DTYPE_BF16;
    else return error_set(e, RP_EINPUT, "dtype '%s': must be auto, fp32 or bf16", s);
    return RP_OK;
}

int model_vocab_chunk_parse(const char *s, int *cols, Error *e) {
    if (!strcmp(s, "auto")) {
        *cols = backend_get()->ops->host_memory ? 0 : MODEL_VOCAB_CHUNK_DEVICE;
        return RP_OK;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < 0 || v > INT_MAX - 127)
        return error_set(e, RP_EINPUT, "vocab_chunk '%s': must be auto or a count of columns >= 0 (0: the whole vocabulary)",
                         s);
    *cols = (int)((v + 127) / 128 * 128);
    return RP_OK;
}

const char *model_arch_name(Arch a) { return (int)a >= 0 && (int)a < N_ARCHS ? ARCH_NAMES[a] : "?"; }

int model_arch_parse(const char *s, Arch *a, Error *e) {
    for (int i = 0; i < N_ARCHS; i++)
        if (!strcmp(s, ARCH_NAMES[i])) {
            *a = (Arch)i;
            return RP_OK;
        }
    return error_set(e, RP_EINPUT, "architecture '%s' is not supported (gpt2, gemma3, llama, qwen2, qwen3)", s);
}

int model_arch_is_llama(Arch a) { return a == ARCH_GEMMA3 || a == ARCH_LLAMA || a == ARCH_QWEN2 || a == ARCH_QWEN3; }

const ParamStore *model_store(const Model *m) { return m->arch == ARCH_GPT2 ? &m->gpt2.store : &m->llama.store; }

ParamStore *model_store_mut(Model *m) { return m->arch == ARCH_GPT2 ? &m->gpt2.store : &m->llama.store; }

int model_config_check(ModelConfig *c, Error *e) {
    if (c->arch == ARCH_GPT2) return gpt_config_check(&c->gpt2, e);
    if (!model_arch_is_llama(c->arch)) return error_set(e, RP_EINPUT, "architecture %d is not supported", (int)c->arch);
    if (c->llama.arch != c->arch)
        return error_set(e, RP_EINPUT, "model config: architecture '%s' with a '%s' family config",
                         model_arch_name(c->arch), model_arch_name(c->llama.arch));
    return llama_config_check(&c->llama, e);
}

ModelConfig model_config(const Model *m) {
    ModelConfig c;
    memset(&c, 0, sizeof c);
    c.arch = m->arch;
    if (m->arch == ARCH_GPT2) c.gpt2 = m->gpt2.cfg;
    else c.llama = m->llama.cfg;
    return c;
}

int model_init(Model *m, const ModelConfig *c, Error *e) {
    memset(m, 0, sizeof *m);
    ModelConfig checked = *c;
    int rc = model_config_check(&checked, e);
    if (rc) return rc;
    m->arch = c->arch;
    m->be = backend_get();
    if (c->arch == ARCH_GPT2) {
        if ((rc = gpt_init(&m->gpt2, &c->gpt2, e))) return rc;
        m->vocab_size = m->gpt2.cfg.vocab_size;
        m->padded_vocab_size = m->gpt2.cfg.padded_vocab_size;
        m->n_positions = m->gpt2.cfg.n_positions;
        m->n_params = m->gpt2.store.n_params;
        return RP_OK;
    }
    if ((rc = llama_init(&m->llama, &c->llama, e))) return rc;
    m->vocab_size = m->llama.cfg.vocab_size;
    m->padded_vocab_size = m->llama.cfg.padded_vocab_size;
    m->n_positions = m->llama.cfg.max_positions;
    m->n_params = m->llama.store.n_params;
    return RP_OK;
}

void model_free(Model *m) {
    if (m->arch == ARCH_GPT2) gpt_free(&m->gpt2);
    else llama_free(&m->llama);
    memset(m, 0, sizeof *m);
}

int model_init_random(Model *m, uint64_t seed, Error *e) {
    return m->arch == ARCH_GPT2 ? gpt_init_random(&m->gpt2, seed, e) : llama_init_random(&m->llama, seed, e);
}

int model_plan(Model *m, int B, int T, Error *e) {
    return m->arch == ARCH_GPT2 ? gpt_plan(&m->gpt2, B, T, e) : llama_plan(&m->llama, B, T, e);
}

void model_set_recompute(Model *m, int on) {
    if (m->arch == ARCH_GPT2) gpt_set_recompute(&m->gpt2, on);
    else llama_set_recompute(&m->llama, on);
}

void model_set_vocab_chunk(Model *m, int cols) {
    if (m->arch == ARCH_GPT2) gpt_set_vocab_chunk(&m->gpt2, cols);
    else llama_set_vocab_chunk(&m->llama, cols);
}

int model_set_compute_dtype(Model *m, DType dt, DType *in_force, Error *e) {
    const ParamStore *s = model_store(m);
    *in_force = DTYPE_F32;
    if (!s->be->ops->set_compute_dtype) return RP_OK;
    int rc = s->be->ops->set_compute_dtype(s->mem[0], s->n_params, dt, e);
    if (!rc) *in_force = dt;
    return rc;
}

size_t model_activation_bytes(const ModelConfig *c, int B, int T, int recompute, int vocab_chunk) {
    return c->arch == ARCH_GPT2 ? gpt_activation_bytes(&c->gpt2, B, T, recompute, vocab_chunk)
                                : llama_activation_bytes(&c->llama, B, T, recompute, vocab_chunk);
}

double model_flops_per_token(const ModelConfig *c, int T) {
    if (c->arch == ARCH_GPT2) return gpt_flops_per_token(&c->gpt2, T);
    /* PaLM's count as for GPT-2: 6 x the matmul parameters (V x C for the LM head, tied or not;
     * the embedding lookup is no product) + 12 L (NH hd) T for the attention scores and values. */
    const LlamaConfig *g = &c->llama;
    double C = g->hidden_size, Q = (double)g->n_head * g->head_dim, KV = (double)g->n_kv_head * g->head_dim;
    double per_layer = C * Q * 2 + C * KV * 2 + 3.0 * C * g->intermediate_size;
    double matmul = (double)g->vocab_size * C + g->n_layer * per_layer;
    return 6.0 * matmul + 12.0 * g->n_layer * Q * T;
}

int model_forward(Model *m, const int32_t *inputs, const int32_t *targets, const float *mask, int B, int T, float *loss,
                  Error *e) {
    return m->arch == ARCH_GPT2 ? gpt_forward(&m->gpt2, inputs, targets, mask, B, T, loss, e)
                                : llama_forward(&m->llama, inputs, targets, mask, B, T, loss, e);
}

int model_backward(Model *m, float loss_scale, Error *e) {
    return m->arch == ARCH_GPT2 ? gpt_backward(&m->gpt2, loss_scale, e) : llama_backward(&m->llama, loss_scale, e);
}

int model_zero_grad(Model *m, Error *e) { return params_zero_grad(model_store_mut(m), e); }

const float *model_token_losses(const Model *m) {
    return m->arch == ARCH_GPT2 ? gpt_token_losses(&m->gpt2) : llama_token_losses(&m->llama);
}

int model_logits_download(const Model *m, int row0, int n, float *host, Error *e) {
    return m->arch == ARCH_GPT2 ? gpt_logits_download(&m->gpt2, row0, n, host, e)
                                : llama_logits_download(&m->llama, row0, n, host, e);
}

int model_opt_reset(Model *m, Error *e) { return params_opt_reset(model_store_mut(m), e); }

int model_opt_ready(const Model *m) { return params_opt_ready(model_store(m)); }

int model_adamw_step(Model *m, const AdamW *h, double max_norm, int step, double *norm, Error *e) {
    return params_adamw(model_store_mut(m), h, max_norm, step, norm, e);
}

int model_grads(Model *m, float **out, Error *e) { return params_grads(model_store_mut(m), out, e); }
void model_set_grad_hook(Model *m, GradReadyFn fn, void *ctx) { params_set_grad_hook(model_store_mut(m), fn, ctx); }
int model_grad_plan(const Model *m, ParamRange **out, int *n, Error *e) {
    return params_ready_plan(model_store(m), out, n, e);
}

int model_tensor_count(const Model *m) { return model_store(m)->n; }

const ParamTensor *model_tensor(const Model *m, int k) {
    const ParamStore *s = model_store(m);
    return k >= 0 && k < s->n ? &s->t[k] : NULL;
}

int model_tensor_download(const Model *m, int which, int k, float *host, Error *e) {
    return params_tensor_download(model_store(m), which, k, host, e);
}

int model_tensor_upload(Model *m, int which, int k, const float *host, Error *e) {
    return params_tensor_upload(model_store_mut(m), which, k, host, e);
}

int model_state_download(const Model *m, int which, float *host, Error *e) {
    return params_state_download(model_store(m), which, host, e);
}

int model_state_upload(Model *m, int which, const float *host, Error *e) {
    return params_state_upload(model_store_mut(m), which, host, e);
}

DecoderModel model_config_decoder(const ModelConfig *c, GPT2Dims *gd, LlamaConfig *lc) {
    DecoderModel dm;
    memset(&dm, 0, sizeof dm);
    dm.arch = c->arch;
    if (c->arch == ARCH_GPT2) {
        const GPTConfig *g = &c->gpt2;
        *gd = (GPT2Dims){g->n_layer, g->n_head, g->n_embd, g->n_positions, g->vocab_size, g->padded_vocab_size};
        dm.gpt2_dims = gd;
    } else {
        *lc = c->llama;
        dm.llama_cfg = lc;
    }
    return dm;
}

DecoderModel model_decoder(const Model *m, GPT2Dims *gd, LlamaConfig *lc) {
    ModelConfig c = model_config(m);
    DecoderModel dm = model_config_decoder(&c, gd, lc);
    if (m->arch == ARCH_GPT2) dm.gpt2 = &m->gpt2.params;
    else dm.llama = &m->llama.params;
    return dm;
}

int model_limit_positions(Model *m, int n, Error *e) {
    if (n < 1) return error_set(e, RP_EINPUT, "context length %d must be positive", n);
    if (m->arch == ARCH_GPT2) {
        if (n < m->n_positions)
            return error_set(e, RP_EINPUT, "a GPT-2's context (%d positions, its wpe table) cannot be limited to %d",
                             m->n_positions, n);
        return RP_OK;
    }
    if (n < m->llama.cfg.max_positions) m->llama.cfg.max_positions = n;
    m->n_positions = m->llama.cfg.max_positions;
    return RP_OK;
}

void model_describe(const Model *m, char *buf, size_t n) {
    if (m->arch == ARCH_GPT2) {
        const GPTConfig *c = &m->gpt2.cfg;
        snprintf(buf, n, "gpt2: %d layers, %d heads, %d channels, %d positions, vocabulary %d", c->n_layer, c->n_head,
                 c->n_embd, c->n_positions, c->vocab_size);
    } else if (m->arch == ARCH_GEMMA3) {
        const LlamaConfig *c = &m->llama.cfg;
        snprintf(buf, n, "gemma3: %d layers, %d heads (%d kv) of %d, %d channels, %d intermediate, window %d, vocabulary %d",
                 c->n_layer, c->n_head, c->n_kv_head, c->head_dim, c->hidden_size, c->intermediate_size,
                 c->sliding_window, c->vocab_size);
    } else {
        const LlamaConfig *c = &m->llama.cfg;
        snprintf(buf, n, "%s: %d layers, %d heads (%d kv) of %d, %d channels, %d intermediate, %s head, vocabulary %d",
                 model_arch_name(m->arch), c->n_layer, c->n_head, c->n_kv_head, c->head_dim, c->hidden_size,
                 c->intermediate_size, c->tie_word_embeddings ? "tied" : "untied", c->vocab_size);
    }
}

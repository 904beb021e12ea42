/* The Llama family's configs and parameter table (model/llama.h): each variant's switches, the
 * config check, and the table of tensors a config has, with their GGUF and HF names. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "model/llama.h"

/* Every switch named; sizes 0 for the caller. */
static LlamaConfig base(Arch a, double theta, float eps) {
    return (LlamaConfig){.arch = a, .rope_theta = theta, .rope_local_base_freq = theta, .rms_norm_eps = eps,
                         .sliding_window_pattern = 1, .tie_word_embeddings = 1, .hidden_act = ACT_SILU};
}

LlamaConfig llama_config_llama(void) { return base(ARCH_LLAMA, 5e5, 1e-5f); }

LlamaConfig llama_config_qwen2(void) {
    LlamaConfig c = base(ARCH_QWEN2, 1e6, 1e-6f);
    c.qkv_bias = 1;
    return c;
}

LlamaConfig llama_config_qwen3(void) {
    LlamaConfig c = base(ARCH_QWEN3, 1e6, 1e-6f);
    c.qk_norm = 1;
    return c;
}

LlamaConfig llama_config_gemma3(void) {
    LlamaConfig c = base(ARCH_GEMMA3, 1e6, 1e-6f);
    c.rope_local_base_freq = 1e4;
    c.sliding_window_pattern = 6;
    c.norm_offset = 1.0f;
    c.scale_embeddings = c.post_norms = c.qk_norm = 1;
    c.hidden_act = ACT_GELU_TANH;
    return c;
}

int llama_config_variant(Arch a, LlamaConfig *c, Error *e) {
    switch (a) {
    case ARCH_LLAMA: *c = llama_config_llama(); return RP_OK;
    case ARCH_QWEN2: *c = llama_config_qwen2(); return RP_OK;
    case ARCH_QWEN3: *c = llama_config_qwen3(); return RP_OK;
    case ARCH_GEMMA3: *c = llama_config_gemma3(); return RP_OK;
    case ARCH_GPT2: break;
    }
    return error_set(e, RP_EINPUT, "architecture %d is not of the Llama family", (int)a);
}

LlamaConfig llama_config_gemma3_270m(void) {
    LlamaConfig c = llama_config_gemma3();
    c.vocab_size = 262144, c.hidden_size = 640, c.intermediate_size = 2048, c.n_layer = 18, c.n_head = 4;
    c.n_kv_head = 1, c.head_dim = 256, c.sliding_window = 512, c.max_positions = 32768;
    c.query_pre_attn_scalar = 256.0f;
    return c;
}

static const char *variant_title(Arch a) {
    switch (a) {
    case ARCH_LLAMA: return "Llama";
    case ARCH_QWEN2: return "Qwen2";
    case ARCH_QWEN3: return "Qwen3";
    case ARCH_GEMMA3: return "Gemma 3";
    case ARCH_GPT2: break;
    }
    return "Llama-family";
}

static int positive_finite(double v) { return v > 0.0 && !isinf(v); }

int llama_config_check(LlamaConfig *c, Error *e) {
    const char *title = variant_title(c->arch);
    if (c->arch != ARCH_LLAMA && c->arch != ARCH_QWEN2 && c->arch != ARCH_QWEN3 && c->arch != ARCH_GEMMA3)
        return error_set(e, RP_EINPUT, "architecture %d is not of the Llama family", (int)c->arch);
    const int gemma = c->arch == ARCH_GEMMA3;
    const struct {
        const char *name;
        int v;
    } f[] = {{"vocab_size", c->vocab_size}, {"hidden_size", c->hidden_size},
             {"intermediate_size", c->intermediate_size}, {"num_hidden_layers", c->n_layer},
             {"num_attention_heads", c->n_head}, {"num_key_value_heads", c->n_kv_head},
             {"head_dim", c->head_dim}, {"sliding_window", gemma ? c->sliding_window : 1},
             {"sliding_window_pattern", c->sliding_window_pattern}, {"max_position_embeddings", c->max_positions}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v <= 0)
            return error_set(e, RP_EINPUT, "%s config: field '%s' is %d, must be positive", title, f[i].name, f[i].v);
    if (!gemma && c->sliding_window != 0)
        return error_set(e, RP_EINPUT, "%s config: field 'sliding_window' is %d: sliding-window layers are Gemma 3's only",
                         title, c->sliding_window);
    if (c->n_head % c->n_kv_head)
        return error_set(e, RP_EINPUT,
                         "%s config: field 'num_attention_heads' (%d) must be a multiple of "
                         "'num_key_value_heads' (%d)", title, c->n_head, c->n_kv_head);
    if (c->head_dim % 2)
        return error_set(e, RP_EINPUT, "%s config: field 'head_dim' (%d) must be even (RoPE pairs)", title, c->head_dim);
    const struct {
        const char *name;
        double v;
        int check;
    } g[] = {{"query_pre_attn_scalar", c->query_pre_attn_scalar, gemma}, {"rms_norm_eps", c->rms_norm_eps, 1},
             {"rope_theta", c->rope_theta, 1}, {"rope_local_base_freq", c->rope_local_base_freq, gemma},
             {"rope_scaling.factor", c->rope_factor, c->rope_scaling != ROPE_DEFAULT},
             {"rope_scaling.low_freq_factor", c->rope_low_freq_factor, c->rope_scaling == ROPE_LLAMA3},
             {"rope_scaling.high_freq_factor", c->rope_high_freq_factor, c->rope_scaling == ROPE_LLAMA3},
             {"rope_scaling.original_max_position_embeddings", c->rope_original_max_positions,
              c->rope_scaling == ROPE_LLAMA3}};
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
        if (g[i].check && !positive_finite(g[i].v))
            return error_set(e, RP_EINPUT, "%s config: field '%s' is %g, must be positive and finite", title, g[i].name,
                             g[i].v);
    if (c->rope_scaling < ROPE_DEFAULT || c->rope_scaling > ROPE_LLAMA3)
        return error_set(e, RP_EINPUT, "%s config: field 'rope_scaling.rope_type' (%d) is not default, linear or llama3",
                         title, (int)c->rope_scaling);
    if (c->rope_scaling == ROPE_LLAMA3 && !(c->rope_high_freq_factor > c->rope_low_freq_factor))
        return error_set(e, RP_EINPUT, "%s config: field 'rope_scaling.high_freq_factor' (%g) must exceed "
                         "'low_freq_factor' (%g)", title, c->rope_high_freq_factor, c->rope_low_freq_factor);
    if (c->hidden_act != ACT_GELU_TANH && c->hidden_act != ACT_SILU)
        return error_set(e, RP_EINPUT, "%s config: field 'hidden_act' (%d) is not gelu_pytorch_tanh or silu", title,
                         (int)c->hidden_act);
    if (c->vocab_size > INT32_MAX - 128)
        return error_set(e, RP_EINPUT, "%s config: field 'vocab_size' (%d) is too large", title, c->vocab_size);
    c->padded_vocab_size = (c->vocab_size + 127) / 128 * 128;
    return RP_OK;
}

/* Which configs have a tensor. */
enum { ALWAYS, IF_QKV_BIAS, IF_QK_NORM, IF_POST_NORMS, IF_UNTIED };

#define F(x) offsetof(LlamaTensors, x)
static const struct {
    LlamaTensorInfo t;
    int when;
} TABLE[LLAMA_MAX_TENSORS] = {
    {{"token_embd.weight", "model.embed_tokens.weight", F(token_embd), 0, 1, LLAMA_EMBEDDING}, ALWAYS},
    {{"attn_norm.weight", "input_layernorm.weight", F(attn_norm), 1, 0, LLAMA_NORM}, ALWAYS},
    {{"attn_q.weight", "self_attn.q_proj.weight", F(attn_q), 1, 1, LLAMA_MATRIX}, ALWAYS},
    {{"attn_q.bias", "self_attn.q_proj.bias", F(attn_q_b), 1, 0, LLAMA_BIAS}, IF_QKV_BIAS},
    {{"attn_k.weight", "self_attn.k_proj.weight", F(attn_k), 1, 1, LLAMA_MATRIX}, ALWAYS},
    {{"attn_k.bias", "self_attn.k_proj.bias", F(attn_k_b), 1, 0, LLAMA_BIAS}, IF_QKV_BIAS},
    {{"attn_v.weight", "self_attn.v_proj.weight", F(attn_v), 1, 1, LLAMA_MATRIX}, ALWAYS},
    {{"attn_v.bias", "self_attn.v_proj.bias", F(attn_v_b), 1, 0, LLAMA_BIAS}, IF_QKV_BIAS},
    {{"attn_q_norm.weight", "self_attn.q_norm.weight", F(attn_q_norm), 1, 0, LLAMA_NORM}, IF_QK_NORM},
    {{"attn_k_norm.weight", "self_attn.k_norm.weight", F(attn_k_norm), 1, 0, LLAMA_NORM}, IF_QK_NORM},
    {{"attn_output.weight", "self_attn.o_proj.weight", F(attn_output), 1, 1, LLAMA_MATRIX}, ALWAYS},
    {{"post_attention_norm.weight", "post_attention_layernorm.weight", F(post_attention_norm), 1, 0, LLAMA_NORM},
     IF_POST_NORMS},
    /* HF calls the pre-MLP norm post_attention_layernorm when there is no post-attention norm. */
    {{"ffn_norm.weight", "pre_feedforward_layernorm.weight", F(ffn_norm), 1, 0, LLAMA_NORM}, ALWAYS},
    {{"ffn_gate.weight", "mlp.gate_proj.weight", F(ffn_gate), 1, 1, LLAMA_MATRIX}, ALWAYS},
    {{"ffn_up.weight", "mlp.up_proj.weight", F(ffn_up), 1, 1, LLAMA_MATRIX}, ALWAYS},
    {{"ffn_down.weight", "mlp.down_proj.weight", F(ffn_down), 1, 1, LLAMA_MATRIX}, ALWAYS},
    {{"post_ffw_norm.weight", "post_feedforward_layernorm.weight", F(post_ffw_norm), 1, 0, LLAMA_NORM},
     IF_POST_NORMS},
    {{"output_norm.weight", "model.norm.weight", F(output_norm), 0, 0, LLAMA_NORM}, ALWAYS},
    {{"output.weight", "lm_head.weight", F(output), 0, 1, LLAMA_EMBEDDING}, IF_UNTIED},
};
#undef F

int llama_tensor_table(const LlamaConfig *c, LlamaTensorInfo *t) {
    const int has[] = {[ALWAYS] = 1, [IF_QKV_BIAS] = c->qkv_bias, [IF_QK_NORM] = c->qk_norm,
                       [IF_POST_NORMS] = c->post_norms, [IF_UNTIED] = !c->tie_word_embeddings};
    int n = 0;
    for (int k = 0; k < LLAMA_MAX_TENSORS; k++) {
        if (!has[TABLE[k].when]) continue;
        t[n] = TABLE[k].t;
        if (t[n].field == offsetof(LlamaTensors, ffn_norm) && !c->post_norms) t[n].hf = "post_attention_layernorm.weight";
        n++;
    }
    return n;
}

int llama_tensor_name(const LlamaTensorInfo *t, int layer, int hf, char *buf, size_t n, Error *e) {
    const char *name = hf ? t->hf : t->gguf;
    int len = t->layered ? snprintf(buf, n, hf ? "model.layers.%d.%s" : "blk.%d.%s", layer, name)
                         : snprintf(buf, n, "%s", name);
    if (len < 0 || (size_t)len >= n) return error_set(e, RP_EINTERNAL, "llama_tensor_name: buffer of %zu bytes", n);
    return RP_OK;
}

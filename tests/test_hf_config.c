/* config.json parsing (model/hf_config.c): Gemma 3 270M's and GPT-2's published configs give
 * restpg's configs; a write/parse round trip keeps every field; and each way a config can ask for
 * something restpg does not compute is refused naming the key: an unknown key, a fixed key with
 * another value, a missing or mistyped key, an unsupported model_type, a layer pattern restpg
 * does not implement. */
#include <stdlib.h>
#include <string.h>

#include "model/hf_config.h"
#include "tests/test.h"

/* Gemma 3 270M's config.json as published (transformers 4.55 era, layer_types included). */
static const char *GEMMA_270M =
    "{\"architectures\": [\"Gemma3ForCausalLM\"], \"_sliding_window_pattern\": 6, \"attention_bias\": false, "
    "\"attention_dropout\": 0.0, \"attn_logit_softcapping\": null, \"bos_token_id\": 2, \"eos_token_id\": 1, "
    "\"final_logit_softcapping\": null, \"head_dim\": 256, \"hidden_activation\": \"gelu_pytorch_tanh\", "
    "\"hidden_size\": 640, \"initializer_range\": 0.02, \"intermediate_size\": 2048, \"layer_types\": ["
    "\"sliding_attention\", \"sliding_attention\", \"sliding_attention\", \"sliding_attention\", \"sliding_attention\", "
    "\"full_attention\", \"sliding_attention\", \"sliding_attention\", \"sliding_attention\", \"sliding_attention\", "
    "\"sliding_attention\", \"full_attention\", \"sliding_attention\", \"sliding_attention\", \"sliding_attention\", "
    "\"sliding_attention\", \"sliding_attention\", \"full_attention\"], \"max_position_embeddings\": 32768, "
    "\"model_type\": \"gemma3_text\", \"num_attention_heads\": 4, \"num_hidden_layers\": 18, "
    "\"num_key_value_heads\": 1, \"pad_token_id\": 0, \"query_pre_attn_scalar\": 256, \"rms_norm_eps\": 1e-06, "
    "\"rope_local_base_freq\": 10000.0, \"rope_scaling\": null, \"rope_theta\": 1000000.0, \"sliding_window\": 512, "
    "\"torch_dtype\": \"bfloat16\", \"transformers_version\": \"4.55.0.dev0\", \"use_bidirectional_attention\": false, "
    "\"use_cache\": true, \"vocab_size\": 262144}";

/* GPT-2 small's config.json as published. */
static const char *GPT2 =
    "{\"activation_function\": \"gelu_new\", \"architectures\": [\"GPT2LMHeadModel\"], \"attn_pdrop\": 0.1, "
    "\"bos_token_id\": 50256, \"embd_pdrop\": 0.1, \"eos_token_id\": 50256, \"initializer_range\": 0.02, "
    "\"layer_norm_epsilon\": 1e-05, \"model_type\": \"gpt2\", \"n_ctx\": 1024, \"n_embd\": 768, \"n_head\": 12, "
    "\"n_layer\": 12, \"n_positions\": 1024, \"resid_pdrop\": 0.1, \"summary_activation\": null, "
    "\"summary_first_dropout\": 0.1, \"summary_proj_to_labels\": true, \"summary_type\": \"cls_index\", "
    "\"summary_use_proj\": true, \"task_specific_params\": {\"text-generation\": {\"do_sample\": true, "
    "\"max_length\": 50}}, \"vocab_size\": 50257}";

/* Llama 3.2 1B's, Qwen2.5 0.5B's and Qwen3 0.6B's config.json as published. */
static const char *LLAMA32_1B =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"attention_bias\": false, \"attention_dropout\": 0.0, "
    "\"bos_token_id\": 128000, \"eos_token_id\": 128001, \"head_dim\": 64, \"hidden_act\": \"silu\", "
    "\"hidden_size\": 2048, \"initializer_range\": 0.02, \"intermediate_size\": 8192, "
    "\"max_position_embeddings\": 131072, \"mlp_bias\": false, \"model_type\": \"llama\", "
    "\"num_attention_heads\": 32, \"num_hidden_layers\": 16, \"num_key_value_heads\": 8, \"pretraining_tp\": 1, "
    "\"rms_norm_eps\": 1e-05, \"rope_scaling\": {\"factor\": 32.0, \"high_freq_factor\": 4.0, "
    "\"low_freq_factor\": 1.0, \"original_max_position_embeddings\": 8192, \"rope_type\": \"llama3\"}, "
    "\"rope_theta\": 500000.0, \"tie_word_embeddings\": true, \"torch_dtype\": \"bfloat16\", "
    "\"transformers_version\": \"4.45.0.dev0\", \"use_cache\": true, \"vocab_size\": 128256}";
static const char *QWEN25_05B =
    "{\"architectures\": [\"Qwen2ForCausalLM\"], \"attention_dropout\": 0.0, \"bos_token_id\": 151643, "
    "\"eos_token_id\": 151643, \"hidden_act\": \"silu\", \"hidden_size\": 896, \"initializer_range\": 0.02, "
    "\"intermediate_size\": 4864, \"max_position_embeddings\": 32768, \"max_window_layers\": 24, "
    "\"model_type\": \"qwen2\", \"num_attention_heads\": 14, \"num_hidden_layers\": 24, \"num_key_value_heads\": 2, "
    "\"rms_norm_eps\": 1e-06, \"rope_theta\": 1000000.0, \"sliding_window\": 32768, \"tie_word_embeddings\": true, "
    "\"torch_dtype\": \"bfloat16\", \"transformers_version\": \"4.40.1\", \"use_cache\": true, "
    "\"use_mrope\": false, \"use_sliding_window\": false, \"vocab_size\": 151936}";
static const char *QWEN3_06B =
    "{\"architectures\": [\"Qwen3ForCausalLM\"], \"attention_bias\": false, \"attention_dropout\": 0.0, "
    "\"bos_token_id\": 151643, \"eos_token_id\": 151645, \"head_dim\": 128, \"hidden_act\": \"silu\", "
    "\"hidden_size\": 1024, \"initializer_range\": 0.02, \"intermediate_size\": 3072, "
    "\"max_position_embeddings\": 40960, \"max_window_layers\": 28, \"model_type\": \"qwen3\", "
    "\"num_attention_heads\": 16, \"num_hidden_layers\": 28, \"num_key_value_heads\": 8, \"rms_norm_eps\": 1e-06, "
    "\"rope_scaling\": null, \"rope_theta\": 1000000, \"sliding_window\": null, \"tie_word_embeddings\": true, "
    "\"torch_dtype\": \"bfloat16\", \"transformers_version\": \"4.51.0\", \"use_cache\": true, "
    "\"use_sliding_window\": false, \"vocab_size\": 151936}";

static int parse(const char *text, ModelConfig *c, Error *e) { return hf_config_parse("config.json", text, strlen(text), c, e); }

/* text with `from` replaced by `to` (first occurrence), parsed; must fail naming `want`. */
static void refused(const char *text, const char *from, const char *to, const char *want) {
    const char *at = strstr(text, from);
    CHECK_MSG(at != NULL, "fixture lacks '%s'", from);
    if (!at) return;
    size_t n = strlen(text) - strlen(from) + strlen(to);
    char *s = malloc(n + 1);
    memcpy(s, text, (size_t)(at - text));
    strcpy(s + (at - text), to);
    strcat(s, at + strlen(from));
    ModelConfig c;
    Error e = {0};
    int rc = parse(s, &c, &e);
    CHECK_MSG(rc == RP_EINPUT && strstr(e.msg, want) && strstr(e.msg, "config.json"),
              "'%s' -> '%s': rc %d, message '%s' (want '%s')", from, to, rc, e.msg, want);
    free(s);
}

/* Field by field (structs may differ in their padding bytes). */
static int llama_equal(const LlamaConfig *a, const LlamaConfig *b) {
    return a->arch == b->arch && a->vocab_size == b->vocab_size && a->padded_vocab_size == b->padded_vocab_size &&
           a->hidden_size == b->hidden_size && a->intermediate_size == b->intermediate_size && a->n_layer == b->n_layer &&
           a->n_head == b->n_head && a->n_kv_head == b->n_kv_head && a->head_dim == b->head_dim &&
           a->sliding_window == b->sliding_window && a->sliding_window_pattern == b->sliding_window_pattern &&
           a->max_positions == b->max_positions && a->query_pre_attn_scalar == b->query_pre_attn_scalar &&
           a->rms_norm_eps == b->rms_norm_eps && a->rope_theta == b->rope_theta &&
           a->rope_local_base_freq == b->rope_local_base_freq && a->rope_scaling == b->rope_scaling &&
           a->rope_factor == b->rope_factor && a->rope_low_freq_factor == b->rope_low_freq_factor &&
           a->rope_high_freq_factor == b->rope_high_freq_factor &&
           a->rope_original_max_positions == b->rope_original_max_positions && a->norm_offset == b->norm_offset &&
           a->scale_embeddings == b->scale_embeddings && a->post_norms == b->post_norms && a->qk_norm == b->qk_norm &&
           a->qkv_bias == b->qkv_bias && a->tie_word_embeddings == b->tie_word_embeddings && a->hidden_act == b->hidden_act;
}

static int config_equal(const ModelConfig *a, const ModelConfig *b) {
    if (a->arch != b->arch) return 0;
    if (a->arch != ARCH_GPT2) return llama_equal(&a->llama, &b->llama);
    const GPTConfig *x = &a->gpt2, *y = &b->gpt2;
    return x->vocab_size == y->vocab_size && x->padded_vocab_size == y->padded_vocab_size && x->n_layer == y->n_layer &&
           x->n_head == y->n_head && x->n_embd == y->n_embd && x->n_positions == y->n_positions;
}

static void roundtrip(const ModelConfig *c) {
    Error e = {0};
    char *json = NULL;
    CHECK_OK(hf_config_write(c, DTYPE_BF16, 2, 1, &json, &e), &e);
    ModelConfig back;
    CHECK_OK(parse(json, &back, &e), &e);
    CHECK_MSG(config_equal(&back, c), "write/parse round trip changed the config:\n%s", json);
    free(json);
}

int main(void) {
    Error e = {0};
    ModelConfig c;
    CHECK_OK(parse(GEMMA_270M, &c, &e), &e);
    LlamaConfig want = llama_config_gemma3_270m();
    CHECK_OK(llama_config_check(&want, &e), &e);
    CHECK(c.arch == ARCH_GEMMA3 && llama_equal(&c.llama, &want));
    roundtrip(&c);
    CHECK_OK(parse(GPT2, &c, &e), &e);
    CHECK(c.arch == ARCH_GPT2 && c.gpt2.n_layer == 12 && c.gpt2.n_head == 12 && c.gpt2.n_embd == 768 &&
          c.gpt2.n_positions == 1024 && c.gpt2.vocab_size == 50257 && c.gpt2.padded_vocab_size == 50304);
    roundtrip(&c);

    CHECK_OK(parse(LLAMA32_1B, &c, &e), &e);
    const LlamaConfig *g = &c.llama;
    CHECK(c.arch == ARCH_LLAMA && g->n_layer == 16 && g->n_head == 32 && g->n_kv_head == 8 && g->head_dim == 64 &&
          g->hidden_size == 2048 && g->intermediate_size == 8192 && g->vocab_size == 128256 && g->tie_word_embeddings &&
          g->rope_scaling == ROPE_LLAMA3 && g->rope_factor == 32 && g->rope_low_freq_factor == 1 &&
          g->rope_high_freq_factor == 4 && g->rope_original_max_positions == 8192 && g->rope_theta == 5e5 &&
          g->rms_norm_eps == 1e-5f && !g->qkv_bias && !g->qk_norm && g->norm_offset == 0 && g->hidden_act == ACT_SILU);
    roundtrip(&c);
    CHECK_OK(parse(QWEN25_05B, &c, &e), &e);
    CHECK(c.arch == ARCH_QWEN2 && g->qkv_bias && !g->qk_norm && g->head_dim == 64 && g->n_kv_head == 2 &&
          g->sliding_window == 0 && g->tie_word_embeddings);
    roundtrip(&c);
    CHECK_OK(parse(QWEN3_06B, &c, &e), &e);
    CHECK(c.arch == ARCH_QWEN3 && g->qk_norm && !g->qkv_bias && g->head_dim == 128 && g->n_kv_head == 8 &&
          g->rope_scaling == ROPE_DEFAULT);
    roundtrip(&c);
    /* Llama without head_dim or num_key_value_heads (Llama 2): hidden / heads, and MHA. */
    refused(LLAMA32_1B, "\"mlp_bias\": false", "\"mlp_bias\": true", "key 'mlp_bias'");
    refused(LLAMA32_1B, "\"attention_bias\": false", "\"attention_bias\": true", "key 'attention_bias'");
    refused(LLAMA32_1B, "\"hidden_act\": \"silu\"", "\"hidden_act\": \"gelu\"", "key 'hidden_act'");
    refused(LLAMA32_1B, "\"rope_type\": \"llama3\"}", "\"rope_type\": \"llama3\", \"beta_fast\": 32}",
            "key 'rope_scaling.beta_fast'");
    refused(LLAMA32_1B, "\"low_freq_factor\": 1.0, ", "", "key 'rope_scaling.low_freq_factor' must be a number");
    refused(QWEN25_05B, "\"use_sliding_window\": false", "\"use_sliding_window\": true", "key 'use_sliding_window'");
    refused(QWEN3_06B, "\"tie_word_embeddings\": true", "\"tie_word_embeddings\": 1", "must be true or false");
    refused(QWEN3_06B, "\"head_dim\": 128", "\"head_dim\": 127", "head_dim");
    {
        const char *l2 = "{\"model_type\": \"llama\", \"hidden_size\": 64, \"intermediate_size\": 128, "
                         "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"max_position_embeddings\": 128, "
                         "\"vocab_size\": 300}";
        CHECK_OK(parse(l2, &c, &e), &e);
        CHECK(c.llama.head_dim == 16 && c.llama.n_kv_head == 4 && !c.llama.tie_word_embeddings &&
              c.llama.rope_theta == 5e5);
    }

    refused(GEMMA_270M, "\"use_cache\": true", "\"use_cache\": true, \"logit_scale\": 2", "key 'logit_scale'");
    refused(GEMMA_270M, "\"final_logit_softcapping\": null", "\"final_logit_softcapping\": 30.0",
            "key 'final_logit_softcapping' is 30");
    refused(GEMMA_270M, "\"hidden_activation\": \"gelu_pytorch_tanh\"", "\"hidden_activation\": \"relu\"",
            "key 'hidden_activation'");
    refused(GEMMA_270M, "\"rope_scaling\": null", "\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 8.0}",
            "key 'rope_scaling.rope_type' is \"yarn\"");
    refused(GEMMA_270M, "\"num_hidden_layers\": 18, ", "", "key 'num_hidden_layers' is missing");
    refused(GEMMA_270M, "\"hidden_size\": 640", "\"hidden_size\": \"640\"", "key 'hidden_size' must be an integer");
    refused(GEMMA_270M, "\"hidden_size\": 640", "\"hidden_size\": 640.5", "key 'hidden_size' must be an integer");
    refused(GEMMA_270M, "\"model_type\": \"gemma3_text\"", "\"model_type\": \"mamba\"", "'model_type' is \"mamba\"");
    refused(GEMMA_270M, "\"full_attention\", \"sliding_attention\"", "\"sliding_attention\", \"sliding_attention\"",
            "key 'layer_types'[5]");
    refused(GEMMA_270M, "\"num_key_value_heads\": 1", "\"num_key_value_heads\": 3", "num_attention_heads");
    refused(GPT2, "\"layer_norm_epsilon\": 1e-05", "\"layer_norm_epsilon\": 1e-06", "key 'layer_norm_epsilon'");
    refused(GPT2, "\"n_ctx\": 1024", "\"n_ctx\": 512", "key 'n_ctx'");
    refused(GPT2, "\"activation_function\": \"gelu_new\"", "\"activation_function\": \"relu\"",
            "key 'activation_function'");
    CHECK(parse("[1, 2]", &c, &e) == RP_EINPUT && strstr(e.msg, "not a JSON object"));
    CHECK(parse("{\"model_type\": ", &c, &e) == RP_EINPUT);
    return test_summary("test_hf_config");
}

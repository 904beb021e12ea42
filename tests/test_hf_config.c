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

static void roundtrip(const ModelConfig *c) {
    Error e = {0};
    char *json = NULL;
    CHECK_OK(hf_config_write(c, DTYPE_BF16, 2, 1, &json, &e), &e);
    ModelConfig back;
    CHECK_OK(parse(json, &back, &e), &e);
    CHECK_MSG(!memcmp(&back, c, sizeof back), "write/parse round trip changed the config:\n%s", json);
    free(json);
}

int main(void) {
    Error e = {0};
    ModelConfig c;
    CHECK_OK(parse(GEMMA_270M, &c, &e), &e);
    Gemma3Config want = gemma3_config_270m();
    CHECK_OK(gemma3_config_check(&want, &e), &e);
    CHECK(c.arch == ARCH_GEMMA3 && !memcmp(&c.gemma3, &want, sizeof want));
    roundtrip(&c);
    CHECK_OK(parse(GPT2, &c, &e), &e);
    CHECK(c.arch == ARCH_GPT2 && c.gpt2.n_layer == 12 && c.gpt2.n_head == 12 && c.gpt2.n_embd == 768 &&
          c.gpt2.n_positions == 1024 && c.gpt2.vocab_size == 50257 && c.gpt2.padded_vocab_size == 50304);
    roundtrip(&c);

    refused(GEMMA_270M, "\"use_cache\": true", "\"use_cache\": true, \"logit_scale\": 2", "key 'logit_scale'");
    refused(GEMMA_270M, "\"final_logit_softcapping\": null", "\"final_logit_softcapping\": 30.0",
            "key 'final_logit_softcapping' is 30");
    refused(GEMMA_270M, "\"hidden_activation\": \"gelu_pytorch_tanh\"", "\"hidden_activation\": \"relu\"",
            "key 'hidden_activation'");
    refused(GEMMA_270M, "\"rope_scaling\": null", "\"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": 8.0}",
            "key 'rope_scaling'");
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

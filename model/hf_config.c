/* config.json <-> ModelConfig for the Hugging Face importer and exporter (model/hf.h): per
 * family, the keys restpg reads into its config, the keys whose value must be the one restpg
 * implements, and the keys known to change nothing restpg computes. Anything else is an error
 * naming the key, so a config that asks for a computation restpg does not do is never loaded
 * as something else. */
#include "model/hf_config.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* Keys that change nothing restpg computes from the weights: metadata, special-token ids (the
 * tokenizer files are read for those), storage dtype (restpg computes in fp32), caching and
 * initialisation settings, and training-time dropout (restpg trains without dropout). */
static const char *const HARMLESS[] = {
    "architectures", "model_type", "torch_dtype", "dtype", "transformers_version", "use_cache", "bos_token_id",
    "eos_token_id", "pad_token_id", "initializer_range", "attention_dropout", "resid_pdrop", "embd_pdrop",
    "attn_pdrop", "summary_type", "summary_use_proj", "summary_activation", "summary_proj_to_labels",
    "summary_first_dropout", "task_specific_params", "reorder_and_upcast_attn", "output_past",
    "max_window_layers", "cache_implementation", "pretraining_tp", "_name_or_path", "auto_map", "id2label",
    "label2id", "problem_type", "tokenizer_class", "prefix", "sep_token_id", "decoder_start_token_id",
    "return_dict", "output_hidden_states", "output_attentions", "torchscript", "use_return_dict",
    "is_encoder_decoder", "is_decoder", "add_cross_attention", "tie_encoder_decoder", "chunk_size_feed_forward",
    "finetuning_task", "_attn_implementation_autoset", "unsloth_version", "quantization_config_disabled"};

typedef enum { K_INT, K_FLOAT, K_DOUBLE } KeyKind;

/* A key read into the family's config: its JSON name, where it goes, and its default when absent
 * (required when has_default is 0). */
typedef struct {
    const char *key;
    size_t off;
    KeyKind kind;
    int has_default;
    double def;
} ReadKey;

/* A key whose value must be `want` (a JSON literal) when present. */
typedef struct {
    const char *key, *want;
} FixedKey;

#define GI(k, f) {k, offsetof(GPTConfig, f), K_INT, 0, 0}
static const ReadKey GPT2_READ[] = {GI("vocab_size", vocab_size), GI("n_positions", n_positions),
                                    GI("n_embd", n_embd), GI("n_layer", n_layer), GI("n_head", n_head)};
#undef GI
static const FixedKey GPT2_FIXED[] = {
    {"activation_function", "\"gelu_new\""}, {"layer_norm_epsilon", "1e-05"},  {"scale_attn_weights", "true"},
    {"scale_attn_by_inverse_layer_idx", "false"}, {"n_inner", "null"},        {"tie_word_embeddings", "true"},
    {"n_ctx", NULL} /* an old alias of n_positions: checked below */};

#define G3I(k, f) {k, offsetof(Gemma3Config, f), K_INT, 0, 0}
#define G3F(k, f, d) {k, offsetof(Gemma3Config, f), K_FLOAT, 1, d}
#define G3D(k, f, d) {k, offsetof(Gemma3Config, f), K_DOUBLE, 1, d}
static const ReadKey GEMMA3_READ[] = {
    G3I("vocab_size", vocab_size), G3I("hidden_size", hidden_size), G3I("intermediate_size", intermediate_size),
    G3I("num_hidden_layers", n_layer), G3I("num_attention_heads", n_head), G3I("num_key_value_heads", n_kv_head),
    G3I("head_dim", head_dim), G3I("sliding_window", sliding_window),
    {"sliding_window_pattern", offsetof(Gemma3Config, sliding_window_pattern), K_INT, 1, 6},
    G3I("max_position_embeddings", max_positions), G3F("query_pre_attn_scalar", query_pre_attn_scalar, 256),
    G3F("rms_norm_eps", rms_norm_eps, 1e-6), G3D("rope_theta", rope_theta, 1e6),
    G3D("rope_local_base_freq", rope_local_base_freq, 1e4)};
#undef G3I
#undef G3F
#undef G3D
static const FixedKey GEMMA3_FIXED[] = {
    {"hidden_activation", "\"gelu_pytorch_tanh\""}, {"hidden_act", NULL}, {"tie_word_embeddings", "true"},
    {"attention_bias", "false"}, {"final_logit_softcapping", "null"}, {"attn_logit_softcapping", "null"},
    {"rope_scaling", "null"}, {"use_bidirectional_attention", "false"}, {"layer_types", NULL},
    {"_sliding_window_pattern", NULL}};

typedef struct {
    const char *model_type, *architecture;
    Arch arch;
    const ReadKey *read;
    size_t n_read;
    const FixedKey *fixed;
    size_t n_fixed;
} Family;

static const Family FAMILIES[] = {
    {"gpt2", "GPT2LMHeadModel", ARCH_GPT2, GPT2_READ, sizeof GPT2_READ / sizeof GPT2_READ[0], GPT2_FIXED,
     sizeof GPT2_FIXED / sizeof GPT2_FIXED[0]},
    {"gemma3_text", "Gemma3ForCausalLM", ARCH_GEMMA3, GEMMA3_READ, sizeof GEMMA3_READ / sizeof GEMMA3_READ[0],
     GEMMA3_FIXED, sizeof GEMMA3_FIXED / sizeof GEMMA3_FIXED[0]},
};
#define N_FAMILIES (sizeof FAMILIES / sizeof FAMILIES[0])

static const Family *family_of_arch(Arch a) {
    for (size_t i = 0; i < N_FAMILIES; i++)
        if (FAMILIES[i].arch == a) return &FAMILIES[i];
    return NULL;
}

static void *config_member(ModelConfig *c, Arch a) {
    return a == ARCH_GPT2 ? (void *)&c->gpt2 : (void *)&c->gemma3;
}

/* The JSON text of v (cJSON's unformatted print, "1e-05" for 0.00001 as %g would say). */
static int json_literal(const cJSON *v, char *buf, size_t n) {
    if (cJSON_IsNumber(v)) return snprintf(buf, n, "%g", v->valuedouble) < (int)n;
    char *s = cJSON_PrintUnformatted(v);
    if (!s) return 0;
    int ok = snprintf(buf, n, "%s", s) < (int)n;
    cJSON_free(s);
    return ok;
}

/* Gemma 3's layer kinds: `layer_types` (newer transformers) must be the pattern restpg computes,
 * sliding_window_pattern - 1 sliding layers then one full one, repeated. */
static int check_layer_types(const char *path, const cJSON *lt, const Gemma3Config *g, Error *e) {
    if (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != g->n_layer)
        return error_set(e, RP_EINPUT, "%s: key 'layer_types' must list num_hidden_layers (%d) layer kinds", path,
                         g->n_layer);
    int l = 0;
    for (const cJSON *it = lt->child; it; it = it->next, l++) {
        const char *want = gemma3_layer_is_global(g, l) ? "full_attention" : "sliding_attention";
        if (!cJSON_IsString(it) || strcmp(it->valuestring, want))
            return error_set(e, RP_EINPUT,
                             "%s: key 'layer_types'[%d] is not \"%s\": restpg computes Gemma 3's repeating pattern of "
                             "%d layers (sliding_window_pattern)", path, l, want, g->sliding_window_pattern);
    }
    return RP_OK;
}

int hf_config_parse(const char *path, const char *text, size_t len, ModelConfig *c, Error *e) {
    memset(c, 0, sizeof *c);
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return error_set(e, RP_EINPUT, "%s: not a JSON object", path);
    }
    int rc = RP_OK;
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    const Family *fam = NULL;
    if (!cJSON_IsString(mt)) {
        rc = error_set(e, RP_EINPUT, "%s: key 'model_type' is missing or not a string", path);
        goto out;
    }
    for (size_t i = 0; i < N_FAMILIES && !fam; i++)
        if (!strcmp(mt->valuestring, FAMILIES[i].model_type)) fam = &FAMILIES[i];
    if (!fam) {
        char known[256] = "";
        for (size_t i = 0; i < N_FAMILIES; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", FAMILIES[i].model_type);
        rc = error_set(e, RP_EINPUT, "%s: key 'model_type' is \"%s\", which restpg does not support (%s)", path,
                       mt->valuestring, known);
        goto out;
    }
    c->arch = fam->arch;
    char *member = config_member(c, fam->arch);
    for (size_t i = 0; i < fam->n_read && !rc; i++) {
        const ReadKey *k = &fam->read[i];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, k->key);
        double x = k->def;
        if (!v && !k->has_default) rc = error_set(e, RP_EINPUT, "%s: key '%s' is missing", path, k->key);
        else if (v && (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
                       (k->kind == K_INT && (v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 2e9))))
            rc = error_set(e, RP_EINPUT, "%s: key '%s' must be %s", path, k->key,
                           k->kind == K_INT ? "an integer" : "a finite number");
        if (rc) break;
        if (v) x = v->valuedouble;
        if (k->kind == K_INT) *(int *)(member + k->off) = (int)x;
        else if (k->kind == K_FLOAT) *(float *)(member + k->off) = (float)x;
        else *(double *)(member + k->off) = x;
    }
    /* Every other key: fixed to restpg's value, or harmless, or an error. */
    for (const cJSON *it = root->child; it && !rc; it = it->next) {
        const char *key = it->string;
        int known = 0;
        for (size_t i = 0; i < fam->n_read && !known; i++) known = !strcmp(key, fam->read[i].key);
        for (size_t i = 0; i < sizeof HARMLESS / sizeof HARMLESS[0] && !known; i++) known = !strcmp(key, HARMLESS[i]);
        for (size_t i = 0; i < fam->n_fixed && !known && !rc; i++) {
            const FixedKey *f = &fam->fixed[i];
            if (strcmp(key, f->key)) continue;
            known = 1;
            char lit[128];
            if (f->want && (!json_literal(it, lit, sizeof lit) || strcmp(lit, f->want)))
                rc = error_set(e, RP_EINPUT, "%s: key '%s' is %s; restpg implements only %s", path, key,
                               json_literal(it, lit, sizeof lit) ? lit : "a long value", f->want);
        }
        if (!known && !rc)
            rc = error_set(e, RP_EINPUT,
                           "%s: key '%s' is not one restpg knows for model_type \"%s\"; it may change the computation, "
                           "so the model is refused (docs/models.md lists the keys read)", path, key, fam->model_type);
    }
    if (rc) goto out;
    if (fam->arch == ARCH_GPT2) {
        const cJSON *nctx = cJSON_GetObjectItemCaseSensitive(root, "n_ctx");
        if (nctx && (!cJSON_IsNumber(nctx) || nctx->valuedouble != c->gpt2.n_positions))
            rc = error_set(e, RP_EINPUT, "%s: key 'n_ctx' must equal n_positions (%d)", path, c->gpt2.n_positions);
    } else {
        const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "hidden_act");
        if (act && !cJSON_IsNull(act) && (!cJSON_IsString(act) || strcmp(act->valuestring, "gelu_pytorch_tanh")))
            rc = error_set(e, RP_EINPUT, "%s: key 'hidden_act' must be \"gelu_pytorch_tanh\" (or null)", path);
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(root, "_sliding_window_pattern");
        if (!rc && pat && (!cJSON_IsNumber(pat) || pat->valuedouble != c->gemma3.sliding_window_pattern))
            rc = error_set(e, RP_EINPUT, "%s: key '_sliding_window_pattern' must equal sliding_window_pattern (%d)",
                           path, c->gemma3.sliding_window_pattern);
    }
    if (!rc) rc = model_config_check(c, e);
    if (!rc && fam->arch == ARCH_GEMMA3) {
        const cJSON *lt = cJSON_GetObjectItemCaseSensitive(root, "layer_types");
        if (lt) rc = check_layer_types(path, lt, &c->gemma3, e);
    }
    if (rc && rc != RP_ENOMEM && !strstr(e->msg, path)) error_wrap(e, "%s", path);
out:
    cJSON_Delete(root);
    return rc;
}

/* Adds key = number to obj. */
static int add_num(cJSON *obj, const char *key, double v) { return cJSON_AddNumberToObject(obj, key, v) != NULL; }

int hf_config_write(const ModelConfig *c, DType dtype, int32_t bos, int32_t eos, char **json, Error *e) {
    const Family *fam = family_of_arch(c->arch);
    if (!fam) return error_set(e, RP_EINPUT, "Hugging Face export: architecture %s has no config.json form",
                               model_arch_name(c->arch));
    cJSON *root = cJSON_CreateObject(), *arch = cJSON_CreateArray();
    int ok = root && arch && cJSON_AddItemToObject(root, "architectures", arch) &&
             cJSON_AddItemToArray(arch, cJSON_CreateString(fam->architecture)) &&
             cJSON_AddStringToObject(root, "model_type", fam->model_type) &&
             cJSON_AddStringToObject(root, "torch_dtype", dtype == DTYPE_BF16 ? "bfloat16" : "float32");
    ModelConfig copy = *c;
    const char *member = config_member(&copy, c->arch);
    for (size_t i = 0; i < fam->n_read && ok; i++) {
        const ReadKey *k = &fam->read[i];
        double v = k->kind == K_INT ? *(const int *)(member + k->off)
                   : k->kind == K_FLOAT ? (double)*(const float *)(member + k->off) : *(const double *)(member + k->off);
        ok = add_num(root, k->key, v);
    }
    for (size_t i = 0; i < fam->n_fixed && ok; i++) {
        const FixedKey *f = &fam->fixed[i];
        if (!f->want) continue;
        cJSON *v = cJSON_Parse(f->want);
        ok = v && cJSON_AddItemToObject(root, f->key, v);
    }
    if (ok && bos >= 0) ok = add_num(root, "bos_token_id", bos);
    if (ok && eos >= 0) ok = add_num(root, "eos_token_id", eos);
    *json = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return *json ? RP_OK : error_set(e, RP_ENOMEM, "config.json: out of memory");
}

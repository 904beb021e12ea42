/* config.json <-> ModelConfig for the Hugging Face importer and exporter (model/hf_dir.h): per
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

typedef enum { K_INT, K_FLOAT, K_DOUBLE, K_BOOL } KeyKind;

/* A key read into the family's config: its JSON name, where it goes, and what happens when it is
 * absent: required (DEF_NONE), a default (DEF_VALUE, def), or the variant constructor's value
 * (DEF_KEEP). */
enum { DEF_NONE, DEF_VALUE, DEF_KEEP };
typedef struct {
    const char *key;
    size_t off;
    KeyKind kind;
    int has_default;
    double def;
} ReadKey;

/* A key whose value must be `want` (a JSON literal) when present; NULL: checked by the family's
 * own code below. */
typedef struct {
    const char *key, *want;
} FixedKey;

#define GI(k, f) {k, offsetof(GPTConfig, f), K_INT, DEF_NONE, 0}
static const ReadKey GPT2_READ[] = {GI("vocab_size", vocab_size), GI("n_positions", n_positions),
                                    GI("n_embd", n_embd), GI("n_layer", n_layer), GI("n_head", n_head)};
#undef GI
static const FixedKey GPT2_FIXED[] = {
    {"activation_function", "\"gelu_new\""}, {"layer_norm_epsilon", "1e-05"},  {"scale_attn_weights", "true"},
    {"scale_attn_by_inverse_layer_idx", "false"}, {"n_inner", "null"},        {"tie_word_embeddings", "true"},
    {"n_ctx", NULL}};

/* The Llama family: the keys every variant reads, then Gemma 3's own. num_key_value_heads and
 * head_dim default to num_attention_heads and hidden_size / num_attention_heads (filled below). */
#define LI(k, f, d) {k, offsetof(LlamaConfig, f), K_INT, d, 0}
#define LK(k, f, kind) {k, offsetof(LlamaConfig, f), kind, DEF_KEEP, 0}
#define LLAMA_COMMON                                                                                                   \
    LI("vocab_size", vocab_size, DEF_NONE), LI("hidden_size", hidden_size, DEF_NONE),                                 \
        LI("intermediate_size", intermediate_size, DEF_NONE), LI("num_hidden_layers", n_layer, DEF_NONE),             \
        LI("num_attention_heads", n_head, DEF_NONE), LI("num_key_value_heads", n_kv_head, DEF_KEEP),                  \
        LI("head_dim", head_dim, DEF_KEEP), LI("max_position_embeddings", max_positions, DEF_NONE),                   \
        LK("rms_norm_eps", rms_norm_eps, K_FLOAT), LK("rope_theta", rope_theta, K_DOUBLE)
static const ReadKey LLAMA_READ[] = {LLAMA_COMMON, {"tie_word_embeddings", offsetof(LlamaConfig, tie_word_embeddings), K_BOOL, DEF_VALUE, 0}};
static const ReadKey GEMMA3_READ[] = {
    LLAMA_COMMON, {"tie_word_embeddings", offsetof(LlamaConfig, tie_word_embeddings), K_BOOL, DEF_VALUE, 1},
    LI("sliding_window", sliding_window, DEF_NONE), LK("sliding_window_pattern", sliding_window_pattern, K_INT),
    LK("query_pre_attn_scalar", query_pre_attn_scalar, K_FLOAT), LK("rope_local_base_freq", rope_local_base_freq, K_DOUBLE)};
#undef LI
#undef LK
static const FixedKey LLAMA_FIXED[] = {{"hidden_act", "\"silu\""}, {"attention_bias", "false"}, {"mlp_bias", "false"},
                                       {"rope_scaling", NULL}, {"layer_types", NULL}};
static const FixedKey QWEN2_FIXED[] = {{"hidden_act", "\"silu\""}, {"use_sliding_window", "false"}, {"use_mrope", "false"},
                                       {"sliding_window", NULL}, {"rope_scaling", NULL}, {"layer_types", NULL}};
static const FixedKey QWEN3_FIXED[] = {{"hidden_act", "\"silu\""}, {"attention_bias", "false"}, {"use_sliding_window", "false"},
                                       {"sliding_window", NULL}, {"rope_scaling", NULL}, {"layer_types", NULL}};
static const FixedKey GEMMA3_FIXED[] = {
    {"hidden_activation", "\"gelu_pytorch_tanh\""}, {"hidden_act", NULL}, {"attention_bias", "false"},
    {"final_logit_softcapping", "null"}, {"attn_logit_softcapping", "null"}, {"rope_scaling", NULL},
    {"use_bidirectional_attention", "false"}, {"layer_types", NULL}, {"_sliding_window_pattern", NULL}};

typedef struct {
    const char *model_type, *architecture;
    Arch arch;
    const ReadKey *read;
    size_t n_read;
    const FixedKey *fixed;
    size_t n_fixed;
} Family;

#define N(a) (sizeof a / sizeof a[0])
static const Family FAMILIES[] = {
    {"gpt2", "GPT2LMHeadModel", ARCH_GPT2, GPT2_READ, N(GPT2_READ), GPT2_FIXED, N(GPT2_FIXED)},
    {"llama", "LlamaForCausalLM", ARCH_LLAMA, LLAMA_READ, N(LLAMA_READ), LLAMA_FIXED, N(LLAMA_FIXED)},
    {"qwen2", "Qwen2ForCausalLM", ARCH_QWEN2, LLAMA_READ, N(LLAMA_READ), QWEN2_FIXED, N(QWEN2_FIXED)},
    {"qwen3", "Qwen3ForCausalLM", ARCH_QWEN3, LLAMA_READ, N(LLAMA_READ), QWEN3_FIXED, N(QWEN3_FIXED)},
    {"gemma3_text", "Gemma3ForCausalLM", ARCH_GEMMA3, GEMMA3_READ, N(GEMMA3_READ), GEMMA3_FIXED, N(GEMMA3_FIXED)},
};
#define N_FAMILIES N(FAMILIES)

static const Family *family_of_arch(Arch a) {
    for (size_t i = 0; i < N_FAMILIES; i++)
        if (FAMILIES[i].arch == a) return &FAMILIES[i];
    return NULL;
}

static void *config_member(ModelConfig *c, Arch a) { return a == ARCH_GPT2 ? (void *)&c->gpt2 : (void *)&c->llama; }

/* The JSON text of v (cJSON's unformatted print; numbers as %g, so 0.00001 reads "1e-05"). */
static int json_literal(const cJSON *v, char *buf, size_t n) {
    if (cJSON_IsNumber(v)) return snprintf(buf, n, "%g", v->valuedouble) < (int)n;
    char *s = cJSON_PrintUnformatted(v);
    if (!s) return 0;
    int ok = snprintf(buf, n, "%s", s) < (int)n;
    cJSON_free(s);
    return ok;
}

/* `layer_types` (newer transformers) must name the layers restpg computes: Gemma 3's repeating
 * pattern of sliding layers and one full one; every layer full for the others. */
static int check_layer_types(const char *path, const cJSON *lt, const LlamaConfig *g, Error *e) {
    if (!cJSON_IsArray(lt) || cJSON_GetArraySize(lt) != g->n_layer)
        return error_set(e, RP_EINPUT, "%s: key 'layer_types' must list num_hidden_layers (%d) layer kinds", path,
                         g->n_layer);
    int l = 0;
    for (const cJSON *it = lt->child; it; it = it->next, l++) {
        const char *want = llama_layer_is_global(g, l) ? "full_attention" : "sliding_attention";
        if (!cJSON_IsString(it) || strcmp(it->valuestring, want))
            return error_set(e, RP_EINPUT, "%s: key 'layer_types'[%d] is not \"%s\": restpg computes %s", path, l, want,
                             g->sliding_window ? "Gemma 3's repeating pattern of sliding_window_pattern layers"
                                               : "every layer with full attention for this family");
    }
    return RP_OK;
}

/* A number member of rope_scaling, or `def` when absent (required when def < 0). */
static int rope_num(const char *path, const cJSON *rs, const char *key, double def, double *out, Error *e) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rs, key);
    if (!v && def >= 0) return *out = def, RP_OK;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return error_set(e, RP_EINPUT, "%s: key 'rope_scaling.%s' must be a number", path, key);
    *out = v->valuedouble;
    return RP_OK;
}

/* rope_scaling: null, or {rope_type (or type): default | linear | llama3, factor, ...}. */
static int read_rope_scaling(const char *path, const cJSON *rs, LlamaConfig *c, Error *e) {
    if (!rs || cJSON_IsNull(rs)) return RP_OK;
    if (!cJSON_IsObject(rs)) return error_set(e, RP_EINPUT, "%s: key 'rope_scaling' must be null or an object", path);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
    if (!type) type = cJSON_GetObjectItemCaseSensitive(rs, "type");
    if (!cJSON_IsString(type)) return error_set(e, RP_EINPUT, "%s: key 'rope_scaling.rope_type' must be a string", path);
    const char *t = type->valuestring;
    static const char *const KNOWN[] = {"rope_type", "type", "factor", "low_freq_factor", "high_freq_factor",
                                        "original_max_position_embeddings"};
    for (const cJSON *it = rs->child; it; it = it->next) {
        int ok = 0;
        for (size_t i = 0; i < N(KNOWN) && !ok; i++) ok = !strcmp(it->string, KNOWN[i]);
        if (!ok) return error_set(e, RP_EINPUT, "%s: key 'rope_scaling.%s' is not one restpg implements", path, it->string);
    }
    double f = 0, lo = 0, hi = 0, orig = 0;
    int rc = RP_OK;
    if (!strcmp(t, "default")) return RP_OK;
    if (!strcmp(t, "linear")) {
        if (!(rc = rope_num(path, rs, "factor", -1, &f, e))) c->rope_scaling = ROPE_LINEAR, c->rope_factor = f;
        return rc;
    }
    if (strcmp(t, "llama3"))
        return error_set(e, RP_EINPUT, "%s: key 'rope_scaling.rope_type' is \"%s\"; restpg implements default, linear "
                                       "and llama3", path, t);
    if ((rc = rope_num(path, rs, "factor", -1, &f, e)) || (rc = rope_num(path, rs, "low_freq_factor", -1, &lo, e)) ||
        (rc = rope_num(path, rs, "high_freq_factor", -1, &hi, e)) ||
        (rc = rope_num(path, rs, "original_max_position_embeddings", -1, &orig, e)))
        return rc;
    if (orig != floor(orig) || orig < 1 || orig > 1e9)
        return error_set(e, RP_EINPUT, "%s: key 'rope_scaling.original_max_position_embeddings' must be a positive integer",
                         path);
    c->rope_scaling = ROPE_LLAMA3, c->rope_factor = f, c->rope_low_freq_factor = lo, c->rope_high_freq_factor = hi;
    c->rope_original_max_positions = (int)orig;
    return RP_OK;
}

/* What the tables cannot say: GPT-2's n_ctx; the Llama family's defaults that depend on other
 * keys, rope_scaling, Gemma's hidden_act alias and pattern alias, Qwen's unused sliding_window,
 * and layer_types (after the config check, which fills the pattern's meaning). */
static int family_keys(const char *path, const cJSON *root, const Family *fam, ModelConfig *c, Error *e) {
    if (fam->arch == ARCH_GPT2) {
        const cJSON *nctx = cJSON_GetObjectItemCaseSensitive(root, "n_ctx");
        if (nctx && (!cJSON_IsNumber(nctx) || nctx->valuedouble != c->gpt2.n_positions))
            return error_set(e, RP_EINPUT, "%s: key 'n_ctx' must equal n_positions (%d)", path, c->gpt2.n_positions);
        return model_config_check(c, e);
    }
    LlamaConfig *g = &c->llama;
    if (!cJSON_GetObjectItemCaseSensitive(root, "num_key_value_heads")) g->n_kv_head = g->n_head;
    const cJSON *hd = cJSON_GetObjectItemCaseSensitive(root, "head_dim");
    if (!hd || cJSON_IsNull(hd)) g->head_dim = g->n_head > 0 ? g->hidden_size / g->n_head : 0;
    int rc = read_rope_scaling(path, cJSON_GetObjectItemCaseSensitive(root, "rope_scaling"), g, e);
    if (rc) return rc;
    if (fam->arch == ARCH_GEMMA3) {
        /* Newer configs give the layer kinds instead of the pattern: its period is the position of
         * the first full layer (none: no layer is global); check_layer_types checks the rest. */
        const cJSON *lt = cJSON_GetObjectItemCaseSensitive(root, "layer_types");
        if (cJSON_IsArray(lt) && !cJSON_GetObjectItemCaseSensitive(root, "sliding_window_pattern") &&
            !cJSON_GetObjectItemCaseSensitive(root, "_sliding_window_pattern")) {
            int first = 0;
            for (const cJSON *it = lt->child; it && !(cJSON_IsString(it) && !strcmp(it->valuestring, "full_attention"));
                 it = it->next)
                first++;
            g->sliding_window_pattern = first + 1;
        }
        const cJSON *act = cJSON_GetObjectItemCaseSensitive(root, "hidden_act");
        if (act && !cJSON_IsNull(act) && (!cJSON_IsString(act) || strcmp(act->valuestring, "gelu_pytorch_tanh")))
            return error_set(e, RP_EINPUT, "%s: key 'hidden_act' must be \"gelu_pytorch_tanh\" (or null)", path);
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(root, "_sliding_window_pattern");
        if (pat && (!cJSON_IsNumber(pat) || pat->valuedouble != g->sliding_window_pattern))
            return error_set(e, RP_EINPUT, "%s: key '_sliding_window_pattern' must equal sliding_window_pattern (%d)",
                             path, g->sliding_window_pattern);
    } else {
        /* Qwen's sliding_window is read only with use_sliding_window true, which is refused. */
        const cJSON *sw = cJSON_GetObjectItemCaseSensitive(root, "sliding_window");
        if (sw && !cJSON_IsNull(sw) && !cJSON_IsNumber(sw))
            return error_set(e, RP_EINPUT, "%s: key 'sliding_window' must be a number or null", path);
    }
    if ((rc = model_config_check(c, e))) return rc;
    const cJSON *lt = cJSON_GetObjectItemCaseSensitive(root, "layer_types");
    return lt ? check_layer_types(path, lt, g, e) : RP_OK;
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
    if (fam->arch != ARCH_GPT2 && (rc = llama_config_variant(fam->arch, &c->llama, e))) goto out;
    char *member = config_member(c, fam->arch);
    for (size_t i = 0; i < fam->n_read && !rc; i++) {
        const ReadKey *k = &fam->read[i];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, k->key);
        if (v && cJSON_IsNull(v) && k->has_default != DEF_NONE) v = NULL;
        if (!v && k->has_default == DEF_KEEP) continue;
        double x = k->def;
        if (!v && k->has_default == DEF_NONE) rc = error_set(e, RP_EINPUT, "%s: key '%s' is missing", path, k->key);
        else if (v && k->kind == K_BOOL && !cJSON_IsBool(v))
            rc = error_set(e, RP_EINPUT, "%s: key '%s' must be true or false", path, k->key);
        else if (v && k->kind != K_BOOL &&
                 (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
                  (k->kind == K_INT && (v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 2e9))))
            rc = error_set(e, RP_EINPUT, "%s: key '%s' must be %s", path, k->key,
                           k->kind == K_INT ? "an integer" : "a finite number");
        if (rc) break;
        if (v) x = k->kind == K_BOOL ? cJSON_IsTrue(v) : v->valuedouble;
        if (k->kind == K_INT || k->kind == K_BOOL) *(int *)(member + k->off) = (int)x;
        else if (k->kind == K_FLOAT) *(float *)(member + k->off) = (float)x;
        else *(double *)(member + k->off) = x;
    }
    /* Every other key: fixed to restpg's value, or harmless, or an error. */
    for (const cJSON *it = root->child; it && !rc; it = it->next) {
        const char *key = it->string;
        int known = 0;
        for (size_t i = 0; i < fam->n_read && !known; i++) known = !strcmp(key, fam->read[i].key);
        for (size_t i = 0; i < N(HARMLESS) && !known; i++) known = !strcmp(key, HARMLESS[i]);
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
    if (!rc) rc = family_keys(path, root, fam, c, e);
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
        const char *p = member + k->off;
        if (k->kind == K_BOOL) ok = cJSON_AddBoolToObject(root, k->key, *(const int *)p) != NULL;
        else
            ok = add_num(root, k->key, k->kind == K_INT     ? *(const int *)p
                                       : k->kind == K_FLOAT ? (double)*(const float *)p
                                                            : *(const double *)p);
    }
    for (size_t i = 0; i < fam->n_fixed && ok; i++) {
        const FixedKey *f = &fam->fixed[i];
        if (!f->want) continue;
        cJSON *v = cJSON_Parse(f->want);
        ok = v && cJSON_AddItemToObject(root, f->key, v);
    }
    if (ok && c->arch != ARCH_GPT2) {
        const LlamaConfig *g = &c->llama;
        if (g->rope_scaling == ROPE_DEFAULT) ok = cJSON_AddNullToObject(root, "rope_scaling") != NULL;
        else {
            cJSON *rs = cJSON_AddObjectToObject(root, "rope_scaling");
            ok = rs && cJSON_AddStringToObject(rs, "rope_type", g->rope_scaling == ROPE_LINEAR ? "linear" : "llama3") &&
                 add_num(rs, "factor", g->rope_factor);
            if (ok && g->rope_scaling == ROPE_LLAMA3)
                ok = add_num(rs, "low_freq_factor", g->rope_low_freq_factor) &&
                     add_num(rs, "high_freq_factor", g->rope_high_freq_factor) &&
                     add_num(rs, "original_max_position_embeddings", g->rope_original_max_positions);
        }
    }
    if (ok && bos >= 0) ok = add_num(root, "bos_token_id", bos);
    if (ok && eos >= 0) ok = add_num(root, "eos_token_id", eos);
    *json = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    return *json ? RP_OK : error_set(e, RP_ENOMEM, "config.json: out of memory");
}

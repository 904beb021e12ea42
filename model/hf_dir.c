/* Hugging Face model directories in (see hf_dir.h; the exporter is hf_dir_export.c). */
#include "model/hf_dir.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fileio.h"
#include "core/log.h"
#include "core/text.h"
#include "model/hf_config.h"
#include "model/hf_tensors.h"
#include "model/safetensors.h"

static const char *strip(const char *path) { return strncmp(path, "hf:", 3) ? path : path + 3; }

int hf_dir_is(const char *path) {
    if (!strncmp(path, "hf:", 3)) return 1;
    struct stat st;
    if (stat(path, &st) || !S_ISDIR(st.st_mode)) return 0;
    char *cfg = xasprintf(NULL, "%s/config.json", path);
    int yes = cfg && path_exists(cfg);
    free(cfg);
    return yes;
}

/* ---- import ---- */

typedef struct {
    const STDir *d;
    const char *dir;
} LoadCtx;

static int load_slice(void *ctx, const HfSlice *s, float *data, Error *e) {
    const LoadCtx *c = ctx;
    const STFile *file = NULL;
    const STTensor *t = st_dir_find(c->d, s->name, &file);
    if (!t) return error_set(e, RP_EINPUT, "%s: tensor '%s' is missing", c->dir, s->name);
    int same = t->n_dims == (size_t)s->rank;
    for (int i = 0; same && i < s->rank; i++) same = t->shape[i] == s->dims[i];
    if (!same) {
        char got[64] = "", want[64];
        for (size_t i = 0; i < t->n_dims; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%llu", i ? ", " : "", (unsigned long long)t->shape[i]);
        if (s->rank > 1) snprintf(want, sizeof want, "%llu, %llu", (unsigned long long)s->dims[0], (unsigned long long)s->dims[1]);
        else snprintf(want, sizeof want, "%llu", (unsigned long long)s->dims[0]);
        return error_set(e, RP_EINPUT, "%s: tensor '%s' has shape [%s]; config.json implies [%s]", st_path(file), s->name,
                         got, want);
    }
    return st_dir_read_f32(c->d, s->name, data, e);
}

/* Names the walk visits, to find the tensors of the files it does not. */
typedef struct {
    StrMap names;
} NameSet;

static int add_name(void *ctx, const char *name, Error *e) {
    NameSet *ns = ctx;
    return strmap_put(&ns->names, name, strlen(name), 1, e);
}

/* Every tensor of the files must be one restpg loads, but for a tied LM head stored anyway
 * (lm_head.weight equal to the embedding, as some exporters write it). */
static int check_extra(const STDir *d, const Model *m, Error *e) {
    NameSet ns;
    int rc = strmap_init(&ns.names, 256, e);
    if (!rc) rc = hf_tensors_names(m, add_name, &ns, e);
    for (size_t i = 0; i < st_dir_tensor_count(d) && !rc; i++) {
        const STFile *f;
        const STTensor *t = st_dir_tensor_at(d, i, &f);
        int64_t v;
        if (strmap_get(&ns.names, t->name, strlen(t->name), &v)) continue;
        if (!strcmp(t->name, "lm_head.weight")) {
            const char *emb = m->arch == ARCH_GPT2 ? "transformer.wte.weight" : "model.embed_tokens.weight";
            if (m->arch != ARCH_GPT2 && !m->llama.cfg.tie_word_embeddings) emb = ""; /* a real head is in the table */
            const STTensor *et = st_dir_find(d, emb, NULL);
            size_t n = (size_t)t->n_elems;
            float *a = et && et->n_elems == t->n_elems ? xmalloc(sizeof(float) * (n ? n : 1), e) : NULL;
            float *b = a ? xmalloc(sizeof(float) * (n ? n : 1), e) : NULL;
            int same = b && !st_dir_read_f32(d, t->name, a, e) && !st_dir_read_f32(d, emb, b, e) &&
                       !memcmp(a, b, sizeof(float) * n);
            free(a);
            free(b);
            if (same) continue;
            rc = error_set(e, RP_EINPUT, "%s: tensor 'lm_head.weight' differs from '%s', but this family ties them "
                                         "(tie_word_embeddings)", st_path(f), emb);
            break;
        }
        rc = error_set(e, RP_EINPUT, "%s: tensor '%s' is not one restpg's %s model has; the file is another model",
                       st_path(f), t->name, model_arch_name(m->arch));
    }
    strmap_free(&ns.names);
    return rc;
}

/* generation_config.json, where present, must be a JSON object; its eos ids are compared with the
 * tokenizer's end of text (generation stops there), and a mismatch is said. */
static int check_generation_config(const char *dir, const Tokenizer *t, Error *e) {
    char *path = xasprintf(e, "%s/generation_config.json", dir), *text = NULL;
    if (!path) return RP_ENOMEM;
    int rc = RP_OK;
    if (path_exists(path)) {
        size_t len;
        if (!(rc = file_read_all(path, &text, &len, e))) {
            cJSON *root = cJSON_ParseWithLength(text, len);
            if (!cJSON_IsObject(root)) rc = error_set(e, RP_EINPUT, "%s: not a JSON object", path);
            const cJSON *eos = root ? cJSON_GetObjectItemCaseSensitive(root, "eos_token_id") : NULL;
            if (!rc && eos && t) {
                int32_t eot = tokenizer_special(t, TOK_EOT), found = 0;
                if (cJSON_IsNumber(eos)) found = eos->valuedouble == eot;
                for (const cJSON *it = cJSON_IsArray(eos) ? eos->child : NULL; it; it = it->next)
                    found |= cJSON_IsNumber(it) && it->valuedouble == eot;
                if (!found)
                    log_warn("%s: eos_token_id does not include the tokenizer's end of text (id %d), where restpg "
                             "stops generating", path, eot);
            }
            cJSON_Delete(root);
        }
    }
    free(text);
    free(path);
    return rc;
}

int hf_dir_load(const char *path, Model *m, Tokenizer **t, Error *e) {
    const char *dir = strip(path);
    memset(m, 0, sizeof *m);
    if (t) *t = NULL;
    char *cfg_path = xasprintf(e, "%s/config.json", dir), *text = NULL;
    if (!cfg_path) return RP_ENOMEM;
    size_t len = 0;
    ModelConfig c;
    STDir *d = NULL;
    int have_model = 0, rc = file_read_all(cfg_path, &text, &len, e);
    if (!rc) rc = hf_config_parse(cfg_path, text, len, &c, e);
    if (!rc) rc = st_dir_open(dir, &d, e);
    if (!rc && !(rc = model_init(m, &c, e))) have_model = 1;
    if (!rc) {
        LoadCtx lc = {d, dir};
        rc = hf_tensors_walk(m, 0, 'p', load_slice, &lc, e);
    }
    if (!rc) rc = check_extra(d, m, e);
    if (!rc && t && !(rc = tokenizer_load(dir, t, e)) && tokenizer_vocab_size(*t) > m->vocab_size)
        rc = error_set(e, RP_EINPUT, "%s: the tokenizer has %d ids, more than config.json's vocab_size %d", dir,
                       tokenizer_vocab_size(*t), m->vocab_size);
    if (!rc) rc = check_generation_config(dir, t ? *t : NULL, e);
    st_dir_close(d);
    free(text);
    free(cfg_path);
    if (rc) {
        if (have_model) model_free(m);
        if (t) {
            tokenizer_free(*t);
            *t = NULL;
        }
    }
    return rc;
}

/* Hugging Face tokenizer.json vocabularies: building the Tokenizer's BPE tables from the parsed
 * tokenizer.json (model, added tokens) and the settings taken from tokenizer_config.json, and
 * choosing restpg's special tokens (docs/tokenizer.md). Files and RPHF: tokenizer_hf_io.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/tokenizer_hf.h"

#define HF_MAX_TOKENS (1 << 24)

int hf_bad(Error *e, const char *where, const char *jpath, const char *fmt, ...) {
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* A message that starts with ".field" or "[i]" continues the path. */
    int joined = msg[0] == '.' || msg[0] == '[';
    return error_set(e, RP_EINPUT, "%s: %s%s%s", where, jpath, *jpath && !joined ? " " : "",
                     !*jpath && msg[0] == '.' ? msg + 1 : msg);
}

int hf_unsupported(Error *e, const char *where, const char *jpath, const char *type, const char *hint) {
    return error_set(e, RP_EINPUT, "%s: %s%stype \"%s\" is not supported%s", where, jpath, *jpath ? "." : "", type, hint);
}

char *hf_path(Error *e, const char *parent, const char *key) {
    return xasprintf(e, "%s%s%s", parent, *parent && key[0] != '[' ? "." : "", key);
}

int hf_string(const cJSON *o, const char *key, const char **s, const char *where, const char *jpath, Error *e) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(j))
        return hf_bad(e, where, jpath, ".%s is missing or not a string", key);
    *s = j->valuestring;
    return RP_OK;
}

int hf_bool(const cJSON *o, const char *key, int dflt, int *b, const char *where, const char *jpath, Error *e) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!j || cJSON_IsNull(j)) *b = dflt;
    else if (cJSON_IsBool(j)) *b = cJSON_IsTrue(j);
    else return hf_bad(e, where, jpath, ".%s must be true or false", key);
    return RP_OK;
}

/* ---- GPT-2's byte alphabet ---- */

static int printable(int b) { return (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255); }

uint32_t hf_byte_char(int b) {
    if (printable(b)) return (uint32_t)b;
    uint32_t k = 256;
    for (int i = 0; i < b; i++) k += !printable(i);
    return k;
}

/* Maps a string of alphabet characters back to its bytes (out may be NULL to only check, and may
 * be s itself: never longer). Returns the byte count, or -1 if a character is outside the
 * alphabet (which ends at U+0143, two UTF-8 bytes). */
static long byte_unmap(const char *s, size_t n, char *out) {
    long k = 0;
    for (size_t i = 0; i < n;) {
        unsigned c = (unsigned char)s[i], cp;
        if (c < 0x80) cp = c, i++;
        else if ((c & 0xE0) == 0xC0 && i + 1 < n && ((unsigned char)s[i + 1] & 0xC0) == 0x80)
            cp = ((c & 0x1Fu) << 6) | ((unsigned char)s[i + 1] & 0x3Fu), i += 2;
        else return -1;
        /* U+0100 + k stands for the k-th byte that is not printable. */
        int b = cp < 256 ? (printable((int)cp) ? (int)cp : -1) : -1;
        for (int x = 0, k = 256; x < 256 && b < 0 && cp >= 256; x++)
            if (!printable(x) && (uint32_t)k++ == cp) b = x;
        if (b < 0) return -1;
        if (out) out[k] = (char)b;
        k++;
    }
    return k;
}

void hf_free(HfVocab *v) {
    if (!v) return;
    free(v->payload);
    for (int i = 0; i < v->n_norm; i++) free(v->norm[i].a), free(v->norm[i].b);
    for (int i = 0; i < v->n_pre; i++)
        if (v->pre[i].re) pcre2_code_free(v->pre[i].re);
    for (int i = 0; i < v->n_dec; i++) free(v->dec[i].a), free(v->dec[i].b);
    hf_free_added(&v->raw);
    hf_free_added(&v->normed);
    free(v->norm), free(v->pre), free(v->dec), free(v->dec_off), free(v->dec_bytes);
    strmap_free(&v->vocab);
    free(v);
}

/* ---- building from the JSON ---- */

/* One added token of the JSON, before ids are settled. */
typedef struct {
    int32_t id;
    const char *content;
    int special, normalized, lstrip, rstrip;
    int in_model; /* model.vocab has it (at the same id) */
    /* What it matches and decodes as: the content, or with normalized set the content put
     * through the normalizer (tokenizers decodes such a token from that form too). */
    char *text;
    size_t ntext;
} Added;

static void free_added(Added *a, int n) {
    for (int i = 0; a && i < n; i++) free(a[i].text);
    free(a);
}

static int model_id(const HfVocab *v, const char *s, size_t n) {
    int64_t id;
    return strmap_get(&v->vocab, s, n, &id) ? (int)id : -1;
}

/* The model-space id of an HF token string (an alphabet string for byte-level), or -1. scratch
 * holds at least strlen(s) bytes. */
static int hf_model_id(const HfVocab *v, const char *s, char *scratch) {
    size_t n = strlen(s);
    if (!v->byte_level) return model_id(v, s, n);
    long k = byte_unmap(s, n, scratch);
    return k < 0 ? -1 : model_id(v, scratch, (size_t)k);
}

/* hf_model_id with scratch of its own. */
static int hf_lookup(const HfVocab *v, const char *s, int32_t *id, Error *e) {
    char *scratch = xmalloc(strlen(s) + 1, e);
    if (!scratch) return RP_ENOMEM;
    *id = hf_model_id(v, s, scratch);
    free(scratch);
    return RP_OK;
}

/* model.vocab: every entry's model-space string into t, ids 0..n_model-1 with no gap. */
static int read_vocab(Tokenizer *t, HfVocab *v, const cJSON *vocab, const char *jp, const HfSrc *S) {
    Error *e = S->e;
    int32_t *len = xmalloc((size_t)v->n_model * sizeof *len, e);
    if (!len) return RP_ENOMEM;
    for (int32_t id = 0; id < v->n_model; id++) len[id] = -1;
    int rc = RP_OK;
    for (cJSON *it = vocab->child; it && !rc; it = it->next) {
        double d = cJSON_IsNumber(it) ? it->valuedouble : -1;
        int32_t id = d >= 0 && d < v->n_model ? (int32_t)d : -1; /* converting first would be undefined */
        size_t n = strlen(it->string);
        long k = v->byte_level ? byte_unmap(it->string, n, NULL) : (long)n;
        if (id < 0 || d != (double)id || len[id] >= 0)
            rc = hf_bad(e, S->where, jp, "\"%s\": id must be a distinct integer in 0..%d", it->string, v->n_model - 1);
        else if (n == 0) rc = hf_bad(e, S->where, jp, "has an empty token (id %d)", id);
        else if (k < 0)
            rc = hf_bad(e, S->where, jp, "\"%s\" is not spelt in GPT-2's byte alphabet (the ByteLevel pre-tokenizer "
                        "needs it)", it->string);
        else len[id] = (int32_t)k;
    }
    uint32_t off = 0;
    for (int32_t id = 0; id < v->n_model && !rc; id++) {
        t->tok_off[id] = off;
        off += (uint32_t)len[id];
    }
    if (!rc) t->tok_off[v->n_model] = off;
    for (cJSON *it = rc ? NULL : vocab->child; it && !rc; it = it->next) {
        int32_t id = (int32_t)it->valuedouble;
        char *dst = t->tok_bytes + t->tok_off[id];
        if (v->byte_level) byte_unmap(it->string, strlen(it->string), dst);
        else memcpy(dst, it->string, (size_t)len[id]);
        if (model_id(v, dst, (size_t)len[id]) >= 0) rc = hf_bad(e, S->where, jp, "has \"%s\" twice", it->string);
        else rc = strmap_put(&v->vocab, dst, (size_t)len[id], id, e);
    }
    free(len);
    return rc;
}

/* model: the BPE settings, vocabulary and merges. */
static int read_model(Tokenizer **out, HfVocab *v, const cJSON *model, int32_t n_extra, size_t extra_bytes,
                      const HfSrc *S) {
    Error *e = S->e;
    char *jp = hf_path(e, S->jp, "model");
    if (!jp) return RP_ENOMEM;
    int rc = RP_OK;
    const char *type = NULL, *unk = NULL;
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *j;
    if (!cJSON_IsObject(model)) rc = hf_bad(e, S->where, jp, "is missing or not an object");
    else if ((rc = hf_string(model, "type", &type, S->where, jp, e))) {
    } else if (strcmp(type, "BPE")) rc = hf_unsupported(e, S->where, jp, type, " (restpg reads BPE models)");
    else if ((j = cJSON_GetObjectItemCaseSensitive(model, "dropout")) && !cJSON_IsNull(j))
        rc = hf_bad(e, S->where, jp, ".dropout must be null (dropout makes encoding random)");
    else if (!cJSON_IsObject(vocab) || !cJSON_IsArray(merges))
        rc = hf_bad(e, S->where, jp, "needs an object \"vocab\" and an array \"merges\"");
    const char *affix[2] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int k = 0; k < 2 && !rc; k++)
        if ((j = cJSON_GetObjectItemCaseSensitive(model, affix[k])) && !cJSON_IsNull(j) &&
            !(cJSON_IsString(j) && !j->valuestring[0]))
            rc = hf_bad(e, S->where, jp, ".%s must be null or \"\"", affix[k]);
    if (!rc && (j = cJSON_GetObjectItemCaseSensitive(model, "unk_token")) && !cJSON_IsNull(j)) {
        if (!cJSON_IsString(j)) rc = hf_bad(e, S->where, jp, ".unk_token must be a string or null");
        else unk = j->valuestring;
    }
    if (!rc) rc = hf_bool(model, "fuse_unk", 0, &v->fuse_unk, S->where, jp, e);
    if (!rc) rc = hf_bool(model, "byte_fallback", 0, &v->byte_fallback, S->where, jp, e);
    if (!rc) rc = hf_bool(model, "ignore_merges", 0, &v->ignore_merges, S->where, jp, e);
    int n_merges = 0;
    size_t bytes = extra_bytes;
    if (!rc) {
        v->n_model = cJSON_GetArraySize(vocab);
        if (v->n_model < 1 || v->n_model > HF_MAX_TOKENS - n_extra)
            rc = hf_bad(e, S->where, jp, ".vocab has %d tokens (1..%d are supported)", v->n_model, HF_MAX_TOKENS);
        for (cJSON *it = vocab->child; it && !rc; it = it->next) bytes += strlen(it->string);
        for (cJSON *it = merges->child; it && !rc; it = it->next)
            n_merges += !(cJSON_IsString(it) && !strncmp(it->valuestring, "#version", 8));
    }
    if (!rc && bytes >= UINT32_MAX) rc = hf_bad(e, S->where, jp, ".vocab holds %zu bytes (at most 4 GiB)", bytes);
    if (!rc) rc = tokenizer_alloc(v->n_model + n_extra, bytes, n_merges, out, e);
    if (!rc) rc = strmap_init(&v->vocab, (size_t)v->n_model, e);
    char *vjp = rc ? NULL : hf_path(e, jp, "vocab");
    if (!rc && !vjp) rc = RP_ENOMEM;
    if (!rc) rc = read_vocab(*out, v, vocab, vjp, S);
    free(vjp);
    Tokenizer *t = *out;
    char *scratch = rc ? NULL : xmalloc(1024, e);
    if (!rc && !scratch) rc = RP_ENOMEM;
    int r = 0, idx = -1;
    for (cJSON *it = rc ? NULL : merges->child; it && !rc; it = it->next) {
        idx++;
        const char *a = NULL, *b = NULL;
        char *pair = NULL;
        if (cJSON_IsString(it)) {
            if (!strncmp(it->valuestring, "#version", 8)) continue;
            char *sp = strchr(it->valuestring, ' ');
            if (sp && !strchr(sp + 1, ' ') && (pair = xstrdup(it->valuestring, e))) {
                pair[sp - it->valuestring] = '\0';
                a = pair;
                b = pair + (sp - it->valuestring) + 1;
            } else if (sp && !strchr(sp + 1, ' ')) rc = RP_ENOMEM;
        } else if (cJSON_GetArraySize(it) == 2 && cJSON_IsString(it->child) && cJSON_IsString(it->child->next)) {
            a = it->child->valuestring;
            b = it->child->next->valuestring;
        }
        size_t la = a ? strlen(a) : 0, lb = b ? strlen(b) : 0;
        int ia = -1, ib = -1, ic = -1;
        if (!rc && (!a || !la || !lb))
            rc = hf_bad(e, S->where, jp, ".merges[%d]: expected \"left right\" (one space) or [left, right]", idx);
        else if (!rc && la + lb >= 1024)
            rc = hf_bad(e, S->where, jp, ".merges[%d]: a merge of %zu bytes is too long", idx, la + lb);
        else if (!rc && ((ia = hf_model_id(v, a, scratch)) < 0 || (ib = hf_model_id(v, b, scratch)) < 0))
            rc = hf_bad(e, S->where, jp, ".merges[%d]: \"%s\" is not in model.vocab", idx, ia < 0 ? a : b);
        if (!rc) {
            uint32_t na = t->tok_off[ia + 1] - t->tok_off[ia], nb = t->tok_off[ib + 1] - t->tok_off[ib];
            memcpy(scratch, t->tok_bytes + t->tok_off[ia], na);
            memcpy(scratch + na, t->tok_bytes + t->tok_off[ib], nb);
            if ((ic = model_id(v, scratch, na + nb)) < 0)
                rc = hf_bad(e, S->where, jp, ".merges[%d]: \"%s%s\" (the merge's result) is not in model.vocab", idx,
                            a, b);
            else t->merges[r++] = (Merge){ia, ib, ic};
        }
        free(pair);
    }
    free(scratch);
    if (!rc && (rc = pairmap_build(&t->pairs, t->merges, t->n_merges, e))) error_wrap(e, "%s: %s.merges", S->where, jp);
    if (!rc && unk && !(rc = hf_lookup(v, unk, &v->unk, e)) && v->unk < 0)
        rc = hf_bad(e, S->where, jp, ".unk_token \"%s\" is not in model.vocab", unk);
    free(jp);
    return rc;
}

/* added_tokens: each entry's fields (ids are settled by settle_added). */
static int read_added(const HfVocab *v, const cJSON *arr, Added **out, int *n_out, const HfSrc *S) {
    Error *e = S->e;
    *out = NULL;
    *n_out = 0;
    if (!arr || cJSON_IsNull(arr)) return RP_OK;
    char *jp = hf_path(e, S->jp, "added_tokens");
    if (!jp) return RP_ENOMEM;
    int n = cJSON_GetArraySize(arr), rc = RP_OK, i = 0, single = 0;
    Added *a = cJSON_IsArray(arr) ? xcalloc((size_t)n + 1, sizeof *a, e) : NULL;
    if (!cJSON_IsArray(arr)) rc = hf_bad(e, S->where, jp, "must be an array");
    else if (!a) rc = RP_ENOMEM;
    for (const cJSON *it = rc ? NULL : arr->child; it && !rc; it = it->next, i++) {
        char *ip = xasprintf(e, "%s[%d]", jp, i);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
        if (!ip) rc = RP_ENOMEM;
        else if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble >= HF_MAX_TOKENS ||
                 id->valuedouble != (double)(int32_t)id->valuedouble)
            rc = hf_bad(e, S->where, ip, "needs an integer \"id\" in 0..%d", HF_MAX_TOKENS - 1);
        else if (!(rc = hf_string(it, "content", &a[i].content, S->where, ip, e)) && !a[i].content[0])
            rc = hf_bad(e, S->where, ip, "has an empty content");
        if (!rc) rc = hf_bool(it, "special", 0, &a[i].special, S->where, ip, e);
        if (!rc) rc = hf_bool(it, "normalized", !a[i].special, &a[i].normalized, S->where, ip, e);
        if (!rc) rc = hf_bool(it, "lstrip", 0, &a[i].lstrip, S->where, ip, e);
        if (!rc) rc = hf_bool(it, "rstrip", 0, &a[i].rstrip, S->where, ip, e);
        if (!rc) rc = hf_bool(it, "single_word", 0, &single, S->where, ip, e);
        /* Special tokens never match text here, so their flags do not matter. */
        if (!rc && single && !a[i].special)
            rc = hf_bad(e, S->where, ip, "(\"%s\"): single_word true is not supported", a[i].content);
        if (!rc) a[i].id = (int32_t)id->valuedouble;
        StrBuf b;
        strbuf_init(&b);
        if (!rc) rc = a[i].normalized ? hf_normalize(v, a[i].content, strlen(a[i].content), &b, e)
                                      : strbuf_puts(&b, a[i].content, e);
        a[i].text = b.s;
        a[i].ntext = b.len;
        free(ip);
    }
    free(jp);
    if (rc) {
        free_added(a, n);
        return rc;
    }
    *out = a;
    *n_out = n;
    return RP_OK;
}

/* Checks the added tokens' ids against the model (a token the vocabulary has keeps its id; the
 * others take the ids right after it, n_model..) and stores the new ones' contents in t. */
static int settle_added(Tokenizer *t, HfVocab *v, Added *a, int n, const HfSrc *S, int32_t *n_ids) {
    Error *e = S->e;
    StrMap seen;
    char *jp = hf_path(e, S->jp, "added_tokens");
    int rc = jp ? strmap_init(&seen, (size_t)n + 1, e) : RP_ENOMEM, n_new = 0;
    if (rc) {
        free(jp);
        return rc;
    }
    int32_t model;
    for (int i = 0; i < n && !rc; i++) {
        int64_t dummy;
        if (strmap_get(&seen, a[i].content, strlen(a[i].content), &dummy))
            rc = hf_bad(e, S->where, jp, "has \"%s\" twice", a[i].content);
        else if (!(rc = strmap_put(&seen, a[i].content, strlen(a[i].content), i, e)) &&
                 !(rc = hf_lookup(v, a[i].content, &model, e))) {
            if (model >= 0 && model != a[i].id)
                rc = hf_bad(e, S->where, jp, "\"%s\" has id %d, but model.vocab gives it %d", a[i].content,
                            a[i].id, model);
            a[i].in_model = model >= 0;
            n_new += model < 0;
        }
    }
    strmap_free(&seen);
    uint8_t *taken = rc ? NULL : xcalloc((size_t)n_new + 1, 1, e);
    if (!rc && !taken) rc = RP_ENOMEM;
    for (int i = 0; i < n && !rc; i++) {
        if (a[i].in_model) continue;
        int32_t k = a[i].id - v->n_model;
        if (k < 0 || k >= n_new || taken[k])
            rc = hf_bad(e, S->where, jp, "\"%s\" has id %d: the tokens model.vocab lacks must take the ids "
                        "%d..%d, one each", a[i].content, a[i].id, v->n_model, v->n_model + n_new - 1);
        else taken[k] = 1;
    }
    free(taken);
    /* Their bytes follow the model's, in id order. */
    uint32_t off = t->tok_off[v->n_model];
    for (int32_t k = 0; k < n_new && !rc; k++)
        for (int i = 0; i < n; i++)
            if (a[i].id == v->n_model + k) {
                memcpy(t->tok_bytes + off, a[i].text, a[i].ntext);
                off += (uint32_t)a[i].ntext;
                t->tok_off[v->n_model + k + 1] = off;
            }
    *n_ids = v->n_model + n_new;
    free(jp);
    return rc;
}

/* The matching tables of the added tokens: raw (normalized false) and normalized ones, whose
 * pattern is their content put through the normalizer, as tokenizers matches them. */
static int build_added(HfVocab *v, const Added *a, int n, Error *e) {
    v->raw.tok = xcalloc((size_t)n + 1, sizeof(HfAdded), e);
    v->normed.tok = xcalloc((size_t)n + 1, sizeof(HfAdded), e);
    if (!v->raw.tok || !v->normed.tok) return RP_ENOMEM;
    for (int i = 0; i < n; i++) {
        HfAddedSet *set = a[i].normalized ? &v->normed : &v->raw;
        HfAdded *h = &set->tok[set->n++];
        if (!(h->pat = xmalloc(a[i].ntext + 1, e))) return RP_ENOMEM;
        memcpy(h->pat, a[i].text, a[i].ntext);
        h->npat = a[i].ntext;
        h->id = a[i].special ? -1 : a[i].id;
        h->lstrip = a[i].lstrip;
        h->rstrip = a[i].rstrip;
    }
    int rc = hf_index_added(&v->raw, e);
    return rc ? rc : hf_index_added(&v->normed, e);
}

/* The id of a token text: an added token's content, else a model.vocab string; -1 if none. */
static int find_token(const HfVocab *v, const Added *a, int n, const char *s, int32_t *id, Error *e) {
    for (int i = 0; i < n; i++)
        if (!strcmp(a[i].content, s)) return *id = a[i].id, RP_OK;
    return hf_lookup(v, s, id, e);
}

/* Whether the model's first pass gives token id to some text by itself: a single character (a
 * single byte for byte-level). */
static int one_char(const Tokenizer *t, const HfVocab *v, int32_t id) {
    uint32_t l = t->tok_off[id + 1] - t->tok_off[id];
    unsigned c = (unsigned char)t->tok_bytes[t->tok_off[id]];
    if (v->byte_level) return l == 1;
    return l == (c < 0xC0 ? 1u : c < 0xE0 ? 2u : c < 0xF0 ? 3u : 4u);
}

static int is_merge_result(const Tokenizer *t, int32_t id) {
    for (int32_t r = 0; r < t->n_merges; r++)
        if (t->merges[r].result == id) return 1;
    return 0;
}

/* restpg's specials (docs/tokenizer.md): EOT is the config's eos_token (else the first of the
 * families' known EOS texts); reasoning and answer are the first reserved pair the vocabulary has
 * as special tokens that text cannot produce, else two ids appended after the vocabulary. */
static int choose_specials(Tokenizer *t, HfVocab *v, const Added *a, int n, const cJSON *cfg, int32_t *n_ids,
                           const HfSrc *S) {
    Error *e = S->e;
    static const char *const known_eos[] = {"<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>"};
    /* restpg's own markers first: a file restpg exported (tokenizer_save_hf) lists them as special
     * added tokens at the ids it had appended them at. */
    static const char *const reserved[3][2] = {{"<|reasoning|>", "<|answer|>"},
                                               {"<unused0>", "<unused1>"},
                                               {"<|reserved_special_token_0|>", "<|reserved_special_token_1|>"}};
    const cJSON *eos = cJSON_GetObjectItemCaseSensitive(cfg, "eos_token");
    int32_t id = -1;
    char *ajp = hf_path(e, S->jp, "added_tokens");
    int rc = ajp ? RP_OK : RP_ENOMEM;
    if (cJSON_IsString(eos)) {
        if (!(rc = find_token(v, a, n, eos->valuestring, &id, e)) && id < 0)
            rc = hf_bad(e, S->cwhere, S->cjp, ".eos_token \"%s\" is not a token of the vocabulary",
                        eos->valuestring);
    } else
        for (size_t k = 0; k < sizeof known_eos / sizeof *known_eos && !rc && id < 0; k++)
            rc = find_token(v, a, n, known_eos[k], &id, e);
    if (!rc && id < 0)
        rc = hf_bad(e, S->where, "", "has no end-of-text token: tokenizer_config.json gives no eos_token and none of "
                    "<|endoftext|>, <|end_of_text|>, </s>, <eos> is a token");
    t->special[TOK_EOT] = id;
    for (int p = 0; p < 3 && !rc; p++) {
        int32_t ids[2];
        for (int s = 0; s < 2 && !rc; s++) {
            ids[s] = -1;
            /* restpg's own pair counts only as special tokens: other files may use the texts. */
            for (int i = 0; i < n; i++)
                if (!strcmp(a[i].content, reserved[p][s])) ids[s] = a[i].special ? a[i].id : p ? -2 : -1;
            if (ids[s] == -2 || (ids[s] >= 0 && ids[s] < v->n_model &&
                                 (v->ignore_merges || is_merge_result(t, ids[s]) || one_char(t, v, ids[s]))))
                rc = hf_bad(e, S->where, ajp, "\"%s\" is not a special token that text cannot produce "
                            "(restpg's %s marker needs one)", reserved[p][s], s ? "answer" : "reasoning");
            else if (ids[s] == id) rc = hf_bad(e, S->where, ajp, "\"%s\" is also the eos token", reserved[p][s]);
        }
        if (!rc && (ids[0] >= 0) != (ids[1] >= 0))
            rc = hf_bad(e, S->where, ajp, "has %s but not %s (restpg needs both)",
                        reserved[p][ids[0] < 0], reserved[p][ids[0] >= 0]);
        if (!rc && ids[0] >= 0) {
            t->special[TOK_REASONING] = ids[0];
            t->special[TOK_ANSWER] = ids[1];
            free(ajp);
            return RP_OK;
        }
    }
    free(ajp);
    /* None reserved: two new ids after the vocabulary, as for GPT-2's files. */
    for (int s = 1; s < TOK_N_SPECIAL && !rc; s++) {
        size_t l = strlen(TOKENIZER_SPECIAL_TEXT[s]);
        uint32_t off = t->tok_off[*n_ids];
        memcpy(t->tok_bytes + off, TOKENIZER_SPECIAL_TEXT[s], l);
        t->tok_off[*n_ids + 1] = off + (uint32_t)l;
        t->special[s] = (*n_ids)++;
    }
    return rc;
}

/* Byte-level decoding: a model token's bytes; an added token's content mapped back through the
 * byte alphabet when every character is in it, else as written (tokenizers' ByteLevel decoder);
 * restpg's markers as their text. */
static int build_byte_decode(Tokenizer *t, HfVocab *v, const Added *a, int n, Error *e) {
    v->dec_off = xmalloc(((size_t)t->n_tokens + 1) * sizeof(uint32_t), e);
    v->dec_bytes = xmalloc((size_t)t->tok_off[t->n_tokens] + 1, e);
    if (!v->dec_off || !v->dec_bytes) return RP_ENOMEM;
    uint32_t k = 0;
    for (int32_t id = 0; id < t->n_tokens; id++) {
        uint32_t l = t->tok_off[id + 1] - t->tok_off[id];
        v->dec_off[id] = k;
        memcpy(v->dec_bytes + k, t->tok_bytes + t->tok_off[id], l);
        long m = -1;
        for (int i = 0; i < n && id >= v->n_model; i++)
            if (a[i].id == id) m = byte_unmap(v->dec_bytes + k, l, v->dec_bytes + k);
        k += m >= 0 ? (uint32_t)m : l;
    }
    v->dec_off[t->n_tokens] = k;
    return RP_OK;
}

/* Everything after the model: added tokens, specials, BOS, lookup and decode tables. */
static int finish(Tokenizer *t, HfVocab *v, const cJSON *tok, const cJSON *cfg, Added *a, int n, const HfSrc *S) {
    Error *e = S->e;
    int32_t n_ids = 0;
    int add_bos = -1;
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(cfg, "add_bos_token");
    if (j) add_bos = cJSON_IsTrue(j);
    char *jp = hf_path(e, S->jp, "post_processor");
    int rc = jp ? settle_added(t, v, a, n, S, &n_ids) : RP_ENOMEM;
    if (!rc) rc = build_added(v, a, n, e);
    if (!rc) rc = choose_specials(t, v, a, n, cfg, &n_ids, S);
    t->n_tokens = n_ids;
    if (!rc) rc = hf_parse_post_processor(cJSON_GetObjectItemCaseSensitive(tok, "post_processor"), &v->bos, S->where, jp, e);
    if (!rc && v->bos >= t->n_tokens) rc = hf_bad(e, S->where, jp, "adds id %d, outside the vocabulary", v->bos);
    if (!rc && add_bos >= 0 && add_bos != (v->bos >= 0))
        rc = hf_bad(e, S->cwhere, S->cjp, ".add_bos_token is %s but tokenizer.json's post_processor %s",
                    add_bos ? "true" : "false", v->bos >= 0 ? "adds a BOS" : "adds none");
    free(jp);
    for (int b = 0; b < 256; b++) {
        char one = (char)b, hex[8];
        snprintf(hex, sizeof hex, "<0x%02X>", b);
        t->byte_id[b] = v->byte_level ? model_id(v, &one, 1) : -1;
        v->fallback[b] = v->byte_fallback ? model_id(v, hex, 6) : -1;
    }
    if (!rc && v->byte_level) rc = build_byte_decode(t, v, a, n, e);
    if (!rc) rc = encode_cache_create(&t->cache, e);
    return rc;
}

int hf_build(const cJSON *root, const HfSrc *S, char *payload, size_t plen, Tokenizer **out) {
    Error *e = S->e;
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(root, "tokenizer");
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(root, "config");
    HfVocab *v = xcalloc(1, sizeof *v, e);
    if (!v) {
        free(payload);
        return RP_ENOMEM;
    }
    v->payload = payload;
    v->payload_len = plen;
    v->unk = v->bos = -1;
    Tokenizer *t = NULL;
    Added *a = NULL;
    int n_added = 0, rc = RP_OK;
    /* The model's type first: a WordPiece or Unigram file is best told so, not about its parts. */
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(tok, "model");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    char *mjp = hf_path(e, S->jp, "model");
    if (!mjp) rc = RP_ENOMEM;
    else if (cJSON_IsString(type) && strcmp(type->valuestring, "BPE"))
        rc = hf_unsupported(e, S->where, mjp, type->valuestring, " (restpg reads BPE models)");
    free(mjp);
    const char *fields[] = {"truncation", "padding"};
    for (int k = 0; k < 2 && !rc; k++) {
        const cJSON *j = cJSON_GetObjectItemCaseSensitive(tok, fields[k]);
        if (j && !cJSON_IsNull(j)) rc = hf_bad(e, S->where, S->jp, ".%s must be null (restpg encodes whole texts)", fields[k]);
    }
    char *jps[3] = {hf_path(e, S->jp, "pre_tokenizer"), hf_path(e, S->jp, "normalizer"), hf_path(e, S->jp, "decoder")};
    if (!rc && (!jps[0] || !jps[1] || !jps[2])) rc = RP_ENOMEM;
    if (!rc) rc = hf_parse_pre_tokenizer(v, cJSON_GetObjectItemCaseSensitive(tok, "pre_tokenizer"), S->where, jps[0], e);
    if (!rc) rc = hf_parse_normalizer(v, cJSON_GetObjectItemCaseSensitive(tok, "normalizer"), S->where, jps[1], e);
    if (!rc) rc = hf_parse_decoder(v, cJSON_GetObjectItemCaseSensitive(tok, "decoder"), S->where, jps[2], e);
    for (int k = 0; k < 3; k++) free(jps[k]);
    if (!rc) rc = read_added(v, cJSON_GetObjectItemCaseSensitive(tok, "added_tokens"), &a, &n_added, S);
    size_t extra = 0;
    for (int i = 0; i < n_added; i++) extra += a[i].ntext;
    for (int s = 1; s < TOK_N_SPECIAL; s++) extra += strlen(TOKENIZER_SPECIAL_TEXT[s]);
    if (!rc) rc = read_model(&t, v, model, n_added + 2, extra, S);
    if (t) t->hf = v;
    if (!rc) rc = finish(t, v, tok, cfg, a, n_added, S);
    free_added(a, n_added);
    if (rc) {
        if (t) tokenizer_free(t);
        else hf_free(v);
        return rc;
    }
    *out = t;
    return RP_OK;
}

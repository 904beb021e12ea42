/* Writing any restpg tokenizer as Hugging Face files (tokenizer_save_hf in tokenizer.h):
 * tokenizer.json for PyPI tokenizers and tokenizer_config.json for transformers' AutoTokenizer.
 * Per kind (docs/tokenizer.md, "Export"):
 *  - tokenizer.json (RPHF): the stored JSON itself, plus restpg's appended markers as special added
 *    tokens;
 *  - byte-level BPE (RPTK: GPT-2's files or a trained vocabulary): a ByteLevel BPE file with the
 *    merges in rank order;
 *  - SentencePiece (RPSP): a BPE file with byte fallback whose merges are every split (a, b) of
 *    every piece a+b, ranked by the score of a+b, so that lowest-rank-first merging is llama.cpp's
 *    highest-score-first merging. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fileio.h"
#include "data/tokenizer_hf.h"
#include "data/tokenizer_spm.h"

/* An added token as tokenizer.json and tokenizer_config.json's added_tokens_decoder list it. */
typedef struct {
    int32_t id;
    char *content;
    int special, normalized, lstrip, rstrip, single_word;
} ExpAdded;

/* What one kind produces: the tokenizer.json text, its added tokens, and the contents of the BOS,
 * EOS, unknown and padding tokens (NULL: none) for the config. */
typedef struct {
    StrBuf json;
    ExpAdded *added;
    int n_added;
    char *names[4];
} Export;

enum { NAME_BOS, NAME_EOS, NAME_UNK, NAME_PAD };
static const char *const NAME_KEYS[4] = {"bos_token", "eos_token", "unk_token", "pad_token"};

static void export_free(Export *x) {
    strbuf_free(&x->json);
    for (int i = 0; i < x->n_added; i++) free(x->added[i].content);
    free(x->added);
    for (int k = 0; k < 4; k++) free(x->names[k]);
}

/* s[0..n) as a NUL-terminated copy. */
static char *dup_span(const char *s, size_t n, Error *e) {
    char *c = xmalloc(n + 1, e);
    if (!c) return NULL;
    memcpy(c, s, n);
    c[n] = '\0';
    return c;
}

static int add_token(Export *x, int32_t id, const char *content, size_t n, int special, Error *e) {
    ExpAdded *a = xrealloc(x->added, ((size_t)x->n_added + 1) * sizeof *a, e);
    if (!a) return RP_ENOMEM;
    x->added = a;
    char *c = dup_span(content, n, e);
    if (!c) return RP_ENOMEM;
    a[x->n_added++] = (ExpAdded){id, c, special, 0, 0, 0, 0};
    return RP_OK;
}

static int added_order(const void *a, const void *b) {
    int32_t x = ((const ExpAdded *)a)->id, y = ((const ExpAdded *)b)->id;
    return (x > y) - (x < y);
}

static const char *added_content(const Export *x, int32_t id) {
    for (int i = 0; i < x->n_added; i++)
        if (x->added[i].id == id) return x->added[i].content;
    return NULL;
}

/* s[0..n) escaped for inside a JSON string literal (the pieces are not NUL-terminated). */
static int put_jraw(StrBuf *b, const char *s, size_t n, Error *e) {
    size_t run = 0;
    int rc = RP_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        char esc[8];
        if (c == '"' || c == '\\') esc[0] = '\\', esc[1] = (char)c, esc[2] = 0;
        else snprintf(esc, sizeof esc, "\\u%04x", c);
        rc = strbuf_append(b, s + run, i - run, e);
        if (!rc) rc = strbuf_puts(b, esc, e);
        run = i + 1;
    }
    return rc ? rc : strbuf_append(b, s + run, n - run, e);
}

static int put_jstr(StrBuf *b, const char *s, size_t n, Error *e) {
    int rc = strbuf_append(b, "\"", 1, e);
    if (!rc) rc = put_jraw(b, s, n, e);
    return rc ? rc : strbuf_append(b, "\"", 1, e);
}

/* The added_tokens array of the generated kinds. */
static int put_added(StrBuf *b, const Export *x, Error *e) {
    int rc = strbuf_puts(b, "\"added_tokens\":[", e);
    for (int i = 0; i < x->n_added && !rc; i++) {
        const ExpAdded *a = &x->added[i];
        rc = strbuf_printf(b, e, "%s{\"id\":%d,\"content\":", i ? "," : "", a->id);
        if (!rc) rc = put_jstr(b, a->content, strlen(a->content), e);
        if (!rc)
            rc = strbuf_printf(b, e, ",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,"
                               "\"special\":%s}", a->special ? "true" : "false");
    }
    return rc ? rc : strbuf_puts(b, "],", e);
}

typedef struct {
    const char *s;
    size_t n;
} Span;

/* "merges":[...] from n (left, right) spellings: GPT-2's "left right" form unless a side holds a
 * space, then the [left, right] form (tokenizers reads one form per file). */
static int put_merges(StrBuf *b, const Span *left, const Span *right, int64_t n, Error *e) {
    int pairs = 0;
    for (int64_t r = 0; r < n && !pairs; r++) pairs = memchr(left[r].s, ' ', left[r].n) || memchr(right[r].s, ' ', right[r].n);
    int rc = strbuf_puts(b, "\"merges\":[", e);
    for (int64_t r = 0; r < n && !rc; r++) {
        if (r) rc = strbuf_puts(b, ",", e);
        if (!rc && pairs) {
            rc = strbuf_puts(b, "[", e);
            if (!rc) rc = put_jstr(b, left[r].s, left[r].n, e);
            if (!rc) rc = strbuf_puts(b, ",", e);
            if (!rc) rc = put_jstr(b, right[r].s, right[r].n, e);
            if (!rc) rc = strbuf_puts(b, "]", e);
        } else if (!rc) {
            rc = strbuf_puts(b, "\"", e);
            if (!rc) rc = put_jraw(b, left[r].s, left[r].n, e);
            if (!rc) rc = strbuf_puts(b, " ", e);
            if (!rc) rc = put_jraw(b, right[r].s, right[r].n, e);
            if (!rc) rc = strbuf_puts(b, "\"", e);
        }
    }
    return rc ? rc : strbuf_puts(b, "]", e);
}

/* ---- byte-level BPE (RPTK) ---- */

/* GPT-2's spelling of bytes: each byte as its alphabet character, in UTF-8. */
static int spell_bytes(StrBuf *b, const uint32_t cp[256], const char *s, size_t n, Error *e) {
    strbuf_clear(b);
    for (size_t i = 0; i < n; i++) {
        uint32_t c = cp[(unsigned char)s[i]]; /* below U+0144: one or two UTF-8 bytes */
        char u[2] = {(char)c, 0};
        if (c >= 0x80) u[0] = (char)(0xC0 | (c >> 6)), u[1] = (char)(0x80 | (c & 0x3F));
        if (strbuf_append(b, u, c < 0x80 ? 1 : 2, e)) return RP_ENOMEM;
    }
    return strbuf_append(b, "", 0, e);
}

static int export_bpe(const Tokenizer *t, Export *x, Error *e) {
    uint32_t cp[256];
    for (int b = 0; b < 256; b++) cp[b] = hf_byte_char(b);
    int32_t n = t->n_tokens, m = n;
    /* The model's vocabulary is every id below the trailing run of special tokens (GPT-2's
     * <|endoftext|> and restpg's markers; a trained vocabulary's three specials). */
    for (int moved = 1; moved;) {
        moved = 0;
        for (int s = 0; s < TOK_N_SPECIAL; s++)
            if (t->special[s] == m - 1) m--, moved = 1;
    }
    char **spell = xcalloc((size_t)n + 1, sizeof *spell, e);
    StrMap seen;
    StrBuf b;
    strbuf_init(&b);
    int rc = spell ? strmap_init(&seen, (size_t)n, e) : RP_ENOMEM;
    if (rc) {
        free(spell);
        return rc;
    }
    for (int32_t id = 0; id < m && !rc; id++) {
        int64_t other;
        uint32_t len = t->tok_off[id + 1] - t->tok_off[id];
        if ((rc = spell_bytes(&b, cp, t->tok_bytes + t->tok_off[id], len, e))) break;
        if (strmap_get(&seen, b.s, b.len, &other))
            rc = error_set(e, RP_EINPUT, "tokens %lld and %d are the same bytes \"%s\" (GPT-2 alphabet): a "
                           "tokenizer.json vocabulary holds each string once, so this vocabulary cannot be exported",
                           (long long)other, id, b.s);
        else if (!(rc = strmap_put(&seen, b.s, b.len, id, e)) && !(spell[id] = xstrdup(b.s, e))) rc = RP_ENOMEM;
    }
    for (int32_t id = m; id < n && !rc; id++)
        for (int s = 0; s < TOK_N_SPECIAL && !rc; s++)
            if (t->special[s] == id) rc = add_token(x, id, TOKENIZER_SPECIAL_TEXT[s], strlen(TOKENIZER_SPECIAL_TEXT[s]), 1, e);
    /* A special token inside the vocabulary's range (a foreign RPTK file) is a model entry too. */
    for (int s = 0; s < TOK_N_SPECIAL && !rc; s++)
        if (t->special[s] < m) rc = add_token(x, t->special[s], TOKENIZER_SPECIAL_TEXT[s], strlen(TOKENIZER_SPECIAL_TEXT[s]), 1, e);
    if (!rc) qsort(x->added, (size_t)x->n_added, sizeof *x->added, added_order);
    StrBuf *j = &x->json;
    if (!rc) rc = strbuf_puts(j, "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,", e);
    if (!rc) rc = put_added(j, x, e);
    if (!rc)
        rc = strbuf_puts(j, "\"normalizer\":null,"
                         "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,"
                         "\"use_regex\":true},"
                         "\"post_processor\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":false,"
                         "\"use_regex\":true},"
                         "\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,\"trim_offsets\":true,"
                         "\"use_regex\":true},"
                         "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,"
                         "\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":false,"
                         "\"byte_fallback\":false,\"ignore_merges\":false,\"vocab\":{", e);
    for (int32_t id = 0; id < m && !rc; id++) {
        if (id) rc = strbuf_puts(j, ",", e);
        if (!rc) rc = put_jstr(j, spell[id], strlen(spell[id]), e);
        if (!rc) rc = strbuf_printf(j, e, ":%d", id);
    }
    Span *left = rc ? NULL : xmalloc(((size_t)t->n_merges + 1) * sizeof *left, e);
    Span *right = rc ? NULL : xmalloc(((size_t)t->n_merges + 1) * sizeof *right, e);
    if (!rc && (!left || !right)) rc = RP_ENOMEM;
    for (int32_t r = 0; r < t->n_merges && !rc; r++) {
        const char *a = spell[t->merges[r].left], *c = spell[t->merges[r].right];
        /* Merges never involve specials (tokenizer_finish), so both sides are model entries. */
        if (!a || !c) rc = error_set(e, RP_EINTERNAL, "tokenizer export: merge %d uses a special token", r);
        else left[r] = (Span){a, strlen(a)}, right[r] = (Span){c, strlen(c)};
    }
    if (!rc) rc = strbuf_puts(j, "},", e);
    if (!rc) rc = put_merges(j, left, right, t->n_merges, e);
    if (!rc) rc = strbuf_puts(j, "}}", e);
    free(left);
    free(right);
    const char *eos = rc ? NULL : added_content(x, t->special[TOK_EOT]);
    if (eos && !(x->names[NAME_EOS] = xstrdup(eos, e))) rc = RP_ENOMEM;
    for (int32_t id = 0; id < n; id++) free(spell[id]);
    free(spell);
    strmap_free(&seen);
    strbuf_free(&b);
    return rc;
}

/* ---- SentencePiece (RPSP) ---- */

typedef struct {
    float score;
    int32_t left, right;
} SpmMerge;

/* Highest score first; on equal scores the left and then the right piece's id (as transformers'
 * SentencePieceExtractor orders them). */
static int merge_order(const void *pa, const void *pb) {
    const SpmMerge *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    if (a->left != b->left) return a->left < b->left ? -1 : 1;
    return (a->right > b->right) - (a->right < b->right);
}

static int utf8_char_len(unsigned char c) { return c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }

/* Every split (a, b) of a piece into two pieces, at character boundaries (llama.cpp's symbols). */
static int spm_merges(const SpmVocab *v, SpmMerge **out, int64_t *n_out, Error *e) {
    StrMap ids;
    int rc = strmap_init(&ids, (size_t)v->n, e);
    for (int32_t id = 0; id < v->n && !rc; id++) rc = strmap_put(&ids, v->text + v->off[id], v->off[id + 1] - v->off[id], id, e);
    SpmMerge *m = NULL;
    int64_t n = 0, cap = 0;
    for (int32_t id = 0; id < v->n && !rc; id++) {
        const char *s = v->text + v->off[id];
        uint32_t len = v->off[id + 1] - v->off[id];
        for (uint32_t k = (uint32_t)utf8_char_len((unsigned char)s[0]); k < len && !rc;
             k += (uint32_t)utf8_char_len((unsigned char)s[k])) {
            int64_t a, b;
            if (!strmap_get(&ids, s, k, &a) || !strmap_get(&ids, s + k, len - k, &b)) continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 1 << 16;
                SpmMerge *g = xrealloc(m, (size_t)cap * sizeof *m, e);
                if (!g) {
                    rc = RP_ENOMEM;
                    break;
                }
                m = g;
            }
            m[n++] = (SpmMerge){v->score[id], (int32_t)a, (int32_t)b};
        }
    }
    strmap_free(&ids);
    if (rc) {
        free(m);
        return rc;
    }
    qsort(m, (size_t)n, sizeof *m, merge_order);
    *out = m;
    *n_out = n;
    return RP_OK;
}

static int export_spm(const Tokenizer *t, Export *x, Error *e) {
    const SpmVocab *v = t->spm;
    const SpmOptions *o = &v->opt;
    int rc = RP_OK, bytes = 0;
    for (int32_t id = 0; id < v->n && !rc; id++) {
        const char *s = v->text + v->off[id];
        size_t bad;
        if (!utf8_valid(s, v->off[id + 1] - v->off[id], &bad))
            return error_set(e, RP_EINPUT, "piece %d is not valid UTF-8 (byte %zu): tokenizer.json cannot hold it", id,
                             bad);
        bytes |= v->type[id] == SPM_BYTE;
        /* Control, unknown and unused pieces never come out of text: special added tokens.
         * User-defined ones are matched in the raw text first, as llama.cpp does. */
        if (v->type[id] == SPM_CONTROL || v->type[id] == SPM_UNKNOWN || v->type[id] == SPM_UNUSED ||
            v->type[id] == SPM_USER_DEFINED)
            rc = add_token(x, id, s, v->off[id + 1] - v->off[id], v->type[id] != SPM_USER_DEFINED, e);
    }
    SpmMerge *m = NULL;
    int64_t nm = 0;
    if (!rc) rc = spm_merges(v, &m, &nm, e);
    StrBuf *j = &x->json;
    if (!rc) rc = strbuf_puts(j, "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,", e);
    if (!rc) rc = put_added(j, x, e);
    if (!rc)
        rc = strbuf_printf(j, e, "\"normalizer\":%s{\"type\":\"Replace\",\"pattern\":{\"String\":\" \"},\"content\":"
                           "\"\u2581\"}%s,\"pre_tokenizer\":null,",
                           o->add_space_prefix ? "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\","
                                                 "\"prepend\":\"\u2581\"}," : "",
                           o->add_space_prefix ? "]}" : "");
    if (!rc && o->add_bos) {
        /* TemplateProcessing "BOS $A" (and "BOS $A BOS $B" for pairs, as Gemma's file has). */
        StrBuf q;
        strbuf_init(&q);
        rc = put_jstr(&q, v->text + v->off[o->bos], v->off[o->bos + 1] - v->off[o->bos], e);
        if (!rc)
            rc = strbuf_printf(j, e, "\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":"
                               "{\"id\":%s,\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"pair\":["
                               "{\"SpecialToken\":{\"id\":%s,\"type_id\":0}},{\"Sequence\":{\"id\":\"A\",\"type_id\":0}},"
                               "{\"SpecialToken\":{\"id\":%s,\"type_id\":1}},{\"Sequence\":{\"id\":\"B\",\"type_id\":1}}],"
                               "\"special_tokens\":{%s:{\"id\":%s,\"ids\":[%d],\"tokens\":[%s]}}},",
                               q.s, q.s, q.s, q.s, q.s, o->bos, q.s);
        strbuf_free(&q);
    } else if (!rc) rc = strbuf_puts(j, "\"post_processor\":null,", e);
    if (!rc)
        rc = strbuf_printf(j, e, "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Replace\",\"pattern\":"
                           "{\"String\":\"\u2581\"},\"content\":\" \"},{\"type\":\"ByteFallback\"},{\"type\":\"Fuse\"}%s]},"
                           "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":",
                           o->add_space_prefix ? ",{\"type\":\"Strip\",\"content\":\" \",\"start\":1,\"stop\":0}" : "");
    if (!rc) rc = o->unk >= 0 ? put_jstr(j, v->text + v->off[o->unk], v->off[o->unk + 1] - v->off[o->unk], e)
                              : strbuf_puts(j, "null", e);
    if (!rc)
        rc = strbuf_printf(j, e, ",\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":false,"
                           "\"byte_fallback\":%s,\"ignore_merges\":false,\"vocab\":{", bytes ? "true" : "false");
    for (int32_t id = 0; id < v->n && !rc; id++) {
        if (id) rc = strbuf_puts(j, ",", e);
        if (!rc) rc = put_jstr(j, v->text + v->off[id], v->off[id + 1] - v->off[id], e);
        if (!rc) rc = strbuf_printf(j, e, ":%d", id);
    }
    Span *left = rc ? NULL : xmalloc(((size_t)nm + 1) * sizeof *left, e);
    Span *right = rc ? NULL : xmalloc(((size_t)nm + 1) * sizeof *right, e);
    if (!rc && (!left || !right)) rc = RP_ENOMEM;
    for (int64_t r = 0; r < nm && !rc; r++) {
        left[r] = (Span){v->text + v->off[m[r].left], v->off[m[r].left + 1] - v->off[m[r].left]};
        right[r] = (Span){v->text + v->off[m[r].right], v->off[m[r].right + 1] - v->off[m[r].right]};
    }
    if (!rc) rc = strbuf_puts(j, "},", e);
    if (!rc) rc = put_merges(j, left, right, nm, e);
    if (!rc) rc = strbuf_puts(j, "}}", e);
    free(left);
    free(right);
    free(m);
    int32_t want[4] = {o->bos, o->eos, o->unk, o->pad};
    for (int k = 0; k < 4 && !rc; k++)
        if (want[k] >= 0 && !(x->names[k] = dup_span(v->text + v->off[want[k]], v->off[want[k] + 1] - v->off[want[k]], e)))
            rc = RP_ENOMEM;
    return rc;
}

/* ---- tokenizer.json (RPHF) ---- */

static int json_flag(const cJSON *o, const char *key, int dflt) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsBool(j) ? cJSON_IsTrue(j) : dflt;
}

/* The text of token id: its added token's content, else its model.vocab key; NULL if neither. */
static const char *json_token(const Export *x, const cJSON *tok, int32_t id) {
    const char *c = added_content(x, id);
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(tok, "model"), "vocab");
    for (const cJSON *it = vocab ? vocab->child : NULL; it && !c; it = it->next)
        if (cJSON_IsNumber(it) && it->valuedouble == (double)id) c = it->string;
    return c;
}

static int export_json(const Tokenizer *t, Export *x, Error *e) {
    const HfVocab *v = t->hf;
    cJSON *root = cJSON_ParseWithLength(v->payload, v->payload_len);
    cJSON *tok = cJSON_DetachItemFromObjectCaseSensitive(root, "tokenizer");
    cJSON_Delete(root);
    /* The payload was checked when the tokenizer was built, so only memory can fail here. */
    if (!tok) return error_set(e, RP_ENOMEM, "tokenizer export: out of memory parsing the stored tokenizer.json");
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(tok, "added_tokens");
    int rc = RP_OK;
    if (!cJSON_IsArray(arr)) {
        cJSON_DeleteItemFromObjectCaseSensitive(tok, "added_tokens");
        if (!(arr = cJSON_AddArrayToObject(tok, "added_tokens"))) rc = RP_ENOMEM;
    }
    for (const cJSON *it = rc ? NULL : arr->child; it && !rc; it = it->next) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(it, "content");
        int special = json_flag(it, "special", 0);
        rc = add_token(x, cJSON_GetObjectItemCaseSensitive(it, "id")->valueint, content->valuestring,
                       strlen(content->valuestring), special, e);
        if (rc) break;
        ExpAdded *a = &x->added[x->n_added - 1];
        a->normalized = json_flag(it, "normalized", !special);
        a->lstrip = json_flag(it, "lstrip", 0);
        a->rstrip = json_flag(it, "rstrip", 0);
        a->single_word = json_flag(it, "single_word", 0);
    }
    /* restpg's markers appended after the vocabulary become special added tokens at their ids. */
    for (int s = TOK_REASONING; s <= TOK_ANSWER && !rc; s++) {
        int32_t id = t->special[s];
        if (added_content(x, id) || id < v->n_model) continue;
        cJSON *a = cJSON_CreateObject();
        if (!a || !cJSON_AddItemToArray(arr, a) || !cJSON_AddNumberToObject(a, "id", id) ||
            !cJSON_AddStringToObject(a, "content", TOKENIZER_SPECIAL_TEXT[s]) || !cJSON_AddFalseToObject(a, "single_word") ||
            !cJSON_AddFalseToObject(a, "lstrip") || !cJSON_AddFalseToObject(a, "rstrip") ||
            !cJSON_AddFalseToObject(a, "normalized") || !cJSON_AddTrueToObject(a, "special"))
            rc = RP_ENOMEM;
        else rc = add_token(x, id, TOKENIZER_SPECIAL_TEXT[s], strlen(TOKENIZER_SPECIAL_TEXT[s]), 1, e);
    }
    char *text = rc ? NULL : cJSON_PrintUnformatted(tok);
    if (!rc && (!text || strbuf_puts(&x->json, text, e))) rc = RP_ENOMEM;
    free(text);
    const cJSON *unk = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(tok, "model"), "unk_token");
    const char *names[4] = {v->bos >= 0 ? json_token(x, tok, v->bos) : NULL, json_token(x, tok, t->special[TOK_EOT]),
                            cJSON_IsString(unk) ? unk->valuestring : NULL, NULL};
    for (int k = 0; k < 4 && !rc; k++)
        if (names[k] && !(x->names[k] = xstrdup(names[k], e))) rc = RP_ENOMEM;
    cJSON_Delete(tok);
    return rc == RP_ENOMEM && !e->code ? error_set(e, RP_ENOMEM, "tokenizer export: out of memory") : rc;
}

/* ---- tokenizer_config.json and the files ---- */

/* What transformers' AutoTokenizer needs to use tokenizer.json as it is: the fast class, the
 * special tokens' texts, whether a BOS starts every sequence, and each added token. */
static int config_text(const Tokenizer *t, const Export *x, char **out, Error *e) {
    cJSON *c = cJSON_CreateObject(), *dec = NULL;
    int ok = c && cJSON_AddStringToObject(c, "tokenizer_class", "PreTrainedTokenizerFast");
    for (int k = 0; k < 4 && ok; k++)
        if (x->names[k]) ok = cJSON_AddStringToObject(c, NAME_KEYS[k], x->names[k]) != NULL;
    /* Decoding must not re-space punctuation: restpg's decoding is the tokens' text. */
    ok = ok && cJSON_AddBoolToObject(c, "add_bos_token", tokenizer_bos(t) >= 0) &&
         cJSON_AddFalseToObject(c, "add_eos_token") && cJSON_AddFalseToObject(c, "clean_up_tokenization_spaces") &&
         (dec = cJSON_AddObjectToObject(c, "added_tokens_decoder"));
    for (int i = 0; i < x->n_added && ok; i++) {
        const ExpAdded *a = &x->added[i];
        char key[16];
        snprintf(key, sizeof key, "%d", a->id);
        cJSON *o = cJSON_AddObjectToObject(dec, key);
        ok = o && cJSON_AddStringToObject(o, "content", a->content) && cJSON_AddBoolToObject(o, "lstrip", a->lstrip) &&
             cJSON_AddBoolToObject(o, "normalized", a->normalized) && cJSON_AddBoolToObject(o, "rstrip", a->rstrip) &&
             cJSON_AddBoolToObject(o, "single_word", a->single_word) && cJSON_AddBoolToObject(o, "special", a->special);
    }
    *out = ok ? cJSON_Print(c) : NULL;
    cJSON_Delete(c);
    return *out ? RP_OK : error_set(e, RP_ENOMEM, "tokenizer export: out of memory");
}

int tokenizer_save_hf(const Tokenizer *t, const char *dir, Error *e) {
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return error_set(e, RP_EINPUT, "%s: not an existing directory (the Hugging Face export writes tokenizer.json "
                         "and tokenizer_config.json into it)", dir);
    Export x = {0};
    strbuf_init(&x.json);
    int rc = t->hf ? export_json(t, &x, e) : t->spm ? export_spm(t, &x, e) : export_bpe(t, &x, e);
    if (rc) error_wrap(e, "%s: tokenizer export", dir);
    char *cfg = NULL;
    if (!rc) rc = config_text(t, &x, &cfg, e);
    char *jpath = rc ? NULL : xasprintf(e, "%s/tokenizer.json", dir);
    char *cpath = rc ? NULL : xasprintf(e, "%s/tokenizer_config.json", dir);
    if (!rc && (!jpath || !cpath)) rc = RP_ENOMEM;
    if (!rc) rc = atomic_write(jpath, x.json.s, x.json.len, e);
    if (!rc) rc = atomic_write(cpath, cfg, strlen(cfg), e);
    free(jpath);
    free(cpath);
    free(cfg);
    export_free(&x);
    return rc;
}

/* The steps of a tokenizer.json pipeline that restpg supports, read and run as tokenizers runs
 * them (docs/tokenizer.md): normalizers (NFC through utf8proc, Prepend, Replace of a string,
 * Sequence), pre-tokenizers (Split on a regex or string with any behaviour, ByteLevel, Sequence;
 * patterns through PCRE2), decoders (ByteLevel, or a Sequence of Replace, ByteFallback, Fuse and
 * Strip) and the post-processor, read only for the BOS it puts first. Anything else is refused
 * with the JSON path of what is not supported. */
#define _GNU_SOURCE /* memmem */
#include <stdlib.h>
#include <string.h>

#include <utf8proc.h>

#include "data/tokenizer_hf.h"

/* ---- reading the JSON ---- */

/* Oniguruma's \s (what tokenizers' patterns mean): Unicode White_Space, which PCRE2's UCP \s is
 * not (it also takes U+180E). As class items. */
#define HF_SPACE "\\t-\\r \\x{85}\\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}\\x{3000}"

/* Rewrites an Oniguruma pattern (tokenizers compiles them with Oniguruma's Ruby syntax) into one
 * PCRE2 reads the same way: \s and \S become White_Space classes. Constructs the two engines
 * read differently are refused: \w \W \b \B \h \H \R \X and other rare escapes, POSIX and
 * nested classes, ^ and $ (line anchors in Ruby syntax), and the m, s and x options: *why then
 * says which. */
static int onig_to_pcre2(const char *p, size_t n, StrBuf *out, const char **why, Error *e) {
    int in_class = 0, rc = RP_OK;
    *why = NULL;
    for (size_t i = 0; i < n && !rc && !*why; i++) {
        char c = p[i];
        if (c == '\\' && i + 1 < n) {
            char d = p[++i];
            if (d == 's' || (d == 'S' && !in_class))
                rc = strbuf_puts(out, d == 's' ? (in_class ? HF_SPACE : "[" HF_SPACE "]") : "[^" HF_SPACE "]", e);
            else if (d == 'S' || strchr("wWbBhHRXKNOyYQEGgk", d) || (d >= '1' && d <= '9'))
                *why = d == 'S' ? "\\S inside a class" : "an escape that Oniguruma and PCRE2 read differently";
            else {
                char esc[2] = {'\\', d};
                rc = strbuf_append(out, esc, 2, e);
            }
            continue;
        }
        if (in_class && c == '[') *why = "a nested or POSIX class";
        else if (!in_class && (c == '^' || c == '$')) *why = "^ or $ (line anchors in Oniguruma)";
        else if (!in_class && c == '(' && i + 2 < n && p[i + 1] == '?')
            for (size_t k = i + 2; k < n && strchr("imsx-", p[k]) && !*why; k++)
                if (strchr("msx", p[k])) *why = "the m, s or x option";
        if (*why) break;
        if (!in_class && c == '[') {
            in_class = 1;
            rc = strbuf_append(out, p + i, 1, e);
            /* A ] first in the class (after an optional ^) is a literal. */
            if (!rc && i + 1 < n && p[i + 1] == '^') rc = strbuf_append(out, p + ++i, 1, e);
            if (!rc && i + 1 < n && p[i + 1] == ']') rc = strbuf_append(out, p + ++i, 1, e);
            continue;
        }
        if (in_class && c == ']') in_class = 0;
        rc = strbuf_append(out, &c, 1, e);
    }
    return rc;
}

int hf_compile(const char *pat, size_t n, int literal, pcre2_code **re, const char *where, const char *jpath,
               Error *e) {
    int err;
    PCRE2_SIZE at;
    StrBuf b;
    strbuf_init(&b);
    const char *why = NULL;
    int rc = literal ? strbuf_append(&b, pat, n, e) : onig_to_pcre2(pat, n, &b, &why, e);
    if (!rc && why) rc = hf_bad(e, where, jpath, "uses %s: not supported", why);
    /* PCRE2_LITERAL takes no UCP; a literal needs none. */
    uint32_t opts = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP);
    *re = rc ? NULL : pcre2_compile((PCRE2_SPTR)(b.s ? b.s : ""), b.len, opts, &err, &at, NULL);
    strbuf_free(&b);
    if (rc) return rc;
    if (!*re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return hf_bad(e, where, jpath, "does not compile (near offset %zu of restpg's PCRE2 form): %s", (size_t)at,
                      (char *)msg);
    }
    uint32_t min = 0;
    pcre2_pattern_info(*re, PCRE2_INFO_MINLENGTH, &min);
    if (min == 0) {
        pcre2_code_free(*re);
        *re = NULL;
        return hf_bad(e, where, jpath, "can match the empty string (not supported)");
    }
    /* Without JIT the interpreter gives the same matches, only slower. */
    pcre2_jit_compile(*re, PCRE2_JIT_COMPLETE);
    return RP_OK;
}

/* Copies j's string member `key` (non-empty) into *s, *n. */
static int dup_string(const cJSON *j, const char *key, char **s, size_t *n, const char *where, const char *jp,
                      Error *e) {
    const char *v;
    int rc = hf_string(j, key, &v, where, jp, e);
    if (rc) return rc;
    *n = strlen(v);
    *s = xmalloc(*n + 1, e);
    if (!*s) return RP_ENOMEM;
    memcpy(*s, v, *n + 1);
    return RP_OK;
}

/* A Replace's or Split's {"String": s} (or {"Regex": r} where `regex_ok`). */
static int read_pattern(const cJSON *j, char **s, size_t *n, int *is_regex, int regex_ok, const char *where,
                        const char *jp, Error *e) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "pattern");
    char *pp = hf_path(e, jp, "pattern");
    if (!pp) return RP_ENOMEM;
    int rc;
    *is_regex = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p, "Regex"));
    if (*is_regex && !regex_ok) rc = hf_bad(e, where, pp, "Regex is not supported here (only {\"String\": ...})");
    else rc = dup_string(p, *is_regex ? "Regex" : "String", s, n, where, pp, e);
    if (!rc && *n == 0) rc = hf_bad(e, where, pp, "is empty");
    free(pp);
    return rc;
}

/* Steps a component may have: real files have a handful, and running pre-tokenizer steps recurses
 * once per step. */
#define HF_MAX_STEPS 64

/* Room for one more step in p (n taken); NULL with e set past HF_MAX_STEPS or out of memory. */
static void *grow(void *p, int n, size_t elem, const char *where, const char *jp, Error *e) {
    if (n >= HF_MAX_STEPS) {
        hf_bad(e, where, jp, "makes more than %d steps (not supported)", HF_MAX_STEPS);
        return NULL;
    }
    return xrealloc(p, (size_t)(n + 1) * elem, e);
}

/* Calls fn on each element of j's array member `key`, with its JSON path. */
typedef int (*ItemFn)(HfVocab *v, const cJSON *j, const char *where, const char *jp, Error *e);
static int each(HfVocab *v, const cJSON *j, const char *key, ItemFn fn, const char *where, const char *jp, Error *e) {
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, key);
    if (!cJSON_IsArray(arr)) return hf_bad(e, where, jp, "has no array \"%s\"", key);
    int i = 0, rc = RP_OK;
    for (const cJSON *it = arr->child; it && !rc; it = it->next, i++) {
        char *ip = xasprintf(e, "%s%s%s[%d]", jp, *jp ? "." : "", key, i);
        rc = ip ? fn(v, it, where, ip, e) : RP_ENOMEM;
        free(ip);
    }
    return rc;
}

static int parse_norm(HfVocab *v, const cJSON *j, const char *where, const char *jp, Error *e) {
    const char *type;
    int rc = hf_string(j, "type", &type, where, jp, e), is_regex;
    if (rc) return rc;
    if (!strcmp(type, "Sequence")) return each(v, j, "normalizers", parse_norm, where, jp, e);
    HfNormKind kind = !strcmp(type, "NFC") ? HF_NORM_NFC : !strcmp(type, "Prepend") ? HF_NORM_PREPEND : HF_NORM_REPLACE;
    if (kind == HF_NORM_REPLACE && strcmp(type, "Replace"))
        return hf_unsupported(e, where, jp, type, " (restpg reads NFC, Prepend, Replace and Sequence)");
    HfNorm *steps = grow(v->norm, v->n_norm, sizeof *steps, where, jp, e);
    if (!steps) return e->code;
    v->norm = steps;
    HfNorm *s = memset(&steps[v->n_norm++], 0, sizeof *s);
    s->kind = kind;
    if (kind == HF_NORM_PREPEND) return dup_string(j, "prepend", &s->a, &s->na, where, jp, e);
    if (kind == HF_NORM_REPLACE && !(rc = read_pattern(j, &s->a, &s->na, &is_regex, 0, where, jp, e)))
        rc = dup_string(j, "content", &s->b, &s->nb, where, jp, e);
    return rc;
}

int hf_parse_normalizer(HfVocab *v, const cJSON *j, const char *where, const char *jpath, Error *e) {
    return !j || cJSON_IsNull(j) ? RP_OK : parse_norm(v, j, where, jpath, e);
}

static int parse_pre(HfVocab *v, const cJSON *j, const char *where, const char *jp, Error *e) {
    const char *type;
    int rc = hf_string(j, "type", &type, where, jp, e);
    if (rc) return rc;
    if (!strcmp(type, "Sequence")) return each(v, j, "pretokenizers", parse_pre, where, jp, e);
    int byte_level = !strcmp(type, "ByteLevel");
    if (!byte_level && strcmp(type, "Split"))
        return hf_unsupported(e, where, jp, type, " (restpg reads Split, ByteLevel and Sequence)");
    /* The model sees ByteLevel's mapped characters; restpg maps bytes in the model instead, which
     * is the same only when nothing splits after the mapping. */
    if (v->byte_level) return hf_bad(e, where, jp, "follows a ByteLevel pre-tokenizer, which must come last");
    HfPre *steps = grow(v->pre, v->n_pre, sizeof *steps, where, jp, e);
    if (!steps) return e->code;
    v->pre = steps;
    HfPre *s = memset(&steps[v->n_pre++], 0, sizeof *s);
    s->behavior = HF_ISOLATED;
    if (byte_level) {
        int use_regex;
        const cJSON *aps = cJSON_GetObjectItemCaseSensitive(j, "add_prefix_space");
        v->byte_level = 1;
        if (!cJSON_IsBool(aps)) return hf_bad(e, where, jp, ".add_prefix_space must be true or false");
        s->prefix_space = cJSON_IsTrue(aps);
        if ((rc = hf_bool(j, "use_regex", 1, &use_regex, where, jp, e)) || !use_regex) return rc;
        return hf_compile(TOKENIZER_PATTERN, strlen(TOKENIZER_PATTERN), 0, &s->re, where, jp, e);
    }
    static const char *const names[] = {"Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"};
    const char *behavior;
    char *pat = NULL, *pp = NULL;
    size_t n;
    int is_regex, k = 0;
    if ((rc = hf_string(j, "behavior", &behavior, where, jp, e))) return rc;
    while (k < 5 && strcmp(behavior, names[k])) k++;
    if (k == 5) return hf_bad(e, where, jp, ".behavior \"%s\" is not one of tokenizers' five", behavior);
    s->behavior = (HfBehavior)k;
    if (!(rc = hf_bool(j, "invert", 0, &s->invert, where, jp, e)) &&
        !(rc = read_pattern(j, &pat, &n, &is_regex, 1, where, jp, e)))
        rc = (pp = hf_path(e, jp, "pattern")) ? hf_compile(pat, n, !is_regex, &s->re, where, pp, e) : RP_ENOMEM;
    free(pat);
    free(pp);
    return rc;
}

int hf_parse_pre_tokenizer(HfVocab *v, const cJSON *j, const char *where, const char *jpath, Error *e) {
    return !j || cJSON_IsNull(j) ? RP_OK : parse_pre(v, j, where, jpath, e);
}

static int parse_dec(HfVocab *v, const cJSON *j, const char *where, const char *jp, Error *e) {
    const char *type;
    int rc = hf_string(j, "type", &type, where, jp, e), is_regex;
    if (rc) return rc;
    if (!strcmp(type, "Sequence")) return each(v, j, "decoders", parse_dec, where, jp, e);
    static const char *const names[] = {"Replace", "ByteFallback", "Fuse", "Strip"};
    int k = 0;
    while (k < 4 && strcmp(type, names[k])) k++;
    if (k == 4)
        return hf_unsupported(e, where, jp, type,
                              v->byte_level || strcmp(type, "ByteLevel")
                                  ? " (restpg reads ByteLevel, or Replace, ByteFallback, Fuse and Strip in a Sequence)"
                                  : " without the ByteLevel pre-tokenizer");
    HfDec *steps = grow(v->dec, v->n_dec, sizeof *steps, where, jp, e);
    if (!steps) return e->code;
    v->dec = steps;
    HfDec *s = memset(&steps[v->n_dec++], 0, sizeof *s);
    s->kind = (HfDecKind)k;
    if (s->kind == HF_DEC_REPLACE && !(rc = read_pattern(j, &s->a, &s->na, &is_regex, 0, where, jp, e)))
        rc = dup_string(j, "content", &s->b, &s->nb, where, jp, e);
    if (s->kind != HF_DEC_STRIP || rc) return rc;
    if ((rc = dup_string(j, "content", &s->a, &s->na, where, jp, e))) return rc;
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(j, "start"), *stop = cJSON_GetObjectItemCaseSensitive(j, "stop");
    if (!cJSON_IsNumber(start) || !cJSON_IsNumber(stop) || start->valuedouble < 0 || stop->valuedouble < 0 ||
        start->valuedouble > 1e6 || stop->valuedouble > 1e6)
        return hf_bad(e, where, jp, "needs counts \"start\" and \"stop\" (0 or more)");
    if (utf8proc_iterate((const utf8proc_uint8_t *)s->a, (utf8proc_ssize_t)s->na, &(utf8proc_int32_t){0}) != (long)s->na)
        return hf_bad(e, where, jp, ".content must be one character");
    s->start = start->valueint;
    s->stop = stop->valueint;
    return RP_OK;
}

int hf_parse_decoder(HfVocab *v, const cJSON *j, const char *where, const char *jpath, Error *e) {
    const char *type = NULL;
    if (!cJSON_IsObject(j)) return hf_bad(e, where, jpath, "must be a decoder (restpg does not join tokens with spaces)");
    int rc = hf_string(j, "type", &type, where, jpath, e);
    if (!rc && v->byte_level && strcmp(type, "ByteLevel"))
        rc = hf_bad(e, where, jpath, "must be ByteLevel with the ByteLevel pre-tokenizer (it is \"%s\")", type);
    return rc || v->byte_level ? rc : parse_dec(v, j, where, jpath, e);
}

/* One TemplateProcessing: "single" must be [$A] or [SPECIAL, $A]; SPECIAL's ids give the BOS. */
static int parse_template(const cJSON *j, int32_t *bos, const char *where, const char *jp, Error *e) {
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(j, "single"), *it;
    int n = cJSON_GetArraySize(single);
    const cJSON *last = cJSON_GetArrayItem(single, n - 1);
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(last, "Sequence");
    const char *seq_id = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(seq, "id"))
                             ? cJSON_GetObjectItemCaseSensitive(seq, "id")->valuestring : "";
    if (!cJSON_IsArray(single) || n < 1 || n > 2 || strcmp(seq_id, "A"))
        return hf_bad(e, where, jp, ".single must be \"$A\" or \"SPECIAL $A\" (restpg adds no other tokens)");
    if (n == 1) return RP_OK;
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(single->child, "SpecialToken");
    it = cJSON_GetObjectItemCaseSensitive(sp, "id");
    const cJSON *tok = cJSON_IsString(it) ? cJSON_GetObjectItemCaseSensitive(
                                                cJSON_GetObjectItemCaseSensitive(j, "special_tokens"), it->valuestring)
                                          : NULL;
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(tok, "ids");
    if (!tok || cJSON_GetArraySize(ids) != 1 || !cJSON_IsNumber(ids->child) || ids->child->valuedouble < 0 ||
        ids->child->valuedouble >= (1 << 24))
        return hf_bad(e, where, jp, ".single starts with a special token that special_tokens does not give one id");
    *bos = ids->child->valueint;
    return RP_OK;
}

int hf_parse_post_processor(const cJSON *j, int32_t *bos, const char *where, const char *jpath, Error *e) {
    if (!j || cJSON_IsNull(j)) return RP_OK;
    const char *type;
    int rc = hf_string(j, "type", &type, where, jpath, e);
    if (rc || !strcmp(type, "ByteLevel")) return rc; /* offsets only */
    if (!strcmp(type, "TemplateProcessing")) return parse_template(j, bos, where, jpath, e);
    if (strcmp(type, "Sequence"))
        return hf_unsupported(e, where, jpath, type, " (restpg reads ByteLevel, TemplateProcessing and Sequence)");
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(j, "processors");
    int i = 0;
    if (!cJSON_IsArray(arr)) return hf_bad(e, where, jpath, "has no array \"processors\"");
    for (const cJSON *it = arr->child; it && !rc; it = it->next, i++) {
        char *ip = xasprintf(e, "%s.processors[%d]", jpath, i);
        rc = ip ? hf_parse_post_processor(it, bos, where, ip, e) : RP_ENOMEM;
        free(ip);
    }
    return rc;
}

/* ---- normalizing ---- */

/* Appends s[0..n) with every `a` replaced by `b` (leftmost, non-overlapping). */
static int replace_all(const char *s, size_t n, const char *a, size_t na, const char *b, size_t nb, StrBuf *out,
                       Error *e) {
    size_t at = 0;
    for (const char *hit; at < n && (hit = memmem(s + at, n - at, a, na));) {
        if (strbuf_append(out, s + at, (size_t)(hit - s) - at, e) || strbuf_append(out, b, nb, e)) return RP_ENOMEM;
        at = (size_t)(hit - s) + na;
    }
    return strbuf_append(out, s + at, n - at, e);
}

/* Appends the NFC form of s[0..n). Bytes that are not valid UTF-8 (tokenizers never sees them)
 * stay as they are, and the valid runs between them are composed one by one. */
static int nfc(const char *s, size_t n, StrBuf *out, Error *e) {
    for (size_t i = 0; i < n;) {
        size_t run = n - i, bad, hi = 0;
        if (!utf8_valid(s + i, run, &bad)) run = bad;
        for (size_t k = i; k < i + run && !hi; k++) hi = (unsigned char)s[k] >= 0xCC;
        /* Below U+0300 (lead bytes under 0xCC) nothing composes or decomposes. */
        if (!hi) {
            if (run && strbuf_append(out, s + i, run, e)) return RP_ENOMEM;
        } else {
            utf8proc_uint8_t *dst = NULL;
            utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)run, &dst,
                                              UTF8PROC_STABLE | UTF8PROC_COMPOSE);
            int rc = m < 0 ? error_set(e, m == UTF8PROC_ERROR_NOMEM ? RP_ENOMEM : RP_EINTERNAL,
                                       "tokenizer: NFC failed: %s", utf8proc_errmsg(m))
                           : strbuf_append(out, (const char *)dst, (size_t)m, e);
            free(dst);
            if (rc) return rc;
        }
        i += run;
        if (i < n && strbuf_append(out, s + i++, 1, e)) return RP_ENOMEM;
    }
    return RP_OK;
}

int hf_normalize(const HfVocab *v, const char *s, size_t n, StrBuf *out, Error *e) {
    StrBuf tmp;
    strbuf_init(&tmp);
    strbuf_clear(out);
    int rc = strbuf_append(out, s, n, e);
    for (int k = 0; k < v->n_norm && !rc; k++) {
        const HfNorm *st = &v->norm[k];
        if (st->kind == HF_NORM_PREPEND && !out->len) continue; /* tokenizers prepends to non-empty text only */
        strbuf_clear(&tmp);
        if (st->kind == HF_NORM_NFC) rc = nfc(out->s, out->len, &tmp, e);
        else if (st->kind == HF_NORM_PREPEND) rc = strbuf_append(&tmp, st->a, st->na, e) || strbuf_append(&tmp, out->s, out->len, e);
        else rc = replace_all(out->s, out->len, st->a, st->na, st->b, st->nb, &tmp, e);
        StrBuf swap = *out;
        *out = tmp;
        tmp = swap;
    }
    strbuf_free(&tmp);
    return rc ? (e->code ? e->code : RP_ENOMEM) : RP_OK;
}

/* ---- pre-tokenizing ---- */

typedef struct {
    size_t start, end;
    int match;
} Span;

static int pre_step(const HfVocab *v, int k, pcre2_match_data *md, const char *s, size_t n, HfPieceFn fn, void *ctx,
                    Error *e);

/* The spans one Split keeps, as tokenizers' NormalizedString::split folds its matches. */
static size_t fold(Span *sp, size_t n, HfBehavior how, Span *out) {
    size_t k = 0;
    int prev = 0;
    if (how == HF_MERGED_NEXT) {
        for (size_t i = n; i-- > 0; prev = sp[i].match) {
            if (sp[i].match && !prev && k) out[k - 1].start = sp[i].start;
            else out[k++] = sp[i];
        }
        for (size_t i = 0; i < k / 2; i++) {
            Span t = out[i];
            out[i] = out[k - 1 - i];
            out[k - 1 - i] = t;
        }
        return k;
    }
    for (size_t i = 0; i < n; prev = sp[i].match, i++) {
        if (how == HF_REMOVED && sp[i].match) continue;
        int join = how == HF_MERGED_PREV ? sp[i].match && !prev : how == HF_CONTIGUOUS && sp[i].match == prev;
        if (join && k) out[k - 1].end = sp[i].end;
        else out[k++] = sp[i];
    }
    return k;
}

static int split_step(const HfVocab *v, int k, pcre2_match_data *md, const char *s, size_t n, HfPieceFn fn, void *ctx,
                      Error *e) {
    const HfPre *st = &v->pre[k];
    if (!st->re) return pre_step(v, k + 1, md, s, n, fn, ctx, e);
    Span *sp = NULL, *keep = NULL;
    size_t ns = 0, cap = 0, prev = 0;
    int rc = RP_OK;
    while (prev < n && !rc) {
        int m = pcre2_match(st->re, (PCRE2_SPTR)s, n, prev, 0, md, NULL);
        if (m == PCRE2_ERROR_NOMATCH) break;
        if (m < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(m, msg, sizeof msg);
            rc = error_set(e, RP_EINTERNAL, "tokenizer: pre-tokenizer failed at byte %zu: %s", prev, (char *)msg);
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ns + 2 > cap) {
            Span *g = xrealloc(sp, (cap = cap ? 2 * cap : 64) * sizeof *sp, e);
            if (!g) {
                rc = RP_ENOMEM;
                break;
            }
            sp = g;
        }
        if (ov[0] > prev) sp[ns++] = (Span){prev, ov[0], 0};
        sp[ns++] = (Span){ov[0], ov[1], 1};
        prev = ov[1]; /* never empty: hf_compile refuses patterns that can match "" */
    }
    if (!rc && prev < n) {
        Span *g = xrealloc(sp, (ns + 1) * sizeof *sp, e);
        if (!g) rc = RP_ENOMEM;
        else (sp = g)[ns++] = (Span){prev, n, 0};
    }
    if (!rc && ns && !(keep = xmalloc(ns * sizeof *keep, e))) rc = RP_ENOMEM;
    for (size_t i = 0; i < ns && st->invert; i++) sp[i].match = !sp[i].match;
    size_t nk = rc ? 0 : fold(sp, ns, st->behavior, keep);
    for (size_t i = 0; i < nk && !rc; i++)
        rc = pre_step(v, k + 1, md, s + keep[i].start, keep[i].end - keep[i].start, fn, ctx, e);
    free(sp);
    free(keep);
    return rc;
}

static int pre_step(const HfVocab *v, int k, pcre2_match_data *md, const char *s, size_t n, HfPieceFn fn, void *ctx,
                    Error *e) {
    if (n == 0) return RP_OK;
    if (k == v->n_pre) return fn(s, n, ctx);
    if (!v->pre[k].prefix_space || s[0] == ' ') return split_step(v, k, md, s, n, fn, ctx, e);
    char *p = xmalloc(n + 1, e);
    if (!p) return RP_ENOMEM;
    p[0] = ' ';
    memcpy(p + 1, s, n);
    int rc = split_step(v, k, md, p, n + 1, fn, ctx, e);
    free(p);
    return rc;
}

int hf_pre_tokenize(const HfVocab *v, pcre2_match_data *md, const char *s, size_t n, HfPieceFn fn, void *ctx,
                    Error *e) {
    return pre_step(v, 0, md, s, n, fn, ctx, e);
}

/* ---- decoding through a Sequence ---- */

/* A list of token strings: token i is buf.s[off[i] .. off[i + 1]). */
typedef struct {
    StrBuf buf;
    size_t *off;
    int64_t n;
} Toks;

static int toks_push(Toks *l, const char *s, size_t n, Error *e) {
    if (strbuf_append(&l->buf, s, n, e)) return RP_ENOMEM;
    l->off[++l->n] = l->buf.len;
    return RP_OK;
}

/* The byte of a ByteFallback token "<0xAB>" (as Rust's u8::from_str_radix reads "AB"), or -1. */
static int fallback_byte(const char *s, size_t n) {
    if (n != 6 || memcmp(s, "<0x", 3) || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0 && !(i == 3 && c == '+')) return -1;
        v = d < 0 ? v : v * 16 + d;
    }
    return v;
}

/* One step over every token of `in`, into `out` (empty, with room for in->n tokens). */
static int dec_step(const HfDec *st, const Toks *in, Toks *out, Error *e) {
    int rc = RP_OK;
    size_t run = 0; /* ByteFallback: bytes gathered at the end of buf for the current run */
    for (int64_t i = 0; i < in->n && !rc; i++) {
        const char *s = in->buf.s + in->off[i];
        size_t n = in->off[i + 1] - in->off[i];
        if (st->kind == HF_DEC_REPLACE) {
            if (!(rc = replace_all(s, n, st->a, st->na, st->b, st->nb, &out->buf, e))) out->off[++out->n] = out->buf.len;
        } else if (st->kind == HF_DEC_FUSE) {
            if (!(rc = strbuf_append(&out->buf, s, n, e))) out->off[out->n = 1] = out->buf.len;
        } else if (st->kind == HF_DEC_STRIP) {
            size_t b = 0, l = n;
            for (int k = 0; k < st->start && b + st->na <= l && !memcmp(s + b, st->a, st->na); k++) b += st->na;
            for (int k = 0; k < st->stop && l >= b + st->na && !memcmp(s + l - st->na, st->a, st->na); k++) l -= st->na;
            rc = toks_push(out, s + b, l - b, e);
        } else {
            int byte = fallback_byte(s, n);
            if (byte >= 0) {
                char c = (char)byte;
                rc = strbuf_append(&out->buf, &c, 1, e);
                run++;
                continue;
            }
            if (run) out->off[++out->n] = out->buf.len, run = 0;
            rc = toks_push(out, s, n, e);
        }
    }
    if (run) out->off[++out->n] = out->buf.len;
    return rc;
}

int hf_decode_chain(const Tokenizer *t, const int32_t *ids, int64_t n, StrBuf *out, Error *e) {
    const HfVocab *v = t->hf;
    Toks l[2] = {{{0}, xmalloc(((size_t)n + 1) * sizeof(size_t), e), 0}, {{0}, xmalloc(((size_t)n + 1) * sizeof(size_t), e), 0}};
    int rc = l[0].off && l[1].off ? RP_OK : RP_ENOMEM, cur = 0;
    if (!rc) l[0].off[0] = l[1].off[0] = 0;
    for (int64_t i = 0; i < n && !rc; i++)
        rc = toks_push(&l[0], t->tok_bytes + t->tok_off[ids[i]], t->tok_off[ids[i] + 1] - t->tok_off[ids[i]], e);
    for (int k = 0; k < v->n_dec && !rc; k++) {
        Toks *o = &l[!cur];
        strbuf_clear(&o->buf);
        o->n = 0;
        rc = dec_step(&v->dec[k], &l[cur], o, e);
        cur = !cur;
    }
    if (!rc && l[cur].buf.len) rc = strbuf_append(out, l[cur].buf.s, l[cur].buf.len, e);
    for (int k = 0; k < 2; k++) strbuf_free(&l[k].buf), free(l[k].off);
    return rc;
}

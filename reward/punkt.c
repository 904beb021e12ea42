/* NLTK's Punkt sentence boundary detection with trained parameters (see punkt.h). Each step
 * mirrors a method of NLTK 3.8's PunktSentenceTokenizer; the regular expressions it uses are
 * written out as scanners over code points with Python's character classes (reward/pyclass.h). */
#include "reward/punkt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/vec.h"
#include "core/fileio.h"
#include "reward/cptext.h"
#include "reward/pyclass.h"

/* Orthographic context flags, as NLTK numbers them. */
enum { ORTHO_MID_UC = 1 << 2, ORTHO_BEG_LC = 1 << 4 };
#define ORTHO_UC ((1 << 1) | (1 << 2) | (1 << 3))
#define ORTHO_LC ((1 << 4) | (1 << 5) | (1 << 6))

#define NONE ((size_t)-1)

typedef enum { OH_FALSE, OH_TRUE, OH_UNKNOWN } Ortho;

typedef struct {
    size_t s, e;                 /* code points of the token in the text */
    size_t type_off, type_len;   /* its type (UTF-8) in Work.types */
    unsigned period_final : 1, first_upper : 1, first_lower : 1, is_ellipsis : 1, is_initial : 1,
        is_number : 1, sentbreak : 1, abbr : 1, ellipsis : 1;
} Tok;

typedef struct {
    Tok *v;
    size_t n, cap;
    StrBuf types, key;
    CpBuf low;
} Work;

/* ---- parameters ---- */

void punkt_free(Punkt *p) {
    strmap_free(&p->abbrev);
    strmap_free(&p->starter);
    strmap_free(&p->colloc);
    strmap_free(&p->ortho);
}

static int load_line(Punkt *p, const char *path, long lineno, char *line, Error *e) {
    char *f[4] = {line, NULL, NULL, NULL};
    int nf = 1;
    for (char *tab; nf < 4 && (tab = strchr(f[nf - 1], '\t'));) *tab = '\0', f[nf++] = tab + 1;
    const char *kind = f[0];
    int want = !strcmp(kind, "colloc") || !strcmp(kind, "ortho") ? 3 : 2;
    if (strcmp(kind, "abbrev") && strcmp(kind, "starter") && want == 2)
        return error_set(e, RP_EINPUT, "%s: line %ld: field 1 (kind): unknown kind '%s'", path, lineno, kind);
    if (nf != want)
        return error_set(e, RP_EINPUT, "%s: line %ld: '%s' wants %d TAB-separated fields, found %d", path, lineno,
                         kind, want, nf);
    if (!*f[1]) return error_set(e, RP_EINPUT, "%s: line %ld: field 2 (type): empty", path, lineno);
    if (!strcmp(kind, "abbrev")) return strmap_put(&p->abbrev, f[1], strlen(f[1]), 1, e);
    if (!strcmp(kind, "starter")) return strmap_put(&p->starter, f[1], strlen(f[1]), 1, e);
    if (!strcmp(kind, "colloc")) {
        f[1][strlen(f[1])] = '\t'; /* the key is "type1\ttype2": undo the split */
        return strmap_put(&p->colloc, f[1], strlen(f[1]), 1, e);
    }
    char *end;
    errno = 0;
    long flags = strtol(f[2], &end, 10);
    if (errno || end == f[2] || *end || flags < 0 || flags > 127)
        return error_set(e, RP_EINPUT, "%s: line %ld: field 3 (flags): '%s' is not an integer in 0..127", path,
                         lineno, f[2]);
    return strmap_put(&p->ortho, f[1], strlen(f[1]), flags, e);
}

int punkt_load(Punkt *p, const char *path, Error *e) {
    memset(p, 0, sizeof *p);
    char *data;
    size_t len;
    int rc = file_read_all(path, &data, &len, e);
    if (rc) return rc;
    if ((rc = strmap_init(&p->abbrev, 256, e)) || (rc = strmap_init(&p->starter, 64, e)) ||
        (rc = strmap_init(&p->colloc, 64, e)) || (rc = strmap_init(&p->ortho, 32768, e)))
        goto done;
    long lineno = 0;
    for (char *s = data; *s && rc == RP_OK;) {
        char *nl = strchr(s, '\n');
        if (nl) *nl = '\0';
        lineno++;
        if (*s && *s != '#') rc = load_line(p, path, lineno, s, e);
        s = nl ? nl + 1 : s + strlen(s);
    }
    if (rc == RP_OK && (!p->abbrev.count || !p->ortho.count))
        rc = error_set(e, RP_EINPUT, "%s: no 'abbrev' or no 'ortho' records: not a Punkt parameters file", path);
done:
    free(data);
    if (rc) punkt_free(p);
    return rc;
}

/* ---- character classes of the Punkt expressions ---- */

static int is_sent_end(uint32_t c) { return c == '.' || c == '?' || c == '!'; }

/* Curly quotes and guillemets, which NLTK 3.10 added to the two classes below. */
static int is_curly(uint32_t c) {
    return c == 0x2018 || c == 0x2019 || c == 0x201C || c == 0x201D || c == 0xAB || c == 0xBB;
}

/* _re_non_word_chars: punctuation that cannot be inside a word. */
static int is_non_word(uint32_t c, NltkRelease r) {
    if (c >= 128) return r == NLTK_3_10 && is_curly(c);
    return strchr(")\";}]*:@'({[?!", (int)c) && c;
}

/* Characters _re_word_start excludes from starting a word token. */
static int no_word_start(uint32_t c) { return c < 128 && strchr("(\"`{[:;&#*@)}]-,", (int)c) && c; }

/* string.whitespace, which _get_last_whitespace_index uses (ASCII only). */
static int is_ascii_ws(uint32_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Length of _re_multi_char_punct (--+ | ..+ | ". . ." spaced dots) at q, 0 if none. */
static size_t multichar(const uint32_t *t, size_t q, size_t b, NltkRelease rel) {
    if (q + 1 >= b || (t[q] != '-' && t[q] != '.')) return 0;
    if (t[q + 1] == t[q]) {
        size_t k = q;
        while (k < b && t[k] == t[q]) k++;
        return k - q;
    }
    if (t[q] != '.') return 0;
    size_t r = 0, k = q;
    while (k + 1 < b && t[k] == '.' && rx_isspace(rel, t[k + 1])) r++, k += 2;
    if (r >= 2 && k < b && t[k] == '.') return 2 * r + 1;
    return r >= 3 ? 2 * r - 1 : 0; /* backtrack one repetition: its '.' closes the match */
}

/* The lookahead that ends a word token at q (whitespace, line end, punctuation, or a comma
 * followed by one of those). */
static int word_end(const uint32_t *t, size_t q, size_t b, NltkRelease r) {
    if (q >= b || rx_isspace(r, t[q]) || is_non_word(t[q], r) || multichar(t, q, b, r)) return 1;
    return t[q] == ',' &&
           (q + 1 >= b || rx_isspace(r, t[q + 1]) || is_non_word(t[q + 1], r) || multichar(t, q + 1, b, r));
}

/* ---- tokens ---- */

static int is_numeric(const uint32_t *t, size_t s, size_t e, NltkRelease r) {
    size_t i = s;
    if (i < e && t[i] == '-') i++;
    if (i < e && (t[i] == '.' || t[i] == ',')) i++;
    if (i >= e || !rx_isdigit(r, t[i])) return 0;
    for (i++; i < e && (rx_isdigit(r, t[i]) || t[i] == ',' || t[i] == '.' || t[i] == '-'); i++) {}
    return i == e;
}

static int in_map(const StrMap *m, const char *k, size_t n) {
    int64_t v;
    return strmap_get(m, k, n, &v);
}

/* Writes the UTF-8 of str.lower() of t[s..e) into w->key. */
static int lower_key(Work *w, const uint32_t *t, size_t s, size_t e, Error *err) {
    w->low.n = 0;
    strbuf_clear(&w->key);
    if (cp_lower(t + s, e - s, &w->low, err)) return RP_ENOMEM;
    return cp_encode(w->low.v, w->low.n, &w->key, err);
}

/* Builds the token t[s..e) with its type and PunktBaseClass._first_pass_annotation. */
static int add_token(const Punkt *p, Work *w, const uint32_t *t, size_t s, size_t e, Error *err) {
    if (VEC_RESERVE(w->v, w->cap, w->n + 1, err)) return RP_ENOMEM;
    Tok *k = &w->v[w->n++];
    memset(k, 0, sizeof *k);
    k->s = s, k->e = e;
    size_t n = e - s;
    k->period_final = t[e - 1] == '.';
    uint32_t f0 = pyclass_in(p->rel, t[s]); /* UPPER and LOWER are str methods in every release */
    k->first_upper = (f0 & PYC_UPPER) != 0;
    k->first_lower = (f0 & PYC_LOWER) != 0;
    k->is_initial = n == 2 && t[s + 1] == '.' && (f0 & PYC_WORD) && !(f0 & PYC_DIGIT);
    k->is_ellipsis = n >= 2;
    for (size_t i = s; i < e && k->is_ellipsis; i++) k->is_ellipsis = t[i] == '.';
    k->is_number = is_numeric(t, s, e, p->rel);
    k->type_off = w->types.len;
    if (k->is_number) {
        if (strbuf_puts(&w->types, "##number##", err)) return RP_ENOMEM;
    } else {
        w->low.n = 0;
        if (cp_lower(t + s, n, &w->low, err) || cp_encode(w->low.v, w->low.n, &w->types, err)) return RP_ENOMEM;
    }
    k->type_len = w->types.len - k->type_off;

    if (n == 1 && is_sent_end(t[s])) {
        k->sentbreak = 1;
    } else if (k->is_ellipsis) {
        k->ellipsis = 1;
    } else if (k->period_final && !(n >= 2 && t[e - 2] == '.')) {
        if (lower_key(w, t, s, e - 1, err)) return RP_ENOMEM;
        size_t last = w->key.len; /* start of the part after the last '-' */
        while (last > 0 && w->key.s[last - 1] != '-') last--;
        if (in_map(&p->abbrev, w->key.s, w->key.len) || in_map(&p->abbrev, w->key.s + last, w->key.len - last))
            k->abbr = 1;
        else
            k->sentbreak = 1;
    }
    return RP_OK;
}

/* PunktLanguageVars.word_tokenize over the line t[a..b). */
static int tokenize_line(const Punkt *p, Work *w, const uint32_t *t, size_t a, size_t b, Error *err) {
    for (size_t q = a; q < b;) {
        if (rx_isspace(p->rel, t[q])) {
            q++;
            continue;
        }
        size_t end = q + multichar(t, q, b, p->rel);
        if (end == q && !no_word_start(t[q])) /* \S+? up to the first word end */
            for (end = q + 1; !word_end(t, end, b, p->rel); end++) {}
        if (end == q) end = q + 1;
        if (add_token(p, w, t, q, end, err)) return RP_ENOMEM;
        q = end;
    }
    return RP_OK;
}

static Ortho ortho_heuristic(const Punkt *p, const Work *w, const uint32_t *t, const Tok *k, size_t type_len) {
    if (k->e - k->s == 1 && t[k->s] < 128 && strchr(";:,.!?", (int)t[k->s]) && t[k->s]) return OH_FALSE;
    int64_t ctx = 0;
    strmap_get(&p->ortho, w->types.s + k->type_off, type_len, &ctx);
    if (k->first_upper && (ctx & ORTHO_LC) && !(ctx & ORTHO_MID_UC)) return OH_TRUE;
    if (k->first_lower && ((ctx & ORTHO_UC) || !(ctx & ORTHO_BEG_LC))) return OH_FALSE;
    return OH_UNKNOWN;
}

static size_t no_period_len(const Work *w, const Tok *k) {
    return k->type_len > 1 && w->types.s[k->type_off + k->type_len - 1] == '.' ? k->type_len - 1 : k->type_len;
}

/* PunktSentenceTokenizer._second_pass_annotation of k1 followed by k2. */
static int second_pass(const Punkt *p, Work *w, const uint32_t *t, Tok *k1, const Tok *k2, Error *err) {
    if (!k1->period_final) return RP_OK;
    size_t typ_len = no_period_len(w, k1);
    size_t next_len = k2->sentbreak ? no_period_len(w, k2) : k2->type_len;
    const char *typ = w->types.s + k1->type_off, *next = w->types.s + k2->type_off;
    strbuf_clear(&w->key);
    if (strbuf_append(&w->key, typ, typ_len, err) || strbuf_append(&w->key, "\t", 1, err) ||
        strbuf_append(&w->key, next, next_len, err))
        return RP_ENOMEM;
    if (in_map(&p->colloc, w->key.s, w->key.len)) {
        k1->sentbreak = 0, k1->abbr = 1;
        return RP_OK;
    }
    if ((k1->abbr || k1->ellipsis) && !k1->is_initial) {
        if (ortho_heuristic(p, w, t, k2, next_len) == OH_TRUE) {
            k1->sentbreak = 1;
            return RP_OK;
        }
        if (k2->first_upper && in_map(&p->starter, next, next_len)) {
            k1->sentbreak = 1;
            return RP_OK;
        }
    }
    if (k1->is_initial || (typ_len == 10 && !memcmp(typ, "##number##", 10))) {
        Ortho o = ortho_heuristic(p, w, t, k2, next_len);
        int64_t ctx = 0;
        strmap_get(&p->ortho, next, next_len, &ctx);
        if (o == OH_FALSE ||
            (o == OH_UNKNOWN && k1->is_initial && k2->first_upper && !(ctx & ORTHO_LC)))
            k1->sentbreak = 0, k1->abbr = 1;
    }
    return RP_OK;
}

/* text_contains_sentbreak(text[a..b)): a sentence break on any token but the last. */
static int contains_sentbreak(const Punkt *p, Work *w, const uint32_t *t, size_t a, size_t b, int *found,
                              Error *err) {
    w->n = 0;
    strbuf_clear(&w->types);
    for (size_t s = a; s < b;) {
        size_t nl = s;
        int blank = 1; /* `if line.strip()`: Python's whitespace, even where the engine's \S differs */
        for (; nl < b && t[nl] != '\n'; nl++) blank = blank && py_isspace(t[nl]);
        if (!blank && tokenize_line(p, w, t, s, nl, err)) return RP_ENOMEM;
        s = nl + 1;
    }
    *found = 0;
    for (size_t i = 0; i + 1 < w->n; i++) {
        if (second_pass(p, w, t, &w->v[i], &w->v[i + 1], err)) return RP_ENOMEM;
        if (w->v[i].sentbreak) {
            *found = 1;
            break;
        }
    }
    return RP_OK;
}

/* ---- sentence spans ---- */

static int push_span(PunktSpans *o, size_t s, size_t e, Error *err) {
    if (VEC_RESERVE(o->v, o->cap, o->n + 1, err)) return RP_ENOMEM;
    o->v[o->n++] = (PunktSpan){s, e};
    return RP_OK;
}

void punkt_spans_free(PunktSpans *s) {
    free(s->v);
    memset(s, 0, sizeof *s);
}

typedef struct {
    size_t at, after_end, next_tok; /* the end char, end of after_tok, start of next_tok (or NONE) */
} Match;

/* _slices_from_text: candidate contexts (_match_potential_end_contexts) that contain a break. */
static int raw_slices(const Punkt *p, Work *w, const uint32_t *t, size_t n, PunktSpans *raw, Error *err) {
    size_t last_break = 0, ps = 0, pe = 0;
    Match prev = {NONE, 0, 0};
    for (size_t i = 0; i <= n; i++) {
        Match m = {NONE, 0, NONE};
        if (i < n && is_sent_end(t[i]) && i + 1 < n) {
            if (is_non_word(t[i + 1], p->rel)) {
                m = (Match){i, i + 2, NONE};
            } else if (rx_isspace(p->rel, t[i + 1])) {
                size_t j = i + 1, k;
                while (j < n && rx_isspace(p->rel, t[j])) j++;
                for (k = j; k < n && !rx_isspace(p->rel, t[k]); k++) {}
                if (j < n) m = (Match){i, k, j};
            }
        }
        if (i < n && m.at == NONE) continue;
        size_t start = ps;
        if (i < n) { /* the word before the match starts after the last whitespace */
            size_t ws = NONE;
            for (size_t q = i; q > pe; q--)
                if (is_ascii_ws(t[q - 1])) {
                    ws = q - 1 - pe;
                    break;
                }
            if (ws != NONE && ws != 0) start = pe + ws + 1; /* NLTK treats index 0 as "none found" */
        }
        if (prev.at != NONE && (i == n || pe <= start)) {
            int found;
            if (contains_sentbreak(p, w, t, ps, prev.after_end, &found, err)) return RP_ENOMEM;
            if (found) {
                if (push_span(raw, last_break, prev.at + 1, err)) return RP_ENOMEM;
                last_break = prev.next_tok != NONE ? prev.next_tok : prev.at + 1;
            }
        }
        if (i == n) break;
        prev = m, ps = start, pe = i;
    }
    size_t end = n;
    while (end > 0 && py_isspace(t[end - 1])) end--;
    return push_span(raw, last_break, end, err);
}

static int is_closer(uint32_t c, NltkRelease r) {
    return c == '"' || c == '\'' || c == ')' || c == ']' || c == '}' || (r == NLTK_3_10 && is_curly(c));
}

int punkt_spans(const Punkt *p, const uint32_t *t, size_t n, PunktSpans *out, Error *err) {
    Work w;
    PunktSpans raw = {0};
    memset(&w, 0, sizeof w);
    strbuf_init(&w.types);
    strbuf_init(&w.key);
    out->n = 0;
    int rc = raw_slices(p, &w, t, n, &raw, err);
    /* _realign_boundaries: closing quotes/brackets after a break stay with the sentence. */
    size_t realign = 0;
    for (size_t k = 0; k < raw.n && rc == RP_OK; k++) {
        PunktSpan s1 = {raw.v[k].start + realign, raw.v[k].end};
        if (k + 1 == raw.n) {
            if (s1.start < s1.end) rc = push_span(out, s1.start, s1.end, err);
            break;
        }
        PunktSpan s2 = raw.v[k + 1];
        size_t q = s2.start, mend = NONE;
        while (q < s2.end && is_closer(t[q], p->rel)) q++;
        if (q > s2.start) {
            if (q < s2.end && rx_isspace(p->rel, t[q])) {
                size_t r = q;
                while (r < s2.end && rx_isspace(p->rel, t[r])) r++;
                mend = r;
            } else if (q == s2.end || (q + 1 < s2.end && t[q] == '-' && t[q + 1] == '-')) {
                mend = q;
            }
        }
        if (mend != NONE) {
            rc = push_span(out, s1.start, q, err);
            realign = mend - s2.start;
        } else {
            realign = 0;
            if (s1.start < s1.end) rc = push_span(out, s1.start, s1.end, err);
        }
    }
    punkt_spans_free(&raw);
    free(w.v);
    strbuf_free(&w.types);
    strbuf_free(&w.key);
    cpbuf_free(&w.low);
    return rc;
}

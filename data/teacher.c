/* The built-in reasoning teacher: profile statistics -> bullet sentences (see teacher.h). */
#include "data/teacher.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Function words never reported as a user's "topics". */
static const char *STOPWORDS[] = {
    "a", "about", "above", "after", "again", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do",
    "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having",
    "he", "her", "here", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just",
    "may", "me", "more", "most", "much", "must", "my", "no", "nor", "not", "now", "of", "off", "on", "once", "one",
    "only", "or", "other", "our", "ours", "out", "over", "own", "same", "she", "should", "so", "some", "such",
    "than", "that", "the", "their", "theirs", "them", "then", "there", "these", "they", "this", "those", "through",
    "to", "too", "under", "until", "up", "use", "used", "using", "very", "was", "we", "were", "what", "when",
    "where", "which", "while", "who", "whom", "why", "will", "with", "would", "you", "your", "yours", "its", "s",
    "t", "can", "etc", "via", "new", "well", "many", "like", "get", "make", "two", "first",
};

static int is_stop(const char *w, size_t n) {
    if (n < 3) return 1;
    for (size_t i = 0; i < sizeof STOPWORDS / sizeof STOPWORDS[0]; i++)
        if (strlen(STOPWORDS[i]) == n && !memcmp(STOPWORDS[i], w, n)) return 1;
    return 0;
}

typedef struct {
    char **w;
    int64_t n, cap;
} Words;

static void words_free(Words *ws) {
    for (int64_t i = 0; i < ws->n; i++) free(ws->w[i]);
    free(ws->w);
    memset(ws, 0, sizeof *ws);
}

/* Lowercased runs of ASCII letters/digits and non-ASCII bytes (so accented words stay whole). */
static int words_split(const char *s, Words *ws, Error *e) {
    memset(ws, 0, sizeof *ws);
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        if (!(isalnum(*p) || *p >= 0x80)) {
            p++;
            continue;
        }
        const unsigned char *b = p;
        while (*p && (isalnum(*p) || *p >= 0x80)) p++;
        if (ws->n == ws->cap) {
            int64_t cap = ws->cap ? 2 * ws->cap : 64;
            char **nw = xrealloc(ws->w, sizeof(char *) * (size_t)cap, e);
            if (!nw) return RP_ENOMEM;
            ws->w = nw;
            ws->cap = cap;
        }
        char *w = xmalloc((size_t)(p - b) + 1, e);
        if (!w) return RP_ENOMEM;
        for (size_t k = 0; k < (size_t)(p - b); k++) w[k] = (char)tolower(b[k]);
        w[p - b] = '\0';
        ws->w[ws->n++] = w;
    }
    return RP_OK;
}

static int ngram_key(const Words *ws, int64_t i, int n, StrBuf *k, Error *e) {
    strbuf_clear(k);
    for (int j = 0; j < n; j++) {
        int rc = strbuf_puts(k, ws->w[i + j], e);
        if (!rc && j + 1 < n) rc = strbuf_puts(k, " ", e);
        if (rc) return rc;
    }
    return RP_OK;
}

int64_t teacher_longest_shared_run(const char *a, const char *b, Error *e) {
    Words wa, wb;
    if (words_split(a, &wa, e) || words_split(b, &wb, e)) return -1;
    /* Longest common substring over words: one DP row, O(|a| |b|) on short texts. */
    int64_t best = 0;
    int64_t *row = xcalloc((size_t)wb.n + 1, sizeof(int64_t), e);
    if (!row) best = -1;
    for (int64_t i = 1; row && i <= wa.n; i++) {
        int64_t diag = 0;
        for (int64_t j = 1; j <= wb.n; j++) {
            int64_t up = row[j];
            row[j] = strcmp(wa.w[i - 1], wb.w[j - 1]) == 0 ? diag + 1 : 0;
            if (row[j] > best) best = row[j];
            diag = up;
        }
    }
    free(row);
    words_free(&wa);
    words_free(&wb);
    return best;
}

typedef struct {
    const char *key;
    int64_t df;
} Ranked;

static int by_df(const void *x, const void *y) {
    const Ranked *a = x, *b = y;
    if (a->df != b->df) return a->df > b->df ? -1 : 1;
    return strcmp(a->key, b->key);
}

/* Document frequency of n-grams over the items' body texts; keeps n-grams without stopword
 * edges. Returns them ranked (df desc, then alphabetical) in *out. */
static int rank_ngrams(const Dataset *d, int64_t i, const int64_t *items, int64_t n_items, int n, Ranked **out,
                       int64_t *n_out, StrMap *df, Error *e) {
    StrBuf k;
    strbuf_init(&k);
    int rc = strmap_init(df, 1024, e);
    for (int64_t it = 0; it < n_items && !rc; it++) {
        Words ws;
        if ((rc = words_split(dataset_item(d, i, items[it])[d->task->body], &ws, e))) break;
        StrMap seen;
        if ((rc = strmap_init(&seen, (size_t)ws.n + 1, e))) {
            words_free(&ws);
            break;
        }
        for (int64_t p = 0; p + n <= ws.n && !rc; p++) {
            if (is_stop(ws.w[p], strlen(ws.w[p])) || is_stop(ws.w[p + n - 1], strlen(ws.w[p + n - 1]))) continue;
            if ((rc = ngram_key(&ws, p, n, &k, e))) break;
            int64_t v;
            if (strmap_get(&seen, k.s, k.len, &v)) continue;
            if ((rc = strmap_put(&seen, k.s, k.len, 1, e))) break;
            int64_t *slot = strmap_slot(df, k.s, k.len, 0, e);
            if (!slot) rc = RP_ENOMEM;
            else (*slot)++;
        }
        strmap_free(&seen);
        words_free(&ws);
    }
    strbuf_free(&k);
    if (rc) return rc;
    Ranked *r = xmalloc(sizeof(Ranked) * (df->count ? df->count : 1), e);
    if (!r) return RP_ENOMEM;
    int64_t m = 0;
    for (size_t s = 0; s < df->cap; s++)
        if (df->keys[s]) r[m++] = (Ranked){df->keys[s], df->vals[s]};
    qsort(r, (size_t)m, sizeof(Ranked), by_df);
    *out = r;
    *n_out = m;
    return RP_OK;
}

static int output_has(const char *output_lc_padded, const char *phrase) {
    /* output_lc_padded is " w1 w2 ... wn " so a whole-word phrase match is a substring search. */
    char buf[512];
    snprintf(buf, sizeof buf, " %s ", phrase);
    return strstr(output_lc_padded, buf) != NULL;
}

/* Appends a bullet unless it would copy a run of more than TEACHER_MAX_COPY output words. */
static int add_bullet(StrBuf *out, const char *bullet, const char *output, Error *e) {
    int64_t run = teacher_longest_shared_run(bullet, output, e);
    if (run < 0) return RP_ENOMEM;
    if (run > TEACHER_MAX_COPY) return RP_OK;
    if (out->len && strbuf_puts(out, "\n", e)) return RP_ENOMEM;
    return strbuf_printf(out, e, "- %s", bullet);
}

static void text_shape(const char *s, int64_t *words, int64_t *paras, int64_t *sentences, int *list, int *excl,
                       int *first_person) {
    *words = *paras = *sentences = 0;
    *list = *excl = *first_person = 0;
    int in_word = 0, line_start = 1, blank_run = 0, in_para = 0;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        int w = isalnum(c) || c >= 0x80;
        if (w && !in_word) (*words)++;
        in_word = w;
        if (line_start && (c == '-' || c == '*') && p[1] == ' ') *list = 1;
        if (c == '.' || c == '!' || c == '?') {
            if (!isalnum((unsigned char)p[1])) (*sentences)++;
            if (c == '!') *excl = 1;
        }
        if (c == '\n') {
            blank_run = line_start ? blank_run + 1 : 0;
            line_start = 1;
            if (blank_run >= 1) in_para = 0;
            continue;
        }
        if (!isspace(c) && !in_para) {
            in_para = 1;
            (*paras)++;
        }
        if (!isspace(c)) line_start = 0;
        if (w && (p == s || !isalnum((unsigned char)p[-1])) &&
            (!strncmp(p, "I ", 2) || !strncasecmp(p, "my ", 3) || !strncasecmp(p, "we ", 3) || !strncasecmp(p, "our ", 4)))
            *first_person = 1;
    }
    if (*sentences == 0 && *words > 0) *sentences = 1;
}

int teacher_reason(const Dataset *d, int64_t i, const int64_t *items, int64_t n_items, StrBuf *out, Error *e) {
    strbuf_clear(out);
    const char *output = d->output[i];
    Words ow;
    int rc = words_split(output, &ow, e);
    if (rc) return rc;
    StrBuf padded, line;
    strbuf_init(&padded);
    strbuf_init(&line);
    rc = strbuf_puts(&padded, " ", e);
    for (int64_t k = 0; k < ow.n && !rc; k++) rc = strbuf_printf(&padded, e, "%s ", ow.w[k]);
    Ranked *uni = NULL, *bi = NULL;
    int64_t n_uni = 0, n_bi = 0;
    StrMap df1 = {0}, df2 = {0};
    if (!rc) rc = rank_ngrams(d, i, items, n_items, 1, &uni, &n_uni, &df1, e);
    if (!rc) rc = rank_ngrams(d, i, items, n_items, 2, &bi, &n_bi, &df2, e);

    /* Topics: the user's recurring content words (in 2+ items when possible) that the output uses. */
    if (!rc) {
        int shown = 0;
        strbuf_clear(&line);
        int64_t min_df = n_items >= 3 ? 2 : 1;
        for (int64_t k = 0; k < n_uni && shown < 5 && !rc; k++) {
            if (uni[k].df < min_df || !output_has(padded.s, uni[k].key)) continue;
            rc = strbuf_printf(&line, e, "%s%s", shown ? ", " : "", uni[k].key);
            shown++;
        }
        if (!rc && shown) {
            StrBuf b;
            strbuf_init(&b);
            rc = strbuf_printf(&b, e, "The user keeps returning to %s; these topics and terms carry over here.", line.s);
            if (!rc) rc = add_bullet(out, b.s, output, e);
            strbuf_free(&b);
        } else if (!rc && n_uni) {
            strbuf_clear(&line);
            for (int64_t k = 0; k < n_uni && k < 3 && !rc; k++) rc = strbuf_printf(&line, e, "%s%s", k ? ", " : "", uni[k].key);
            StrBuf b;
            strbuf_init(&b);
            if (!rc) rc = strbuf_printf(&b, e, "Their usual subjects (%s) are not the focus this time, so the content is new ground.", line.s);
            if (!rc) rc = add_bullet(out, b.s, output, e);
            strbuf_free(&b);
        }
    }
    /* Phrasing: two-word phrases the user repeats across items that the output also uses. */
    if (!rc) {
        int shown = 0;
        strbuf_clear(&line);
        for (int64_t k = 0; k < n_bi && shown < 3 && !rc; k++) {
            if (bi[k].df < 2 || !output_has(padded.s, bi[k].key)) continue;
            rc = strbuf_printf(&line, e, "%s\"%s\"", shown ? ", " : "", bi[k].key);
            shown++;
        }
        if (!rc && shown) {
            StrBuf b;
            strbuf_init(&b);
            rc = strbuf_printf(&b, e, "They reuse set phrases such as %s.", line.s);
            if (!rc) rc = add_bullet(out, b.s, output, e);
            strbuf_free(&b);
        }
    }
    /* Length and structure: the user's typical length against this output's. */
    if (!rc && n_items > 0) {
        double sum = 0, sum2 = 0;
        int lists = 0;
        for (int64_t k = 0; k < n_items; k++) {
            int64_t w, p, s;
            int l, x, f;
            text_shape(dataset_item(d, i, items[k])[d->task->body], &w, &p, &s, &l, &x, &f);
            sum += (double)w;
            sum2 += (double)w * (double)w;
            lists += l;
        }
        double mean = sum / (double)n_items, sd = sqrt(fmax(0.0, sum2 / (double)n_items - mean * mean));
        int64_t w, p, s;
        int l, x, f;
        text_shape(output, &w, &p, &s, &l, &x, &f);
        const char *rel = (double)w > mean + sd ? "longer than usual" : (double)w < mean - sd ? "shorter than usual" : "in their usual range";
        StrBuf b;
        strbuf_init(&b);
        rc = strbuf_printf(&b, e, "Their texts run about %.0f words (spread %.0f); this one is %s at roughly %lld words in %lld paragraph%s.",
                           mean, sd, rel, (long long)((w + 5) / 10 * 10), (long long)p, p == 1 ? "" : "s");
        if (!rc) rc = add_bullet(out, b.s, output, e);
        if (!rc && l) {
            strbuf_clear(&b);
            rc = strbuf_printf(&b, e, "%s", lists ? "They like bulleted lists, and this text uses one." : "Unusually for them, this text uses a bulleted list.");
            if (!rc) rc = add_bullet(out, b.s, output, e);
        }
        /* Tone from sentence length, person and exclamation. */
        if (!rc) {
            double spl = s ? (double)w / (double)s : (double)w;
            strbuf_clear(&b);
            rc = strbuf_printf(&b, e, "Tone: %s, %s, with %s sentences (about %.0f words each).",
                               f ? "personal (first person)" : "impersonal", x ? "lively" : "matter-of-fact",
                               spl > 25 ? "long" : spl > 12 ? "medium-length" : "short", spl);
            if (!rc) rc = add_bullet(out, b.s, output, e);
            strbuf_free(&b);
        }
    }
    free(uni);
    free(bi);
    strmap_free(&df1);
    strmap_free(&df2);
    strbuf_free(&padded);
    strbuf_free(&line);
    words_free(&ow);
    return rc;
}

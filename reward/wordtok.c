/* NLTKWordTokenizer's substitutions as code point scanners (see wordtok.h). Each pass reads the
 * text `t` and writes the rewritten text to `o` (sized 4n + 8: no substitution more than
 * quadruples a character), returning its length. Comments quote NLTK's pattern for each pass. */
#include "reward/wordtok.h"

#include <string.h>

#include "reward/pyclass.h"
#include "reward/unicase.h"

typedef size_t (*Pass)(const uint32_t *t, size_t n, uint32_t *o);
/* A pass whose character classes depend on the release. */
typedef size_t (*PassR)(const uint32_t *t, size_t n, uint32_t *o, NltkRelease r);

static int isw(const uint32_t *t, size_t n, size_t i, NltkRelease r) { return i < n && rx_isword(r, t[i]); }

/* Python re's IGNORECASE match of c against a lower-case ASCII literal: simple lowercase, plus
 * the dotless-i and long-s equivalences re adds for 'i' and 's'. The regex module (NLTK 3.10)
 * keeps the long s but not the dotless i. */
static int ci(uint32_t c, char lit, NltkRelease r) {
    if (c < 128) return (c >= 'A' && c <= 'Z' ? c + 32 : c) == (uint32_t)lit;
    uint32_t l[2];
    unicase_lower_cp(c, l);
    return l[0] == (uint32_t)lit || (lit == 'i' && l[0] == 0x131 && r == NLTK_3_8) || (lit == 's' && l[0] == 0x17F);
}

static int in_set(uint32_t c, const uint32_t *set) {
    for (; *set; set++)
        if (c == *set) return 1;
    return 0;
}

/* Shared shape: every character of `set` becomes " c ". */
static size_t pad_set(const uint32_t *t, size_t n, uint32_t *o, const uint32_t *set) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (in_set(t[i], set)) o[k++] = ' ', o[k++] = t[i], o[k++] = ' ';
        else o[k++] = t[i];
    }
    return k;
}

/* Shared shape: every non-overlapping occurrence of the two characters ab becomes " cc " with
 * c = out (ab itself when a == b == out). */
static size_t pad_pair(const uint32_t *t, size_t n, uint32_t *o, uint32_t a, uint32_t b, uint32_t out) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] == a && i + 1 < n && t[i + 1] == b) {
            o[k++] = ' ', o[k++] = out, o[k++] = out, o[k++] = ' ';
            i++;
        } else {
            o[k++] = t[i];
        }
    }
    return k;
}

/* ([«“‘„]|[`]+) -> " \1 " */
static size_t open_quote_chars(const uint32_t *t, size_t n, uint32_t *o) {
    static const uint32_t set[] = {0xAB, 0x201C, 0x2018, 0x201E, 0};
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (in_set(t[i], set)) {
            o[k++] = ' ', o[k++] = t[i++], o[k++] = ' ';
        } else if (t[i] == '`') {
            o[k++] = ' ';
            while (i < n && t[i] == '`') o[k++] = t[i++];
            o[k++] = ' ';
        } else {
            o[k++] = t[i++];
        }
    }
    return k;
}

/* ^\" -> `` */
static size_t leading_dquote(const uint32_t *t, size_t n, uint32_t *o) {
    size_t k = 0, i = 0;
    if (n && t[0] == '"') o[k++] = '`', o[k++] = '`', i = 1;
    for (; i < n; i++) o[k++] = t[i];
    return k;
}

/* (``) -> " \1 " */
static size_t backtick_pairs(const uint32_t *t, size_t n, uint32_t *o) { return pad_pair(t, n, o, '`', '`', '`'); }

/* ([ \(\[{<])(\"|\'{2}) -> "\1 `` " */
static size_t quote_after_open(const uint32_t *t, size_t n, uint32_t *o) {
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t q = 0;
        if (i + 1 < n && t[i] < 128 && strchr(" ([{<", (int)t[i]) && t[i]) {
            if (t[i + 1] == '"') q = 1;
            else if (i + 2 < n && t[i + 1] == '\'' && t[i + 2] == '\'') q = 2;
        }
        if (q) {
            o[k++] = t[i], o[k++] = ' ', o[k++] = '`', o[k++] = '`', o[k++] = ' ';
            i += 1 + q;
        } else {
            o[k++] = t[i++];
        }
    }
    return k;
}

/* (?i)(\')(?!re|ve|ll|m|t|s|d|n)(\w)\b -> "\1 \2" (NLTK 3.8). A single word character ends at a
 * boundary, so only the one-letter exclusions can apply. */
static size_t quote_letter_38(const uint32_t *t, size_t n, uint32_t *o, NltkRelease r) {
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (t[i] == '\'' && isw(t, n, i + 1, r) && !isw(t, n, i + 2, r) && !ci(t[i + 1], 'm', r) &&
            !ci(t[i + 1], 't', r) && !ci(t[i + 1], 's', r) && !ci(t[i + 1], 'd', r) && !ci(t[i + 1], 'n', r)) {
            o[k++] = '\'', o[k++] = ' ', o[k++] = t[i + 1];
            i += 2;
        } else {
            o[k++] = t[i++];
        }
    }
    return k;
}

/* Whether t[i..] starts with the lower-case ASCII word w under IGNORECASE, followed by \b. */
static int ci_word(const uint32_t *t, size_t n, size_t i, const char *w, NltkRelease r) {
    for (; *w; w++, i++)
        if (i >= n || !ci(t[i], *w, r)) return 0;
    return !isw(t, n, i, r);
}

/* (?i)(?<!\w)(\')(?!(?:re|ve|ll|m|t|s|d|n)\b)(?=\w) -> "\1 " (NLTK 3.10): an opening quote, one not
 * after a word character and before one, is split from the word unless the word is a clitic. */
static size_t quote_open_310(const uint32_t *t, size_t n, uint32_t *o, NltkRelease r) {
    static const char *const clitics[] = {"re", "ve", "ll", "m", "t", "s", "d", "n"};
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        o[k++] = t[i];
        if (t[i] != '\'' || (i > 0 && isw(t, n, i - 1, r)) || !isw(t, n, i + 1, r)) continue;
        int clitic = 0;
        for (size_t c = 0; c < sizeof clitics / sizeof *clitics && !clitic; c++)
            clitic = ci_word(t, n, i + 1, clitics[c], r);
        if (!clitic) o[k++] = ' ';
    }
    return k;
}

static size_t quote_letter(const uint32_t *t, size_t n, uint32_t *o, NltkRelease r) {
    return r == NLTK_3_8 ? quote_letter_38(t, n, o, r) : quote_open_310(t, n, o, r);
}

/* ([^\.])(\.)(C*)\s*$ with closers C: the text's last period, if only closers and whitespace
 * follow it and it does not follow a period. spaced = 1 writes "\1 \2 \3 ", else "\1 \2\3 ". */
static size_t final_period(const uint32_t *t, size_t n, uint32_t *o, const uint32_t *closers, int spaced,
                           NltkRelease r) {
    size_t d = n, k;
    while (d > 0 && t[d - 1] != '.') d--;
    int ok = d >= 2 && t[d - 2] != '.';
    size_t g = d; /* d is one past the period */
    if (ok) {
        while (g < n && in_set(t[g], closers)) g++;
        for (size_t i = g; i < n && ok; i++) ok = rx_isspace(r, t[i]);
    }
    if (!ok) {
        memcpy(o, t, n * sizeof *t);
        return n;
    }
    memcpy(o, t, (d - 1) * sizeof *t);
    k = d - 1;
    o[k++] = ' ', o[k++] = '.';
    if (spaced) o[k++] = ' ';
    for (size_t i = d; i < g; i++) o[k++] = t[i];
    o[k++] = ' ';
    return k;
}

static size_t final_period_spaced(const uint32_t *t, size_t n, uint32_t *o, NltkRelease r) {
    static const uint32_t closers[] = {']', ')', '}', '>', '"', '\'', 0xBB, 0x201D, 0x2019, ' ', 0};
    return final_period(t, n, o, closers, 1, r);
}

static size_t final_period_joined(const uint32_t *t, size_t n, uint32_t *o, NltkRelease r) {
    static const uint32_t closers[] = {']', ')', '}', '>', '"', '\'', 0};
    return final_period(t, n, o, closers, 0, r);
}

/* ([:,])([^\d]) -> " \1 \2" */
static size_t comma_nondigit(const uint32_t *t, size_t n, uint32_t *o, NltkRelease r) {
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if ((t[i] == ':' || t[i] == ',') && i + 1 < n && !rx_isdigit(r, t[i + 1])) {
            o[k++] = ' ', o[k++] = t[i], o[k++] = ' ', o[k++] = t[i + 1];
            i += 2;
        } else {
            o[k++] = t[i++];
        }
    }
    return k;
}

/* ([:,])$ -> " \1 " ($ also matches before a final newline) */
static size_t comma_end(const uint32_t *t, size_t n, uint32_t *o) {
    size_t at = n;
    if (n >= 2 && (t[n - 2] == ':' || t[n - 2] == ',') && t[n - 1] == '\n') at = n - 2;
    else if (n >= 1 && (t[n - 1] == ':' || t[n - 1] == ',')) at = n - 1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == at) o[k++] = ' ', o[k++] = t[i], o[k++] = ' ';
        else o[k++] = t[i];
    }
    return k;
}

/* \.{2,} -> " \g<0> " */
static size_t dot_runs(const uint32_t *t, size_t n, uint32_t *o) {
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (t[i] == '.' && i + 1 < n && t[i + 1] == '.') {
            o[k++] = ' ';
            while (i < n && t[i] == '.') o[k++] = t[i++];
            o[k++] = ' ';
        } else {
            o[k++] = t[i++];
        }
    }
    return k;
}

/* [;@#$%&] -> " \g<0> " */
static size_t symbols(const uint32_t *t, size_t n, uint32_t *o) {
    static const uint32_t set[] = {';', '@', '#', '$', '%', '&', 0};
    return pad_set(t, n, o, set);
}

/* [\u2012-\u2015] -> " \g<0> " (figure, en and em dashes, horizontal bar; NLTK 3.9 and later) */
static size_t dashes(const uint32_t *t, size_t n, uint32_t *o) {
    static const uint32_t set[] = {0x2012, 0x2013, 0x2014, 0x2015, 0};
    return pad_set(t, n, o, set);
}

/* [?!] -> " \g<0> " */
static size_t question_bang(const uint32_t *t, size_t n, uint32_t *o) {
    static const uint32_t set[] = {'?', '!', 0};
    return pad_set(t, n, o, set);
}

/* ([^'])' -> "\1 ' " */
static size_t quote_space(const uint32_t *t, size_t n, uint32_t *o) {
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (t[i] != '\'' && i + 2 < n && t[i + 1] == '\'' && t[i + 2] == ' ') {
            o[k++] = t[i], o[k++] = ' ', o[k++] = '\'', o[k++] = ' ';
            i += 3;
        } else {
            o[k++] = t[i++];
        }
    }
    return k;
}

/* [*] -> " \g<0> " */
static size_t star(const uint32_t *t, size_t n, uint32_t *o) {
    static const uint32_t set[] = {'*', 0};
    return pad_set(t, n, o, set);
}

/* [\]\[\(\)\{\}\<\>] -> " \g<0> " */
static size_t brackets(const uint32_t *t, size_t n, uint32_t *o) {
    static const uint32_t set[] = {']', '[', '(', ')', '{', '}', '<', '>', 0};
    return pad_set(t, n, o, set);
}

/* -- -> " -- " */
static size_t double_dash(const uint32_t *t, size_t n, uint32_t *o) { return pad_pair(t, n, o, '-', '-', '-'); }

/* text = " " + text + " " */
static size_t surround(const uint32_t *t, size_t n, uint32_t *o) {
    o[0] = ' ';
    memcpy(o + 1, t, n * sizeof *t);
    o[n + 1] = ' ';
    return n + 2;
}

/* ([»”’]) -> " \1 " */
static size_t close_quote_chars(const uint32_t *t, size_t n, uint32_t *o) {
    static const uint32_t set[] = {0xBB, 0x201D, 0x2019, 0};
    return pad_set(t, n, o, set);
}

/* '' -> " '' " */
static size_t two_quotes(const uint32_t *t, size_t n, uint32_t *o) { return pad_pair(t, n, o, '\'', '\'', '\''); }

/* " -> " '' " */
static size_t dquote(const uint32_t *t, size_t n, uint32_t *o) {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] == '"') o[k++] = ' ', o[k++] = '\'', o[k++] = '\'', o[k++] = ' ';
        else o[k++] = t[i];
    }
    return k;
}

/* \s+ -> " " (NLTK 3.9 and later): the clitic rules below want a space after the clitic, so
 * "it's\n" splits only from 3.9 on. */
static size_t collapse_space(const uint32_t *t, size_t n, uint32_t *o, NltkRelease r) {
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        if (rx_isspace(r, t[i])) {
            o[k++] = ' ';
            while (i < n && rx_isspace(r, t[i])) i++;
        } else {
            o[k++] = t[i++];
        }
    }
    return k;
}

/* ([^' ])('[sS]|'[mM]|'[dD]|') -> "\1 \2 " */
static size_t clitic_short(const uint32_t *t, size_t n, uint32_t *o) {
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t g = 0;
        if (t[i] != '\'' && t[i] != ' ' && i + 2 < n && t[i + 1] == '\'') {
            if (i + 3 < n && t[i + 2] < 128 && strchr("sSmMdD", (int)t[i + 2]) && t[i + 2] && t[i + 3] == ' ') g = 2;
            else if (t[i + 2] == ' ') g = 1;
        }
        if (g) {
            o[k++] = t[i], o[k++] = ' ';
            for (size_t j = 1; j <= g; j++) o[k++] = t[i + j];
            o[k++] = ' ';
            i += g + 2;
        } else {
            o[k++] = t[i++];
        }
    }
    return k;
}

/* ([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) -> "\1 \2 " */
static size_t clitic_long(const uint32_t *t, size_t n, uint32_t *o) {
    static const char *const alts[] = {"'ll", "'LL", "'re", "'RE", "'ve", "'VE", "n't", "N'T"};
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        int hit = 0;
        if (t[i] != '\'' && t[i] != ' ' && i + 4 < n && t[i + 4] == ' ')
            for (size_t a = 0; a < sizeof alts / sizeof *alts && !hit; a++)
                hit = t[i + 1] == (uint32_t)alts[a][0] && t[i + 2] == (uint32_t)alts[a][1] &&
                      t[i + 3] == (uint32_t)alts[a][2];
        if (hit) {
            o[k++] = t[i], o[k++] = ' ', o[k++] = t[i + 1], o[k++] = t[i + 2], o[k++] = t[i + 3], o[k++] = ' ';
            i += 5;
        } else {
            o[k++] = t[i++];
        }
    }
    return k;
}

/* MacIntyre's contractions: (?i)\b(G1)(G2)\b -> " \1 \2 " and friends. lead: the pattern starts
 * with a literal space instead of \b; tail_space: it ends with (?=\s) instead of \b. NLTK 3.10
 * still compiles these with re (the only patterns it does not route through the regex module), so
 * they always run with re's classes and IGNORECASE: NLTK_3_8's. */
typedef struct {
    const char *g1, *g2;
    int lead, tail_space;
} Contraction;

static size_t contraction(const uint32_t *t, size_t n, uint32_t *o, const Contraction *c, NltkRelease r) {
    size_t l1 = strlen(c->g1), l2 = strlen(c->g2), len = (size_t)c->lead + l1 + l2, k = 0;
    for (size_t i = 0; i < n;) {
        int hit = i + len <= n && ci(t[i + c->lead], c->g1[0], r); /* the cheap test first */
        if (hit && c->lead) hit = t[i] == ' ';
        else if (hit) hit = i == 0 || !isw(t, n, i - 1, r); /* \b before a word character */
        for (size_t j = 0; j < l1 + l2 && hit; j++)
            hit = ci(t[i + c->lead + j], j < l1 ? c->g1[j] : c->g2[j - l1], r);
        if (hit) hit = c->tail_space ? i + len < n && rx_isspace(r, t[i + len]) : !isw(t, n, i + len, r);
        if (hit) {
            const uint32_t *m = t + i + c->lead;
            o[k++] = ' ';
            for (size_t j = 0; j < l1; j++) o[k++] = m[j];
            o[k++] = ' ';
            for (size_t j = 0; j < l2; j++) o[k++] = m[l1 + j];
            o[k++] = ' ';
            i += len;
        } else {
            o[k++] = t[i++];
        }
    }
    return k;
}

static const Contraction CONTRACTIONS[] = {
    {"can", "not", 0, 0}, {"d", "'ye", 0, 0}, {"gim", "me", 0, 0},  {"gon", "na", 0, 0},
    {"got", "ta", 0, 0},  {"lem", "me", 0, 0}, {"more", "'n", 0, 0}, {"wan", "na", 0, 1},
    {"'t", "is", 1, 0},   {"'t", "was", 1, 0},
};

/* A pass with the characters it needs: it can only change a text holding one of `chars` (or,
 * with nonascii set, any non-ASCII character); other texts skip it. A contraction's first
 * character only matches itself in either case under IGNORECASE, hence its trigger. since39: a
 * pass NLTK added in 3.9 (NLTK 3.8 skips it). */
typedef struct {
    Pass fn;
    PassR fnr;
    const Contraction *con;
    const char *chars; /* NULL: always run */
    int nonascii, since39;
} Step;

/* NLTK's order: starting quotes, punctuation, brackets, double dashes, padding, ending quotes,
 * contractions. */
static const Step STEPS[] = {
    {open_quote_chars, NULL, NULL, "`", 1, 0}, {leading_dquote, NULL, NULL, "\"", 0, 0},
    {backtick_pairs, NULL, NULL, "`", 0, 0}, {quote_after_open, NULL, NULL, "\"'", 0, 0},
    {NULL, quote_letter, NULL, "'", 0, 0}, {NULL, final_period_spaced, NULL, ".", 0, 0},
    {NULL, comma_nondigit, NULL, ":,", 0, 0}, {comma_end, NULL, NULL, ":,", 0, 0},
    {dot_runs, NULL, NULL, ".", 0, 0}, {symbols, NULL, NULL, ";@#$%&", 0, 0}, {dashes, NULL, NULL, "", 1, 1},
    {NULL, final_period_joined, NULL, ".", 0, 0}, {question_bang, NULL, NULL, "?!", 0, 0},
    {quote_space, NULL, NULL, "'", 0, 0}, {star, NULL, NULL, "*", 0, 0}, {brackets, NULL, NULL, "[](){}<>", 0, 0},
    {double_dash, NULL, NULL, "-", 0, 0}, {surround, NULL, NULL, NULL, 0, 0},
    {close_quote_chars, NULL, NULL, "", 1, 0}, {two_quotes, NULL, NULL, "'", 0, 0},
    {dquote, NULL, NULL, "\"", 0, 0}, {NULL, collapse_space, NULL, NULL, 0, 1},
    {clitic_short, NULL, NULL, "'", 0, 0}, {clitic_long, NULL, NULL, "'", 0, 0},
    {NULL, NULL, &CONTRACTIONS[0], "Cc", 0, 0}, {NULL, NULL, &CONTRACTIONS[1], "Dd", 0, 0},
    {NULL, NULL, &CONTRACTIONS[2], "Gg", 0, 0}, {NULL, NULL, &CONTRACTIONS[3], "Gg", 0, 0},
    {NULL, NULL, &CONTRACTIONS[4], "Gg", 0, 0}, {NULL, NULL, &CONTRACTIONS[5], "Ll", 0, 0},
    {NULL, NULL, &CONTRACTIONS[6], "Mm", 0, 0}, {NULL, NULL, &CONTRACTIONS[7], "Ww", 0, 0},
    {NULL, NULL, &CONTRACTIONS[8], "'", 0, 0}, {NULL, NULL, &CONTRACTIONS[9], "'", 0, 0},
};

/* Which ASCII characters a text holds, and whether it holds any other. */
typedef struct {
    uint64_t bits[2];
    int nonascii;
} Present;

static void present_add(Present *p, uint32_t c) {
    if (c < 128) p->bits[c >> 6] |= (uint64_t)1 << (c & 63);
    else p->nonascii = 1;
}

static int present_wanted(const Present *p, const Step *s) {
    if (!s->chars || (s->nonascii && p->nonascii)) return 1;
    for (const char *c = s->chars; *c; c++)
        if (p->bits[(unsigned char)*c >> 6] >> (*c & 63) & 1) return 1;
    return 0;
}

void wordtok_free(WordTok *w) {
    cpbuf_free(&w->a);
    cpbuf_free(&w->b);
}

int wordtok_run(WordTok *w, const uint32_t *t, size_t n, NltkRelease r, Error *e) {
    w->a.n = 0;
    if (cpbuf_append(&w->a, t, n, e)) return RP_ENOMEM;
    Present have = {{0, 0}, 0};
    for (size_t i = 0; i < n; i++) present_add(&have, t[i]);
    for (size_t p = 0; p < sizeof STEPS / sizeof *STEPS; p++) {
        const Step *s = &STEPS[p];
        if (!present_wanted(&have, s) || (s->since39 && r == NLTK_3_8)) continue;
        w->b.n = 0;
        if (cpbuf_reserve(&w->b, 4 * w->a.n + 8, e)) return RP_ENOMEM;
        w->b.n = s->fn    ? s->fn(w->a.v, w->a.n, w->b.v)
                 : s->fnr ? s->fnr(w->a.v, w->a.n, w->b.v, r)
                          : contraction(w->a.v, w->a.n, w->b.v, s->con, NLTK_3_8);
        present_add(&have, ' '); /* the only characters passes add */
        present_add(&have, '`');
        present_add(&have, '\'');
        CpBuf tmp = w->a;
        w->a = w->b;
        w->b = tmp;
    }
    return RP_OK;
}

/* Porter stemmer, NLTK_EXTENSIONS mode (see porter.h). The word is held as code points; every
 * step mirrors NLTK's rule lists, including their "first matching suffix decides, even when its
 * condition fails" behaviour, which is what makes outputs agree with NLTK on odd words. */
#include "reward/porter.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reward/unicase.h"

typedef struct {
    uint32_t *c;
    size_t n;
} Word;

static int is_vowel(uint32_t c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; }

/* A 'y' is a consonant at the start or after a vowel; a run of y's alternates, so walk back to
 * the run's start instead of recursing (a word of a million y's must not blow the stack). */
static int is_cons(const uint32_t *c, size_t i) {
    if (is_vowel(c[i])) return 0;
    if (c[i] != 'y') return 1;
    size_t j = i;
    while (j > 0 && c[j - 1] == 'y') j--;
    int first = j == 0 || is_vowel(c[j - 1]); /* a y after a consonant is a vowel */
    return ((i - j) % 2 == 0) ? first : !first;
}

/* m in [C](VC){m}[V] over c[0..n). */
static int measure(const uint32_t *c, size_t n) {
    int m = 0, prev = -1;
    for (size_t i = 0; i < n; i++) {
        int cons = is_vowel(c[i]) ? 0 : c[i] != 'y' ? 1 : (i == 0 ? 1 : !prev);
        if (prev == 0 && cons) m++;
        prev = cons;
    }
    return m;
}

static int has_vowel(const uint32_t *c, size_t n) {
    int prev = -1;
    for (size_t i = 0; i < n; i++) {
        int cons = is_vowel(c[i]) ? 0 : c[i] != 'y' ? 1 : (i == 0 ? 1 : !prev);
        if (!cons) return 1;
        prev = cons;
    }
    return 0;
}

static int ends_double_cons(const uint32_t *c, size_t n) {
    return n >= 2 && c[n - 1] == c[n - 2] && is_cons(c, n - 1);
}

/* *o, plus NLTK's extension that a two-letter vowel-consonant stem also counts. */
static int ends_cvc(const uint32_t *c, size_t n) {
    if (n >= 3 && is_cons(c, n - 3) && !is_cons(c, n - 2) && is_cons(c, n - 1) &&
        c[n - 1] != 'w' && c[n - 1] != 'x' && c[n - 1] != 'y')
        return 1;
    return n == 2 && !is_cons(c, 0) && is_cons(c, 1);
}

static int ends_with(const Word *w, const char *suf) {
    size_t k = strlen(suf);
    if (k > w->n) return 0;
    for (size_t i = 0; i < k; i++)
        if (w->c[w->n - k + i] != (uint32_t)(unsigned char)suf[i]) return 0;
    return 1;
}

/* Drops the last `drop` code points and appends the ASCII string rep. The buffer never needs to
 * grow: every replacement is at most as long as what it replaces, except step 1b's "+e", which
 * follows the removal of "ed"/"ing". */
static void replace(Word *w, size_t drop, const char *rep) {
    w->n -= drop;
    while (*rep) w->c[w->n++] = (uint32_t)(unsigned char)*rep++;
}

typedef enum { C_NONE, C_M0, C_M1, C_ION, C_Y, C_LOGI, C_LL } Cond;

typedef struct {
    const char *suf, *rep;
    Cond cond;
} Rule;

static int cond_holds(Cond cond, const uint32_t *c, size_t stem_n) {
    switch (cond) {
    case C_NONE: return 1;
    case C_M0: return measure(c, stem_n) > 0;
    case C_M1: return measure(c, stem_n) > 1;
    case C_ION: return measure(c, stem_n) > 1 && (c[stem_n - 1] == 's' || c[stem_n - 1] == 't');
    case C_Y: return stem_n > 1 && is_cons(c, stem_n - 1); /* NLTK: y -> i after a consonant */
    case C_LOGI: return measure(c, stem_n + 1) > 0;        /* NLTK tests word[:-3], "...l" */
    case C_LL: return measure(c, stem_n + 1) > 1;          /* NLTK tests word[:-1] */
    }
    return 0;
}

/* NLTK's _apply_rule_list: the first rule whose suffix matches decides. */
static void apply_rules(Word *w, const Rule *rules, size_t n_rules) {
    for (size_t i = 0; i < n_rules; i++) {
        if (!ends_with(w, rules[i].suf)) continue;
        size_t k = strlen(rules[i].suf);
        if (cond_holds(rules[i].cond, w->c, w->n - k)) replace(w, k, rules[i].rep);
        return;
    }
}

static void step1a(Word *w) {
    static const Rule r[] = {{"sses", "ss", C_NONE}, {"ies", "i", C_NONE}, {"ss", "ss", C_NONE},
                             {"s", "", C_NONE}};
    if (w->n == 4 && ends_with(w, "ies")) {
        replace(w, 3, "ie");
        return;
    }
    apply_rules(w, r, sizeof r / sizeof *r);
}

static void step1b(Word *w) {
    if (ends_with(w, "ied")) {
        replace(w, 3, w->n == 4 ? "ie" : "i");
        return;
    }
    if (ends_with(w, "eed")) {
        if (measure(w->c, w->n - 3) > 0) replace(w, 3, "ee");
        return;
    }
    size_t k = ends_with(w, "ed") ? 2 : ends_with(w, "ing") ? 3 : 0;
    if (!k || !has_vowel(w->c, w->n - k)) return;
    w->n -= k;
    if (ends_with(w, "at")) replace(w, 2, "ate");
    else if (ends_with(w, "bl")) replace(w, 2, "ble");
    else if (ends_with(w, "iz")) replace(w, 2, "ize");
    else if (ends_double_cons(w->c, w->n)) {
        uint32_t last = w->c[w->n - 1];
        if (last != 'l' && last != 's' && last != 'z') w->n--;
    } else if (measure(w->c, w->n) == 1 && ends_cvc(w->c, w->n)) {
        replace(w, 0, "e");
    }
}

static void step1c(Word *w) {
    static const Rule r[] = {{"y", "i", C_Y}};
    apply_rules(w, r, 1);
}

static void step2(Word *w) {
    static const Rule r[] = {
        {"ational", "ate", C_M0}, {"tional", "tion", C_M0}, {"enci", "ence", C_M0},
        {"anci", "ance", C_M0},   {"izer", "ize", C_M0},    {"bli", "ble", C_M0},
        {"alli", "al", C_M0},     {"entli", "ent", C_M0},   {"eli", "e", C_M0},
        {"ousli", "ous", C_M0},   {"ization", "ize", C_M0}, {"ation", "ate", C_M0},
        {"ator", "ate", C_M0},    {"alism", "al", C_M0},    {"iveness", "ive", C_M0},
        {"fulness", "ful", C_M0}, {"ousness", "ous", C_M0}, {"aliti", "al", C_M0},
        {"iviti", "ive", C_M0},   {"biliti", "ble", C_M0},  {"fulli", "ful", C_M0},
        {"logi", "log", C_LOGI}};
    /* NLTK restarts step 2 after "alli" -> "al"; the loop is that recursion. */
    while (ends_with(w, "alli") && measure(w->c, w->n - 4) > 0) replace(w, 4, "al");
    apply_rules(w, r, sizeof r / sizeof *r);
}

static void step3(Word *w) {
    static const Rule r[] = {{"icate", "ic", C_M0}, {"ative", "", C_M0}, {"alize", "al", C_M0},
                             {"iciti", "ic", C_M0}, {"ical", "ic", C_M0}, {"ful", "", C_M0},
                             {"ness", "", C_M0}};
    apply_rules(w, r, sizeof r / sizeof *r);
}

static void step4(Word *w) {
    static const Rule r[] = {
        {"al", "", C_M1},   {"ance", "", C_M1}, {"ence", "", C_M1}, {"er", "", C_M1},
        {"ic", "", C_M1},   {"able", "", C_M1}, {"ible", "", C_M1}, {"ant", "", C_M1},
        {"ement", "", C_M1}, {"ment", "", C_M1}, {"ent", "", C_M1}, {"ion", "", C_ION},
        {"ou", "", C_M1},   {"ism", "", C_M1},  {"ate", "", C_M1},  {"iti", "", C_M1},
        {"ous", "", C_M1},  {"ive", "", C_M1},  {"ize", "", C_M1}};
    apply_rules(w, r, sizeof r / sizeof *r);
}

static void step5(Word *w) {
    static const Rule r[] = {{"ll", "l", C_LL}};
    if (ends_with(w, "e")) {
        int m = measure(w->c, w->n - 1);
        if (m > 1 || (m == 1 && !ends_cvc(w->c, w->n - 1))) w->n--;
    }
    apply_rules(w, r, 1);
}

/* NLTK's irregular forms, looked up with the word as given (before lowercasing). */
static const char *irregular(const char *w, size_t n) {
    static const char *const pool[][2] = {
        {"sky", "sky"},         {"skies", "sky"},     {"dying", "die"},     {"lying", "lie"},
        {"tying", "tie"},       {"news", "news"},     {"innings", "inning"}, {"inning", "inning"},
        {"outings", "outing"},  {"outing", "outing"}, {"cannings", "canning"},
        {"canning", "canning"}, {"howe", "howe"},     {"proceed", "proceed"},
        {"exceed", "exceed"},   {"succeed", "succeed"}};
    for (size_t i = 0; i < sizeof pool / sizeof *pool; i++)
        if (strlen(pool[i][0]) == n && !memcmp(pool[i][0], w, n)) return pool[i][1];
    return NULL;
}

static int emit(const uint32_t *c, size_t n, char *out, size_t cap) {
    size_t len = 0;
    char buf[4];
    for (size_t i = 0; i < n; i++) len += utf8_encode(c[i], buf);
    if (len < cap) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) k += utf8_encode(c[i], out + k);
        out[k] = '\0';
    }
    return (int)len;
}

int porter_stem(const char *w, size_t n, char *out, size_t out_cap) {
    const char *irr = irregular(w, n);
    if (irr) {
        size_t len = strlen(irr);
        if (len < out_cap) memcpy(out, irr, len + 1);
        return (int)len;
    }
    uint32_t stack[3 * 64], *orig = stack;
    if (n == 0) {
        if (out_cap) out[0] = '\0';
        return 0;
    }
    if (n > 64 && !(orig = malloc(3 * n * sizeof *orig))) return -1;
    size_t n_orig = 0;
    for (size_t i = 0; i < n;) i += utf8_decode(w + i, n - i, &orig[n_orig++]);
    Word word = {orig + n_orig, unicase_lower(orig, n_orig, orig + n_orig)};
    if (n_orig > 2) { /* NLTK measures the length of the word before lowercasing */
        step1a(&word);
        step1b(&word);
        step1c(&word);
        step2(&word);
        step3(&word);
        step4(&word);
        step5(&word);
    }
    int len = emit(word.c, word.n, out, out_cap);
    if (orig != stack) free(orig);
    return len;
}

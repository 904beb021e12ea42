/* METEOR with NLTK's semantics (see meteor.h): tokenization, the three alignment stages, the
 * chunk count and the score. Words are interned to small integer ids per call, so each stage is a
 * bucket walk instead of NLTK's nested loops, with the same choices: for the prediction's words
 * from last to first, the last unpaired reference word with an equal key. */
#include "reward/meteor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reward/cptext.h"
#include "reward/porter.h"
#include "reward/pyclass.h"
#include "reward/unicase.h"
#include "reward/wordtok.h"

#ifndef RESTPG_WORDNET_DIR
#define RESTPG_WORDNET_DIR "/usr/share/wordnet"
#endif

static const char *const COMPAT[] = {[NLTK_3_10] = "nltk3.10", [NLTK_3_8] = "nltk3.8"};

int meteor_compat_parse(const char *name, NltkRelease *out, Error *e) {
    for (size_t r = 0; r < sizeof COMPAT / sizeof *COMPAT; r++)
        if (!strcmp(name, COMPAT[r])) {
            *out = (NltkRelease)r;
            return RP_OK;
        }
    return error_set(e, RP_EINPUT, "unknown METEOR compatibility '%s' (known: nltk3.10, nltk3.8)", name);
}

const char *meteor_compat_name(NltkRelease r) { return COMPAT[r]; }

int meteor_init_paths(Meteor *m, NltkRelease rel, const char *punkt_path, const char *wordnet_dir, Error *e) {
    memset(m, 0, sizeof *m);
    m->alpha = 0.9, m->beta = 3.0, m->gamma = 0.5;
    int rc = punkt_load(&m->punkt, punkt_path, e);
    if (rc) return rc;
    if ((rc = wnsyn_init(&m->wordnet, wordnet_dir, e))) {
        punkt_free(&m->punkt);
        return rc;
    }
    m->rel = m->punkt.rel = m->wordnet.rel = rel;
    return RP_OK;
}

int meteor_init(Meteor *m, NltkRelease rel, Error *e) {
    const char *dir = getenv("RESTPG_DATA_DIR");
#ifdef RESTPG_REWARD_DATA_DIR
    if (!dir || !*dir) dir = RESTPG_REWARD_DATA_DIR;
#endif
    if (!dir || !*dir)
        return error_set(e, RP_EINPUT,
                         "METEOR: set RESTPG_DATA_DIR to the directory holding %s (reward/data in the restpg "
                         "sources)", METEOR_PUNKT_FILE);
    char *path = xasprintf(e, "%s/%s", dir, METEOR_PUNKT_FILE);
    if (!path) return RP_ENOMEM;
    int rc = meteor_init_paths(m, rel, path, RESTPG_WORDNET_DIR, e);
    free(path);
    return rc;
}

void meteor_free(Meteor *m) {
    punkt_free(&m->punkt);
    wnsyn_free(&m->wordnet);
}

/* ---- tokens ---- */

typedef struct {
    StrBuf arena;       /* the tokens' UTF-8, back to back */
    size_t *off, *len;
    size_t n, cap;
} Toks;

typedef struct {
    CpBuf text, low;
    PunktSpans spans;
    WordTok wt;
    Toks pred, ref;
} Work;

static void toks_free(Toks *t) {
    strbuf_free(&t->arena);
    free(t->off);
    free(t->len);
}

static void work_free(Work *w) {
    cpbuf_free(&w->text);
    cpbuf_free(&w->low);
    punkt_spans_free(&w->spans);
    wordtok_free(&w->wt);
    toks_free(&w->pred);
    toks_free(&w->ref);
}

static int toks_push(Toks *t, size_t off, Error *e) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 256;
        size_t *o = xrealloc(t->off, cap * sizeof *o, e);
        if (!o) return RP_ENOMEM;
        t->off = o;
        size_t *l = xrealloc(t->len, cap * sizeof *l, e);
        if (!l) return RP_ENOMEM;
        t->len = l, t->cap = cap;
    }
    t->off[t->n] = off;
    t->len[t->n++] = t->arena.len - off;
    return RP_OK;
}

/* word_tokenize(text): Punkt sentences, then NLTK's word tokenizer on each; tokens lowercased
 * (one at a time, as NLTK's preprocess does) when lower is set. */
static int tokenize(const Meteor *m, Work *w, const char *text, size_t n, int lower, Toks *out, Error *e) {
    w->text.n = 0;
    int rc = cp_decode(text, n, &w->text, e);
    if (rc == RP_OK) rc = punkt_spans(&m->punkt, w->text.v, w->text.n, &w->spans, e);
    for (size_t s = 0; s < w->spans.n && rc == RP_OK; s++) {
        const PunktSpan *sp = &w->spans.v[s];
        if (sp->start >= sp->end) continue;
        if ((rc = wordtok_run(&w->wt, w->text.v + sp->start, sp->end - sp->start, m->rel, e))) break;
        const uint32_t *t = w->wt.a.v;
        size_t len = w->wt.a.n;
        for (size_t i = 0; i < len && rc == RP_OK;) {
            if (py_isspace(t[i])) {
                i++;
                continue;
            }
            size_t j = i;
            while (j < len && !py_isspace(t[j])) j++;
            size_t off = out->arena.len;
            if (lower) {
                w->low.n = 0;
                rc = cp_lower(t + i, j - i, &w->low, e);
                if (rc == RP_OK) rc = cp_encode(w->low.v, w->low.n, &out->arena, e);
            } else {
                rc = cp_encode(t + i, j - i, &out->arena, e);
            }
            if (rc == RP_OK) rc = toks_push(out, off, e);
            i = j;
        }
    }
    return rc;
}

size_t meteor_strip(const char *s, size_t n, size_t *start) {
    size_t i = 0, j = n;
    uint32_t cp;
    for (size_t len; i < n; i += len) {
        len = utf8_decode(s + i, n - i, &cp);
        if (!py_isspace(cp)) break;
    }
    while (j > i) { /* back over the last character: find where its encoding starts */
        size_t k = j - 1;
        while (k > i && j - k < 4 && ((unsigned char)s[k] & 0xC0) == 0x80) k--;
        if (utf8_decode(s + k, j - k, &cp) != j - k || !py_isspace(cp)) break;
        j = k;
    }
    *start = i;
    return j - i;
}

int meteor_tokenize(Meteor *m, const char *text, size_t n, StrBuf *out, Error *e) {
    Work w;
    memset(&w, 0, sizeof w);
    int rc = tokenize(m, &w, text, n, 0, &w.pred, e);
    for (size_t i = 0; i < w.pred.n && rc == RP_OK; i++) {
        rc = strbuf_append(out, w.pred.arena.s + w.pred.off[i], w.pred.len[i], e);
        if (rc == RP_OK) rc = strbuf_append(out, "\n", 1, e);
    }
    work_free(&w);
    return rc;
}

/* ---- interning ---- */

/* String -> dense id, keys borrowed (they must not move while the map lives). */
typedef struct {
    const char **key;
    size_t *len;
    int32_t *id;
    size_t mask;
    int32_t n;
    const char **by_id; /* id -> key, id -> length */
    size_t *len_by_id;
} Intern;

static int intern_init(Intern *t, size_t expected, Error *e) {
    size_t cap = 16;
    while (cap < 2 * expected + 2) cap *= 2;
    memset(t, 0, sizeof *t);
    t->mask = cap - 1;
    t->key = xcalloc(cap, sizeof *t->key, e);
    t->len = xcalloc(cap, sizeof *t->len, e);
    t->id = xcalloc(cap, sizeof *t->id, e);
    t->by_id = xcalloc(expected + 1, sizeof *t->by_id, e);
    t->len_by_id = xcalloc(expected + 1, sizeof *t->len_by_id, e);
    return t->key && t->len && t->id && t->by_id && t->len_by_id ? RP_OK : RP_ENOMEM;
}

static void intern_free(Intern *t) {
    free(t->key);
    free(t->len);
    free(t->id);
    free(t->by_id);
    free(t->len_by_id);
}

/* The id of s[0..n), a new one if unseen (at most `expected` distinct keys). */
static int32_t intern(Intern *t, const char *s, size_t n) {
    size_t i = (size_t)hash_bytes(s, n) & t->mask;
    while (t->key[i]) {
        if (t->len[i] == n && !memcmp(t->key[i], s, n)) return t->id[i];
        i = (i + 1) & t->mask;
    }
    t->key[i] = s, t->len[i] = n, t->id[i] = t->n;
    t->by_id[t->n] = s, t->len_by_id[t->n] = n;
    return t->n++;
}

/* ---- alignment ---- */

typedef struct {
    size_t nh, nr;
    int32_t *hk, *rk;   /* stage keys of prediction / reference words (-1: none) */
    int32_t *pair;      /* prediction word -> reference word it is matched with, or -1 */
    uint8_t *rdone;     /* reference word already matched */
    size_t matches;
} Align;

/* One stage with dense keys 0..nkeys-1: for prediction words from last to first, the last
 * unmatched reference word with the same key (NLTK's _match_enums). */
static int match_dense(Align *a, int32_t nkeys, Error *e) {
    size_t *start = xcalloc((size_t)nkeys + 1, sizeof *start, e), *top = xmalloc(((size_t)nkeys + 1) * sizeof *top, e);
    size_t *pos = xmalloc((a->nr + 1) * sizeof *pos, e);
    if (!start || !top || !pos) return free(start), free(top), free(pos), RP_ENOMEM;
    for (size_t j = 0; j < a->nr; j++)
        if (!a->rdone[j] && a->rk[j] >= 0) start[a->rk[j] + 1]++;
    for (int32_t k = 0; k < nkeys; k++) start[k + 1] += start[k];
    memcpy(top, start, ((size_t)nkeys + 1) * sizeof *top);
    for (size_t j = 0; j < a->nr; j++) /* ascending, so each bucket's last entry is its latest word */
        if (!a->rdone[j] && a->rk[j] >= 0) pos[top[a->rk[j]]++] = j;
    for (size_t i = a->nh; i-- > 0;) {
        int32_t k = a->hk[i];
        if (a->pair[i] >= 0 || k < 0 || top[k] == start[k]) continue;
        size_t j = pos[--top[k]];
        a->pair[i] = (int32_t)j, a->rdone[j] = 1, a->matches++;
    }
    free(start), free(top), free(pos);
    return RP_OK;
}

/* Stem stage keys: Porter stems of the words no exact match took, interned in `stems`. */
static int stem_keys(Align *a, const Intern *words, const int32_t *hw, const int32_t *rw, Intern *stems,
                     StrBuf *arena, Error *e) {
    size_t nw = (size_t)words->n, *soff = xmalloc((nw + 1) * sizeof *soff, e), *slen = xmalloc((nw + 1) * sizeof *slen, e);
    uint8_t *need = xcalloc(nw + 1, 1, e);
    int32_t *sid = xmalloc((nw + 1) * sizeof *sid, e);
    int rc = soff && slen && need && sid ? RP_OK : RP_ENOMEM;
    for (size_t i = 0; i < a->nh && rc == RP_OK; i++)
        if (a->pair[i] < 0) need[hw[i]] = 1;
    for (size_t j = 0; j < a->nr && rc == RP_OK; j++)
        if (!a->rdone[j]) need[rw[j]] = 1;
    char small[256];
    for (size_t w = 0; w < nw && rc == RP_OK; w++) {
        if (!need[w]) continue;
        size_t n = words->len_by_id[w], cap = 3 * n + 8;
        char *buf = cap <= sizeof small ? small : xmalloc(cap, e);
        int len = buf ? porter_stem(words->by_id[w], n, buf, cap) : -1;
        soff[w] = arena->len;
        if (len < 0) rc = error_set(e, RP_ENOMEM, "porter_stem: out of memory");
        else rc = strbuf_append(arena, buf, (size_t)len, e), slen[w] = (size_t)len;
        if (buf != small) free(buf);
    }
    if (rc == RP_OK) rc = intern_init(stems, nw, e);
    for (size_t w = 0; w < nw && rc == RP_OK; w++) /* the arena is complete: keys may point into it */
        sid[w] = need[w] ? intern(stems, arena->s + soff[w], slen[w]) : -1;
    for (size_t i = 0; i < a->nh && rc == RP_OK; i++) a->hk[i] = a->pair[i] < 0 ? sid[hw[i]] : -1;
    for (size_t j = 0; j < a->nr && rc == RP_OK; j++) a->rk[j] = a->rdone[j] ? -1 : sid[rw[j]];
    free(soff), free(slen), free(need), free(sid);
    return rc;
}

typedef struct {
    int32_t name;
    size_t pos;
} NamePos;

static int cmp_namepos(const void *x, const void *y) {
    const NamePos *a = x, *b = y;
    if (a->name != b->name) return a->name < b->name ? -1 : 1;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

/* WordNet stage on the stem keys in a->hk / a->rk: a prediction stem pairs with the last unmatched
 * reference word whose stem is one of its synonyms (NLTK's _enum_wordnetsyn_match). The stem
 * itself, also in NLTK's set, cannot match here: equal stems were all paired by the stem stage. */
static int match_synonyms(Meteor *m, Align *a, const Intern *stems, Error *e) {
    size_t ns = (size_t)stems->n, nq = 0, nnp = 0;
    const char **keys = xmalloc((ns + 1) * sizeof *keys, e);
    size_t *lens = xmalloc((ns + 1) * sizeof *lens, e), *gtop = xmalloc((a->nr + 1) * sizeof *gtop, e);
    int32_t *ids = xmalloc((ns + 1) * sizeof *ids, e), *names = xmalloc((ns + 1) * sizeof *names, e);
    int32_t *name_of = xmalloc((ns + 1) * sizeof *name_of, e);
    WnSet *sets = xmalloc((ns + 1) * sizeof *sets, e), *set_of = xcalloc(ns + 1, sizeof *set_of, e);
    NamePos *np = xmalloc((a->nr + 1) * sizeof *np, e);
    uint8_t *seen = xcalloc(ns + 1, 1, e);
    int rc = keys && lens && gtop && ids && names && name_of && sets && set_of && np && seen ? RP_OK : RP_ENOMEM;
    for (size_t i = 0; i < a->nh && rc == RP_OK; i++) { /* distinct stems of unmatched prediction words */
        int32_t s = a->pair[i] < 0 ? a->hk[i] : -1;
        if (s >= 0 && !(seen[s] & 1))
            seen[s] |= 1, ids[nq] = s, keys[nq] = stems->by_id[s], lens[nq++] = stems->len_by_id[s];
    }
    if (rc == RP_OK) rc = wnsyn_sets(&m->wordnet, keys, lens, nq, sets, e);
    for (size_t q = 0; q < nq && rc == RP_OK; q++) set_of[ids[q]] = sets[q];
    nq = 0;
    for (size_t j = 0; j < a->nr && rc == RP_OK; j++) { /* distinct stems of unmatched reference words */
        int32_t s = a->rdone[j] ? -1 : a->rk[j];
        if (s >= 0 && !(seen[s] & 2))
            seen[s] |= 2, ids[nq] = s, keys[nq] = stems->by_id[s], lens[nq++] = stems->len_by_id[s];
    }
    if (rc == RP_OK) {
        wnsyn_name_ids(&m->wordnet, keys, lens, nq, names); /* after wnsyn_sets: their names are known */
        for (size_t q = 0; q < nq; q++) name_of[ids[q]] = names[q];
        for (size_t j = 0; j < a->nr; j++)
            if (!a->rdone[j] && a->rk[j] >= 0 && name_of[a->rk[j]] >= 0) np[nnp++] = (NamePos){name_of[a->rk[j]], j};
        qsort(np, nnp, sizeof *np, cmp_namepos);
        /* Groups of equal names hold ascending positions; the group's first slot q keeps gtop[q],
         * one past its last unmatched entry. */
        for (size_t q = 0, g = 0; q < nnp; q++) {
            if (q == 0 || np[q].name != np[q - 1].name) g = q;
            gtop[g] = q + 1;
        }
    }
    for (size_t i = a->nh; i-- > 0 && rc == RP_OK;) {
        if (a->pair[i] >= 0 || a->hk[i] < 0) continue;
        const WnSet *s = &set_of[a->hk[i]];
        size_t best_g = 0, best_j = 0;
        int found = 0;
        for (size_t q = 0; q < s->n; q++) {
            size_t lo = 0, hi = nnp; /* the group of name s->ids[q], if any */
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (np[mid].name < s->ids[q]) lo = mid + 1;
                else hi = mid;
            }
            if (lo == nnp || np[lo].name != s->ids[q] || gtop[lo] == lo) continue;
            size_t j = np[gtop[lo] - 1].pos;
            if (!found || j > best_j) found = 1, best_j = j, best_g = lo;
        }
        if (found) gtop[best_g]--, a->pair[i] = (int32_t)best_j, a->rdone[best_j] = 1, a->matches++;
    }
    free(keys), free(lens), free(gtop), free(ids), free(names), free(name_of), free(sets), free(set_of);
    free(np), free(seen);
    return rc;
}

/* NLTK's _count_chunks over the matches sorted by prediction position. */
static size_t count_chunks(const Align *a) {
    size_t chunks = 0;
    int32_t last_i = -2, last_j = -2;
    for (size_t i = 0; i < a->nh; i++) {
        if (a->pair[i] < 0) continue;
        if (!((int32_t)i == last_i + 1 && a->pair[i] == last_j + 1)) chunks++;
        last_i = (int32_t)i, last_j = a->pair[i];
    }
    return chunks;
}

static int align(Meteor *m, const Toks *hyp, const Toks *ref, Align *a, Error *e) {
    Intern words, stems;
    StrBuf stem_arena;
    memset(&stems, 0, sizeof stems);
    strbuf_init(&stem_arena);
    a->nh = hyp->n, a->nr = ref->n;
    int32_t *hw = xmalloc((a->nh + 1) * sizeof *hw, e), *rw = xmalloc((a->nr + 1) * sizeof *rw, e);
    a->hk = xmalloc((a->nh + 1) * sizeof *a->hk, e), a->rk = xmalloc((a->nr + 1) * sizeof *a->rk, e);
    a->pair = xmalloc((a->nh + 1) * sizeof *a->pair, e), a->rdone = xcalloc(a->nr + 1, 1, e);
    int rc = hw && rw && a->hk && a->rk && a->pair && a->rdone ? intern_init(&words, a->nh + a->nr, e) : RP_ENOMEM;
    if (rc) return free(hw), free(rw), rc;
    for (size_t i = 0; i < a->nh; i++) a->hk[i] = hw[i] = intern(&words, hyp->arena.s + hyp->off[i], hyp->len[i]);
    for (size_t j = 0; j < a->nr; j++) a->rk[j] = rw[j] = intern(&words, ref->arena.s + ref->off[j], ref->len[j]);
    for (size_t i = 0; i < a->nh; i++) a->pair[i] = -1;
    rc = match_dense(a, words.n, e);
    if (rc == RP_OK && a->matches < a->nh && a->matches < a->nr) {
        rc = stem_keys(a, &words, hw, rw, &stems, &stem_arena, e);
        if (rc == RP_OK) rc = match_dense(a, stems.n, e);
        if (rc == RP_OK && a->matches < a->nh && a->matches < a->nr) rc = match_synonyms(m, a, &stems, e);
    }
    intern_free(&words);
    intern_free(&stems);
    strbuf_free(&stem_arena);
    free(hw), free(rw);
    return rc;
}

int meteor_score_n(Meteor *m, const char *pred, size_t pn, const char *ref, size_t rn, double *out, Error *e) {
    Work w;
    Align a;
    memset(&w, 0, sizeof w);
    memset(&a, 0, sizeof a);
    *out = 0.0;
    int rc = tokenize(m, &w, pred, pn, 1, &w.pred, e);
    if (rc == RP_OK) rc = tokenize(m, &w, ref, rn, 1, &w.ref, e);
    if (rc == RP_OK && w.pred.n && w.ref.n) rc = align(m, &w.pred, &w.ref, &a, e);
    if (rc == RP_OK && a.matches) {
        /* Python's operations, in its order (NLTK's single_meteor_score). */
        double precision = (double)a.matches / (double)w.pred.n;
        double recall = (double)a.matches / (double)w.ref.n;
        double fmean = (precision * recall) / (m->alpha * precision + (1 - m->alpha) * recall);
        double frag = (double)count_chunks(&a) / (double)a.matches;
        double penalty = m->gamma * pow(frag, m->beta);
        *out = (1 - penalty) * fmean;
    }
    free(a.hk), free(a.rk), free(a.pair), free(a.rdone);
    work_free(&w);
    return rc;
}

double meteor_score(Meteor *m, const char *pred, const char *ref) {
    Error e;
    double s;
    return meteor_score_n(m, pred, strlen(pred), ref, strlen(ref), &s, &e) ? -1.0 : s;
}

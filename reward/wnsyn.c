/* NLTK's wordnet.synsets() lemma names over libwordnet, cached and locked (see wnsyn.h). */
#include "reward/wnsyn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wn.h>

#include "core/vec.h"
#include "core/fileio.h"

#define NPOS 4 /* noun, verb, adjective, adverb: NLTK's POS_LIST order; libwordnet's are 1..4 */

static const char *const POS_FILE[NPOS] = {"noun", "verb", "adj", "adv"};

/* NLTK's MORPHOLOGICAL_SUBSTITUTIONS, in its order. */
typedef struct {
    const char *old, *new;
} Rule;
static const Rule NOUN_RULES[] = {{"s", ""},    {"ses", "s"},   {"ves", "f"},   {"xes", "x"},  {"zes", "z"},
                                  {"ches", "ch"}, {"shes", "sh"}, {"men", "man"}, {"ies", "y"}, {NULL, NULL}};
static const Rule VERB_RULES[] = {{"s", ""},  {"ies", "y"}, {"es", "e"},  {"es", ""},
                                  {"ed", "e"}, {"ed", ""},   {"ing", "e"}, {"ing", ""}, {NULL, NULL}};
static const Rule ADJ_RULES[] = {{"er", ""}, {"est", ""}, {"er", "e"}, {"est", "e"}, {NULL, NULL}};
static const Rule ADV_RULES[] = {{NULL, NULL}};
static const Rule *const RULES[NPOS] = {NOUN_RULES, VERB_RULES, ADJ_RULES, ADV_RULES};

/* libwordnet keeps open files and static buffers: one lock for every call into it, process-wide. */
static pthread_mutex_t wn_mutex = PTHREAD_MUTEX_INITIALIZER;
static int wn_state;          /* 0 not opened yet, 1 open, -1 failed */
static char *wn_dir;          /* the directory libwordnet opened, kept as long as it stays open */

typedef struct {
    char **v;
    size_t n, cap;
} SList;

static void slist_free(SList *l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int slist_has(const SList *l, const char *s) {
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i], s)) return 1;
    return 0;
}

/* Appends a copy of s[0..n) unless it is already there (NLTK keeps duplicates in a level, but a
 * duplicate form only repeats work: results are sets). */
static int slist_add(SList *l, const char *s, size_t n, const char *suffix, Error *e) {
    size_t m = strlen(suffix);
    char *c = xmalloc(n + m + 1, e);
    if (!c) return RP_ENOMEM;
    memcpy(c, s, n);
    memcpy(c + n, suffix, m + 1);
    if (slist_has(l, c)) {
        free(c);
        return RP_OK;
    }
    if (VEC_RESERVE(l->v, l->cap, l->n + 1, e)) return free(c), RP_ENOMEM;
    l->v[l->n++] = c;
    return RP_OK;
}

/* ---- opening ---- */

static int load_exceptions(WnSyn *w, int pos, Error *e) {
    char *data, *path = xasprintf(e, "%s/%s.exc", w->dir, POS_FILE[pos]);
    if (!path) return RP_ENOMEM;
    int rc = file_read_all(path, &data, NULL, e);
    if (rc) {
        free(path);
        return rc;
    }
    for (char *line = data, *next; *line && rc == RP_OK; line = next) {
        next = strchr(line, '\n');
        next = next ? (*next = '\0', next + 1) : line + strlen(line);
        char *form = line + strspn(line, " \t\r");
        size_t flen = strcspn(form, " \t\r");
        if (!flen) continue;
        char *rest = form + flen;
        rest += strspn(rest, " \t\r");
        size_t rlen = strlen(rest);
        while (rlen && strchr(" \t\r", rest[rlen - 1])) rlen--;
        rc = VEC_RESERVE(w->exc_bases, w->cap_exc, w->n_exc + 1, e);
        if (rc == RP_OK && !(w->exc_bases[w->n_exc] = xmalloc(rlen + 1, e))) rc = RP_ENOMEM;
        if (rc == RP_OK) {
            memcpy(w->exc_bases[w->n_exc], rest, rlen);
            w->exc_bases[w->n_exc][rlen] = '\0';
            /* A later line for the same form replaces the earlier one, as in NLTK's dict. */
            rc = strmap_put(&w->exc[pos], form, flen, (int64_t)w->n_exc++, e);
        }
    }
    free(data);
    if (rc) rc = error_wrap(e, "%s", path);
    free(path);
    return rc;
}

/* libwordnet reads $WNSEARCHDIR when it opens its files, once per process. */
static int open_libwordnet(const char *dir, Error *e) {
    int rc = RP_OK;
    pthread_mutex_lock(&wn_mutex);
    if (wn_state == 0) {
        if (!(wn_dir = xstrdup(dir, e))) rc = RP_ENOMEM;
        else wn_state = setenv("WNSEARCHDIR", dir, 1) == 0 && wninit() == 0 ? 1 : -1;
    }
    if (rc) {
        /* out of memory before libwordnet was touched: a later call may try again */
    } else if (wn_state != 1)
        rc = error_set(e, RP_EIO, "%s: libwordnet could not open the WordNet database", wn_dir);
    else if (strcmp(wn_dir, dir))
        rc = error_set(e, RP_EINPUT, "%s: libwordnet already uses %s; one WordNet directory per process", dir, wn_dir);
    pthread_mutex_unlock(&wn_mutex);
    return rc;
}

int wnsyn_init(WnSyn *w, const char *dir, Error *e) {
    memset(w, 0, sizeof *w);
    for (int p = 0; p < NPOS; p++) {
        static const char *const kinds[] = {"index", "data"};
        for (int k = 0; k < 2; k++) {
            char *path = xasprintf(e, "%s/%s.%s", dir, kinds[k], POS_FILE[p]);
            if (!path) return RP_ENOMEM;
            int missing = !path_exists(path);
            if (missing) error_set(e, RP_EINPUT, "%s: WordNet file missing", path);
            free(path);
            if (missing) return RP_EINPUT;
        }
    }
    int rc = RP_OK;
    if (!(w->dir = xstrdup(dir, e))) return RP_ENOMEM;
    if (pthread_rwlock_init(&w->lock, NULL)) {
        free(w->dir);
        w->dir = NULL;
        return error_set(e, RP_EINTERNAL, "pthread_rwlock_init failed");
    }
    for (int p = 0; p < NPOS && rc == RP_OK; p++) rc = strmap_init(&w->exc[p], 2048, e);
    if (rc == RP_OK) rc = strmap_init(&w->words, 4096, e);
    if (rc == RP_OK) rc = strmap_init(&w->names, 4096, e);
    for (int p = 0; p < NPOS && rc == RP_OK; p++) rc = load_exceptions(w, p, e);
    if (rc == RP_OK) rc = open_libwordnet(dir, e);
    if (rc) {
        wnsyn_free(w);
        return rc;
    }
    return RP_OK;
}

void wnsyn_free(WnSyn *w) {
    if (!w->dir) return;
    pthread_rwlock_destroy(&w->lock);
    for (int p = 0; p < NPOS; p++) strmap_free(&w->exc[p]);
    for (size_t i = 0; i < w->n_exc; i++) free(w->exc_bases[i]);
    free(w->exc_bases);
    for (size_t i = 0; i < w->n_sets; i++) free((void *)w->sets[i].ids);
    free(w->sets);
    strmap_free(&w->words);
    strmap_free(&w->names);
    free(w->dir);
    memset(w, 0, sizeof *w);
}

/* ---- morphy ---- */

#define MAX_FORMS_PER_POS 64 /* distinct indexed base forms of one word: a handful in practice */

/* filter_forms: the forms with an index entry for pos, each once, with that entry. */
static int keep_indexed(const SList *forms, int pos, SList *kept, IndexPtr *idx, size_t *n_idx, Error *e) {
    for (size_t i = 0; i < forms->n && *n_idx < MAX_FORMS_PER_POS; i++) {
        if (!*forms->v[i] || slist_has(kept, forms->v[i])) continue;
        IndexPtr ip = index_lookup(forms->v[i], pos + 1);
        if (!ip) continue;
        if (slist_add(kept, forms->v[i], strlen(forms->v[i]), "", e)) return free_index(ip), RP_ENOMEM;
        idx[(*n_idx)++] = ip;
    }
    return RP_OK;
}

static int apply_rules(const SList *in, int pos, SList *out, Error *e) {
    for (size_t i = 0; i < in->n; i++) {
        size_t n = strlen(in->v[i]);
        for (const Rule *r = RULES[pos]; r->old; r++) {
            size_t m = strlen(r->old);
            if (n >= m && !memcmp(in->v[i] + n - m, r->old, m) && slist_add(out, in->v[i], n - m, r->new, e))
                return RP_ENOMEM;
        }
    }
    return RP_OK;
}

/* NLTK's _morphy(word, pos): index entries of the base forms (at most MAX_FORMS_PER_POS). */
static int morphy(const WnSyn *w, const char *word, size_t n, int pos, IndexPtr *idx, size_t *n_idx, Error *e) {
    SList level = {0}, next = {0}, kept = {0};
    int64_t ex;
    int rc = slist_add(&level, word, n, "", e);
    if (rc == RP_OK && strmap_get(&w->exc[pos], word, n, &ex)) {
        const char *b = w->exc_bases[ex];
        while (rc == RP_OK && *b) { /* [form] + exceptions[form], and no suffix rules */
            size_t len = strcspn(b, " ");
            rc = slist_add(&level, b, len, "", e);
            b += len + strspn(b + len, " ");
        }
        if (rc == RP_OK) rc = keep_indexed(&level, pos, &kept, idx, n_idx, e);
        goto done;
    }
    if (rc == RP_OK) rc = apply_rules(&level, pos, &next, e);
    for (size_t i = 0; i < next.n && rc == RP_OK; i++) rc = slist_add(&level, next.v[i], strlen(next.v[i]), "", e);
    if (rc == RP_OK) rc = keep_indexed(&level, pos, &kept, idx, n_idx, e);
    /* No match yet: NLTK 3.8 applies the rules again, level by level; 3.9 and later stop here. */
    while (rc == RP_OK && w->rel == NLTK_3_8 && !*n_idx && next.n) {
        slist_free(&level);
        level = next;
        memset(&next, 0, sizeof next);
        rc = apply_rules(&level, pos, &next, e);
        if (rc == RP_OK) rc = keep_indexed(&next, pos, &kept, idx, n_idx, e);
    }
done:
    slist_free(&level);
    slist_free(&next);
    slist_free(&kept);
    return rc;
}

/* ---- synonym sets ---- */

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Interns the lemma name `raw` (adjective marker stripped) and appends its id to ids. */
static int add_name(WnSyn *w, const char *raw, int32_t **ids, size_t *n, size_t *cap, Error *e) {
    size_t len = strlen(raw);
    const char *paren = strchr(raw, '(');
    if (len && raw[len - 1] == ')' && paren) len = (size_t)(paren - raw); /* NLTK: (.*?)(\(.*\))?$ */
    for (size_t i = 0; i < len; i++)
        if (raw[i] == '_' || (raw[i] >= 'A' && raw[i] <= 'Z')) return RP_OK;
    int64_t *slot = strmap_slot(&w->names, raw, len, w->n_names, e);
    if (!slot) return RP_ENOMEM;
    if (*slot == w->n_names) w->n_names++;
    if (VEC_RESERVE(*ids, *cap, *n + 1, e)) return RP_ENOMEM;
    (*ids)[(*n)++] = (int32_t)*slot;
    return RP_OK;
}

/* Computes the set of word[0..n) (lowercase ASCII; anything else has no WordNet entry). Holds
 * the write lock; takes the libwordnet lock. */
static int compute_set(WnSyn *w, const char *word, size_t n, WnSet *out, Error *e) {
    int32_t *ids = NULL;
    size_t n_ids = 0, cap = 0;
    int rc = RP_OK, ascii = n > 0;
    for (size_t i = 0; i < n; i++) ascii &= (unsigned char)word[i] < 128;
    pthread_mutex_lock(&wn_mutex);
    for (int pos = 0; pos < NPOS && ascii && rc == RP_OK; pos++) {
        IndexPtr idx[MAX_FORMS_PER_POS];
        size_t n_idx = 0;
        rc = morphy(w, word, n, pos, idx, &n_idx, e);
        for (size_t f = 0; f < n_idx; f++) {
            for (int s = 0; s < idx[f]->off_cnt && rc == RP_OK; s++) {
                SynsetPtr syn = read_synset(pos + 1, (long)idx[f]->offset[s], "");
                if (!syn) {
                    rc = error_set(e, RP_EIO, "%s/data.%s: no synset at offset %lu", w->dir, POS_FILE[pos],
                                   idx[f]->offset[s]);
                    break;
                }
                for (int k = 0; k < syn->wcount && rc == RP_OK; k++) rc = add_name(w, syn->words[k], &ids, &n_ids, &cap, e);
                free_synset(syn);
            }
            free_index(idx[f]);
        }
    }
    pthread_mutex_unlock(&wn_mutex);
    if (rc) return free(ids), rc;
    if (n_ids) qsort(ids, n_ids, sizeof *ids, cmp_i32); /* qsort(NULL, 0) is undefined (UBSan) */
    size_t u = 0;
    for (size_t i = 0; i < n_ids; i++)
        if (!u || ids[u - 1] != ids[i]) ids[u++] = ids[i];
    *out = (WnSet){ids, u};
    return RP_OK;
}

int wnsyn_sets(WnSyn *w, const char *const *words, const size_t *lens, size_t k, WnSet *out, Error *e) {
    int missing = 0;
    pthread_rwlock_rdlock(&w->lock);
    for (size_t i = 0; i < k; i++) {
        int64_t at;
        if (strmap_get(&w->words, words[i], lens[i], &at)) out[i] = w->sets[at];
        else out[i].ids = NULL, out[i].n = (size_t)-1, missing = 1;
    }
    pthread_rwlock_unlock(&w->lock);
    if (!missing) return RP_OK;
    int rc = RP_OK;
    pthread_rwlock_wrlock(&w->lock);
    for (size_t i = 0; i < k && rc == RP_OK; i++) {
        if (out[i].n != (size_t)-1) continue;
        int64_t at;
        if (!strmap_get(&w->words, words[i], lens[i], &at)) { /* not added by another thread meanwhile */
            if ((rc = VEC_RESERVE(w->sets, w->cap_sets, w->n_sets + 1, e))) break;
            if ((rc = compute_set(w, words[i], lens[i], &w->sets[w->n_sets], e))) break;
            at = (int64_t)w->n_sets++;
            rc = strmap_put(&w->words, words[i], lens[i], at, e);
        }
        out[i] = w->sets[at];
    }
    pthread_rwlock_unlock(&w->lock);
    return rc;
}

void wnsyn_name_ids(WnSyn *w, const char *const *names, const size_t *lens, size_t k, int32_t *out) {
    pthread_rwlock_rdlock(&w->lock);
    for (size_t i = 0; i < k; i++) {
        int64_t id;
        out[i] = strmap_get(&w->names, names[i], lens[i], &id) ? (int32_t)id : -1;
    }
    pthread_rwlock_unlock(&w->lock);
}

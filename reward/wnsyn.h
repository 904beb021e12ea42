/* WordNet synonyms as NLTK's METEOR sees them: for a word w, the names of the lemmas of every
 * synset in nltk.corpus.wordnet.synsets(w) that contain no "_". synsets() lowercases w and, for
 * each part of speech (noun, verb, adjective incl. satellites, adverb), finds base forms with
 * NLTK's morphy (the exception list, else the suffix rules: NLTK 3.8 applies them level by level
 * until a level has forms in the index, NLTK 3.9 and later once) and takes all their synsets. Lemma names keep their case and lose
 * adjective markers such as "(a)".
 *
 * The database is Debian's WordNet 3.0, read through libwordnet (wn.h) for index look-ups and
 * synsets; the exception lists are parsed here so a form listed twice keeps its last line, as
 * NLTK's reader does. libwordnet is neither reentrant nor thread-safe, so every call into it
 * holds one process-wide lock; results are cached per word, so repeated words cost a hash
 * look-up. All functions are thread-safe. Lemma names are interned to integer ids so synonym
 * tests are integer compares. */
#ifndef RESTPG_REWARD_WNSYN_H
#define RESTPG_REWARD_WNSYN_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/text.h"
#include "reward/pyclass.h"

/* The synonym-name ids of one word: sorted, distinct; valid until wnsyn_free. */
typedef struct {
    const int32_t *ids;
    size_t n;
} WnSet;

typedef struct {
    char *dir;
    NltkRelease rel;    /* set by the caller after wnsyn_init, before any wnsyn_sets (0: 3.10) */
    StrMap exc[4];      /* per part of speech (noun, verb, adj, adv): form -> index in exc_bases */
    char **exc_bases;   /* space-separated base forms of each exception line */
    size_t n_exc, cap_exc;
    pthread_rwlock_t lock; /* guards everything below */
    StrMap words;       /* word -> index in sets */
    WnSet *sets;
    size_t n_sets, cap_sets;
    StrMap names;       /* lemma name -> id */
    int32_t n_names;
} WnSyn;

/* Opens the WordNet database in dir (the directory holding index.noun, data.noun, noun.exc, ...).
 * libwordnet is process-global and finds its files through $WNSEARCHDIR, which the first call
 * sets to dir; a later call with another directory is RP_EINPUT. A missing database file is
 * RP_EINPUT naming it. */
int wnsyn_init(WnSyn *w, const char *dir, Error *e);
/* Releases the caches (sets handed out become invalid); libwordnet itself stays open. */
void wnsyn_free(WnSyn *w);

/* The synonym sets of the k words words[i][0..lens[i]) into out[i] (the names of
 * wordnet.synsets(word) as above, minus names with "_" and names with an upper-case ASCII letter,
 * which no lowercased token can equal). Computes and caches words seen for the first time. */
int wnsyn_sets(WnSyn *w, const char *const *words, const size_t *lens, size_t k, WnSet *out, Error *e);

/* The id of each name names[i][0..lens[i]) into out[i], or -1 when no cached synonym set holds
 * it (call after wnsyn_sets for the words whose sets it is compared with). */
void wnsyn_name_ids(WnSyn *w, const char *const *names, const size_t *lens, size_t k, int32_t *out);

#endif

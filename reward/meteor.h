/* METEOR as LongLaMP reports it: Hugging Face `evaluate`'s "meteor", i.e. for each pair NLTK's
 * single_meteor_score(word_tokenize(ref), word_tokenize(pred), alpha=0.9, beta=3, gamma=0.5).
 * Two NLTK releases are reproduced (NltkRelease, reward/pyclass.h): 3.10, what `pip install nltk`
 * gives today (the default, "nltk3.10"), and 3.8, which LongLaMP's published numbers used
 * ("nltk3.8"); their tokenizers and WordNet look-ups differ (docs/metrics.md).
 *
 * Tokens: nltk.word_tokenize (Punkt English sentence split, reward/punkt.h, then NLTK's word
 * tokenizer per sentence, reward/wordtok.h), each lowercased with Python's str.lower(). Alignment,
 * in NLTK's order and with its greedy choices (they decide the chunk count): exact matches, then
 * Porter stems (reward/porter.h) of the words left, then WordNet synonyms of those stems
 * (reward/wnsyn.h); each stage walks the prediction's words from last to first and pairs each with
 * the last unpaired reference word that qualifies. With m matches, P = m / |pred|, R = m / |ref|,
 * Fmean = P R / (alpha P + (1 - alpha) R), penalty = gamma (chunks / m)^beta and
 * score = Fmean (1 - penalty); 0 when there is no match or a side has no token. Floating point
 * follows Python's operation order, so scores agree with NLTK to the last bit.
 *
 * Bytes that are not UTF-8 (which no Python string holds) are kept as they are, so they only
 * match themselves exactly; the stem stage reads each as U+FFFD, as reward/porter.h does.
 *
 * A Meteor is read-only after meteor_init except for its WordNet cache, which is locked: one
 * Meteor may score from many threads at once. */
#ifndef RESTPG_REWARD_METEOR_H
#define RESTPG_REWARD_METEOR_H

#include <stddef.h>

#include "core/error.h"
#include "core/text.h"
#include "reward/punkt.h"
#include "reward/wnsyn.h"

#define METEOR_PUNKT_FILE "punkt_english.tsv"

/* The --meteor-compat / eval.meteor_compat value when none is given. */
#define METEOR_COMPAT_DEFAULT "nltk3.10"

typedef struct {
    NltkRelease rel;
    Punkt punkt;
    WnSyn wordnet;
    double alpha, beta, gamma; /* 0.9, 3, 0.5 (evaluate's defaults) */
} Meteor;

/* Parses a compatibility name, "nltk3.10" or "nltk3.8", into *out; RP_EINPUT naming the value
 * otherwise (callers wrap it with the flag or key). */
int meteor_compat_parse(const char *name, NltkRelease *out, Error *e);

/* "nltk3.10" or "nltk3.8": what outputs record next to a METEOR score. */
const char *meteor_compat_name(NltkRelease r);

/* Prepares a scorer for NLTK release rel with the Punkt parameters in $RESTPG_DATA_DIR/punkt_english.tsv (else in the
 * directory compiled in as RESTPG_REWARD_DATA_DIR) and the WordNet database compiled in as
 * RESTPG_WORDNET_DIR. RP_EINPUT when neither data directory is known or a file is missing or
 * malformed (the message names it). */
int meteor_init(Meteor *m, NltkRelease rel, Error *e);

/* meteor_init with explicit paths: the Punkt parameters file and the WordNet directory. */
int meteor_init_paths(Meteor *m, NltkRelease rel, const char *punkt_path, const char *wordnet_dir, Error *e);

/* Releases the scorer; no thread may be scoring with it. */
void meteor_free(Meteor *m);

/* The METEOR score of prediction `pred` against reference `ref` (NUL-terminated UTF-8), in
 * [0, 1]; -1 if memory ran out (meteor_score_n reports that as an error). */
double meteor_score(Meteor *m, const char *pred, const char *ref);

/* meteor_score for pred[0..pn) and ref[0..rn), the score in *out. */
int meteor_score_n(Meteor *m, const char *pred, size_t pn, const char *ref, size_t rn, double *out, Error *e);

/* Python's str.strip() of s[0..n) (whitespace as str.isspace() says): sets *start to the first
 * kept byte and returns the number of bytes kept. LongLaMP strips texts before scoring, and a
 * leading line break can change a token (an opening quote after it is not read as opening). */
size_t meteor_strip(const char *s, size_t n, size_t *start);

/* The tokens nltk.word_tokenize(text[0..n)) returns (not lowercased), each followed by '\n', appended
 * to out. For tests and debugging. */
int meteor_tokenize(Meteor *m, const char *text, size_t n, StrBuf *out, Error *e);

#endif

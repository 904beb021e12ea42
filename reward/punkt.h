/* Sentence splitting exactly as NLTK's PunktSentenceTokenizer (NLTK 3.10 or 3.8) does with its pretrained
 * English model: the splitter nltk.word_tokenize runs before its word tokenizer, and so the one
 * METEOR's tokens depend on (a sentence-final "word." becomes "word" + "."). The model's
 * parameters are data (reward/data/punkt_english.tsv); the decision procedure is Punkt's:
 * candidate periods with their context, the first-pass (abbreviation / ellipsis / sentence break)
 * and second-pass (collocation, orthographic and sentence-starter heuristics, initials and
 * numbers) annotations, and the realignment of closing quotes and brackets.
 *
 * Text is handled as Unicode code points, as Python strings are. A loaded Punkt is read-only and
 * may be shared by threads. */
#ifndef RESTPG_REWARD_PUNKT_H
#define RESTPG_REWARD_PUNKT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/text.h"
#include "reward/pyclass.h"

typedef struct {
    StrMap abbrev;  /* abbreviation types -> 1 */
    StrMap starter; /* frequent sentence starters -> 1 */
    StrMap colloc;  /* "type1\ttype2" -> 1 */
    StrMap ortho;   /* type -> orthographic context flags */
    NltkRelease rel; /* set by the caller after punkt_load (0: NLTK 3.10). 3.10 counts curly quotes
                      * and guillemets as punctuation after a period and as closers to realign, and
                      * matches with the regex module's classes (reward/pyclass.h) */
} Punkt;

/* One sentence: code points [start, end) of the text. */
typedef struct {
    size_t start, end;
} PunktSpan;

/* Growable list of spans, reused across calls (punkt_spans clears it first). */
typedef struct {
    PunktSpan *v;
    size_t n, cap;
} PunktSpans;

/* Loads the parameters file (format in its header). A missing file, or a malformed line, is
 * RP_EINPUT naming the file (and the line and the field). */
int punkt_load(Punkt *p, const char *path, Error *e);
/* Releases what punkt_load made (p is left zeroed; freeing twice is harmless). */
void punkt_free(Punkt *p);

/* The sentences of the code points t[0..n), as NLTK's span_tokenize(text) with
 * realign_boundaries=True returns them, in order, into out (cleared first). Whitespace between
 * sentences and at the end is excluded; an all-whitespace text gives no sentence. */
int punkt_spans(const Punkt *p, const uint32_t *t, size_t n, PunktSpans *out, Error *e);

/* Releases the list (s is left empty and reusable). */
void punkt_spans_free(PunktSpans *s);

#endif

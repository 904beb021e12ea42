/* NLTK's word tokenizer (NLTKWordTokenizer, the "improved Treebank" tokenizer nltk.word_tokenize
 * applies to each Punkt sentence), exactly as NLTK 3.10 or 3.8 runs it with default options: its ordered
 * list of regular-expression substitutions (starting quotes, punctuation, brackets, double
 * dashes, ending quotes and clitics, MacIntyre's contractions), then a split on whitespace.
 *
 * Each substitution is written out as a scanner over code points that reproduces Python re's
 * leftmost, non-overlapping matching, with Python's \w, \d, \s and \b (reward/pyclass.h) and its
 * IGNORECASE rules (3.10: the regex module's), so Unicode text tokenizes as it does in Python. 3.9
 * added two passes (dashes; whitespace runs collapsed before the clitic rules) and 3.10 rewrote
 * the opening single quote rule. A WordTok holds scratch
 * buffers: one per thread. */
#ifndef RESTPG_REWARD_WORDTOK_H
#define RESTPG_REWARD_WORDTOK_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "reward/cptext.h"
#include "reward/pyclass.h"

typedef struct {
    CpBuf a, b; /* after wordtok_run, `a` holds the rewritten text */
} WordTok;

/* A zeroed WordTok is empty; wordtok_free releases its scratch buffers. */
void wordtok_free(WordTok *w);

/* Rewrites the sentence t[0..n) as NLTKWordTokenizer.tokenize of release r does before its final split. The
 * tokens are the maximal runs of non-whitespace (Python's str.split()) of w->a.v[0..w->a.n). */
int wordtok_run(WordTok *w, const uint32_t *t, size_t n, NltkRelease r, Error *e);

#endif

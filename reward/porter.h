/* The Porter stemmer with exactly the semantics of NLTK's PorterStemmer() in its default mode
 * (NLTK_EXTENSIONS), the stemmer behind rouge_score's use_stemmer=True and NLTK's METEOR stem
 * stage. It lowercases as Python's str.lower() does (reward/unicase.h) and works on code points,
 * as NLTK works on Python characters. Stateless and thread-safe. */
#ifndef RESTPG_REWARD_PORTER_H
#define RESTPG_REWARD_PORTER_H

#include <stddef.h>

/* Stems the UTF-8 word w[0..n) as NLTK's PorterStemmer().stem(w) does (to_lowercase=True).
 * Returns the stem's length in bytes; writes the stem and a NUL to out only when that length is
 * < out_cap (snprintf-style: call again with a bigger buffer if not; 3*n + 8 always suffices).
 * Invalid UTF-8 bytes are read as U+FFFD, one per byte. Returns -1 only when a scratch
 * allocation fails (words over 64 bytes). */
int porter_stem(const char *w, size_t n, char *out, size_t out_cap);

#endif

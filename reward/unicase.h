/* Python's str.lower(), exactly, for the metrics: ROUGE (rouge_score lowercases before it drops
 * everything outside [a-z0-9]) and the Porter stemmer / METEOR (NLTK lowercases every word).
 * Includes the one-to-many mapping U+0130 -> "i" U+0307 and the Final_Sigma rule for U+03A3.
 * Tables come from Python 3.11 / Unicode 14 (reward/unicase_gen.py). Pure functions, thread-safe. */
#ifndef RESTPG_REWARD_UNICASE_H
#define RESTPG_REWARD_UNICASE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/text.h"

/* The code point invalid UTF-8 bytes decode to (one byte at a time). */
#define UNICASE_REPLACEMENT 0xFFFDu

/* Decodes the code point starting at s[0] (n > 0 bytes available) into *cp and returns its byte
 * length. An invalid or truncated sequence yields UNICASE_REPLACEMENT and length 1, so decoding
 * always advances. */
size_t utf8_decode(const char *s, size_t n, uint32_t *cp);

/* Writes the UTF-8 encoding of cp (<= 0x10FFFF) to out and returns its length (1..4). */
size_t utf8_encode(uint32_t cp, char out[4]);

/* Context-free lowercase of one code point: writes 1 or 2 code points to out and returns how
 * many (2 only for U+0130). U+03A3 maps to U+03C3 here; unicase_lower applies Final_Sigma. */
int unicase_lower_cp(uint32_t cp, uint32_t out[2]);

/* The two Unicode properties the Final_Sigma rule reads. unicase_is_cased is exact only for
 * characters that are not case-ignorable (the only ones the rule asks about). */
int unicase_is_case_ignorable(uint32_t cp);
int unicase_is_cased(uint32_t cp);

/* Python's str.lower() of the code points in[0..n): writes at most 2*n code points to out and
 * returns how many. */
size_t unicase_lower(const uint32_t *in, size_t n, uint32_t *out);

/* Python's str.lower() of UTF-8 text s[0..n), appended to out. Invalid bytes are copied through
 * unchanged (they cannot occur in a Python string; keeping them loses nothing). */
int unicase_lower_utf8(const char *s, size_t n, StrBuf *out, Error *e);

#endif

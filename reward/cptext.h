/* Text as Unicode code points, the way Python holds a str: the METEOR tokenizers (reward/punkt.c,
 * reward/wordtok.c) index and compare characters, not bytes. Invalid UTF-8 bytes become lone
 * surrogates U+DC80..U+DCFF, as Python's "surrogateescape" decoding makes them, so they are no
 * letter, digit or space and encoding restores the original byte. */
#ifndef RESTPG_REWARD_CPTEXT_H
#define RESTPG_REWARD_CPTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/text.h"

/* A growable array of code points. Zero-initialise or cpbuf_init before use. */
typedef struct {
    uint32_t *v;
    size_t n, cap;
} CpBuf;

/* An empty buffer / its release (b is left empty and reusable). */
void cpbuf_init(CpBuf *b);
void cpbuf_free(CpBuf *b);
/* Makes room for `extra` more code points (RP_ENOMEM on failure). */
int cpbuf_reserve(CpBuf *b, size_t extra, Error *e);
/* Appends c[0..n). */
int cpbuf_append(CpBuf *b, const uint32_t *c, size_t n, Error *e);

/* Appends the code points of the UTF-8 text s[0..n) to out (surrogateescape for bad bytes). */
int cp_decode(const char *s, size_t n, CpBuf *out, Error *e);
/* Appends the UTF-8 encoding of c[0..n) to out (U+DC80..U+DCFF back to their bytes). */
int cp_encode(const uint32_t *c, size_t n, StrBuf *out, Error *e);
/* Appends Python's str.lower() of c[0..n) to out. */
int cp_lower(const uint32_t *c, size_t n, CpBuf *out, Error *e);

#endif

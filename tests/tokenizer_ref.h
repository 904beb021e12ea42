/* What the tokenizer tests that compare with PyPI tokenizers share: the hex text fields of the
 * reference scripts' output, and the lossy UTF-8 decoding tokenizers applies to ids that spell
 * invalid UTF-8 (restpg gives the bytes; docs/tokenizer.md). */
#ifndef RESTPG_TESTS_TOKENIZER_REF_H
#define RESTPG_TESTS_TOKENIZER_REF_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The bytes of the hex field at p ("-" is empty), up to a tab or newline: malloc'd, NUL-ended,
 * length in *n, *end after the field. */
static inline char *unhex(const char *p, const char **end, size_t *n) {
    size_t k = 0;
    char *s = malloc(strlen(p) / 2 + 2);
    if (*p == '-') p++;
    else
        for (; p[0] && p[0] != '\t' && p[0] != '\n'; p += 2) {
            unsigned v;
            sscanf(p, "%2x", &v);
            s[k++] = (char)v;
        }
    s[k] = 0;
    *n = k;
    *end = p;
    return s;
}

/* s[0..n) with each maximal invalid UTF-8 subpart replaced by U+FFFD, as Rust's from_utf8_lossy
 * (and Python's decode("utf-8", "replace")) do; out holds 3n bytes. */
static inline size_t lossy(const unsigned char *s, size_t n, char *out) {
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], need = 0, lo = 0x80, hi = 0xBF, got = 0;
        if (c < 0x80) {
            out[k++] = (char)s[i++];
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c >= 0xE0 && c <= 0xEF) need = 2, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        else if (c >= 0xF0 && c <= 0xF4) need = 3, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        while (need && got < need && i + 1 + got < n) {
            unsigned d = s[i + 1 + got];
            if (d < (got ? 0x80u : lo) || d > (got ? 0xBFu : hi)) break;
            got++;
        }
        if (need && got == need) {
            memcpy(out + k, s + i, need + 1);
            k += need + 1;
        } else {
            memcpy(out + k, "\xEF\xBF\xBD", 3);
            k += 3;
        }
        i += need && got == need ? need + 1 : 1 + got;
    }
    return k;
}

#endif

/* Code point buffers, surrogateescape UTF-8 decoding and Python lowercasing (see cptext.h). */
#include "reward/cptext.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reward/unicase.h"
#include "core/vec.h"

#define ESCAPE_BASE 0xDC00u

void cpbuf_init(CpBuf *b) { memset(b, 0, sizeof *b); }

void cpbuf_free(CpBuf *b) {
    free(b->v);
    cpbuf_init(b);
}

int cpbuf_reserve(CpBuf *b, size_t extra, Error *e) {
    if (extra > SIZE_MAX - b->n) return error_set(e, RP_ENOMEM, "out of memory: %zu + %zu code points", b->n, extra);
    return VEC_RESERVE(b->v, b->cap, b->n + extra, e);
}

int cpbuf_append(CpBuf *b, const uint32_t *c, size_t n, Error *e) {
    if (cpbuf_reserve(b, n, e)) return RP_ENOMEM;
    memcpy(b->v + b->n, c, n * sizeof *c);
    b->n += n;
    return RP_OK;
}

int cp_decode(const char *s, size_t n, CpBuf *out, Error *e) {
    if (cpbuf_reserve(out, n, e)) return RP_ENOMEM; /* never more code points than bytes */
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = utf8_decode(s + i, n - i, &cp);
        /* A real U+FFFD takes 3 bytes, so a 1-byte replacement is an invalid byte. */
        if (cp == UNICASE_REPLACEMENT && len == 1) cp = ESCAPE_BASE + (unsigned char)s[i];
        out->v[out->n++] = cp;
        i += len;
    }
    return RP_OK;
}

int cp_encode(const uint32_t *c, size_t n, StrBuf *out, Error *e) {
    for (size_t i = 0; i < n; i++) {
        char buf[4];
        size_t len;
        if (c[i] >= ESCAPE_BASE + 0x80 && c[i] <= ESCAPE_BASE + 0xFF) buf[0] = (char)(c[i] - ESCAPE_BASE), len = 1;
        else len = utf8_encode(c[i], buf);
        if (strbuf_append(out, buf, len, e)) return RP_ENOMEM;
    }
    return RP_OK;
}

int cp_lower(const uint32_t *c, size_t n, CpBuf *out, Error *e) {
    if (cpbuf_reserve(out, 2 * n, e)) return RP_ENOMEM;
    out->n += unicase_lower(c, n, out->v + out->n);
    return RP_OK;
}

/* String buffer, UTF-8 validation and hash map (see text.h). */
#include "core/text.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/vec.h"

void strbuf_init(StrBuf *b) {
    b->s = NULL;
    b->len = b->cap = 0;
}

void strbuf_free(StrBuf *b) {
    free(b->s);
    strbuf_init(b);
}

void strbuf_clear(StrBuf *b) {
    b->len = 0;
    if (b->s) b->s[0] = '\0';
}

static int reserve(StrBuf *b, size_t extra, Error *e) {
    if (extra > SIZE_MAX - b->len - 1) return error_set(e, RP_ENOMEM, "out of memory: string of %zu + %zu bytes", b->len, extra);
    return vec_reserve(&b->s, &b->cap, b->len + extra + 1, 1, e);
}

int strbuf_append(StrBuf *b, const char *s, size_t n, Error *e) {
    if (reserve(b, n, e)) return RP_ENOMEM;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
    return RP_OK;
}

int strbuf_puts(StrBuf *b, const char *s, Error *e) { return strbuf_append(b, s, strlen(s), e); }

int strbuf_printf(StrBuf *b, Error *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return error_set(e, RP_EINTERNAL, "bad format");
    if (reserve(b, (size_t)n, e)) return RP_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return RP_OK;
}

int strbuf_json_string(StrBuf *b, const char *s, Error *e) {
    if (strbuf_append(b, "\"", 1, e)) return RP_ENOMEM;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        const char *out = NULL;
        switch (*p) {
        case '"': out = "\\\""; break;
        case '\\': out = "\\\\"; break;
        case '\n': out = "\\n"; break;
        case '\r': out = "\\r"; break;
        case '\t': out = "\\t"; break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                out = esc;
            }
        }
        int rc = out ? strbuf_puts(b, out, e) : strbuf_append(b, (const char *)p, 1, e);
        if (rc) return rc;
    }
    return strbuf_append(b, "\"", 1, e);
}

int utf8_valid(const char *str, size_t n, size_t *bad_offset) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4;
            cp = c & 0x07;
        } else goto bad;
        if (i + len > n) goto bad;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) goto bad;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)) goto bad;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) goto bad;
        i += len;
    }
    return 1;
bad:
    if (bad_offset) *bad_offset = i;
    return 0;
}

uint64_t hash_bytes(const void *p, size_t n) {
    /* FNV-1a, then a final avalanche so low bits are usable as a table index. */
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

int strmap_init(StrMap *m, size_t expected, Error *e) {
    size_t cap = 16;
    while (cap < expected * 2) cap *= 2;
    m->keys = xcalloc(cap, sizeof(char *), e);
    m->klen = xcalloc(cap, sizeof(size_t), e);
    m->vals = xcalloc(cap, sizeof(int64_t), e);
    m->cap = cap;
    m->count = 0;
    if (!m->keys || !m->klen || !m->vals) {
        strmap_free(m);
        return RP_ENOMEM;
    }
    return RP_OK;
}

void strmap_free(StrMap *m) {
    if (m->keys)
        for (size_t i = 0; i < m->cap; i++) free(m->keys[i]);
    free(m->keys);
    free(m->klen);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static size_t find_slot(const StrMap *m, const char *key, size_t n) {
    size_t i = (size_t)hash_bytes(key, n) & (m->cap - 1);
    while (m->keys[i] && !(m->klen[i] == n && !memcmp(m->keys[i], key, n))) i = (i + 1) & (m->cap - 1);
    return i;
}

static int grow(StrMap *m, Error *e) {
    StrMap big;
    if (strmap_init(&big, m->cap, e)) return RP_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t j = find_slot(&big, m->keys[i], m->klen[i]);
        big.keys[j] = m->keys[i];
        big.klen[j] = m->klen[i];
        big.vals[j] = m->vals[i];
        big.count++;
        m->keys[i] = NULL;
    }
    strmap_free(m);
    *m = big;
    return RP_OK;
}

int64_t *strmap_slot(StrMap *m, const char *key, size_t n, int64_t init, Error *e) {
    if ((m->count + 1) * 2 > m->cap && grow(m, e)) return NULL;
    size_t i = find_slot(m, key, n);
    if (!m->keys[i]) {
        char *k = xmalloc(n + 1, e);
        if (!k) return NULL;
        memcpy(k, key, n);
        k[n] = '\0';
        m->keys[i] = k;
        m->klen[i] = n;
        m->vals[i] = init;
        m->count++;
    }
    return &m->vals[i];
}

int strmap_put(StrMap *m, const char *key, size_t n, int64_t val, Error *e) {
    int64_t *v = strmap_slot(m, key, n, val, e);
    if (!v) return RP_ENOMEM;
    *v = val;
    return RP_OK;
}

int strmap_get(const StrMap *m, const char *key, size_t n, int64_t *val) {
    size_t i = find_slot(m, key, n);
    if (!m->keys[i]) return 0;
    *val = m->vals[i];
    return 1;
}

/* Text utilities used across modules: a growable string buffer, UTF-8 validation, and a
 * string -> int64 hash map (vocabularies, id lookups, n-gram counts). */
#ifndef RESTPG_CORE_TEXT_H
#define RESTPG_CORE_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct {
    char *s;      /* always NUL-terminated once anything was appended */
    size_t len;
    size_t cap;
} StrBuf;

void strbuf_init(StrBuf *b);
void strbuf_free(StrBuf *b);
void strbuf_clear(StrBuf *b); /* keeps the memory */
int strbuf_append(StrBuf *b, const char *s, size_t n, Error *e);
int strbuf_puts(StrBuf *b, const char *s, Error *e);
int strbuf_printf(StrBuf *b, Error *e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Appends s as a JSON string literal (quotes and escapes included). */
int strbuf_json_string(StrBuf *b, const char *s, Error *e);

/* Returns 1 if s[0..n) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF); else 0 and,
 * if bad_offset is non-NULL, the byte offset of the first invalid sequence. */
int utf8_valid(const char *s, size_t n, size_t *bad_offset);

/* Open-addressing hash map from byte strings (copied in) to int64 values. */
typedef struct {
    char **keys;
    size_t *klen;
    int64_t *vals;
    size_t cap;   /* power of two */
    size_t count;
} StrMap;

int strmap_init(StrMap *m, size_t expected, Error *e);
void strmap_free(StrMap *m);
/* Inserts or overwrites. */
int strmap_put(StrMap *m, const char *key, size_t n, int64_t val, Error *e);
/* Returns 1 and sets *val if present, else 0. */
int strmap_get(const StrMap *m, const char *key, size_t n, int64_t *val);
/* Returns a pointer to the value slot, inserting `init` if absent (NULL on OOM). */
int64_t *strmap_slot(StrMap *m, const char *key, size_t n, int64_t init, Error *e);

uint64_t hash_bytes(const void *p, size_t n);

#endif

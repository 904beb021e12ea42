/* Error reporting: formatting and context chaining for the Error struct (see error.h). */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int error_set(Error *e, int code, const char *fmt, ...) {
    if (!e) return code;
    e->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

int error_wrap(Error *e, const char *fmt, ...) {
    if (!e) return RP_EINTERNAL;
    char prefix[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[sizeof e->msg];
    memcpy(old, e->msg, sizeof old);
    size_t p = strlen(prefix);
    memcpy(e->msg, prefix, p);
    memcpy(e->msg + p, ": ", 2);
    size_t room = sizeof e->msg - p - 3;
    size_t n = strnlen(old, room);
    memcpy(e->msg + p + 2, old, n);
    e->msg[p + 2 + n] = '\0';
    if (e->code == RP_OK) e->code = RP_EINTERNAL;
    return e->code;
}

void error_clear(Error *e) {
    if (!e) return;
    e->code = RP_OK;
    e->msg[0] = '\0';
}

void *xmalloc(size_t n, Error *e) {
    void *p = malloc(n ? n : 1);
    if (!p) error_set(e, RP_ENOMEM, "out of memory allocating %zu bytes", n);
    return p;
}

void *xcalloc(size_t count, size_t size, Error *e) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) error_set(e, RP_ENOMEM, "out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *xrealloc(void *p, size_t n, Error *e) {
    void *q = realloc(p, n ? n : 1);
    if (!q) error_set(e, RP_ENOMEM, "out of memory reallocating to %zu bytes", n);
    return q;
}

char *xstrdup(const char *s, Error *e) {
    size_t n = strlen(s) + 1;
    char *p = xmalloc(n, e);
    if (p) memcpy(p, s, n);
    return p;
}

char *xasprintf(Error *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        error_set(e, RP_EINTERNAL, "cannot format '%s'", fmt);
        return NULL;
    }
    char *s = xmalloc((size_t)n + 1, e);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

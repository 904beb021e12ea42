/* The one error idiom of restpg.
 *
 * Every library function that can fail returns an int status (RP_OK on success) and takes an
 * Error* where it writes a message a person can act on: which file, which record, which field.
 * Callers add context with error_wrap() on the way up; only main() prints and exits, with the
 * status as its exit code (so bad input exits 2 everywhere). */
#ifndef RESTPG_CORE_ERROR_H
#define RESTPG_CORE_ERROR_H

#include <stddef.h>

#ifdef __cplusplus /* the CUDA backend (kernels/cuda, C++ under nvcc) reports through it too */
extern "C" {
#endif

enum {
    RP_OK = 0,
    RP_EINTERNAL = 1, /* a bug or an unexpected library failure */
    RP_EINPUT = 2,    /* bad user input: arguments, files, records, fields */
    RP_EIO = 3,       /* the system refused: disk full, permission, unreadable device */
    RP_ENOMEM = 4,
    RP_EMPI = 5,      /* MPI / NCCL communication failures */
    RP_HELP = 100     /* not an error: --help was printed; main exits 0 */
};

typedef struct {
    int code;
    char msg[2048];
} Error;

/* Sets e (if non-NULL) to code with a printf-style message; returns code so callers can write
 * `return error_set(e, RP_EINPUT, "...")`. */
int error_set(Error *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prepends "context: " to the message already in e and returns e->code. Used when an error
 * passes up through a layer that knows more (the file name, the record index). */
int error_wrap(Error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Resets e to RP_OK with an empty message. */
void error_clear(Error *e);

/* Allocation helpers that turn failure into RP_ENOMEM instead of a crash later. They return NULL
 * and set e on failure. */
void *xmalloc(size_t n, Error *e);
void *xcalloc(size_t count, size_t size, Error *e);
void *xrealloc(void *p, size_t n, Error *e);
char *xstrdup(const char *s, Error *e);
/* A printf-formatted string in memory of its own size (free it), so a path built from a directory
 * and a name is never cut short the way a fixed buffer would silently cut it. */
char *xasprintf(Error *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif

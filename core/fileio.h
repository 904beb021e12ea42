/* Atomic file replacement and whole-file reading.
 *
 * Every output restpg writes goes to "<path>.tmp.<pid>" in the same directory, is fsync'ed, then
 * renamed over <path> (and the directory fsync'ed), so a reader or a crash never sees half a file
 * and the previous version survives until the new one is complete. */
#ifndef RESTPG_CORE_FILEIO_H
#define RESTPG_CORE_FILEIO_H

#include <stddef.h>

#include "core/error.h"

/* The temp path for `path`, allocated (free it); NULL with e set when out of memory. */
char *atomic_tmp_path(const char *path, Error *e);
/* fsyncs tmp, renames it to path, fsyncs the directory. On failure tmp is removed. */
int atomic_commit(const char *tmp, const char *path, Error *e);
/* Removes a temp file after a failed write (no error if it is already gone). */
void atomic_abort(const char *tmp);
/* Writes a whole buffer to path atomically. */
int atomic_write(const char *path, const void *data, size_t n, Error *e);

/* Reads a whole file into a NUL-terminated malloc'd buffer; *len gets its size (may be NULL). */
int file_read_all(const char *path, char **data, size_t *len, Error *e);

/* Creates a directory and its parents (like mkdir -p). */
int mkdir_p(const char *path, Error *e);
/* 1 if path exists (file or directory). */
int path_exists(const char *path);

#endif

/* Atomic file replacement and whole-file reading.
 *
 * Every output restpg writes goes to "<path>.tmp.<pid>" in the same directory, is fsync'ed, then
 * renamed over <path> (and the directory fsync'ed), so a reader or a crash never sees half a file
 * and the previous version survives until the new one is complete. */
#ifndef RESTPG_CORE_FILEIO_H
#define RESTPG_CORE_FILEIO_H

#include <stddef.h>
#include <stdio.h>

#include "core/error.h"

/* The temp path for `path`, allocated (free it); NULL with e set when out of memory. First removes
 * the temp files of earlier writers of `path` that were killed ("<path>.tmp.<pid>" whose pid is no
 * longer running on this host), so they do not pile up. */
char *atomic_tmp_path(const char *path, Error *e);
/* fsyncs tmp, renames it to path, fsyncs the directory. On failure tmp is removed. */
int atomic_commit(const char *tmp, const char *path, Error *e);
/* Removes a temp file after a failed write (no error if it is already gone). */
void atomic_abort(const char *tmp);
/* Writes a whole buffer to path atomically. */
int atomic_write(const char *path, const void *data, size_t n, Error *e);

/* Reads a whole file into a NUL-terminated malloc'd buffer; *len gets its size (may be NULL).
 * The file must pass file_check_input. */
int file_read_all(const char *path, char **data, size_t *len, Error *e);

/* Every file restpg reads must be a regular file (not a directory, FIFO or device such as
 * /dev/zero, which would be read forever) of at most FILE_INPUT_LIMIT_DEFAULT bytes, or the number
 * in the environment variable RESTPG_MAX_INPUT_BYTES. RP_EINPUT naming the file otherwise (or
 * naming the variable when it is not a positive integer). */
#define FILE_INPUT_LIMIT_DEFAULT (64LL << 30)
int file_check_input(const char *path, Error *e);
/* fopen(path, "rb") after file_check_input, checked again on the opened descriptor (the path may
 * have changed in between). */
int file_open_input(const char *path, FILE **f, Error *e);

/* Refuses an output that would overwrite an input: RP_EINPUT if `out` is the same file (device
 * and inode, so links and other spellings count) as one of n inputs, given as (option, path)
 * pairs in ins[2n]. NULL paths and files that do not exist are skipped. */
int file_check_out(const char *out_opt, const char *out, int n, const char *const *ins, Error *e);

/* Words an errno from a failed write for a user: "disk full" for ENOSPC/EDQUOT (what they must
 * fix), "file size limit reached" for EFBIG, strerror otherwise, "I/O error" for 0 (the failing
 * library did not say). */
const char *file_errno_text(int err);

/* Creates a directory and its parents (like mkdir -p). */
int mkdir_p(const char *path, Error *e);
/* 1 if path exists (file or directory). */
int path_exists(const char *path);

#endif

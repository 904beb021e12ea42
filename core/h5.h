/* Thin HDF5 helpers: every restpg file (datasets, checkpoints, samples) is HDF5 that h5py reads.
 *
 * Conventions shared by all formats (docs/formats.md):
 *  - the root group carries attributes `format` (a string naming the file kind, e.g.
 *    "restpg-dataset") and `version` (int64); readers refuse other kinds and newer versions;
 *  - text is variable-length UTF-8 strings; numbers are little-endian native types;
 *  - files are created as a temp file and renamed into place (h5_create / h5_commit).
 * Every call is checked; failures name the file and the object. HDF5's own error stack printing
 * is turned off by h5_init() so users see our messages, not library traces. */
#ifndef RESTPG_CORE_H5_H
#define RESTPG_CORE_H5_H

#include <hdf5.h>
#include <stdint.h>

#include "core/error.h"

/* Silences HDF5's automatic error printing. Call once at start (idempotent). */
void h5_init(void);

/* Opens an existing file read-only and checks its `format` attribute equals `format` and its
 * `version` is 1..max_version. */
int h5_open_read(const char *path, const char *format, int64_t max_version, hid_t *file, Error *e);

/* Opens an existing restpg file for in-place appends is never done: writers build a new temp
 * file instead. h5_create makes "<path>.tmp.<pid>", stamps format and version, and sets *tmp to
 * that name (allocated: the caller frees it after h5_commit or h5_abort; NULL on failure, when
 * nothing is left behind); h5_commit closes it and renames it over path; h5_abort closes and
 * removes it. */
int h5_create(const char *path, const char *format, int64_t version, char **tmp, hid_t *file, Error *e);
int h5_commit(hid_t file, const char *tmp, const char *path, Error *e);
void h5_abort(hid_t file, const char *tmp);

/* Closes a file opened by h5_open_read (ignores invalid ids). */
void h5_close(hid_t file);

/* Creates the groups along a slash-separated path (like mkdir -p). */
int h5_mkgroups(hid_t loc, const char *path, Error *e);

/* Variable-length UTF-8 string array <-> char*[n]. NULL entries are written as "". The reader
 * returns malloc'd strings in a malloc'd array (free with h5_strings_free). */
int h5_write_strings(hid_t loc, const char *name, char *const *s, int64_t n, Error *e);
int h5_read_strings(hid_t loc, const char *name, char ***s, int64_t *n, Error *e);
void h5_strings_free(char **s, int64_t n);

/* Numeric arrays of any rank. memtype is H5T_NATIVE_FLOAT, H5T_NATIVE_INT64, ... h5_read_array
 * checks the rank equals `rank`, stores the shape in dims and mallocs *data. */
int h5_write_array(hid_t loc, const char *name, hid_t memtype, int rank, const hsize_t *dims, const void *data, Error *e);
int h5_read_array(hid_t loc, const char *name, hid_t memtype, int rank, hsize_t *dims, void **data, Error *e);
/* Reads into caller memory after checking the stored shape equals dims exactly. */
int h5_read_into(hid_t loc, const char *name, hid_t memtype, int rank, const hsize_t *dims, void *data, Error *e);

/* 1 if the link exists at loc (no error stack noise). */
int h5_exists(hid_t loc, const char *name);

/* Scalar attributes on an object (a file or group id, or "." for loc itself via name). */
/* Walks every attribute of obj in a forked child first: libhdf5 1.10 crashes or spins on some
 * corrupt attribute tables (no checksum in the pre-1.10 file format), so a child that dies or
 * does not finish within 10 s makes this RP_EINPUT naming `what`, before the caller iterates
 * them itself. */
int h5_probe_attrs(hid_t obj, const char *what, Error *e);
int h5_attr_set_str(hid_t obj, const char *name, const char *value, Error *e);
int h5_attr_get_str(hid_t obj, const char *name, char **value, Error *e); /* malloc'd */
int h5_attr_set_i64(hid_t obj, const char *name, int64_t value, Error *e);
int h5_attr_get_i64(hid_t obj, const char *name, int64_t *value, Error *e);
int h5_attr_set_f64(hid_t obj, const char *name, double value, Error *e);
int h5_attr_get_f64(hid_t obj, const char *name, double *value, Error *e);

#endif

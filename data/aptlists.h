/* Reading Debian archive index files as apt keeps them in its lists directory: Packages and
 * i18n Translation-en files, plain or lz4-framed, parsed stanza by stanza (deb822: "Field: value"
 * lines, continuation lines starting with a space or tab, stanzas separated by blank lines).
 * Used by the Debian-maintainer benchmark builder (data/debian.c). */
#ifndef RESTPG_DATA_APTLISTS_H
#define RESTPG_DATA_APTLISTS_H

#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "core/text.h"

typedef struct {
    char *path;
    FILE *f;
    void *dctx;           /* LZ4F decompression context, NULL for a plain file */
    unsigned char *in;    /* compressed bytes read but not yet decoded */
    size_t in_pos, in_len;
    size_t last_hint;     /* LZ4F's last return: 0 when a frame ended cleanly */
    int64_t frames;       /* lz4 frames seen to their end */
    char *buf;            /* decoded text not yet split into lines: buf[start..end) */
    size_t start, end, cap;
    int eof;              /* the source has no more bytes */
    int64_t line_no;      /* 1-based number of the last line returned */
    /* The current stanza: NUL-separated name/value pairs in text, offsets per field. */
    StrBuf text;
    size_t *name_off, *value_off;
    int n_fields, cap_fields;
    int64_t stanza_line;  /* line where the current stanza starts */
} AptReader;

/* Opens a list file for reading; a name ending in ".lz4" is decoded as lz4 frames, anything else
 * is read as plain text. RP_EINPUT naming the file if it cannot be opened. */
int apt_open(AptReader *r, const char *path, Error *e);
/* Releases everything apt_open acquired (safe on a zeroed or failed reader). */
void apt_close(AptReader *r);

/* Reads the next stanza into r. *got is 1 when one was read, 0 at the end of the file. Errors
 * (RP_EINPUT) name the file and the line: a line that is neither "Field: value" nor a
 * continuation, a continuation with no field before it, corrupt or truncated lz4 data. Field
 * values are the first-line text with surrounding blanks removed; each continuation line follows
 * after a '\n' as written (its leading space or tab kept, trailing blanks removed). */
int apt_next(AptReader *r, int *got, Error *e);
/* The value of a field of the current stanza (names compare case-insensitively), or NULL. The
 * pointer is valid until the next apt_next. */
const char *apt_get(const AptReader *r, const char *field);

/* Compares two Debian version strings ([epoch:]upstream[-revision]) as dpkg does: <0, 0, >0. */
int apt_version_cmp(const char *a, const char *b);

/* Lists the index files of an apt lists directory, sorted by name: names ending in "Packages" or
 * "Packages.lz4", and in "Translation-en" or "Translation-en.lz4" (full paths, malloc'd; free
 * with apt_paths_free). Other compressions (.gz, .xz, ...) are skipped with a warning.
 * RP_EINPUT if the directory cannot be read or holds no usable Packages file. */
int apt_list_dir(const char *dir, char ***packages, int *n_packages, char ***translations, int *n_translations,
                 Error *e);
void apt_paths_free(char **paths, int n);

#endif

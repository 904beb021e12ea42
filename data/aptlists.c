/* Reading apt's Packages / Translation-en lists: lz4 frame decoding, line splitting, deb822
 * stanza parsing and dpkg's version order (see aptlists.h). */
#include "data/aptlists.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <lz4frame.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/log.h"

#define APT_CHUNK (1 << 16)

int apt_open(AptReader *r, const char *path, Error *e) {
    memset(r, 0, sizeof *r);
    strbuf_init(&r->text);
    r->path = xstrdup(path, e);
    if (!r->path) return RP_ENOMEM;
    r->f = fopen(path, "rb");
    if (!r->f) {
        int err = errno;
        apt_close(r);
        return error_set(e, RP_EINPUT, "%s: cannot open: %s", path, strerror(err));
    }
    size_t n = strlen(path);
    if (n > 4 && !strcmp(path + n - 4, ".lz4")) {
        LZ4F_dctx *d = NULL;
        if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION))) {
            apt_close(r);
            return error_set(e, RP_ENOMEM, "%s: cannot create an lz4 decoder", path);
        }
        r->dctx = d;
        r->in = xmalloc(APT_CHUNK, e);
        if (!r->in) {
            apt_close(r);
            return RP_ENOMEM;
        }
        r->last_hint = 1; /* no frame seen yet: an empty file is not a valid lz4 file */
    }
    return RP_OK;
}

void apt_close(AptReader *r) {
    if (r->f) fclose(r->f);
    if (r->dctx) LZ4F_freeDecompressionContext((LZ4F_dctx *)r->dctx);
    free(r->in);
    free(r->buf);
    free(r->path);
    free(r->name_off);
    free(r->value_off);
    strbuf_free(&r->text);
    memset(r, 0, sizeof *r);
}

/* Appends at least one decoded byte to buf[start..end), or sets eof. Keeps one spare byte past
 * end so the last line of a file without a final newline can be NUL-terminated in place. */
static int fill(AptReader *r, Error *e) {
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end + APT_CHUNK + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : APT_CHUNK * 4;
        while (r->end + APT_CHUNK + 1 > cap) cap *= 2;
        char *b = xrealloc(r->buf, cap, e);
        if (!b) return RP_ENOMEM;
        r->buf = b;
        r->cap = cap;
    }
    size_t room = r->cap - r->end - 1;
    if (!r->dctx) {
        size_t n = fread(r->buf + r->end, 1, room, r->f);
        if (n == 0) {
            if (ferror(r->f)) return error_set(e, RP_EINPUT, "%s: read error after line %lld", r->path, (long long)r->line_no);
            r->eof = 1;
        }
        r->end += n;
        return RP_OK;
    }
    for (;;) {
        if (r->in_pos == r->in_len) {
            size_t n = fread(r->in, 1, APT_CHUNK, r->f);
            if (n == 0) {
                if (ferror(r->f)) return error_set(e, RP_EINPUT, "%s: read error after line %lld", r->path, (long long)r->line_no);
                if (r->last_hint != 0)
                    return error_set(e, RP_EINPUT, "%s: truncated lz4 data (the frame ends early, after line %lld)",
                                     r->path, (long long)r->line_no);
                r->eof = 1;
                return RP_OK;
            }
            r->in_len = n;
            r->in_pos = 0;
        }
        size_t dst = room, src = r->in_len - r->in_pos;
        size_t h = LZ4F_decompress((LZ4F_dctx *)r->dctx, r->buf + r->end, &dst, r->in + r->in_pos, &src, NULL);
        if (LZ4F_isError(h))
            return error_set(e, RP_EINPUT, "%s: corrupt lz4 data (%s) after line %lld", r->path, LZ4F_getErrorName(h),
                             (long long)r->line_no);
        r->in_pos += src;
        r->end += dst;
        if (h == 0) r->frames++;
        r->last_hint = h;
        if (dst > 0) return RP_OK;
    }
}

/* The next line (without its '\n', NUL-terminated inside buf, valid until the next call). */
static int next_line(AptReader *r, char **line, size_t *len, int *got, Error *e) {
    for (;;) {
        char *p = r->buf + r->start;
        char *nl = r->end > r->start ? memchr(p, '\n', r->end - r->start) : NULL;
        if (nl || (r->eof && r->end > r->start)) {
            size_t n = nl ? (size_t)(nl - p) : r->end - r->start;
            p[n] = '\0';
            r->start += nl ? n + 1 : n;
            r->line_no++;
            *line = p;
            *len = n;
            *got = 1;
            return RP_OK;
        }
        if (r->eof) {
            *got = 0;
            return RP_OK;
        }
        int rc = fill(r, e);
        if (rc) return rc;
    }
}

static int push_field(AptReader *r, const char *name, size_t nlen, const char *value, size_t vlen, Error *e) {
    if (r->n_fields == r->cap_fields) {
        int cap = r->cap_fields ? 2 * r->cap_fields : 32;
        size_t *no = xrealloc(r->name_off, sizeof(size_t) * (size_t)cap, e);
        if (!no) return RP_ENOMEM;
        r->name_off = no;
        size_t *vo = xrealloc(r->value_off, sizeof(size_t) * (size_t)cap, e);
        if (!vo) return RP_ENOMEM;
        r->value_off = vo;
        r->cap_fields = cap;
    }
    r->name_off[r->n_fields] = r->text.len;
    if (strbuf_append(&r->text, name, nlen, e) || strbuf_append(&r->text, "", 1, e)) return RP_ENOMEM;
    r->value_off[r->n_fields] = r->text.len;
    if (strbuf_append(&r->text, value, vlen, e) || strbuf_append(&r->text, "", 1, e)) return RP_ENOMEM;
    r->n_fields++;
    return RP_OK;
}

int apt_next(AptReader *r, int *got, Error *e) {
    strbuf_clear(&r->text);
    r->n_fields = 0;
    int in_stanza = 0;
    for (;;) {
        char *line;
        size_t len;
        int have;
        int rc = next_line(r, &line, &len, &have, e);
        if (rc) return rc;
        if (!have) break;
        while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t' || line[len - 1] == '\r')) len--;
        if (len == 0) {
            if (in_stanza) break;
            continue;
        }
        if (line[0] == ' ' || line[0] == '\t') {
            if (!in_stanza)
                return error_set(e, RP_EINPUT, "%s: line %lld: continuation line with no field before it", r->path,
                                 (long long)r->line_no);
            r->text.len--; /* reopen the last value: drop its terminating NUL */
            if (strbuf_append(&r->text, "\n", 1, e) || strbuf_append(&r->text, line, len, e) ||
                strbuf_append(&r->text, "", 1, e))
                return RP_ENOMEM;
            continue;
        }
        char *colon = memchr(line, ':', len);
        size_t nlen = colon ? (size_t)(colon - line) : 0;
        for (size_t i = 0; i < nlen && colon; i++)
            if (isspace((unsigned char)line[i])) colon = NULL;
        if (!colon || nlen == 0)
            return error_set(e, RP_EINPUT, "%s: line %lld: expected 'Field: value', got '%.60s'", r->path,
                             (long long)r->line_no, line);
        const char *v = colon + 1;
        size_t vlen = len - nlen - 1;
        while (vlen > 0 && (*v == ' ' || *v == '\t')) v++, vlen--;
        if (!in_stanza) r->stanza_line = r->line_no;
        in_stanza = 1;
        if ((rc = push_field(r, line, nlen, v, vlen, e))) return rc;
    }
    *got = in_stanza;
    return RP_OK;
}

const char *apt_get(const AptReader *r, const char *field) {
    for (int i = 0; i < r->n_fields; i++)
        if (!strcasecmp(r->text.s + r->name_off[i], field)) return r->text.s + r->value_off[i];
    return NULL;
}

/* dpkg's character order inside the non-digit parts: '~' sorts before everything (even the end of
 * the string), letters before other characters. */
static int ver_order(int c) {
    if (isdigit(c)) return 0;
    if (isalpha(c)) return c;
    if (c == '~') return -1;
    if (c) return c + 256;
    return 0;
}

static int ver_part_cmp(const char *a, const char *b) {
    while (*a || *b) {
        while ((*a && !isdigit((unsigned char)*a)) || (*b && !isdigit((unsigned char)*b))) {
            int ac = ver_order((unsigned char)*a), bc = ver_order((unsigned char)*b);
            if (ac != bc) return ac - bc;
            a++;
            b++;
        }
        while (*a == '0') a++;
        while (*b == '0') b++;
        int first_diff = 0;
        while (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            if (!first_diff) first_diff = *a - *b;
            a++;
            b++;
        }
        if (isdigit((unsigned char)*a)) return 1;
        if (isdigit((unsigned char)*b)) return -1;
        if (first_diff) return first_diff;
    }
    return 0;
}

/* Splits "[epoch:]upstream[-revision]" into its parts (upstream and revision copied into buffers
 * of the string's size). */
static void ver_split(const char *v, long *epoch, char *up, char *rev) {
    const char *colon = strchr(v, ':');
    *epoch = 0;
    if (colon) {
        *epoch = strtol(v, NULL, 10);
        v = colon + 1;
    }
    const char *dash = strrchr(v, '-');
    size_t n = dash ? (size_t)(dash - v) : strlen(v);
    memcpy(up, v, n);
    up[n] = '\0';
    strcpy(rev, dash ? dash + 1 : "");
}

int apt_version_cmp(const char *a, const char *b) {
    size_t na = strlen(a) + 1, nb = strlen(b) + 1;
    char *buf = malloc(2 * (na + nb));
    if (!buf) return strcmp(a, b); /* no memory: still a total order, never a crash */
    char *ua = buf, *ra = buf + na, *ub = buf + 2 * na, *rb = buf + 2 * na + nb;
    long ea, eb;
    ver_split(a, &ea, ua, ra);
    ver_split(b, &eb, ub, rb);
    int c = ea < eb ? -1 : ea > eb ? 1 : ver_part_cmp(ua, ub);
    if (!c) c = ver_part_cmp(ra, rb);
    free(buf);
    return c;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Appends path (allocated; the list owns it from here on, and frees it if it cannot grow). */
static int push_path(char ***v, int *n, int *cap, char *path, Error *e) {
    if (*n == *cap) {
        int c = *cap ? 2 * *cap : 8;
        char **nv = xrealloc(*v, sizeof(char *) * (size_t)c, e);
        if (!nv) {
            free(path);
            return RP_ENOMEM;
        }
        *v = nv;
        *cap = c;
    }
    (*v)[(*n)++] = path;
    return RP_OK;
}

void apt_paths_free(char **paths, int n) {
    if (!paths) return;
    for (int i = 0; i < n; i++) free(paths[i]);
    free(paths);
}

int apt_list_dir(const char *dir, char ***packages, int *n_packages, char ***translations, int *n_translations,
                 Error *e) {
    static const char *other[] = {".gz", ".xz", ".bz2", ".zst", ".lzma"};
    *packages = *translations = NULL;
    *n_packages = *n_translations = 0;
    DIR *d = opendir(dir);
    if (!d) return error_set(e, RP_EINPUT, "%s: cannot read the apt lists directory: %s", dir, strerror(errno));
    int cap_p = 0, cap_t = 0, rc = RP_OK;
    struct dirent *de;
    while (!rc && (de = readdir(d))) {
        const char *name = de->d_name;
        int is_p = ends_with(name, "Packages") || ends_with(name, "Packages.lz4");
        int is_t = ends_with(name, "Translation-en") || ends_with(name, "Translation-en.lz4");
        if (!is_p && !is_t) {
            for (size_t k = 0; k < sizeof other / sizeof other[0]; k++)
                if (ends_with(name, other[k]) && (strstr(name, "Packages.") || strstr(name, "Translation-en.")))
                    log_warn("%s/%s: skipped: only plain and .lz4 lists are read", dir, name);
            continue;
        }
        char *path = xasprintf(e, "%s/%s", dir, name);
        if (!path) {
            rc = RP_ENOMEM;
            break;
        }
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(path);
            continue;
        }
        rc = is_p ? push_path(packages, n_packages, &cap_p, path, e) : push_path(translations, n_translations, &cap_t, path, e);
    }
    closedir(d);
    if (!rc && *n_packages == 0)
        rc = error_set(e, RP_EINPUT, "%s: no Packages files (expected names ending in 'Packages' or 'Packages.lz4')", dir);
    if (rc) {
        apt_paths_free(*packages, *n_packages);
        apt_paths_free(*translations, *n_translations);
        *packages = *translations = NULL;
        *n_packages = *n_translations = 0;
        return rc;
    }
    qsort(*packages, (size_t)*n_packages, sizeof(char *), cmp_str);
    if (*n_translations) qsort(*translations, (size_t)*n_translations, sizeof(char *), cmp_str);
    return RP_OK;
}

/* Atomic writes, whole-file reads and directory creation (see fileio.h). */
#include "core/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *atomic_tmp_path(const char *path, Error *e) { return xasprintf(e, "%s.tmp.%ld", path, (long)getpid()); }

static int fsync_path(const char *path, int dir) {
    int fd = open(path, dir ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int atomic_commit(const char *tmp, const char *path, Error *e) {
    if (fsync_path(tmp, 0) != 0) {
        int err = errno;
        atomic_abort(tmp);
        return error_set(e, RP_EIO, "%s: cannot flush temp file %s: %s", path, tmp, strerror(err));
    }
    if (rename(tmp, path) != 0) {
        int err = errno;
        atomic_abort(tmp);
        return error_set(e, RP_EIO, "%s: cannot rename temp file into place: %s", path, strerror(err));
    }
    /* Best effort: some filesystems refuse directory fsync, and the file is already in place, so
     * not even running out of memory here is worth failing the write for. */
    char *dir = strdup(path);
    if (dir) fsync_path(dirname(dir), 1);
    free(dir);
    return RP_OK;
}

void atomic_abort(const char *tmp) { unlink(tmp); }

int atomic_write(const char *path, const void *data, size_t n, Error *e) {
    char *tmp = atomic_tmp_path(path, e);
    if (!tmp) return RP_ENOMEM;
    int rc;
    FILE *f = fopen(tmp, "wb");
    if (!f) rc = error_set(e, RP_EIO, "%s: cannot create: %s", path, strerror(errno));
    else {
        size_t w = fwrite(data, 1, n, f);
        int bad = (w != n) | (fclose(f) != 0);
        if (bad) {
            atomic_abort(tmp);
            rc = error_set(e, RP_EIO, "%s: write failed: %s", path, strerror(errno));
        } else rc = atomic_commit(tmp, path, e);
    }
    free(tmp);
    return rc;
}

int file_read_all(const char *path, char **data, size_t *len, Error *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return error_set(e, RP_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = xmalloc(cap + 1, e);
    if (!buf) {
        fclose(f);
        return RP_ENOMEM;
    }
    for (;;) {
        if (n == cap) {
            char *nb = xrealloc(buf, 2 * cap + 1, e);
            if (!nb) {
                free(buf);
                fclose(f);
                return RP_ENOMEM;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return error_set(e, RP_EINPUT, "%s: read error", path);
    }
    buf[n] = '\0';
    *data = buf;
    if (len) *len = n;
    return RP_OK;
}

int mkdir_p(const char *path, Error *e) {
    char *buf = xstrdup(path, e);
    if (!buf) return RP_ENOMEM;
    int rc = RP_OK;
    for (char *p = buf[0] ? buf + 1 : buf; !rc && *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            rc = error_set(e, RP_EIO, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = '/';
    }
    if (!rc && mkdir(buf, 0777) != 0 && errno != EEXIST)
        rc = error_set(e, RP_EIO, "%s: cannot create directory: %s", buf, strerror(errno));
    free(buf);
    return rc;
}

int path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

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

int atomic_tmp_path(const char *path, char *tmp, size_t n, Error *e) {
    int w = snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    if (w < 0 || (size_t)w >= n) return error_set(e, RP_EINPUT, "%s: path too long", path);
    return RP_OK;
}

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
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    fsync_path(dirname(dir), 1); /* best effort: some filesystems refuse directory fsync */
    return RP_OK;
}

void atomic_abort(const char *tmp) { unlink(tmp); }

int atomic_write(const char *path, const void *data, size_t n, Error *e) {
    char tmp[4200];
    int rc = atomic_tmp_path(path, tmp, sizeof tmp, e);
    if (rc) return rc;
    FILE *f = fopen(tmp, "wb");
    if (!f) return error_set(e, RP_EIO, "%s: cannot create: %s", path, strerror(errno));
    size_t w = fwrite(data, 1, n, f);
    int bad = (w != n) | (fclose(f) != 0);
    if (bad) {
        atomic_abort(tmp);
        return error_set(e, RP_EIO, "%s: write failed: %s", path, strerror(errno));
    }
    return atomic_commit(tmp, path, e);
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
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return error_set(e, RP_EINPUT, "%s: path too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return error_set(e, RP_EIO, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return error_set(e, RP_EIO, "%s: cannot create directory: %s", buf, strerror(errno));
    return RP_OK;
}

int path_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

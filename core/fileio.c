/* Atomic writes, whole-file reads and directory creation (see fileio.h). */
#include "core/fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *file_errno_text(int err) {
    if (err == ENOSPC || err == EDQUOT) return "disk full";
    if (err == EFBIG) return "file size limit reached";
    return err ? strerror(err) : "I/O error";
}

/* pid is a killed writer's: no process has it now. A pid reused by another process keeps its
 * file, which errs on the side of keeping data. */
static int pid_gone(long pid) { return pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH; }

static void remove_stale_tmps(const char *path) {
    char *d = strdup(path), *b = strdup(path);
    const char *dname = d ? dirname(d) : NULL;
    DIR *dir = dname && b ? opendir(dname) : NULL;
    if (dir) {
        const char *base = basename(b);
        size_t nb = strlen(base);
        struct dirent *de;
        while ((de = readdir(dir))) {
            const char *p = de->d_name;
            if (strncmp(p, base, nb) || strncmp(p + nb, ".tmp.", 5)) continue;
            char *end;
            errno = 0;
            long pid = strtol(p + nb + 5, &end, 10);
            if (errno || end == p + nb + 5 || *end || !pid_gone(pid)) continue;
            char *full = xasprintf(NULL, "%s/%s", dname, p);
            if (full) unlink(full);
            free(full);
        }
        closedir(dir);
    }
    free(d);
    free(b);
}

char *atomic_tmp_path(const char *path, Error *e) {
    remove_stale_tmps(path);
    return xasprintf(e, "%s.tmp.%ld", path, (long)getpid());
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
        return error_set(e, RP_EIO, "%s: cannot flush temp file %s: %s", path, tmp, file_errno_text(err));
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
    if (!f) rc = error_set(e, RP_EIO, "%s: cannot create: %s", path, file_errno_text(errno));
    else {
        errno = 0;
        size_t w = fwrite(data, 1, n, f);
        int bad = (w != n) | (fclose(f) != 0);
        if (bad) {
            int err = errno;
            atomic_abort(tmp);
            rc = error_set(e, RP_EIO, "%s: write failed: %s", path, file_errno_text(err));
        } else rc = atomic_commit(tmp, path, e);
    }
    free(tmp);
    return rc;
}

static int input_limit(long long *lim, Error *e) {
    *lim = FILE_INPUT_LIMIT_DEFAULT;
    const char *v = getenv("RESTPG_MAX_INPUT_BYTES");
    if (!v || !*v) return RP_OK;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end || x <= 0)
        return error_set(e, RP_EINPUT, "RESTPG_MAX_INPUT_BYTES: expected a positive number of bytes, got '%s'", v);
    *lim = x;
    return RP_OK;
}

static int check_stat(const char *path, const struct stat *st, Error *e) {
    long long lim;
    int rc = input_limit(&lim, e);
    if (rc) return rc;
    if (S_ISDIR(st->st_mode)) return error_set(e, RP_EINPUT, "%s: is a directory, expected a file", path);
    if (!S_ISREG(st->st_mode)) return error_set(e, RP_EINPUT, "%s: not a regular file (a device, FIFO or socket)", path);
    if ((long long)st->st_size > lim)
        return error_set(e, RP_EINPUT, "%s: %lld bytes, over the input size limit of %lld (RESTPG_MAX_INPUT_BYTES)", path,
                         (long long)st->st_size, lim);
    return RP_OK;
}

int file_check_input(const char *path, Error *e) {
    struct stat st;
    if (stat(path, &st) != 0) return error_set(e, RP_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    return check_stat(path, &st, e);
}

int file_open_input(const char *path, FILE **out, Error *e) {
    int rc = file_check_input(path, e);
    if (rc) return rc;
    FILE *f = fopen(path, "rb");
    if (!f) return error_set(e, RP_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0) rc = error_set(e, RP_EINPUT, "%s: cannot stat: %s", path, strerror(errno));
    else rc = check_stat(path, &st, e);
    if (rc) {
        fclose(f);
        return rc;
    }
    *out = f;
    return RP_OK;
}

int file_check_out(const char *out_opt, const char *out, int n, const char *const *ins, Error *e) {
    struct stat so, si;
    if (!out || stat(out, &so) != 0) return RP_OK;
    for (int i = 0; i < n; i++) {
        const char *in = ins[2 * i + 1];
        if (in && stat(in, &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
            return error_set(e, RP_EINPUT, "%s %s: is the same file as %s %s; refusing to overwrite an input", out_opt, out,
                             ins[2 * i], in);
    }
    return RP_OK;
}

int file_read_all(const char *path, char **data, size_t *len, Error *e) {
    FILE *f;
    int rc = file_open_input(path, &f, e);
    if (rc) return rc;
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

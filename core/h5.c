/* HDF5 helpers (see h5.h). */
#include "core/h5.h"

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/fileio.h"

/* A write that fails (a full disk) leaves HDF5 unable to close the file: H5Fclose fails, the file
 * stays registered, and the library's atexit shutdown later crashes flushing it. Every file restpg
 * writes is closed by h5_commit or h5_abort, and the temp file of a failed write is removed
 * anyway, so the shutdown has nothing worth doing: it is not registered (H5dont_atexit must come
 * before any other HDF5 call, hence main calls h5_init first). */
void h5_init(void) {
    static int done;
    if (done) return;
    done = 1;
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static char *obj_name(hid_t loc, char *buf, size_t n) {
    ssize_t w = H5Iget_name(loc, buf, n);
    if (w <= 0) snprintf(buf, n, "?");
    return buf;
}

int h5_open_read(const char *path, const char *format, int64_t max_version, hid_t *file, Error *e) {
    h5_init();
    if (!path_exists(path)) return error_set(e, RP_EINPUT, "%s: no such file", path);
    int rc = file_check_input(path, e);
    if (rc) return rc;
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) return error_set(e, RP_EINPUT, "%s: not an HDF5 file (or truncated)", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return error_set(e, RP_EINPUT, "%s: cannot open as HDF5 (truncated or corrupt?)", path);
    /* The root's attribute table is the first thing read: libhdf5 overruns its buffers on some
     * corrupt ones, so it is walked in a child first. */
    if ((rc = h5_probe_attrs(f, path, e))) {
        H5Fclose(f);
        return rc;
    }
    char *fmt = NULL;
    int64_t ver = 0;
    if (h5_attr_get_str(f, "format", &fmt, e) || h5_attr_get_i64(f, "version", &ver, e)) {
        H5Fclose(f);
        return error_set(e, RP_EINPUT, "%s: not a restpg %s file (no format/version attributes)", path, format);
    }
    int bad = strcmp(fmt, format) != 0;
    if (bad) error_set(e, RP_EINPUT, "%s: is a '%s' file, expected '%s'", path, fmt, format);
    else if (ver < 1 || ver > max_version) {
        bad = 1;
        error_set(e, RP_EINPUT, "%s: %s version %lld is not supported (this build reads 1..%lld)", path, format,
                  (long long)ver, (long long)max_version);
    }
    free(fmt);
    if (bad) {
        H5Fclose(f);
        return RP_EINPUT;
    }
    *file = f;
    return RP_OK;
}

int h5_create(const char *path, const char *format, int64_t version, char **tmp, hid_t *file, Error *e) {
    h5_init();
    *tmp = NULL;
    char *t = atomic_tmp_path(path, e);
    if (!t) return RP_ENOMEM;
    int rc = RP_OK;
    /* The 1.10 file format: object headers, chunk indexes and other metadata carry checksums,
     * so a flipped bit in them is an error on open instead of a silently different value
     * (older formats checksum nothing but the data filters). h5py and HDF5 >= 1.10 read it. */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), f = -1;
    if (fapl >= 0 && H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_LATEST) >= 0)
        f = H5Fcreate(t, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    if (f < 0) rc = error_set(e, RP_EIO, "%s: cannot create HDF5 file %s", path, t);
    else if ((rc = h5_attr_set_str(f, "format", format, e)) || (rc = h5_attr_set_i64(f, "version", version, e))) {
        h5_abort(f, t);
        rc = error_wrap(e, "%s", path);
    }
    if (rc) {
        free(t);
        return rc;
    }
    *tmp = t;
    *file = f;
    return RP_OK;
}

int h5_commit(hid_t file, const char *tmp, const char *path, Error *e) {
    errno = 0;
    if (H5Fclose(file) < 0) {
        int err = errno;
        atomic_abort(tmp);
        return error_set(e, RP_EIO, "%s: writing HDF5 file failed: %s", path, file_errno_text(err));
    }
    return atomic_commit(tmp, path, e);
}

void h5_abort(hid_t file, const char *tmp) {
    if (file >= 0) H5Fclose(file);
    atomic_abort(tmp);
}

void h5_close(hid_t file) {
    if (file >= 0) H5Fclose(file);
}

int h5_exists(hid_t loc, const char *name) {
    /* H5Lexists fails on a missing intermediate group, so walk the path. */
    char buf[512];
    snprintf(buf, sizeof buf, "%s", name);
    for (char *p = buf; *p; p++) {
        if (*p != '/' || p == buf) continue;
        *p = '\0';
        if (H5Lexists(loc, buf, H5P_DEFAULT) <= 0) return 0;
        *p = '/';
    }
    return H5Lexists(loc, buf, H5P_DEFAULT) > 0;
}

int h5_mkgroups(hid_t loc, const char *path, Error *e) {
    char *buf = xstrdup(path, e);
    if (!buf) return RP_ENOMEM;
    size_t n = strlen(buf);
    int rc = RP_OK;
    for (size_t i = 1; !rc && i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char c = buf[i];
        buf[i] = '\0';
        if (!h5_exists(loc, buf)) {
            hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
            H5Pset_obj_track_times(gcpl, 0);
            errno = 0;
            hid_t g = H5Gcreate2(loc, buf, H5P_DEFAULT, gcpl, H5P_DEFAULT);
            H5Pclose(gcpl);
            if (g < 0) rc = error_set(e, RP_EIO, "cannot create HDF5 group %s: %s", buf, file_errno_text(errno));
            else H5Gclose(g);
        }
        buf[i] = c;
    }
    free(buf);
    return rc;
}

static hid_t vlen_str_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

/* Chunked + deflate for anything non-trivial: datasets are text-heavy and compress 3-5x. */
static hid_t make_dcpl(int rank, const hsize_t *dims, size_t elem) {
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0); /* same content -> same bytes: no modification times */
    hsize_t total = 1;
    for (int i = 0; i < rank; i++) total *= dims[i];
    if (rank == 0 || total * elem < 4096) return dcpl;
    hsize_t chunk[8];
    hsize_t budget = (1u << 20) / (elem ? elem : 1); /* ~1 MiB chunks */
    if (budget < 1) budget = 1;
    for (int i = rank - 1; i >= 0; i--) {
        chunk[i] = dims[i] < budget ? dims[i] : budget;
        if (chunk[i] == 0) chunk[i] = 1;
        budget /= chunk[i];
        if (budget < 1) budget = 1;
    }
    H5Pset_chunk(dcpl, rank, chunk);
    H5Pset_deflate(dcpl, 4);
    return dcpl;
}

static int write_any(hid_t loc, const char *name, hid_t memtype, hid_t filetype, int rank, const hsize_t *dims,
                     const void *data, size_t elem, Error *e) {
    char where[256];
    if (h5_exists(loc, name) && H5Ldelete(loc, name, H5P_DEFAULT) < 0)
        return error_set(e, RP_EIO, "%s/%s: cannot replace dataset", obj_name(loc, where, sizeof where), name);
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = make_dcpl(rank, dims, elem);
    errno = 0;
    hid_t ds = H5Dcreate2(loc, name, filetype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    int rc = RP_OK;
    if (ds < 0)
        rc = error_set(e, RP_EIO, "%s/%s: cannot create dataset: %s", obj_name(loc, where, sizeof where), name,
                       file_errno_text(errno));
    else {
        hsize_t total = 1;
        for (int i = 0; i < rank; i++) total *= dims[i];
        if (total > 0 && H5Dwrite(ds, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
            rc = error_set(e, RP_EIO, "%s/%s: write failed: %s", obj_name(loc, where, sizeof where), name, file_errno_text(errno));
        /* Chunks are written when the dataset closes, so a full disk may first show here. */
        if (H5Dclose(ds) < 0 && !rc)
            rc = error_set(e, RP_EIO, "%s/%s: write failed: %s", obj_name(loc, where, sizeof where), name, file_errno_text(errno));
    }
    H5Pclose(dcpl);
    H5Sclose(space);
    return rc;
}

int h5_write_strings(hid_t loc, const char *name, char *const *s, int64_t n, Error *e) {
    const char **tmp = xmalloc(sizeof(char *) * (size_t)(n ? n : 1), e);
    if (!tmp) return RP_ENOMEM;
    for (int64_t i = 0; i < n; i++) tmp[i] = s[i] ? s[i] : "";
    hid_t t = vlen_str_type();
    hsize_t dims[1] = {(hsize_t)n};
    int rc = write_any(loc, name, t, t, 1, dims, tmp, sizeof(char *), e);
    H5Tclose(t);
    free(tmp);
    return rc;
}

static int open_checked(hid_t loc, const char *name, int rank, hsize_t *dims, hid_t *ds_out, Error *e) {
    char where[256];
    if (!h5_exists(loc, name))
        return error_set(e, RP_EINPUT, "%s: missing dataset '%s'", obj_name(loc, where, sizeof where), name);
    hid_t ds = H5Dopen2(loc, name, H5P_DEFAULT);
    if (ds < 0) return error_set(e, RP_EINPUT, "%s: cannot open dataset '%s'", obj_name(loc, where, sizeof where), name);
    hid_t sp = H5Dget_space(ds);
    int r = H5Sget_simple_extent_ndims(sp);
    if (r != rank) {
        H5Sclose(sp);
        H5Dclose(ds);
        return error_set(e, RP_EINPUT, "%s/%s: has rank %d, expected %d", obj_name(loc, where, sizeof where), name, r, rank);
    }
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    /* A corrupt shape must not become a huge allocation: even deflate (at most ~1032:1) cannot fit
     * more elements than bytes of the file times that ratio, plus headroom for small files. */
    hsize_t fsize = 0, total = 1;
    hid_t fid = H5Iget_file_id(ds);
    if (fid >= 0) {
        H5Fget_filesize(fid, &fsize);
        H5Fclose(fid);
    }
    for (int i = 0; i < rank; i++) total = dims[i] && total > ~(hsize_t)0 / dims[i] ? ~(hsize_t)0 : total * dims[i];
    if (fsize && total / 1100 > fsize + (1u << 20)) {
        H5Dclose(ds);
        return error_set(e, RP_EINPUT, "%s/%s: shape of %llu elements cannot be stored in a %llu-byte file (corrupt?)",
                         obj_name(loc, where, sizeof where), name, (unsigned long long)total, (unsigned long long)fsize);
    }
    *ds_out = ds;
    return RP_OK;
}

/* libhdf5 1.10 trusts the sizes stored in a variable-length string's global heap: a corrupt heap
 * makes H5Dread and H5Aread copy past their buffers (a crash) or spin. So the strings are read in a
 * forked child that sends them back through a pipe as (u64 length, bytes) records: a child that
 * dies, sends something malformed or outlives the deadline means a corrupt file, never a crash or
 * hang here. The child leaves with _exit, so it flushes nothing of the parent's. */
typedef struct {
    hid_t obj; /* a dataset, or an attribute when attr */
    int attr;
} VlenSource;

/* A reading child is expected to die on a corrupt file: what libhdf5 (or a sanitizer watching it)
 * says on its way down is not a message for the user, whose error comes from the parent. */
static void child_silence(void) {
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) dup2(fd, 2);
}

static void strings_child(const VlenSource *src, int64_t n, int fd) {
    char **raw = calloc((size_t)(n ? n : 1), sizeof(char *));
    hid_t t = vlen_str_type();
    if (!raw) _exit(3);
    herr_t r = src->attr ? H5Aread(src->obj, t, raw) : H5Dread(src->obj, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw);
    if (r < 0) _exit(3);
    FILE *w = fdopen(fd, "wb");
    if (!w) _exit(3);
    for (int64_t i = 0; i < n; i++) {
        uint64_t len = raw[i] ? strlen(raw[i]) : 0;
        if (fwrite(&len, sizeof len, 1, w) != 1 || (len && fwrite(raw[i], 1, len, w) != len)) _exit(3);
    }
    _exit(fclose(w) == 0 ? 0 : 3);
}

/* Reads exactly n bytes from fd before the deadline (seconds, CLOCK_MONOTONIC); 0 on success. */
static int read_full(int fd, void *buf, size_t n, double deadline) {
    char *p = buf;
    while (n > 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double left = deadline - ((double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec);
        if (left <= 0) return -1;
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        /* At most a minute per poll: a corrupt file's storage size can put the deadline past
         * what an int of milliseconds holds. */
        int pr = poll(&pf, 1, left > 60.0 ? 60000 : (int)(left * 1000) + 1);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) return -1;
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int strings_from_child(const VlenSource *src, int64_t n, char **res, Error *e) {
    /* Generous for a sound file (a read rate far below a disk's), short for a spinning one. */
    double secs = 10.0 + (src->attr ? 0.0 : (double)H5Dget_storage_size(src->obj) / 20e6);
    int fds[2];
    if (pipe(fds) != 0) return error_set(e, RP_EIO, "cannot create a pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return error_set(e, RP_EIO, "cannot fork to read strings: %s", strerror(errno));
    }
    if (pid == 0) {
        close(fds[0]);
        child_silence();
        strings_child(src, n, fds[1]);
    }
    close(fds[1]);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double deadline = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec + secs;
    int rc = RP_OK;
    for (int64_t i = 0; !rc && i < n; i++) {
        uint64_t len;
        if (read_full(fds[0], &len, sizeof len, deadline) || len > ((uint64_t)1 << 40)) rc = RP_EINPUT;
        else if (!(res[i] = malloc((size_t)len + 1))) rc = error_set(e, RP_ENOMEM, "out of memory reading strings");
        else if (read_full(fds[0], res[i], (size_t)len, deadline)) rc = RP_EINPUT;
        else res[i][len] = '\0';
    }
    close(fds[0]);
    if (rc) kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (!rc && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) rc = RP_EINPUT;
    for (int64_t i = 0; rc && i < n; i++) {
        free(res[i]);
        res[i] = NULL;
    }
    return rc;
}

static herr_t probe_attr(hid_t loc, const char *name, const H5A_info_t *info, void *data) {
    (void)info, (void)data;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0) return -1;
    H5Aclose(a);
    return 0;
}

int h5_probe_attrs(hid_t obj, const char *what, Error *e) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return error_set(e, RP_EIO, "cannot fork to check %s: %s", what, strerror(errno));
    if (pid == 0) {
        child_silence();
        hsize_t idx = 0;
        _exit(H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, probe_attr, NULL) < 0 ? 3 : 0);
    }
    int status = 0;
    for (int waited = 0;; waited++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) return error_set(e, RP_EIO, "waiting to check %s: %s", what, strerror(errno));
        if (waited >= 1000) { /* 10 s: a sound attribute table takes milliseconds */
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
            return error_set(e, RP_EINPUT, "%s: the attribute table is corrupt (reading it does not end)", what);
        }
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        return error_set(e, RP_EINPUT, "%s: the attribute table is corrupt", what);
    return RP_OK;
}

int h5_read_strings(hid_t loc, const char *name, char ***out, int64_t *n_out, Error *e) {
    hsize_t dims[1];
    hid_t ds = -1;
    int rc = open_checked(loc, name, 1, dims, &ds, e);
    if (rc) return rc;
    char where[256];
    hid_t ft = H5Dget_type(ds);
    int is_str = H5Tget_class(ft) == H5T_STRING && H5Tis_variable_str(ft) > 0;
    H5Tclose(ft);
    if (!is_str) {
        H5Dclose(ds);
        return error_set(e, RP_EINPUT, "%s/%s: expected variable-length strings", obj_name(loc, where, sizeof where), name);
    }
    int64_t n = (int64_t)dims[0];
    char **res = xcalloc((size_t)(n ? n : 1), sizeof(char *), e);
    if (!res) {
        H5Dclose(ds);
        return RP_ENOMEM;
    }
    VlenSource src = {ds, 0};
    if (n > 0 && (rc = strings_from_child(&src, n, res, e)) == RP_EINPUT)
        error_set(e, RP_EINPUT, "%s/%s: read failed (corrupt string heap?)", obj_name(loc, where, sizeof where), name);
    H5Dclose(ds);
    if (rc) {
        h5_strings_free(res, n);
        return rc;
    }
    *out = res;
    *n_out = n;
    return RP_OK;
}

void h5_strings_free(char **s, int64_t n) {
    if (!s) return;
    for (int64_t i = 0; i < n; i++) free(s[i]);
    free(s);
}

int h5_write_array(hid_t loc, const char *name, hid_t memtype, int rank, const hsize_t *dims, const void *data, Error *e) {
    return write_any(loc, name, memtype, memtype, rank, dims, data, H5Tget_size(memtype), e);
}

int h5_read_array(hid_t loc, const char *name, hid_t memtype, int rank, hsize_t *dims, void **data, Error *e) {
    hid_t ds = -1;
    int rc = open_checked(loc, name, rank, dims, &ds, e);
    if (rc) return rc;
    hsize_t total = 1;
    for (int i = 0; i < rank; i++) total *= dims[i];
    void *buf = xmalloc((size_t)total * H5Tget_size(memtype), e);
    if (!buf) {
        H5Dclose(ds);
        return RP_ENOMEM;
    }
    char where[256];
    if (total > 0 && H5Dread(ds, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        free(buf);
        H5Dclose(ds);
        return error_set(e, RP_EINPUT, "%s/%s: read failed (wrong type or corrupt file)", obj_name(loc, where, sizeof where), name);
    }
    H5Dclose(ds);
    *data = buf;
    return RP_OK;
}

int h5_read_into(hid_t loc, const char *name, hid_t memtype, int rank, const hsize_t *dims, void *data, Error *e) {
    hsize_t got[8];
    hid_t ds = -1;
    int rc = open_checked(loc, name, rank, got, &ds, e);
    if (rc) return rc;
    char where[256];
    for (int i = 0; i < rank; i++) {
        if (got[i] != dims[i]) {
            H5Dclose(ds);
            return error_set(e, RP_EINPUT, "%s/%s: shape mismatch in dimension %d: file has %llu, expected %llu",
                             obj_name(loc, where, sizeof where), name, i, (unsigned long long)got[i], (unsigned long long)dims[i]);
        }
    }
    if (H5Dread(ds, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) rc = error_set(e, RP_EINPUT, "%s/%s: read failed (wrong type or corrupt file)", obj_name(loc, where, sizeof where), name);
    H5Dclose(ds);
    return rc;
}

static int attr_write(hid_t obj, const char *name, hid_t type, const void *v, Error *e) {
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    hid_t sp = H5Screate(H5S_SCALAR);
    errno = 0;
    hid_t a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    int rc = RP_OK;
    if (a < 0 || H5Awrite(a, type, v) < 0) rc = error_set(e, RP_EIO, "cannot write attribute '%s': %s", name, file_errno_text(errno));
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

static int attr_open(hid_t obj, const char *name, hid_t *a, Error *e) {
    *a = -1;
    if (H5Aexists(obj, name) <= 0) return error_set(e, RP_EINPUT, "missing attribute '%s'", name);
    *a = H5Aopen(obj, name, H5P_DEFAULT);
    if (*a < 0) return error_set(e, RP_EINPUT, "cannot open attribute '%s'", name);
    return RP_OK;
}

int h5_attr_set_str(hid_t obj, const char *name, const char *value, Error *e) {
    hid_t t = vlen_str_type();
    int rc = attr_write(obj, name, t, &value, e);
    H5Tclose(t);
    return rc;
}

int h5_attr_get_str(hid_t obj, const char *name, char **value, Error *e) {
    hid_t a;
    int rc = attr_open(obj, name, &a, e);
    if (rc) return rc;
    hid_t ft = H5Aget_type(a);
    int ok = H5Tget_class(ft) == H5T_STRING;
    int var = ok && H5Tis_variable_str(ft) > 0;
    size_t fixed = H5Tget_size(ft);
    H5Tclose(ft);
    if (!ok) {
        H5Aclose(a);
        return error_set(e, RP_EINPUT, "attribute '%s' is not a string", name);
    }
    if (var) {
        VlenSource src = {a, 1};
        if ((rc = strings_from_child(&src, 1, value, e)) == RP_EINPUT)
            error_set(e, RP_EINPUT, "cannot read attribute '%s' (corrupt string heap?)", name);
    } else {
        /* h5py writes fixed-length strings for numpy bytes; accept those too. */
        hid_t t = H5Tcopy(H5T_C_S1);
        H5Tset_size(t, fixed + 1);
        char *buf = xcalloc(fixed + 2, 1, e);
        if (!buf) rc = RP_ENOMEM;
        else if (H5Aread(a, t, buf) < 0) {
            free(buf);
            rc = error_set(e, RP_EINPUT, "cannot read attribute '%s'", name);
        } else *value = buf;
        H5Tclose(t);
    }
    H5Aclose(a);
    return rc;
}

int h5_attr_set_i64(hid_t obj, const char *name, int64_t value, Error *e) {
    return attr_write(obj, name, H5T_NATIVE_INT64, &value, e);
}

int h5_attr_get_i64(hid_t obj, const char *name, int64_t *value, Error *e) {
    hid_t a;
    int rc = attr_open(obj, name, &a, e);
    if (rc) return rc;
    if (H5Aread(a, H5T_NATIVE_INT64, value) < 0) rc = error_set(e, RP_EINPUT, "attribute '%s' is not an integer", name);
    H5Aclose(a);
    return rc;
}

int h5_attr_set_f64(hid_t obj, const char *name, double value, Error *e) {
    return attr_write(obj, name, H5T_NATIVE_DOUBLE, &value, e);
}

int h5_attr_get_f64(hid_t obj, const char *name, double *value, Error *e) {
    hid_t a;
    int rc = attr_open(obj, name, &a, e);
    if (rc) return rc;
    if (H5Aread(a, H5T_NATIVE_DOUBLE, value) < 0) rc = error_set(e, RP_EINPUT, "attribute '%s' is not a number", name);
    H5Aclose(a);
    return rc;
}

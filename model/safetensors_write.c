/* safetensors writer: fp32 tensors out as F32 or BF16, in one file or in shards with
 * transformers' names and index, every file written to a temp name and renamed into place only
 * when all are complete (see safetensors.h, docs/formats.md). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bf16.h"
#include "core/fileio.h"
#include "core/text.h"
#include "model/safetensors.h"

/* Tensor data and the header length are written as the host holds them. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the safetensors writer assumes a little-endian host"
#endif

#define ST_INDEX_NAME "model.safetensors.index.json"
#define ST_SINGLE_NAME "model.safetensors"
#define ST_BF16_CHUNK 65536 /* elements converted per write */

typedef struct {
    char *name;
    size_t n_dims;
    uint64_t *shape;
    const float *data;
    uint64_t n_elems, n_bytes; /* n_bytes in the output dtype */
    size_t shard;
} WEntry;

typedef struct {
    dev_t dev;
    ino_t ino;
    int is_dir;
} InputId;

struct STWriter {
    char *dir;
    STWriteOptions opt;
    InputId *inputs; /* the inputs that exist, identified by device and inode */
    size_t n_inputs;
    WEntry *t;
    size_t n, cap;
    StrMap names;
};

int st_writer_open(const char *dir, const STWriteOptions *opt, STWriter **out, Error *e) {
    *out = NULL;
    if (opt->dtype != ST_F32 && opt->dtype != ST_BF16)
        return error_set(e, RP_EINPUT, "%s: safetensors output dtype %s is not supported (F32 and BF16 "
                         "are)", dir, st_dtype_name(opt->dtype));
    STWriter *w = xcalloc(1, sizeof *w, e);
    if (!w) return RP_ENOMEM;
    w->opt = *opt;
    w->opt.inputs = NULL; /* identified now, by inode, so the caller's array may go */
    w->inputs = xcalloc(opt->n_inputs > 0 ? (size_t)opt->n_inputs : 1, sizeof *w->inputs, e);
    int rc = !w->inputs || !(w->dir = xstrdup(dir, e)) ? RP_ENOMEM : strmap_init(&w->names, 64, e);
    for (int i = 0; i < opt->n_inputs && !rc; i++) {
        struct stat st;
        if (opt->inputs[i] && stat(opt->inputs[i], &st) == 0)
            w->inputs[w->n_inputs++] = (InputId){st.st_dev, st.st_ino, S_ISDIR(st.st_mode)};
    }
    if (rc) {
        st_writer_free(w);
        return rc;
    }
    *out = w;
    return RP_OK;
}

void st_writer_free(STWriter *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->t[i].name);
        free(w->t[i].shape);
    }
    free(w->t);
    strmap_free(&w->names);
    free(w->inputs);
    free(w->dir);
    free(w);
}

int st_writer_add(STWriter *w, const char *name, size_t n_dims, const uint64_t *shape,
                  const float *data, Error *e) {
    char nb[128];
    size_t len = strlen(name);
    int64_t dummy;
    if (!len || !utf8_valid(name, len, NULL) || !strcmp(name, "__metadata__"))
        return error_set(e, RP_EINPUT, "%s: tensor name '%s' cannot be written (empty, not UTF-8, or "
                         "__metadata__)", w->dir, st_shown(name, nb));
    if (strmap_get(&w->names, name, len, &dummy))
        return error_set(e, RP_EINPUT, "%s: tensor '%s' is added twice", w->dir, st_shown(name, nb));
    uint64_t n = 1, esize = st_dtype_bits(w->opt.dtype) / 8;
    for (size_t i = 0; i < n_dims; i++) {
        if (shape[i] && n > UINT64_MAX / esize / shape[i])
            return error_set(e, RP_EINPUT, "%s: tensor '%s': the shape's byte size overflows", w->dir,
                             st_shown(name, nb));
        n *= shape[i];
    }
    if (n && !data)
        return error_set(e, RP_EINTERNAL, "%s: tensor '%s': no data", w->dir, st_shown(name, nb));
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        WEntry *t = xrealloc(w->t, cap * sizeof *t, e);
        if (!t) return RP_ENOMEM;
        w->t = t;
        w->cap = cap;
    }
    WEntry *t = &w->t[w->n];
    *t = (WEntry){.n_dims = n_dims, .data = data, .n_elems = n, .n_bytes = n * esize};
    t->name = xstrdup(name, e);
    t->shape = xcalloc(n_dims ? n_dims : 1, sizeof *t->shape, e);
    if (!t->name || !t->shape) {
        free(t->name);
        free(t->shape);
        return RP_ENOMEM;
    }
    if (n_dims) memcpy(t->shape, shape, n_dims * sizeof *shape);
    w->n++;
    return strmap_put(&w->names, name, len, (int64_t)w->n - 1, e);
}

/* Greedy split in order, as huggingface_hub splits a state dict: a tensor that would take the
 * current shard past the limit starts a new one; a tensor over the limit gets one of its own
 * (placed in order, so shards hold the tensors in the order given). Returns the number of shards:
 * 1 when everything fits, and for no tensors. */
static size_t plan_shards(STWriter *w) {
    uint64_t lim = w->opt.shard_bytes, used = 0;
    size_t shard = 0, in_shard = 0;
    for (size_t i = 0; i < w->n; i++) {
        uint64_t b = w->t[i].n_bytes;
        if (lim && in_shard && (b > lim || used + b > lim)) {
            shard++;
            used = 0;
            in_shard = 0;
        }
        w->t[i].shard = shard;
        used += b;
        in_shard++;
        if (lim && b > lim) { /* full by itself: the next tensor starts another shard */
            shard++;
            used = 0;
            in_shard = 0;
        }
    }
    return in_shard || !shard ? shard + 1 : shard;
}

/* model.safetensors, model.safetensors.index.json or model-NNNNN-of-NNNNN.safetensors. */
static int is_export_name(const char *s) {
    if (!strcmp(s, ST_SINGLE_NAME) || !strcmp(s, ST_INDEX_NAME)) return 1;
    if (strncmp(s, "model-", 6)) return 0;
    s += 6;
    size_t d = strspn(s, "0123456789");
    if (d < 5 || strncmp(s + d, "-of-", 4)) return 0;
    s += d + 4;
    d = strspn(s, "0123456789");
    return d >= 5 && !strcmp(s + d, ".safetensors");
}

/* Refuses an output path that is one of the inputs (same device and inode). */
static int check_not_input(const STWriter *w, const char *path, Error *e) {
    struct stat st;
    if (stat(path, &st) != 0) return RP_OK;
    for (size_t i = 0; i < w->n_inputs; i++)
        if (w->inputs[i].dev == st.st_dev && w->inputs[i].ino == st.st_ino)
            return error_set(e, RP_EINPUT, "%s: is one of the inputs, which are never overwritten", path);
    return RP_OK;
}

/* Lists the export files already in dir that the new output will not replace (stale, removed
 * once the new files are in place) and checks every path the write touches. */
static int check_outputs(STWriter *w, char **finals, size_t n_finals, char ***stale, size_t *n_stale,
                         Error *e) {
    struct stat st;
    if (stat(w->dir, &st) == 0)
        for (size_t i = 0; i < w->n_inputs; i++)
            if (w->inputs[i].is_dir && w->inputs[i].dev == st.st_dev && w->inputs[i].ino == st.st_ino)
                return error_set(e, RP_EINPUT, "%s: is an input directory, whose files are never "
                                 "overwritten", w->dir);
    for (size_t i = 0; i < n_finals; i++) {
        int rc = check_not_input(w, finals[i], e);
        if (rc) return rc;
        if (!w->opt.overwrite && path_exists(finals[i]))
            return error_set(e, RP_EINPUT, "%s: exists (the writer replaces files only when told to "
                             "overwrite)", finals[i]);
    }
    DIR *dp = opendir(w->dir);
    if (!dp) return error_set(e, RP_EIO, "%s: cannot list: %s", w->dir, strerror(errno));
    int rc = RP_OK;
    struct dirent *de;
    while (!rc && (de = readdir(dp))) {
        if (!is_export_name(de->d_name)) continue;
        char *p = xasprintf(e, "%s/%s", w->dir, de->d_name);
        if (!p) {
            rc = RP_ENOMEM;
            break;
        }
        int ours = 0;
        for (size_t i = 0; i < n_finals; i++) ours |= !strcmp(finals[i], p);
        char **grown = ours ? NULL : xrealloc(*stale, (*n_stale + 1) * sizeof **stale, e);
        if (ours) free(p);
        else if (!grown) {
            free(p);
            rc = RP_ENOMEM;
        } else {
            *stale = grown;
            (*stale)[(*n_stale)++] = p;
            if (!(rc = check_not_input(w, p, e)) && !w->opt.overwrite)
                rc = error_set(e, RP_EINPUT, "%s: an earlier safetensors export is in %s (the writer "
                               "replaces one only when told to overwrite)", p, w->dir);
        }
    }
    closedir(dp);
    return rc;
}

static int write_fail(const char *path, int err, Error *e) {
    return error_set(e, RP_EIO, "%s: write failed: %s", path, file_errno_text(err));
}

/* Shard s's header and data, to tmp (final names the file in messages). */
static int write_shard(const STWriter *w, size_t s, const char *tmp, const char *final, Error *e) {
    StrBuf h;
    strbuf_init(&h);
    int rc = strbuf_puts(&h, "{\"__metadata__\":{\"format\":\"pt\"}", e);
    uint64_t off = 0;
    for (size_t i = 0; i < w->n && !rc; i++) {
        const WEntry *t = &w->t[i];
        if (t->shard != s) continue;
        if ((rc = strbuf_puts(&h, ",", e)) || (rc = strbuf_json_string(&h, t->name, e)) ||
            (rc = strbuf_printf(&h, e, ":{\"dtype\":\"%s\",\"shape\":[", st_dtype_name(w->opt.dtype))))
            break;
        for (size_t d = 0; d < t->n_dims && !rc; d++)
            rc = strbuf_printf(&h, e, "%s%llu", d ? "," : "", (unsigned long long)t->shape[d]);
        if (!rc)
            rc = strbuf_printf(&h, e, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                               (unsigned long long)(off + t->n_bytes));
        off += t->n_bytes;
    }
    if (!rc) rc = strbuf_puts(&h, "}", e);
    while (!rc && h.len % 8) rc = strbuf_puts(&h, " ", e); /* 8 + len: data 8-byte aligned */
    FILE *fp = rc ? NULL : fopen(tmp, "wb");
    if (!rc && !fp) rc = error_set(e, RP_EIO, "%s: cannot create: %s", final, file_errno_text(errno));
    uint16_t *buf = NULL;
    if (!rc && w->opt.dtype == ST_BF16 && !(buf = xmalloc(ST_BF16_CHUNK * sizeof *buf, e))) rc = RP_ENOMEM;
    uint64_t hlen = h.len;
    errno = 0;
    int bad = !rc && (fwrite(&hlen, 8, 1, fp) != 1 || fwrite(h.s, 1, h.len, fp) != h.len);
    for (size_t i = 0; i < w->n && !rc && !bad; i++) {
        const WEntry *t = &w->t[i];
        if (t->shard != s) continue;
        if (!buf) {
            bad = t->n_elems && fwrite(t->data, sizeof(float), t->n_elems, fp) != t->n_elems;
            continue;
        }
        for (uint64_t k = 0; k < t->n_elems && !bad; k += ST_BF16_CHUNK) {
            size_t m = t->n_elems - k < ST_BF16_CHUNK ? (size_t)(t->n_elems - k) : ST_BF16_CHUNK;
            for (size_t j = 0; j < m; j++) buf[j] = bf16_from_f32(t->data[k + j]);
            bad = fwrite(buf, sizeof *buf, m, fp) != m;
        }
    }
    int err = errno;
    if (fp && fclose(fp) != 0 && !bad) {
        bad = 1;
        err = errno;
    }
    if (!rc && bad) rc = write_fail(final, err, e);
    free(buf);
    strbuf_free(&h);
    return rc;
}

/* The index as transformers writes it (indented by 2, a newline at the end), tensors in the order
 * given. */
static int write_index(const STWriter *w, char **finals, const char *tmp, const char *final, Error *e) {
    StrBuf b;
    strbuf_init(&b);
    uint64_t total = 0;
    for (size_t i = 0; i < w->n; i++) total += w->t[i].n_bytes;
    int rc = strbuf_printf(&b, e, "{\n  \"metadata\": {\n    \"total_size\": %llu\n  },\n  \"weight_map\": {",
                           (unsigned long long)total);
    for (size_t i = 0; i < w->n && !rc; i++) {
        const char *shard = strrchr(finals[w->t[i].shard], '/') + 1;
        if (!(rc = strbuf_puts(&b, i ? ",\n    " : "\n    ", e)) && !(rc = strbuf_json_string(&b, w->t[i].name, e)) &&
            !(rc = strbuf_puts(&b, ": ", e)))
            rc = strbuf_json_string(&b, shard, e);
    }
    if (!rc) rc = strbuf_puts(&b, "\n  }\n}\n", e);
    FILE *fp = rc ? NULL : fopen(tmp, "wb");
    if (!rc && !fp) rc = error_set(e, RP_EIO, "%s: cannot create: %s", final, file_errno_text(errno));
    if (!rc) {
        errno = 0;
        int bad = fwrite(b.s, 1, b.len, fp) != b.len;
        int err = errno;
        if (fclose(fp) != 0 && !bad) {
            bad = 1;
            err = errno;
        }
        if (bad) rc = write_fail(final, err, e);
    }
    strbuf_free(&b);
    return rc;
}

static void free_paths(char **p, size_t n) {
    for (size_t i = 0; p && i < n; i++) free(p[i]);
    free(p);
}

/* Writes every file to its temp name, then renames them all (the index last). */
static int write_all(STWriter *w, char **finals, size_t n_shards, size_t n_finals, Error *e) {
    char **tmps = xcalloc(n_finals, sizeof *tmps, e);
    if (!tmps) return RP_ENOMEM;
    int rc = RP_OK;
    size_t made = 0;
    for (; made < n_finals && !rc; made++) {
        if (!(tmps[made] = atomic_tmp_path(finals[made], e))) {
            rc = RP_ENOMEM;
            break;
        }
        rc = made < n_shards ? write_shard(w, made, tmps[made], finals[made], e)
                             : write_index(w, finals, tmps[made], finals[made], e);
    }
    if (rc) {
        for (size_t i = 0; i < made; i++)
            if (tmps[i]) atomic_abort(tmps[i]);
    } else {
        size_t done = 0;
        while (done < n_finals && !(rc = atomic_commit(tmps[done], finals[done], e))) done++;
        /* A failed rename (atomic_commit removed that temp): the files already renamed and the
         * temps not yet renamed go too, so nothing of a half-done export stays. */
        for (size_t i = 0; rc && i < n_finals; i++)
            if (i != done) atomic_abort(i < done ? finals[i] : tmps[i]);
    }
    free_paths(tmps, n_finals);
    return rc;
}

int st_writer_finish(STWriter *w, Error *e) {
    size_t n_shards = plan_shards(w), n_finals = n_shards > 1 ? n_shards + 1 : 1;
    char **finals = xcalloc(n_finals, sizeof *finals, e), **stale = NULL;
    size_t n_stale = 0;
    int rc = finals ? RP_OK : RP_ENOMEM;
    for (size_t i = 0; i < n_finals && !rc; i++) {
        if (n_shards == 1) finals[i] = xasprintf(e, "%s/%s", w->dir, ST_SINGLE_NAME);
        else if (i < n_shards) finals[i] = xasprintf(e, "%s/model-%05zu-of-%05zu.safetensors", w->dir, i + 1, n_shards);
        else finals[i] = xasprintf(e, "%s/%s", w->dir, ST_INDEX_NAME);
        if (!finals[i]) rc = RP_ENOMEM;
    }
    /* A directory made here goes again on failure (only the last level, and only if empty). */
    int existed = path_exists(w->dir);
    if (!rc) rc = existed ? check_outputs(w, finals, n_finals, &stale, &n_stale, e) : mkdir_p(w->dir, e);
    if (!rc) rc = write_all(w, finals, n_shards, n_finals, e);
    if (rc && !existed) rmdir(w->dir);
    /* The new export is complete and in place: an earlier one's leftovers would mix with it. */
    for (size_t i = 0; i < n_stale && !rc; i++) unlink(stale[i]);
    free_paths(stale, n_stale);
    free_paths(finals, n_finals);
    return rc;
}

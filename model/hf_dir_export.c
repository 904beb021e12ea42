/* Hugging Face model directories out (see hf_dir.h): config.json, generation_config.json,
 * safetensors (one file or shards) and the tokenizer files, written into a temp directory that is
 * renamed into place at the end. */
#include "model/hf_dir.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "model/hf_config.h"
#include "model/hf_tensors.h"
#include "model/safetensors.h"

static const char *strip(const char *path) { return strncmp(path, "hf:", 3) ? path : path + 3; }


typedef struct {
    STWriter *w;
    float **copies; /* the writer keeps pointers until finish */
    size_t n, cap;
} SaveCtx;

static int save_slice(void *ctx, const HfSlice *s, float *data, Error *e) {
    SaveCtx *c = ctx;
    size_t n = (size_t)s->dims[0] * (s->rank > 1 ? (size_t)s->dims[1] : 1);
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 64;
        float **p = xrealloc(c->copies, cap * sizeof *p, e);
        if (!p) return RP_ENOMEM;
        c->copies = p, c->cap = cap;
    }
    float *copy = xmalloc(sizeof(float) * (n ? n : 1), e);
    if (!copy) return RP_ENOMEM;
    memcpy(copy, data, sizeof(float) * n);
    c->copies[c->n++] = copy;
    return st_writer_add(c->w, s->name, (size_t)s->rank, s->dims, copy, e);
}

static int write_text(const char *dir, const char *name, const char *text, Error *e) {
    char *p = xasprintf(e, "%s/%s", dir, name);
    if (!p) return RP_ENOMEM;
    int rc = atomic_write(p, text, strlen(text), e);
    free(p);
    return rc;
}

static int remove_tree(const char *path) {
    DIR *d = opendir(path);
    if (!d) return remove(path);
    struct dirent *ent;
    while ((ent = readdir(d)))
        if (strcmp(ent->d_name, ".") && strcmp(ent->d_name, "..")) {
            char *p = xasprintf(NULL, "%s/%s", path, ent->d_name);
            if (p) remove_tree(p);
            free(p);
        }
    closedir(d);
    return rmdir(path);
}

/* The exported files, written into tmp. */
static int write_all(const Model *m, const Tokenizer *t, const char *tmp, const HfDirExportOptions *o, Error *e) {
    ModelConfig c = model_config(m);
    int32_t eot = t ? tokenizer_special(t, TOK_EOT) : -1, bos = t ? tokenizer_bos(t) : -1;
    char *json = NULL, *gen = NULL;
    int rc = hf_config_write(&c, o->dtype, bos, eot, &json, e);
    if (!rc) rc = write_text(tmp, "config.json", json, e);
    if (!rc) {
        gen = bos >= 0 ? xasprintf(e, "{\n  \"bos_token_id\": %d,\n  \"eos_token_id\": %d\n}\n", bos, eot)
                       : xasprintf(e, "{\n  \"eos_token_id\": %d\n}\n", eot);
        rc = gen ? write_text(tmp, "generation_config.json", gen, e) : RP_ENOMEM;
    }
    SaveCtx sc = {0};
    STWriteOptions wo = {.dtype = o->dtype == DTYPE_BF16 ? ST_BF16 : ST_F32, .shard_bytes = o->shard_bytes};
    if (!rc) rc = st_writer_open(tmp, &wo, &sc.w, e);
    if (!rc) rc = hf_tensors_walk((Model *)m, 1, 'p', save_slice, &sc, e);
    if (!rc) rc = st_writer_finish(sc.w, e);
    st_writer_free(sc.w);
    for (size_t i = 0; i < sc.n; i++) free(sc.copies[i]);
    free(sc.copies);
    if (!rc && t) rc = tokenizer_save_hf(t, tmp, e);
    free(json);
    free(gen);
    return rc;
}

int hf_dir_export(const Model *m, const Tokenizer *t, const char *dir, const char *source, const HfDirExportOptions *o,
              Error *e) {
    if (source && !strcmp(strip(source), dir))
        return error_set(e, RP_EINPUT, "--hf %s: is the input; exporting over it is refused", dir);
    if (path_exists(dir) && !o->overwrite)
        return error_set(e, RP_EINPUT, "--hf %s: exists (remove it, or pass --overwrite)", dir);
    char *tmp = xasprintf(e, "%s.tmp.%ld", dir, (long)getpid()), *old = xasprintf(e, "%s.old.%ld", dir, (long)getpid());
    int rc = tmp && old ? RP_OK : RP_ENOMEM;
    if (!rc && mkdir(tmp, 0777) && errno != EEXIST)
        rc = error_set(e, RP_EIO, "%s: cannot create the directory: %s", tmp, strerror(errno));
    if (!rc) rc = write_all(m, t, tmp, o, e);
    /* Into place: an existing export moves aside first (rename cannot replace a non-empty
     * directory), and goes only once the new one is there. */
    int moved = 0;
    if (!rc && path_exists(dir)) {
        if (rename(dir, old)) rc = error_set(e, RP_EIO, "%s: cannot move the old export aside: %s", dir, strerror(errno));
        else moved = 1;
    }
    if (!rc && rename(tmp, dir)) {
        rc = error_set(e, RP_EIO, "%s: cannot rename %s into place: %s", dir, tmp, strerror(errno));
        if (moved) rename(old, dir);
        moved = 0;
    }
    if (tmp && rc) remove_tree(tmp);
    if (moved) remove_tree(old);
    free(tmp);
    free(old);
    return rc;
}

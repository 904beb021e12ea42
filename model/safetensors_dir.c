/* safetensors model directories: model.safetensors, or shards listed by
 * model.safetensors.index.json (transformers' layout), opened once each and checked against the
 * index, with one tensor table over all of them (see safetensors.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "core/fileio.h"
#include "core/text.h"
#include "model/safetensors.h"

#define ST_INDEX_NAME "model.safetensors.index.json"
#define ST_SINGLE_NAME "model.safetensors"

typedef struct {
    uint32_t file, tensor;
} DirEntry;

struct STDir {
    char *index_path; /* NULL without an index */
    STFile **files;
    size_t n_files;
    DirEntry *entries;
    size_t n_entries;
    StrMap by_name; /* tensor name -> entry */
};

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

static int add_file(STDir *d, const char *path, Error *e) {
    STFile **files = xrealloc(d->files, (d->n_files + 1) * sizeof *files, e);
    if (!files) return RP_ENOMEM;
    d->files = files;
    int rc = st_open(path, &d->files[d->n_files], e);
    if (!rc) d->n_files++;
    return rc;
}

/* The tensor table over every shard, in shard order, and its name index (names are unique: within
 * a file by st_open, across shards by open_index). */
static int build_table(STDir *d, Error *e) {
    size_t total = 0;
    for (size_t i = 0; i < d->n_files; i++) total += st_tensor_count(d->files[i]);
    d->entries = xcalloc(total ? total : 1, sizeof *d->entries, e);
    int rc = d->entries ? strmap_init(&d->by_name, total, e) : RP_ENOMEM;
    for (size_t i = 0; i < d->n_files && !rc; i++)
        for (size_t j = 0; j < st_tensor_count(d->files[i]) && !rc; j++) {
            const char *name = st_tensor_at(d->files[i], j)->name;
            d->entries[d->n_entries] = (DirEntry){(uint32_t)i, (uint32_t)j};
            rc = strmap_put(&d->by_name, name, strlen(name), (int64_t)d->n_entries++, e);
        }
    return rc;
}

/* Opens every shard the index names (in the order it first names them) and checks that the
 * index and the shards agree tensor for tensor. */
static int open_index(STDir *d, Error *e) {
    const char *ip = d->index_path;
    char *text = NULL;
    size_t len = 0;
    int rc = file_read_all(ip, &text, &len, e);
    if (rc) return rc;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *wm = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "weight_map") : NULL;
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    char nb[128], sb[128], ob[128];
    if (!root) rc = error_set(e, RP_EINPUT, "%s: not valid JSON", ip);
    else if (!cJSON_IsObject(root)) rc = error_set(e, RP_EINPUT, "%s: not a JSON object", ip);
    else if (!cJSON_IsObject(wm)) rc = error_set(e, RP_EINPUT, "%s: weight_map is %s", ip, wm ? "not a JSON object" : "missing");
    else if (meta && !cJSON_IsObject(meta)) rc = error_set(e, RP_EINPUT, "%s: metadata is not a JSON object", ip);
    StrMap shards = {0}, mapped = {0}; /* shard name -> file index; tensor -> file index */
    size_t n_map = wm ? (size_t)cJSON_GetArraySize(wm) : 0;
    if (!rc) rc = strmap_init(&shards, 8, e);
    if (!rc) rc = strmap_init(&mapped, n_map, e);
    char *dir = rc ? NULL : xstrdup(ip, e);
    if (!rc && !dir) rc = RP_ENOMEM;
    if (dir) {
        char *slash = strrchr(dir, '/');
        if (slash) slash[1] = '\0';
        else dir[0] = '\0';
    }
    for (const cJSON *c = wm ? wm->child : NULL; c && !rc; c = c->next) {
        const char *s = c->valuestring;
        int64_t fi;
        if (!cJSON_IsString(c) || !*s || strchr(s, '/') || !strcmp(s, ".") || !strcmp(s, "..")) {
            rc = error_set(e, RP_EINPUT, "%s: weight_map: tensor '%s': the shard is not a file name "
                           "in the index's directory", ip, st_shown(c->string, nb));
            break;
        }
        if (strmap_get(&mapped, c->string, strlen(c->string), &fi)) {
            rc = error_set(e, RP_EINPUT, "%s: weight_map: tensor '%s' is listed twice", ip, st_shown(c->string, nb));
            break;
        }
        if (!strmap_get(&shards, s, strlen(s), &fi)) {
            char *path = xasprintf(e, "%s%s", dir, s);
            rc = path ? add_file(d, path, e) : RP_ENOMEM;
            free(path);
            if (rc) {
                error_wrap(e, "%s: weight_map: tensor '%s' is in shard '%s'", ip, st_shown(c->string, nb), st_shown(s, sb));
                break;
            }
            fi = (int64_t)d->n_files - 1;
            if ((rc = strmap_put(&shards, s, strlen(s), fi, e))) break;
        }
        rc = strmap_put(&mapped, c->string, strlen(c->string), fi, e);
    }
    /* Both directions: the index's every tensor is where it says, and every shard's every
     * tensor is one the index maps to that shard. */
    for (const cJSON *c = wm ? wm->child : NULL; c && !rc; c = c->next) {
        int64_t fi = 0;
        strmap_get(&mapped, c->string, strlen(c->string), &fi);
        if (!st_find(d->files[fi], c->string, NULL))
            rc = error_set(e, RP_EINPUT, "%s: weight_map: tensor '%s' is in shard '%s', which does not "
                           "hold it", ip, st_shown(c->string, nb), st_shown(c->valuestring, sb));
    }
    for (size_t i = 0; i < d->n_files && !rc; i++)
        for (size_t j = 0; j < st_tensor_count(d->files[i]) && !rc; j++) {
            const char *name = st_tensor_at(d->files[i], j)->name;
            int64_t fi;
            const char *fname = strrchr(st_path(d->files[i]), '/');
            fname = fname ? fname + 1 : st_path(d->files[i]);
            if (!strmap_get(&mapped, name, strlen(name), &fi))
                rc = error_set(e, RP_EINPUT, "%s: shard '%s' holds tensor '%s', which weight_map does "
                               "not list", ip, st_shown(fname, sb), st_shown(name, nb));
            else if ((size_t)fi != i) {
                const char *other = strrchr(st_path(d->files[fi]), '/');
                rc = error_set(e, RP_EINPUT, "%s: tensor '%s' is in two shards: weight_map says '%s', "
                               "but '%s' holds it too", ip, st_shown(name, nb),
                               st_shown(other ? other + 1 : st_path(d->files[fi]), ob), st_shown(fname, sb));
            }
        }
    strmap_free(&shards);
    strmap_free(&mapped);
    free(dir);
    cJSON_Delete(root);
    return rc;
}

int st_dir_open(const char *path, STDir **out, Error *e) {
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0) return error_set(e, RP_EINPUT, "%s: cannot open: %s", path, strerror(errno));
    STDir *d = xcalloc(1, sizeof *d, e);
    if (!d) return RP_ENOMEM;
    int rc = RP_OK;
    if (S_ISDIR(st.st_mode)) {
        char *ip = xasprintf(e, "%s/%s", path, ST_INDEX_NAME);
        char *sp = xasprintf(e, "%s/%s", path, ST_SINGLE_NAME);
        if (!ip || !sp) rc = RP_ENOMEM;
        else if (path_exists(ip)) {
            d->index_path = ip;
            ip = NULL;
            rc = open_index(d, e);
        } else if (path_exists(sp)) rc = add_file(d, sp, e);
        else rc = error_set(e, RP_EINPUT, "%s: a directory with neither %s nor %s", path, ST_INDEX_NAME, ST_SINGLE_NAME);
        free(ip);
        free(sp);
    } else if (ends_with(path, ".json")) {
        rc = (d->index_path = xstrdup(path, e)) ? open_index(d, e) : RP_ENOMEM;
    } else {
        rc = add_file(d, path, e);
    }
    if (!rc) rc = build_table(d, e);
    if (rc) {
        st_dir_close(d);
        return rc;
    }
    *out = d;
    return RP_OK;
}

void st_dir_close(STDir *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n_files; i++) st_close(d->files[i]);
    free(d->files);
    free(d->entries);
    strmap_free(&d->by_name);
    free(d->index_path);
    free(d);
}

const char *st_dir_index_path(const STDir *d) { return d->index_path; }
size_t st_dir_file_count(const STDir *d) { return d->n_files; }
const STFile *st_dir_file(const STDir *d, size_t i) { return i < d->n_files ? d->files[i] : NULL; }
size_t st_dir_tensor_count(const STDir *d) { return d->n_entries; }

const STTensor *st_dir_tensor_at(const STDir *d, size_t i, const STFile **file) {
    if (i >= d->n_entries) return NULL;
    const STFile *f = d->files[d->entries[i].file];
    if (file) *file = f;
    return st_tensor_at(f, d->entries[i].tensor);
}

const STTensor *st_dir_find(const STDir *d, const char *name, const STFile **file) {
    int64_t i;
    if (!strmap_get(&d->by_name, name, strlen(name), &i)) return NULL;
    return st_dir_tensor_at(d, (size_t)i, file);
}

int st_dir_read_f32(const STDir *d, const char *name, float *dst, Error *e) {
    int64_t i;
    char nb[128];
    if (!strmap_get(&d->by_name, name, strlen(name), &i))
        return error_set(e, RP_EINPUT, "%s: no tensor '%s'",
                         d->index_path ? d->index_path : st_path(d->files[0]), st_shown(name, nb));
    const DirEntry *en = &d->entries[i];
    return st_tensor_read_f32(d->files[en->file], en->tensor, dst, e);
}

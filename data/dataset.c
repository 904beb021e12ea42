/* Dataset building, validation and HDF5 I/O (see dataset.h). */
#include "data/dataset.h"

#include <stdlib.h>
#include <string.h>

#include "core/h5.h"

static char **const *columns(const Dataset *d, int k) {
    static const size_t off[] = {offsetof(Dataset, id), offsetof(Dataset, user), offsetof(Dataset, split),
                                 offsetof(Dataset, input), offsetof(Dataset, output), offsetof(Dataset, reasoning)};
    return (char **const *)((const char *)d + off[k]);
}
static const char *COLUMN_NAMES[] = {"id", "user_id", "split", "input", "output", "reasoning"};
#define N_COLUMNS 6

int dataset_init(Dataset *d, const char *task, Error *e) {
    memset(d, 0, sizeof *d);
    d->task = task_find(task);
    if (!d->task) return error_set(e, RP_EINPUT, "unknown task '%s' (known: %s)", task, task_names());
    d->n_fields = d->task->n_fields;
    d->prof_off = xcalloc(1, sizeof(int64_t), e);
    if (!d->prof_off) return RP_ENOMEM;
    return strmap_init(&d->index, 1024, e);
}

void dataset_free(Dataset *d) {
    for (int k = 0; k < N_COLUMNS; k++) {
        char **col = *columns(d, k);
        if (!col) continue;
        for (int64_t i = 0; i < d->n; i++) free(col[i]);
        free(col);
    }
    if (d->items)
        for (int64_t i = 0; i < d->n_items * d->n_fields; i++) free(d->items[i]);
    free(d->items);
    free(d->prof_off);
    strmap_free(&d->index);
    memset(d, 0, sizeof *d);
}

static int check_utf8(const char *s, const char *what, Error *e) {
    size_t bad;
    if (!utf8_valid(s, strlen(s), &bad))
        return error_set(e, RP_EINPUT, "field '%s': invalid UTF-8 at byte %zu", what, bad);
    return RP_OK;
}

int dataset_add(Dataset *d, const char *id, const char *user, const char *split, const char *input,
                const char *output, const char *reasoning, Error *e) {
    const char *vals[N_COLUMNS] = {id, user, split, input, output, reasoning ? reasoning : ""};
    for (int k = 0; k < N_COLUMNS; k++) {
        int rc = check_utf8(vals[k], COLUMN_NAMES[k], e);
        if (rc) return rc;
    }
    int64_t prev;
    if (strmap_get(&d->index, id, strlen(id), &prev))
        return error_set(e, RP_EINPUT, "duplicate id '%s' (first seen as example %lld)", id, (long long)prev);
    if (d->n == d->cap) {
        int64_t cap = d->cap ? 2 * d->cap : 256;
        for (int k = 0; k < N_COLUMNS; k++) {
            char ***col = (char ***)columns(d, k);
            char **nc = xrealloc(*col, sizeof(char *) * (size_t)cap, e);
            if (!nc) return RP_ENOMEM;
            *col = nc;
        }
        int64_t *po = xrealloc(d->prof_off, sizeof(int64_t) * (size_t)(cap + 1), e);
        if (!po) return RP_ENOMEM;
        d->prof_off = po;
        d->cap = cap;
    }
    for (int k = 0; k < N_COLUMNS; k++) {
        char **col = *columns(d, k);
        col[d->n] = xstrdup(vals[k], e);
        if (!col[d->n]) {
            for (int j = 0; j < k; j++) free((*columns(d, j))[d->n]);
            return RP_ENOMEM;
        }
    }
    if (strmap_put(&d->index, id, strlen(id), d->n, e)) return RP_ENOMEM;
    d->n++;
    d->prof_off[d->n] = d->n_items;
    return RP_OK;
}

int dataset_add_item(Dataset *d, const char *const *values, Error *e) {
    if (d->n == 0) return error_set(e, RP_EINTERNAL, "dataset_add_item before any example");
    for (int f = 0; f < d->n_fields; f++) {
        int rc = check_utf8(values[f], d->task->fields[f], e);
        if (rc) return error_wrap(e, "profile item %lld", (long long)dataset_n_items(d, d->n - 1));
    }
    if (d->n_items == d->item_cap) {
        int64_t cap = d->item_cap ? 2 * d->item_cap : 1024;
        char **ni = xrealloc(d->items, sizeof(char *) * (size_t)(cap * d->n_fields), e);
        if (!ni) return RP_ENOMEM;
        d->items = ni;
        d->item_cap = cap;
    }
    char **slot = d->items + d->n_items * d->n_fields;
    for (int f = 0; f < d->n_fields; f++) {
        slot[f] = xstrdup(values[f], e);
        if (!slot[f]) {
            for (int j = 0; j < f; j++) free(slot[j]);
            return RP_ENOMEM;
        }
    }
    d->n_items++;
    d->prof_off[d->n] = d->n_items;
    return RP_OK;
}

int64_t dataset_find(const Dataset *d, const char *id) {
    int64_t v;
    return strmap_get(&d->index, id, strlen(id), &v) ? v : -1;
}

int dataset_set_reasoning(Dataset *d, int64_t i, const char *reasoning, Error *e) {
    int rc = check_utf8(reasoning, "reasoning", e);
    if (rc) return rc;
    char *s = xstrdup(reasoning, e);
    if (!s) return RP_ENOMEM;
    free(d->reasoning[i]);
    d->reasoning[i] = s;
    return RP_OK;
}

int dataset_validate(const Dataset *d, const char *source, Error *e) {
    if (d->n == 0) return error_set(e, RP_EINPUT, "%s: no examples", source);
    for (int64_t i = 0; i < d->n; i++) {
        const char *sp = d->split[i];
        if (strcmp(sp, "train") && strcmp(sp, "val") && strcmp(sp, "test"))
            return error_set(e, RP_EINPUT, "%s: example '%s' (record %lld): field 'split' is '%s', expected train, val or test",
                             source, d->id[i], (long long)i, sp);
        if (dataset_n_items(d, i) == 0)
            return error_set(e, RP_EINPUT, "%s: example '%s' (record %lld): field 'profile' is empty", source, d->id[i], (long long)i);
        if (!d->id[i][0]) return error_set(e, RP_EINPUT, "%s: record %lld: field 'id' is empty", source, (long long)i);
    }
    return RP_OK;
}

int dataset_write(const Dataset *d, const char *path, Error *e) {
    char *tmp;
    hid_t f;
    int rc = h5_create(path, DATASET_FORMAT, DATASET_VERSION, &tmp, &f, e);
    if (rc) return rc;
    char **fields = (char **)d->task->fields;
    if ((rc = h5_attr_set_str(f, "task", d->task->name, e)) || (rc = h5_mkgroups(f, "examples", e)) ||
        (rc = h5_mkgroups(f, "profile", e)))
        goto fail;
    for (int k = 0; k < N_COLUMNS && !rc; k++) {
        char name[64];
        snprintf(name, sizeof name, "examples/%s", COLUMN_NAMES[k]);
        rc = h5_write_strings(f, name, *columns(d, k), d->n, e);
    }
    if (rc) goto fail;
    hsize_t dims[1] = {(hsize_t)(d->n + 1)};
    if ((rc = h5_write_array(f, "examples/profile_offset", H5T_NATIVE_INT64, 1, dims, d->prof_off, e))) goto fail;
    if ((rc = h5_write_strings(f, "profile/fields", fields, d->n_fields, e))) goto fail;
    char **col = xmalloc(sizeof(char *) * (size_t)(d->n_items ? d->n_items : 1), e);
    if (!col) {
        rc = RP_ENOMEM;
        goto fail;
    }
    for (int fi = 0; fi < d->n_fields && !rc; fi++) {
        for (int64_t k = 0; k < d->n_items; k++) col[k] = d->items[k * d->n_fields + fi];
        char name[64];
        snprintf(name, sizeof name, "profile/%s", fields[fi]);
        rc = h5_write_strings(f, name, col, d->n_items, e);
    }
    free(col);
    if (rc) goto fail;
    rc = h5_commit(f, tmp, path, e);
    free(tmp);
    return rc;
fail:
    h5_abort(f, tmp);
    free(tmp);
    return error_wrap(e, "%s", path);
}

int dataset_read(const char *path, Dataset *d, Error *e) {
    hid_t f;
    int rc = h5_open_read(path, DATASET_FORMAT, DATASET_VERSION, &f, e);
    if (rc) return rc;
    char *task = NULL;
    char **cols[N_COLUMNS] = {0};
    int64_t ncol[N_COLUMNS] = {0};
    int64_t *off = NULL;
    char **field_cols[TASK_MAX_FIELDS] = {0};
    int64_t nf[TASK_MAX_FIELDS] = {0};
    char **fnames = NULL;
    int64_t n_fnames = 0;
    memset(d, 0, sizeof *d);
    if ((rc = h5_attr_get_str(f, "task", &task, e))) goto out;
    if ((rc = dataset_init(d, task, e))) goto out;
    for (int k = 0; k < N_COLUMNS; k++) {
        char name[64];
        snprintf(name, sizeof name, "examples/%s", COLUMN_NAMES[k]);
        if ((rc = h5_read_strings(f, name, &cols[k], &ncol[k], e))) goto out;
        if (ncol[k] != ncol[0]) {
            rc = error_set(e, RP_EINPUT, "%s has %lld entries, examples/id has %lld", name, (long long)ncol[k], (long long)ncol[0]);
            goto out;
        }
    }
    int64_t n = ncol[0];
    hsize_t dims[1];
    if ((rc = h5_read_array(f, "examples/profile_offset", H5T_NATIVE_INT64, 1, dims, (void **)&off, e))) goto out;
    if ((int64_t)dims[0] != n + 1 || off[0] != 0) {
        rc = error_set(e, RP_EINPUT, "examples/profile_offset: expected %lld entries starting at 0", (long long)(n + 1));
        goto out;
    }
    if ((rc = h5_read_strings(f, "profile/fields", &fnames, &n_fnames, e))) goto out;
    if (n_fnames != d->n_fields) {
        rc = error_set(e, RP_EINPUT, "profile/fields: %lld fields, task %s has %d", (long long)n_fnames, task, d->n_fields);
        goto out;
    }
    for (int fi = 0; fi < d->n_fields; fi++) {
        char name[64];
        snprintf(name, sizeof name, "profile/%s", d->task->fields[fi]);
        if ((rc = h5_read_strings(f, name, &field_cols[fi], &nf[fi], e))) goto out;
        if (nf[fi] != off[n]) {
            rc = error_set(e, RP_EINPUT, "%s: %lld items, profile_offset ends at %lld", name, (long long)nf[fi], (long long)off[n]);
            goto out;
        }
    }
    for (int64_t i = 0; i < n && !rc; i++) {
        /* Checked before the items are indexed: an offset past off[n] would read beyond the columns. */
        if (off[i + 1] < off[i] || off[i + 1] > off[n]) {
            rc = error_set(e, RP_EINPUT, "examples/profile_offset: record %lld: offset %lld is out of order (0..%lld)",
                           (long long)i, (long long)off[i + 1], (long long)off[n]);
            break;
        }
        rc = dataset_add(d, cols[0][i], cols[1][i], cols[2][i], cols[3][i], cols[4][i], cols[5][i], e);
        if (rc) {
            error_wrap(e, "record %lld", (long long)i);
            break;
        }
        for (int64_t k = off[i]; k < off[i + 1] && !rc; k++) {
            const char *vals[TASK_MAX_FIELDS];
            for (int fi = 0; fi < d->n_fields; fi++) vals[fi] = field_cols[fi][k];
            rc = dataset_add_item(d, vals, e);
        }
    }
out:
    for (int k = 0; k < N_COLUMNS; k++) h5_strings_free(cols[k], ncol[k]);
    for (int fi = 0; fi < TASK_MAX_FIELDS; fi++) h5_strings_free(field_cols[fi], nf[fi]);
    h5_strings_free(fnames, n_fnames);
    free(off);
    free(task);
    h5_close(f);
    if (rc) {
        dataset_free(d);
        return error_wrap(e, "%s", path);
    }
    return RP_OK;
}

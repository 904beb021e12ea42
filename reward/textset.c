/* Reading (id, text) records for scoring; see textset.h. */
#include "reward/textset.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"

static int add(TextSet *t, const cJSON *id, const cJSON *text, const char *text_field, const char *where,
               Error *e) {
    char idbuf[64];
    const char *ids;
    if (cJSON_IsString(id)) {
        ids = id->valuestring;
    } else if (cJSON_IsNumber(id) && id->valuedouble == floor(id->valuedouble) && fabs(id->valuedouble) < 1e15) {
        snprintf(idbuf, sizeof idbuf, "%.0f", id->valuedouble);
        ids = idbuf;
    } else {
        return error_set(e, RP_EINPUT, "%s: %s: field 'id' is %s (want a string or an integer)", t->path, where,
                         id ? "not a string or integer" : "missing");
    }
    if (!cJSON_IsString(text))
        return error_set(e, RP_EINPUT, "%s: %s (id '%s'): field '%s' is %s", t->path, where, ids, text_field,
                         text ? "not a string" : "missing");
    size_t bad;
    if (!utf8_valid(ids, strlen(ids), &bad))
        return error_set(e, RP_EINPUT, "%s: %s: field 'id' is not valid UTF-8", t->path, where);
    if (!utf8_valid(text->valuestring, strlen(text->valuestring), &bad))
        return error_set(e, RP_EINPUT, "%s: %s (id '%s'): field '%s' is not valid UTF-8 (byte %zu)", t->path,
                         where, ids, text_field, bad);
    int64_t prev;
    if (strmap_get(&t->index, ids, strlen(ids), &prev))
        return error_set(e, RP_EINPUT, "%s: %s: duplicate id '%s' (first at %s)", t->path, where, ids,
                         t->where[prev]);
    if ((t->n & (t->n - 1)) == 0) { /* grow at powers of two */
        size_t cap = t->n ? 2 * t->n : 1;
        char **a = xrealloc(t->id, cap * sizeof *a, e);
        if (!a) return e->code;
        t->id = a;
        if (!(a = xrealloc(t->text, cap * sizeof *a, e))) return e->code;
        t->text = a;
        if (!(a = xrealloc(t->where, cap * sizeof *a, e))) return e->code;
        t->where = a;
    }
    t->id[t->n] = xstrdup(ids, e);
    t->text[t->n] = xstrdup(text->valuestring, e);
    t->where[t->n] = xstrdup(where, e);
    t->n++; /* counted before the checks so textset_free releases whatever was allocated */
    if (!t->id[t->n - 1] || !t->text[t->n - 1] || !t->where[t->n - 1]) return RP_ENOMEM;
    return strmap_put(&t->index, ids, strlen(ids), (int64_t)(t->n - 1), e);
}

static int read_golds(TextSet *t, const cJSON *root, Error *e) {
    const cJSON *golds = cJSON_GetObjectItemCaseSensitive(root, "golds");
    if (!cJSON_IsArray(golds))
        return error_set(e, RP_EINPUT, "%s: field 'golds' is %s (want a list of {id, output})", t->path,
                         golds ? "not a list" : "missing");
    int i = 0;
    for (const cJSON *g = golds->child; g; g = g->next, i++) {
        char where[48];
        snprintf(where, sizeof where, "golds[%d]", i);
        if (!cJSON_IsObject(g)) return error_set(e, RP_EINPUT, "%s: %s is not an object", t->path, where);
        int rc = add(t, cJSON_GetObjectItemCaseSensitive(g, "id"), cJSON_GetObjectItemCaseSensitive(g, "output"),
                     "output", where, e);
        if (rc) return rc;
    }
    return RP_OK;
}

static int read_lines(TextSet *t, char *data, size_t len, Error *e) {
    size_t line = 0;
    for (char *p = data, *end = data + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line++;
        char *q = p;
        while (q < p + n && (*q == ' ' || *q == '\t' || *q == '\r')) q++;
        if (q < p + n) {
            char where[48];
            snprintf(where, sizeof where, "line %zu", line);
            cJSON *o = cJSON_ParseWithLength(p, n);
            if (!cJSON_IsObject(o)) {
                cJSON_Delete(o);
                return error_set(e, RP_EINPUT, "%s: %s is not a JSON object (want {\"id\": ..., \"text\": ...})",
                                 t->path, where);
            }
            int rc = add(t, cJSON_GetObjectItemCaseSensitive(o, "id"), cJSON_GetObjectItemCaseSensitive(o, "text"),
                         "text", where, e);
            cJSON_Delete(o);
            if (rc) return rc;
        }
        p += n + 1;
    }
    return RP_OK;
}

int textset_read(const char *path, TextSet *t, Error *e) {
    memset(t, 0, sizeof *t);
    char *data;
    size_t len;
    if (file_read_all(path, &data, &len, e)) {
        e->code = RP_EINPUT; /* a missing or unreadable input file is the user's to fix */
        return RP_EINPUT;
    }
    int rc = strmap_init(&t->index, 1024, e);
    if (rc == RP_OK && !(t->path = xstrdup(path, e))) rc = RP_ENOMEM;
    if (rc == RP_OK) {
        /* A LongLaMP file is one object with "golds"; anything else is read as JSON Lines. */
        cJSON *root = cJSON_ParseWithLength(data, len);
        if (cJSON_IsObject(root) && cJSON_GetObjectItemCaseSensitive(root, "golds")) {
            t->shape = "golds";
            rc = read_golds(t, root, e);
        } else {
            t->shape = "jsonl";
            rc = read_lines(t, data, len, e);
        }
        cJSON_Delete(root);
    }
    free(data);
    if (rc == RP_OK && t->n == 0) rc = error_set(e, RP_EINPUT, "%s: no records", path);
    if (rc) textset_free(t);
    return rc;
}

void textset_free(TextSet *t) {
    for (size_t i = 0; i < t->n; i++) {
        free(t->id[i]);
        free(t->text[i]);
        free(t->where[i]);
    }
    free(t->id);
    free(t->text);
    free(t->where);
    free(t->path);
    strmap_free(&t->index);
    memset(t, 0, sizeof *t);
}

int64_t textset_find(const TextSet *t, const char *id) {
    int64_t i;
    return strmap_get(&t->index, id, strlen(id), &i) ? i : -1;
}

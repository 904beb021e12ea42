/* LongLaMP import: JSON Lines (Hugging Face export) and the GitHub questions/outputs pair
 * (see longlamp.h). Both shapes share the per-row code: a row is checked field by field before
 * it reaches the dataset, so every message can name the exact field that is wrong. */
#include "data/longlamp.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/log.h"

/* How one LongLaMP task spells its rows. Variant 0 of item_keys is the task's canonical field
 * order (checked against data/task.c in schema_find); further variants are aliases. */
typedef struct {
    const char *task;
    const char *user_keys[3];
    int n_variants;
    const char *item_keys[2][TASK_MAX_FIELDS];
    int number_field; /* the one field that may be a JSON number (review `overall`), or -1 */
} Schema;

static const Schema SCHEMAS[] = {
    {"abstract_generation", {"name", "user_id", NULL}, 1, {{"title", "abstract"}}, -1},
    {"product_review", {"reviewerId", "user_id", NULL}, 1, {{"overall", "summary", "description", "reviewText"}}, 0},
    {"topic_writing", {"author", "user_id", NULL}, 2, {{"summary", "content"}, {"input", "output"}}, -1},
    {"email_completion", {"user_id", "user", NULL}, 1, {{"title", "text"}}, -1},
};
#define N_SCHEMAS (sizeof SCHEMAS / sizeof SCHEMAS[0])

static int schema_find(const TaskInfo *t, const Schema **out, Error *e) {
    for (size_t i = 0; i < N_SCHEMAS; i++) {
        const Schema *s = &SCHEMAS[i];
        if (strcmp(s->task, t->name)) continue;
        for (int f = 0; f < t->n_fields; f++)
            if (strcmp(s->item_keys[0][f], t->fields[f]))
                return error_set(e, RP_EINTERNAL, "LongLaMP schema of %s disagrees with the task table", t->name);
        *out = s;
        return RP_OK;
    }
    return error_set(e, RP_EINPUT, "task '%s' is not a LongLaMP task (expected abstract_generation, product_review, "
                     "topic_writing or email_completion)", t->name);
}

int longlamp_split_name(const char *name, const char **canonical, Error *e) {
    static const char *const names[][2] = {{"train", "train"}, {"val", "val"},       {"dev", "val"},
                                           {"validation", "val"}, {"test", "test"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i][0])) {
            *canonical = names[i][1];
            return RP_OK;
        }
    return error_set(e, RP_EINPUT, "split '%s' is not one of train, val (or dev, validation), test", name);
}

/* Where a row came from, for messages: "file: line 7 (id 'x')" or "file: record 3 (id 'x')". */
typedef struct {
    const char *file;
    long line;   /* 1-based line of a JSON Lines file; 0 for a record of a JSON list */
    long record; /* 0-based index in a JSON list */
    char id[96]; /* the example id once known; truncated for display */
} Where;

/* The description of w, allocated so a long file name never pushes the line number out; NULL
 * when out of memory, where callers fall back to the bare file name (it only feeds a message). */
static char *where_str(const Where *w) {
    const char *unit = w->line ? "line" : "record";
    long at = w->line ? w->line : w->record;
    return w->id[0] ? xasprintf(NULL, "%s: %s %ld (id '%s')", w->file, unit, at, w->id)
                    : xasprintf(NULL, "%s: %s %ld", w->file, unit, at);
}

static int fail(const Where *w, const char *field, Error *e, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(const Where *w, const char *field, Error *e, const char *fmt, ...) {
    char what[1024]; /* a message fragment: Error.msg holds 2048 bytes in all anyway */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    char *where = where_str(w);
    int rc = error_set(e, RP_EINPUT, "%s: field '%s': %s", where ? where : w->file, field, what);
    free(where);
    return rc;
}

static const char *json_type(const cJSON *v) {
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsNumber(v)) return "a number";
    if (cJSON_IsObject(v)) return "an object";
    if (cJSON_IsArray(v)) return "a list";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    return "an invalid value";
}

enum { TEXT_STRING, TEXT_OR_DECIMAL, TEXT_OR_INTEGER };

/* Reads a text field. Numbers are accepted only where `kind` allows: a rating is rendered the
 * way Python prints a float (5 -> "5.0", 4.5 -> "4.5"), an id as a plain integer. The result
 * points into v or into num (at least 40 bytes). */
static int get_text(const cJSON *v, int kind, const Where *w, const char *field, char *num, const char **out, Error *e) {
    if (!v) return fail(w, field, e, "missing");
    if (cJSON_IsString(v)) {
        size_t bad;
        if (!utf8_valid(v->valuestring, strlen(v->valuestring), &bad))
            return fail(w, field, e, "invalid UTF-8 at byte %zu", bad);
        *out = v->valuestring;
        return RP_OK;
    }
    double x = v->valuedouble;
    if (cJSON_IsNumber(v) && kind == TEXT_OR_DECIMAL && isfinite(x)) {
        for (int p = 1; p <= 17; p++) {
            snprintf(num, 40, "%.*f", p, x);
            if (strtod(num, NULL) == x) break;
        }
        *out = num;
        return RP_OK;
    }
    if (cJSON_IsNumber(v) && kind == TEXT_OR_INTEGER && x == floor(x) && fabs(x) < 9007199254740992.0) {
        snprintf(num, 40, "%.0f", x);
        *out = num;
        return RP_OK;
    }
    return fail(w, field, e, "expected %s, got %s", kind == TEXT_STRING ? "a string" : kind == TEXT_OR_DECIMAL ? "a string or a number" : "a string or an integer",
                json_type(v));
}

/* Chooses the key variant an item uses: the first variant with any of its keys present. */
static int item_variant(const Schema *s, int n_fields, const cJSON *item) {
    for (int v = 0; v < s->n_variants; v++)
        for (int f = 0; f < n_fields; f++)
            if (cJSON_GetObjectItemCaseSensitive(item, s->item_keys[v][f])) return v;
    return 0;
}

static int add_profile(Dataset *d, const Schema *s, const cJSON *profile, const Where *w, Error *e) {
    if (!profile) return fail(w, "profile", e, "missing");
    if (!cJSON_IsArray(profile)) return fail(w, "profile", e, "expected a list of objects, got %s", json_type(profile));
    if (!cJSON_GetArraySize(profile)) return fail(w, "profile", e, "is empty (every example needs profile items)");
    int k = 0;
    for (const cJSON *item = profile->child; item; item = item->next, k++) {
        char field[128];
        snprintf(field, sizeof field, "profile[%d]", k);
        if (!cJSON_IsObject(item)) return fail(w, field, e, "expected an object, got %s", json_type(item));
        int v = item_variant(s, d->n_fields, item);
        const char *vals[TASK_MAX_FIELDS];
        char num[TASK_MAX_FIELDS][40];
        for (int f = 0; f < d->n_fields; f++) {
            const char *key = s->item_keys[v][f];
            snprintf(field, sizeof field, "profile[%d].%s", k, key);
            const cJSON *x = cJSON_GetObjectItemCaseSensitive(item, key);
            if (!x && s->n_variants > 1)
                return fail(w, field, e, "missing (%s profile items need %s/%s or %s/%s)", s->task, s->item_keys[0][0],
                            s->item_keys[0][1], s->item_keys[1][0], s->item_keys[1][1]);
            int rc = get_text(x, f == s->number_field ? TEXT_OR_DECIMAL : TEXT_STRING, w, field, num[f], &vals[f], e);
            if (rc) return rc;
        }
        int rc = dataset_add_item(d, vals, e);
        if (rc) return rc;
    }
    return RP_OK;
}

/* Adds one row. id_fallback names the example when the row has no `id` (JSON Lines); output,
 * when non-NULL, is the gold from an outputs file instead of the row's own `output`. A missing
 * user field falls back to the id only where user_fallback is set (GitHub questions). */
static int add_row(Dataset *d, const Schema *s, const cJSON *row, const char *id_fallback, const char *output,
                   int user_fallback, const char *split, Where *w, Error *e) {
    char id_num[40], user_num[40];
    const char *id = id_fallback, *user = NULL, *input = NULL;
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(row, "id");
    int rc;
    if ((x || !id_fallback) && (rc = get_text(x, TEXT_OR_INTEGER, w, "id", id_num, &id, e))) return rc;
    if (!id[0]) return fail(w, "id", e, "is empty");
    snprintf(w->id, sizeof w->id, "%s", id);
    const char *user_key = NULL;
    for (int k = 0; k < 3 && s->user_keys[k] && !user_key; k++)
        if (cJSON_GetObjectItemCaseSensitive(row, s->user_keys[k])) user_key = s->user_keys[k];
    if (user_key) {
        if ((rc = get_text(cJSON_GetObjectItemCaseSensitive(row, user_key), TEXT_OR_INTEGER, w, user_key, user_num, &user, e)))
            return rc;
        if (!user[0]) return fail(w, user_key, e, "is empty");
    } else if (user_fallback) {
        user = id;
    } else {
        return fail(w, s->user_keys[0], e, "missing (the user field of %s rows; '%s' is accepted too)", s->task, s->user_keys[1]);
    }
    if ((rc = get_text(cJSON_GetObjectItemCaseSensitive(row, "input"), TEXT_STRING, w, "input", NULL, &input, e))) return rc;
    if (!output && (rc = get_text(cJSON_GetObjectItemCaseSensitive(row, "output"), TEXT_STRING, w, "output", NULL, &output, e)))
        return rc;
    if ((rc = dataset_add(d, id, user, split, input, output, NULL, e))) {
        if (rc != RP_EINPUT) return rc;
        char *where = where_str(w);
        rc = error_wrap(e, "%s: field 'id'", where ? where : w->file);
        free(where);
        return rc;
    }
    return add_profile(d, s, cJSON_GetObjectItemCaseSensitive(row, "profile"), w, e);
}

/* Line and column (1-based) of byte offset off in text, for JSON syntax errors. */
static void line_col(const char *text, size_t off, long *line, long *col) {
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* Parses one JSON value spanning text[0..n) exactly (whitespace around it is fine). On a syntax
 * error *bad gets the byte offset where parsing stopped. */
static cJSON *parse_exact(const char *text, size_t n, size_t *bad) {
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(text, n, &end, 0);
    size_t off = end ? (size_t)(end - text) : 0;
    if (v) {
        while (off < n && isspace((unsigned char)text[off])) off++;
        if (off == n) return v;
        cJSON_Delete(v);
    }
    *bad = off;
    return NULL;
}

static int syntax_error(const char *path, const char *text, size_t n, size_t off, long line_base, Error *e) {
    long line, col;
    line_col(text, off < n ? off : n, &line, &col);
    char near[32] = "";
    size_t k = 0;
    for (size_t i = off; i < n && k < 20 && text[i] != '\n'; i++) near[k++] = isprint((unsigned char)text[i]) ? text[i] : '?';
    near[k] = '\0';
    return error_set(e, RP_EINPUT, "%s: line %ld, column %ld: malformed JSON%s%s%s", path, line + line_base, col,
                     k ? " near '" : " (unexpected end)", near, k ? "'" : "");
}

int longlamp_read_jsonl(Dataset *d, const char *path, const char *split, Error *e) {
    const Schema *s;
    int rc = schema_find(d->task, &s, e);
    if (rc) return rc;
    FILE *f;
    if ((rc = file_open_input(path, &f, e))) return rc;
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    long line = 0, rows = 0;
    while (!rc && (errno = 0, len = getline(&buf, &cap, f)) >= 0) {
        line++;
        char *text = buf;
        size_t n = (size_t)len;
        if (line == 1 && n >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) {
            text += 3;
            n -= 3;
        }
        size_t i = 0;
        while (i < n && isspace((unsigned char)text[i])) i++;
        if (i == n) continue;
        size_t bad = 0;
        cJSON *row = parse_exact(text, n, &bad);
        if (!row) {
            rc = syntax_error(path, text, n, bad, line - 1, e);
            break;
        }
        Where w = {path, line, 0, ""};
        if (!cJSON_IsObject(row)) {
            rc = error_set(e, RP_EINPUT, "%s: line %ld: expected a JSON object per line, got %s", path, line, json_type(row));
        } else {
            char fallback[64];
            snprintf(fallback, sizeof fallback, "%s-%ld", split, line);
            rc = add_row(d, s, row, fallback, NULL, 0, split, &w, e);
        }
        cJSON_Delete(row);
        rows++;
    }
    int read_err = !rc && ferror(f);
    int err_no = errno;
    free(buf);
    fclose(f);
    if (read_err) return error_set(e, RP_EINPUT, "%s: read error after line %ld: %s", path, line, strerror(err_no));
    if (!rc && rows == 0) rc = error_set(e, RP_EINPUT, "%s: no rows (an empty JSON Lines file)", path);
    return rc;
}

static int parse_file(const char *path, cJSON **out, Error *e) {
    char *text;
    size_t n;
    int rc = file_read_all(path, &text, &n, e);
    if (rc) return rc;
    size_t skip = n >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0, bad = 0;
    *out = parse_exact(text + skip, n - skip, &bad);
    if (!*out) rc = syntax_error(path, text + skip, n - skip, bad, 0, e);
    free(text);
    return rc;
}

/* Reduces an outputs-file task name to a restpg task: lower-case letters and digits only, without
 * a "longlamp" prefix or a "user"/"temporal" suffix; NULL when it names no known task. */
static const char *task_from_label(const char *label) {
    static const char *const alias[][2] = {
        {"abstractgeneration", "abstract_generation"}, {"abstract", "abstract_generation"},
        {"productreview", "product_review"},           {"productreviewwriting", "product_review"},
        {"reviewwriting", "product_review"},           {"review", "product_review"},
        {"topicwriting", "topic_writing"},             {"topic", "topic_writing"},
        {"emailcompletion", "email_completion"},       {"email", "email_completion"},
        {"emailgeneration", "email_completion"},       {"packagedescription", "package_description"},
        {"synthetic", "synthetic"}};
    char k[128];
    size_t n = 0;
    for (const char *p = label; *p && n + 1 < sizeof k; p++)
        if (isalnum((unsigned char)*p)) k[n++] = (char)tolower((unsigned char)*p);
    k[n] = '\0';
    char *t = k;
    if (!strncmp(t, "longlamp", 8)) t += 8;
    size_t m = strlen(t);
    if (m > 4 && !strcmp(t + m - 4, "user")) t[m - 4] = '\0';
    else if (m > 8 && !strcmp(t + m - 8, "temporal")) t[m - 8] = '\0';
    for (size_t i = 0; i < sizeof alias / sizeof alias[0]; i++)
        if (!strcmp(t, alias[i][0])) return alias[i][1];
    return NULL;
}

/* A gold's id as text (validated by read_golds). */
static const char *gold_id(const cJSON *g, char *num) {
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(g, "id");
    if (cJSON_IsString(x)) return x->valuestring;
    snprintf(num, 40, "%.0f", x->valuedouble);
    return num;
}

/* Reads an outputs file: checks its task and every gold, and fills gold (id -> index). */
static int read_golds(const char *path, const char *task, cJSON **root, StrMap *gold, Error *e) {
    int rc = parse_file(path, root, e);
    if (rc) return rc;
    const cJSON *r = *root;
    if (!cJSON_IsObject(r))
        return error_set(e, RP_EINPUT, "%s: expected an object {\"task\": ..., \"golds\": [...]}, got %s", path, json_type(r));
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "task");
    if (!cJSON_IsString(t))
        return error_set(e, RP_EINPUT, "%s: field 'task': %s", path, t ? "expected a string" : "missing");
    const char *named = task_from_label(t->valuestring);
    if (named && strcmp(named, task))
        return error_set(e, RP_EINPUT, "%s: field 'task': '%s' is task %s, but --task is %s", path, t->valuestring, named, task);
    if (!named) log_warn("%s: task '%s' is not a name restpg recognises; importing it as %s", path, t->valuestring, task);
    const cJSON *golds = cJSON_GetObjectItemCaseSensitive(r, "golds");
    if (!cJSON_IsArray(golds))
        return error_set(e, RP_EINPUT, "%s: field 'golds': %s", path, golds ? "expected a list" : "missing");
    long k = 0;
    for (const cJSON *g = golds->child; g; g = g->next, k++) {
        Where w = {path, 0, k, ""};
        char num[40];
        const char *id, *out;
        if (!cJSON_IsObject(g)) return fail(&w, "golds", e, "expected an object {\"id\", \"output\"}, got %s", json_type(g));
        if ((rc = get_text(cJSON_GetObjectItemCaseSensitive(g, "id"), TEXT_OR_INTEGER, &w, "id", num, &id, e))) return rc;
        snprintf(w.id, sizeof w.id, "%s", id);
        if ((rc = get_text(cJSON_GetObjectItemCaseSensitive(g, "output"), TEXT_STRING, &w, "output", NULL, &out, e))) return rc;
        int64_t prev;
        if (strmap_get(gold, id, strlen(id), &prev))
            return fail(&w, "id", e, "duplicate gold id (first at record %lld)", (long long)prev);
        if ((rc = strmap_put(gold, id, strlen(id), k, e))) return rc;
    }
    return RP_OK;
}

/* Adds every question, joined with its gold; marks the golds used. */
static int add_questions(Dataset *d, const Schema *s, const char *questions, const char *outputs, const cJSON *qroot,
                         const cJSON **gold_at, const StrMap *gold, char *used, const char *split, Error *e) {
    if (!cJSON_IsArray(qroot))
        return error_set(e, RP_EINPUT, "%s: expected a JSON list of questions, got %s", questions, json_type(qroot));
    if (!cJSON_GetArraySize(qroot)) return error_set(e, RP_EINPUT, "%s: no questions (an empty list)", questions);
    long k = 0;
    for (const cJSON *q = qroot->child; q; q = q->next, k++) {
        Where w = {questions, 0, k, ""};
        if (!cJSON_IsObject(q)) return error_set(e, RP_EINPUT, "%s: record %ld: expected an object, got %s", questions, k, json_type(q));
        char num[40];
        const char *id;
        int64_t gi;
        int rc = get_text(cJSON_GetObjectItemCaseSensitive(q, "id"), TEXT_OR_INTEGER, &w, "id", num, &id, e);
        if (rc) return rc;
        if (!strmap_get(gold, id, strlen(id), &gi)) {
            snprintf(w.id, sizeof w.id, "%s", id);
            return fail(&w, "output", e, "no gold with this id in %s", outputs);
        }
        used[gi] = 1;
        const char *output = cJSON_GetObjectItemCaseSensitive(gold_at[gi], "output")->valuestring;
        if ((rc = add_row(d, s, q, NULL, output, 1, split, &w, e))) return rc;
    }
    return RP_OK;
}

int longlamp_read_github(Dataset *d, const char *questions, const char *outputs, const char *split, Error *e) {
    const Schema *s;
    int rc = schema_find(d->task, &s, e);
    if (rc) return rc;
    cJSON *groot = NULL, *qroot = NULL;
    const cJSON **gold_at = NULL;
    char *used = NULL;
    StrMap gold;
    if ((rc = strmap_init(&gold, 1024, e))) return rc;
    if ((rc = read_golds(outputs, d->task->name, &groot, &gold, e))) goto out;
    const cJSON *golds = cJSON_GetObjectItemCaseSensitive(groot, "golds");
    long n_golds = cJSON_GetArraySize(golds);
    used = xcalloc((size_t)n_golds + 1, 1, e);
    gold_at = xcalloc((size_t)n_golds + 1, sizeof *gold_at, e);
    if (!used || !gold_at) {
        rc = RP_ENOMEM;
        goto out;
    }
    long k = 0;
    for (const cJSON *g = golds->child; g; g = g->next) gold_at[k++] = g;
    if ((rc = parse_file(questions, &qroot, e))) goto out;
    if ((rc = add_questions(d, s, questions, outputs, qroot, gold_at, &gold, used, split, e))) goto out;
    for (long g = 0; g < n_golds; g++)
        if (!used[g]) {
            Where w = {outputs, 0, g, ""};
            char num[40];
            snprintf(w.id, sizeof w.id, "%s", gold_id(gold_at[g], num));
            rc = fail(&w, "id", e, "gold without a question in %s", questions);
            break;
        }
out:
    free(used);
    free(gold_at);
    cJSON_Delete(qroot);
    cJSON_Delete(groot);
    strmap_free(&gold);
    return rc;
}

int longlamp_import(Dataset *d, const char *input, const char *outputs, const char *split, Error *e) {
    if (outputs) return longlamp_read_github(d, input, outputs, split, e);
    FILE *f;
    int rc = file_open_input(input, &f, e);
    if (rc) return rc;
    int c;
    while ((c = fgetc(f)) != EOF && (isspace(c) || c == 0xEF || c == 0xBB || c == 0xBF)) {}
    fclose(f);
    if (c == '[')
        return error_set(e, RP_EINPUT, "%s: line 1: a JSON list (the GitHub *_questions.json shape) needs --outputs "
                         "*_outputs.json; JSON Lines rows are objects", input);
    return longlamp_read_jsonl(d, input, split, e);
}

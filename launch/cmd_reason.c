/* `restpg reason` and its stage: adds reasoning paths to a dataset (stage 1 of REST-PG), from the built-in
 * teacher or from an external teacher's JSON Lines. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/args.h"
#include "core/log.h"
#include "data/dataset.h"
#include "data/prompt_templates.h"
#include "data/teacher.h"
#include "launch/commands.h"
#include "launch/stages.h"

/* 1 if split s is named in the comma-separated list (or the list is "all"). */
static int split_selected(const char *list, const char *s) {
    if (!strcmp(list, "all")) return 1;
    size_t n = strlen(s);
    for (const char *p = list; *p;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len == n && !strncmp(p, s, n)) return 1;
        p += len + (c != NULL);
    }
    return 0;
}

static int reason_builtin(Dataset *d, const char *splits, int k, int64_t *done, Error *e) {
    int64_t *idx = xmalloc(sizeof(int64_t) * (size_t)(k > 0 ? k : 1), e);
    if (!idx) return RP_ENOMEM;
    StrBuf r;
    strbuf_init(&r);
    int rc = RP_OK;
    Progress pg;
    progress_init(&pg, "reason", d->n);
    for (int64_t i = 0; i < d->n && !rc; i++) {
        if (!split_selected(splits, d->split[i])) continue;
        int64_t n = 0;
        if ((rc = prompt_retrieve(d, i, k, idx, &n, e)) || (rc = teacher_reason(d, i, idx, n, &r, e)) ||
            (rc = dataset_set_reasoning(d, i, r.s ? r.s : "", e))) {
            error_wrap(e, "example '%s'", d->id[i]);
            break;
        }
        (*done)++;
        progress_update(&pg, i + 1, NULL);
    }
    progress_finish(&pg, d->n, NULL);
    strbuf_free(&r);
    free(idx);
    return rc;
}

static int reason_jsonl(Dataset *d, const char *path, const char *splits, int64_t *done, Error *e) {
    FILE *f;
    int rc = file_open_input(path, &f, e);
    if (rc) return rc;
    uint8_t *seen = xcalloc((size_t)d->n, 1, e);
    if (!seen) {
        fclose(f);
        return RP_ENOMEM;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int64_t lineno = 0;
    while (!rc && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        const char *p = line;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
        if (!*p) continue;
        cJSON *o = cJSON_ParseWithLength(line, (size_t)len);
        cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
        cJSON *rs = cJSON_GetObjectItemCaseSensitive(o, "reasoning");
        int64_t i = -1;
        if (!cJSON_IsObject(o)) rc = error_set(e, RP_EINPUT, "%s:%lld: not a JSON object", path, (long long)lineno);
        else if (!cJSON_IsString(id)) rc = error_set(e, RP_EINPUT, "%s:%lld: field 'id' missing or not a string", path, (long long)lineno);
        else if (!cJSON_IsString(rs)) rc = error_set(e, RP_EINPUT, "%s:%lld: field 'reasoning' missing or not a string", path, (long long)lineno);
        else if ((i = dataset_find(d, id->valuestring)) < 0)
            rc = error_set(e, RP_EINPUT, "%s:%lld: field 'id': unknown id '%s'", path, (long long)lineno, id->valuestring);
        else if (seen[i]) rc = error_set(e, RP_EINPUT, "%s:%lld: field 'id': '%s' appears twice", path, (long long)lineno, id->valuestring);
        else if ((rc = dataset_set_reasoning(d, i, rs->valuestring, e)))
            error_wrap(e, "%s:%lld (id '%s')", path, (long long)lineno, id->valuestring);
        else {
            seen[i] = 1;
            (*done)++;
        }
        cJSON_Delete(o);
    }
    if (!rc && ferror(f)) rc = error_set(e, RP_EINPUT, "%s: read error", path);
    free(line);
    fclose(f);
    if (!rc) {
        int64_t missing = 0;
        StrBuf first;
        strbuf_init(&first);
        for (int64_t i = 0; i < d->n && !rc; i++) {
            if (seen[i] || !split_selected(splits, d->split[i])) continue;
            if (missing++ < 5) rc = strbuf_printf(&first, e, "%s'%s'", missing > 1 ? ", " : "", d->id[i]);
        }
        if (missing)
            log_warn("%s: no reasoning for %lld example(s) of the selected splits (e.g. %s); they keep their previous text",
                     path, (long long)missing, first.s);
        strbuf_free(&first);
    }
    free(seen);
    return rc;
}

int stage_reason(const ReasonOptions *o, Error *e) {
    const char *data = o->data, *out = o->out, *teacher = o->teacher, *splits = o->splits;
    int builtin = !strcmp(teacher, "builtin");
    if (!builtin && strncmp(teacher, "jsonl:", 6))
        return error_set(e, RP_EINPUT, "--teacher: expected builtin or jsonl:FILE, got '%s'", teacher);
    Dataset d;
    int rc = dataset_read(data, &d, e);
    if (rc) return rc;
    int64_t done = 0;
    rc = builtin ? reason_builtin(&d, splits, o->k, &done, e) : reason_jsonl(&d, teacher + 6, splits, &done, e);
    int64_t worst = 0, have = 0;
    double chars = 0;
    for (int64_t i = 0; i < d.n && !rc; i++) {
        if (!d.reasoning[i][0]) continue;
        int64_t run = teacher_longest_shared_run(d.reasoning[i], d.output[i], e);
        if (run < 0) rc = RP_ENOMEM;
        if (run > worst) worst = run;
        chars += (double)strlen(d.reasoning[i]);
        have++;
    }
    if (!rc) rc = dataset_write(&d, out ? out : data, e);
    if (!rc)
        log_info("reason: %lld reasoning texts from %s written to %s (mean %.0f characters; longest run of words shared "
                 "with an expected output: %lld)",
                 (long long)done, builtin ? "the built-in teacher" : teacher + 6, out ? out : data,
                 have ? chars / (double)have : 0.0, (long long)worst);
    dataset_free(&d);
    return rc;
}

int cmd_reason(int argc, char **argv, Error *e) {
    const char *data = NULL, *teacher = "builtin", *out = NULL, *splits = "train,val";
    long k = 4;
    ArgSpec specs[] = {
        {"--data", ARG_STR, &data, "dataset file (updated in place unless --out is given)", 1, 0},
        {"--teacher", ARG_STR, &teacher, "builtin (default) or jsonl:FILE with {id, reasoning} lines", 0, 0},
        {"--k", ARG_INT, &k, "profile items the built-in teacher reads (the prompt's retrieval; default 4)", 0,
         ARG_RANGE(1, INT_MAX)},
        {"--splits", ARG_STR, &splits, "comma-separated splits to cover, or all (default train,val)", 0, 0},
        {"--out", ARG_STR, &out, "write the updated dataset here instead", 0, 0},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("reason",
                        "Adds a reasoning path to each example: a short summary of the user's preferences and style "
                        "that explains the expected output without copying it (REST-PG stage 1).",
                        specs, argc, argv, e);
    const char *ins[] = {"--teacher", !strncmp(teacher, "jsonl:", 6) ? teacher + 6 : NULL};
    if (rc || (rc = file_check_out("--out", out, 1, ins, e))) return rc;
    ReasonOptions o = {data, out, teacher, splits, (int)k};
    return stage_reason(&o, e);
}

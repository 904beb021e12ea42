/* `restpg reason` and its stage: adds reasoning paths to a dataset (stage 1 of REST-PG), from the built-in
 * teacher, an external teacher's JSON Lines or a teacher program (cmd:); `--export` writes the
 * teacher requests for an offline job instead. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/args.h"
#include "core/jsonl_worker.h"
#include "core/log.h"
#include "data/dataset.h"
#include "data/prompt_templates.h"
#include "data/teacher.h"
#include "data/teacher_llm.h"
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
        else if ((rc = teacher_answer_check(id->valuestring, rs->valuestring, d->output[i], e)))
            error_wrap(e, "%s:%lld", path, (long long)lineno); /* an offline teacher's answers, held to cmd:'s rules */
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

/* The examples of the selected splits, in dataset order, into *out (malloc'd). */
static int selected_examples(const Dataset *d, const char *splits, int64_t **out, int64_t *n, Error *e) {
    *out = xmalloc(sizeof(int64_t) * (size_t)(d->n ? d->n : 1), e);
    if (!*out) return RP_ENOMEM;
    *n = 0;
    for (int64_t i = 0; i < d->n; i++)
        if (split_selected(splits, d->split[i])) (*out)[(*n)++] = i;
    return RP_OK;
}

static int reason_cmd(Dataset *d, const ReasonOptions *o, int64_t *done, Error *e) {
    char **argv = NULL;
    int rc = jsonl_worker_argv_parse("teacher", o->teacher + 4, &argv, e);
    if (rc) return rc;
    int64_t *ex = NULL, n = 0;
    JsonlWorker w;
    if (!(rc = selected_examples(d, o->splits, &ex, &n, e))) {
        rc = jsonl_worker_start(&w, "teacher", argv, o->teacher_timeout, o->teacher_batch, o->teacher_retries, e);
        if (!rc) rc = teacher_cmd_run(&w, d, ex, n, o->k, e);
        if (!rc) *done = n;
        if (!rc && w.restarts) log_info("reason: the teacher was restarted %d time(s)", w.restarts);
        jsonl_worker_stop(&w);
    }
    free(ex);
    jsonl_worker_argv_free(argv);
    return rc;
}

int reason_teacher_check(const char *teacher, Error *e) {
    if (!strcmp(teacher, "builtin") || (!strncmp(teacher, "jsonl:", 6) && teacher[6])) return RP_OK;
    if (strncmp(teacher, "cmd:", 4))
        return error_set(e, RP_EINPUT, "expected builtin, jsonl:FILE or cmd:PROGRAM ARGS..., got '%s'", teacher);
    char **argv = NULL;
    int rc = jsonl_worker_argv_parse("teacher", teacher + 4, &argv, e);
    jsonl_worker_argv_free(argv);
    return rc;
}

int stage_reason(const ReasonOptions *o, Error *e) {
    const char *data = o->data, *out = o->out, *teacher = o->teacher, *splits = o->splits;
    int rc = reason_teacher_check(teacher, e);
    if (rc) return error_wrap(e, "--teacher");
    int builtin = !strcmp(teacher, "builtin"), cmd = !strncmp(teacher, "cmd:", 4);
    Dataset d;
    if ((rc = dataset_read(data, &d, e))) return rc;
    int64_t done = 0;
    rc = builtin ? reason_builtin(&d, splits, o->k, &done, e)
         : cmd   ? reason_cmd(&d, o, &done, e)
                 : reason_jsonl(&d, teacher + 6, splits, &done, e);
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
                 (long long)done, builtin ? "the built-in teacher" : cmd ? "the teacher program" : teacher + 6,
                 out ? out : data, have ? chars / (double)have : 0.0, (long long)worst);
    dataset_free(&d);
    return rc;
}

/* `--export FILE`: one teacher request per example of the selected splits, as JSON Lines, written
 * to a temp file and renamed. */
static int reason_export(const char *data, const char *path, const char *splits, int k, Error *e) {
    Dataset d;
    int rc = dataset_read(data, &d, e);
    if (rc) return rc;
    char *tmp = atomic_tmp_path(path, e);
    FILE *f = tmp ? fopen(tmp, "wb") : NULL;
    if (!tmp) rc = RP_ENOMEM;
    else if (!f) rc = error_set(e, RP_EIO, "--export %s: cannot create %s: %s", path, tmp, strerror(errno));
    StrBuf line;
    strbuf_init(&line);
    int64_t n = 0;
    for (int64_t i = 0; i < d.n && !rc; i++) {
        if (!split_selected(splits, d.split[i])) continue;
        strbuf_clear(&line);
        if ((rc = teacher_request_json(&d, i, k, &line, e)) || (rc = strbuf_puts(&line, "\n", e))) {
            error_wrap(e, "example '%s'", d.id[i]);
            break;
        }
        if (fwrite(line.s, 1, line.len, f) != line.len)
            rc = error_set(e, RP_EIO, "--export %s: %s", path, file_errno_text(errno));
        n++;
    }
    if (f && fclose(f) && !rc) rc = error_set(e, RP_EIO, "--export %s: %s", path, file_errno_text(errno));
    if (!rc) rc = atomic_commit(tmp, path, e);
    else if (tmp) atomic_abort(tmp);
    if (!rc) log_info("reason: %lld teacher requests written to %s", (long long)n, path);
    strbuf_free(&line);
    free(tmp);
    dataset_free(&d);
    return rc;
}

int cmd_reason(int argc, char **argv, Error *e) {
    const char *data = NULL, *teacher = "builtin", *out = NULL, *splits = "train,val", *export = NULL;
    long k = 4, batch = 16, retries = 1;
    double timeout = 300;
    ArgSpec specs[] = {
        {"--data", ARG_STR, &data, "dataset file (updated in place unless --out is given)", 1, 0},
        {"--teacher", ARG_STR, &teacher,
         "builtin (default), jsonl:FILE with {id, reasoning} lines, or cmd:PROGRAM ARGS... (a teacher program "
         "speaking JSON Lines, docs/reward.md)", 0, 0},
        {"--k", ARG_INT, &k, "profile items retrieved per example for the teacher (the prompt's retrieval; default 4)", 0,
         ARG_RANGE(1, INT_MAX)},
        {"--splits", ARG_STR, &splits, "comma-separated splits to cover, or all (default train,val)", 0, 0},
        {"--out", ARG_STR, &out, "write the updated dataset here instead", 0, 0},
        {"--export", ARG_STR, &export,
         "write the teacher requests of the selected splits to this JSON Lines file (for an offline job whose "
         "answers come back with jsonl:FILE) and nothing else", 0, 0},
        {"--teacher-timeout", ARG_DOUBLE, &timeout, "cmd: seconds the teacher may take per answer (default 300)", 0,
         ARG_ABOVE(0)},
        {"--teacher-batch", ARG_INT, &batch, "cmd: requests sent per batch (default 16)", 0, ARG_RANGE(1, 1 << 20)},
        {"--teacher-retries", ARG_INT, &retries, "cmd: restarts per batch after a crash or timeout (default 1)", 0,
         ARG_RANGE(0, 1000)},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("reason",
                        "Adds a reasoning path to each example: a short summary of the user's preferences and style "
                        "that explains the expected output without copying it (REST-PG stage 1).",
                        specs, argc, argv, e);
    if (rc) return rc;
    if (export) {
        if (out || strcmp(teacher, "builtin"))
            return error_set(e, RP_EINPUT, "--export writes teacher requests only: --out and --teacher do not apply");
        const char *ins[] = {"--data", data};
        if ((rc = file_check_out("--export", export, 1, ins, e))) return rc;
        return reason_export(data, export, splits, (int)k, e);
    }
    const char *ins[] = {"--teacher", !strncmp(teacher, "jsonl:", 6) ? teacher + 6 : NULL};
    if ((rc = file_check_out("--out", out, 1, ins, e))) return rc;
    ReasonOptions o = {data, out, teacher, splits, (int)k, timeout, (int)batch, (int)retries};
    return stage_reason(&o, e);
}

/* The external judge's requests and answers over core/jsonl_worker (see judge.h). */
#include "reward/judge.h"

#include <math.h>
#include <string.h>

int judge_argv_parse(const char *cmd, char ***argv, Error *e) { return jsonl_worker_argv_parse("judge", cmd, argv, e); }

void judge_argv_free(char **argv) { jsonl_worker_argv_free(argv); }

int judge_start(Judge *j, char *const *argv, double timeout_s, int batch, int retries, Error *e) {
    return jsonl_worker_start(&j->w, "judge", argv, timeout_s, batch, retries, e);
}

void judge_stop(Judge *j) { jsonl_worker_stop(&j->w); }

/* One judge_score call as a JsonlJob. */
typedef struct {
    const JudgeItem *items;
    double *rewards;
} JudgeCall;

static const char *call_id(void *ctx, int64_t k) { return ((const JudgeCall *)ctx)->items[k].id; }

static int call_request(void *ctx, int64_t k, StrBuf *b, Error *e) {
    const JudgeItem *it = &((const JudgeCall *)ctx)->items[k];
    const char *keys[5] = {"id", "input", "reference", "reasoning", "answer"};
    const char *vals[5] = {it->id, it->input, it->reference, it->reasoning, it->answer};
    int rc = strbuf_puts(b, "{", e);
    for (int f = 0; f < 5 && !rc; f++) {
        rc = strbuf_printf(b, e, "%s\"%s\": ", f ? ", " : "", keys[f]);
        if (!rc) rc = strbuf_json_string(b, vals[f] ? vals[f] : "", e);
    }
    return rc ? rc : strbuf_puts(b, "}", e);
}

static int call_answer(void *ctx, int64_t k, const cJSON *o, Error *e) {
    JudgeCall *c = ctx;
    const char *id = c->items[k].id;
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "reward");
    if (!cJSON_IsNumber(r)) return error_set(e, RP_EINPUT, "judge answer for id '%s': field 'reward' missing or not a number", id);
    if (!isfinite(r->valuedouble) || r->valuedouble < 0.0 || r->valuedouble > 1.0)
        return error_set(e, RP_EINPUT, "judge answer for id '%s': field 'reward' = %g is outside [0, 1]", id, r->valuedouble);
    c->rewards[k] = r->valuedouble;
    return RP_OK;
}

int judge_score(Judge *j, const JudgeItem *items, int64_t n, double *rewards, Error *e) {
    JudgeCall c = {items, rewards};
    JsonlJob job = {&c, call_id, call_request, call_answer};
    return jsonl_worker_run(&j->w, &job, n, e);
}

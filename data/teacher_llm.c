/* The LLM teacher's prompt, requests, answer checks and program (see teacher_llm.h). */
#include "data/teacher_llm.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "data/prompt_templates.h"
#include "data/teacher.h"

/* Our wording of the paper's reasoning-generation prompt as a re-implementation transcribes it
 * (role, task, inputs, output rules, then the four sections); docs/reward.md quotes it whole. */
static const char PROMPT_INSTRUCTIONS[] =
    "You are a writing assistant. From a user's past documents (the profile below), you summarize the "
    "user's writing style, capturing the features of the profile that are similar to the expected output.\n"
    "\n"
    "Task: summarize the user's writing style, taking the expected output into account. Infer the user's "
    "interests, preferences and familiarity with the topic; reasonable guesses are allowed. You may list "
    "words, phrases or grammar that the user habitually uses.\n"
    "\n"
    "Inputs: the profile holds the user's past documents, separated by \"|\"; the subject is the task the "
    "user was given; the expected output is what the user wrote for it.\n"
    "\n"
    "Output: a list of bullet points, each with a short explanation. Talk only about the profile: never copy "
    "the expected output and never mention it.\n";

int teacher_prompt_render(const char *input, const char *output, const char *const *items, int64_t n_items,
                          StrBuf *out, Error *e) {
    int rc = strbuf_puts(out, PROMPT_INSTRUCTIONS, e);
    if (!rc) rc = strbuf_puts(out, "\n## profile:\n", e);
    for (int64_t r = 0; r < n_items && !rc; r++) rc = strbuf_printf(out, e, "%s%s", r ? " | " : "", items[r]);
    if (!rc) rc = strbuf_printf(out, e, "\n\n## subject:\n%s\n\n## expected output:\n%s\n\n## Your output:\n", input, output);
    return rc;
}

int teacher_request_json(const Dataset *d, int64_t i, int k, StrBuf *out, Error *e) {
    int64_t *idx = xmalloc(sizeof(int64_t) * (size_t)(k > 0 ? k : 1), e);
    if (!idx) return RP_ENOMEM;
    int64_t n = 0;
    int rc = prompt_retrieve(d, i, k, idx, &n, e);
    StrBuf *texts = rc ? NULL : xcalloc((size_t)(n ? n : 1), sizeof(StrBuf), e);
    const char **items = texts ? xcalloc((size_t)(n ? n : 1), sizeof(char *), e) : NULL;
    if (!rc && !items) rc = RP_ENOMEM;
    for (int64_t r = 0; r < n && !rc; r++) {
        strbuf_init(&texts[r]);
        if (!(rc = prompt_corpus_item(d->task, (const char *const *)dataset_item(d, i, idx[r]), &texts[r], e)))
            items[r] = texts[r].s ? texts[r].s : "";
    }
    StrBuf prompt;
    strbuf_init(&prompt);
    if (!rc) rc = teacher_prompt_render(d->input[i], d->output[i], items, n, &prompt, e);
    const char *keys[3] = {"id", "input", "output"};
    const char *vals[3] = {d->id[i], d->input[i], d->output[i]};
    if (!rc) rc = strbuf_puts(out, "{", e);
    for (int f = 0; f < 3 && !rc; f++)
        if (!(rc = strbuf_printf(out, e, "%s\"%s\": ", f ? ", " : "", keys[f]))) rc = strbuf_json_string(out, vals[f], e);
    if (!rc) rc = strbuf_puts(out, ", \"profile\": [", e);
    for (int64_t r = 0; r < n && !rc; r++)
        if (!(rc = strbuf_puts(out, r ? ", " : "", e))) rc = strbuf_json_string(out, items[r], e);
    if (!rc) rc = strbuf_puts(out, "], \"prompt\": ", e);
    if (!rc) rc = strbuf_json_string(out, prompt.s, e);
    if (!rc) rc = strbuf_puts(out, "}", e);
    strbuf_free(&prompt);
    for (int64_t r = 0; texts && r < n; r++) strbuf_free(&texts[r]);
    free(texts);
    free(items);
    free(idx);
    return rc;
}

int teacher_answer_check(const char *id, const char *reasoning, const char *output, Error *e) {
    const char *p = reasoning;
    while (*p && isspace((unsigned char)*p)) p++;
    if (!*p) return error_set(e, RP_EINPUT, "teacher answer for id '%s': field 'reasoning' is empty", id);
    int64_t run = teacher_longest_shared_run(reasoning, output, e);
    if (run < 0) return RP_ENOMEM;
    if (run > TEACHER_MAX_COPY)
        return error_set(e, RP_EINPUT,
                         "teacher answer for id '%s': field 'reasoning' copies %lld consecutive words of the expected "
                         "output (at most %d allowed)", id, (long long)run, TEACHER_MAX_COPY);
    return RP_OK;
}

/* One teacher_cmd_run call as a JsonlJob. */
typedef struct {
    Dataset *d;
    const int64_t *examples;
    int k;
    uint8_t *got;      /* per request: answered once already (a resent batch is answered again) */
    int64_t answered;  /* distinct requests answered, for the progress line */
    Progress pg;
} TeacherCall;

static const char *call_id(void *ctx, int64_t k) {
    const TeacherCall *c = ctx;
    return c->d->id[c->examples[k]];
}

static int call_request(void *ctx, int64_t k, StrBuf *b, Error *e) {
    const TeacherCall *c = ctx;
    return teacher_request_json(c->d, c->examples[k], c->k, b, e);
}

static int call_answer(void *ctx, int64_t k, const cJSON *o, Error *e) {
    TeacherCall *c = ctx;
    int64_t i = c->examples[k];
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "reasoning");
    if (!cJSON_IsString(r))
        return error_set(e, RP_EINPUT, "teacher answer for id '%s': field 'reasoning' missing or not a string", c->d->id[i]);
    int rc = teacher_answer_check(c->d->id[i], r->valuestring, c->d->output[i], e);
    if (rc) return rc;
    const char *s = r->valuestring;
    while (isspace((unsigned char)*s)) s++;
    size_t len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1])) len--;
    char *text = strndup(s, len);
    if (!text) return error_set(e, RP_ENOMEM, "out of memory");
    if ((rc = dataset_set_reasoning(c->d, i, text, e))) error_wrap(e, "teacher answer for id '%s'", c->d->id[i]);
    free(text);
    if (!rc && !c->got[k]) {
        c->got[k] = 1;
        progress_update(&c->pg, ++c->answered, NULL);
    }
    return rc;
}

int teacher_cmd_run(JsonlWorker *w, Dataset *d, const int64_t *examples, int64_t n, int k, Error *e) {
    TeacherCall c = {d, examples, k, xcalloc((size_t)(n ? n : 1), 1, e), 0, {0}};
    if (!c.got) return RP_ENOMEM;
    progress_init(&c.pg, "teacher", n);
    JsonlJob job = {&c, call_id, call_request, call_answer};
    int rc = jsonl_worker_run(w, &job, n, e);
    progress_finish(&c.pg, c.answered, NULL);
    free(c.got);
    return rc;
}

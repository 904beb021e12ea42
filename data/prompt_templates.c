/* Per-task query, corpus and rendering rules (see prompt_templates.h and docs/prompts.md).
 *
 * Each task is one table row. Corpus and clause templates name the task's fields in braces:
 * "{title}" is the field's text, "{abstract:750}" its first 750 whitespace-separated words
 * re-joined with single spaces (LongLaMP's extract_first_750_words). The trailing spaces in some
 * clauses and the "and, " in the abstract suffix are LongLaMP's own, kept so that our RAG prompts
 * are the benchmark's. */
#include "data/prompt_templates.h"

#include <stdlib.h>
#include <string.h>

#include "data/bm25.h"

typedef struct {
    const char *task;
    const char *query_after; /* the query is the text after the first occurrence; NULL: whole input */
    const char *corpus;
    const char *clause;
    const char *suffix;      /* between the joined clauses and the input */
} TaskTemplate;

static const TaskTemplate TEMPLATES[] = {
    {"abstract_generation", "items:", "{title} {abstract}",
     "\"{abstract:750}\" is the abstract for the title \"{title}\"",
     ". Use the above abstracts as context to understand the style and language of the user and, "},
    {"product_review", NULL, "{overall} {summary} {description} {reviewText}",
     "\"{overall}\" is a rating for the product with description \"{description}\". "
     "\"{summary}\" is summary for \"{reviewText}\" ",
     ". Following the given patterns "},
    {"topic_writing", NULL, "{summary} {content}", "\"{summary}\" is a summary for \"{content}\" ",
     ". Following the given patterns, "},
    {"email_completion", ":", "{text}", "\"{title}\" is the title for \"{text}\" ", ". "},
    /* Ours. The whole input is the query, as for reviews and topics: its name, section and short
     * description are what links it to the maintainer's other packages. */
    {"package_description", NULL, "{package} {summary} {description}",
     "\"{description}\" is the long description of the package \"{package}\" with the summary \"{summary}\"",
     ". Use the above descriptions as context to understand the style and language of the maintainer. "},
    /* Ours. Whitespace tokens keep punctuation, and synthetic inputs end with their topic word and
     * a period ("Write a note about chess."), so the corpus closes the title ("A note about chess")
     * with one too: otherwise the topic word of the query could never match a title. */
    {"synthetic", NULL, "{title}. {text}", "\"{text}\" is the text for the title \"{title}\"",
     ". Use the above texts as context to understand the style and language of the user. "},
};

static const TaskTemplate *template_for(const TaskInfo *task, Error *e) {
    for (size_t i = 0; i < sizeof TEMPLATES / sizeof TEMPLATES[0]; i++)
        if (!strcmp(TEMPLATES[i].task, task->name)) return &TEMPLATES[i];
    error_set(e, RP_EINTERNAL, "task '%s' has no prompt template", task->name);
    return NULL;
}

/* Appends at most max_words words of s joined by single spaces. */
static int append_words(StrBuf *out, const char *s, long max_words, Error *e) {
    size_t n = strlen(s), pos = 0, b, l;
    for (long w = 0; w < max_words && pysplit_next(s, n, &pos, &b, &l); w++) {
        if (w && strbuf_append(out, " ", 1, e)) return RP_ENOMEM;
        if (strbuf_append(out, s + b, l, e)) return RP_ENOMEM;
    }
    return RP_OK;
}

/* Expands a template's {field} and {field:N} placeholders with an item's fields. */
static int expand(const TaskInfo *task, const char *tpl, const char *const *fields, StrBuf *out, Error *e) {
    const char *p = tpl;
    while (*p) {
        const char *open = strchr(p, '{');
        if (!open) return strbuf_puts(out, p, e);
        if (strbuf_append(out, p, (size_t)(open - p), e)) return RP_ENOMEM;
        const char *close = strchr(open, '}');
        if (!close) return error_set(e, RP_EINTERNAL, "prompt template '%s': unclosed '{'", tpl);
        const char *colon = memchr(open, ':', (size_t)(close - open));
        char name[64];
        size_t nlen = (size_t)((colon ? colon : close) - open - 1);
        if (nlen >= sizeof name) return error_set(e, RP_EINTERNAL, "prompt template '%s': long field name", tpl);
        memcpy(name, open + 1, nlen);
        name[nlen] = '\0';
        int f = task_field_index(task, name);
        if (f < 0) return error_set(e, RP_EINTERNAL, "prompt template of task %s names unknown field '%s'", task->name, name);
        int rc = colon ? append_words(out, fields[f], strtol(colon + 1, NULL, 10), e) : strbuf_puts(out, fields[f], e);
        if (rc) return rc;
        p = close + 1;
    }
    return RP_OK;
}

int prompt_query(const TaskInfo *task, const char *input, StrBuf *out, Error *e) {
    const TaskTemplate *t = template_for(task, e);
    if (!t) return e->code;
    const char *q = input;
    if (t->query_after) {
        const char *at = strstr(input, t->query_after);
        if (at) {
            size_t b, l, off = (size_t)(at - input) + strlen(t->query_after);
            pystrip(input + off, strlen(input + off), &b, &l);
            return strbuf_append(out, input + off + b, l, e);
        }
    }
    return strbuf_puts(out, q, e);
}

int prompt_corpus_item(const TaskInfo *task, const char *const *fields, StrBuf *out, Error *e) {
    const TaskTemplate *t = template_for(task, e);
    return t ? expand(task, t->corpus, fields, out, e) : e->code;
}

int prompt_render(const TaskInfo *task, const char *input, const char *const *const *items, int n_items,
                  StrBuf *out, Error *e) {
    const TaskTemplate *t = template_for(task, e);
    if (!t) return e->code;
    if (n_items > 0) {
        for (int r = 0; r < n_items; r++) {
            if (r && strbuf_puts(out, ", and ", e)) return RP_ENOMEM;
            int rc = expand(task, t->clause, items[r], out, e);
            if (rc) return rc;
        }
        if (strbuf_puts(out, t->suffix, e)) return RP_ENOMEM;
    }
    return strbuf_puts(out, input, e);
}

int prompt_retrieve(const Dataset *d, int64_t i, int k, int64_t *idx, int64_t *n_out, Error *e) {
    *n_out = 0;
    int64_t n = dataset_n_items(d, i);
    if (k <= 0 || n == 0) return RP_OK;
    char **docs = xcalloc((size_t)n, sizeof(char *), e);
    if (!docs) return RP_ENOMEM;
    StrBuf buf, query;
    strbuf_init(&buf);
    strbuf_init(&query);
    int rc = RP_OK;
    for (int64_t j = 0; j < n && !rc; j++) {
        strbuf_clear(&buf);
        rc = prompt_corpus_item(d->task, (const char *const *)dataset_item(d, i, j), &buf, e);
        if (!rc && !(docs[j] = xstrdup(buf.s ? buf.s : "", e))) rc = RP_ENOMEM;
    }
    if (!rc) rc = prompt_query(d->task, d->input[i], &query, e);
    Bm25 m;
    if (!rc && !(rc = bm25_init(&m, (const char *const *)docs, n, e))) {
        rc = bm25_top_k(&m, query.s ? query.s : "", k, idx, NULL, n_out, e);
        bm25_free(&m);
    }
    for (int64_t j = 0; j < n; j++) free(docs[j]);
    free(docs);
    strbuf_free(&buf);
    strbuf_free(&query);
    return rc;
}

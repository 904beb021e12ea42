/* Prompt building: per-task queries, corpus strings and renderings (exact strings from the
 * templates in docs/prompts.md), retrieval order, the reasoning / no-reasoning / no-profile
 * variants, the token layout and budget truncation with the GPT-2 tokenizer, and the split of a
 * generation into reasoning and answer. */
#include <stdlib.h>

#include "data/prompt.h"
#include "data/prompt_templates.h"
#include "tests/test.h"

static Error err;

/* Renders `input` with n items through the task's template into a static buffer. */
static const char *render(const char *task, const char *input, const char *const *const *items, int n) {
    static StrBuf b;
    strbuf_free(&b);
    CHECK_OK(prompt_render(task_find(task), input, items, n, &b, &err), &err);
    return b.s ? b.s : "";
}

static const char *query(const char *task, const char *input) {
    static StrBuf b;
    strbuf_free(&b);
    CHECK_OK(prompt_query(task_find(task), input, &b, &err), &err);
    return b.s ? b.s : "";
}

static const char *corpus(const char *task, const char *const *fields) {
    static StrBuf b;
    strbuf_free(&b);
    CHECK_OK(prompt_corpus_item(task_find(task), fields, &b, &err), &err);
    return b.s ? b.s : "";
}

static void test_queries(void) {
    /* LongLaMP: text after the first "items:" / first ":", stripped; otherwise the whole input. */
    CHECK_STR(query("abstract_generation", "Generate an abstract for the title \"Deep nets\" using the following items:  "
                                           "neural nets, items: more \n"),
              "neural nets, items: more");
    CHECK_STR(query("abstract_generation", "Generate an abstract for \"X\""), "Generate an abstract for \"X\"");
    CHECK_STR(query("email_completion", "Complete the email:  Dear Bob: the report "), "Dear Bob: the report");
    CHECK_STR(query("email_completion", "no colon here"), "no colon here");
    CHECK_STR(query("product_review", " Write a review: for \"mug\" "), " Write a review: for \"mug\" ");
    CHECK_STR(query("topic_writing", "Write a post: items: x"), "Write a post: items: x");
    CHECK_STR(query("package_description", "Write the long description of the Debian package \"jq\" (section utils), "
                                           "whose short description is \"JSON processor\"."),
              "Write the long description of the Debian package \"jq\" (section utils), whose short description is "
              "\"JSON processor\".");
    CHECK_STR(query("synthetic", "Write a note about chess."), "Write a note about chess.");
}

static void test_corpus(void) {
    const char *abs[] = {"Deep nets", "we  study nets"};
    CHECK_STR(corpus("abstract_generation", abs), "Deep nets we  study nets");
    const char *rev[] = {"5.0", "Great", "A blue mug", "Loved it"};
    CHECK_STR(corpus("product_review", rev), "5.0 Great A blue mug Loved it");
    const char *top[] = {"My cat", "She sleeps all day"};
    CHECK_STR(corpus("topic_writing", top), "My cat She sleeps all day");
    const char *mail[] = {"Lunch", "let us get lunch"};
    CHECK_STR(corpus("email_completion", mail), "let us get lunch");
    const char *pkg[] = {"jq", "JSON processor", "jq is like sed for JSON."};
    CHECK_STR(corpus("package_description", pkg), "jq JSON processor jq is like sed for JSON.");
    const char *syn[] = {"A note about chess", "I love the endgame."};
    CHECK_STR(corpus("synthetic", syn), "A note about chess. I love the endgame.");
}

static void test_render(void) {
    const char *a1[] = {"T1", "first  abstract\ntext"}, *a2[] = {"T2", "second"};
    const char *const *abs[] = {a1, a2};
    CHECK_STR(render("abstract_generation", "Generate an abstract for the title \"T\" using the following items: k", abs, 2),
              "\"first abstract text\" is the abstract for the title \"T1\", and \"second\" is the abstract for the title "
              "\"T2\". Use the above abstracts as context to understand the style and language of the user and, "
              "Generate an abstract for the title \"T\" using the following items: k");
    const char *r1[] = {"5.0", "Great", "A blue mug", "Loved it"}, *r2[] = {"1.0", "Bad", "A pan", "It broke"};
    const char *const *rev[] = {r1, r2};
    CHECK_STR(render("product_review", "Write a review for \"cup\"", rev, 2),
              "\"5.0\" is a rating for the product with description \"A blue mug\". \"Great\" is summary for "
              "\"Loved it\" , and \"1.0\" is a rating for the product with description \"A pan\". \"Bad\" is summary "
              "for \"It broke\" . Following the given patterns Write a review for \"cup\"");
    const char *t1[] = {"My cat", "She sleeps"};
    const char *const *top[] = {t1};
    CHECK_STR(render("topic_writing", "Write about dogs", top, 1),
              "\"My cat\" is a summary for \"She sleeps\" . Following the given patterns, Write about dogs");
    const char *m1[] = {"Lunch", "let us get lunch"}, *m2[] = {"Budget", "see the budget"};
    const char *const *mail[] = {m1, m2};
    CHECK_STR(render("email_completion", "Complete: Dear all", mail, 2),
              "\"Lunch\" is the title for \"let us get lunch\" , and \"Budget\" is the title for \"see the budget\" . "
              "Complete: Dear all");
    const char *p1[] = {"jq", "JSON processor", "jq is like sed."};
    const char *const *pkg[] = {p1};
    CHECK_STR(render("package_description", "Write the long description of the Debian package \"yq\".", pkg, 1),
              "\"jq is like sed.\" is the long description of the package \"jq\" with the summary \"JSON processor\". "
              "Use the above descriptions as context to understand the style and language of the maintainer. "
              "Write the long description of the Debian package \"yq\".");
    const char *s1[] = {"A note about chess", "I love the endgame."};
    const char *const *syn[] = {s1};
    CHECK_STR(render("synthetic", "Write a note about music.", syn, 1),
              "\"I love the endgame.\" is the text for the title \"A note about chess\". Use the above texts as "
              "context to understand the style and language of the user. Write a note about music.");
    /* No items: the input alone, for every task. */
    CHECK_STR(render("topic_writing", "Write about dogs", NULL, 0), "Write about dogs");
    CHECK_STR(render("abstract_generation", "Generate x", NULL, 0), "Generate x");

    /* Abstracts keep their first 750 words, re-joined with single spaces. */
    StrBuf longabs, want;
    strbuf_init(&longabs);
    strbuf_init(&want);
    strbuf_puts(&want, "\"", &err);
    for (int w = 0; w < 760; w++) {
        strbuf_printf(&longabs, &err, "w%d%s", w, w % 7 ? " " : " \n ");
        if (w < 750) strbuf_printf(&want, &err, "%sw%d", w ? " " : "", w);
    }
    strbuf_puts(&want, "\" is the abstract for the title \"L\". Use the above abstracts as context to understand the "
                       "style and language of the user and, in", &err);
    const char *l1[] = {"L", longabs.s};
    const char *const *labs[] = {l1};
    CHECK_STR(render("abstract_generation", "in", labs, 1), want.s);
    strbuf_free(&longabs);
    strbuf_free(&want);
}

/* One email_completion example whose query "meeting budget report" ranks the items
 * 1 (budget twice, report), 2 (meeting), 0 (no match); see test_bm25.c for the formula. */
static void email_dataset(Dataset *d, const char *reasoning) {
    CHECK_OK(dataset_init(d, "email_completion", &err), &err);
    CHECK_OK(dataset_add(d, "e1", "u1", "train", "Complete the email: meeting budget report",
                         "The numbers are final.", reasoning, &err), &err);
    const char *i0[] = {"Lunch", "let us get lunch"};
    const char *i1[] = {"Budget", "the budget report is attached budget"};
    const char *i2[] = {"Meeting", "meeting moved to friday"};
    CHECK_OK(dataset_add_item(d, i0, &err), &err);
    CHECK_OK(dataset_add_item(d, i1, &err), &err);
    CHECK_OK(dataset_add_item(d, i2, &err), &err);
}

static const char *RANKED2 = "\"Budget\" is the title for \"the budget report is attached budget\" , and \"Meeting\" is "
                             "the title for \"meeting moved to friday\" . Complete the email: meeting budget report";

static void test_build_text(void) {
    Dataset d;
    email_dataset(&d, "- terse\n- numbers first\n");
    int64_t idx[3], n;
    CHECK_OK(prompt_retrieve(&d, 0, 3, idx, &n, &err), &err);
    CHECK(n == 3 && idx[0] == 1 && idx[1] == 2 && idx[2] == 0);

    PromptOptions o;
    prompt_options_default(&o);
    CHECK(o.k == 4 && o.reasoning == 1 && o.profile == 1 && o.max_tokens == 0);
    o.k = 2;
    BuiltPrompt b;
    built_prompt_init(&b);
    CHECK_OK(prompt_build(&d, 0, NULL, &o, &b, &err), &err);
    StrBuf want;
    strbuf_init(&want);
    strbuf_printf(&want, &err, "%s\n\n%s", RANKED2, PROMPT_REASONING_CUE);
    CHECK_STR(b.prompt_text.s, want.s);
    CHECK_STR(b.target_text.s, "- terse\n- numbers first\n\n" PROMPT_ANSWER_CUE "\nThe numbers are final.");
    CHECK(b.items_retrieved == 2 && b.items_used == 2 && b.tokens.n == 0 && !b.target_truncated);

    o.reasoning = 0;
    CHECK_OK(prompt_build(&d, 0, NULL, &o, &b, &err), &err);
    CHECK_STR(b.prompt_text.s, RANKED2);
    CHECK_STR(b.target_text.s, "The numbers are final.");

    o.profile = 0;
    CHECK_OK(prompt_build(&d, 0, NULL, &o, &b, &err), &err);
    CHECK_STR(b.prompt_text.s, "Complete the email: meeting budget report");
    CHECK(b.items_retrieved == 0 && b.items_used == 0);

    o.profile = 1;
    o.k = 10; /* more than the profile holds */
    CHECK_OK(prompt_build(&d, 0, NULL, &o, &b, &err), &err);
    CHECK(b.items_retrieved == 3 && b.items_used == 3);

    /* EM rounds: the same prompt with a sampled reasoning and answer. */
    o.reasoning = 1;
    o.k = 2;
    CHECK_OK(prompt_build_with(&d, 0, NULL, &o, "", "Sampled.", &b, &err), &err);
    CHECK_STR(b.target_text.s, PROMPT_ANSWER_CUE "\nSampled.");
    strbuf_free(&want);
    dataset_free(&d);

    /* Reasoning mode needs a reasoning text unless told otherwise. */
    email_dataset(&d, NULL);
    CHECK(prompt_build(&d, 0, NULL, &o, &b, &err) == RP_EINPUT);
    CHECK(strstr(err.msg, "'e1'") && strstr(err.msg, "'reasoning'"));
    o.allow_missing_reasoning = 1;
    CHECK_OK(prompt_build(&d, 0, NULL, &o, &b, &err), &err);
    CHECK_STR(b.target_text.s, PROMPT_ANSWER_CUE "\nThe numbers are final.");
    o.max_tokens = 1;
    CHECK(prompt_build(&d, 0, NULL, &o, &b, &err) == RP_EINPUT);
    CHECK(strstr(err.msg, "max_tokens") != NULL);
    built_prompt_free(&b);
    dataset_free(&d);
}

/* Appends encode(text) to v. */
static void enc(const Tokenizer *t, const char *text, TokenVec *v) {
    CHECK_OK(tokenizer_encode(t, text, strlen(text), v, &err), &err);
}

static int same_ids(const int32_t *a, const int32_t *b, int64_t n) { return n == 0 || !memcmp(a, b, (size_t)n * 4); }

/* The token layout: prompt text, marker, then the target as prompt.h documents it. */
static void test_layout(const Tokenizer *t) {
    Dataset d;
    email_dataset(&d, "- terse");
    PromptOptions o;
    prompt_options_default(&o);
    o.k = 2;
    BuiltPrompt b;
    built_prompt_init(&b);
    CHECK_OK(prompt_build(&d, 0, t, &o, &b, &err), &err);
    TokenVec want;
    tokvec_init(&want);
    enc(t, b.prompt_text.s, &want);
    tokvec_push(&want, tokenizer_special(t, TOK_REASONING), &err);
    CHECK(b.n_prompt == want.n);
    enc(t, "- terse\n\n" PROMPT_ANSWER_CUE, &want);
    tokvec_push(&want, tokenizer_special(t, TOK_ANSWER), &err);
    enc(t, "The numbers are final.", &want);
    tokvec_push(&want, tokenizer_special(t, TOK_EOT), &err);
    CHECK(b.tokens.n == want.n && same_ids(b.tokens.v, want.v, want.n));
    CHECK(b.items_used == 2 && !b.target_truncated);

    /* Without reasoning: prompt, <|answer|>, answer, EOT. */
    o.reasoning = 0;
    CHECK_OK(prompt_build(&d, 0, t, &o, &b, &err), &err);
    want.n = 0;
    enc(t, RANKED2, &want);
    tokvec_push(&want, tokenizer_special(t, TOK_ANSWER), &err);
    CHECK(b.n_prompt == want.n);
    enc(t, "The numbers are final.", &want);
    tokvec_push(&want, tokenizer_special(t, TOK_EOT), &err);
    CHECK(b.tokens.n == want.n && same_ids(b.tokens.v, want.v, want.n));
    tokvec_free(&want);
    built_prompt_free(&b);
    dataset_free(&d);
}

/* Budgets: whole items go first, lowest-ranked first; then the input is cut from the left; the
 * target is cut (from its end) only when it alone does not fit beside the marker. */
static void test_truncation(const Tokenizer *t) {
    Dataset d;
    email_dataset(&d, "- terse");
    PromptOptions o;
    prompt_options_default(&o);
    o.k = 3;
    BuiltPrompt full, b, fewer;
    built_prompt_init(&full);
    built_prompt_init(&b);
    built_prompt_init(&fewer);
    CHECK_OK(prompt_build(&d, 0, t, &o, &full, &err), &err);
    int64_t target_n = full.tokens.n - full.n_prompt;
    const int32_t *target = full.tokens.v + full.n_prompt;

    /* The full size fits exactly; one token less drops item 0 (ranked last), and the prompt is
     * then exactly the two-item prompt. */
    o.max_tokens = (int)full.tokens.n;
    CHECK_OK(prompt_build(&d, 0, t, &o, &b, &err), &err);
    CHECK(b.items_used == 3 && b.tokens.n == full.tokens.n);
    o.max_tokens = (int)full.tokens.n - 1;
    CHECK_OK(prompt_build(&d, 0, t, &o, &b, &err), &err);
    CHECK(b.items_retrieved == 3 && b.items_used == 2 && !b.target_truncated);
    CHECK(b.tokens.n <= o.max_tokens);
    CHECK(b.tokens.n - b.n_prompt == target_n && same_ids(b.tokens.v + b.n_prompt, target, target_n));
    PromptOptions o2 = o;
    o2.k = 2;
    o2.max_tokens = 0;
    CHECK_OK(prompt_build(&d, 0, t, &o2, &fewer, &err), &err);
    CHECK_STR(b.prompt_text.s, fewer.prompt_text.s);
    CHECK(b.n_prompt == fewer.n_prompt);

    /* Room for the target and the bare input only: zero items. */
    o2.k = 0;
    CHECK_OK(prompt_build(&d, 0, t, &o2, &fewer, &err), &err);
    o.max_tokens = (int)fewer.tokens.n;
    CHECK_OK(prompt_build(&d, 0, t, &o, &b, &err), &err);
    CHECK(b.items_used == 0 && b.tokens.n == fewer.tokens.n);
    CHECK_STR(b.prompt_text.s, "Complete the email: meeting budget report\n\n" PROMPT_REASONING_CUE);

    /* Three tokens less: the input loses its start; the end (with the cue) stays, and the prompt
     * tokens are the tail of the zero-item prompt's. */
    o.max_tokens = (int)fewer.tokens.n - 3;
    CHECK_OK(prompt_build(&d, 0, t, &o, &b, &err), &err);
    CHECK(b.items_used == 0 && !b.target_truncated && b.tokens.n == o.max_tokens);
    CHECK(b.n_prompt == fewer.n_prompt - 3);
    CHECK(same_ids(b.tokens.v, fewer.tokens.v + 3, b.n_prompt));
    size_t pl = strlen(b.prompt_text.s), fl = strlen(fewer.prompt_text.s);
    CHECK(pl < fl && !strcmp(b.prompt_text.s, fewer.prompt_text.s + fl - pl));
    CHECK(same_ids(b.tokens.v + b.n_prompt, target, target_n));

    /* Exactly the marker and the target: no prompt text left. */
    o.max_tokens = (int)target_n + 1;
    CHECK_OK(prompt_build(&d, 0, t, &o, &b, &err), &err);
    CHECK(b.n_prompt == 1 && b.prompt_text.len == 0 && !b.target_truncated);

    /* The target alone is too long: marker alone, target cut from the end. */
    o.max_tokens = (int)target_n - 2;
    CHECK_OK(prompt_build(&d, 0, t, &o, &b, &err), &err);
    CHECK(b.target_truncated && b.n_prompt == 1 && b.tokens.n == o.max_tokens && b.items_used == 0);
    CHECK(b.tokens.v[0] == tokenizer_special(t, TOK_REASONING));
    CHECK(same_ids(b.tokens.v + 1, target, b.tokens.n - 1));
    CHECK(strstr(b.target_text.s, "The numbers are final.") != NULL); /* text stays whole */
    built_prompt_free(&full);
    built_prompt_free(&b);
    built_prompt_free(&fewer);
    dataset_free(&d);
}

/* Left cuts never start inside a UTF-8 character: byte-level tokens can hold part of one. */
static void test_cut_utf8(const Tokenizer *t) {
    Dataset d;
    CHECK_OK(dataset_init(&d, "topic_writing", &err), &err);
    CHECK_OK(dataset_add(&d, "t1", "u", "train", "日本語のテキスト日本語のテキスト", "ok", NULL, &err), &err);
    const char *it[] = {"s", "c"};
    CHECK_OK(dataset_add_item(&d, it, &err), &err);
    PromptOptions o;
    prompt_options_default(&o);
    o.reasoning = 0;
    o.profile = 0;
    BuiltPrompt full, b;
    built_prompt_init(&full);
    built_prompt_init(&b);
    CHECK_OK(prompt_build(&d, 0, t, &o, &full, &err), &err);
    int seen_cut = 0;
    for (int m = 3; m < (int)full.tokens.n; m++) {
        o.max_tokens = m;
        CHECK_OK(prompt_build(&d, 0, t, &o, &b, &err), &err);
        CHECK(b.tokens.n <= m && utf8_valid(b.prompt_text.s, b.prompt_text.len, NULL));
        StrBuf dec;
        strbuf_init(&dec);
        CHECK_OK(tokenizer_decode(t, b.tokens.v, b.n_prompt - 1, &dec, &err), &err);
        CHECK_STR(dec.s ? dec.s : "", b.prompt_text.s);
        strbuf_free(&dec);
        seen_cut |= b.tokens.n < m; /* a token dropped to reach a character boundary */
    }
    CHECK(seen_cut);
    built_prompt_free(&full);
    built_prompt_free(&b);
    dataset_free(&d);
}

static void test_split(const Tokenizer *t) {
    TokenVec v;
    tokvec_init(&v);
    enc(t, "  - terse\n\n" PROMPT_ANSWER_CUE, &v);
    tokvec_push(&v, tokenizer_special(t, TOK_ANSWER), &err);
    enc(t, " The answer. ", &v);
    tokvec_push(&v, tokenizer_special(t, TOK_EOT), &err);
    enc(t, "junk after the end", &v);
    StrBuf r, a;
    strbuf_init(&r);
    strbuf_init(&a);
    int has_sep = -1;
    CHECK_OK(prompt_split_generation(t, v.v, v.n, &r, &a, &has_sep, &err), &err);
    CHECK(has_sep == 1);
    CHECK_STR(r.s, "- terse");
    CHECK_STR(a.s, "The answer.");

    /* No separator (a no-reasoning generation, or a malformed one): all of it is the answer. */
    v.n = 0;
    enc(t, "Just the answer", &v);
    tokvec_push(&v, tokenizer_special(t, TOK_EOT), &err);
    strbuf_clear(&r);
    strbuf_clear(&a);
    CHECK_OK(prompt_split_generation(t, v.v, v.n, &r, &a, &has_sep, &err), &err);
    CHECK(has_sep == 0);
    CHECK_STR(r.s, "");
    CHECK_STR(a.s, "Just the answer");

    /* A generation cut inside a character, with no EOT: the broken bytes become U+FFFD. */
    v.n = 0;
    tokvec_push(&v, tokenizer_special(t, TOK_ANSWER), &err);
    enc(t, "caf\xc3", &v);
    strbuf_clear(&r);
    strbuf_clear(&a);
    CHECK_OK(prompt_split_generation(t, v.v, v.n, &r, &a, &has_sep, &err), &err);
    CHECK(has_sep == 1);
    CHECK_STR(r.s, "");
    CHECK_STR(a.s, "caf\xef\xbf\xbd");
    strbuf_free(&r);
    strbuf_free(&a);
    tokvec_free(&v);
}

static void test_prompt_tokens(void) {
    const char *src = getenv("RESTPG_SOURCE_DIR");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/data/gpt2", src ? src : ".");
    Tokenizer *t = NULL;
    CHECK_OK(tokenizer_load(dir, &t, &err), &err);
    if (!t) return;
    test_layout(t);
    test_truncation(t);
    test_cut_utf8(t);
    test_split(t);
    tokenizer_free(t);
}

int main(void) {
    error_clear(&err);
    test_queries();
    test_corpus();
    test_render();
    test_build_text();
    test_prompt_tokens();
    return test_summary("test_prompt");
}

/* REST-PG prompt and target building within a token budget, and the split of a generation into
 * reasoning and answer (see prompt.h; per-task rules are in prompt_templates.c; the layout and
 * truncation rules are explained in docs/prompts.md). */
#include "data/prompt.h"

#include <stdlib.h>
#include <string.h>

#include "data/bm25.h"
#include "data/prompt_templates.h"

void prompt_options_default(PromptOptions *o) {
    o->k = 4;
    o->reasoning = 1;
    o->profile = 1;
    o->max_tokens = 0;
    o->allow_missing_reasoning = 0;
}

void built_prompt_init(BuiltPrompt *b) {
    tokvec_init(&b->tokens);
    strbuf_init(&b->prompt_text);
    strbuf_init(&b->target_text);
    b->n_prompt = 0;
    b->items_retrieved = b->items_used = b->target_truncated = 0;
}

void built_prompt_free(BuiltPrompt *b) {
    tokvec_free(&b->tokens);
    strbuf_free(&b->prompt_text);
    strbuf_free(&b->target_text);
    built_prompt_init(b);
}

/* Appends s[0..n) with surrounding whitespace removed. */
static int append_stripped(StrBuf *out, const char *s, size_t n, Error *e) {
    size_t b, l;
    pystrip(s, n, &b, &l);
    return strbuf_append(out, s + b, l, e);
}

/* The prompt text with the top n_items retrieved items: the task's rendering, then in reasoning
 * mode a blank line and the cue sentence the reasoning continues from. */
static int render_prompt(const Dataset *d, int64_t i, const PromptOptions *o, const int64_t *idx, int n_items,
                         StrBuf *out, Error *e) {
    const char *const **items = xcalloc((size_t)n_items + 1, sizeof *items, e);
    if (!items) return RP_ENOMEM;
    for (int r = 0; r < n_items; r++) items[r] = (const char *const *)dataset_item(d, i, idx[r]);
    strbuf_clear(out);
    int rc = prompt_render(d->task, d->input[i], items, n_items, out, e);
    free(items);
    if (!rc && o->reasoning) rc = strbuf_puts(out, "\n\n" PROMPT_REASONING_CUE, e);
    if (!rc && !out->s) rc = strbuf_puts(out, "", e);
    return rc;
}

/* The target text, and with a tokenizer its tokens:
 *   reasoning:  encode("<reasoning>\n\n" CUE) <|answer|> encode(answer) <|endoftext|>
 *   otherwise:  encode(answer) <|endoftext|>
 * The reasoning is stripped of surrounding whitespace; an empty one leaves the cue alone. */
static int build_target(const Tokenizer *t, const PromptOptions *o, const char *reasoning, const char *answer,
                        StrBuf *text, TokenVec *tok, Error *e) {
    int rc = RP_OK;
    if (!reasoning) reasoning = "";
    if (o->reasoning) {
        rc = append_stripped(text, reasoning, strlen(reasoning), e);
        if (!rc && text->len) rc = strbuf_puts(text, "\n\n", e);
        if (!rc) rc = strbuf_puts(text, PROMPT_ANSWER_CUE, e);
        if (!rc && t) rc = tokenizer_encode(t, text->s, text->len, tok, e);
        if (!rc && t) rc = tokvec_push(tok, tokenizer_special(t, TOK_ANSWER), e);
        if (!rc) rc = strbuf_puts(text, "\n", e);
    }
    if (!rc && t) rc = tokenizer_encode(t, answer, strlen(answer), tok, e);
    if (!rc && t) rc = tokvec_push(tok, tokenizer_special(t, TOK_EOT), e);
    if (!rc) rc = strbuf_puts(text, answer, e);
    return rc;
}

/* Keeps the last `keep` tokens of ptok (the prompt text cut from the left) and sets text to their
 * decoding. Tokens are byte-level, so a cut can land inside a UTF-8 character: leading tokens
 * are dropped until the text starts on a character boundary. */
static int cut_left(const Tokenizer *t, TokenVec *ptok, int64_t keep, StrBuf *text, Error *e) {
    int64_t drop = ptok->n - keep;
    for (;;) {
        strbuf_clear(text);
        int rc = tokenizer_decode(t, ptok->v + drop, ptok->n - drop, text, e);
        if (rc) return rc;
        if (drop == ptok->n || !text->len || ((unsigned char)text->s[0] & 0xC0) != 0x80) break;
        drop++;
    }
    memmove(ptok->v, ptok->v + drop, (size_t)(ptok->n - drop) * sizeof(int32_t));
    ptok->n -= drop;
    return strbuf_puts(text, "", e);
}

/* Chooses the prompt within the budget: the most top-ranked items that fit beside the whole target,
 * else no items and the input cut from the left, else (the target alone is too long) the marker
 * alone and the target cut from its end. ptok gets the prompt text tokens (marker excluded). */
static int fit_budget(const Dataset *d, int64_t i, const Tokenizer *t, const PromptOptions *o, const int64_t *idx,
                      TokenVec *ptok, TokenVec *target, BuiltPrompt *out, Error *e) {
    /* A model that wants BOS gets it in front of the prompt, inside the budget. */
    int64_t budget = o->max_tokens && tokenizer_bos(t) >= 0 ? o->max_tokens - 1 : o->max_tokens;
    int rc = RP_OK;
    for (int used = out->items_retrieved; used >= 0; used--) {
        ptok->n = 0;
        if ((rc = render_prompt(d, i, o, idx, used, &out->prompt_text, e))) return rc;
        if ((rc = tokenizer_encode(t, out->prompt_text.s, out->prompt_text.len, ptok, e))) return rc;
        out->items_used = used;
        if (!budget || ptok->n + 1 + target->n <= budget) return RP_OK;
    }
    if (target->n + 1 <= budget) return cut_left(t, ptok, budget - 1 - target->n, &out->prompt_text, e);
    ptok->n = 0;
    strbuf_clear(&out->prompt_text);
    target->n = budget - 1;
    out->target_truncated = 1;
    return RP_OK;
}

int prompt_build_with(const Dataset *d, int64_t i, const Tokenizer *t, const PromptOptions *o, const char *reasoning,
                      const char *answer, BuiltPrompt *out, Error *e) {
    if (i < 0 || i >= d->n) return error_set(e, RP_EINTERNAL, "prompt_build: example %lld of %lld", (long long)i, (long long)d->n);
    if (o->max_tokens < 0 || o->max_tokens == 1)
        return error_set(e, RP_EINPUT, "max_tokens is %d: expected 0 (unlimited) or at least 2", o->max_tokens);
    if (o->k < 0) return error_set(e, RP_EINPUT, "k is %d: expected 0 or more profile items", o->k);
    out->tokens.n = 0;
    out->n_prompt = 0;
    strbuf_clear(&out->prompt_text);
    strbuf_clear(&out->target_text);
    out->items_retrieved = out->items_used = out->target_truncated = 0;

    int64_t n_items = dataset_n_items(d, i), n_ret = 0;
    int64_t *idx = xcalloc((size_t)(n_items < o->k ? n_items : o->k) + 1, sizeof(int64_t), e);
    if (!idx) return RP_ENOMEM;
    TokenVec ptok, target;
    tokvec_init(&ptok);
    tokvec_init(&target);
    int rc = o->profile ? prompt_retrieve(d, i, o->k, idx, &n_ret, e) : RP_OK;
    out->items_retrieved = (int)n_ret;
    if (!rc) rc = build_target(t, o, reasoning, answer, &out->target_text, &target, e);
    if (!rc && !t) {
        out->items_used = out->items_retrieved;
        rc = render_prompt(d, i, o, idx, out->items_used, &out->prompt_text, e);
    } else if (!rc) {
        rc = fit_budget(d, i, t, o, idx, &ptok, &target, out, e);
        if (!rc && tokenizer_bos(t) >= 0) rc = tokvec_push(&out->tokens, tokenizer_bos(t), e);
        for (int64_t j = 0; !rc && j < ptok.n; j++) rc = tokvec_push(&out->tokens, ptok.v[j], e);
        if (!rc) rc = tokvec_push(&out->tokens, tokenizer_special(t, o->reasoning ? TOK_REASONING : TOK_ANSWER), e);
        out->n_prompt = out->tokens.n;
        for (int64_t j = 0; !rc && j < target.n; j++) rc = tokvec_push(&out->tokens, target.v[j], e);
    }
    free(idx);
    tokvec_free(&ptok);
    tokvec_free(&target);
    if (rc) error_wrap(e, "example '%s' (record %lld)", d->id[i], (long long)i);
    return rc;
}

int prompt_build(const Dataset *d, int64_t i, const Tokenizer *t, const PromptOptions *o, BuiltPrompt *out, Error *e) {
    if (i < 0 || i >= d->n) return error_set(e, RP_EINTERNAL, "prompt_build: example %lld of %lld", (long long)i, (long long)d->n);
    if (o->reasoning && !o->allow_missing_reasoning && !d->reasoning[i][0])
        return error_set(e, RP_EINPUT,
                         "example '%s' (record %lld): field 'reasoning' is empty; run `restpg reason` first, or build "
                         "without reasoning",
                         d->id[i], (long long)i);
    return prompt_build_with(d, i, t, o, d->reasoning[i], d->output[i], out, e);
}

/* Appends s[0..n) with every invalid UTF-8 sequence replaced by U+FFFD: a lead byte and the
 * continuation bytes that follow it (up to the length it announces) count as one sequence. */
static int append_utf8_repaired(StrBuf *out, const char *s, size_t n, Error *e) {
    size_t bad;
    while (!utf8_valid(s, n, &bad)) {
        if (strbuf_append(out, s, bad, e) || strbuf_puts(out, "\xEF\xBF\xBD", e)) return RP_ENOMEM;
        unsigned char c = (unsigned char)s[bad];
        size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1, skip = 1;
        while (skip < want && bad + skip < n && ((unsigned char)s[bad + skip] & 0xC0) == 0x80) skip++;
        s += bad + skip;
        n -= bad + skip;
    }
    return strbuf_append(out, s, n, e);
}

/* Decodes ids, repairs UTF-8 and strips whitespace; with drop_cue also a trailing answer cue. */
static int decode_clean(const Tokenizer *t, const int32_t *ids, int64_t n, int drop_cue, StrBuf *out, Error *e) {
    StrBuf raw, fixed;
    strbuf_init(&raw);
    strbuf_init(&fixed);
    int rc = tokenizer_decode(t, ids, n, &raw, e);
    if (!rc) rc = append_utf8_repaired(&fixed, raw.s ? raw.s : "", raw.len, e);
    if (!rc) {
        size_t b, l, cl = strlen(PROMPT_ANSWER_CUE);
        const char *s = fixed.s ? fixed.s : "";
        pystrip(s, fixed.len, &b, &l);
        if (drop_cue && l >= cl && !memcmp(s + b + l - cl, PROMPT_ANSWER_CUE, cl)) {
            l -= cl;
            size_t b2, l2;
            pystrip(s + b, l, &b2, &l2);
            b += b2;
            l = l2;
        }
        rc = strbuf_append(out, s + b, l, e);
    }
    strbuf_free(&raw);
    strbuf_free(&fixed);
    return rc;
}

int prompt_split_generation(const Tokenizer *t, const int32_t *ids, int64_t n, StrBuf *reasoning, StrBuf *answer,
                            int *has_sep, Error *e) {
    int32_t eot = tokenizer_special(t, TOK_EOT), ans = tokenizer_special(t, TOK_ANSWER);
    int64_t end = 0, sep = -1;
    while (end < n && ids[end] != eot) {
        if (sep < 0 && ids[end] == ans) sep = end;
        end++;
    }
    *has_sep = sep >= 0;
    int rc = strbuf_puts(reasoning, "", e);
    if (!rc && sep >= 0) rc = decode_clean(t, ids, sep, 1, reasoning, e);
    if (!rc) rc = strbuf_puts(answer, "", e);
    if (!rc) rc = decode_clean(t, ids + sep + 1, end - sep - 1, 0, answer, e);
    return rc;
}

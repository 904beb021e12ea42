/* REST-PG prompt and target building: retrieve a user's profile items with BM25, render them with
 * the task's LongLaMP template, and tokenize prompt and target within a token budget.
 *
 * Token layout of a built example (reasoning mode):
 *   [prompt tokens ...] <|reasoning|> [reasoning tokens ...] <|answer|> [answer tokens ...] <|endoftext|>
 * n_prompt counts the prompt tokens *including* the <|reasoning|> marker, so a sampler feeds
 * tokens[0..n_prompt) and lets the model write the rest; the loss covers tokens[n_prompt..n).
 * Without reasoning the marker after the prompt is <|answer|> and the target is answer + EOT.
 * A model whose tokenizer wants a BOS (tokenizer_bos >= 0: Gemma's <bos>) gets it first, counted
 * in n_prompt and in the budget; GPT-2 vocabularies want none.
 * Truncation never cuts the target: whole retrieved items are dropped (lowest-ranked first)
 * before the input text itself is cut from the left; the target is cut only if it alone
 * exceeds the budget (reported via target_truncated). The texts around the markers (a closing
 * cue sentence in the prompt, a separator sentence ending the reasoning) are in docs/prompts.md. */
#ifndef RESTPG_DATA_PROMPT_H
#define RESTPG_DATA_PROMPT_H

#include <stdint.h>

#include "core/error.h"
#include "core/text.h"
#include "data/dataset.h"
#include "data/tokenizer.h"

typedef struct {
    int k;            /* profile items to retrieve (default 4) */
    int reasoning;    /* 1: target is reasoning + separator + answer; 0: answer only */
    int profile;      /* 0: no personalization (no retrieved items in the prompt) */
    int max_tokens;   /* budget for prompt + target; 0 = unlimited, else at least 2 */
    int allow_missing_reasoning; /* 1: in reasoning mode an example without a reasoning text is not
                                  * an error; its target gets an empty reasoning (prompt-only use:
                                  * sampling, evaluation). Default 0: RP_EINPUT naming the record. */
} PromptOptions;

/* The sentence that ends a reasoning-mode prompt (before <|reasoning|>), and the one that ends the
 * reasoning (before <|answer|>); see docs/prompts.md for the full layout. */
#define PROMPT_REASONING_CUE "To summarize the writing style of the user, we can consider the following aspects:"
#define PROMPT_ANSWER_CUE "Now, considering the style summary, we can generate the final answer:"

void prompt_options_default(PromptOptions *o);

typedef struct {
    TokenVec tokens;
    int64_t n_prompt;     /* tokens[0..n_prompt) is the prompt (with its trailing marker) */
    StrBuf prompt_text;   /* the rendered prompt text (without markers) */
    StrBuf target_text;   /* the target as text: reasoning + separator sentence + answer, i.e.
                           * "<reasoning>\n\n" PROMPT_ANSWER_CUE "\n<answer>" (the "\n" before the
                           * answer stands for <|answer|>); the answer alone without reasoning.
                           * Always the whole target, even when target_truncated. */
    int items_retrieved;  /* items the retriever returned */
    int items_used;       /* items that fit the budget */
    int target_truncated;
} BuiltPrompt;

void built_prompt_init(BuiltPrompt *b);
void built_prompt_free(BuiltPrompt *b);

/* Builds example i of d. With t == NULL only the texts are built (no tokens, no budget).
 * out is reset first, so one BuiltPrompt can be reused across examples. */
int prompt_build(const Dataset *d, int64_t i, const Tokenizer *t, const PromptOptions *o, BuiltPrompt *out, Error *e);
/* The same prompt with a target made of the given reasoning (ignored without o->reasoning; may be
 * empty) and answer instead of the dataset's: EM rounds train on sampled outputs. */
int prompt_build_with(const Dataset *d, int64_t i, const Tokenizer *t, const PromptOptions *o, const char *reasoning,
                      const char *answer, BuiltPrompt *out, Error *e);

/* Splits generated target token ids (what follows n_prompt) at the first <|answer|> token into
 * reasoning and answer texts (EOT and anything after it dropped). A missing separator yields
 * an empty reasoning and *has_sep = 0. Both texts are appended to the StrBufs with surrounding
 * whitespace removed, the reasoning also without a trailing PROMPT_ANSWER_CUE, and any invalid
 * UTF-8 sequence (a generation can stop inside a character) replaced by U+FFFD. */
int prompt_split_generation(const Tokenizer *t, const int32_t *ids, int64_t n, StrBuf *reasoning, StrBuf *answer,
                            int *has_sep, Error *e);

#endif

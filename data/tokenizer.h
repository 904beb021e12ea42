/* Byte-level BPE tokenizer: GPT-2-compatible encoding from encoder.json + vocab.bpe, or restpg's
 * own trained vocabulary (file format "RPTK", docs/formats.md).
 *
 * Contract:
 *  - Encoding never produces special tokens from ordinary text: "<|endoftext|>" inside a text is
 *    encoded as plain bytes. Special tokens are appended by id (tokenizer_special).
 *  - decode(encode(x)) == x for every byte string x (invalid UTF-8 included).
 *  - With a GPT-2 directory, ids 0..50256 are exactly GPT-2's; restpg's extra special tokens
 *    (reasoning and answer markers) get the ids after the last GPT-2 id.
 *  - A loaded tokenizer may be used for encoding and decoding from several threads at once. */
#ifndef RESTPG_DATA_TOKENIZER_H
#define RESTPG_DATA_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/text.h"

typedef enum {
    TOK_EOT = 0,       /* "<|endoftext|>": ends a document / a generation */
    TOK_REASONING = 1, /* "<|reasoning|>": the model starts writing its reasoning after it */
    TOK_ANSWER = 2,    /* "<|answer|>": separates reasoning from the answer */
    TOK_N_SPECIAL = 3
} SpecialToken;

typedef struct Tokenizer Tokenizer;

typedef struct {
    int32_t *v;
    int64_t n, cap;
} TokenVec;

void tokvec_init(TokenVec *t);
void tokvec_free(TokenVec *t);
int tokvec_push(TokenVec *t, int32_t id, Error *e);

/* Loads a tokenizer from `path`: a restpg tokenizer file, or a directory holding GPT-2's
 * encoder.json and vocab.bpe. Wrong magic, version, truncation or corrupt content -> RP_EINPUT
 * naming the file. */
int tokenizer_load(const char *path, Tokenizer **t, Error *e);
/* Trains byte-level BPE on the texts until the vocabulary (256 bytes + merges + specials) has
 * vocab_size entries (or no pair occurs twice). Deterministic for the same texts. */
int tokenizer_train(char *const *texts, int64_t n, int vocab_size, Tokenizer **t, Error *e);
/* Writes the tokenizer to a file atomically (also for GPT-2 vocabularies). */
int tokenizer_save(const Tokenizer *t, const char *path, Error *e);
/* The same bytes as the file, for embedding in checkpoints; and back. `source` names the
 * origin in error messages. */
int tokenizer_serialize(const Tokenizer *t, uint8_t **buf, size_t *n, Error *e);
int tokenizer_deserialize(const uint8_t *buf, size_t n, const char *source, Tokenizer **t, Error *e);
void tokenizer_free(Tokenizer *t);

/* Number of token ids (including special tokens). */
int tokenizer_vocab_size(const Tokenizer *t);
int32_t tokenizer_special(const Tokenizer *t, SpecialToken s);

/* Appends the ids of text[0..n) to out. */
int tokenizer_encode(const Tokenizer *t, const char *text, size_t n, TokenVec *out, Error *e);
/* Appends the bytes of ids to out (special tokens as their strings). Unknown id -> RP_EINPUT. */
int tokenizer_decode(const Tokenizer *t, const int32_t *ids, int64_t n, StrBuf *out, Error *e);

#endif

/* Tokenizers behind one interface, in three kinds (docs/tokenizer.md):
 *  - byte-level BPE: GPT-2-compatible encoding from encoder.json + vocab.bpe, or restpg's own
 *    trained vocabulary (file format "RPTK", docs/formats.md);
 *  - SentencePiece-style (SPM) vocabularies as llama.cpp reads them from GGUF metadata
 *    (tokenizer.ggml.model "llama", e.g. Gemma 3), encoding exactly as llama.cpp does (file
 *    format "RPSP");
 *  - Hugging Face tokenizer.json BPE vocabularies (GPT-2, Llama 3, Qwen2/2.5/3, Llama 2, Gemma),
 *    encoding exactly as PyPI tokenizers does with encode_special_tokens set (file format
 *    "RPHF").
 *
 * Contract:
 *  - Encoding never produces special tokens from ordinary text: "<|endoftext|>" or "<eos>" inside a
 *    text is encoded as plain text. Special tokens are appended by id (tokenizer_special,
 *    tokenizer_bos); encoding never adds a BOS.
 *  - decode(encode(x)) == x for every byte string x (invalid UTF-8 included). SPM exceptions: a
 *    vocabulary without all 256 byte tokens encodes what it cannot spell as its unknown token;
 *    one with add_space_prefix prepends one space to each run of text (as SentencePiece does),
 *    and decoding keeps that space, so that decoding stays a plain concatenation of pieces.
 *    tokenizer.json exceptions: its normalizer (NFC) changes text; added tokens with lstrip or
 *    rstrip drop the white space they take; a decoder that strips a leading space (Llama 2) does
 *    so once per decode call, as tokenizers does, so decoding is not a concatenation there.
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

/* Loads a tokenizer from `path`: a restpg tokenizer file (RPTK, RPSP, RPHF), a Hugging Face
 * tokenizer.json, or a directory holding a tokenizer.json (read with the tokenizer_config.json
 * beside it) or else GPT-2's encoder.json and vocab.bpe. Wrong magic, version, truncation or
 * corrupt content, or a tokenizer.json component restpg does not support -> RP_EINPUT naming the
 * file (and for JSON the path in it). */
int tokenizer_load(const char *path, Tokenizer **t, Error *e);
/* Trains byte-level BPE on the texts until the vocabulary (256 bytes + merges + specials) has
 * vocab_size entries (or no pair occurs twice). Deterministic for the same texts. */
int tokenizer_train(char *const *texts, int64_t n, int vocab_size, Tokenizer **t, Error *e);

/* llama.cpp's token types (GGUF tokenizer.ggml.token_type). */
typedef enum {
    SPM_NORMAL = 1,
    SPM_UNKNOWN = 2,
    SPM_CONTROL = 3,
    SPM_USER_DEFINED = 4, /* matched as a whole in text before the SentencePiece pass */
    SPM_UNUSED = 5,
    SPM_BYTE = 6          /* "<0xAB>": byte fallback */
} SpmTokenType;

/* The GGUF keys besides the token arrays. Ids are -1 where the file has no such key. */
typedef struct {
    int32_t bos, eos, unk, pad; /* tokenizer.ggml.{bos,eos,unknown,padding}_token_id */
    int add_bos;                /* tokenizer.ggml.add_bos_token */
    int add_space_prefix;       /* tokenizer.ggml.add_space_prefix */
} SpmOptions;

/* Builds an SPM tokenizer from a GGUF vocabulary: n pieces (NUL-terminated UTF-8, ▁ for space),
 * their scores (NULL: all 0) and SpmTokenType types (NULL: all normal). TOK_EOT is o->eos;
 * TOK_REASONING and TOK_ANSWER are the reserved pieces "<unused0>" and "<unused1>", which must
 * exist with type control or unused (docs/tokenizer.md). A missing EOS or reserved piece, a
 * repeated or empty piece, an id out of range, or a byte token not spelt "<0xAB>" -> RP_EINPUT
 * naming `source`. The arrays are copied. */
int tokenizer_from_spm(const char *const *tokens, const float *scores, const int32_t *types, int32_t n,
                       const SpmOptions *o, const char *source, Tokenizer **t, Error *e);
/* Writes the tokenizer to a file atomically (also for GPT-2 vocabularies). */
int tokenizer_save(const Tokenizer *t, const char *path, Error *e);
/* Writes the tokenizer as Hugging Face files into the existing directory dir, each atomically:
 * tokenizer.json, which PyPI tokenizers (encode_special_tokens set) encodes to tokenizer_encode's
 * ids, and tokenizer_config.json for transformers' AutoTokenizer (PreTrainedTokenizerFast, the
 * bos/eos/unk/pad tokens, add_bos_token, added_tokens_decoder). restpg's special tokens keep their
 * ids (appended markers become special added tokens), so embedding rows line up, and
 * tokenizer_load(dir) encodes as t does. A tokenizer.json vocabulary is written back as loaded;
 * byte-level BPE becomes a ByteLevel BPE file; SPM a byte-fallback BPE file whose merges follow
 * the piece scores (docs/tokenizer.md "Export" lists the differences in decoding and the rare
 * encodings that differ). dir not a directory, or a vocabulary tokenizer.json cannot hold (two ids
 * with the same bytes, a piece that is not UTF-8) -> RP_EINPUT naming it. */
int tokenizer_save_hf(const Tokenizer *t, const char *dir, Error *e);
/* The same bytes as the file, for embedding in checkpoints; and back. `source` names the
 * origin in error messages. */
int tokenizer_serialize(const Tokenizer *t, uint8_t **buf, size_t *n, Error *e);
int tokenizer_deserialize(const uint8_t *buf, size_t n, const char *source, Tokenizer **t, Error *e);
void tokenizer_free(Tokenizer *t);

/* Number of token ids (including special tokens). */
int tokenizer_vocab_size(const Tokenizer *t);
int32_t tokenizer_special(const Tokenizer *t, SpecialToken s);
/* The id a model's sequences start with, or -1 if it wants none: an SPM vocabulary's BOS when its
 * add_bos flag is set; a tokenizer.json's when its post-processor puts one first; -1 for RPTK
 * vocabularies. Callers push it by id; encoding never adds it. */
int32_t tokenizer_bos(const Tokenizer *t);

/* Appends the ids of text[0..n) to out. */
int tokenizer_encode(const Tokenizer *t, const char *text, size_t n, TokenVec *out, Error *e);
/* Appends the bytes of ids to out (special tokens as their strings; SPM: normal pieces with ▁ as
 * space, byte tokens as their byte, every other piece as its text; tokenizer.json: its decoder's
 * steps, but bytes where tokenizers would write U+FFFD). Unknown id -> RP_EINPUT. */
int tokenizer_decode(const Tokenizer *t, const int32_t *ids, int64_t n, StrBuf *out, Error *e);

#endif

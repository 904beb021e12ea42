/* Hugging Face tokenizer.json vocabularies (BPE models: GPT-2, Llama 3, Qwen2 byte-level; Llama 2,
 * Gemma SentencePiece-style with byte fallback) inside the Tokenizer interface, shared by
 * tokenizer_hf.c (building from the JSON), tokenizer_hf_io.c (the files, the "RPHF" format),
 * tokenizer_hf_pipeline.c (normalizer, pre-tokenizer and decoder steps), tokenizer_hf_encode.c
 * (added tokens, the BPE model, encode and decode) and tokenizer_hf_export.c (writing every kind
 * as tokenizer.json). Not part of the API; docs/tokenizer.md
 * describes the behaviour.
 *
 * The BPE tables live in the Tokenizer itself, so the merge loop and the encode memo of
 * tokenizer.c serve this kind too: tok_off/tok_bytes hold every id's model-space string (the raw
 * bytes of a byte-level token, the vocabulary string of a SentencePiece-style one, an added
 * token's content, restpg's appended markers), merges/pairs the merges in rank order. */
#ifndef RESTPG_DATA_TOKENIZER_HF_H
#define RESTPG_DATA_TOKENIZER_HF_H

#include <cjson/cJSON.h>

#include "core/text.h"
#include "data/tokenizer_internal.h"

#define HF_MAGIC "RPHF"
#define HF_VERSION 1

typedef enum { HF_NORM_NFC, HF_NORM_PREPEND, HF_NORM_REPLACE } HfNormKind;

/* One normalizer step: NFC; Prepend `a` to a non-empty string; Replace every `a` by `b`. */
typedef struct {
    HfNormKind kind;
    char *a, *b;
    size_t na, nb;
} HfNorm;

/* How a Split keeps what its pattern matched (tokenizers' SplitDelimiterBehavior). */
typedef enum { HF_REMOVED, HF_ISOLATED, HF_MERGED_PREV, HF_MERGED_NEXT, HF_CONTIGUOUS } HfBehavior;

/* One splitting pre-tokenizer step: a Split, or the split part of ByteLevel (prefix space, GPT-2's
 * pattern when use_regex). The byte-to-character mapping of ByteLevel is not a step: the model
 * works on raw bytes when HfVocab.byte_level is set. */
typedef struct {
    pcre2_code *re;       /* NULL: no split (ByteLevel with use_regex false) */
    HfBehavior behavior;
    int invert;
    int prefix_space;     /* ByteLevel add_prefix_space: " " before a piece that lacks one */
} HfPre;

typedef enum { HF_DEC_REPLACE, HF_DEC_BYTE_FALLBACK, HF_DEC_FUSE, HF_DEC_STRIP } HfDecKind;

/* One decoder step of a Sequence decoder: Replace `a` by `b` in each token; ByteFallback; Fuse;
 * Strip up to `start` leading and `stop` trailing copies of the character `a` from each token. */
typedef struct {
    HfDecKind kind;
    char *a, *b;
    size_t na, nb;
    int start, stop;
} HfDec;

/* An added token as matched in text before the model runs. Special added tokens never match
 * (restpg's contract), but they still take part in the search and shadow what they overlap, as in
 * tokenizers with encode_special_tokens: `id` -1 marks one. */
typedef struct {
    int32_t id;
    char *pat;            /* what is matched: the content, or its normalized form */
    size_t npat;
    int lstrip, rstrip;
} HfAdded;

/* A set of added tokens and the index that finds them: the patterns by their bytes, and for each
 * first byte the lengths of the patterns starting with it, longest first (leftmost-longest
 * search, as tokenizers' Aho-Corasick automaton does). */
typedef struct {
    HfAdded *tok;
    int n;
    StrMap map;           /* pattern -> index into tok */
    uint32_t *lens[256];
    int n_lens[256];
} HfAddedSet;

typedef struct HfVocab {
    char *payload;        /* the JSON that RPHF stores: {"tokenizer": ..., "config": ...} */
    size_t payload_len;
    int byte_level;       /* a ByteLevel pre-tokenizer: words are byte strings, mapped per byte */
    HfNorm *norm;
    int n_norm;
    HfPre *pre;
    int n_pre;
    HfDec *dec;           /* NULL with byte_level: ByteLevel decoding (dec_off/dec below) */
    int n_dec;
    uint32_t *dec_off;    /* byte-level: [n_tokens + 1] offsets into dec_bytes, what each id decodes to */
    char *dec_bytes;
    /* Added tokens matched in raw text (normalized false) and in normalized text (true). */
    HfAddedSet raw, normed;
    /* The BPE model. */
    int32_t n_model;      /* ids of model.vocab: 0..n_model-1 */
    StrMap vocab;         /* model-space string -> id, model.vocab only */
    int32_t unk;          /* -1: none */
    int fuse_unk, byte_fallback, ignore_merges;
    int32_t fallback[256]; /* byte fallback: the id of "<0xAB>", -1 if absent */
    int32_t bos;          /* post_processor's leading special token, -1 if none */
} HfVocab;

/* Where a build's errors point: the file and the JSON path of the tokenizer.json object in it,
 * and the same for the config (tokenizer_config.json, or the RPHF file's "config"). */
typedef struct {
    const char *where, *jp;
    const char *cwhere, *cjp;
    Error *e;
} HfSrc;
/* Builds a tokenizer from root = {"tokenizer": <tokenizer.json>, "config": {"eos_token": ...,
 * "add_bos_token": ...}} (tokenizer_hf.c). payload (root's text, what RPHF stores) is taken over,
 * freed on failure too. Unsupported or inconsistent content -> RP_EINPUT with its JSON path. */
int hf_build(const cJSON *root, const HfSrc *S, char *payload, size_t plen, Tokenizer **out);
/* Reads a tokenizer.json (its path, or a directory holding one) with the tokenizer_config.json
 * beside it when there is one (tokenizer_hf_io.c). */
int hf_load(const char *path, int is_dir, Tokenizer **t, Error *e);
/* The RPHF format (tokenizer_hf_io.c, docs/formats.md). */
int hf_serialize(const Tokenizer *t, uint8_t **buf, size_t *n, Error *e);
int hf_deserialize(const uint8_t *buf, size_t n, const char *source, Tokenizer **t, Error *e);
void hf_free(HfVocab *v);

/* "WHERE: JPATH MESSAGE" as RP_EINPUT: WHERE is the file, JPATH the JSON path in it. A MESSAGE
 * that starts with ".field" or "[i]" continues the path instead. */
int hf_bad(Error *e, const char *where, const char *jpath, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* "WHERE: JPATH.type "TYPE" is not supported HINT". */
int hf_unsupported(Error *e, const char *where, const char *jpath, const char *type, const char *hint);
/* parent.key (key alone when parent is empty), allocated; NULL with e set when out of memory. */
char *hf_path(Error *e, const char *parent, const char *key);
/* A member that must be a string; a bool that may be absent or null (then dflt). */
int hf_string(const cJSON *o, const char *key, const char **s, const char *where, const char *jpath, Error *e);
int hf_bool(const cJSON *o, const char *key, int dflt, int *b, const char *where, const char *jpath, Error *e);

/* Parse one component of tokenizer.json into v (tokenizer_hf_pipeline.c); jpath is its JSON path.
 * A missing or null component is no step. The pre-tokenizer sets v->byte_level; the decoder must
 * be ByteLevel exactly when it is set. */
int hf_parse_normalizer(HfVocab *v, const cJSON *j, const char *where, const char *jpath, Error *e);
int hf_parse_pre_tokenizer(HfVocab *v, const cJSON *j, const char *where, const char *jpath, Error *e);
int hf_parse_decoder(HfVocab *v, const cJSON *j, const char *where, const char *jpath, Error *e);
/* The BOS the post-processor puts first ("$A" alone: -1), by its TemplateProcessing ids. */
int hf_parse_post_processor(const cJSON *j, int32_t *bos, const char *where, const char *jpath, Error *e);
/* Applies the normalizer steps to s[0..n), replacing out's contents. */
int hf_normalize(const HfVocab *v, const char *s, size_t n, StrBuf *out, Error *e);
/* Calls fn on each piece the pre-tokenizer steps cut s[0..n) into, in order (empty pieces are
 * dropped, as tokenizers drops them). md: match data with at least one pair. */
typedef int (*HfPieceFn)(const char *s, size_t n, void *ctx);
int hf_pre_tokenize(const HfVocab *v, pcre2_match_data *md, const char *s, size_t n, HfPieceFn fn, void *ctx,
                    Error *e);
/* Runs the Sequence decoder over the ids' token strings and appends the result (non-byte-level). */
int hf_decode_chain(const Tokenizer *t, const int32_t *ids, int64_t n, StrBuf *out, Error *e);
/* Compiles an Oniguruma-style pattern of tokenizer.json with PCRE2 (UTF + UCP, invalid UTF-8
 * allowed; literal when `literal`). A pattern that can match the empty string is refused. */
int hf_compile(const char *pat, size_t n, int literal, pcre2_code **re, const char *where, const char *jpath,
               Error *e);

/* Encoding and decoding (tokenizer_hf_encode.c). hf_index_added builds a set's index once its
 * tokens are in place; hf_free_added frees a set. */
int hf_index_added(HfAddedSet *s, Error *e);
void hf_free_added(HfAddedSet *s);
int hf_encode(const Tokenizer *t, const char *text, size_t n, TokenVec *out, Error *e);
int hf_decode(const Tokenizer *t, const int32_t *ids, int64_t n, StrBuf *out, Error *e);

/* GPT-2's byte alphabet (tokenizer_hf.c): the code point that stands for each byte. */
uint32_t hf_byte_char(int byte);

#endif

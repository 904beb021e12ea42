/* The Tokenizer struct shared by the tokenizer's source files (tokenizer.c: encode/decode,
 * tokenizer_io.c: files and GPT-2 loading, tokenizer_train.c: training). Not part of the API.
 *
 * One representation serves GPT-2 and trained vocabularies: every id has its bytes; merges are
 * (left, right) -> result triples in rank order; a pair map finds a pair's rank. Trained
 * vocabularies are the special case byte b = id b, merge k = id 256 + k, specials last. */
#ifndef RESTPG_DATA_TOKENIZER_INTERNAL_H
#define RESTPG_DATA_TOKENIZER_INTERNAL_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>

#include "data/tokenizer.h"

#define TOKENIZER_MAGIC "RPTK"
#define TOKENIZER_VERSION 1

/* GPT-2's pre-tokenization pattern (contractions, optional-space letter/number/other runs,
 * trailing whitespace kept apart from the next word). */
#define TOKENIZER_PATTERN "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

typedef struct {
    int32_t left, right, result;
} Merge;

/* Open-addressing map (left, right) -> merge rank; keys are packed into one uint64. */
typedef struct {
    uint64_t *keys; /* UINT64_MAX = empty */
    int32_t *rank;
    size_t cap;
} PairMap;

/* Pre-token -> ids memo, shared by encode calls on one tokenizer. Guarded by a mutex taken with
 * trylock, so concurrent encoders never wait: the loser simply encodes without the cache. */
typedef struct {
    pthread_mutex_t lock;
    uint32_t *slot;    /* [cap]: 1 + entry index, 0 = empty */
    size_t cap, count;
    uint64_t *hash;    /* per entry */
    uint32_t *key_off, *key_len, *ids_off, *ids_len;
    size_t ent_cap;
    char *keys;        /* key bytes arena */
    size_t keys_len, keys_cap;
    int32_t *ids;      /* id arena */
    size_t ids_n, ids_cap;
} EncodeCache;

/* Pre-tokens longer than this are not memoised: they rarely repeat and would bloat the memo. */
#define TOKENIZER_CACHE_KEY_MAX 128

struct Tokenizer {
    int32_t n_tokens;      /* ids 0..n_tokens-1, specials included */
    uint32_t *tok_off;     /* [n_tokens + 1] offsets into tok_bytes */
    char *tok_bytes;
    int32_t byte_id[256];  /* the id of each single byte */
    int32_t n_merges;
    Merge *merges;         /* in rank order */
    PairMap pairs;
    int32_t special[TOK_N_SPECIAL];
    pcre2_code *re;
    EncodeCache *cache;
    /* Non-NULL for a SentencePiece vocabulary (tokenizer_spm.c), which keeps everything but
     * n_tokens and special there; the BPE fields above then stay empty. */
    struct SpmVocab *spm;
    /* Non-NULL for a tokenizer.json vocabulary (tokenizer_hf.c): its pipeline and model settings.
     * It uses the BPE fields above (but no re, and byte_id only when byte-level). */
    struct HfVocab *hf;
};

/* The text of each special token, indexed by SpecialToken. */
extern const char *const TOKENIZER_SPECIAL_TEXT[TOK_N_SPECIAL];

/* Allocates an empty tokenizer with n_tokens ids of total_bytes bytes and n_merges merges (the
 * arrays are filled by the caller, then tokenizer_finish is called). */
int tokenizer_alloc(int32_t n_tokens, size_t total_bytes, int32_t n_merges, Tokenizer **t, Error *e);
/* Checks the vocabulary is consistent (every byte has a single-byte id, each merge's result is
 * its parts concatenated, parts precede their merge, specials are distinct) and builds the pair
 * map, byte table, regex and cache. Problems -> RP_EINPUT naming `source`. */
int tokenizer_finish(Tokenizer *t, const char *source, Error *e);

/* Builds the pair -> rank map of merges (RP_EINPUT if a pair repeats). */
int pairmap_build(PairMap *m, const Merge *merges, int32_t n, Error *e);
/* The encode memo (tokenizer.c): pre-token bytes (hash h = hash_bytes) -> ids. get returns NULL
 * when absent; put copies. Callers hold c->lock. */
int encode_cache_create(EncodeCache **c, Error *e);
void encode_cache_free(EncodeCache *c);
const int32_t *encode_cache_get(const EncodeCache *c, const char *s, size_t n, uint64_t h, int64_t *len);
int encode_cache_put(EncodeCache *c, const char *s, size_t n, uint64_t h, const int32_t *ids, int64_t len, Error *e);

/* Scratch space of the merge loop, reused across the words of one encode call. */
typedef struct {
    int32_t *sym, *aux, *prev, *next;
    uint64_t *heap;
    size_t cap;
} BpeScratch;
int bpe_scratch_reserve(BpeScratch *s, size_t n, Error *e);
void bpe_scratch_free(BpeScratch *s);
/* Applies t's merges to the symbols s->sym[0..n): repeatedly the adjacent pair of lowest rank
 * (leftmost on ties), until no pair has a merge. Returns the new length. */
int64_t bpe_merge(const Tokenizer *t, BpeScratch *s, int64_t n);

/* Compiles TOKENIZER_PATTERN in UTF + UCP mode (JIT when available), accepting invalid UTF-8. */
int pretok_compile(pcre2_code **re, Error *e);
/* Calls fn(start, len, ctx) for each pre-token of text[0..n) in order; the pre-tokens tile the
 * text exactly (bytes that are not valid UTF-8 form pre-tokens of their own). md must come from
 * pcre2_match_data_create_from_pattern(re). fn returning non-zero stops the walk with that code. */
typedef int (*PretokenFn)(const char *s, size_t n, void *ctx);
int pretok_walk(const pcre2_code *re, pcre2_match_data *md, const char *text, size_t n, PretokenFn fn, void *ctx,
                Error *e);

#endif

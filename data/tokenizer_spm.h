/* SentencePiece (SPM) vocabularies inside the Tokenizer interface, shared by tokenizer_spm.c
 * (construction, encoding, decoding), tokenizer_io.c (the "RPSP" file format) and tokenizer.c
 * (dispatch). Not part of the API; docs/tokenizer.md describes the behaviour. */
#ifndef RESTPG_DATA_TOKENIZER_SPM_H
#define RESTPG_DATA_TOKENIZER_SPM_H

#include "data/tokenizer_internal.h"

#define SPM_MAGIC "RPSP"
#define SPM_VERSION 1

typedef struct SpmVocab {
    /* What the file stores. */
    int32_t n;
    uint32_t *off;    /* [n + 1] offsets into text */
    char *text;       /* the pieces as GGUF spells them (▁ for space, "<0x0A>" for byte tokens) */
    float *score;
    uint8_t *type;    /* SpmTokenType */
    SpmOptions opt;
    /* Derived by spm_finish. */
    uint32_t *dec_off; /* [n + 1] offsets into dec: what each id decodes to */
    char *dec;
    uint32_t *slot;    /* piece -> id: open addressing, 1 + id, 0 = empty */
    uint32_t *hash;    /* per id, so most probes skip the memcmp */
    size_t cap;
    uint32_t max_len;  /* longest piece: longer spans are never looked up */
    int32_t byte_id[256]; /* byte fallback: "<0xAB>", else the one-byte piece, else -1 */
    int32_t *user;     /* user-defined ids, longest first (the order llama.cpp matches them in) */
    int32_t n_user;
} SpmVocab;

/* Allocates a tokenizer with an empty n-piece vocabulary of text_bytes piece bytes; the caller
 * fills off, text, score, type and opt, then calls spm_finish. */
int spm_alloc(int32_t n, size_t text_bytes, Tokenizer **t, Error *e);
/* Checks the vocabulary (docs/tokenizer.md), builds the lookup tables and sets n_tokens and the
 * special ids of t. Problems -> RP_EINPUT naming source. */
int spm_finish(Tokenizer *t, const char *source, Error *e);
void spm_free(SpmVocab *v);

int spm_encode(const SpmVocab *v, const char *text, size_t n, TokenVec *out, Error *e);
int spm_decode(const SpmVocab *v, const int32_t *ids, int64_t n, StrBuf *out, Error *e);

/* The RPSP format (tokenizer_io.c, docs/formats.md). */
int spm_serialize(const Tokenizer *t, uint8_t **buf, size_t *n, Error *e);
int spm_deserialize(const uint8_t *buf, size_t n, const char *source, Tokenizer **t, Error *e);

/* CRC-32 as zlib.crc32 computes it (tokenizer_io.c). */
uint32_t tokenizer_crc32(const uint8_t *p, size_t n);

#endif

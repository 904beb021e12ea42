/* Training data as token sequences, the order they are drawn in, and padded batches.
 *
 * A SeqSet holds sequences of token ids with the index of the first token that is a loss
 * target: a sequence of len tokens gives len-1 (input, target) positions, position j predicts
 * token j+1, and it counts in the loss when j+1 >= loss_from. Pretraining makes sequences from
 * one token stream (documents separated by <|endoftext|>) cut into windows of T+1 tokens that
 * overlap by one (every token is a target once); SFT makes one sequence per example with
 * loss_from = the prompt length. Batches pad every row to the longest row of the batch with
 * mask 0, which is exact for a causal model: a real position never attends to later ones. */
#ifndef RESTPG_TRAINER_BATCH_H
#define RESTPG_TRAINER_BATCH_H

#include <stdint.h>

#include "core/error.h"
#include "core/rng.h"
#include "data/dataset.h"
#include "data/prompt.h"
#include "data/tokenizer.h"

typedef struct {
    int32_t *tok;       /* token storage shared by the sequences */
    int64_t n_tok, cap_tok;
    int64_t n, cap;     /* sequences */
    int64_t *start;     /* sequence i is tok[start[i] .. start[i] + len[i]) */
    int32_t *len;       /* >= 2 */
    int32_t *loss_from; /* 1 .. len-1 */
} SeqSet;

void seqset_init(SeqSet *s);
void seqset_free(SeqSet *s);
/* Appends a copy of ids[0..n) as one sequence whose targets start at token loss_from
 * (RP_EINTERNAL unless 2 <= n and 1 <= loss_from < n). */
int seqset_add(SeqSet *s, const int32_t *ids, int64_t n, int64_t loss_from, Error *e);
/* Target positions that count in the loss, summed over all sequences. */
int64_t seqset_targets(const SeqSet *s);

/* Pretraining corpora from a dataset: the texts are every output and profile item (fields joined
 * by newlines) of the train split, each once (duplicates dropped: profiles repeat across a
 * user's examples); val gets the val split's texts that are not already in train. Each text is
 * followed by <|endoftext|>; the stream is cut into windows of up to T+1 tokens. RP_EINPUT
 * naming the file if the train stream is shorter than 2 tokens. */
int batch_pretrain_corpus(const Dataset *d, const char *source, const Tokenizer *t, int T, SeqSet *train, SeqSet *val,
                          Error *e);

/* SFT sequences of one split: prompt_build(d, i, t, o) with a budget of T+1 tokens, loss from the
 * prompt length. *n_truncated counts examples whose target was cut to fit. In reasoning mode an
 * example without a reasoning text is an error from prompt_build, unless skip_unreasoned is set:
 * then it is left out and counted in *n_skipped. */
int batch_sft_corpus(const Dataset *d, const char *split, const Tokenizer *t, const PromptOptions *o, int T,
                     int skip_unreasoned, SeqSet *out, int64_t *n_truncated, int64_t *n_skipped, Error *e);

/* The order sequences are drawn in: a fresh permutation per epoch from a splitmix64 stream.
 * The stream's state at the start of the current epoch plus (epoch, pos) is the whole state,
 * which is what checkpoints store. */
typedef struct {
    int64_t n;
    int64_t *perm;
    int64_t epoch, pos;     /* pos: sequences of this epoch already drawn */
    Rng rng;
    uint64_t epoch_state;   /* rng.state before this epoch's shuffle */
} DataOrder;

/* Starts at epoch 0, position 0, with the stream seeded by seed. */
int order_init(DataOrder *o, int64_t n, uint64_t seed, Error *e);
/* Restores a saved position (RP_EINPUT if pos > n). */
int order_restore(DataOrder *o, int64_t n, uint64_t epoch_state, int64_t epoch, int64_t pos, Error *e);
void order_free(DataOrder *o);
/* The next sequence index; starts a new epoch (new permutation) when one is used up. */
int64_t order_next(DataOrder *o);

typedef struct {
    int B, T;          /* capacity: rows, and input positions per row */
    int T_used;        /* positions in the last filled batch: the longest row, capped at T */
    int32_t *inputs;   /* [B * T_used] after batch_fill, row-major */
    int32_t *targets;
    float *mask;
    int64_t n_target;  /* positions with mask 1 */
    int64_t n_real;    /* positions that are not padding */
} Batch;

int batch_init(Batch *b, int B, int T, Error *e);
void batch_free(Batch *b);
/* Fills rows 0..n_seq-1 with sequences idx[0..n_seq) (n_seq <= B; remaining rows are all padding)
 * and pads with token `pad` under mask 0. Sequences longer than T+1 are cut to T+1. */
void batch_fill(Batch *b, const SeqSet *s, const int64_t *idx, int n_seq, int32_t pad);

#endif

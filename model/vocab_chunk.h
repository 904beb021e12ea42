/* The LM head and its loss chunked over the vocabulary (train.vocab_chunk), shared by the
 * architectures (model/gpt.c, model/llama.c): a training step that never holds the [N, Vp]
 * logits, only [N, Vc] of them at a time. The forward runs logits_c = x @ W[chunk]^T per chunk
 * and merges it into the rows' running log-sum-exp (crossentropy_chunk_forward); the backward
 * recomputes each chunk's logits for the rows that carry loss only (packed together), turns them
 * into dlogits in place and adds dx += dlogits @ W[chunk], dW[chunk] += dlogits^T x. Columns
 * [V, Vp) are in no chunk, so their rows of dW get nothing (as on the whole path, where their
 * dlogits are 0). Results agree with the whole path to float rounding, not bitwise (the sums run
 * in another order); the whole path (vocab_chunk 0) is unchanged. */
#ifndef RESTPG_MODEL_VOCAB_CHUNK_H
#define RESTPG_MODEL_VOCAB_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "kernels/backend.h"
#include "model/tokens.h"

/* The columns per chunk a model of V real columns runs with for a requested vocab_chunk: 0 (the
 * whole vocabulary, the unchunked path) for 0 or for a chunk that would cover all V columns (one
 * chunk saves no memory and costs a second LM-head product), else vocab_chunk rounded up to a
 * multiple of 128. */
int vchunk_cols(int vocab_chunk, int V);

/* Floats per row an activation plan holds for the LM head's output: Vp for the whole vocabulary
 * (the logits), Vc + 3 chunked (one chunk's logits, then the running max, sum and target logit
 * the forward keeps and the backward reuses for its packed rows). */
size_t vchunk_row_floats(int cols, int Vp);

/* The chunked forward: losses[N] and lse[N] of logits = x[N, C] @ W^T over the V real columns
 * (W has at least V rows of C; the rows are B groups of T as matmul_forward takes them), mask as
 * crossentropy_forward. buf: the plan's [N, Vc + 3] (vchunk_row_floats) of scratch. */
int vchunk_forward(const BackendOps *op, float *losses, float *lse, float *buf, const float *x, const float *W,
                   const int32_t *targets, const float *mask, int B, int T, int C, int V, int Vc, Error *e);

/* The chunked backward of the loss whose per-row gradient is tok->dloss (tokens_dloss: its host
 * mirror h_dloss says which rows carry loss): dx[N, C] overwritten (0 on rows without loss),
 * dW rows < V accumulate. lse from vchunk_forward; buf as there; scratch: 2 N C floats, for the
 * loss rows' x and dx packed together (unused when every row carries loss). */
int vchunk_backward(const BackendOps *op, float *dx, float *dW, float *buf, float *scratch, const float *x,
                    const float *W, const TokenBatch *tok, const float *lse, int B, int T, int C, int V, int Vc,
                    Error *e);

#endif

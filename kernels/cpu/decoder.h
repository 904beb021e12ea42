/* The CPU backend's KV-cached decoders: the decoder_* ops of BackendOps (kernels/backend.h;
 * model/infer.h states the contract: prompt caches, slots, prefill, attach, decode steps). Each
 * op dispatches on the model's architecture: the handle starts with its Arch. GPT-2's decoder is
 * described here and lives in decoder.c; the Llama family's is kernels/cpu/decoder_llama.h.
 *
 * GPT-2's CPU layouts: a plan's memory is one allocation holding n_prefixes prompt caches (keys
 * transposed [C, P] and values [P, C] per layer, P <= max_prompt), max_rows suffix caches of up
 * to max_new positions each, the activations of max(max_prompt, max_rows) rows, per-thread
 * scratch, and a transposed ([in, out]) copy of the four weight matrices of every layer and of
 * the token embedding, taken at init: every product is then kernels/cpu/decode.h's
 * batch-invariant form, so a slot's logits do not depend on which other slots share its step,
 * on their order, or on the thread count. LayerNorm, bias and embedding vectors are read from
 * the weights in place.
 *
 * Threads: the decode attention's scratch and the prefill's attention workspace
 * (attention_workspace(max_prompt)) are sized for the count in force at init (kernels_threads()),
 * so a count raised afterwards adds no threads to them (results are the same for any count). */
#ifndef RESTPG_KERNELS_CPU_DECODER_H
#define RESTPG_KERNELS_CPU_DECODER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "kernels/backend.h"
#include "kernels/cpu/decode.h"

/* Bytes cpu_decoder_init allocates for plan p: caches, activations, decode scratch for
 * `threads` threads, the prefill's attention workspace for the thread count in force, and the
 * transposed weights (0 for an architecture the CPU cannot decode). */
size_t cpu_decoder_bytes(const DecoderModel *dm, const DecodePlan *p, int threads);

/* Checks the plan (every count >= 1, max_prompt + max_new <= the model's positions: RP_EINPUT),
 * allocates it (RP_ENOMEM naming the bytes) and copies the weight matrices transposed. The
 * weights' vectors are read in place afterwards, so they must outlive *dec. An architecture the
 * CPU cannot decode is RP_EINPUT naming it. */
int cpu_decoder_init(void **dec, const DecoderModel *dm, const DecodePlan *p, Error *e);
/* The plan rules every architecture's decoder enforces: every count >= 1, and prompt + new tokens
 * within the model's `positions` (named `what` in the message). */
int cpu_decoder_plan_check(const DecodePlan *p, int positions, const char *what, Error *e);
/* RP_EINPUT naming `what` and [i] unless tok is an id of a V-token vocabulary. */
int cpu_decoder_check_token(int32_t tok, int V, const char *what, int i, Error *e);
void cpu_decoder_free(void *dec);

int cpu_decoder_prefill(void *dec, int prefix, const int32_t *tokens, int n, float *logits, Error *e);
void cpu_decoder_attach(void *dec, int slot, int prefix);
int cpu_decoder_decode(void *dec, int n, const int *slots, const int32_t *tokens, float *logits, Error *e);

/* dst[c][r] = src[r][c] for a [rows, cols] matrix, in cache-sized blocks, stored as dt (bf16
 * rounds to nearest even): the decoders' weight copies. */
void cpu_decoder_transpose(void *dst, DType dt, const float *src, size_t rows, size_t cols);
/* Element `offset` of a weight copy of type dt as a product operand; and the floats n elements of
 * type dt take (a bf16 copy is half the size). */
DecodeW cpu_decoder_weights(void *wt, DType dt, size_t offset);
size_t cpu_decoder_weight_floats(DType dt, size_t n);

#endif

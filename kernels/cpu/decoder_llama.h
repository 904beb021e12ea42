/* The CPU backend's KV-cached decoder of the Llama family (Llama, Qwen2, Qwen3, Gemma 3), reached
 * through kernels/cpu/decoder.c's ops, which dispatch on the handle's architecture (model/infer.h
 * states the contract: prompt caches, slots, prefill, attach, decode steps; model/llama.h the
 * architecture; the decoder reads the LlamaConfig's switches, never the variant).
 *
 * CPU layouts: a plan's memory is one allocation holding n_prefixes prompt caches per layer
 * (keys per kv head transposed, [NKV][hd][max_prompt], values [max_prompt][NKV*hd]), max_rows
 * suffix caches per layer of up to max_new positions ([max_new][NKV*hd] keys and values), the
 * activations of max(max_prompt, max_rows) rows, per-thread attention scratch, and transposed
 * ([in, out]) copies of the seven weight matrices of every layer and of the LM head (the token
 * embedding when tied), taken at init, so every product is kernels/cpu/decode.h's batch-invariant
 * form. The embedding lookup reads the head's copy when tied, else a row-major copy of the
 * embedding in the same dtype. Norm weights and biases are read from the model's weights in
 * place.
 *
 * Positions are absolute: a slot's token n sits at len(prompt) + n, RoPE rotates by it, and on
 * sliding layers the query at position i sees keys j with i - j < sliding_window, across the
 * prompt and the suffix alike.
 *
 * Threads: the decode attention's scratch and the prefill's attention workspace are sized for the
 * count in force at init (kernels_threads()); a step uses min(that, the count in force). Results
 * are the same bits for any count. */
#ifndef RESTPG_KERNELS_CPU_DECODER_LLAMA_H
#define RESTPG_KERNELS_CPU_DECODER_LLAMA_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "kernels/backend.h"

/* Bytes cpu_decoder_llama_init allocates for plan p (d's sizes only). */
size_t cpu_decoder_llama_bytes(const LlamaConfig *d, const DecodePlan *p, int threads);

/* Checks the plan (every count >= 1, max_prompt + max_new <= max_positions: RP_EINPUT), allocates
 * it (RP_ENOMEM naming the bytes) and copies the weight matrices transposed; w's norm weights and
 * biases are read in place afterwards, so w must outlive *dec. */
int cpu_decoder_llama_init(void **dec, const LlamaTensors *w, const LlamaConfig *d, const DecodePlan *p, Error *e);
void cpu_decoder_llama_free(void *dec);

int cpu_decoder_llama_prefill(void *dec, int prefix, const int32_t *tokens, int n, float *logits, Error *e);
void cpu_decoder_llama_attach(void *dec, int slot, int prefix);
int cpu_decoder_llama_decode(void *dec, int n, const int *slots, const int32_t *tokens, float *logits, Error *e);

#endif

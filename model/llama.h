/* The Llama family: Llama (2, 3.x), Qwen2/2.5, Qwen3 and Gemma 3 (Hugging Face's LlamaForCausalLM,
 * Qwen2ForCausalLM, Qwen3ForCausalLM and Gemma3ForCausalLM's text model) as one decoder-only
 * implementation parameterised by its config: the config's switches, the parameter table (built
 * per config, with GGUF and HF names), named views over one buffer per state, and the training
 * forward/backward and AdamW step on the selected backend's ops (kernels/backend.h). Shaped like
 * model/gpt.h.
 *
 * Architecture (docs/models.md, "Llama and Qwen"): x = embed(tokens) (times sqrt(C) if
 * scale_embeddings); per layer
 *   h = attn(attn_norm(x));  x += post_norms ? post_attention_norm(h) : h
 *   h = mlp(ffn_norm(x));    x += post_norms ? post_ffw_norm(h) : h
 * then output_norm and the LM head (token_embd when tie_word_embeddings, else `output`). RMSNorms
 * scale by (norm_offset + w). Attention: q/k/v projections (NH query heads, NKV kv heads of
 * head_dim; biases if qkv_bias, never on o_proj), per-head q/k RMSNorm if qk_norm, RoPE
 * (llama_rope: rope_theta and rope_scaling on global layers, rope_local_base_freq on sliding
 * ones), scores scaled by llama_attn_scale, causal, and on sliding layers only the last
 * sliding_window keys. MLP: down(act(gate(x)) * up(x)), act gelu_tanh or silu.
 *
 * Parameter layout: the tensors of the table below that the config has, in this order, back to
 * back (per-layer ones hold all L layers; Q = NH*hd, KV = NKV*hd, I = intermediate; weights
 * [out, in] as nn.Linear):
 *   token_embd [Vp, C]  attn_norm [L, C]  attn_q [L, Q, C]  (attn_q.bias [L, Q])  attn_k [L, KV, C]
 *   (attn_k.bias [L, KV])  attn_v [L, KV, C]  (attn_v.bias [L, KV])  (attn_q_norm, attn_k_norm [L, hd])
 *   attn_output [L, C, Q]  (post_attention_norm [L, C])  ffn_norm [L, C]  ffn_gate, ffn_up [L, I, C]
 *   ffn_down [L, C, I]  (post_ffw_norm [L, C])  output_norm [C]  (output [Vp, C])
 * Gemma 3 has exactly its former 15 tensors in their former order. Gradients and AdamW moments
 * use the same offsets. Rows V..Vp-1 of token_embd and output are padding (zero, never a target).
 * Norm weights are HF's w; GGUF files from llama.cpp's converter store Gemma's as 1 + w, so an
 * importer subtracts norm_offset from *norm.weight tensors. */
#ifndef RESTPG_MODEL_LLAMA_H
#define RESTPG_MODEL_LLAMA_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "kernels/backend.h"
#include "model/params.h"

#define LLAMA_MAX_TENSORS 19

/* LlamaConfig (kernels/backend.h) with each variant's switches: a config with those switches,
 * the usual eps and RoPE base, no scaling, and every size 0 for the caller to fill.
 *   llama:  x * w norms, SwiGLU, no biases, no q/k norm, tied head (Llama 3.2 small; set
 *           tie_word_embeddings 0 for Llama 2 and 3.1), rope_theta 5e5, eps 1e-5;
 *   qwen2:  as llama plus q/k/v biases, rope_theta 1e6, eps 1e-6;
 *   qwen3:  as llama plus per-head q/k norms, rope_theta 1e6, eps 1e-6;
 *   gemma3: (1 + w) norms, sqrt(C) embedding scale, post norms, q/k norms, GeGLU, tied head,
 *           sliding layers (pattern 6), rope_theta 1e6 and local base 1e4, eps 1e-6. */
LlamaConfig llama_config_llama(void);
LlamaConfig llama_config_qwen2(void);
LlamaConfig llama_config_qwen3(void);
LlamaConfig llama_config_gemma3(void);
/* The constructor of variant a (RP_EINPUT naming it unless it is one of the family). */
int llama_config_variant(Arch a, LlamaConfig *c, Error *e);
/* Gemma 3 270M's hyper-parameters (max_positions as published; plan for far fewer). */
LlamaConfig llama_config_gemma3_270m(void);
/* Fills padded_vocab_size and checks every field (positive sizes, n_head a multiple of
 * n_kv_head, even head_dim, positive eps and bases, a complete rope scaling; Gemma 3 needs its
 * sliding layers, the others have none); errors name the field by its config.json key. */
int llama_config_check(LlamaConfig *c, Error *e);

/* What the model knows of a tensor: its GGUF and HF names (per-layer tensors are "blk.%d." + gguf
 * and "model.layers.%d." + hf), the view, whether AdamW decays it (matrices and embeddings, not
 * norms or biases), and its kind (HF's initialisation: embeddings and matrices N(0, 0.02), biases
 * 0, norm weights 1 - norm_offset, i.e. a scale of 1). */
typedef enum { LLAMA_EMBEDDING, LLAMA_MATRIX, LLAMA_BIAS, LLAMA_NORM } LlamaTensorKind;
typedef struct {
    const char *gguf, *hf;
    size_t field; /* offsetof(LlamaTensors, ...) */
    int layered, decays;
    LlamaTensorKind kind; /* LLAMA_EMBEDDING: [Vp, C], of which V rows are real */
} LlamaTensorInfo;

/* The parameter table of config c into t[LLAMA_MAX_TENSORS]; returns the tensor count. */
int llama_tensor_table(const LlamaConfig *c, LlamaTensorInfo *t);
/* Writes tensor t's full GGUF (hf = 0) or HF (hf = 1) name for layer `layer` (ignored for
 * whole-model tensors) into buf; RP_EINTERNAL if buf is too small. */
int llama_tensor_name(const LlamaTensorInfo *t, int layer, int hf, char *buf, size_t n, Error *e);

/* Memory as GPT's (model/gpt.h): the store (model/params.h) holds parameters, gradients and AdamW
 * moments (NULL until params_opt_reset or a load); params, grads, opt_m, opt_v are named views. */
typedef struct {
    LlamaConfig cfg;
    LlamaTensorInfo info[LLAMA_MAX_TENSORS]; /* the table, store.n entries */
    ParamStore store;
    LlamaTensors params, grads, opt_m, opt_v;
    struct LlamaActs *acts; /* planned by llama_plan; opaque */
    int B, T;
    int recompute;   /* the activation mode the next llama_plan allocates (llama_set_recompute) */
    int vocab_chunk; /* vocabulary columns per loss chunk the next llama_plan allocates for (0: whole) */
    float mean_loss; /* of the last forward with targets */
} Llama;

/* Tensor k of an initialised model's table (NULL if out of range). */
const LlamaTensorInfo *llama_tensor_info(const Llama *m, int k);

/* Checks the config and allocates the parameters (zeroed) on the selected backend; gradients
 * come with the first backward (model/params.h). */
int llama_init(Llama *m, const LlamaConfig *cfg, Error *e);
void llama_free(Llama *m);
/* HF's initialisation (LlamaTensorInfo's kinds); padding rows zero. Element i of tensor k is a
 * function of (seed, k, i) only. */
int llama_init_random(Llama *m, uint64_t seed, Error *e);
/* Activation checkpointing per layer, as gpt_set_recompute (model/gpt.h): on, each layer keeps
 * only its output and the backward re-runs the layer's forward before its backward; results are
 * bitwise the same as off. Takes effect at the next llama_plan. */
void llama_set_recompute(Llama *m, int on);
/* The loss chunked over the vocabulary, as gpt_set_vocab_chunk (model/gpt.h): cols > 0 columns
 * (rounded up to 128) at a time, 0 the whole vocabulary. Takes effect at the next llama_plan. */
void llama_set_vocab_chunk(Llama *m, int cols);
/* Allocates activations for batches of up to B sequences of up to T <= max_positions tokens, in
 * the mode of llama_set_recompute (a plan of the same B, T and mode keeps its buffers). */
int llama_plan(Llama *m, int B, int T, Error *e);
/* Bytes llama_plan would allocate for (B, T) with recomputation on (1) or off (0) and the loss
 * chunked by vocab_chunk (llama_set_vocab_chunk's cols; 0: whole). */
size_t llama_activation_bytes(const LlamaConfig *c, int B, int T, int recompute, int vocab_chunk);

/* Same contracts as gpt_forward / gpt_backward: the mean cross-entropy over positions weighted
 * by mask (NULL = all), bad ids or weights are RP_EINPUT naming the field and [b][t]; the
 * backward ADDS d(loss_scale * loss)/d(params) into m->grads. */
int llama_forward(Llama *m, const int32_t *inputs, const int32_t *targets, const float *mask, int B, int T,
                  float *loss, Error *e);
int llama_backward(Llama *m, float loss_scale, Error *e);
/* Host copy of rows [row0, row0+n) of the last forward's logits ([B*T, Vp], row b*T + t), as
 * gpt_logits_download: RP_EINTERNAL if there was no forward since the last backward (which turns
 * the logits into their gradient) or the rows are out of range; RP_EINPUT when the plan chunks the
 * loss over the vocabulary. */
int llama_logits_download(const Llama *m, int row0, int n, float *host, Error *e);
/* Per-position losses of the last forward with targets, [B, T] host copy; 0 where masked out. */
const float *llama_token_losses(const Llama *m);
/* Zeroing gradients, AdamW moments and steps: the store's params_* calls (model/params.h). */

#endif

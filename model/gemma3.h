/* Gemma 3 (Hugging Face's Gemma3ForCausalLM text model): configuration, the parameter table with
 * GGUF and HF names, named views over one buffer per state, and the training forward/backward
 * and AdamW step on the selected backend's ops (kernels/backend.h). Shaped like model/gpt.h.
 *
 * Architecture (docs/models.md, "Gemma 3"): x = sqrt(C) * embed(tokens); per layer
 *   x += post_attention_norm(attn(attn_norm(x)));  x += post_ffw_norm(mlp(ffn_norm(x)))
 * then output_norm and the tied LM head (logits = x @ token_embd^T). RMSNorms scale by (1 + w).
 * Attention: q/k/v projections (NH query heads, NKV kv heads of head_dim), per-head q/k RMSNorm,
 * RoPE (rope_theta on global layers, rope_local_base_freq on sliding ones), scores scaled by
 * query_pre_attn_scalar^-0.5, causal, and on sliding layers only the last sliding_window keys.
 * Layer l is global when (l + 1) % sliding_window_pattern == 0. MLP: down(gelu_tanh(gate(x)) *
 * up(x)). No biases.
 *
 * Parameter layout (15 tensors, per-layer ones hold all L layers back to back; Q = NH*hd,
 * KV = NKV*hd, I = intermediate, weights [out, in] as nn.Linear):
 *   0 token_embd [Vp, C]   1 attn_norm [L, C]   2 attn_q [L, Q, C]   3 attn_k [L, KV, C]
 *   4 attn_v [L, KV, C]    5 attn_q_norm [L, hd]  6 attn_k_norm [L, hd]  7 attn_output [L, C, Q]
 *   8 post_attention_norm [L, C]  9 ffn_norm [L, C]  10 ffn_gate [L, I, C]  11 ffn_up [L, I, C]
 *  12 ffn_down [L, C, I]  13 post_ffw_norm [L, C]  14 output_norm [C]
 * Gradients and AdamW moments use the same offsets. Rows V..Vp-1 of token_embd are padding
 * (zero, never a target). Norm weights are HF's w (the model scales by 1 + w); GGUF files from
 * llama.cpp's converter store 1 + w, so an importer subtracts 1 from *norm.weight tensors. */
#ifndef RESTPG_MODEL_GEMMA3_H
#define RESTPG_MODEL_GEMMA3_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "kernels/backend.h"
#include "model/params.h"

#define GEMMA3_N_TENSORS 15

typedef struct {
    int vocab_size;        /* V */
    int padded_vocab_size; /* Vp: V rounded up to a multiple of 128 (filled by the check) */
    int hidden_size, intermediate_size, n_layer, n_head, n_kv_head, head_dim;
    int sliding_window, sliding_window_pattern, max_positions;
    float query_pre_attn_scalar, rms_norm_eps;
    double rope_theta, rope_local_base_freq;
} Gemma3Config;

/* Gemma 3 270M's hyper-parameters (max_positions as published; plan for far fewer). */
Gemma3Config gemma3_config_270m(void);
/* Fills padded_vocab_size and checks every field (positive sizes, n_head a multiple of
 * n_kv_head, even head_dim, positive eps, scalar and bases); errors name the field. */
int gemma3_config_check(Gemma3Config *c, Error *e);
/* 1 if layer l attends globally (rope_theta, no window), 0 if it is a sliding layer. */
int gemma3_layer_is_global(const Gemma3Config *c, int l);

/* The tensors' named views are kernels/backend.h's Gemma3Tensors (the decoders read them too);
 * the same struct names parameters, gradients and moments. */

/* What the model knows of tensor k: its GGUF and HF names (per-layer tensors are
 * "blk.%d." + gguf and "model.layers.%d." + hf), the view, whether AdamW decays it (matrices
 * and the embedding, not norms) and whether it is a norm weight (initialised to 0, i.e. scale 1). */
typedef struct {
    const char *gguf, *hf;
    size_t field; /* offsetof(Gemma3Tensors, ...) */
    int layered, decays, is_norm;
} Gemma3TensorInfo;

const Gemma3TensorInfo *gemma3_tensor_info(int k);
/* Writes tensor k's full GGUF (hf = 0) or HF (hf = 1) name for layer `layer` (ignored for
 * whole-model tensors) into buf; RP_EINTERNAL if k is out of range or buf too small. */
int gemma3_tensor_name(int k, int layer, int hf, char *buf, size_t n, Error *e);

/* Memory as GPT's (model/gpt.h): the store (model/params.h) holds parameters, gradients and AdamW
 * moments (NULL until params_opt_reset or a load); params, grads, opt_m, opt_v are named views. */
typedef struct {
    Gemma3Config cfg;
    ParamStore store;
    Gemma3Tensors params, grads, opt_m, opt_v;
    struct Gemma3Acts *acts; /* planned by gemma3_plan; opaque */
    int B, T;
    int recompute; /* the activation mode the next gemma3_plan allocates (gemma3_set_recompute) */
    float mean_loss; /* of the last forward with targets */
} Gemma3;

/* Allocates the parameters (zeroed) for a config on the selected backend; gradients come with the
 * first backward (model/params.h). */
int gemma3_init(Gemma3 *m, const Gemma3Config *cfg, Error *e);
void gemma3_free(Gemma3 *m);
/* HF's initialisation: matrices and embedding N(0, 0.02), norm weights 0; padding rows zero.
 * Element i of tensor k is a function of (seed, k, i) only. */
int gemma3_init_random(Gemma3 *m, uint64_t seed, Error *e);
/* Activation checkpointing per layer, as gpt_set_recompute (model/gpt.h): on, each layer keeps
 * only its output and the backward re-runs the layer's forward before its backward; results are
 * bitwise the same as off. Takes effect at the next gemma3_plan. */
void gemma3_set_recompute(Gemma3 *m, int on);
/* Allocates activations for batches of up to B sequences of up to T <= max_positions tokens, in
 * the mode of gemma3_set_recompute (a plan of the same B, T and mode keeps its buffers). */
int gemma3_plan(Gemma3 *m, int B, int T, Error *e);
/* Bytes gemma3_plan would allocate for (B, T) with recomputation on (1) or off (0). */
size_t gemma3_activation_bytes(const Gemma3Config *c, int B, int T, int recompute);

/* Same contracts as gpt_forward / gpt_backward: the mean cross-entropy over
 * positions weighted by mask (NULL = all), bad ids or weights are RP_EINPUT naming the field and
 * [b][t]; the backward ADDS d(loss_scale * loss)/d(params) into m->grads. */
int gemma3_forward(Gemma3 *m, const int32_t *inputs, const int32_t *targets, const float *mask, int B, int T,
                   float *loss, Error *e);
int gemma3_backward(Gemma3 *m, float loss_scale, Error *e);
/* Host copy of rows [row0, row0+n) of the last forward's logits ([B*T, Vp], row b*T + t), as
 * gpt_logits_download: RP_EINTERNAL if there was no forward since the last backward (which turns
 * the logits into their gradient) or the rows are out of range. */
int gemma3_logits_download(const Gemma3 *m, int row0, int n, float *host, Error *e);
/* Per-position losses of the last forward with targets, [B, T] host copy; 0 where masked out. */
const float *gemma3_token_losses(const Gemma3 *m);
/* Zeroing gradients, AdamW moments and steps: the store's params_* calls (model/params.h). */

#endif

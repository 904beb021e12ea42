/* One model API over the architectures restpg trains (GPT-2: model/gpt.h; the Llama family,
 * Llama, Qwen2, Qwen3 and Gemma 3: model/llama.h): what the trainer, the sampler, checkpoints and
 * the CLI call, so none of them knows which architecture it runs. Each call forwards to the
 * architecture's own function with the same contract (see gpt.h: the forward's masked mean loss,
 * the backward that ADDS scaled gradients, AdamW with clipping folded in, tensors moved only
 * through download/upload).
 *
 * Adding a member of the Llama family: an Arch value, a llama_config_* constructor setting its
 * switches (model/llama.h), a new switch in LlamaConfig only for what no switch covers yet, and
 * its name in model.c's ARCH_NAMES. Adding another architecture: its model/<arch>.{c,h} shaped
 * like gpt.h, an Arch value in kernels/backend.h, one case per function in model.c, its tensor
 * names in checkpoint.c, and a decoder in the backend (DecoderModel). */
#ifndef RESTPG_MODEL_MODEL_H
#define RESTPG_MODEL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "kernels/backend.h"
#include "model/gpt.h"
#include "model/llama.h"

/* An architecture and its hyper-parameters (only the member of `arch` is read: gpt2, or llama for
 * the family, whose llama.arch must equal arch). */
typedef struct {
    Arch arch;
    GPTConfig gpt2;
    LlamaConfig llama;
} ModelConfig;

typedef struct {
    Arch arch;
    /* Facts every caller needs, whatever the architecture (copied from the member's config). */
    int vocab_size, padded_vocab_size, n_positions;
    size_t n_params;
    const Backend *be;
    GPT gpt2;    /* arch == ARCH_GPT2 */
    Llama llama; /* the family: ARCH_LLAMA, ARCH_QWEN2, ARCH_QWEN3, ARCH_GEMMA3 */
} Model;

/* model.dtype: the precision the weights are used in ("fp32", "bf16"; "auto" parses as bf16 on
 * the cuda backend and fp32 on the cpu, so call it after backend_select); and back (RP_EINPUT
 * naming the value). It is the decoders' weight copies (sampling, evaluation, generation) and,
 * on a backend with mixed precision, the training products' operands (model_set_compute_dtype);
 * training always keeps fp32 master weights, gradients and AdamW moments. */
const char *model_dtype_name(DType d);
int model_dtype_parse(const char *s, DType *d, Error *e);
/* The `--dtype` option of the commands that decode, for their ArgSpec tables (core/args.h). */
#define MODEL_DTYPE_SPEC(var)                                                                                          \
    {"--dtype", ARG_STR, &(var), "weights the decoder computes with: auto (default: bf16 on cuda, fp32 on cpu), fp32 "  \
                                 "or bf16 (half the memory; products accumulate in fp32)", 0,                          \
     ARG_ONE_OF("auto", "fp32", "bf16")}

/* train.vocab_chunk / --vocab-chunk: the vocabulary columns per chunk of the training loss
 * (model_set_vocab_chunk), "auto", or a count >= 0 rounded up to a multiple of 128 into *cols (0:
 * the whole vocabulary, the unchunked path). auto is 0 on a backend computing in host memory (the
 * cpu: the whole logits are small beside its memory, and chunking costs a second LM-head product
 * in the backward) and MODEL_VOCAB_CHUNK_DEVICE on a device (cuda: the [B*T, Vp] logits are
 * activation memory's largest buffer, 1 GiB per 1024 rows for Gemma 3's 262144 tokens), so call
 * it after backend_select. Anything else is RP_EINPUT naming the value. */
#define MODEL_VOCAB_CHUNK_DEVICE 32768
int model_vocab_chunk_parse(const char *s, int *cols, Error *e);
/* The `--vocab-chunk` option of the training commands, for their ArgSpec tables (core/args.h). */
#define MODEL_VOCAB_CHUNK_SPEC(var)                                                                                    \
    {"--vocab-chunk", ARG_STR, &(var), "vocabulary columns per chunk of the LM head's loss: auto (default: 32768 on "  \
                                       "cuda, 0 on cpu), 0 (whole logits) or N (rounded up to 128; less memory, "     \
                                       "a second LM-head product)", 0, NULL}

/* "gpt2", "gemma3", "llama", "qwen2", "qwen3"; and back (RP_EINPUT naming the value). */
const char *model_arch_name(Arch a);
int model_arch_parse(const char *s, Arch *a, Error *e);

/* Checks the config (the architecture's own check; fills the padded vocabulary). */
int model_config_check(ModelConfig *c, Error *e);
/* The config of an initialised model. */
ModelConfig model_config(const Model *m);
/* Allocates the parameters on the selected backend (zeroed); gradients come with model_grads,
 * model_zero_grad or the first backward. */
int model_init(Model *m, const ModelConfig *c, Error *e);
void model_free(Model *m);
/* The architecture's published initialisation, a function of (seed, tensor, index) only. */
int model_init_random(Model *m, uint64_t seed, Error *e);

/* Activation recomputation (checkpointing per layer), off by default: on, the forward keeps of
 * each layer only its input stream ([B*T, C]) and one layer's buffers that all layers share, and
 * the backward re-runs each layer's forward before its backward: less memory for more compute,
 * with every result bitwise the same. Takes effect at the next model_plan. For training; inference
 * leaves it off (a forward without backward gains nothing but the memory). */
void model_set_recompute(Model *m, int on);
/* The training loss chunked over the vocabulary (model/vocab_chunk.h), off (0) by default: cols
 * columns (rounded up to 128) of logits at a time instead of all Vp, so the plan holds [B*T,
 * cols] of them; losses and gradients agree with the whole path to float rounding; a chunk
 * covering the vocabulary is the whole path. Without whole logits, model_logits_download
 * refuses (RP_EINPUT). For training; takes effect at the next model_plan. */
void model_set_vocab_chunk(Model *m, int cols);
/* The precision of the training products: DTYPE_BF16 is mixed precision on a backend that has
 * it (fp32 master weights, gradients and moments; bf16 operands, fp32 accumulation), DTYPE_F32
 * plain fp32. *in_force gets the dtype the products use: the CPU backend always computes in fp32. */
int model_set_compute_dtype(Model *m, DType dt, DType *in_force, Error *e);
/* Allocates activations for batches of up to B sequences of up to T tokens (in the recompute
 * mode set; a plan of the same B, T and mode keeps its buffers). */
int model_plan(Model *m, int B, int T, Error *e);
/* Bytes model_plan allocates for (B, T) with recomputation on (1) or off (0) and the loss
 * chunked by vocab_chunk columns (model_set_vocab_chunk's; 0: whole). */
size_t model_activation_bytes(const ModelConfig *c, int B, int T, int recompute, int vocab_chunk);
/* Model FLOPs per token of a training step (6 x matmul parameters + attention), for MFU. */
double model_flops_per_token(const ModelConfig *c, int T);

int model_forward(Model *m, const int32_t *inputs, const int32_t *targets, const float *mask, int B, int T, float *loss,
                  Error *e);
int model_backward(Model *m, float loss_scale, Error *e);
int model_zero_grad(Model *m, Error *e);
const float *model_token_losses(const Model *m);
int model_logits_download(const Model *m, int row0, int n, float *host, Error *e);

int model_opt_reset(Model *m, Error *e);
int model_opt_ready(const Model *m);
int model_adamw_step(Model *m, const AdamW *h, double max_norm, int step, double *norm, Error *e);
/* The gradient state's device buffer (n_params floats), allocated zeroed on first use: a model
 * that only runs inference holds no gradients. */
int model_grads(Model *m, float **out, Error *e);
/* The gradient-ready hook, for a reduction that overlaps the backward (trainer/dp.h): from now
 * on every model_backward calls fn(ctx, ranges, n, e) after each transformer layer's backward
 * (top layer first) with that layer's slice of every per-layer tensor, and once more at its end
 * with the tensors that are not per layer (embeddings, final norm, LM head; a tied embedding is
 * final only then), naming ranges [lo, hi) of the gradient buffer that this backward will not
 * write again; on the device backends the ops that wrote them are queued, not necessarily done.
 * The reports follow model_grad_plan's order; a backward may stop early (an error, or a batch
 * without a weighted position, whose gradient adds nothing): then the ranges not reported are
 * final when it returns. A failing fn fails the backward. fn NULL removes the hook. */
void model_set_grad_hook(Model *m, GradReadyFn fn, void *ctx);
/* Every range the hook reports, in the backward's order (covering [0, n_params) once): *out is
 * malloc'd (*n ranges), the caller frees it. */
int model_grad_plan(const Model *m, ParamRange **out, int *n, Error *e);

/* Tensor k of the architecture's table: count, shape (offset/numel/dims in the flat state), and
 * host copies of one tensor or a whole state (which = 'p', 'g', 'm', 'v'). */
int model_tensor_count(const Model *m);
/* The architecture's parameter store (model/params.h); the mutable one is for the optimizer's
 * sharded variant (ZeRO-1 in trainer/trainer.c), which works on the store's moments directly. */
const ParamStore *model_store(const Model *m);
ParamStore *model_store_mut(Model *m);
const ParamTensor *model_tensor(const Model *m, int k);
int model_tensor_download(const Model *m, int which, int k, float *host, Error *e);
int model_tensor_upload(Model *m, int which, int k, const float *host, Error *e);
int model_state_download(const Model *m, int which, float *host, Error *e);
int model_state_upload(Model *m, int which, const float *host, Error *e);

/* 1 if a belongs to the Llama family (the Llama member of Model and ModelConfig). */
int model_arch_is_llama(Arch a);

/* The model as a backend decoder sees it (its shape is written to the caller's storage). */
DecoderModel model_decoder(const Model *m, GPT2Dims *gd, LlamaConfig *lc);
DecoderModel model_config_decoder(const ModelConfig *c, GPT2Dims *gd, LlamaConfig *lc);

/* Limits the positions the model is planned for to n (the context a run uses): the Llama family's
 * max_positions only bounds plans (RoPE needs no table), so lowering it changes no result of a
 * shorter sequence; a GPT-2's context is its wpe table, which cannot shrink: RP_EINPUT unless n is
 * at least its n_positions (then nothing changes). */
int model_limit_positions(Model *m, int n, Error *e);

/* One line describing the model ("gpt2: 2 layers, 2 heads, 64 channels, ..."), for logs. */
void model_describe(const Model *m, char *buf, size_t n);

#endif

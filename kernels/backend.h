/* The backend interface: where tensors live and the ops that run on them, the same for every
 * device. model/ owns its tensors through it and never touches their memory directly; a new
 * device (kernels/cuda/) is one more BackendOps table, chosen at run time by name.
 *
 * Memory: alloc/free/upload/download/zero/copy/add work on device pointers, which only the
 * backend may dereference (on the CPU backend they happen to be host pointers; host_memory says
 * so, for code that can then skip staging copies). Ranks exchange device memory through the
 * backend's collectives (comm_init ... recv, at the end of the table).
 *
 * Ops: every op returns RP_OK or an error code with e set, and takes any scratch it needs from
 * the caller (sized by the matching *_workspace query), so an op never allocates. Conventions are
 * llm.c's: fp32, row-major, N = B*T rows, weights [out, in] (nn.Linear); "accumulates" means the
 * op adds into its output (parameter gradients always accumulate, so micro-batches sum). Each
 * backend states its determinism in its own header (kernels/cpu/ops.h: bitwise for any thread
 * count; a sequence's activations do not depend on the other sequences of the batch).
 *
 * One backend per process: a rank drives one device. backend_select picks it once at start
 * (`--device`, config key `device`); everything after uses backend_get(). */
#ifndef RESTPG_KERNELS_BACKEND_H
#define RESTPG_KERNELS_BACKEND_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* GPT-2's tensors as named views (llm.c's ParameterTensors): the same struct names parameters,
 * gradients and AdamW moments, each a view into one device buffer. Per-layer tensors hold all L
 * layers back to back ([L, ...]). */
typedef struct {
    float *wte;      /* [Vp, C] token embedding (rows V..Vp-1 padding, kept 0) and tied LM head */
    float *wpe;      /* [maxT, C] */
    float *ln1w, *ln1b;         /* [L, C] */
    float *qkvw, *qkvb;         /* [L, 3C, C], [L, 3C] */
    float *attprojw, *attprojb; /* [L, C, C], [L, C] */
    float *ln2w, *ln2b;         /* [L, C] */
    float *fcw, *fcb;           /* [L, 4C, C], [L, 4C] */
    float *fcprojw, *fcprojb;   /* [L, C, 4C], [L, C] */
    float *lnfw, *lnfb;         /* [C] */
} GPT2Tensors;

/* The shape of a GPT-2 model as the kernels need it. */
typedef struct {
    int n_layer, n_head, n_embd, n_positions, vocab_size, padded_vocab_size;
} GPT2Dims;

/* The architectures: GPT-2, and the Llama family (model/llama.h), whose members differ only by
 * the switches of LlamaConfig. */
typedef enum { ARCH_GPT2 = 0, ARCH_GEMMA3 = 1, ARCH_LLAMA = 2, ARCH_QWEN2 = 3, ARCH_QWEN3 = 4 } Arch;

/* The Llama family's tensors as named views (model/llama.h gives the layout: per-layer tensors
 * are [L, ...] back to back). A tensor the config does not have (biases, q/k norms, post norms,
 * the untied output) is NULL. */
typedef struct {
    float *token_embd, *attn_norm, *attn_q, *attn_q_b, *attn_k, *attn_k_b, *attn_v, *attn_v_b, *attn_q_norm,
        *attn_k_norm, *attn_output;
    float *post_attention_norm, *ffn_norm, *ffn_gate, *ffn_up, *ffn_down, *post_ffw_norm, *output_norm, *output;
} LlamaTensors;

/* A RoPE's inverse frequencies (Hugging Face's rope_theta and rope_scaling): for pair i of a
 * head of hd, f_i = theta^(-2i/hd), then
 *   ROPE_LINEAR: f_i / factor;
 *   ROPE_LLAMA3 (Llama 3.1's): with wavelength w = 2 pi / f_i, lo = original_max_positions /
 *     low_freq_factor and hi = original_max_positions / high_freq_factor: f_i if w < hi,
 *     f_i / factor if w > lo, else (1 - s) f_i / factor + s f_i with
 *     s = (original_max_positions / w - low_freq_factor) / (high_freq_factor - low_freq_factor).
 * The angle of pair i at position t is t * f_i. */
typedef enum { ROPE_DEFAULT = 0, ROPE_LINEAR = 1, ROPE_LLAMA3 = 2 } RopeScaling;
typedef struct {
    double theta;
    RopeScaling scaling;
    double factor, low_freq_factor, high_freq_factor;
    int original_max_positions;
} RopeSpec;

/* The gated MLP's activation: gelu_tanh (GeGLU, Gemma) or silu (SwiGLU, Llama and Qwen). */
typedef enum { ACT_GELU_TANH = 0, ACT_SILU = 1 } MlpAct;

/* A Llama-family model's hyper-parameters and switches (model/llama.h describes each and its
 * config.json key; llama_config_* set the switches of each variant). The kernels read the fields,
 * never the variant. */
typedef struct {
    Arch arch;             /* the variant: ARCH_LLAMA, ARCH_QWEN2, ARCH_QWEN3 or ARCH_GEMMA3 */
    int vocab_size;        /* V */
    int padded_vocab_size; /* Vp: V rounded up to a multiple of 128 (filled by the check) */
    int hidden_size, intermediate_size, n_layer, n_head, n_kv_head, head_dim;
    int sliding_window;         /* 0: every layer global */
    int sliding_window_pattern; /* layer l is global when (l + 1) % pattern == 0 */
    int max_positions;
    float query_pre_attn_scalar; /* scores scale by its ^-0.5; 0: head_dim's */
    float rms_norm_eps;
    double rope_theta;           /* RoPE base of the global layers */
    double rope_local_base_freq; /* of the sliding layers (no scaling there) */
    RopeScaling rope_scaling;    /* of the global layers, with the four fields below */
    double rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_original_max_positions;
    /* Switches. */
    float norm_offset;       /* RMSNorm weights apply as (norm_offset + w): 1 Gemma, 0 others */
    int scale_embeddings;    /* 1: embeddings times sqrt(hidden_size) rounded to fp32 (Gemma) */
    int post_norms;          /* 1: norms on the attention and MLP outputs (Gemma) */
    int qk_norm;             /* 1: per-head RMSNorm of q and k before RoPE (Gemma, Qwen3) */
    int qkv_bias;            /* 1: q, k, v projections have biases (Qwen2) */
    int tie_word_embeddings; /* 1: the LM head is token_embd; 0: its own `output` tensor */
    MlpAct hidden_act;
} LlamaConfig;

/* What every reader of a LlamaConfig (the model, a backend's decoder) derives alike. */
static inline int llama_layer_is_global(const LlamaConfig *c, int l) {
    return c->sliding_window <= 0 || (l + 1) % c->sliding_window_pattern == 0;
}
/* The RoPE of global (1) or sliding (0) layers: sliding layers use rope_local_base_freq unscaled. */
static inline RopeSpec llama_rope(const LlamaConfig *c, int global) {
    RopeSpec r = {c->rope_local_base_freq, ROPE_DEFAULT, 0.0, 0.0, 0.0, 0}; /* positional: C++ includes it too */
    if (!global) return r;
    r.theta = c->rope_theta;
    r.scaling = c->rope_scaling;
    r.factor = c->rope_factor;
    r.low_freq_factor = c->rope_low_freq_factor;
    r.high_freq_factor = c->rope_high_freq_factor;
    r.original_max_positions = c->rope_original_max_positions;
    return r;
}
/* The attention scale query_pre_attn_scalar^-0.5 (head_dim^-0.5 when it is 0). */
static inline float llama_attn_scale(const LlamaConfig *c) {
    double s = c->query_pre_attn_scalar > 0.0f ? (double)c->query_pre_attn_scalar : (double)c->head_dim;
    return (float)(1.0 / sqrt(s));
}
/* The embedding multiplier: sqrt(hidden_size) rounded to fp32, as HF's embed_scale, or 1. */
static inline float llama_embed_scale(const LlamaConfig *c) {
    return c->scale_embeddings ? (float)sqrt((double)c->hidden_size) : 1.0f;
}

/* The model a decoder runs: its architecture, weights (which must stay valid while the decoder
 * lives) and shape; only the pair of the named architecture is read (llama for the family). */
typedef struct {
    Arch arch;
    const GPT2Tensors *gpt2;
    const GPT2Dims *gpt2_dims;
    const LlamaTensors *llama;
    const LlamaConfig *llama_cfg;
} DecoderModel;

/* How parameters are stored (model.dtype): fp32, or bf16 (the upper half of an fp32; core/bf16.h). */
typedef enum { DTYPE_F32 = 0, DTYPE_BF16 = 1 } DType;

/* A KV-cached decoder's memory plan (model/infer.h explains prompt caches and slots). */
typedef struct {
    int max_rows;   /* candidate slots (rows of one decode step) */
    int n_prefixes; /* prompt caches held at once */
    int max_prompt; /* tokens of one prompt */
    int max_new;    /* tokens fed to one slot after its prompt */
    DType weights;  /* the decoder's copy of the weight matrices (products accumulate in fp32) */
} DecodePlan;

/* How the next token is chosen from a row of logits (sampler/sampling.h's SamplingParams, which
 * is this type): temperature 0 is greedy, top_k 0 and top_p 1 are off. */
typedef struct {
    double temperature; /* 0 = greedy */
    int top_k;          /* 0 = off */
    double top_p;       /* 1 = off */
} SampleSpec;

/* One range of adamw_update_multi: parameters [offset, offset + n) of the buffer, with the
 * hyper-parameters' weight decay when decays, none otherwise. */
typedef struct {
    size_t offset, n;
    int decays;
} AdamwSegment;

typedef struct Backend Backend;

typedef struct {
    const char *name; /* "cpu", "cuda" */
    int host_memory;  /* 1 if device pointers are host-addressable */
    /* Readies the device (NULL: nothing to do); called by backend_select, collective over
     * MPI_COMM_WORLD. A missing or unusable device is RP_EINPUT saying why. */
    int (*init)(Error *e);
    /* The memory this rank computes in, free now and in all: the host's (MemAvailable, MemTotal;
     * shared by the node's ranks when host_memory) or the rank's GPU's. */
    int (*mem_info)(size_t *free_bytes, size_t *total_bytes, Error *e);

    /* Host threads the backend may use for its work (>= 1), and the count in force. */
    void (*set_threads)(int n);
    int (*threads)(void);

    /* Memory. alloc returns zeroed, 64-byte-aligned memory (*out NULL on error). */
    int (*alloc)(size_t bytes, void **out, Error *e);
    void (*free)(void *p);
    int (*upload)(void *dst, const void *host_src, size_t bytes, Error *e);
    int (*download)(void *host_dst, const void *src, size_t bytes, Error *e);
    int (*zero)(void *dst, size_t bytes, Error *e);
    int (*copy)(void *dst, const void *src, size_t bytes, Error *e);
    /* a[i] += b[i], i < n, each element one addition (the gradient reduction's sum). */
    int (*add)(float *a, const float *b, size_t n, Error *e);

    /* out[b,t,:] = wte[tokens[b,t],:] + wpe[t,:] (tokens already checked, on the device). */
    int (*encoder_forward)(float *out, const int32_t *tokens, const float *wte, const float *wpe, int B, int T, int C,
                           Error *e);
    /* Accumulates dwte rows of the tokens used and dwpe rows 0..T-1. */
    int (*encoder_backward)(float *dwte, float *dwpe, const float *dout, const int32_t *tokens, int B, int T, int C,
                            Error *e);
    /* LayerNorm (eps 1e-5) saving per-row mean and rstd; the backward accumulates dinp, dw, db. */
    int (*layernorm_forward)(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                             int N, int C, Error *e);
    int (*layernorm_backward)(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                              const float *mean, const float *rstd, int N, int C, Error *e);
    /* out[N,OC] = inp[N,C] @ w[OC,C]^T + bias + resid (bias, resid may be NULL; resid may alias
     * out), rows taken as B groups of T; a group's rows depend only on that group. */
    int (*matmul_forward)(float *out, const float *inp, const float *w, const float *bias, const float *resid, int B,
                          int T, int C, int OC, Error *e);
    /* dinp (= or +=, by accumulate_dinp) dout @ w per group; dw += dout^T inp; dbias += column
     * sums. dinp or dbias may be NULL. */
    int (*matmul_backward)(float *dinp, float *dw, float *dbias, const float *dout, const float *inp, const float *w,
                           int B, int T, int C, int OC, int accumulate_dinp, Error *e);
    /* Causal attention over qkv[B,T,3C] (q | k | v; NH heads of C/NH), writing out[B,T,C] and the
     * rows' log-sum-exp lse[B,NH,T]; no T x T matrix. The backward overwrites dqkv. Both take
     * attention_workspace(T) bytes of scratch. */
    size_t (*attention_workspace)(int T);
    int (*attention_forward)(float *out, float *lse, const float *qkv, int B, int T, int C, int NH, void *ws,
                             size_t ws_bytes, Error *e);
    int (*attention_backward)(float *dqkv, const float *dout, const float *qkv, const float *out, const float *lse,
                              int B, int T, int C, int NH, void *ws, size_t ws_bytes, Error *e);
    /* GPT-2's tanh GELU (out may alias inp); the backward overwrites dinp (may alias dout). */
    int (*gelu_forward)(float *out, const float *inp, size_t n, Error *e);
    int (*gelu_backward)(float *dinp, const float *inp, const float *dout, size_t n, Error *e);
    /* Per row of logits[N,Vp] over columns < V: lse, and losses = lse - logit[target] where
     * mask != 0 (0 elsewhere). */
    int (*crossentropy_forward)(float *losses, float *lse, const float *logits, const int32_t *targets,
                                const float *mask, int N, int V, int Vp, Error *e);
    /* logits -> dloss * (softmax - onehot) in place; padding columns and rows with dloss 0 -> 0. */
    int (*crossentropy_backward)(float *logits, const float *lse, const int32_t *targets, const float *dloss, int N,
                                 int V, int Vp, Error *e);
    /* The tied LM head's backward (logits = x @ wte^T): dx[N,C] = dlogits @ wte (overwritten),
     * dwte += dlogits^T x, for the rows whose dloss is non-zero (the others get dx = 0 and add
     * nothing); the rows are B groups of T as in matmul_backward. Scratch: 2 x N x C floats. */
    int (*lmhead_backward)(float *dx, float *dwte, float *dlogits, const float *x, const float *wte,
                           const float *dloss, int B, int T, int C, int Vp, float *scratch, Error *e);
    /* The cross-entropy chunked over the vocabulary (train.vocab_chunk; model/vocab_chunk.h runs
     * it): logits_c[N, n] holds the logit columns [j0, j0 + n) of N rows, j0 + n <= V (padding
     * columns are never in a chunk). The forward merges them into each row's running (max, sum of
     * e^(x - max)) in stats[i] and stats[N + i] (j0 == 0 starts them; chunks come in column
     * order) and keeps the target's logit in stats[2N + i] when targets[i] lies in the chunk; the
     * chunk that ends at V then writes lse and losses as crossentropy_forward does (lse - target
     * logit where mask != 0, 0 elsewhere). The backward turns logits_c into dloss * (softmax -
     * onehot) on those columns in place, from the forward's lse; rows with dloss 0 become 0. */
    int (*crossentropy_chunk_forward)(float *losses, float *lse, float *stats, const float *logits_c,
                                      const int32_t *targets, const float *mask, int N, int V, int j0, int n, Error *e);
    int (*crossentropy_chunk_backward)(float *logits_c, const float *lse, const int32_t *targets, const float *dloss,
                                       int N, int j0, int n, Error *e);

    /* AdamW on n parameters (llm.c's formulation; decoupled weight decay; grad_scale carries the
     * clipping factor; step counts from 1). */
    int (*adamw_update)(float *param, const float *grad, float *m, float *v, size_t n, float lr, float beta1,
                        float beta2, float eps, float weight_decay, float grad_scale, int step, Error *e);
    /* Sum of squares of g in double, in an order fixed by n alone. */
    int (*sumsq)(const float *g, size_t n, double *out, Error *e);
    /* Mixed precision (NULL where the backend has none: the CPU backend computes in fp32). From
     * now on the matmuls whose weight lies in params[0, n) (a model's parameter buffer) read it
     * through a copy of type dt that the backend keeps current (every write to params goes
     * through this table), round their activation operands to dt, and accumulate and write in
     * fp32; DTYPE_F32 turns it off. Freeing params ends it. */
    int (*set_compute_dtype)(const float *params, size_t n, DType dt, Error *e);
    /* AdamW over several ranges of one parameter buffer in one call (one launch per batch of
     * ranges on a device, instead of one per tensor): for each segment s, adamw_update on
     * param + s.offset, grad + s.offset, m + (s.offset - moments_lo), v + (s.offset -
     * moments_lo), s.n elements, with weight_decay where s.decays and 0 elsewhere. m and v hold
     * the moments of parameters from moments_lo on (ZeRO-1's shard; 0 for the whole buffer), so
     * every segment starts at or after it. Segments must not overlap; empty ones are skipped.
     * Every element's result is bitwise adamw_update's. */
    int (*adamw_update_multi)(float *param, const float *grad, float *m, float *v, size_t moments_lo,
                              const AdamwSegment *segs, int nseg, float lr, float beta1, float beta2, float eps,
                              float weight_decay, float grad_scale, int step, Error *e);

    /* KV-cached decoding (model/infer.h): an opaque decoder over the model dm describes, its
     * memory in bytes for a plan (dm's weights are not read), prefill of a prompt cache (logits
     * of the last position to host logits[Vp]), attaching a slot to a prompt cache, and one
     * decode step of n slots (host token ids in, host logits out). An architecture the backend
     * cannot decode is RP_EINPUT naming it. */
    size_t (*decoder_bytes)(const DecoderModel *dm, const DecodePlan *p, int threads);
    int (*decoder_init)(void **dec, const DecoderModel *dm, const DecodePlan *p, Error *e);
    void (*decoder_free)(void *dec);
    int (*decoder_prefill)(void *dec, int prefix, const int32_t *tokens, int n, float *logits, Error *e);
    void (*decoder_attach)(void *dec, int slot, int prefix);
    int (*decoder_decode)(void *dec, int n, const int *slots, const int32_t *tokens, float *logits, Error *e);
    /* Optional (NULL: the caller decodes and chooses on the host): one decode step as
     * decoder_decode, then row r's next token chosen on the device as sampler/sampling.h's
     * sampling_choose(logits of row r, V, sp, u[r]) would: next[r] (-1 where it would refuse: NaN
     * or infinite logits) and logprob[r] (its log-probability under the raw logits' softmax; 0
     * for a refused row). u, next, logprob are host arrays of n; only they cross to the host.
     * The backend states how exactly it matches sampling_choose. */
    int (*decoder_decode_sample)(void *dec, int n, const int *slots, const int32_t *tokens, const SampleSpec *sp,
                                 const double *u, int32_t *next, double *logprob, Error *e);

    /* The Llama family's ops (model/llama.h; kernels/cpu/ops.h states each one's details). */
    /* RMSNorm over rows of C with the weight applied as (w_offset + w) (Gemma: 1, the others: 0),
     * saving rstd per row, plus the residual resid when it is not NULL (out = resid + norm(inp):
     * Gemma's post-norms fold their residual add in); out may alias inp or resid. The backward
     * accumulates dinp and dw (the residual's gradient is the caller's: it passes through). */
    int (*rmsnorm_forward)(float *out, float *rstd, const float *inp, const float *w, const float *resid, int N,
                           int C, float eps, float w_offset, Error *e);
    int (*rmsnorm_backward)(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                            const float *rstd, int N, int C, float w_offset, Error *e);
    /* Rotate-half RoPE in place on x[B,T,NH,hd] at positions 0..T-1 of each sequence with the
     * frequencies rope describes; the backward applies the inverse rotation to the gradient. */
    int (*rope_forward)(float *x, int B, int T, int NH, int hd, const RopeSpec *rope, Error *e);
    int (*rope_backward)(float *dx, int B, int T, int NH, int hd, const RopeSpec *rope, Error *e);
    /* out = gelu_tanh(gate) * up (GeGLU) or silu(gate) * up (SwiGLU); the backwards overwrite
     * dgate and dup. */
    int (*geglu_forward)(float *out, const float *gate, const float *up, size_t n, Error *e);
    int (*geglu_backward)(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n,
                          Error *e);
    int (*swiglu_forward)(float *out, const float *gate, const float *up, size_t n, Error *e);
    int (*swiglu_backward)(float *dgate, float *dup, const float *dout, const float *gate, const float *up, size_t n,
                           Error *e);
    /* out[i,:] = scale * wte[tokens[i],:] (tokens checked, on the device); the backward
     * accumulates scale * dout into dwte's rows. */
    int (*embedding_forward)(float *out, const int32_t *tokens, const float *wte, float scale, int N, int C, Error *e);
    int (*embedding_backward)(float *dwte, const float *dout, const int32_t *tokens, float scale, int N, int C,
                              Error *e);
    /* Causal grouped-query attention (q, out [B,T,NH*hd]; k, v [B,T,NKV*hd]; query head h uses kv
     * head h / (NH/NKV)), scores scale * q.k, keys j <= i and, when window > 0, i - j < window;
     * writes out and lse[B,NH,T] with no T x T matrix. The backward overwrites dq, dk, dv. Both
     * take attention_gqa_workspace(B, T, NH) bytes of scratch. */
    size_t (*attention_gqa_workspace)(int B, int T, int NH);
    int (*attention_gqa_forward)(float *out, float *lse, const float *q, const float *k, const float *v, int B, int T,
                                 int NH, int NKV, int hd, int window, float scale, void *ws, size_t ws_bytes, Error *e);
    int (*attention_gqa_backward)(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                                  const float *v, const float *out, const float *lse, int B, int T, int NH, int NKV,
                                  int hd, int window, float scale, void *ws, size_t ws_bytes, Error *e);

    /* Collectives between the ranks of MPI_COMM_WORLD on device memory (the gradient reductions
     * of trainer/dp.h, ZeRO-1's sharded optimizer). comm_init is collective (every rank calls
     * it, after MPI_Init and after the backend chose its device) and idempotent: later calls
     * return at once; comm_free releases the communicator (before MPI_Finalize; safe without
     * comm_init). Without MPI, or with one rank, the world is this process: allreduce_sum
     * leaves buf as it is, reduce_scatter_sum and all_gather copy, send and recv are errors.
     * Every rank makes the same collective calls in the same order with the same counts; the
     * calls block until their buffers may be reused (device work queued before them is waited
     * for). Failures are RP_EMPI; a failed collective leaves the communicator unusable.
     *   allreduce_sum: buf[i] becomes the sum over ranks of buf[i].
     *   reduce_scatter_sum: in holds world x n_per_rank floats; rank r gets
     *     out[i] = sum over ranks q of in_q[r * n_per_rank + i]; out may be in + r * n_per_rank.
     *   all_gather: out[q * n_per_rank + i] = in_q[i]; in may be out + r * n_per_rank.
     *   send / recv: n floats to / from rank peer (not this rank). A send may wait until peer
     *     posts the matching recv, so the caller orders them to be deadlock-free (as blocking
     *     MPI_Ssend / MPI_Recv would need).
     * Each backend states its summation order (the CPU's: rank order, the same in all three
     * collectives, so an all-reduce equals a reduce-scatter then an all-gather bitwise). */
    int (*comm_init)(Error *e);
    void (*comm_free)(void);
    int (*allreduce_sum)(float *buf, size_t n, Error *e);
    int (*reduce_scatter_sum)(float *out, const float *in, size_t n_per_rank, Error *e);
    int (*all_gather)(float *out, const float *in, size_t n_per_rank, Error *e);
    int (*send)(const float *buf, size_t n, int peer, Error *e);
    int (*recv)(float *buf, size_t n, int peer, Error *e);
    /* The all-reduce split in two, so it can run while the device computes something else (the
     * gradient reduction overlapped with the backward, trainer/dp.h). allreduce_sum_start queues
     * allreduce_sum(buf, n) (the same sum, bitwise) and may return before it is done; it orders
     * after the device work queued before it (the ops that wrote buf). comm_wait returns once
     * every queued sum has landed (at once when none is queued). The rule in between: no op may
     * read or write a queued buf (the sum may still be landing), and no other collective is
     * called; ops on other memory may run, overlapping the sums. Every rank queues the same
     * starts (same order, same counts) and then waits. A backend may sum at once: the CPU's does
     * (start is allreduce_sum, wait returns RP_OK); the CUDA one queues NCCL on its own stream.
     * Failures: RP_EMPI from either, after which the communicator is unusable. */
    int (*allreduce_sum_start)(float *buf, size_t n, Error *e);
    int (*comm_wait)(Error *e);
} BackendOps;

struct Backend {
    const BackendOps *ops;
};

/* The devices restpg knows, for help texts and as the allowed values of `--device` and the config
 * key `device` (core/args.h's ARG_ONE_OF); whether this build has one is backend_select's answer. */
#define BACKEND_DEVICES "cpu, cuda"
#define BACKEND_DEVICE_LIST "cpu", "cuda"
/* Makes a backend available by its name (ops->name). The CPU backend always is; a binary built
 * with a CUDA backend registers it in main, before any command runs. */
void backend_register(const BackendOps *ops);
/* Names the devices available in this binary, comma separated ("cpu" or "cpu, cuda"). */
const char *backend_available(void);
/* Makes `device` the process's backend and runs its init (a device backend picks its device by
 * node-local rank: collective over MPI_COMM_WORLD). An unknown or unavailable name is RP_EINPUT
 * naming it and the available ones. Call before any model is created. */
int backend_select(const char *device, Error *e);
/* The selected backend (the CPU backend until backend_select chose another). */
const Backend *backend_get(void);

/* The `--device` option of the commands that run a model, for their ArgSpec tables
 * (core/args.h); pass the parsed value to backend_select before creating a model. */
#define BACKEND_DEVICE_SPEC(var)                                                                                       \
    {"--device", ARG_STR, &(var), "compute device: " BACKEND_DEVICES " (default cpu)", 0, ARG_ONE_OF(BACKEND_DEVICE_LIST)}

#endif

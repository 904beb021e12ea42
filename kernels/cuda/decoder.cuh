/* What the CUDA decoders (kernels/cuda/decoder.cu: the ops' dispatch and GPT-2's;
 * decoder_llama.cu: the Llama family's) share: the handle's common head (plan, the prompt and
 * slot bookkeeping on the host, the per-call device buffers), the carving of the one device
 * allocation, and the per-call steps (checks, row descriptions and tokens to the device, logits
 * back). Internal to kernels/cuda; the contract is ops_cuda.h's. */
#ifndef RESTPG_KERNELS_CUDA_DECODER_CUH
#define RESTPG_KERNELS_CUDA_DECODER_CUH

#include "kernels/cuda/ops_cuda.h"

/* Bump allocation of the decoder's one device block, 256-byte aligned pieces: with base NULL the
 * calls only count (the plan's bytes), with the block they hand out the same pieces. */
typedef struct {
    char *base;
    size_t off;
} DecodeCarve;

static inline void *decode_carve(DecodeCarve *c, size_t bytes) {
    void *p = c->base ? c->base + c->off : NULL;
    c->off += (bytes + 255) / 256 * 256;
    return p;
}

/* A weight matrix as a product operand: the model's fp32 tensor in place, or the decoder's bf16
 * copy. */
typedef struct {
    const void *p;
    int bf16;
} DecodeMat;

/* The head of every CUDA decoder handle (first member, so the ops dispatch on arch). */
typedef struct {
    Arch arch;
    DecodePlan plan;
    int V, Vp;
    int positions;          /* the model's n_positions / max_positions */
    const char *positions_name;
    void *mem;              /* the one device allocation */
    CudaDecodeRow *d_rows;  /* [R] the call's rows (R = max(max_prompt, max_rows)) */
    int32_t *d_tokens;      /* [R] */
    float *d_logits;        /* [max_rows, Vp] */
    double *d_u, *d_lp;     /* [max_rows] decoder_decode_sample's uniforms and log-probabilities */
    int32_t *d_next;        /* [max_rows] its tokens */
    void *d_sample_ws;      /* cuda_sample_rows_workspace(max_rows, Vp) bytes */
    CudaDecodeRow *h_rows;  /* host copies of the rows, [R] */
    int *plen;              /* [n_prefixes] prompt length, 0 = empty */
    int *slen, *sprefix;    /* [max_rows] suffix length and attached prompt (-1 = none) */
    int *mark;              /* [max_rows] per-step scratch */
} DecodeBase;

/* Rows of the activation buffers: a prompt's, or a step's. */
static inline int decode_act_rows(const DecodePlan *p) {
    return p->max_prompt > p->max_rows ? p->max_prompt : p->max_rows;
}

/* Host bytes of the head's bookkeeping. */
static inline size_t decode_host_bytes(const DecodePlan *p) {
    return (size_t)decode_act_rows(p) * sizeof(CudaDecodeRow) +
           ((size_t)p->n_prefixes + 3 * (size_t)p->max_rows) * sizeof(int);
}

/* Carves the head's device pieces (rows, tokens, logits, the sampling's buffers) from c. */
void decode_base_carve(DecodeCarve *c, DecodeBase *b, const DecodePlan *p, int Vp);
/* Checks the plan (cpu_decoder_plan_check against positions) and allocates the host bookkeeping. */
int decode_base_init(DecodeBase *b, Arch arch, const DecodePlan *p, int V, int Vp, int positions,
                     const char *positions_name, Error *e);
/* cudaMalloc of the block (zeroed); RP_ENOMEM naming the bytes and the plan. */
int decode_base_alloc(DecodeBase *b, size_t bytes, Error *e);
void decode_base_free(DecodeBase *b);
/* RP_OK for cudaSuccess, else RP_EINTERNAL naming what failed. */
int decode_status(cudaError_t err, const char *what, Error *e);
/* Checks a prefill's cache index, length and tokens, empties the cache (a failed prefill leaves
 * it empty), and sends rows {prefix, t + 1, -1, 0} and the tokens to the device. */
int decode_prefill_begin(DecodeBase *b, int prefix, const int32_t *tokens, int n, Error *e);
/* Checks a step's rows (attached, distinct slots; token ids; room in the suffix and the model's
 * positions) and sends rows {prefix, plen, slot, slen + 1} and the tokens to the device. */
int decode_step_begin(DecodeBase *b, int n, const int *slots, const int32_t *tokens, Error *e);
/* Copies n rows of logits to the host (none when logits is NULL: decoder_decode_sample reads
 * them on the device). */
int decode_logits_out(DecodeBase *b, int n, float *logits, Error *e);
void decode_base_attach(DecodeBase *b, int slot, int prefix);

/* The Llama family's decoder (decoder_llama.cu). */
size_t cuda_decoder_llama_bytes(const LlamaConfig *d, const DecodePlan *p);
int cuda_decoder_llama_init(void **dec, const LlamaTensors *w, const LlamaConfig *d, const DecodePlan *p, Error *e);
void cuda_decoder_llama_free(void *dec);
int cuda_decoder_llama_prefill(void *dec, int prefix, const int32_t *tokens, int n, float *logits, Error *e);
int cuda_decoder_llama_decode(void *dec, int n, const int *slots, const int32_t *tokens, float *logits, Error *e);

#endif

/* The CUDA backend's KV-cached decoder (ops_cuda.h, "KV-cached decoding"; the contract is
 * model/infer.h's): the decoder ops' dispatch on the architecture, the bookkeeping every
 * architecture shares (decoder.cuh), and GPT-2's decoder; the Llama family's is decoder_llama.cu.
 *
 * Device layout of GPT-2's plan, one allocation: the rows, tokens and logits of a call; prompt
 * caches [L][n_prefixes][max_prompt][C] of keys and of values; suffix caches
 * [L][max_rows][max_new][C]; the activations of max(max_prompt, max_rows) rows (x, ln, qkv, att,
 * fch, mean, rstd); with bf16 weights, a copy of every layer's qkv, proj, fc and fcproj matrices
 * and of wte (the embedding and the tied head), in nn.Linear's [out, in] layout, which is what the
 * product reads (with fp32 weights it reads the model's tensors in place). wpe is rounded to bf16
 * as it is read.
 *
 * A prefill and a decode step are the same pass over a call's rows (CudaDecodeRow says where each
 * row's position, key and value live): prefill rows are the prompt's positions, writing the
 * prompt cache; step rows are slots, writing their suffix caches. Only the rows whose logits are
 * wanted go through the head: the prompt's last, every row of a step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/decoder.cuh"
extern "C" {
#include "kernels/cpu/decoder.h"
}

/* ---- the shared head ---- */

void decode_base_carve(DecodeCarve *c, DecodeBase *b, const DecodePlan *p, int Vp) {
    size_t R = (size_t)decode_act_rows(p);
    b->d_rows = (CudaDecodeRow *)decode_carve(c, R * sizeof(CudaDecodeRow));
    b->d_tokens = (int32_t *)decode_carve(c, R * sizeof(int32_t));
    b->d_logits = (float *)decode_carve(c, (size_t)p->max_rows * Vp * sizeof(float));
    b->d_u = (double *)decode_carve(c, (size_t)p->max_rows * sizeof(double));
    b->d_lp = (double *)decode_carve(c, (size_t)p->max_rows * sizeof(double));
    b->d_next = (int32_t *)decode_carve(c, (size_t)p->max_rows * sizeof(int32_t));
    b->d_sample_ws = decode_carve(c, cuda_sample_rows_workspace(p->max_rows, Vp));
}

int decode_base_init(DecodeBase *b, Arch arch, const DecodePlan *p, int V, int Vp, int positions,
                     const char *positions_name, Error *e) {
    int rc = cpu_decoder_plan_check(p, positions, positions_name, e);
    if (rc) return rc;
    b->arch = arch;
    b->plan = *p;
    b->V = V;
    b->Vp = Vp;
    b->positions = positions;
    b->positions_name = positions_name;
    size_t R = (size_t)decode_act_rows(p);
    b->h_rows = (CudaDecodeRow *)xcalloc(R, sizeof(CudaDecodeRow), e);
    b->plen = (int *)xcalloc((size_t)p->n_prefixes + 3 * (size_t)p->max_rows, sizeof(int), e);
    if (!b->h_rows || !b->plen) return RP_ENOMEM;
    b->slen = b->plen + p->n_prefixes;
    b->sprefix = b->slen + p->max_rows;
    b->mark = b->sprefix + p->max_rows;
    for (int i = 0; i < p->max_rows; i++) b->sprefix[i] = -1;
    return RP_OK;
}

int decode_base_alloc(DecodeBase *b, size_t bytes, Error *e) {
    const DecodePlan *p = &b->plan;
    if (cudaMalloc(&b->mem, bytes) != cudaSuccess || cudaMemset(b->mem, 0, bytes) != cudaSuccess) {
        cudaGetLastError();
        b->mem = NULL;
        return error_set(e, RP_ENOMEM,
                         "KV-cache inference on cuda: out of device memory for %zu bytes (%d rows, %d prompt caches "
                         "of %d tokens, %d new tokens); lower the batch",
                         bytes, p->max_rows, p->n_prefixes, p->max_prompt, p->max_new);
    }
    return RP_OK;
}

void decode_base_free(DecodeBase *b) {
    if (b->mem) cudaFree(b->mem);
    free(b->h_rows);
    free(b->plen);
}

int decode_status(cudaError_t err, const char *what, Error *e) {
    if (err == cudaSuccess) return RP_OK;
    return error_set(e, RP_EINTERNAL, "cuda decoder: %s: %s", what, cudaGetErrorString(err));
}

/* Rows and tokens of a call to the device. */
static int send_rows(DecodeBase *b, const int32_t *tokens, int n, Error *e) {
    cudaError_t err = cudaMemcpy(b->d_rows, b->h_rows, (size_t)n * sizeof(CudaDecodeRow), cudaMemcpyHostToDevice);
    if (err == cudaSuccess) err = cudaMemcpy(b->d_tokens, tokens, (size_t)n * sizeof(int32_t), cudaMemcpyHostToDevice);
    return decode_status(err, "tokens to the device", e);
}

int decode_prefill_begin(DecodeBase *b, int prefix, const int32_t *tokens, int n, Error *e) {
    const int Pm = b->plan.max_prompt;
    if (prefix < 0 || prefix >= b->plan.n_prefixes)
        return error_set(e, RP_EINTERNAL, "infer_prefill: prompt cache %d of %d", prefix, b->plan.n_prefixes);
    if (n < 1 || n > Pm) return error_set(e, RP_EINPUT, "infer_prefill: prompt of %d tokens (planned 1..%d)", n, Pm);
    for (int i = 0; i < n; i++)
        if (cpu_decoder_check_token(tokens[i], b->V, "infer_prefill: prompt", i, e)) return RP_EINPUT;
    b->plen[prefix] = 0;
    for (int t = 0; t < n; t++) b->h_rows[t] = CudaDecodeRow{prefix, t + 1, -1, 0};
    return send_rows(b, tokens, n, e);
}

int decode_step_begin(DecodeBase *b, int n, const int *slots, const int32_t *tokens, Error *e) {
    const DecodePlan *p = &b->plan;
    if (n < 1 || n > p->max_rows)
        return error_set(e, RP_EINTERNAL, "infer_decode: %d rows (planned 1..%d)", n, p->max_rows);
    for (int r = 0; r < n; r++) {
        int sl = slots[r];
        if (sl < 0 || sl >= p->max_rows || b->sprefix[sl] < 0 || b->plen[b->sprefix[sl]] == 0)
            return error_set(e, RP_EINTERNAL, "infer_decode: row %d: slot %d is not attached to a filled prompt", r,
                             sl);
        b->mark[sl] = -1;
    }
    for (int r = 0; r < n; r++) {
        int sl = slots[r], P = b->plen[b->sprefix[sl]], pos = P + b->slen[sl];
        if (b->mark[sl] >= 0)
            return error_set(e, RP_EINTERNAL, "infer_decode: slot %d appears in rows %d and %d", sl, b->mark[sl], r);
        b->mark[sl] = r;
        if (cpu_decoder_check_token(tokens[r], b->V, "infer_decode: step", r, e)) return RP_EINPUT;
        if (b->slen[sl] >= p->max_new || pos >= b->positions)
            return error_set(e, RP_EINPUT, "infer_decode: slot %d is full (position %d, %d new tokens planned, %s %d)",
                             sl, pos, p->max_new, b->positions_name, b->positions);
        b->h_rows[r] = CudaDecodeRow{b->sprefix[sl], P, sl, b->slen[sl] + 1};
    }
    return send_rows(b, tokens, n, e);
}

int decode_logits_out(DecodeBase *b, int n, float *logits, Error *e) {
    if (!logits) return RP_OK;
    cudaError_t err = cudaMemcpy(logits, b->d_logits, (size_t)n * b->Vp * sizeof(float), cudaMemcpyDeviceToHost);
    return decode_status(err, "logits to the host", e);
}

void decode_base_attach(DecodeBase *b, int slot, int prefix) {
    b->sprefix[slot] = prefix;
    b->slen[slot] = 0;
}

/* ---- GPT-2 ---- */

typedef struct {
    DecodeBase b; /* first: the ops dispatch on b.arch */
    GPT2Tensors w;
    GPT2Dims d;
    float *pk, *pv, *sk, *sv;
    float *x, *ln, *qkv, *att, *fch, *mean, *rstd;
    uint16_t *wt; /* bf16: [L][qkv 3C*C | proj C*C | fc 4C*C | fcproj 4C*C], then wte [Vp][C]; NULL with fp32 */
} Gpt2Decoder;

static size_t layer_wt(size_t C) { return 12 * C * C; }

/* Carves everything after the head; the same calls count the bytes (s->b.mem NULL). */
static void gpt2_carve(DecodeCarve *c, Gpt2Decoder *s, const GPT2Dims *d, const DecodePlan *p) {
    size_t C = (size_t)d->n_embd, L = (size_t)d->n_layer, R = (size_t)decode_act_rows(p), F = sizeof(float);
    decode_base_carve(c, &s->b, p, d->padded_vocab_size);
    size_t prompt = L * p->n_prefixes * p->max_prompt * C * F, suffix = L * p->max_rows * p->max_new * C * F;
    s->pk = (float *)decode_carve(c, prompt);
    s->pv = (float *)decode_carve(c, prompt);
    s->sk = (float *)decode_carve(c, suffix);
    s->sv = (float *)decode_carve(c, suffix);
    s->x = (float *)decode_carve(c, R * C * F);
    s->ln = (float *)decode_carve(c, R * C * F);
    s->qkv = (float *)decode_carve(c, R * 3 * C * F);
    s->att = (float *)decode_carve(c, R * C * F);
    s->fch = (float *)decode_carve(c, R * 4 * C * F);
    s->mean = (float *)decode_carve(c, R * F);
    s->rstd = (float *)decode_carve(c, R * F);
    s->wt = p->weights == DTYPE_BF16
                ? (uint16_t *)decode_carve(c, (L * layer_wt(C) + (size_t)d->padded_vocab_size * C) * sizeof(uint16_t))
                : NULL;
}

static size_t gpt2_device_bytes(const GPT2Dims *d, const DecodePlan *p) {
    Gpt2Decoder s;
    DecodeCarve c = {NULL, 0};
    gpt2_carve(&c, &s, d, p);
    return c.off;
}

static size_t gpt2_bytes(const GPT2Dims *d, const DecodePlan *p) {
    return sizeof(Gpt2Decoder) + decode_host_bytes(p) + gpt2_device_bytes(d, p);
}

/* Layer l's matrix at offset `at` of its bf16 block, or the model's tensor t + l * n. */
static DecodeMat gpt2_mat(const Gpt2Decoder *s, const float *t, int l, size_t n, size_t at) {
    if (!s->wt) return DecodeMat{t + (size_t)l * n, 0};
    return DecodeMat{s->wt + (size_t)l * layer_wt((size_t)s->d.n_embd) + at, 1};
}

static DecodeMat gpt2_wte(const Gpt2Decoder *s) {
    if (!s->wt) return DecodeMat{s->w.wte, 0};
    return DecodeMat{s->wt + (size_t)s->d.n_layer * layer_wt((size_t)s->d.n_embd), 1};
}

static void gpt2_free(Gpt2Decoder *s) {
    decode_base_free(&s->b);
    free(s);
}

/* The bf16 copies: each layer's qkv, proj, fc, fcproj matrices, then wte. */
static cudaError_t gpt2_copy_bf16(Gpt2Decoder *s) {
    const size_t C = (size_t)s->d.n_embd, n[4] = {3 * C * C, C * C, 4 * C * C, 4 * C * C};
    const float *t[4] = {s->w.qkvw, s->w.attprojw, s->w.fcw, s->w.fcprojw};
    cudaError_t err = cudaSuccess;
    uint16_t *dst = s->wt;
    for (int l = 0; l < s->d.n_layer; l++)
        for (int i = 0; i < 4 && err == cudaSuccess; i++) {
            err = cuda_to_bf16(dst, t[i] + (size_t)l * n[i], n[i], 0);
            dst += n[i];
        }
    if (err == cudaSuccess) err = cuda_to_bf16(dst, s->w.wte, (size_t)s->d.padded_vocab_size * C, 0);
    return err;
}

static int gpt2_init(void **dec, const GPT2Tensors *w, const GPT2Dims *d, const DecodePlan *p, Error *e) {
    if (d->n_embd / d->n_head > CUDA_DECODE_MAX_HD)
        return error_set(e, RP_EINPUT, "the CUDA decoder takes heads of up to %d channels, not %d", CUDA_DECODE_MAX_HD,
                         d->n_embd / d->n_head);
    Gpt2Decoder *s = (Gpt2Decoder *)xcalloc(1, sizeof *s, e);
    if (!s) return RP_ENOMEM;
    int rc =
        decode_base_init(&s->b, ARCH_GPT2, p, d->vocab_size, d->padded_vocab_size, d->n_positions, "n_positions", e);
    if (!rc) rc = decode_base_alloc(&s->b, gpt2_device_bytes(d, p), e);
    if (rc) {
        gpt2_free(s);
        return rc;
    }
    s->w = *w;
    s->d = *d;
    DecodeCarve c = {(char *)s->b.mem, 0};
    gpt2_carve(&c, s, d, p);
    if ((rc = decode_status(s->wt ? gpt2_copy_bf16(s) : cudaSuccess, "bf16 weight copy", e))) {
        gpt2_free(s);
        return rc;
    }
    *dec = s;
    return RP_OK;
}

/* The blocks over the call's n rows (described on the device), then the head over rows
 * [r0, r0 + nl) into d_logits. */
static int gpt2_forward(Gpt2Decoder *s, int n, int r0, int nl, Error *e) {
    const GPT2Dims *d = &s->d;
    const GPT2Tensors *w = &s->w;
    const DecodePlan *p = &s->b.plan;
    const int C = d->n_embd, NH = d->n_head, Vp = d->padded_vocab_size;
    const size_t C2 = (size_t)C * C, pstride = (size_t)p->n_prefixes * p->max_prompt * C;
    const size_t sstride = (size_t)p->max_rows * p->max_new * C;
    const float scale = 1.0f / sqrtf((float)(C / NH));
    DecodeMat wte = gpt2_wte(s);
    cudaError_t err = cuda_decode_embed(s->x, s->b.d_tokens, wte.p, wte.bf16, 1.0f, w->wpe, wte.bf16, s->b.d_rows, n,
                                        C, 0);
    for (int l = 0; l < d->n_layer && err == cudaSuccess; l++) {
        DecodeMat qkvw = gpt2_mat(s, w->qkvw, l, 3 * C2, 0), projw = gpt2_mat(s, w->attprojw, l, C2, 3 * C2);
        DecodeMat fcw = gpt2_mat(s, w->fcw, l, 4 * C2, 4 * C2), fcprojw = gpt2_mat(s, w->fcprojw, l, 4 * C2, 8 * C2);
        float *pk = s->pk + l * pstride, *pv = s->pv + l * pstride, *sk = s->sk + l * sstride,
              *sv = s->sv + l * sstride;
        size_t lC = (size_t)l * C;
        err = cuda_layernorm_forward(s->ln, s->mean, s->rstd, s->x, w->ln1w + lC, w->ln1b + lC, n, C, 0);
        if (!err) err = cuda_decode_matmul(s->qkv, s->ln, qkvw.p, qkvw.bf16, w->qkvb + 3 * lC, NULL, n, C, 3 * C, 0);
        if (!err)
            err = cuda_decode_kv_store(pk, pv, sk, sv, s->qkv + C, s->qkv + 2 * C, 3 * C, s->b.d_rows, n, C,
                                       p->max_prompt, p->max_new, 0);
        if (!err)
            err = cuda_decode_attention(s->att, C, s->qkv, 3 * C, pk, pv, sk, sv, s->b.d_rows, n, NH, NH, C / NH,
                                        p->max_prompt, p->max_new, 0, scale, 0);
        if (!err) err = cuda_decode_matmul(s->x, s->att, projw.p, projw.bf16, w->attprojb + lC, s->x, n, C, C, 0);
        if (!err) err = cuda_layernorm_forward(s->ln, s->mean, s->rstd, s->x, w->ln2w + lC, w->ln2b + lC, n, C, 0);
        if (!err) err = cuda_decode_matmul(s->fch, s->ln, fcw.p, fcw.bf16, w->fcb + 4 * lC, NULL, n, C, 4 * C, 0);
        if (!err) err = cuda_gelu_forward(s->fch, s->fch, (size_t)n * 4 * C, 0);
        if (!err)
            err = cuda_decode_matmul(s->x, s->fch, fcprojw.p, fcprojw.bf16, w->fcprojb + lC, s->x, n, 4 * C, C, 0);
    }
    if (!err) err = cuda_layernorm_forward(s->ln, s->mean, s->rstd, s->x + (size_t)r0 * C, w->lnfw, w->lnfb, nl, C, 0);
    if (!err) err = cuda_decode_matmul(s->b.d_logits, s->ln, wte.p, wte.bf16, NULL, NULL, nl, C, Vp, 0);
    return decode_status(err, "GPT-2 forward", e);
}

static int gpt2_prefill(Gpt2Decoder *s, int prefix, const int32_t *tokens, int n, float *logits, Error *e) {
    int rc = decode_prefill_begin(&s->b, prefix, tokens, n, e);
    if (rc) return rc;
    if ((rc = gpt2_forward(s, n, n - 1, 1, e))) return error_wrap(e, "infer_prefill");
    if ((rc = decode_logits_out(&s->b, 1, logits, e))) return rc;
    s->b.plen[prefix] = n;
    return RP_OK;
}

static int gpt2_decode(Gpt2Decoder *s, int n, const int *slots, const int32_t *tokens, float *logits, Error *e) {
    int rc = decode_step_begin(&s->b, n, slots, tokens, e);
    if (rc) return rc;
    if ((rc = gpt2_forward(s, n, 0, n, e))) return error_wrap(e, "infer_decode");
    for (int r = 0; r < n; r++) s->b.slen[slots[r]]++;
    return decode_logits_out(&s->b, n, logits, e);
}

/* ---- the ops ---- */

static int is_llama(Arch a) { return a == ARCH_GEMMA3 || a == ARCH_LLAMA || a == ARCH_QWEN2 || a == ARCH_QWEN3; }

extern "C" size_t cuda_decoder_bytes(const DecoderModel *dm, const DecodePlan *p, int threads) {
    (void)threads;
    if (dm->arch == ARCH_GPT2) return gpt2_bytes(dm->gpt2_dims, p);
    if (is_llama(dm->arch)) return cuda_decoder_llama_bytes(dm->llama_cfg, p);
    return 0; /* cuda_decoder_init says why */
}

extern "C" int cuda_decoder_init(void **dec, const DecoderModel *dm, const DecodePlan *p, Error *e) {
    *dec = NULL;
    if (dm->arch == ARCH_GPT2) return gpt2_init(dec, dm->gpt2, dm->gpt2_dims, p, e);
    if (is_llama(dm->arch)) return cuda_decoder_llama_init(dec, dm->llama, dm->llama_cfg, p, e);
    return error_set(e, RP_EINPUT, "the CUDA decoder cannot decode architecture %d", (int)dm->arch);
}

extern "C" void cuda_decoder_free(void *dec) {
    if (!dec) return;
    if (is_llama(((DecodeBase *)dec)->arch)) cuda_decoder_llama_free(dec);
    else gpt2_free((Gpt2Decoder *)dec);
}

extern "C" int cuda_decoder_prefill(void *dec, int prefix, const int32_t *tokens, int n, float *logits, Error *e) {
    if (is_llama(((DecodeBase *)dec)->arch)) return cuda_decoder_llama_prefill(dec, prefix, tokens, n, logits, e);
    return gpt2_prefill((Gpt2Decoder *)dec, prefix, tokens, n, logits, e);
}

extern "C" void cuda_decoder_attach(void *dec, int slot, int prefix) {
    decode_base_attach((DecodeBase *)dec, slot, prefix);
}

extern "C" int cuda_decoder_decode(void *dec, int n, const int *slots, const int32_t *tokens, float *logits, Error *e) {
    if (is_llama(((DecodeBase *)dec)->arch)) return cuda_decoder_llama_decode(dec, n, slots, tokens, logits, e);
    return gpt2_decode((Gpt2Decoder *)dec, n, slots, tokens, logits, e);
}

/* The step with its logits left on the device (a NULL host buffer), then the choice there. */
extern "C" int cuda_decoder_decode_sample(void *dec, int n, const int *slots, const int32_t *tokens,
                                          const SampleSpec *sp, const double *u, int32_t *next, double *logprob,
                                          Error *e) {
    DecodeBase *b = (DecodeBase *)dec;
    int rc = cuda_decoder_decode(dec, n, slots, tokens, NULL, e);
    if (rc) return rc;
    cudaError_t err = cudaMemcpy(b->d_u, u, (size_t)n * sizeof(double), cudaMemcpyHostToDevice);
    if (err == cudaSuccess)
        err = cuda_sample_rows(b->d_next, b->d_lp, b->d_logits, n, b->V, b->Vp, b->d_u, *sp, b->d_sample_ws,
                               cuda_sample_rows_workspace(b->plan.max_rows, b->Vp), 0);
    if (err == cudaSuccess) err = cudaMemcpy(next, b->d_next, (size_t)n * sizeof(int32_t), cudaMemcpyDeviceToHost);
    if (err == cudaSuccess) err = cudaMemcpy(logprob, b->d_lp, (size_t)n * sizeof(double), cudaMemcpyDeviceToHost);
    return decode_status(err, "sampling on the device", e);
}

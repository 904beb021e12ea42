/* GPT-2 on the CPU kernels: the parameter table, GPT-2 initialisation, the activation plan and
 * the training forward/backward with a per-token loss mask.
 *
 * Memory plan (per (B, T), N = B*T): each layer keeps ln1, qkv, the attention output and its
 * per-row log-sum-exp, the two residual streams, ln2 and the pre-GELU MLP activation; the GELU
 * output is recomputed in the backward instead of stored. The logits buffer [N, Vp] is the only
 * vocabulary-sized buffer: the backward overwrites it with dlogits. Backward scratch (running
 * residual gradient, one [N, C] and two [N, 4C] buffers) is shared by all layers.
 *
 * Batch independence: forward activations and losses of a sequence are the same bits whatever
 * else is in the batch (the kernels work per sequence); weight gradients are sums over the batch
 * in a fixed order. */
#include "model/gpt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "kernels/cpu/ops.h"

enum { ST_NONE, ST_FORWARD, ST_FORWARD_TARGETS, ST_BACKWARD_DONE };

struct GPTActs {
    int B, T;     /* planned capacity */
    size_t cap;   /* B * T */
    float *mem;   /* every float buffer below, one allocation */
    int32_t *inputs, *targets;
    float *mask, *dloss;
    float *encoded, *layers, *lnf, *lnf_mean, *lnf_rstd, *logits, *ce_lse, *losses;
    float *dres, *dln, *dbig, *gbuf;
    int cur_B, cur_T, state;
    double weight_sum; /* sum of the mask over the last forward's rows */
};

/* One layer's activations, laid out at capacity cap inside acts->layers. */
typedef struct {
    float *ln1, *ln1_mean, *ln1_rstd, *qkv, *atty, *att_lse, *res2, *ln2, *ln2_mean, *ln2_rstd, *fch, *res3;
} LayerActs;

static size_t layer_floats(const GPTConfig *c, size_t cap) {
    return cap * (12 * (size_t)c->n_embd + 4 + (size_t)c->n_head);
}

static void layer_acts(const GPT *m, int l, LayerActs *a) {
    size_t cap = m->acts->cap, C = m->cfg.n_embd;
    float *p = m->acts->layers + (size_t)l * layer_floats(&m->cfg, cap);
    a->ln1 = p, p += cap * C;
    a->ln1_mean = p, p += cap;
    a->ln1_rstd = p, p += cap;
    a->qkv = p, p += 3 * cap * C;
    a->atty = p, p += cap * C;
    a->att_lse = p, p += cap * m->cfg.n_head;
    a->res2 = p, p += cap * C;
    a->ln2 = p, p += cap * C;
    a->ln2_mean = p, p += cap;
    a->ln2_rstd = p, p += cap;
    a->fch = p, p += 4 * cap * C;
    a->res3 = p;
}

static const char *const TENSOR_NAMES[GPT_N_TENSORS] = {
    "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"};

const char *gpt_tensor_name(int k) { return k >= 0 && k < GPT_N_TENSORS ? TENSOR_NAMES[k] : NULL; }

/* llm.c decays the matrices (embeddings and the four per-layer weights), not biases or norms. */
int gpt_tensor_decays(int k) { return k == 0 || k == 1 || k == 4 || k == 6 || k == 10 || k == 12; }

int gpt_config_check(GPTConfig *c, Error *e) {
    const struct {
        const char *name;
        int v;
    } f[] = {{"vocab_size", c->vocab_size}, {"n_layer", c->n_layer}, {"n_head", c->n_head},
             {"n_embd", c->n_embd}, {"n_positions", c->n_positions}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v <= 0) return error_set(e, RP_EINPUT, "GPT config: field '%s' is %d, must be positive", f[i].name, f[i].v);
    if (c->n_embd % c->n_head)
        return error_set(e, RP_EINPUT, "GPT config: field 'n_embd' (%d) must be a multiple of 'n_head' (%d)",
                         c->n_embd, c->n_head);
    if (c->vocab_size > INT32_MAX - 128)
        return error_set(e, RP_EINPUT, "GPT config: field 'vocab_size' (%d) is too large", c->vocab_size);
    c->padded_vocab_size = (c->vocab_size + 127) / 128 * 128;
    return RP_OK;
}

/* Shapes in llm.c's order; rows is the embedding row count (Vp for storage, V for FLOP counts). */
static void tensor_shapes(const GPTConfig *c, size_t rows, ParamTensor t[GPT_N_TENSORS]) {
    size_t C = c->n_embd, L = c->n_layer;
    const size_t dims[GPT_N_TENSORS][3] = {
        {rows, C, 0}, {c->n_positions, C, 0}, {L, C, 0},     {L, C, 0},     {L, 3 * C, C}, {L, 3 * C, 0},
        {L, C, C},    {L, C, 0},              {L, C, 0},     {L, C, 0},     {L, 4 * C, C}, {L, 4 * C, 0},
        {L, C, 4 * C}, {L, C, 0},             {C, 0, 0},     {C, 0, 0}};
    size_t off = 0;
    for (int k = 0; k < GPT_N_TENSORS; k++) {
        t[k].offset = off;
        t[k].numel = 1;
        t[k].ndim = 0;
        for (int d = 0; d < 3 && dims[k][d]; d++) {
            t[k].dims[t[k].ndim++] = dims[k][d];
            t[k].numel *= dims[k][d];
        }
        for (int d = t[k].ndim; d < 3; d++) t[k].dims[d] = 0;
        off += t[k].numel;
    }
}

/* 64-byte aligned, zeroed floats (sgemm and the vector loops like aligned rows). */
static float *alloc_floats(size_t n, Error *e) {
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes ? bytes : 64);
    if (!p) {
        error_set(e, RP_ENOMEM, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    memset(p, 0, bytes);
    return p;
}

int gpt_init(GPT *m, const GPTConfig *cfg, Error *e) {
    memset(m, 0, sizeof *m);
    GPTConfig c = *cfg;
    int rc = gpt_config_check(&c, e);
    if (rc) return rc;
    m->cfg = c;
    tensor_shapes(&c, (size_t)c.padded_vocab_size, m->tensors);
    m->n_params = m->tensors[GPT_N_TENSORS - 1].offset + m->tensors[GPT_N_TENSORS - 1].numel;
    m->params = alloc_floats(m->n_params, e);
    m->grads = m->params ? alloc_floats(m->n_params, e) : NULL;
    if (!m->grads) {
        size_t n = m->n_params;
        gpt_free(m);
        return error_wrap(e, "gpt_init (%zu parameters)", n);
    }
    return RP_OK;
}

static void acts_free(struct GPTActs *a) {
    if (!a) return;
    free(a->mem);
    free(a->inputs);
    free(a->targets);
    free(a);
}

void gpt_free(GPT *m) {
    free(m->params);
    free(m->grads);
    acts_free(m->acts);
    memset(m, 0, sizeof *m);
}

void gpt_init_random(GPT *m, uint64_t seed) {
    const GPTConfig *c = &m->cfg;
    const float std_res = 0.02f / sqrtf(2.0f * c->n_layer);
    for (int k = 0; k < GPT_N_TENSORS; k++) {
        const ParamTensor *t = &m->tensors[k];
        float *p = m->params + t->offset;
        int is_norm_weight = k == 2 || k == 8 || k == 14;
        int is_matrix = k == 0 || k == 1 || k == 4 || k == 6 || k == 10 || k == 12;
        float std = (k == 6 || k == 12) ? std_res : 0.02f;
        /* Only the real vocabulary rows of wte are drawn; padding stays zero. */
        size_t n = k == 0 ? (size_t)c->vocab_size * c->n_embd : t->numel;
        if (k == 0) memset(p, 0, t->numel * sizeof(float));
        if (!is_matrix) {
            for (size_t i = 0; i < n; i++) p[i] = is_norm_weight ? 1.0f : 0.0f;
            continue;
        }
        /* Element i takes variate i % 2 of draw (k, i / 2): a function of the index only. */
#pragma omp parallel for schedule(static) if (n > 65536)
        for (size_t q = 0; q < (n + 1) / 2; q++) {
            double z[2];
            rng_hash_normal2(seed, (uint64_t)k, q, z);
            p[2 * q] = std * (float)z[0];
            if (2 * q + 1 < n) p[2 * q + 1] = std * (float)z[1];
        }
    }
}

/* Float count of the activation buffer for capacity cap = B*T (excluding the int arrays). */
static size_t acts_floats(const GPTConfig *c, size_t cap) {
    size_t C = c->n_embd;
    return 2 * cap                                   /* mask, dloss */
           + layer_floats(c, cap) * c->n_layer       /* per-layer activations */
           + cap * C * 2 + cap * 2                   /* encoded, lnf, lnf_mean, lnf_rstd */
           + cap * (size_t)((c->vocab_size + 127) / 128 * 128) /* logits / dlogits, Vp columns */
           + cap * 2                                 /* ce_lse, losses */
           + cap * C * 2 + cap * C * 4 * 2;          /* dres, dln, dbig, gbuf */
}

size_t gpt_activation_bytes(const GPTConfig *c, int B, int T) {
    size_t cap = (size_t)B * T;
    return acts_floats(c, cap) * sizeof(float) + 2 * cap * sizeof(int32_t);
}

int gpt_plan(GPT *m, int B, int T, Error *e) {
    if (B <= 0 || T <= 0) return error_set(e, RP_EINPUT, "gpt_plan: batch %d x %d must be positive", B, T);
    if (T > m->cfg.n_positions)
        return error_set(e, RP_EINPUT, "gpt_plan: sequence length %d exceeds the model's n_positions %d", T,
                         m->cfg.n_positions);
    if (m->acts && m->acts->B == B && m->acts->T == T) return RP_OK;
    acts_free(m->acts);
    m->acts = NULL;
    m->B = m->T = 0;
    struct GPTActs *a = xcalloc(1, sizeof *a, e);
    if (!a) return error_wrap(e, "gpt_plan");
    size_t cap = (size_t)B * T, C = m->cfg.n_embd;
    a->B = B, a->T = T, a->cap = cap;
    a->mem = alloc_floats(acts_floats(&m->cfg, cap), e);
    a->inputs = a->mem ? xcalloc(cap, sizeof(int32_t), e) : NULL;
    a->targets = a->inputs ? xcalloc(cap, sizeof(int32_t), e) : NULL;
    if (!a->targets) {
        acts_free(a);
        return error_wrap(e, "gpt_plan (batch %d x %d, %zu bytes)", B, T, gpt_activation_bytes(&m->cfg, B, T));
    }
    float *p = a->mem;
    a->mask = p, p += cap;
    a->dloss = p, p += cap;
    a->layers = p, p += layer_floats(&m->cfg, cap) * m->cfg.n_layer;
    a->encoded = p, p += cap * C;
    a->lnf = p, p += cap * C;
    a->lnf_mean = p, p += cap;
    a->lnf_rstd = p, p += cap;
    a->logits = p, p += cap * (size_t)m->cfg.padded_vocab_size;
    a->ce_lse = p, p += cap;
    a->losses = p, p += cap;
    a->dres = p, p += cap * C;
    a->dln = p, p += cap * C;
    a->dbig = p, p += 4 * cap * C;
    a->gbuf = p;
    m->acts = a;
    m->B = B, m->T = T;
    return RP_OK;
}

/* Checks and copies the batch so backward does not depend on the caller's buffers. */
static int load_batch(GPT *m, const int32_t *inputs, const int32_t *targets, const float *mask, int B, int T,
                      Error *e) {
    struct GPTActs *a = m->acts;
    int V = m->cfg.vocab_size;
    double wsum = 0.0;
    for (int i = 0; i < B * T; i++) {
        if (inputs[i] < 0 || inputs[i] >= V)
            return error_set(e, RP_EINPUT, "gpt_forward: field 'inputs' [%d][%d] = %d is not a token id (vocabulary %d)",
                             i / T, i % T, inputs[i], V);
        float w = mask ? mask[i] : 1.0f;
        if (!(w >= 0.0f) || isinf(w))
            return error_set(e, RP_EINPUT, "gpt_forward: field 'mask' [%d][%d] = %g must be finite and >= 0", i / T,
                             i % T, (double)w);
        if (targets && w != 0.0f && (targets[i] < 0 || targets[i] >= V))
            return error_set(e, RP_EINPUT,
                             "gpt_forward: field 'targets' [%d][%d] = %d is not a token id (vocabulary %d)", i / T,
                             i % T, targets[i], V);
        a->inputs[i] = inputs[i];
        /* Unmasked targets may hold any placeholder; store a valid id so no kernel indexes with it. */
        a->targets[i] = targets && w != 0.0f ? targets[i] : 0;
        a->mask[i] = w;
        wsum += w;
    }
    a->weight_sum = wsum;
    return RP_OK;
}

int gpt_forward(GPT *m, const int32_t *inputs, const int32_t *targets, const float *mask, int B, int T, float *loss,
                Error *e) {
    struct GPTActs *a = m->acts;
    if (!a) return error_set(e, RP_EINTERNAL, "gpt_forward: gpt_plan was not called");
    if (B <= 0 || T <= 0 || B > a->B || T > a->T)
        return error_set(e, RP_EINPUT, "gpt_forward: batch %d x %d does not fit the planned %d x %d", B, T, a->B,
                         a->T);
    a->state = ST_NONE;
    int rc = load_batch(m, inputs, targets, mask, B, T, e);
    if (rc) return rc;
    const GPTConfig *c = &m->cfg;
    const int N = B * T, C = c->n_embd, NH = c->n_head, Vp = c->padded_vocab_size;
    const ParamTensor *t = m->tensors;
    const float *P = m->params;
    encoder_forward(a->encoded, a->inputs, P + t[0].offset, P + t[1].offset, B, T, C);
    const float *res = a->encoded;
    for (int l = 0; l < c->n_layer; l++) {
        LayerActs la;
        layer_acts(m, l, &la);
        size_t lC = (size_t)l * C;
        layernorm_forward(la.ln1, la.ln1_mean, la.ln1_rstd, res, P + t[2].offset + lC, P + t[3].offset + lC, N, C);
        matmul_forward(la.qkv, la.ln1, P + t[4].offset + lC * 3 * C, P + t[5].offset + lC * 3, NULL, B, T, C, 3 * C);
        rc = attention_forward(la.atty, la.att_lse, la.qkv, B, T, C, NH, e);
        if (rc) return error_wrap(e, "gpt_forward layer %d", l);
        matmul_forward(la.res2, la.atty, P + t[6].offset + lC * C, P + t[7].offset + lC, res, B, T, C, C);
        layernorm_forward(la.ln2, la.ln2_mean, la.ln2_rstd, la.res2, P + t[8].offset + lC, P + t[9].offset + lC, N,
                          C);
        matmul_forward(la.fch, la.ln2, P + t[10].offset + lC * 4 * C, P + t[11].offset + lC * 4, NULL, B, T, C, 4 * C);
        gelu_forward(a->gbuf, la.fch, (size_t)N * 4 * C);
        matmul_forward(la.res3, a->gbuf, P + t[12].offset + lC * 4 * C, P + t[13].offset + lC, la.res2, B, T, 4 * C, C);
        res = la.res3;
    }
    layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, res, P + t[14].offset, P + t[15].offset, N, C);
    matmul_forward(a->logits, a->lnf, P + t[0].offset, NULL, NULL, B, T, C, Vp);
    a->cur_B = B, a->cur_T = T;
    a->state = ST_FORWARD;
    if (!targets) return RP_OK;
    crossentropy_forward(a->losses, a->ce_lse, a->logits, a->targets, a->mask, N, c->vocab_size, Vp);
    double sum = 0.0;
    for (int i = 0; i < N; i++) sum += (double)a->mask[i] * a->losses[i];
    m->mean_loss = a->weight_sum > 0.0 ? (float)(sum / a->weight_sum) : 0.0f;
    if (loss) *loss = m->mean_loss;
    a->state = ST_FORWARD_TARGETS;
    return RP_OK;
}

/* Backward through logits = lnf @ wte^T, from dlogits in the logits buffer into dln and the wte
 * gradient. Rows without loss weight have zero dlogits; when there are such rows (fine-tuning,
 * where only target tokens carry loss), the weighted rows are packed together first so neither
 * sgemm spends time on zeros. */
static void lm_head_backward(GPT *m, int B, int T) {
    struct GPTActs *a = m->acts;
    const int N = B * T, C = m->cfg.n_embd, Vp = m->cfg.padded_vocab_size;
    const float *wte = m->params + m->tensors[0].offset;
    float *dwte = m->grads + m->tensors[0].offset;
    int M = 0;
    for (int i = 0; i < N; i++) M += a->dloss[i] != 0.0f;
    if (M == N) {
        matmul_backward(a->dln, dwte, NULL, a->logits, a->lnf, wte, B, T, C, Vp, 0);
        return;
    }
    /* Packed rows k < i move down in order, so no source is overwritten before it is read. The
     * [N, 4C] scratch buffers are free until the layer loop. */
    float *lnf_packed = a->gbuf, *dln_packed = a->dbig;
    for (int i = 0, k = 0; i < N; i++)
        if (a->dloss[i] != 0.0f) {
            if (k != i) memcpy(a->logits + (size_t)k * Vp, a->logits + (size_t)i * Vp, sizeof(float) * Vp);
            memcpy(lnf_packed + (size_t)k * C, a->lnf + (size_t)i * C, sizeof(float) * C);
            k++;
        }
    if (M > 0) matmul_backward(dln_packed, dwte, NULL, a->logits, lnf_packed, wte, 1, M, C, Vp, 0);
    for (int i = 0, k = 0; i < N; i++) {
        float *d = a->dln + (size_t)i * C;
        if (a->dloss[i] != 0.0f) memcpy(d, dln_packed + (size_t)(k++) * C, sizeof(float) * C);
        else memset(d, 0, sizeof(float) * C);
    }
}

int gpt_backward(GPT *m, float loss_scale, Error *e) {
    struct GPTActs *a = m->acts;
    if (!a || a->state != ST_FORWARD_TARGETS)
        return error_set(e, RP_EINTERNAL, "gpt_backward: needs a gpt_forward with targets since the last backward");
    a->state = ST_BACKWARD_DONE;
    /* No weighted position: the loss is the constant 0 and its gradient adds nothing. */
    if (!(a->weight_sum > 0.0) || loss_scale == 0.0f) return RP_OK;
    const GPTConfig *c = &m->cfg;
    const int B = a->cur_B, T = a->cur_T, N = B * T, C = c->n_embd, NH = c->n_head, Vp = c->padded_vocab_size;
    const ParamTensor *t = m->tensors;
    const float *P = m->params;
    float *G = m->grads;
    for (int i = 0; i < N; i++) a->dloss[i] = (float)(loss_scale * a->mask[i] / a->weight_sum);
    crossentropy_backward(a->logits, a->ce_lse, a->targets, a->dloss, N, c->vocab_size, Vp);
    lm_head_backward(m, B, T);
    LayerActs la;
    layer_acts(m, c->n_layer - 1, &la);
    memset(a->dres, 0, sizeof(float) * N * C);
    layernorm_backward(a->dres, G + t[14].offset, G + t[15].offset, a->dln, la.res3, P + t[14].offset, a->lnf_mean,
                       a->lnf_rstd, N, C);
    for (int l = c->n_layer - 1; l >= 0; l--) {
        layer_acts(m, l, &la);
        const float *res_in = a->encoded;
        if (l > 0) {
            LayerActs prev;
            layer_acts(m, l - 1, &prev);
            res_in = prev.res3;
        }
        size_t lC = (size_t)l * C;
        gelu_forward(a->gbuf, la.fch, (size_t)N * 4 * C);
        matmul_backward(a->dbig, G + t[12].offset + lC * 4 * C, G + t[13].offset + lC, a->dres, a->gbuf,
                        P + t[12].offset + lC * 4 * C, B, T, 4 * C, C, 0);
        gelu_backward(a->dbig, la.fch, a->dbig, (size_t)N * 4 * C);
        matmul_backward(a->dln, G + t[10].offset + lC * 4 * C, G + t[11].offset + lC * 4, a->dbig, la.ln2,
                        P + t[10].offset + lC * 4 * C, B, T, C, 4 * C, 0);
        layernorm_backward(a->dres, G + t[8].offset + lC, G + t[9].offset + lC, a->dln, la.res2, P + t[8].offset + lC,
                           la.ln2_mean, la.ln2_rstd, N, C);
        /* dln now carries d(attention output), dbig d(qkv). */
        matmul_backward(a->dln, G + t[6].offset + lC * C, G + t[7].offset + lC, a->dres, la.atty,
                        P + t[6].offset + lC * C, B, T, C, C, 0);
        int rc = attention_backward(a->dbig, a->dln, la.qkv, la.atty, la.att_lse, B, T, C, NH, e);
        if (rc) return error_wrap(e, "gpt_backward layer %d", l);
        matmul_backward(a->dln, G + t[4].offset + lC * 3 * C, G + t[5].offset + lC * 3, a->dbig, la.ln1,
                        P + t[4].offset + lC * 3 * C, B, T, C, 3 * C, 0);
        layernorm_backward(a->dres, G + t[2].offset + lC, G + t[3].offset + lC, a->dln, res_in, P + t[2].offset + lC,
                           la.ln1_mean, la.ln1_rstd, N, C);
    }
    encoder_backward(G + t[0].offset, G + t[1].offset, a->dres, a->inputs, B, T, C);
    return RP_OK;
}

void gpt_zero_grad(GPT *m) {
    size_t n = m->n_params, block = 1 << 20, nblocks = (n + block - 1) / block;
#pragma omp parallel for schedule(static)
    for (size_t b = 0; b < nblocks; b++) {
        size_t i0 = b * block;
        memset(m->grads + i0, 0, sizeof(float) * (n - i0 < block ? n - i0 : block));
    }
}

const float *gpt_logits(const GPT *m) { return m->acts ? m->acts->logits : NULL; }

const float *gpt_token_losses(const GPT *m) { return m->acts ? m->acts->losses : NULL; }

double gpt_flops_per_token(const GPTConfig *c, int T) {
    ParamTensor t[GPT_N_TENSORS];
    tensor_shapes(c, (size_t)c->vocab_size, t);
    double params = 0.0;
    for (int k = 0; k < GPT_N_TENSORS; k++)
        if (k != 1) params += (double)t[k].numel;
    return 6.0 * params + 12.0 * c->n_layer * (double)c->n_embd * T;
}

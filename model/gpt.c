/* GPT-2 on the selected backend: the parameter table, GPT-2 initialisation, the activation plan,
 * the training forward/backward with a per-token loss mask, and the AdamW step.
 *
 * Memory plan (per (B, T), N = B*T): each layer keeps ln1, qkv, the attention output and its
 * per-row log-sum-exp, the two residual streams, ln2 and the pre-GELU MLP activation; the GELU
 * output is recomputed in the backward instead of stored. The logits buffer [N, Vp] is the only
 * vocabulary-sized buffer: the backward overwrites it with dlogits. Backward scratch (running
 * residual gradient, one [N, C] and two [N, 4C] buffers) is shared by all layers. With the loss
 * chunked over the vocabulary (gpt_set_vocab_chunk, model/vocab_chunk.h) that buffer holds one
 * chunk's logits [N, Vc] and the loss's running statistics instead.
 *
 * With recomputation (gpt_set_recompute) each layer keeps only its output stream (the next
 * layer's input, [N, C]) and all layers share one set of the other buffers: the backward re-runs
 * layer l's forward (layer_forward, the forward's own code) from its input before layer l's
 * backward. The kernels are deterministic, so every result is bitwise the same as without.
 *
 * Batch independence: forward activations and losses of a sequence are the same bits whatever
 * else is in the batch (the kernels work per sequence); weight gradients are sums over the batch
 * in a fixed order. */
#include "model/gpt.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "model/tokens.h"
#include "model/vocab_chunk.h"

enum { ST_NONE, ST_FORWARD, ST_FORWARD_TARGETS, ST_BACKWARD_DONE };

struct GPTActs {
    int B, T;     /* planned capacity */
    size_t cap;   /* B * T */
    float *mem;   /* every float buffer below, one device allocation */
    TokenBatch tok;             /* staged batch, loss weights, per-token losses (model/tokens.h) */
    float *encoded, *layers, *outs, *lnf, *lnf_mean, *lnf_rstd, *logits, *ce_lse, *losses;
    float *dres, *dln, *dbig, *gbuf;
    void *attn_ws;              /* the attention ops' scratch */
    size_t attn_ws_bytes;
    int recompute;              /* layers holds one layer's buffers, refilled by the backward */
    int vchunk;                 /* columns per vocabulary chunk (vchunk_cols), 0: logits holds [N, Vp] */
    int cur_B, cur_T, state;
};

/* One layer's activations at capacity cap: res3 (its output) in acts->outs, the rest in
 * acts->layers (one set per layer, or one shared set with recomputation). */
typedef struct {
    float *ln1, *ln1_mean, *ln1_rstd, *qkv, *atty, *att_lse, *res2, *ln2, *ln2_mean, *ln2_rstd, *fch, *res3;
} LayerActs;

/* Floats of one layer's activations besides its output. */
static size_t layer_floats(const GPTConfig *c, size_t cap) {
    return cap * (11 * (size_t)c->n_embd + 4 + (size_t)c->n_head);
}

static void layer_acts(const GPT *m, int l, LayerActs *a) {
    size_t cap = m->acts->cap, C = m->cfg.n_embd;
    float *p = m->acts->layers + (m->acts->recompute ? 0 : (size_t)l) * layer_floats(&m->cfg, cap);
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
    a->fch = p;
    a->res3 = m->acts->outs + (size_t)l * cap * C;
}

/* The residual stream entering layer l: the embeddings, or layer l - 1's output. */
static const float *layer_input(const GPT *m, int l) {
    return l == 0 ? m->acts->encoded : m->acts->outs + (size_t)(l - 1) * m->acts->cap * m->cfg.n_embd;
}

#define F(x) offsetof(GPT2Tensors, x)
/* llm.c's order. Decay: the embeddings and the four per-layer matrices. Init: GPT-2's N(0, 0.02),
 * the residual projections N(0, 0.02/sqrt(2L)), LayerNorm weights 1, biases 0. */
static const GPTTensorInfo TENSORS[GPT_N_TENSORS] = {
    {"wte", F(wte), 1, 0, GPT_INIT_NORMAL, "transformer.wte.weight", 0},
    {"wpe", F(wpe), 1, 0, GPT_INIT_NORMAL, "transformer.wpe.weight", 0},
    {"ln1w", F(ln1w), 0, 1, GPT_INIT_ONE, "ln_1.weight", 0},
    {"ln1b", F(ln1b), 0, 1, GPT_INIT_ZERO, "ln_1.bias", 0},
    {"qkvw", F(qkvw), 1, 1, GPT_INIT_NORMAL, "attn.c_attn.weight", 1},
    {"qkvb", F(qkvb), 0, 1, GPT_INIT_ZERO, "attn.c_attn.bias", 0},
    {"attprojw", F(attprojw), 1, 1, GPT_INIT_NORMAL_RESID, "attn.c_proj.weight", 1},
    {"attprojb", F(attprojb), 0, 1, GPT_INIT_ZERO, "attn.c_proj.bias", 0},
    {"ln2w", F(ln2w), 0, 1, GPT_INIT_ONE, "ln_2.weight", 0},
    {"ln2b", F(ln2b), 0, 1, GPT_INIT_ZERO, "ln_2.bias", 0},
    {"fcw", F(fcw), 1, 1, GPT_INIT_NORMAL, "mlp.c_fc.weight", 1},
    {"fcb", F(fcb), 0, 1, GPT_INIT_ZERO, "mlp.c_fc.bias", 0},
    {"fcprojw", F(fcprojw), 1, 1, GPT_INIT_NORMAL_RESID, "mlp.c_proj.weight", 1},
    {"fcprojb", F(fcprojb), 0, 1, GPT_INIT_ZERO, "mlp.c_proj.bias", 0},
    {"lnfw", F(lnfw), 0, 0, GPT_INIT_ONE, "transformer.ln_f.weight", 0},
    {"lnfb", F(lnfb), 0, 0, GPT_INIT_ZERO, "transformer.ln_f.bias", 0},
};
#undef F

const GPTTensorInfo *gpt_tensor_info(int k) { return k >= 0 && k < GPT_N_TENSORS ? &TENSORS[k] : NULL; }

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

void gpt_tensor_hf_name(int k, int l, char *buf, size_t n, int *transposed) {
    const GPTTensorInfo *t = gpt_tensor_info(k);
    *transposed = t->hf_transposed;
    if (t->layered) snprintf(buf, n, "transformer.h.%d.%s", l, t->hf);
    else snprintf(buf, n, "%s", t->hf);
}

/* Shapes in llm.c's order; rows is the embedding row count (Vp for storage, V for FLOP counts). */
static void tensor_dims(const GPTConfig *c, size_t rows, size_t dims[GPT_N_TENSORS][3]) {
    size_t C = c->n_embd, L = c->n_layer;
    const size_t d[GPT_N_TENSORS][3] = {
        {rows, C, 0}, {c->n_positions, C, 0}, {L, C, 0},     {L, C, 0},     {L, 3 * C, C}, {L, 3 * C, 0},
        {L, C, C},    {L, C, 0},              {L, C, 0},     {L, C, 0},     {L, 4 * C, C}, {L, 4 * C, 0},
        {L, C, 4 * C}, {L, C, 0},             {C, 0, 0},     {C, 0, 0}};
    memcpy(dims, d, sizeof d);
}

int gpt_init(GPT *m, const GPTConfig *cfg, Error *e) {
    memset(m, 0, sizeof *m);
    GPTConfig c = *cfg;
    int rc = gpt_config_check(&c, e);
    if (rc) return rc;
    m->cfg = c;
    size_t dims[GPT_N_TENSORS][3];
    tensor_dims(&c, (size_t)c.padded_vocab_size, dims);
    ParamTable table = {&TENSORS[0].field, &TENSORS[0].decays, sizeof TENSORS[0], {&m->params, &m->grads, &m->opt_m, &m->opt_v},
                        &TENSORS[0].layered};
    rc = params_init(&m->store, (const size_t(*)[3])dims, GPT_N_TENSORS, &table, e);
    return rc ? error_wrap(e, "gpt_init") : RP_OK;
}

static void acts_free(const Backend *be, struct GPTActs *a) {
    if (!a) return;
    be->ops->free(a->mem);
    be->ops->free(a->attn_ws);
    tokens_free(&a->tok, be);
    free(a);
}

void gpt_free(GPT *m) {
    if (m->store.be) acts_free(m->store.be, m->acts);
    params_free(&m->store);
    memset(m, 0, sizeof *m);
}

/* Element i of a matrix takes variate i % 2 of draw (k, i / 2): a function of the index only.
 * Tensors are drawn on the host and uploaded. */
int gpt_init_random(GPT *m, uint64_t seed, Error *e) {
    const GPTConfig *c = &m->cfg;
    const float std_res = 0.02f / sqrtf(2.0f * c->n_layer);
    float *p = xmalloc(params_largest(&m->store) * sizeof(float), e);
    if (!p) return RP_ENOMEM;
    int rc = RP_OK;
    for (int k = 0; k < GPT_N_TENSORS && !rc; k++) {
        const ParamTensor *t = &m->store.t[k];
        GPTInit init = TENSORS[k].init;
        float std = init == GPT_INIT_NORMAL_RESID ? std_res : 0.02f;
        /* Only the real vocabulary rows of wte are drawn; padding stays zero. */
        size_t n = k == 0 ? (size_t)c->vocab_size * c->n_embd : t->numel;
        memset(p, 0, t->numel * sizeof(float));
        if (init == GPT_INIT_ONE || init == GPT_INIT_ZERO) {
            for (size_t i = 0; i < n; i++) p[i] = init == GPT_INIT_ONE ? 1.0f : 0.0f;
        } else {
#pragma omp parallel for schedule(static) if (n > 65536)
            for (size_t q = 0; q < (n + 1) / 2; q++) {
                double z[2];
                rng_hash_normal2(seed, (uint64_t)k, q, z);
                p[2 * q] = std * (float)z[0];
                if (2 * q + 1 < n) p[2 * q + 1] = std * (float)z[1];
            }
        }
        rc = params_tensor_upload(&m->store, 'p', k, p, e);
    }
    free(p);
    return rc;
}

/* Float count of the activation buffer for capacity cap = B*T (excluding the int arrays). */
static size_t acts_floats(const GPTConfig *c, size_t cap, int recompute, int vocab_chunk) {
    size_t C = c->n_embd;
    int Vp = (c->vocab_size + 127) / 128 * 128;
    return 2 * cap                                   /* mask, dloss */
           + layer_floats(c, cap) * (recompute ? 1 : (size_t)c->n_layer) /* layer activations */
           + cap * C * c->n_layer                    /* layer outputs */
           + cap * C * 2 + cap * 2                   /* encoded, lnf, lnf_mean, lnf_rstd */
           + cap * vchunk_row_floats(vchunk_cols(vocab_chunk, c->vocab_size), Vp) /* logits / dlogits */
           + cap * 2                                 /* ce_lse, losses */
           + cap * C * 2 + cap * C * 4 * 2;          /* dres, dln, dbig, gbuf */
}

size_t gpt_activation_bytes(const GPTConfig *c, int B, int T, int recompute, int vocab_chunk) {
    size_t cap = (size_t)B * T;
    return acts_floats(c, cap, recompute, vocab_chunk) * sizeof(float) + 2 * cap * sizeof(int32_t) +
           backend_get()->ops->attention_workspace(T);
}

void gpt_set_recompute(GPT *m, int on) { m->recompute = on != 0; }

void gpt_set_vocab_chunk(GPT *m, int cols) { m->vocab_chunk = cols > 0 ? cols : 0; }

int gpt_plan(GPT *m, int B, int T, Error *e) {
    if (B <= 0 || T <= 0) return error_set(e, RP_EINPUT, "gpt_plan: batch %d x %d must be positive", B, T);
    if (T > m->cfg.n_positions)
        return error_set(e, RP_EINPUT, "gpt_plan: sequence length %d exceeds the model's n_positions %d", T,
                         m->cfg.n_positions);
    const BackendOps *op = m->store.be->ops;
    int vchunk = vchunk_cols(m->vocab_chunk, m->cfg.vocab_size);
    if (m->acts && m->acts->B == B && m->acts->T == T && m->acts->recompute == m->recompute &&
        m->acts->vchunk == vchunk && m->acts->attn_ws_bytes >= op->attention_workspace(T))
        return RP_OK;
    acts_free(m->store.be, m->acts);
    m->acts = NULL;
    m->B = m->T = 0;
    struct GPTActs *a = xcalloc(1, sizeof *a, e);
    if (!a) return error_wrap(e, "gpt_plan");
    size_t cap = (size_t)B * T, C = m->cfg.n_embd;
    a->B = B, a->T = T, a->cap = cap, a->recompute = m->recompute, a->vchunk = vchunk;
    a->attn_ws_bytes = op->attention_workspace(T);
    int rc = op->alloc(acts_floats(&m->cfg, cap, a->recompute, m->vocab_chunk) * sizeof(float), (void **)&a->mem, e);
    if (!rc) rc = tokens_alloc(&a->tok, m->store.be, cap, e);
    if (!rc) rc = op->alloc(a->attn_ws_bytes, &a->attn_ws, e);
    if (rc) {
        acts_free(m->store.be, a);
        return error_wrap(e, "gpt_plan (batch %d x %d, %zu bytes)", B, T,
                          gpt_activation_bytes(&m->cfg, B, T, m->recompute, m->vocab_chunk));
    }
    float *p = a->mem;
    a->tok.mask = p, p += cap;
    a->tok.dloss = p, p += cap;
    a->layers = p, p += layer_floats(&m->cfg, cap) * (a->recompute ? 1 : (size_t)m->cfg.n_layer);
    a->outs = p, p += cap * C * m->cfg.n_layer;
    a->encoded = p, p += cap * C;
    a->lnf = p, p += cap * C;
    a->lnf_mean = p, p += cap;
    a->lnf_rstd = p, p += cap;
    a->logits = p, p += cap * vchunk_row_floats(vchunk, m->cfg.padded_vocab_size);
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


/* Runs the backend op call `x`, returning its status from the enclosing function on failure. */
#define OP(x)                                                                                                          \
    do {                                                                                                               \
        int op_rc_ = (x);                                                                                              \
        if (op_rc_) return op_rc_;                                                                                     \
    } while (0)

/* Layer l's forward on the current batch, from layer_input(l) into layer_acts(l). Layer l's
 * backward reads all it writes except the GELU output (recomputed there) and res3 (the next
 * layer's input, kept in outs); with tail 0, for the backward's recomputation, the layer stops
 * before those two (the GELU and the MLP's output matmul), leaving res3 as it is. */
static int layer_forward(GPT *m, int l, int tail, Error *e) {
    struct GPTActs *a = m->acts;
    const BackendOps *op = m->store.be->ops;
    const int B = a->cur_B, T = a->cur_T, N = B * T, C = m->cfg.n_embd, NH = m->cfg.n_head;
    const GPT2Tensors *P = &m->params;
    const float *res = layer_input(m, l);
    LayerActs la;
    layer_acts(m, l, &la);
    size_t lC = (size_t)l * C;
    OP(op->layernorm_forward(la.ln1, la.ln1_mean, la.ln1_rstd, res, P->ln1w + lC, P->ln1b + lC, N, C, e));
    OP(op->matmul_forward(la.qkv, la.ln1, P->qkvw + lC * 3 * C, P->qkvb + lC * 3, NULL, B, T, C, 3 * C, e));
    if (op->attention_forward(la.atty, la.att_lse, la.qkv, B, T, C, NH, a->attn_ws, a->attn_ws_bytes, e))
        return error_wrap(e, "gpt_forward layer %d", l);
    OP(op->matmul_forward(la.res2, la.atty, P->attprojw + lC * C, P->attprojb + lC, res, B, T, C, C, e));
    OP(op->layernorm_forward(la.ln2, la.ln2_mean, la.ln2_rstd, la.res2, P->ln2w + lC, P->ln2b + lC, N, C, e));
    OP(op->matmul_forward(la.fch, la.ln2, P->fcw + lC * 4 * C, P->fcb + lC * 4, NULL, B, T, C, 4 * C, e));
    if (!tail) return RP_OK;
    OP(op->gelu_forward(a->gbuf, la.fch, (size_t)N * 4 * C, e));
    return op->matmul_forward(la.res3, a->gbuf, P->fcprojw + lC * 4 * C, P->fcprojb + lC, la.res2, B, T, 4 * C, C, e);
}

int gpt_forward(GPT *m, const int32_t *inputs, const int32_t *targets, const float *mask, int B, int T, float *loss,
                Error *e) {
    struct GPTActs *a = m->acts;
    if (!a) return error_set(e, RP_EINTERNAL, "gpt_forward: gpt_plan was not called");
    if (B <= 0 || T <= 0 || B > a->B || T > a->T)
        return error_set(e, RP_EINPUT, "gpt_forward: batch %d x %d does not fit the planned %d x %d", B, T, a->B,
                         a->T);
    a->state = ST_NONE;
    OP(tokens_stage(&a->tok, m->store.be, inputs, targets, mask, B, T, m->cfg.vocab_size, "gpt_forward", e));
    const BackendOps *op = m->store.be->ops;
    const GPTConfig *c = &m->cfg;
    const int N = B * T, C = c->n_embd, Vp = c->padded_vocab_size;
    const GPT2Tensors *P = &m->params;
    a->cur_B = B, a->cur_T = T;
    OP(op->encoder_forward(a->encoded, a->tok.inputs, P->wte, P->wpe, B, T, C, e));
    for (int l = 0; l < c->n_layer; l++) OP(layer_forward(m, l, 1, e));
    OP(op->layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, layer_input(m, c->n_layer), P->lnfw, P->lnfb, N, C, e));
    /* Chunked over the vocabulary, no whole logits are formed: a forward without targets stops
     * at lnf (gpt_logits_download refuses). */
    if (!a->vchunk) OP(op->matmul_forward(a->logits, a->lnf, P->wte, NULL, NULL, B, T, C, Vp, e));
    a->state = ST_FORWARD;
    if (!targets) return RP_OK;
    if (a->vchunk)
        OP(vchunk_forward(op, a->losses, a->ce_lse, a->logits, a->lnf, P->wte, a->tok.targets, a->tok.mask, B, T, C,
                          c->vocab_size, a->vchunk, e));
    else
        OP(op->crossentropy_forward(a->losses, a->ce_lse, a->logits, a->tok.targets, a->tok.mask, N, c->vocab_size, Vp,
                                    e));
    OP(tokens_mean_loss(&a->tok, m->store.be, a->losses, N, &m->mean_loss, e));
    if (loss) *loss = m->mean_loss;
    a->state = ST_FORWARD_TARGETS;
    return RP_OK;
}

int gpt_backward(GPT *m, float loss_scale, Error *e) {
    struct GPTActs *a = m->acts;
    if (!a || a->state != ST_FORWARD_TARGETS)
        return error_set(e, RP_EINTERNAL, "gpt_backward: needs a gpt_forward with targets since the last backward");
    a->state = ST_BACKWARD_DONE;
    OP(params_grads(&m->store, NULL, e)); /* a model's first backward allocates its gradients */
    /* No weighted position: the loss is the constant 0 and its gradient adds nothing. */
    if (!(a->tok.weight_sum > 0.0) || loss_scale == 0.0f) return RP_OK;
    const BackendOps *op = m->store.be->ops;
    const GPTConfig *c = &m->cfg;
    const int B = a->cur_B, T = a->cur_T, N = B * T, C = c->n_embd, NH = c->n_head, Vp = c->padded_vocab_size;
    const GPT2Tensors *P = &m->params, *G = &m->grads;
    OP(tokens_dloss(&a->tok, m->store.be, loss_scale, N, e));
    /* The [N, 4C] scratch buffers are free until the layer loop. */
    if (a->vchunk) {
        OP(vchunk_backward(op, a->dln, G->wte, a->logits, a->gbuf, a->lnf, P->wte, &a->tok, a->ce_lse, B, T, C,
                           c->vocab_size, a->vchunk, e));
    } else {
        OP(op->crossentropy_backward(a->logits, a->ce_lse, a->tok.targets, a->tok.dloss, N, c->vocab_size, Vp, e));
        OP(op->lmhead_backward(a->dln, G->wte, a->logits, a->lnf, P->wte, a->tok.dloss, B, T, C, Vp, a->gbuf, e));
    }
    OP(op->zero(a->dres, sizeof(float) * N * C, e));
    OP(op->layernorm_backward(a->dres, G->lnfw, G->lnfb, a->dln, layer_input(m, c->n_layer), P->lnfw, a->lnf_mean,
                              a->lnf_rstd, N, C, e));
    for (int l = c->n_layer - 1; l >= 0; l--) {
        /* With recomputation the shared buffers hold the top layer's activations from the forward;
         * every other layer is re-run from its input (writing no scratch the backward holds). */
        if (a->recompute && l < c->n_layer - 1 && layer_forward(m, l, 0, e))
            return error_wrap(e, "gpt_backward recomputing layer %d", l);
        LayerActs la;
        layer_acts(m, l, &la);
        const float *res_in = layer_input(m, l);
        size_t lC = (size_t)l * C;
        OP(op->gelu_forward(a->gbuf, la.fch, (size_t)N * 4 * C, e));
        OP(op->matmul_backward(a->dbig, G->fcprojw + lC * 4 * C, G->fcprojb + lC, a->dres, a->gbuf,
                               P->fcprojw + lC * 4 * C, B, T, 4 * C, C, 0, e));
        OP(op->gelu_backward(a->dbig, la.fch, a->dbig, (size_t)N * 4 * C, e));
        OP(op->matmul_backward(a->dln, G->fcw + lC * 4 * C, G->fcb + lC * 4, a->dbig, la.ln2, P->fcw + lC * 4 * C, B, T,
                               C, 4 * C, 0, e));
        OP(op->layernorm_backward(a->dres, G->ln2w + lC, G->ln2b + lC, a->dln, la.res2, P->ln2w + lC, la.ln2_mean,
                                  la.ln2_rstd, N, C, e));
        /* dln now carries d(attention output), dbig d(qkv). */
        OP(op->matmul_backward(a->dln, G->attprojw + lC * C, G->attprojb + lC, a->dres, la.atty, P->attprojw + lC * C, B,
                               T, C, C, 0, e));
        if (op->attention_backward(a->dbig, a->dln, la.qkv, la.atty, la.att_lse, B, T, C, NH, a->attn_ws,
                                   a->attn_ws_bytes, e))
            return error_wrap(e, "gpt_backward layer %d", l);
        OP(op->matmul_backward(a->dln, G->qkvw + lC * 3 * C, G->qkvb + lC * 3, a->dbig, la.ln1, P->qkvw + lC * 3 * C, B,
                               T, C, 3 * C, 0, e));
        OP(op->layernorm_backward(a->dres, G->ln1w + lC, G->ln1b + lC, a->dln, res_in, P->ln1w + lC, la.ln1_mean,
                                  la.ln1_rstd, N, C, e));
        OP(params_grad_ready(&m->store, l, e)); /* layer l's gradients are final (the hook, model.h) */
    }
    OP(op->encoder_backward(G->wte, G->wpe, a->dres, a->tok.inputs, B, T, C, e));
    return params_grad_ready(&m->store, PARAMS_REST, e);
}


int gpt_logits_download(const GPT *m, int row0, int n, float *host, Error *e) {
    const struct GPTActs *a = m->acts;
    if (a && a->vchunk)
        return error_set(e, RP_EINPUT,
                         "gpt_logits_download: the loss is chunked over the vocabulary (%d columns at a time), so no "
                         "whole logits are kept; plan with vocab_chunk 0 to read them",
                         a->vchunk);
    if (!a || a->state == ST_NONE || a->state == ST_BACKWARD_DONE || row0 < 0 || n < 0 ||
        row0 + n > a->cur_B * a->cur_T)
        return error_set(e, RP_EINTERNAL, "gpt_logits_download: rows %d..%d of the last forward are not available", row0,
                         row0 + n);
    size_t Vp = (size_t)m->cfg.padded_vocab_size;
    return m->store.be->ops->download(host, a->logits + (size_t)row0 * Vp, (size_t)n * Vp * sizeof(float), e);
}

const float *gpt_token_losses(const GPT *m) { return m->acts ? m->acts->tok.h_losses : NULL; }

double gpt_flops_per_token(const GPTConfig *c, int T) {
    size_t dims[GPT_N_TENSORS][3];
    ParamTensor t[GPT_N_TENSORS];
    tensor_dims(c, (size_t)c->vocab_size, dims);
    params_layout(t, (const size_t(*)[3])dims, GPT_N_TENSORS);
    double params = 0.0;
    for (int k = 0; k < GPT_N_TENSORS; k++)
        if (k != 1) params += (double)t[k].numel;
    return 6.0 * params + 12.0 * c->n_layer * (double)c->n_embd * T;
}

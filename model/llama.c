/* The Llama family on the selected backend: the model's memory (parameters through the store,
 * HF's initialisation), the activation plan, the training forward/backward with a per-token loss
 * mask, every variant through the same layer code, which reads the config's switches
 * (model/llama.h has the architecture and the layout; model/llama_config.c the configs and the
 * tensor table).
 *
 * Memory plan (per (B, T), N = B*T rows): each layer keeps the inputs of every norm, matmul and
 * attention its backward needs (with q/k norms the projections before them and their rstd;
 * post-RoPE q/k, v, the attention output and its log-sum-exp, gate and up, with post norms the
 * branch outputs before them and their rstd, the two residual streams). A buffer the config does
 * not use has width 0. The GLU output is recomputed in the backward. The logits [N, Vp] are the
 * only vocabulary-sized buffer; the backward turns them into dlogits (chunked over the vocabulary,
 * llama_set_vocab_chunk, it holds one chunk's logits and the loss's running statistics instead:
 * model/vocab_chunk.h). Backward scratch is shared by all layers.
 *
 * With recomputation (llama_set_recompute) each layer keeps only its output stream (the next
 * layer's input, [N, C]) and all layers share one set of the other buffers: the backward re-runs
 * layer l's forward (layer_forward, the forward's own code) from its input before layer l's
 * backward. The kernels are deterministic, so every result is bitwise the same as without.
 *
 * Batch independence: the kernels work per sequence, so a sequence's activations and loss are
 * the same bits whatever else is in the batch. */
#include "model/llama.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "model/tokens.h"
#include "model/vocab_chunk.h"

enum { ST_NONE, ST_FORWARD, ST_FORWARD_TARGETS, ST_BACKWARD_DONE };

/* One layer's activations: res_out (its output) in acts->outs, the others in acts->layers (one
 * set per layer, or one shared set with recomputation); LAYER_FIELDS gives their widths in floats
 * per row. */
typedef struct {
    float *ln1, *ln1_rstd, *qr, *kr, *v, *q_rstd, *k_rstd, *q, *k, *atty, *lse, *ao, *ao_rstd, *res_mid, *ln2,
        *ln2_rstd, *gate, *up, *mo, *mo_rstd, *res_out;
} LayerActs;

/* Row widths named by unit: C, Q = NH*hd, KV = NKV*hd, I, NH, NKV or 1, and those kept only with
 * q/k norms (QN...) or post norms (CP, 1P); 0 where the config has no use for them. */
enum { W_C, W_Q, W_KV, W_I, W_NH, W_1, W_QN, W_KVN, W_NHN, W_NKVN, W_CP, W_1P };

struct LlamaActs {
    int B, T;   /* planned capacity */
    size_t cap; /* B * T */
    float *mem; /* every float buffer below, one device allocation */
    TokenBatch tok; /* staged batch, loss weights, per-token losses (model/tokens.h) */
    float *encoded, *layers, *outs, *lnf, *lnf_rstd, *logits, *ce_lse, *losses;
    float *dres, *dc, *dln, *dq, *dqr, *datty, *dk, *dv, *dkr, *big; /* backward scratch; big also the GLU */
    void *attn_ws;
    size_t attn_ws_bytes;
    int recompute; /* layers holds one layer's buffers, refilled by the backward */
    int vchunk;    /* columns per vocabulary chunk (vchunk_cols), 0: logits holds [N, Vp] */
    int cur_B, cur_T, state;
};

#define LA(x) offsetof(LayerActs, x)
static const struct {
    size_t field;
    int width;
} LAYER_FIELDS[] = {{LA(ln1), W_C},      {LA(ln1_rstd), W_1},  {LA(qr), W_QN},       {LA(kr), W_KVN},
                    {LA(v), W_KV},       {LA(q_rstd), W_NHN},  {LA(k_rstd), W_NKVN}, {LA(q), W_Q},
                    {LA(k), W_KV},       {LA(atty), W_Q},      {LA(lse), W_NH},      {LA(ao), W_CP},
                    {LA(ao_rstd), W_1P}, {LA(res_mid), W_C},   {LA(ln2), W_C},       {LA(ln2_rstd), W_1},
                    {LA(gate), W_I},     {LA(up), W_I},        {LA(mo), W_CP},       {LA(mo_rstd), W_1P}};
#undef LA
#define N_LAYER_FIELDS (sizeof LAYER_FIELDS / sizeof LAYER_FIELDS[0])

static size_t width(const LlamaConfig *c, int w) {
    const size_t qk = c->qk_norm != 0, post = c->post_norms != 0;
    switch (w) {
    case W_C: return (size_t)c->hidden_size;
    case W_Q: return (size_t)c->n_head * c->head_dim;
    case W_KV: return (size_t)c->n_kv_head * c->head_dim;
    case W_I: return (size_t)c->intermediate_size;
    case W_NH: return (size_t)c->n_head;
    case W_QN: return qk * c->n_head * c->head_dim;
    case W_KVN: return qk * c->n_kv_head * c->head_dim;
    case W_NHN: return qk * c->n_head;
    case W_NKVN: return qk * c->n_kv_head;
    case W_CP: return post * c->hidden_size;
    case W_1P: return post;
    default: return 1;
    }
}

static size_t layer_floats(const LlamaConfig *c, size_t cap) {
    size_t n = 0;
    for (size_t f = 0; f < N_LAYER_FIELDS; f++) n += cap * width(c, LAYER_FIELDS[f].width);
    return n;
}

static void layer_acts(const Llama *m, int l, LayerActs *a) {
    size_t cap = m->acts->cap;
    float *p = m->acts->layers + (m->acts->recompute ? 0 : (size_t)l) * layer_floats(&m->cfg, cap);
    for (size_t f = 0; f < N_LAYER_FIELDS; f++) {
        *(float **)((char *)a + LAYER_FIELDS[f].field) = p;
        p += cap * width(&m->cfg, LAYER_FIELDS[f].width);
    }
    a->res_out = m->acts->outs + (size_t)l * cap * m->cfg.hidden_size;
}

/* The residual stream entering layer l: the scaled embeddings, or layer l - 1's output. */
static const float *layer_input(const Llama *m, int l) {
    return l == 0 ? m->acts->encoded : m->acts->outs + (size_t)(l - 1) * m->acts->cap * m->cfg.hidden_size;
}

const LlamaTensorInfo *llama_tensor_info(const Llama *m, int k) {
    return k >= 0 && k < m->store.n ? &m->info[k] : NULL;
}

/* Tensor t's shape for config c ([L, ...] for per-layer tensors; a 0 ends it). */
static void tensor_dims(const LlamaConfig *c, const LlamaTensorInfo *t, size_t d[3]) {
    size_t C = c->hidden_size, L = c->n_layer, Q = (size_t)c->n_head * c->head_dim;
    size_t KV = (size_t)c->n_kv_head * c->head_dim, I = c->intermediate_size, hd = c->head_dim;
    const struct {
        size_t field, d[3];
    } shapes[] = {
        {offsetof(LlamaTensors, token_embd), {c->padded_vocab_size, C, 0}},
        {offsetof(LlamaTensors, output), {c->padded_vocab_size, C, 0}},
        {offsetof(LlamaTensors, attn_q), {L, Q, C}},    {offsetof(LlamaTensors, attn_q_b), {L, Q, 0}},
        {offsetof(LlamaTensors, attn_k), {L, KV, C}},   {offsetof(LlamaTensors, attn_k_b), {L, KV, 0}},
        {offsetof(LlamaTensors, attn_v), {L, KV, C}},   {offsetof(LlamaTensors, attn_v_b), {L, KV, 0}},
        {offsetof(LlamaTensors, attn_q_norm), {L, hd, 0}}, {offsetof(LlamaTensors, attn_k_norm), {L, hd, 0}},
        {offsetof(LlamaTensors, attn_output), {L, C, Q}}, {offsetof(LlamaTensors, ffn_gate), {L, I, C}},
        {offsetof(LlamaTensors, ffn_up), {L, I, C}},    {offsetof(LlamaTensors, ffn_down), {L, C, I}},
        {offsetof(LlamaTensors, output_norm), {C, 0, 0}}};
    d[0] = L, d[1] = C, d[2] = 0; /* the per-layer norms */
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        if (shapes[i].field == t->field) memcpy(d, shapes[i].d, sizeof shapes[i].d);
}

int llama_init(Llama *m, const LlamaConfig *cfg, Error *e) {
    memset(m, 0, sizeof *m);
    LlamaConfig c = *cfg;
    int rc = llama_config_check(&c, e);
    if (rc) return rc;
    m->cfg = c;
    int n = llama_tensor_table(&c, m->info);
    size_t dims[LLAMA_MAX_TENSORS][3];
    for (int k = 0; k < n; k++) tensor_dims(&c, &m->info[k], dims[k]);
    ParamTable table = {&m->info[0].field, &m->info[0].decays, sizeof m->info[0],
                        {&m->params, &m->grads, &m->opt_m, &m->opt_v}, &m->info[0].layered};
    rc = params_init(&m->store, (const size_t(*)[3])dims, n, &table, e);
    return rc ? error_wrap(e, "llama_init") : RP_OK;
}

static void acts_free(const Backend *be, struct LlamaActs *a) {
    if (!a) return;
    be->ops->free(a->mem);
    be->ops->free(a->attn_ws);
    tokens_free(&a->tok, be);
    free(a);
}

void llama_free(Llama *m) {
    if (m->store.be) acts_free(m->store.be, m->acts);
    params_free(&m->store);
    memset(m, 0, sizeof *m);
}

/* Element i of an embedding or matrix takes variate i % 2 of draw (k, i / 2); biases are 0, norm
 * weights 1 - norm_offset (a scale of 1). */
int llama_init_random(Llama *m, uint64_t seed, Error *e) {
    float *p = xmalloc(params_largest(&m->store) * sizeof(float), e);
    if (!p) return RP_ENOMEM;
    int rc = RP_OK;
    for (int k = 0; k < m->store.n && !rc; k++) {
        const ParamTensor *t = &m->store.t[k];
        const LlamaTensorKind kind = m->info[k].kind;
        /* Only the real vocabulary rows are drawn; padding stays zero. */
        size_t n = kind == LLAMA_EMBEDDING ? (size_t)m->cfg.vocab_size * m->cfg.hidden_size : t->numel;
        const float fill = kind == LLAMA_NORM ? 1.0f - m->cfg.norm_offset : 0.0f;
        for (size_t i = 0; i < t->numel; i++) p[i] = fill;
        if (kind == LLAMA_EMBEDDING || kind == LLAMA_MATRIX) {
#pragma omp parallel for schedule(static) if (n > 65536)
            for (size_t q = 0; q < (n + 1) / 2; q++) {
                double z[2];
                rng_hash_normal2(seed, (uint64_t)k, q, z);
                p[2 * q] = 0.02f * (float)z[0];
                if (2 * q + 1 < n) p[2 * q + 1] = 0.02f * (float)z[1];
            }
        }
        rc = params_tensor_upload(&m->store, 'p', k, p, e);
    }
    free(p);
    return rc;
}

/* big holds the GLU output, dgate and dup [3 I], or the LM head backward's 2 C. */
static size_t big_width(const LlamaConfig *c) {
    size_t a = 3 * (size_t)c->intermediate_size, b = 2 * (size_t)c->hidden_size;
    return a > b ? a : b;
}

/* Layer activation sets a plan holds: one per layer, or one shared with recomputation. */
static size_t layer_sets(const LlamaConfig *c, int recompute) { return recompute ? 1 : (size_t)c->n_layer; }

/* The plan's float buffers in allocation order, and their widths in floats per row (dc only with
 * post norms, dqr and dkr only with q/k norms). */
#define N_BUFS 20
static void plan_widths(const LlamaConfig *c, int recompute, int vocab_chunk, size_t w[N_BUFS]) {
    const size_t C = width(c, W_C), Q = width(c, W_Q), KV = width(c, W_KV);
    const size_t Vp = vchunk_row_floats(vchunk_cols(vocab_chunk, c->vocab_size), (c->vocab_size + 127) / 128 * 128);
    const size_t v[N_BUFS] = {1, 1, 1, 1, 1, C, C, C, width(c, W_CP), C, Q, width(c, W_QN), Q, KV, KV,
                              width(c, W_KVN), Vp, big_width(c), layer_floats(c, 1) * layer_sets(c, recompute),
                              C * c->n_layer};
    memcpy(w, v, sizeof v);
}

static size_t acts_floats(const LlamaConfig *c, size_t cap, int recompute, int vocab_chunk) {
    size_t w[N_BUFS], n = 0;
    plan_widths(c, recompute, vocab_chunk, w);
    for (int i = 0; i < N_BUFS; i++) n += cap * w[i];
    return n;
}

size_t llama_activation_bytes(const LlamaConfig *c, int B, int T, int recompute, int vocab_chunk) {
    size_t cap = (size_t)B * T;
    return acts_floats(c, cap, recompute, vocab_chunk) * sizeof(float) + 2 * cap * sizeof(int32_t) +
           backend_get()->ops->attention_gqa_workspace(B, T, c->n_head);
}

void llama_set_recompute(Llama *m, int on) { m->recompute = on != 0; }

void llama_set_vocab_chunk(Llama *m, int cols) { m->vocab_chunk = cols > 0 ? cols : 0; }

int llama_plan(Llama *m, int B, int T, Error *e) {
    if (B <= 0 || T <= 0) return error_set(e, RP_EINPUT, "llama_plan: batch %d x %d must be positive", B, T);
    if (T > m->cfg.max_positions)
        return error_set(e, RP_EINPUT, "llama_plan: sequence length %d exceeds the model's max_position_embeddings %d",
                         T, m->cfg.max_positions);
    const BackendOps *op = m->store.be->ops;
    size_t ws_bytes = op->attention_gqa_workspace(B, T, m->cfg.n_head);
    int vchunk = vchunk_cols(m->vocab_chunk, m->cfg.vocab_size);
    if (m->acts && m->acts->B == B && m->acts->T == T && m->acts->recompute == m->recompute &&
        m->acts->vchunk == vchunk && m->acts->attn_ws_bytes >= ws_bytes)
        return RP_OK;
    acts_free(m->store.be, m->acts);
    m->acts = NULL;
    m->B = m->T = 0;
    struct LlamaActs *a = xcalloc(1, sizeof *a, e);
    if (!a) return error_wrap(e, "llama_plan");
    const LlamaConfig *c = &m->cfg;
    size_t cap = (size_t)B * T;
    a->B = B, a->T = T, a->cap = cap, a->attn_ws_bytes = ws_bytes, a->recompute = m->recompute, a->vchunk = vchunk;
    int rc = op->alloc(acts_floats(c, cap, a->recompute, m->vocab_chunk) * sizeof(float), (void **)&a->mem, e);
    if (!rc) rc = tokens_alloc(&a->tok, m->store.be, cap, e);
    if (!rc) rc = op->alloc(ws_bytes, &a->attn_ws, e);
    if (rc) {
        acts_free(m->store.be, a);
        return error_wrap(e, "llama_plan (batch %d x %d, %zu bytes)", B, T, llama_activation_bytes(c, B, T, m->recompute, m->vocab_chunk));
    }
    float *p = a->mem;
    float **bufs[N_BUFS] = {&a->tok.mask, &a->tok.dloss, &a->ce_lse, &a->losses, &a->lnf_rstd, &a->encoded, &a->lnf,
                            &a->dres, &a->dc, &a->dln, &a->dq, &a->dqr, &a->datty, &a->dk, &a->dv, &a->dkr, &a->logits,
                            &a->big, &a->layers, &a->outs};
    size_t widths[N_BUFS];
    plan_widths(c, a->recompute, m->vocab_chunk, widths);
    for (int i = 0; i < N_BUFS; i++) *bufs[i] = p, p += cap * widths[i];
    m->acts = a;
    m->B = B, m->T = T;
    return RP_OK;
}

#define OP(x)                                                                                                          \
    do {                                                                                                               \
        int op_rc_ = (x);                                                                                              \
        if (op_rc_) return op_rc_;                                                                                     \
    } while (0)

/* Layer l's slice of a per-layer tensor of `per` floats per layer; NULL for a tensor the config
 * does not have. */
static float *at(float *t, int l, size_t per) { return t ? t + (size_t)l * per : NULL; }

/* The LM head's weight: the embedding when tied. */
static float *head(const LlamaConfig *c, const LlamaTensors *t) {
    return c->tie_word_embeddings ? t->token_embd : t->output;
}

/* Layer l's forward on the current batch, from layer_input(l) into layer_acts(l). The backward's
 * recomputation runs it whole: it needs every buffer but the GLU output, and res_out is rewritten
 * with the bits it already holds. Without q/k norms the projections go straight to q and k;
 * without post norms the branch outputs are added to the stream by their matmul. */
static int layer_forward(Llama *m, int l, Error *e) {
    struct LlamaActs *a = m->acts;
    const BackendOps *op = m->store.be->ops;
    const LlamaConfig *c = &m->cfg;
    const int B = a->cur_B, T = a->cur_T, N = B * T, C = c->hidden_size, NH = c->n_head, NKV = c->n_kv_head;
    const int hd = c->head_dim, Q = NH * hd, KV = NKV * hd, I = c->intermediate_size;
    const float eps = c->rms_norm_eps, off = c->norm_offset, scale = llama_attn_scale(c);
    const LlamaTensors *P = &m->params;
    const float *res = layer_input(m, l);
    LayerActs la;
    layer_acts(m, l, &la);
    size_t lC = (size_t)l * C;
    int global = llama_layer_is_global(c, l);
    RopeSpec rope = llama_rope(c, global);
    float *q = c->qk_norm ? la.qr : la.q, *k = c->qk_norm ? la.kr : la.k;
    OP(op->rmsnorm_forward(la.ln1, la.ln1_rstd, res, P->attn_norm + lC, NULL, N, C, eps, off, e));
    OP(op->matmul_forward(q, la.ln1, P->attn_q + lC * Q, at(P->attn_q_b, l, Q), NULL, B, T, C, Q, e));
    OP(op->matmul_forward(k, la.ln1, P->attn_k + lC * KV, at(P->attn_k_b, l, KV), NULL, B, T, C, KV, e));
    OP(op->matmul_forward(la.v, la.ln1, P->attn_v + lC * KV, at(P->attn_v_b, l, KV), NULL, B, T, C, KV, e));
    if (c->qk_norm) {
        OP(op->rmsnorm_forward(la.q, la.q_rstd, la.qr, P->attn_q_norm + (size_t)l * hd, NULL, N * NH, hd, eps, off,
                               e));
        OP(op->rmsnorm_forward(la.k, la.k_rstd, la.kr, P->attn_k_norm + (size_t)l * hd, NULL, N * NKV, hd, eps, off,
                               e));
    }
    OP(op->rope_forward(la.q, B, T, NH, hd, &rope, e));
    OP(op->rope_forward(la.k, B, T, NKV, hd, &rope, e));
    if (op->attention_gqa_forward(la.atty, la.lse, la.q, la.k, la.v, B, T, NH, NKV, hd, global ? 0 : c->sliding_window,
                                  scale, a->attn_ws, a->attn_ws_bytes, e))
        return error_wrap(e, "llama_forward layer %d", l);
    if (c->post_norms) {
        OP(op->matmul_forward(la.ao, la.atty, P->attn_output + lC * Q, NULL, NULL, B, T, Q, C, e));
        OP(op->rmsnorm_forward(la.res_mid, la.ao_rstd, la.ao, P->post_attention_norm + lC, res, N, C, eps, off, e));
    } else {
        OP(op->matmul_forward(la.res_mid, la.atty, P->attn_output + lC * Q, NULL, res, B, T, Q, C, e));
    }
    OP(op->rmsnorm_forward(la.ln2, la.ln2_rstd, la.res_mid, P->ffn_norm + lC, NULL, N, C, eps, off, e));
    OP(op->matmul_forward(la.gate, la.ln2, P->ffn_gate + lC * I, NULL, NULL, B, T, C, I, e));
    OP(op->matmul_forward(la.up, la.ln2, P->ffn_up + lC * I, NULL, NULL, B, T, C, I, e));
    OP((c->hidden_act == ACT_SILU ? op->swiglu_forward : op->geglu_forward)(a->big, la.gate, la.up, (size_t)N * I, e));
    if (!c->post_norms)
        return op->matmul_forward(la.res_out, a->big, P->ffn_down + lC * I, NULL, la.res_mid, B, T, I, C, e);
    OP(op->matmul_forward(la.mo, a->big, P->ffn_down + lC * I, NULL, NULL, B, T, I, C, e));
    return op->rmsnorm_forward(la.res_out, la.mo_rstd, la.mo, P->post_ffw_norm + lC, la.res_mid, N, C, eps, off, e);
}

int llama_forward(Llama *m, const int32_t *inputs, const int32_t *targets, const float *mask, int B, int T,
                  float *loss, Error *e) {
    struct LlamaActs *a = m->acts;
    if (!a) return error_set(e, RP_EINTERNAL, "llama_forward: llama_plan was not called");
    if (B <= 0 || T <= 0 || B > a->B || T > a->T)
        return error_set(e, RP_EINPUT, "llama_forward: batch %d x %d does not fit the planned %d x %d", B, T, a->B,
                         a->T);
    a->state = ST_NONE;
    OP(tokens_stage(&a->tok, m->store.be, inputs, targets, mask, B, T, m->cfg.vocab_size, "llama_forward", e));
    const BackendOps *op = m->store.be->ops;
    const LlamaConfig *c = &m->cfg;
    const int N = B * T, C = c->hidden_size, Vp = c->padded_vocab_size;
    const LlamaTensors *P = &m->params;
    a->cur_B = B, a->cur_T = T;
    OP(op->embedding_forward(a->encoded, a->tok.inputs, P->token_embd, llama_embed_scale(c), N, C, e));
    for (int l = 0; l < c->n_layer; l++) OP(layer_forward(m, l, e));
    OP(op->rmsnorm_forward(a->lnf, a->lnf_rstd, layer_input(m, c->n_layer), P->output_norm, NULL, N, C,
                           c->rms_norm_eps, c->norm_offset, e));
    /* Chunked over the vocabulary, no whole logits are formed: a forward without targets stops
     * at lnf (llama_logits_download refuses). */
    if (!a->vchunk) OP(op->matmul_forward(a->logits, a->lnf, head(c, P), NULL, NULL, B, T, C, Vp, e));
    a->state = ST_FORWARD;
    if (!targets) return RP_OK;
    if (a->vchunk)
        OP(vchunk_forward(op, a->losses, a->ce_lse, a->logits, a->lnf, head(c, P), a->tok.targets, a->tok.mask, B, T,
                          C, c->vocab_size, a->vchunk, e));
    else
        OP(op->crossentropy_forward(a->losses, a->ce_lse, a->logits, a->tok.targets, a->tok.mask, N, c->vocab_size, Vp,
                                    e));
    OP(tokens_mean_loss(&a->tok, m->store.be, a->losses, N, &m->mean_loss, e));
    if (loss) *loss = m->mean_loss;
    a->state = ST_FORWARD_TARGETS;
    return RP_OK;
}

/* Layer l's backward: dres holds d(res_out) and becomes d(layer input); gradients accumulate. */
static int layer_backward(Llama *m, int l, Error *e) {
    struct LlamaActs *a = m->acts;
    const BackendOps *op = m->store.be->ops;
    const LlamaConfig *c = &m->cfg;
    const int B = a->cur_B, T = a->cur_T, N = B * T, C = c->hidden_size, NH = c->n_head, NKV = c->n_kv_head;
    const int hd = c->head_dim, Q = NH * hd, KV = NKV * hd, I = c->intermediate_size;
    const float off = c->norm_offset, scale = llama_attn_scale(c);
    const size_t NC = (size_t)N * C, NI = (size_t)N * I;
    const LlamaTensors *P = &m->params, *G = &m->grads;
    LayerActs la;
    layer_acts(m, l, &la);
    const float *res_in = layer_input(m, l);
    size_t lC = (size_t)l * C;
    int global = llama_layer_is_global(c, l);
    RopeSpec rope = llama_rope(c, global);
    /* big = GLU output / its gradient, dgate, dup; dbranch = d(branch output). */
    float *dh = a->big + NI, *dup = a->big + 2 * NI, *dbranch = a->dres;
    if (c->post_norms) {
        OP(op->zero(a->dc, NC * sizeof(float), e));
        OP(op->rmsnorm_backward(a->dc, G->post_ffw_norm + lC, a->dres, la.mo, P->post_ffw_norm + lC, la.mo_rstd, N, C,
                                off, e));
        dbranch = a->dc;
    }
    const int silu = c->hidden_act == ACT_SILU;
    OP((silu ? op->swiglu_forward : op->geglu_forward)(a->big, la.gate, la.up, NI, e));
    OP(op->matmul_backward(dh, G->ffn_down + lC * I, NULL, dbranch, a->big, P->ffn_down + lC * I, B, T, I, C, 0, e));
    OP((silu ? op->swiglu_backward : op->geglu_backward)(dh, dup, dh, la.gate, la.up, NI, e));
    OP(op->matmul_backward(a->dln, G->ffn_gate + lC * I, NULL, dh, la.ln2, P->ffn_gate + lC * I, B, T, C, I, 0, e));
    OP(op->matmul_backward(a->dln, G->ffn_up + lC * I, NULL, dup, la.ln2, P->ffn_up + lC * I, B, T, C, I, 1, e));
    OP(op->rmsnorm_backward(a->dres, G->ffn_norm + lC, a->dln, la.res_mid, P->ffn_norm + lC, la.ln2_rstd, N, C, off, e));
    /* Attention branch: dres is now d(res_mid). */
    dbranch = a->dres;
    if (c->post_norms) {
        OP(op->zero(a->dc, NC * sizeof(float), e));
        OP(op->rmsnorm_backward(a->dc, G->post_attention_norm + lC, a->dres, la.ao, P->post_attention_norm + lC,
                                la.ao_rstd, N, C, off, e));
        dbranch = a->dc;
    }
    OP(op->matmul_backward(a->datty, G->attn_output + lC * Q, NULL, dbranch, la.atty, P->attn_output + lC * Q, B, T,
                           Q, C, 0, e));
    if (op->attention_gqa_backward(a->dq, a->dk, a->dv, a->datty, la.q, la.k, la.v, la.atty, la.lse, B, T, NH, NKV,
                                   hd, global ? 0 : c->sliding_window, scale, a->attn_ws, a->attn_ws_bytes, e))
        return error_wrap(e, "llama_backward layer %d", l);
    OP(op->rope_backward(a->dq, B, T, NH, hd, &rope, e));
    OP(op->rope_backward(a->dk, B, T, NKV, hd, &rope, e));
    float *dqp = a->dq, *dkp = a->dk; /* d(q and k projections) */
    if (c->qk_norm) {
        OP(op->zero(a->dqr, (size_t)N * Q * sizeof(float), e));
        OP(op->zero(a->dkr, (size_t)N * KV * sizeof(float), e));
        OP(op->rmsnorm_backward(a->dqr, G->attn_q_norm + (size_t)l * hd, a->dq, la.qr, P->attn_q_norm + (size_t)l * hd,
                                la.q_rstd, N * NH, hd, off, e));
        OP(op->rmsnorm_backward(a->dkr, G->attn_k_norm + (size_t)l * hd, a->dk, la.kr, P->attn_k_norm + (size_t)l * hd,
                                la.k_rstd, N * NKV, hd, off, e));
        dqp = a->dqr, dkp = a->dkr;
    }
    OP(op->matmul_backward(a->dln, G->attn_q + lC * Q, at(G->attn_q_b, l, Q), dqp, la.ln1, P->attn_q + lC * Q, B, T, C,
                           Q, 0, e));
    OP(op->matmul_backward(a->dln, G->attn_k + lC * KV, at(G->attn_k_b, l, KV), dkp, la.ln1, P->attn_k + lC * KV, B, T,
                           C, KV, 1, e));
    OP(op->matmul_backward(a->dln, G->attn_v + lC * KV, at(G->attn_v_b, l, KV), a->dv, la.ln1, P->attn_v + lC * KV, B,
                           T, C, KV, 1, e));
    return op->rmsnorm_backward(a->dres, G->attn_norm + lC, a->dln, res_in, P->attn_norm + lC, la.ln1_rstd, N, C, off,
                                e);
}

int llama_backward(Llama *m, float loss_scale, Error *e) {
    struct LlamaActs *a = m->acts;
    if (!a || a->state != ST_FORWARD_TARGETS)
        return error_set(e, RP_EINTERNAL, "llama_backward: needs a llama_forward with targets since the last backward");
    a->state = ST_BACKWARD_DONE;
    OP(params_grads(&m->store, NULL, e)); /* a model's first backward allocates its gradients */
    /* No weighted position: the loss is the constant 0 and its gradient adds nothing. */
    if (!(a->tok.weight_sum > 0.0) || loss_scale == 0.0f) return RP_OK;
    const BackendOps *op = m->store.be->ops;
    const LlamaConfig *c = &m->cfg;
    const int B = a->cur_B, T = a->cur_T, N = B * T, C = c->hidden_size, Vp = c->padded_vocab_size;
    const LlamaTensors *P = &m->params, *G = &m->grads;
    OP(tokens_dloss(&a->tok, m->store.be, loss_scale, N, e));
    if (a->vchunk) {
        OP(vchunk_backward(op, a->dln, head(c, G), a->logits, a->big, a->lnf, head(c, P), &a->tok, a->ce_lse, B, T, C,
                           c->vocab_size, a->vchunk, e));
    } else {
        OP(op->crossentropy_backward(a->logits, a->ce_lse, a->tok.targets, a->tok.dloss, N, c->vocab_size, Vp, e));
        OP(op->lmhead_backward(a->dln, head(c, G), a->logits, a->lnf, head(c, P), a->tok.dloss, B, T, C, Vp, a->big,
                               e));
    }
    OP(op->zero(a->dres, (size_t)N * C * sizeof(float), e));
    OP(op->rmsnorm_backward(a->dres, G->output_norm, a->dln, layer_input(m, c->n_layer), P->output_norm, a->lnf_rstd,
                            N, C, c->norm_offset, e));
    for (int l = c->n_layer - 1; l >= 0; l--) {
        /* With recomputation the shared buffers hold the top layer's activations from the forward;
         * every other layer is re-run from its input (its scratch, big, is free between layers). */
        if (a->recompute && l < c->n_layer - 1 && layer_forward(m, l, e))
            return error_wrap(e, "llama_backward recomputing layer %d", l);
        OP(layer_backward(m, l, e));
        OP(params_grad_ready(&m->store, l, e)); /* layer l's gradients are final (the hook, model.h) */
    }
    OP(op->embedding_backward(G->token_embd, a->dres, a->tok.inputs, llama_embed_scale(c), N, C, e));
    return params_grad_ready(&m->store, PARAMS_REST, e);
}

int llama_logits_download(const Llama *m, int row0, int n, float *host, Error *e) {
    const struct LlamaActs *a = m->acts;
    if (a && a->vchunk)
        return error_set(e, RP_EINPUT,
                         "llama_logits_download: the loss is chunked over the vocabulary (%d columns at a time), so "
                         "no whole logits are kept; plan with vocab_chunk 0 to read them",
                         a->vchunk);
    if (!a || a->state == ST_NONE || a->state == ST_BACKWARD_DONE || row0 < 0 || n < 0 ||
        row0 + n > a->cur_B * a->cur_T)
        return error_set(e, RP_EINTERNAL, "llama_logits_download: rows %d..%d of the last forward are not available",
                         row0, row0 + n);
    size_t Vp = (size_t)m->cfg.padded_vocab_size;
    return m->store.be->ops->download(host, a->logits + (size_t)row0 * Vp, (size_t)n * Vp * sizeof(float), e);
}

const float *llama_token_losses(const Llama *m) { return m->acts ? m->acts->tok.h_losses : NULL; }

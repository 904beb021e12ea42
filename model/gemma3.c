/* Gemma 3 on the selected backend: config check, the tensor table (GGUF and HF names), HF's
 * initialisation, the activation plan, the training forward/backward with a per-token loss mask,
 * and the AdamW step (model/gemma3.h has the architecture and the layout).
 *
 * Memory plan (per (B, T), N = B*T rows): each layer keeps the inputs of every norm, matmul and
 * attention its backward needs (pre-norm q/k and their rstd, post-RoPE q/k, v, the attention
 * output and its log-sum-exp, gate and up, the branch outputs before their post-norms, the two
 * residual streams). The GeGLU output is recomputed in the backward. The logits [N, Vp] are the
 * only vocabulary-sized buffer; the backward turns them into dlogits. Backward scratch is shared
 * by all layers.
 *
 * With recomputation (gemma3_set_recompute) each layer keeps only its output stream (the next
 * layer's input, [N, C]) and all layers share one set of the other buffers: the backward re-runs
 * layer l's forward (layer_forward, the forward's own code) from its input before layer l's
 * backward. The kernels are deterministic, so every result is bitwise the same as without.
 *
 * Batch independence: the kernels work per sequence, so a sequence's activations and loss are
 * the same bits whatever else is in the batch. */
#include "model/gemma3.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "model/tokens.h"

enum { ST_NONE, ST_FORWARD, ST_FORWARD_TARGETS, ST_BACKWARD_DONE };

/* One layer's activations: res_out (its output) in acts->outs, the others in acts->layers (one
 * set per layer, or one shared set with recomputation); LAYER_FIELDS gives their widths in floats
 * per row. */
typedef struct {
    float *ln1, *ln1_rstd, *qr, *kr, *v, *q_rstd, *k_rstd, *q, *k, *atty, *lse, *ao, *ao_rstd, *res_mid, *ln2,
        *ln2_rstd, *gate, *up, *mo, *mo_rstd, *res_out;
} LayerActs;

struct Gemma3Acts {
    int B, T;   /* planned capacity */
    size_t cap; /* B * T */
    float *mem; /* every float buffer below, one device allocation */
    TokenBatch tok; /* staged batch, loss weights, per-token losses (model/tokens.h) */
    float *encoded, *layers, *outs, *lnf, *lnf_rstd, *logits, *ce_lse, *losses;
    float *dres, *dc, *dln, *dq, *dqr, *datty, *dk, *dv, *dkr, *big; /* backward scratch; big also GeGLU */
    void *attn_ws;
    size_t attn_ws_bytes;
    int recompute; /* layers holds one layer's buffers, refilled by the backward */
    int cur_B, cur_T, state;
};

#define LA(x) offsetof(LayerActs, x)
/* Widths in units: C, Q = NH*hd, KV = NKV*hd, I, NH, NKV, or 1 (per row). */
enum { W_C, W_Q, W_KV, W_I, W_NH, W_NKV, W_1 };
static const struct {
    size_t field;
    int width;
} LAYER_FIELDS[] = {{LA(ln1), W_C},     {LA(ln1_rstd), W_1}, {LA(qr), W_Q},       {LA(kr), W_KV},
                    {LA(v), W_KV},      {LA(q_rstd), W_NH},  {LA(k_rstd), W_NKV}, {LA(q), W_Q},
                    {LA(k), W_KV},      {LA(atty), W_Q},     {LA(lse), W_NH},     {LA(ao), W_C},
                    {LA(ao_rstd), W_1}, {LA(res_mid), W_C},  {LA(ln2), W_C},      {LA(ln2_rstd), W_1},
                    {LA(gate), W_I},    {LA(up), W_I},       {LA(mo), W_C},       {LA(mo_rstd), W_1}};
#undef LA
#define N_LAYER_FIELDS (sizeof LAYER_FIELDS / sizeof LAYER_FIELDS[0])

static size_t width(const Gemma3Config *c, int w) {
    switch (w) {
    case W_C: return (size_t)c->hidden_size;
    case W_Q: return (size_t)c->n_head * c->head_dim;
    case W_KV: return (size_t)c->n_kv_head * c->head_dim;
    case W_I: return (size_t)c->intermediate_size;
    case W_NH: return (size_t)c->n_head;
    case W_NKV: return (size_t)c->n_kv_head;
    default: return 1;
    }
}

static size_t layer_floats(const Gemma3Config *c, size_t cap) {
    size_t n = 0;
    for (size_t f = 0; f < N_LAYER_FIELDS; f++) n += cap * width(c, LAYER_FIELDS[f].width);
    return n;
}

static void layer_acts(const Gemma3 *m, int l, LayerActs *a) {
    size_t cap = m->acts->cap;
    float *p = m->acts->layers + (m->acts->recompute ? 0 : (size_t)l) * layer_floats(&m->cfg, cap);
    for (size_t f = 0; f < N_LAYER_FIELDS; f++) {
        *(float **)((char *)a + LAYER_FIELDS[f].field) = p;
        p += cap * width(&m->cfg, LAYER_FIELDS[f].width);
    }
    a->res_out = m->acts->outs + (size_t)l * cap * m->cfg.hidden_size;
}

/* The residual stream entering layer l: the scaled embeddings, or layer l - 1's output. */
static const float *layer_input(const Gemma3 *m, int l) {
    return l == 0 ? m->acts->encoded : m->acts->outs + (size_t)(l - 1) * m->acts->cap * m->cfg.hidden_size;
}

#define F(x) offsetof(Gemma3Tensors, x)
static const Gemma3TensorInfo TENSORS[GEMMA3_N_TENSORS] = {
    {"token_embd.weight", "model.embed_tokens.weight", F(token_embd), 0, 1, 0},
    {"attn_norm.weight", "input_layernorm.weight", F(attn_norm), 1, 0, 1},
    {"attn_q.weight", "self_attn.q_proj.weight", F(attn_q), 1, 1, 0},
    {"attn_k.weight", "self_attn.k_proj.weight", F(attn_k), 1, 1, 0},
    {"attn_v.weight", "self_attn.v_proj.weight", F(attn_v), 1, 1, 0},
    {"attn_q_norm.weight", "self_attn.q_norm.weight", F(attn_q_norm), 1, 0, 1},
    {"attn_k_norm.weight", "self_attn.k_norm.weight", F(attn_k_norm), 1, 0, 1},
    {"attn_output.weight", "self_attn.o_proj.weight", F(attn_output), 1, 1, 0},
    {"post_attention_norm.weight", "post_attention_layernorm.weight", F(post_attention_norm), 1, 0, 1},
    {"ffn_norm.weight", "pre_feedforward_layernorm.weight", F(ffn_norm), 1, 0, 1},
    {"ffn_gate.weight", "mlp.gate_proj.weight", F(ffn_gate), 1, 1, 0},
    {"ffn_up.weight", "mlp.up_proj.weight", F(ffn_up), 1, 1, 0},
    {"ffn_down.weight", "mlp.down_proj.weight", F(ffn_down), 1, 1, 0},
    {"post_ffw_norm.weight", "post_feedforward_layernorm.weight", F(post_ffw_norm), 1, 0, 1},
    {"output_norm.weight", "model.norm.weight", F(output_norm), 0, 0, 1},
};
#undef F

const Gemma3TensorInfo *gemma3_tensor_info(int k) { return k >= 0 && k < GEMMA3_N_TENSORS ? &TENSORS[k] : NULL; }

int gemma3_tensor_name(int k, int layer, int hf, char *buf, size_t n, Error *e) {
    const Gemma3TensorInfo *t = gemma3_tensor_info(k);
    if (!t) return error_set(e, RP_EINTERNAL, "gemma3_tensor_name: no tensor %d", k);
    const char *name = hf ? t->hf : t->gguf;
    int len = t->layered ? snprintf(buf, n, hf ? "model.layers.%d.%s" : "blk.%d.%s", layer, name)
                         : snprintf(buf, n, "%s", name);
    if (len < 0 || (size_t)len >= n) return error_set(e, RP_EINTERNAL, "gemma3_tensor_name: buffer of %zu bytes", n);
    return RP_OK;
}

Gemma3Config gemma3_config_270m(void) {
    return (Gemma3Config){.vocab_size = 262144, .hidden_size = 640, .intermediate_size = 2048, .n_layer = 18,
                          .n_head = 4, .n_kv_head = 1, .head_dim = 256, .sliding_window = 512,
                          .sliding_window_pattern = 6, .max_positions = 32768, .query_pre_attn_scalar = 256.0f,
                          .rms_norm_eps = 1e-6f, .rope_theta = 1e6, .rope_local_base_freq = 1e4};
}

int gemma3_config_check(Gemma3Config *c, Error *e) {
    const struct {
        const char *name;
        int v;
    } f[] = {{"vocab_size", c->vocab_size}, {"hidden_size", c->hidden_size},
             {"intermediate_size", c->intermediate_size}, {"num_hidden_layers", c->n_layer},
             {"num_attention_heads", c->n_head}, {"num_key_value_heads", c->n_kv_head},
             {"head_dim", c->head_dim}, {"sliding_window", c->sliding_window},
             {"sliding_window_pattern", c->sliding_window_pattern}, {"max_position_embeddings", c->max_positions}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].v <= 0)
            return error_set(e, RP_EINPUT, "Gemma 3 config: field '%s' is %d, must be positive", f[i].name, f[i].v);
    if (c->n_head % c->n_kv_head)
        return error_set(e, RP_EINPUT,
                         "Gemma 3 config: field 'num_attention_heads' (%d) must be a multiple of "
                         "'num_key_value_heads' (%d)", c->n_head, c->n_kv_head);
    if (c->head_dim % 2)
        return error_set(e, RP_EINPUT, "Gemma 3 config: field 'head_dim' (%d) must be even (RoPE pairs)", c->head_dim);
    const struct {
        const char *name;
        double v;
    } g[] = {{"query_pre_attn_scalar", c->query_pre_attn_scalar}, {"rms_norm_eps", c->rms_norm_eps},
             {"rope_theta", c->rope_theta}, {"rope_local_base_freq", c->rope_local_base_freq}};
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++)
        if (!(g[i].v > 0.0) || isinf(g[i].v))
            return error_set(e, RP_EINPUT, "Gemma 3 config: field '%s' is %g, must be positive and finite", g[i].name,
                             g[i].v);
    if (c->vocab_size > INT32_MAX - 128)
        return error_set(e, RP_EINPUT, "Gemma 3 config: field 'vocab_size' (%d) is too large", c->vocab_size);
    c->padded_vocab_size = (c->vocab_size + 127) / 128 * 128;
    return RP_OK;
}

int gemma3_layer_is_global(const Gemma3Config *c, int l) { return (l + 1) % c->sliding_window_pattern == 0; }

static void tensor_dims(const Gemma3Config *c, size_t dims[GEMMA3_N_TENSORS][3]) {
    size_t C = c->hidden_size, L = c->n_layer, Q = (size_t)c->n_head * c->head_dim;
    size_t KV = (size_t)c->n_kv_head * c->head_dim, I = c->intermediate_size, hd = c->head_dim;
    const size_t d[GEMMA3_N_TENSORS][3] = {
        {c->padded_vocab_size, C, 0}, {L, C, 0}, {L, Q, C}, {L, KV, C}, {L, KV, C}, {L, hd, 0}, {L, hd, 0},
        {L, C, Q}, {L, C, 0}, {L, C, 0}, {L, I, C}, {L, I, C}, {L, C, I}, {L, C, 0}, {C, 0, 0}};
    memcpy(dims, d, sizeof d);
}

int gemma3_init(Gemma3 *m, const Gemma3Config *cfg, Error *e) {
    memset(m, 0, sizeof *m);
    Gemma3Config c = *cfg;
    int rc = gemma3_config_check(&c, e);
    if (rc) return rc;
    m->cfg = c;
    size_t dims[GEMMA3_N_TENSORS][3];
    tensor_dims(&c, dims);
    ParamTable table = {&TENSORS[0].field, &TENSORS[0].decays, sizeof TENSORS[0], {&m->params, &m->grads, &m->opt_m, &m->opt_v}};
    rc = params_init(&m->store, (const size_t(*)[3])dims, GEMMA3_N_TENSORS, &table, e);
    return rc ? error_wrap(e, "gemma3_init") : RP_OK;
}

static void acts_free(const Backend *be, struct Gemma3Acts *a) {
    if (!a) return;
    be->ops->free(a->mem);
    be->ops->free(a->attn_ws);
    tokens_free(&a->tok, be);
    free(a);
}

void gemma3_free(Gemma3 *m) {
    if (m->store.be) acts_free(m->store.be, m->acts);
    params_free(&m->store);
    memset(m, 0, sizeof *m);
}

/* Element i of a matrix takes variate i % 2 of draw (k, i / 2); norm weights are 0 (scale 1). */
int gemma3_init_random(Gemma3 *m, uint64_t seed, Error *e) {
    float *p = xmalloc(params_largest(&m->store) * sizeof(float), e);
    if (!p) return RP_ENOMEM;
    int rc = RP_OK;
    for (int k = 0; k < GEMMA3_N_TENSORS && !rc; k++) {
        const ParamTensor *t = &m->store.t[k];
        /* Only the real vocabulary rows of the embedding are drawn; padding stays zero. */
        size_t n = k == 0 ? (size_t)m->cfg.vocab_size * m->cfg.hidden_size : t->numel;
        memset(p, 0, t->numel * sizeof(float));
        if (!TENSORS[k].is_norm) {
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

/* Backward scratch widths per row: dres, dc, dln [C]; dq, dqr, datty [Q]; dk, dv, dkr [KV]; big
 * holds the GeGLU output, dgate and dup [3 I], or the LM head backward's 2 C. */
static size_t big_width(const Gemma3Config *c) {
    size_t a = 3 * (size_t)c->intermediate_size, b = 2 * (size_t)c->hidden_size;
    return a > b ? a : b;
}

/* Layer activation sets a plan holds: one per layer, or one shared with recomputation. */
static size_t layer_sets(const Gemma3Config *c, int recompute) { return recompute ? 1 : (size_t)c->n_layer; }

static size_t acts_floats(const Gemma3Config *c, size_t cap, int recompute) {
    size_t C = width(c, W_C), Q = width(c, W_Q), KV = width(c, W_KV), Vp = (c->vocab_size + 127) / 128 * 128;
    return cap * (2 + C + C + 1 + Vp + 2)                   /* mask, dloss, encoded, lnf(+rstd), logits, lse, losses */
           + layer_floats(c, cap) * layer_sets(c, recompute) /* layer activations */
           + cap * C * c->n_layer                           /* layer outputs */
           + cap * (3 * C + 3 * Q + 3 * KV + big_width(c)); /* backward scratch */
}

size_t gemma3_activation_bytes(const Gemma3Config *c, int B, int T, int recompute) {
    size_t cap = (size_t)B * T;
    return acts_floats(c, cap, recompute) * sizeof(float) + 2 * cap * sizeof(int32_t) +
           backend_get()->ops->attention_gqa_workspace(B, T, c->n_head);
}

void gemma3_set_recompute(Gemma3 *m, int on) { m->recompute = on != 0; }

int gemma3_plan(Gemma3 *m, int B, int T, Error *e) {
    if (B <= 0 || T <= 0) return error_set(e, RP_EINPUT, "gemma3_plan: batch %d x %d must be positive", B, T);
    if (T > m->cfg.max_positions)
        return error_set(e, RP_EINPUT, "gemma3_plan: sequence length %d exceeds the model's max_position_embeddings %d",
                         T, m->cfg.max_positions);
    const BackendOps *op = m->store.be->ops;
    size_t ws_bytes = op->attention_gqa_workspace(B, T, m->cfg.n_head);
    if (m->acts && m->acts->B == B && m->acts->T == T && m->acts->recompute == m->recompute &&
        m->acts->attn_ws_bytes >= ws_bytes)
        return RP_OK;
    acts_free(m->store.be, m->acts);
    m->acts = NULL;
    m->B = m->T = 0;
    struct Gemma3Acts *a = xcalloc(1, sizeof *a, e);
    if (!a) return error_wrap(e, "gemma3_plan");
    const Gemma3Config *c = &m->cfg;
    size_t cap = (size_t)B * T, C = width(c, W_C), Q = width(c, W_Q), KV = width(c, W_KV);
    a->B = B, a->T = T, a->cap = cap, a->attn_ws_bytes = ws_bytes, a->recompute = m->recompute;
    int rc = op->alloc(acts_floats(c, cap, a->recompute) * sizeof(float), (void **)&a->mem, e);
    if (!rc) rc = tokens_alloc(&a->tok, m->store.be, cap, e);
    if (!rc) rc = op->alloc(ws_bytes, &a->attn_ws, e);
    if (rc) {
        acts_free(m->store.be, a);
        return error_wrap(e, "gemma3_plan (batch %d x %d, %zu bytes)", B, T,
                          gemma3_activation_bytes(c, B, T, m->recompute));
    }
    float *p = a->mem;
    float **bufs[] = {&a->tok.mask, &a->tok.dloss, &a->ce_lse, &a->losses, &a->lnf_rstd, &a->encoded, &a->lnf, &a->dres,
                      &a->dc, &a->dln, &a->dq, &a->dqr, &a->datty, &a->dk, &a->dv, &a->dkr, &a->logits, &a->big,
                      &a->layers, &a->outs};
    const size_t widths[] = {1, 1, 1, 1, 1, C, C, C, C, C, Q, Q, Q, KV, KV, KV, (size_t)c->padded_vocab_size,
                             big_width(c), layer_floats(c, 1) * layer_sets(c, a->recompute), C * c->n_layer};
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) *bufs[i] = p, p += cap * widths[i];
    m->acts = a;
    m->B = B, m->T = T;
    return RP_OK;
}


#define OP(x)                                                                                                          \
    do {                                                                                                               \
        int op_rc_ = (x);                                                                                              \
        if (op_rc_) return op_rc_;                                                                                     \
    } while (0)

/* The embedding normaliser sqrt(C), rounded to fp32 as HF's embed_scale is. */
static float embed_scale(const Gemma3Config *c) { return (float)sqrt((double)c->hidden_size); }

/* Layer l's forward on the current batch, from layer_input(l) into layer_acts(l). The backward's
 * recomputation runs it whole: it needs every buffer but the GeGLU output, and the post-FFW
 * norm's rstd comes with its output, so res_out is rewritten with the bits it already holds. */
static int layer_forward(Gemma3 *m, int l, Error *e) {
    struct Gemma3Acts *a = m->acts;
    const BackendOps *op = m->store.be->ops;
    const Gemma3Config *c = &m->cfg;
    const int B = a->cur_B, T = a->cur_T, N = B * T, C = c->hidden_size, NH = c->n_head, NKV = c->n_kv_head;
    const int hd = c->head_dim, Q = NH * hd, KV = NKV * hd, I = c->intermediate_size;
    const float eps = c->rms_norm_eps, scale = (float)(1.0 / sqrt((double)c->query_pre_attn_scalar));
    const Gemma3Tensors *P = &m->params;
    const float *res = layer_input(m, l);
    LayerActs la;
    layer_acts(m, l, &la);
    size_t lC = (size_t)l * C;
    int global = gemma3_layer_is_global(c, l);
    RopeSpec rope = {.theta = global ? c->rope_theta : c->rope_local_base_freq};
    OP(op->rmsnorm_forward(la.ln1, la.ln1_rstd, res, P->attn_norm + lC, N, C, eps, 1.0f, e));
    OP(op->matmul_forward(la.qr, la.ln1, P->attn_q + lC * Q, NULL, NULL, B, T, C, Q, e));
    OP(op->matmul_forward(la.kr, la.ln1, P->attn_k + lC * KV, NULL, NULL, B, T, C, KV, e));
    OP(op->matmul_forward(la.v, la.ln1, P->attn_v + lC * KV, NULL, NULL, B, T, C, KV, e));
    OP(op->rmsnorm_forward(la.q, la.q_rstd, la.qr, P->attn_q_norm + (size_t)l * hd, N * NH, hd, eps, 1.0f, e));
    OP(op->rmsnorm_forward(la.k, la.k_rstd, la.kr, P->attn_k_norm + (size_t)l * hd, N * NKV, hd, eps, 1.0f, e));
    OP(op->rope_forward(la.q, B, T, NH, hd, &rope, e));
    OP(op->rope_forward(la.k, B, T, NKV, hd, &rope, e));
    if (op->attention_gqa_forward(la.atty, la.lse, la.q, la.k, la.v, B, T, NH, NKV, hd, global ? 0 : c->sliding_window,
                                  scale, a->attn_ws, a->attn_ws_bytes, e))
        return error_wrap(e, "gemma3_forward layer %d", l);
    OP(op->matmul_forward(la.ao, la.atty, P->attn_output + lC * Q, NULL, NULL, B, T, Q, C, e));
    OP(op->rmsnorm_forward(la.res_mid, la.ao_rstd, la.ao, P->post_attention_norm + lC, N, C, eps, 1.0f, e));
    OP(op->add(la.res_mid, res, (size_t)N * C, e));
    OP(op->rmsnorm_forward(la.ln2, la.ln2_rstd, la.res_mid, P->ffn_norm + lC, N, C, eps, 1.0f, e));
    OP(op->matmul_forward(la.gate, la.ln2, P->ffn_gate + lC * I, NULL, NULL, B, T, C, I, e));
    OP(op->matmul_forward(la.up, la.ln2, P->ffn_up + lC * I, NULL, NULL, B, T, C, I, e));
    OP(op->geglu_forward(a->big, la.gate, la.up, (size_t)N * I, e));
    OP(op->matmul_forward(la.mo, a->big, P->ffn_down + lC * I, NULL, NULL, B, T, I, C, e));
    OP(op->rmsnorm_forward(la.res_out, la.mo_rstd, la.mo, P->post_ffw_norm + lC, N, C, eps, 1.0f, e));
    return op->add(la.res_out, la.res_mid, (size_t)N * C, e);
}

int gemma3_forward(Gemma3 *m, const int32_t *inputs, const int32_t *targets, const float *mask, int B, int T,
                   float *loss, Error *e) {
    struct Gemma3Acts *a = m->acts;
    if (!a) return error_set(e, RP_EINTERNAL, "gemma3_forward: gemma3_plan was not called");
    if (B <= 0 || T <= 0 || B > a->B || T > a->T)
        return error_set(e, RP_EINPUT, "gemma3_forward: batch %d x %d does not fit the planned %d x %d", B, T, a->B,
                         a->T);
    a->state = ST_NONE;
    OP(tokens_stage(&a->tok, m->store.be, inputs, targets, mask, B, T, m->cfg.vocab_size, "gemma3_forward", e));
    const BackendOps *op = m->store.be->ops;
    const Gemma3Config *c = &m->cfg;
    const int N = B * T, C = c->hidden_size, Vp = c->padded_vocab_size;
    const Gemma3Tensors *P = &m->params;
    a->cur_B = B, a->cur_T = T;
    OP(op->embedding_forward(a->encoded, a->tok.inputs, P->token_embd, embed_scale(c), N, C, e));
    for (int l = 0; l < c->n_layer; l++) OP(layer_forward(m, l, e));
    OP(op->rmsnorm_forward(a->lnf, a->lnf_rstd, layer_input(m, c->n_layer), P->output_norm, N, C, c->rms_norm_eps, 1.0f, e));
    OP(op->matmul_forward(a->logits, a->lnf, P->token_embd, NULL, NULL, B, T, C, Vp, e));
    a->state = ST_FORWARD;
    if (!targets) return RP_OK;
    OP(op->crossentropy_forward(a->losses, a->ce_lse, a->logits, a->tok.targets, a->tok.mask, N, c->vocab_size, Vp, e));
    OP(tokens_mean_loss(&a->tok, m->store.be, a->losses, N, &m->mean_loss, e));
    if (loss) *loss = m->mean_loss;
    a->state = ST_FORWARD_TARGETS;
    return RP_OK;
}

int gemma3_backward(Gemma3 *m, float loss_scale, Error *e) {
    struct Gemma3Acts *a = m->acts;
    if (!a || a->state != ST_FORWARD_TARGETS)
        return error_set(e, RP_EINTERNAL,
                         "gemma3_backward: needs a gemma3_forward with targets since the last backward");
    a->state = ST_BACKWARD_DONE;
    OP(params_grads(&m->store, NULL, e)); /* a model's first backward allocates its gradients */
    /* No weighted position: the loss is the constant 0 and its gradient adds nothing. */
    if (!(a->tok.weight_sum > 0.0) || loss_scale == 0.0f) return RP_OK;
    const BackendOps *op = m->store.be->ops;
    const Gemma3Config *c = &m->cfg;
    const int B = a->cur_B, T = a->cur_T, N = B * T, C = c->hidden_size, NH = c->n_head, NKV = c->n_kv_head;
    const int hd = c->head_dim, Q = NH * hd, KV = NKV * hd, I = c->intermediate_size, Vp = c->padded_vocab_size;
    const float scale = (float)(1.0 / sqrt((double)c->query_pre_attn_scalar));
    const size_t NC = (size_t)N * C, NI = (size_t)N * I;
    const Gemma3Tensors *P = &m->params, *G = &m->grads;
    OP(tokens_dloss(&a->tok, m->store.be, loss_scale, N, e));
    OP(op->crossentropy_backward(a->logits, a->ce_lse, a->tok.targets, a->tok.dloss, N, c->vocab_size, Vp, e));
    OP(op->lmhead_backward(a->dln, G->token_embd, a->logits, a->lnf, P->token_embd, a->tok.dloss, B, T, C, Vp, a->big, e));
    OP(op->zero(a->dres, NC * sizeof(float), e));
    OP(op->rmsnorm_backward(a->dres, G->output_norm, a->dln, layer_input(m, c->n_layer), P->output_norm, a->lnf_rstd,
                            N, C, 1.0f, e));
    /* dres carries d(residual stream) down the layers; big = GeGLU output / its gradient, dgate, dup. */
    float *dh = a->big + NI, *dup = a->big + 2 * NI;
    for (int l = c->n_layer - 1; l >= 0; l--) {
        /* With recomputation the shared buffers hold the top layer's activations from the forward;
         * every other layer is re-run from its input (its scratch, big, is free between layers). */
        if (a->recompute && l < c->n_layer - 1 && layer_forward(m, l, e))
            return error_wrap(e, "gemma3_backward recomputing layer %d", l);
        LayerActs la;
        layer_acts(m, l, &la);
        const float *res_in = layer_input(m, l);
        size_t lC = (size_t)l * C;
        int global = gemma3_layer_is_global(c, l);
        RopeSpec rope = {.theta = global ? c->rope_theta : c->rope_local_base_freq};
        OP(op->zero(a->dc, NC * sizeof(float), e));
        OP(op->rmsnorm_backward(a->dc, G->post_ffw_norm + lC, a->dres, la.mo, P->post_ffw_norm + lC, la.mo_rstd, N, C,
                                1.0f, e));
        OP(op->geglu_forward(a->big, la.gate, la.up, NI, e));
        OP(op->matmul_backward(dh, G->ffn_down + lC * I, NULL, a->dc, a->big, P->ffn_down + lC * I, B, T, I, C, 0, e));
        OP(op->geglu_backward(dh, dup, dh, la.gate, la.up, NI, e));
        OP(op->matmul_backward(a->dln, G->ffn_gate + lC * I, NULL, dh, la.ln2, P->ffn_gate + lC * I, B, T, C, I, 0, e));
        OP(op->matmul_backward(a->dln, G->ffn_up + lC * I, NULL, dup, la.ln2, P->ffn_up + lC * I, B, T, C, I, 1, e));
        OP(op->rmsnorm_backward(a->dres, G->ffn_norm + lC, a->dln, la.res_mid, P->ffn_norm + lC, la.ln2_rstd, N, C, 1.0f, e));
        /* Attention branch: dres is now d(res_mid). */
        OP(op->zero(a->dc, NC * sizeof(float), e));
        OP(op->rmsnorm_backward(a->dc, G->post_attention_norm + lC, a->dres, la.ao, P->post_attention_norm + lC,
                                la.ao_rstd, N, C, 1.0f, e));
        OP(op->matmul_backward(a->datty, G->attn_output + lC * Q, NULL, a->dc, la.atty, P->attn_output + lC * Q, B, T,
                               Q, C, 0, e));
        if (op->attention_gqa_backward(a->dq, a->dk, a->dv, a->datty, la.q, la.k, la.v, la.atty, la.lse, B, T, NH, NKV,
                                       hd, global ? 0 : c->sliding_window, scale, a->attn_ws, a->attn_ws_bytes, e))
            return error_wrap(e, "gemma3_backward layer %d", l);
        OP(op->rope_backward(a->dq, B, T, NH, hd, &rope, e));
        OP(op->rope_backward(a->dk, B, T, NKV, hd, &rope, e));
        OP(op->zero(a->dqr, (size_t)N * Q * sizeof(float), e));
        OP(op->zero(a->dkr, (size_t)N * KV * sizeof(float), e));
        OP(op->rmsnorm_backward(a->dqr, G->attn_q_norm + (size_t)l * hd, a->dq, la.qr, P->attn_q_norm + (size_t)l * hd,
                                la.q_rstd, N * NH, hd, 1.0f, e));
        OP(op->rmsnorm_backward(a->dkr, G->attn_k_norm + (size_t)l * hd, a->dk, la.kr, P->attn_k_norm + (size_t)l * hd,
                                la.k_rstd, N * NKV, hd, 1.0f, e));
        OP(op->matmul_backward(a->dln, G->attn_q + lC * Q, NULL, a->dqr, la.ln1, P->attn_q + lC * Q, B, T, C, Q, 0, e));
        OP(op->matmul_backward(a->dln, G->attn_k + lC * KV, NULL, a->dkr, la.ln1, P->attn_k + lC * KV, B, T, C, KV, 1,
                               e));
        OP(op->matmul_backward(a->dln, G->attn_v + lC * KV, NULL, a->dv, la.ln1, P->attn_v + lC * KV, B, T, C, KV, 1,
                               e));
        OP(op->rmsnorm_backward(a->dres, G->attn_norm + lC, a->dln, res_in, P->attn_norm + lC, la.ln1_rstd, N, C, 1.0f, e));
    }
    return op->embedding_backward(G->token_embd, a->dres, a->tok.inputs, embed_scale(c), N, C, e);
}


int gemma3_logits_download(const Gemma3 *m, int row0, int n, float *host, Error *e) {
    const struct Gemma3Acts *a = m->acts;
    if (!a || a->state == ST_NONE || a->state == ST_BACKWARD_DONE || row0 < 0 || n < 0 ||
        row0 + n > a->cur_B * a->cur_T)
        return error_set(e, RP_EINTERNAL, "gemma3_logits_download: rows %d..%d of the last forward are not available",
                         row0, row0 + n);
    size_t Vp = (size_t)m->cfg.padded_vocab_size;
    return m->store.be->ops->download(host, a->logits + (size_t)row0 * Vp, (size_t)n * Vp * sizeof(float), e);
}

const float *gemma3_token_losses(const Gemma3 *m) { return m->acts ? m->acts->tok.h_losses : NULL; }

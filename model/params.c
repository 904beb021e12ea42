/* Parameter memory shared by the architectures (see params.h). */
#include "model/params.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/comm.h"

static int slot(int which) {
    switch (which) {
    case 'p': return 0;
    case 'g': return 1;
    case 'm': return 2;
    case 'v': return 3;
    default: return -1;
    }
}

void params_layout(ParamTensor *t, const size_t (*dims)[3], int n) {
    size_t off = 0;
    for (int k = 0; k < n; k++) {
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

static float *dev_floats(const Backend *be, size_t n, Error *e) {
    void *p = NULL;
    return be->ops->alloc(n * sizeof(float), &p, e) ? NULL : p;
}

/* 1 if the moments held are a shard rather than every parameter's. */
static int sharded(const ParamStore *s) { return s->mem[2] && (s->opt_lo != 0 || s->opt_hi != s->n_params); }

/* Points state i's named views at its tensors (NULL state or sharded moments: NULL views). */
static void bind(ParamStore *s, int i) {
    if (!s->table.views[i]) return;
    int none = !s->mem[i] || (i >= 2 && sharded(s));
    for (int k = 0; k < s->n; k++) {
        size_t field = *(const size_t *)((const char *)s->table.field0 + (size_t)k * s->table.stride);
        *(float **)((char *)s->table.views[i] + field) = none ? NULL : s->mem[i] + s->t[k].offset;
    }
}

/* Whole-state access to state which: refused for sharded moments. */
static int whole(const ParamStore *s, int which, Error *e) {
    if ((which == 'm' || which == 'v') && sharded(s))
        return error_set(e, RP_EINTERNAL, "the AdamW moments are sharded over the ranks (ZeRO-1): [%zu, %zu) of %zu held",
                         s->opt_lo, s->opt_hi, s->n_params);
    return RP_OK;
}

int params_init(ParamStore *s, const size_t (*dims)[3], int n, const ParamTable *table, Error *e) {
    memset(s, 0, sizeof *s);
    s->table = *table;
    if (n < 1 || n > PARAMS_MAX_TENSORS) return error_set(e, RP_EINTERNAL, "params_init: %d tensors", n);
    s->be = backend_get();
    s->n = n;
    params_layout(s->t, dims, n);
    s->n_params = s->t[n - 1].offset + s->t[n - 1].numel;
    if (!(s->mem[0] = dev_floats(s->be, s->n_params, e))) {
        size_t np = s->n_params;
        params_free(s);
        return error_wrap(e, "%zu parameters", np);
    }
    bind(s, 0);
    return RP_OK;
}

int params_grads(ParamStore *s, float **out, Error *e) {
    if (!s->mem[1]) {
        if (!(s->mem[1] = dev_floats(s->be, s->n_params, e))) return error_wrap(e, "gradients (%zu parameters)", s->n_params);
        bind(s, 1);
    }
    if (out) *out = s->mem[1];
    return RP_OK;
}

void params_free(ParamStore *s) {
    if (s->be)
        for (int i = 0; i < 4; i++) s->be->ops->free(s->mem[i]);
    memset(s, 0, sizeof *s);
}

float *params_mem(const ParamStore *s, int which) {
    int i = slot(which);
    return i < 0 ? NULL : s->mem[i];
}

size_t params_largest(const ParamStore *s) {
    size_t most = 0;
    for (int k = 0; k < s->n; k++) most = s->t[k].numel > most ? s->t[k].numel : most;
    return most;
}

/* Tensor k's per-layer flag from the architecture's table. */
static int layered(const ParamStore *s, int k) {
    return s->table.layered0 && *(const int *)((const char *)s->table.layered0 + (size_t)k * s->table.stride);
}

int params_n_layer(const ParamStore *s) {
    for (int k = 0; k < s->n; k++)
        if (layered(s, k)) return (int)s->t[k].dims[0];
    return 0;
}

int params_ready_ranges(const ParamStore *s, int l, ParamRange *out) {
    int n = 0;
    for (int k = 0; k < s->n; k++) {
        const ParamTensor *t = &s->t[k];
        if (layered(s, k) != (l != PARAMS_REST)) continue;
        size_t per = l == PARAMS_REST ? t->numel : t->numel / t->dims[0];
        size_t lo = t->offset + (l == PARAMS_REST ? 0 : (size_t)l * per);
        out[n++] = (ParamRange){lo, lo + per};
    }
    return n;
}

int params_ready_plan(const ParamStore *s, ParamRange **out, int *n, Error *e) {
    int L = params_n_layer(s);
    *n = 0;
    *out = xmalloc(sizeof(ParamRange) * (size_t)s->n * (size_t)(L + 1), e);
    if (!*out) return RP_ENOMEM;
    for (int l = L - 1; l >= 0; l--) *n += params_ready_ranges(s, l, *out + *n);
    *n += params_ready_ranges(s, PARAMS_REST, *out + *n);
    return RP_OK;
}

void params_set_grad_hook(ParamStore *s, GradReadyFn fn, void *ctx) {
    s->ready = fn;
    s->ready_ctx = ctx;
}

int params_grad_ready(const ParamStore *s, int l, Error *e) {
    if (!s->ready) return RP_OK;
    ParamRange r[PARAMS_MAX_TENSORS];
    return s->ready(s->ready_ctx, r, params_ready_ranges(s, l, r), e);
}

int params_tensor_download(const ParamStore *s, int which, int k, float *host, Error *e) {
    const float *src = params_mem(s, which);
    if (!src || k < 0 || k >= s->n) return error_set(e, RP_EINTERNAL, "tensor download: no state '%c' / tensor %d", which, k);
    if (whole(s, which, e)) return RP_EINTERNAL;
    return s->be->ops->download(host, src + s->t[k].offset, s->t[k].numel * sizeof(float), e);
}

int params_tensor_upload(ParamStore *s, int which, int k, const float *host, Error *e) {
    float *dst = params_mem(s, which);
    if (!dst || k < 0 || k >= s->n) return error_set(e, RP_EINTERNAL, "tensor upload: no state '%c' / tensor %d", which, k);
    if (whole(s, which, e)) return RP_EINTERNAL;
    return s->be->ops->upload(dst + s->t[k].offset, host, s->t[k].numel * sizeof(float), e);
}

int params_state_download(const ParamStore *s, int which, float *host, Error *e) {
    const float *src = params_mem(s, which);
    if (!src) return error_set(e, RP_EINTERNAL, "state download: no state '%c'", which);
    if (whole(s, which, e)) return RP_EINTERNAL;
    return s->be->ops->download(host, src, s->n_params * sizeof(float), e);
}

int params_state_upload(ParamStore *s, int which, const float *host, Error *e) {
    float *dst = params_mem(s, which);
    if (!dst) return error_set(e, RP_EINTERNAL, "state upload: no state '%c'", which);
    if (whole(s, which, e)) return RP_EINTERNAL;
    return s->be->ops->upload(dst, host, s->n_params * sizeof(float), e);
}

int params_zero_grad(ParamStore *s, Error *e) {
    if (!s->mem[1]) return params_grads(s, NULL, e); /* alloc zeroes */
    return s->be->ops->zero(s->mem[1], s->n_params * sizeof(float), e);
}

/* Replaces the moments by m and v covering [lo, hi) (freeing the old ones) and rebinds the views. */
static void set_moments(ParamStore *s, float *m, float *v, size_t lo, size_t hi) {
    s->be->ops->free(s->mem[2]);
    s->be->ops->free(s->mem[3]);
    s->mem[2] = m;
    s->mem[3] = v;
    s->opt_lo = lo;
    s->opt_hi = hi;
    bind(s, 2);
    bind(s, 3);
}

/* Zeroed moments for n parameters (at least one float each: an empty shard still marks the
 * moments as present). */
static int alloc_moments(ParamStore *s, size_t n, float **m, float **v, Error *e) {
    *m = dev_floats(s->be, n ? n : 1, e);
    *v = *m ? dev_floats(s->be, n ? n : 1, e) : NULL;
    if (*v) return RP_OK;
    s->be->ops->free(*m);
    *m = NULL;
    return error_wrap(e, "AdamW moments (%zu parameters)", n);
}

int params_opt_reset(ParamStore *s, Error *e) {
    if (!s->mem[2] || sharded(s)) {
        float *m, *v;
        int rc = alloc_moments(s, s->n_params, &m, &v, e);
        if (!rc) set_moments(s, m, v, 0, s->n_params); /* alloc zeroes */
        return rc;
    }
    int rc = s->be->ops->zero(s->mem[2], s->n_params * sizeof(float), e);
    return rc ? rc : s->be->ops->zero(s->mem[3], s->n_params * sizeof(float), e);
}

int params_opt_ready(const ParamStore *s) { return s->mem[2] != NULL; }

int params_adamw_held(ParamStore *s, const AdamW *h, double norm, double max_norm, int step, Error *e) {
    if (!s->mem[1] || !s->mem[2]) return error_set(e, RP_EINTERNAL, "AdamW step without gradients or optimizer state");
    float grad_scale = max_norm > 0.0 && norm > max_norm ? (float)(max_norm / norm) : 1.0f;
    size_t lo = s->opt_lo, hi = s->opt_hi;
    AdamwSegment *seg = xcalloc(s->n ? (size_t)s->n : 1, sizeof *seg, e);
    if (!seg) return error_wrap(e, "AdamW's segments of %d tensors", s->n);
    int n = 0;
    for (int k = 0; k < s->n; k++) {
        /* The part of tensor k in [lo, hi): AdamW is elementwise, so a cut changes no bit. */
        size_t a = s->t[k].offset > lo ? s->t[k].offset : lo;
        size_t b = s->t[k].offset + s->t[k].numel < hi ? s->t[k].offset + s->t[k].numel : hi;
        if (a >= b) continue;
        int decays = *(const int *)((const char *)s->table.decays0 + (size_t)k * s->table.stride);
        seg[n++] = (AdamwSegment){a, b - a, decays};
    }
    /* One call for every tensor: one launch per batch of segments on a device, not one each. */
    int rc = s->be->ops->adamw_update_multi(s->mem[0], s->mem[1], s->mem[2], s->mem[3], lo, seg, n, h->lr, h->beta1,
                                            h->beta2, h->eps, h->weight_decay, grad_scale, step, e);
    free(seg);
    return rc;
}

int params_adamw(ParamStore *s, const AdamW *h, double max_norm, int step, double *norm, Error *e) {
    if (!s->mem[1] || !s->mem[2]) return error_set(e, RP_EINTERNAL, "AdamW step without gradients or optimizer state");
    if (whole(s, 'm', e)) return RP_EINTERNAL;
    double sq = 0;
    int rc = s->be->ops->sumsq(s->mem[1], s->n_params, &sq, e);
    if (rc) return rc;
    *norm = sqrt(sq);
    return params_adamw_held(s, h, *norm, max_norm, step, e);
}

void params_shard(size_t n, int rank, int world, ParamShard *sh) {
    sh->rank = rank;
    sh->world = world;
    sh->n = n;
    sh->per_rank = n / (size_t)world;
    sh->lo = (size_t)rank * sh->per_rank;
    sh->hi = rank == world - 1 ? n : sh->lo + sh->per_rank;
}

int params_opt_shard(ParamStore *s, const ParamShard *sh, Error *e) {
    if (s->mem[2] && (sh->lo < s->opt_lo || sh->hi > s->opt_hi))
        return error_set(e, RP_EINTERNAL, "moments of [%zu, %zu) cannot give the shard [%zu, %zu)", s->opt_lo, s->opt_hi,
                         sh->lo, sh->hi);
    size_t len = sh->hi - sh->lo, at = sh->lo - s->opt_lo;
    float *m, *v;
    int rc = alloc_moments(s, len, &m, &v, e);
    if (rc) return rc;
    if (s->mem[2] && ((rc = s->be->ops->copy(m, s->mem[2] + at, len * sizeof(float), e)) ||
                      (rc = s->be->ops->copy(v, s->mem[3] + at, len * sizeof(float), e)))) {
        s->be->ops->free(m);
        s->be->ops->free(v);
        return rc;
    }
    set_moments(s, m, v, sh->lo, sh->hi);
    return RP_OK;
}

int params_opt_gather(ParamStore *s, const ParamShard *sh, Error *e) {
    if (!s->mem[2] || s->opt_lo != sh->lo || s->opt_hi != sh->hi)
        return error_set(e, RP_EINTERNAL, "gathering moments: [%zu, %zu) held, not the shard [%zu, %zu)", s->opt_lo,
                         s->opt_hi, sh->lo, sh->hi);
    if (sh->world == 1) return RP_OK; /* the one shard is every parameter */
    const BackendOps *ops = s->be->ops;
    size_t len = sh->hi - sh->lo;
    float *m = NULL, *v = NULL;
    /* Rank 0 must have room before anyone sends: a send may wait for its receive forever. */
    int rc = comm_agree(sh->rank == 0 ? alloc_moments(s, s->n_params, &m, &v, e) : RP_OK, e);
    if (rc) {
        ops->free(m);
        ops->free(v);
        return rc;
    }
    if (sh->rank != 0) {
        if (!(rc = ops->send(s->mem[2], len, 0, e))) rc = ops->send(s->mem[3], len, 0, e);
        return rc;
    }
    if (!(rc = ops->copy(m + sh->lo, s->mem[2], len * sizeof(float), e)))
        rc = ops->copy(v + sh->lo, s->mem[3], len * sizeof(float), e);
    for (int q = 1; q < sh->world && !rc; q++) {
        ParamShard o;
        params_shard(s->n_params, q, sh->world, &o);
        if (!(rc = ops->recv(m + o.lo, o.hi - o.lo, q, e))) rc = ops->recv(v + o.lo, o.hi - o.lo, q, e);
    }
    if (rc) {
        ops->free(m);
        ops->free(v);
        return rc;
    }
    set_moments(s, m, v, 0, s->n_params);
    return RP_OK;
}

int params_grad_sumsq(const ParamStore *s, double *out, Error *e) {
    if (!s->mem[1] || !s->mem[2]) return error_set(e, RP_EINTERNAL, "gradient norm without gradients or optimizer state");
    return s->be->ops->sumsq(s->mem[1] + s->opt_lo, s->opt_hi - s->opt_lo, out, e);
}

int params_gather_shards(ParamStore *s, const ParamShard *sh, Error *e) {
    const BackendOps *ops = s->be->ops;
    float *p = s->mem[0];
    size_t body = (size_t)sh->world * sh->per_rank, tail = s->n_params - body;
    int rc = ops->all_gather(p, p + sh->lo, sh->per_rank, e), last = sh->world - 1;
    if (rc || !tail) return rc;
    if (sh->rank != last) return ops->recv(p + body, tail, last, e);
    for (int q = 0; q < last && !rc; q++) rc = ops->send(p + body, tail, q, e);
    return rc;
}

/* Parameter memory shared by the architectures (see params.h). */
#include "model/params.h"

#include <math.h>
#include <string.h>

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

/* Points state i's named views at its tensors (NULL state: NULL views). */
static void bind(ParamStore *s, int i) {
    if (!s->table.views[i]) return;
    for (int k = 0; k < s->n; k++) {
        size_t field = *(const size_t *)((const char *)s->table.field0 + (size_t)k * s->table.stride);
        *(float **)((char *)s->table.views[i] + field) = s->mem[i] ? s->mem[i] + s->t[k].offset : NULL;
    }
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

int params_tensor_download(const ParamStore *s, int which, int k, float *host, Error *e) {
    const float *src = params_mem(s, which);
    if (!src || k < 0 || k >= s->n) return error_set(e, RP_EINTERNAL, "tensor download: no state '%c' / tensor %d", which, k);
    return s->be->ops->download(host, src + s->t[k].offset, s->t[k].numel * sizeof(float), e);
}

int params_tensor_upload(ParamStore *s, int which, int k, const float *host, Error *e) {
    float *dst = params_mem(s, which);
    if (!dst || k < 0 || k >= s->n) return error_set(e, RP_EINTERNAL, "tensor upload: no state '%c' / tensor %d", which, k);
    return s->be->ops->upload(dst + s->t[k].offset, host, s->t[k].numel * sizeof(float), e);
}

int params_state_download(const ParamStore *s, int which, float *host, Error *e) {
    const float *src = params_mem(s, which);
    if (!src) return error_set(e, RP_EINTERNAL, "state download: no state '%c'", which);
    return s->be->ops->download(host, src, s->n_params * sizeof(float), e);
}

int params_state_upload(ParamStore *s, int which, const float *host, Error *e) {
    float *dst = params_mem(s, which);
    if (!dst) return error_set(e, RP_EINTERNAL, "state upload: no state '%c'", which);
    return s->be->ops->upload(dst, host, s->n_params * sizeof(float), e);
}

int params_zero_grad(ParamStore *s, Error *e) {
    if (!s->mem[1]) return params_grads(s, NULL, e); /* alloc zeroes */
    return s->be->ops->zero(s->mem[1], s->n_params * sizeof(float), e);
}

int params_opt_reset(ParamStore *s, Error *e) {
    if (!s->mem[2]) {
        if (!(s->mem[2] = dev_floats(s->be, s->n_params, e)) || !(s->mem[3] = dev_floats(s->be, s->n_params, e)))
            return error_wrap(e, "AdamW moments (%zu parameters)", s->n_params);
        bind(s, 2);
        bind(s, 3);
        return RP_OK; /* alloc zeroes */
    }
    int rc = s->be->ops->zero(s->mem[2], s->n_params * sizeof(float), e);
    return rc ? rc : s->be->ops->zero(s->mem[3], s->n_params * sizeof(float), e);
}

int params_opt_ready(const ParamStore *s) { return s->mem[2] != NULL; }

int params_adamw(ParamStore *s, const AdamW *h, double max_norm, int step, double *norm, Error *e) {
    if (!s->mem[1] || !s->mem[2]) return error_set(e, RP_EINTERNAL, "AdamW step without gradients or optimizer state");
    double sq = 0;
    int rc = s->be->ops->sumsq(s->mem[1], s->n_params, &sq, e);
    if (rc) return rc;
    *norm = sqrt(sq);
    float grad_scale = max_norm > 0.0 && *norm > max_norm ? (float)(max_norm / *norm) : 1.0f;
    for (int k = 0; k < s->n && !rc; k++) {
        size_t off = s->t[k].offset;
        int decays = *(const int *)((const char *)s->table.decays0 + (size_t)k * s->table.stride);
        rc = s->be->ops->adamw_update(s->mem[0] + off, s->mem[1] + off, s->mem[2] + off, s->mem[3] + off, s->t[k].numel,
                                      h->lr, h->beta1, h->beta2, h->eps, decays ? h->weight_decay : 0.0f, grad_scale,
                                      step, e);
    }
    return rc;
}

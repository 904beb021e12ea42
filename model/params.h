/* The parameter memory every architecture shares (llm.c's one-buffer layout): a table of tensors
 * laid out back to back in one device buffer per state — parameters, gradients and the two AdamW
 * moments — on the selected backend; named views bound from the architecture's field table; host
 * copies per tensor or per state; and the AdamW step with gradient-norm clipping folded in. The
 * architectures (model/gpt.c, model/llama.c) keep only what differs: shapes, names, init and the
 * forward/backward. */
#ifndef RESTPG_MODEL_PARAMS_H
#define RESTPG_MODEL_PARAMS_H

#include <stddef.h>

#include "core/error.h"
#include "kernels/backend.h"

#define PARAMS_MAX_TENSORS 32

/* Where tensor k lives in a state buffer and its shape (up to 3 dims, unused dims 0). */
typedef struct {
    size_t offset, numel;
    int ndim;
    size_t dims[3];
} ParamTensor;

/* AdamW's hyper-parameters (llm.c's formulation: decoupled weight decay on the tensors whose
 * table entry says decays). */
typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
} AdamW;

/* The architecture's tensor table as the store reads it: entry k's field offset in the named
 * views struct (size_t) at field0 + k * stride, and its weight-decay flag (int) at decays0 +
 * k * stride; views[i] are the named views of state 'p', 'g', 'm', 'v', bound whenever a state
 * is allocated. */
typedef struct {
    const size_t *field0;
    const int *decays0;
    size_t stride;
    void *views[4];
} ParamTable;

typedef struct {
    const Backend *be;
    int n;                            /* tensors */
    ParamTensor t[PARAMS_MAX_TENSORS];
    size_t n_params;
    float *mem[4];                    /* 'p' parameters, 'g' gradients, 'm' and 'v' AdamW moments */
    ParamTable table;
} ParamStore;

/* Lays out n tensors of the given dims (a 0 ends a shape) back to back from offset 0. */
void params_layout(ParamTensor *t, const size_t (*dims)[3], int n);
/* Lays out the tensors, allocates zeroed parameters on the selected backend and binds their
 * views. Gradients come with the first params_grads / params_zero_grad (a backward asks for
 * them), so a model that only runs inference never holds them. */
int params_init(ParamStore *s, const size_t (*dims)[3], int n, const ParamTable *table, Error *e);
void params_free(ParamStore *s);

/* The device buffer of state which ('p', 'g', 'm', 'v'); NULL if it is not allocated. */
float *params_mem(const ParamStore *s, int which);
/* The largest tensor's element count (for host staging buffers). */
size_t params_largest(const ParamStore *s);

/* Host copies of tensor k of state which, or of a whole state (n_params floats). */
int params_tensor_download(const ParamStore *s, int which, int k, float *host, Error *e);
int params_tensor_upload(ParamStore *s, int which, int k, const float *host, Error *e);
int params_state_download(const ParamStore *s, int which, float *host, Error *e);
int params_state_upload(ParamStore *s, int which, const float *host, Error *e);

/* The gradient state, allocated zeroed (and its views bound) if the store has none yet; *out
 * (may be NULL) gets its device buffer. */
int params_grads(ParamStore *s, float **out, Error *e);
/* Zeroes the gradients (allocating them if needed). */
int params_zero_grad(ParamStore *s, Error *e);
/* Allocates (and binds) the AdamW moments if needed and zeroes them; params_opt_ready: 1 if they
 * exist. */
int params_opt_reset(ParamStore *s, Error *e);
int params_opt_ready(const ParamStore *s);
/* One AdamW step number `step` (from 1) over every tensor, weight decay where the table says;
 * gradients clipped to global L2 norm max_norm (<= 0: no clipping) by a factor folded into the
 * update; *norm gets the norm before clipping (summed in an order fixed by n_params). */
int params_adamw(ParamStore *s, const AdamW *h, double max_norm, int step, double *norm, Error *e);

#endif

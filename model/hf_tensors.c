/* The parameters as Hugging Face tensors (see hf_tensors.h). */
#include "model/hf_tensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/checkpoint.h"

/* Where tensor k of layer l lives among HF's tensors: name, transposed or not, the layer count,
 * and the per-layer shape rows x cols as restpg holds it (cols = 0 for a vector); the embedding
 * (and an untied LM head) keeps the real vocabulary rows only. */
typedef struct {
    HfSlice s;
    int transposed, layers;
    size_t rows, cols;
} Where;

static int where(const Model *m, int k, int l, Where *w, Error *e) {
    const ParamTensor *t = model_tensor(m, k);
    int layered, vocab_rows = k == 0;
    if (m->arch == ARCH_GPT2) {
        gpt_tensor_hf_name(k, l, w->s.name, sizeof w->s.name, &w->transposed);
        layered = gpt_tensor_info(k)->layered;
        w->layers = layered ? m->gpt2.cfg.n_layer : 1;
    } else {
        const LlamaTensorInfo *info = llama_tensor_info(&m->llama, k);
        int rc = llama_tensor_name(info, l, 1, w->s.name, sizeof w->s.name, e);
        if (rc) return rc;
        w->transposed = 0;
        layered = info->layered;
        w->layers = layered ? m->llama.cfg.n_layer : 1;
        vocab_rows = info->kind == LLAMA_EMBEDDING; /* an untied LM head too */
    }
    const size_t *d = t->dims + (layered ? 1 : 0);
    int nd = t->ndim - (layered ? 1 : 0);
    w->rows = vocab_rows ? (size_t)m->vocab_size : d[0];
    w->cols = nd > 1 ? d[1] : 0;
    w->s.rank = w->cols ? 2 : 1;
    w->s.dims[0] = w->transposed ? w->cols : w->rows;
    w->s.dims[1] = w->transposed ? w->rows : w->cols;
    return RP_OK;
}

static void transpose(const float *in, float *out, size_t rows, size_t cols) {
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) out[j * rows + i] = in[i * cols + j];
}

int hf_tensors_walk(Model *m, int save, int which, HfSliceFn fn, void *ctx, Error *e) {
    if (!save) which = 'p';
    size_t most = 0;
    for (int k = 0; k < model_tensor_count(m); k++) most = model_tensor(m, k)->numel > most ? model_tensor(m, k)->numel : most;
    float *host = xcalloc(most, sizeof(float), e), *scratch = NULL;
    int rc = host ? RP_OK : RP_ENOMEM;
    for (int k = 0; k < model_tensor_count(m) && !rc; k++) {
        Where w;
        if ((rc = where(m, k, 0, &w, e))) break;
        size_t rows = w.rows, cols = w.cols, per = rows * (cols ? cols : 1);
        if (w.transposed && !scratch && !(scratch = xmalloc(sizeof(float) * most, e))) rc = RP_ENOMEM;
        if (!rc && save) rc = model_tensor_download(m, which, k, host, e);
        /* A load fills only the stored rows: the padding rows of a vocabulary tensor must be 0,
         * not what the buffer held for the previous tensor. */
        if (!save) memset(host, 0, model_tensor(m, k)->numel * sizeof(float));
        for (int l = 0; l < w.layers && !rc; l++) {
            if ((rc = where(m, k, l, &w, e))) break;
            float *ours = host + (size_t)l * per, *stored = w.transposed ? scratch : ours;
            if (save && w.transposed) transpose(ours, scratch, rows, cols);
            if ((rc = fn(ctx, &w.s, stored, e))) break;
            if (!save && w.transposed) transpose(scratch, ours, cols, rows);
            if (!save) rc = checkpoint_check_finite(ours, per, w.s.name, e);
        }
        if (!save && !rc) rc = model_tensor_upload(m, 'p', k, host, e);
    }
    free(host);
    free(scratch);
    return rc;
}

int hf_tensors_names(const Model *m, int (*fn)(void *ctx, const char *name, Error *e), void *ctx, Error *e) {
    int rc = RP_OK;
    for (int k = 0; k < model_tensor_count(m) && !rc; k++) {
        Where w;
        if ((rc = where(m, k, 0, &w, e))) break;
        for (int l = 0; l < w.layers && !rc; l++)
            if (!(rc = where(m, k, l, &w, e))) rc = fn(ctx, w.s.name, e);
    }
    return rc;
}

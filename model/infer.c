/* KV-cached inference (see infer.h): the model-side handle, forwarding each call to the model's
 * backend's decoder, so model/ holds no device layouts. */
#include "model/infer.h"

#include <string.h>

size_t infer_bytes(const ModelConfig *c, const InferPlan *p, int threads) {
    GPT2Dims gd;
    LlamaConfig lc;
    DecoderModel dm = model_config_decoder(c, &gd, &lc);
    return backend_get()->ops->decoder_bytes(&dm, p, threads);
}

int infer_init(Infer *s, const Model *m, const InferPlan *p, Error *e) {
    memset(s, 0, sizeof *s);
    GPT2Dims gd;
    LlamaConfig lc;
    DecoderModel dm = model_decoder(m, &gd, &lc);
    int rc = m->be->ops->decoder_init(&s->dec, &dm, p, e);
    if (rc) return rc;
    s->m = m;
    s->plan = *p;
    return RP_OK;
}

void infer_free(Infer *s) {
    if (s->dec) s->m->be->ops->decoder_free(s->dec);
    memset(s, 0, sizeof *s);
}

int infer_prefill(Infer *s, int prefix, const int32_t *tokens, int n, float *logits, Error *e) {
    return s->m->be->ops->decoder_prefill(s->dec, prefix, tokens, n, logits, e);
}

void infer_attach(Infer *s, int slot, int prefix) { s->m->be->ops->decoder_attach(s->dec, slot, prefix); }

int infer_decode(Infer *s, int n, const int *slots, const int32_t *tokens, float *logits, Error *e) {
    return s->m->be->ops->decoder_decode(s->dec, n, slots, tokens, logits, e);
}

int infer_can_sample(const Infer *s) { return s->m->be->ops->decoder_decode_sample != NULL; }

int infer_decode_sample(Infer *s, int n, const int *slots, const int32_t *tokens, const SampleSpec *sp,
                        const double *u, int32_t *next, double *logprob, Error *e) {
    if (!infer_can_sample(s))
        return error_set(e, RP_EINTERNAL, "infer_decode_sample: the %s backend does not sample on the device",
                         s->m->be->ops->name);
    return s->m->be->ops->decoder_decode_sample(s->dec, n, slots, tokens, sp, u, next, logprob, e);
}

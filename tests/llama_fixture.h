/* Random Llama-family parameters for the tests (test_llama, test_decode_llama): large enough that
 * attention is far from uniform and every weight matters. Matrices N(0, 1/fan_in), the embedding
 * (and an untied head) N(0, emb_sd), norm weights 1 - norm_offset + N(0, 0.3) (so the applied
 * scale is near 1 in every variant), biases N(0, 0.3); padding rows 0. Draws in tensor order from
 * r, so a test's values depend only on its seed. */
#ifndef RESTPG_TESTS_LLAMA_FIXTURE_H
#define RESTPG_TESTS_LLAMA_FIXTURE_H

#include <math.h>
#include <stdlib.h>

#include "core/rng.h"
#include "model/llama.h"
#include "tests/test.h"

static inline void llama_fixture_params(Llama *m, Rng *r, double emb_sd, Error *e) {
    float *h = malloc(sizeof(float) * m->store.n_params);
    for (int k = 0; k < m->store.n; k++) {
        const ParamTensor *t = &m->store.t[k];
        const LlamaTensorKind kind = m->info[k].kind;
        double sd = kind == LLAMA_NORM || kind == LLAMA_BIAS ? 0.3 : kind == LLAMA_EMBEDDING ? emb_sd
                                                                     : 1.0 / sqrt((double)t->dims[t->ndim - 1]);
        double mean = kind == LLAMA_NORM ? 1.0 - m->cfg.norm_offset : 0.0;
        size_t n = kind == LLAMA_EMBEDDING ? (size_t)m->cfg.vocab_size * m->cfg.hidden_size : t->numel;
        for (size_t i = 0; i < t->numel; i++) h[t->offset + i] = i < n ? (float)(mean + sd * rng_normal(r)) : 0.0f;
    }
    CHECK_OK(params_state_upload(&m->store, 'p', h, e), e);
    free(h);
}

#endif

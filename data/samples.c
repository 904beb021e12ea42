/* Samples file building and HDF5 I/O (see samples.h). */
#include "data/samples.h"

#include <stdlib.h>
#include <string.h>

#include "core/h5.h"
#include "core/text.h"

void samples_init(Samples *s) {
    memset(s, 0, sizeof *s);
    s->top_p = 1.0;
}

void samples_free(Samples *s) {
    h5_strings_free(s->example_id, s->m);
    h5_strings_free(s->reasoning_text, s->reasoning_text ? s->m : 0);
    h5_strings_free(s->answer, s->answer ? s->m : 0);
    free(s->candidate);
    free(s->token_offset);
    free(s->tokens);
    free(s->has_separator);
    free(s->logprob);
    free(s->length);
    free(s->finish);
    free(s->reward);
    free(s->kept);
    free(s->model);
    free(s->dataset);
    free(s->split);
    free(s->dtype);
    free(s->reward_spec);
    samples_init(s);
}

#define GROW(ptr, n)                                                       \
    do {                                                                   \
        void *np_ = xrealloc((ptr), sizeof(*(ptr)) * (size_t)(n), e);      \
        if (!np_) return RP_ENOMEM;                                        \
        (ptr) = np_;                                                       \
    } while (0)

int samples_add(Samples *s, const char *example_id, int32_t candidate, const int32_t *tokens, int32_t n_tokens,
                const char *reasoning, const char *answer, int has_separator, double logprob, FinishReason finish,
                Error *e) {
    if (s->m == s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 256;
        GROW(s->example_id, cap);
        GROW(s->reasoning_text, cap);
        GROW(s->answer, cap);
        GROW(s->candidate, cap);
        GROW(s->token_offset, cap + 1);
        GROW(s->has_separator, cap);
        GROW(s->logprob, cap);
        GROW(s->length, cap);
        GROW(s->finish, cap);
        if (s->cap == 0) s->token_offset[0] = 0;
        s->cap = cap;
    }
    int64_t t0 = s->token_offset[s->m];
    if (t0 + n_tokens > s->tok_cap) {
        int64_t cap = s->tok_cap ? s->tok_cap : 4096;
        while (cap < t0 + n_tokens) cap *= 2;
        GROW(s->tokens, cap);
        s->tok_cap = cap;
    }
    char *id = xstrdup(example_id, e), *r = xstrdup(reasoning, e), *a = xstrdup(answer, e);
    if (!id || !r || !a) {
        free(id);
        free(r);
        free(a);
        return RP_ENOMEM;
    }
    int64_t i = s->m;
    if (n_tokens) memcpy(s->tokens + t0, tokens, sizeof(int32_t) * (size_t)n_tokens);
    s->example_id[i] = id;
    s->reasoning_text[i] = r;
    s->answer[i] = a;
    s->candidate[i] = candidate;
    s->has_separator[i] = (uint8_t)(has_separator != 0);
    s->logprob[i] = logprob;
    s->length[i] = n_tokens;
    s->finish[i] = (uint8_t)finish;
    s->token_offset[i + 1] = t0 + n_tokens;
    s->m++;
    return RP_OK;
}

int samples_alloc_rewards(Samples *s, Error *e) {
    free(s->reward);
    free(s->kept);
    s->reward = xcalloc((size_t)(s->m ? s->m : 1), sizeof(double), e);
    s->kept = xcalloc((size_t)(s->m ? s->m : 1), 1, e);
    if (!s->reward || !s->kept) return RP_ENOMEM;
    s->has_reward = 1;
    return RP_OK;
}

/* Integer and float generation settings, stored as root attributes of the same names. */
static const struct {
    const char *name;
    size_t off;
} INT_ATTRS[] = {
    {"n_per_input", offsetof(Samples, n_per_input)}, {"round", offsetof(Samples, round)},
    {"seed", offsetof(Samples, seed)},               {"max_new_tokens", offsetof(Samples, max_new_tokens)},
    {"top_k", offsetof(Samples, top_k)},             {"reasoning", offsetof(Samples, reasoning)},
};
#define N_INT_ATTRS (sizeof INT_ATTRS / sizeof INT_ATTRS[0])

int samples_write(const Samples *s, const char *path, Error *e) {
    char *tmp;
    hid_t f;
    int rc = h5_create(path, SAMPLES_FORMAT, SAMPLES_VERSION, &tmp, &f, e);
    if (rc) return rc;
    hsize_t m[1] = {(hsize_t)s->m}, m1[1] = {(hsize_t)s->m + 1}, nt[1] = {(hsize_t)s->token_offset[s->m]};
    int64_t zero = 0;
    const int64_t *off = s->m ? s->token_offset : &zero;
    for (size_t k = 0; k < N_INT_ATTRS && !rc; k++)
        rc = h5_attr_set_i64(f, INT_ATTRS[k].name, *(const int64_t *)((const char *)s + INT_ATTRS[k].off), e);
    if (rc || (rc = h5_attr_set_str(f, "model", s->model ? s->model : "", e)) ||
        (rc = h5_attr_set_str(f, "dataset", s->dataset ? s->dataset : "", e)) ||
        (rc = h5_attr_set_str(f, "split", s->split ? s->split : "", e)) ||
        (rc = h5_attr_set_f64(f, "temperature", s->temperature, e)) || (rc = h5_attr_set_f64(f, "top_p", s->top_p, e)) ||
        (rc = h5_attr_set_str(f, "dtype", s->dtype ? s->dtype : "fp32", e)) ||
        (s->max_answer_tokens &&
         ((rc = h5_attr_set_i64(f, "max_reasoning_tokens", s->max_reasoning_tokens, e)) ||
          (rc = h5_attr_set_i64(f, "max_answer_tokens", s->max_answer_tokens, e)))) ||
        (rc = h5_mkgroups(f, "candidates", e)) ||
        (rc = h5_write_strings(f, "candidates/example_id", s->example_id, s->m, e)) ||
        (rc = h5_write_array(f, "candidates/candidate", H5T_NATIVE_INT32, 1, m, s->candidate, e)) ||
        (rc = h5_write_array(f, "candidates/token_offset", H5T_NATIVE_INT64, 1, m1, off, e)) ||
        (rc = h5_write_array(f, "candidates/tokens", H5T_NATIVE_INT32, 1, nt, s->tokens, e)) ||
        (rc = h5_write_strings(f, "candidates/reasoning", s->reasoning_text, s->m, e)) ||
        (rc = h5_write_strings(f, "candidates/answer", s->answer, s->m, e)) ||
        (rc = h5_write_array(f, "candidates/has_separator", H5T_NATIVE_UINT8, 1, m, s->has_separator, e)) ||
        (rc = h5_write_array(f, "candidates/logprob", H5T_NATIVE_DOUBLE, 1, m, s->logprob, e)) ||
        (rc = h5_write_array(f, "candidates/length", H5T_NATIVE_INT32, 1, m, s->length, e)) ||
        (rc = h5_write_array(f, "candidates/finish", H5T_NATIVE_UINT8, 1, m, s->finish, e)))
        goto fail;
    if (s->has_reward &&
        ((rc = h5_write_array(f, "candidates/reward", H5T_NATIVE_DOUBLE, 1, m, s->reward, e)) ||
         (rc = h5_write_array(f, "candidates/kept", H5T_NATIVE_UINT8, 1, m, s->kept, e)) ||
         (rc = h5_attr_set_str(f, "reward_spec", s->reward_spec ? s->reward_spec : "", e)) ||
         (rc = h5_attr_set_f64(f, "tau", s->tau, e)) || (rc = h5_attr_set_i64(f, "keep", s->keep_k, e))))
        goto fail;
    rc = h5_commit(f, tmp, path, e);
    free(tmp);
    return rc;
fail:
    h5_abort(f, tmp);
    free(tmp);
    return error_wrap(e, "%s", path);
}

/* Reads a 1-D numeric column and checks it has `want` entries. */
static int read_col(hid_t f, const char *name, hid_t type, int64_t want, void **out, Error *e) {
    hsize_t dims[1];
    int rc = h5_read_array(f, name, type, 1, dims, out, e);
    if (rc) return rc;
    if ((int64_t)dims[0] != want)
        return error_set(e, RP_EINPUT, "%s: %llu entries, expected %lld", name, (unsigned long long)dims[0], (long long)want);
    return RP_OK;
}

static int read_body(hid_t f, Samples *s, Error *e) {
    int rc;
    for (size_t k = 0; k < N_INT_ATTRS; k++)
        if ((rc = h5_attr_get_i64(f, INT_ATTRS[k].name, (int64_t *)((char *)s + INT_ATTRS[k].off), e))) return rc;
    if ((rc = h5_attr_get_str(f, "model", &s->model, e)) || (rc = h5_attr_get_str(f, "dataset", &s->dataset, e)) ||
        (rc = h5_attr_get_str(f, "split", &s->split, e)) || (rc = h5_attr_get_f64(f, "temperature", &s->temperature, e)) ||
        (rc = h5_attr_get_f64(f, "top_p", &s->top_p, e)))
        return rc;
    /* Files written before the attribute existed were decoded with fp32 weights. */
    htri_t has_dtype = H5Aexists(f, "dtype");
    if (has_dtype < 0) return error_set(e, RP_EINPUT, "attribute 'dtype': cannot be probed");
    if ((rc = has_dtype ? h5_attr_get_str(f, "dtype", &s->dtype, e) : ((s->dtype = xstrdup("fp32", e)) ? RP_OK : RP_ENOMEM)))
        return rc;
    if (strcmp(s->dtype, "fp32") && strcmp(s->dtype, "bf16"))
        return error_set(e, RP_EINPUT, "attribute 'dtype': '%s' is not fp32 or bf16", s->dtype);
    /* The separate budgets are written only when used. */
    const char *budget[2] = {"max_reasoning_tokens", "max_answer_tokens"};
    int64_t *slot[2] = {&s->max_reasoning_tokens, &s->max_answer_tokens};
    for (int k = 0; k < 2; k++) {
        htri_t has = H5Aexists(f, budget[k]);
        if (has < 0) return error_set(e, RP_EINPUT, "attribute '%s': cannot be probed", budget[k]);
        *slot[k] = 0;
        if (has && (rc = h5_attr_get_i64(f, budget[k], slot[k], e))) return rc;
        if (*slot[k] < 0) return error_set(e, RP_EINPUT, "attribute '%s': %lld is negative", budget[k], (long long)*slot[k]);
    }
    /* samples_free frees every string column with s->m entries, so a column is recorded in s only
     * after its length is known to be s->m: a shorter column must never be freed past its end. */
    int64_t m, n2;
    if ((rc = h5_read_strings(f, "candidates/example_id", &s->example_id, &m, e))) return rc;
    s->m = s->cap = m;
    static const char *TEXT_COLS[] = {"candidates/reasoning", "candidates/answer"};
    char ***dst[] = {&s->reasoning_text, &s->answer};
    for (int k = 0; k < 2; k++) {
        char **col;
        if ((rc = h5_read_strings(f, TEXT_COLS[k], &col, &n2, e))) return rc;
        if (n2 != m) {
            h5_strings_free(col, n2);
            return error_set(e, RP_EINPUT, "%s: %lld entries, candidates/example_id has %lld", TEXT_COLS[k], (long long)n2,
                             (long long)m);
        }
        *dst[k] = col;
    }
    if ((rc = read_col(f, "candidates/candidate", H5T_NATIVE_INT32, m, (void **)&s->candidate, e)) ||
        (rc = read_col(f, "candidates/token_offset", H5T_NATIVE_INT64, m + 1, (void **)&s->token_offset, e)) ||
        (rc = read_col(f, "candidates/has_separator", H5T_NATIVE_UINT8, m, (void **)&s->has_separator, e)) ||
        (rc = read_col(f, "candidates/logprob", H5T_NATIVE_DOUBLE, m, (void **)&s->logprob, e)) ||
        (rc = read_col(f, "candidates/length", H5T_NATIVE_INT32, m, (void **)&s->length, e)) ||
        (rc = read_col(f, "candidates/finish", H5T_NATIVE_UINT8, m, (void **)&s->finish, e)))
        return rc;
    for (int64_t i = 0; i < m; i++)
        if (s->token_offset[i + 1] < s->token_offset[i] || s->token_offset[0] != 0)
            return error_set(e, RP_EINPUT, "candidates/token_offset: not non-decreasing from 0 at record %lld", (long long)i);
    if ((rc = read_col(f, "candidates/tokens", H5T_NATIVE_INT32, s->token_offset[m], (void **)&s->tokens, e))) return rc;
    s->tok_cap = s->token_offset[m];
    if (h5_exists(f, "candidates/reward")) {
        s->has_reward = 1;
        if ((rc = read_col(f, "candidates/reward", H5T_NATIVE_DOUBLE, m, (void **)&s->reward, e)) ||
            (rc = read_col(f, "candidates/kept", H5T_NATIVE_UINT8, m, (void **)&s->kept, e)) ||
            (rc = h5_attr_get_str(f, "reward_spec", &s->reward_spec, e)) || (rc = h5_attr_get_f64(f, "tau", &s->tau, e)) ||
            (rc = h5_attr_get_i64(f, "keep", &s->keep_k, e)))
            return rc;
    }
    StrMap seen;
    if ((rc = strmap_init(&seen, (size_t)m, e))) return rc;
    StrBuf key;
    strbuf_init(&key);
    for (int64_t i = 0; i < m && !rc; i++) {
        strbuf_clear(&key);
        if ((rc = strbuf_printf(&key, e, "%s\x1f%d", s->example_id[i], s->candidate[i]))) break;
        int64_t prev;
        if (strmap_get(&seen, key.s, key.len, &prev))
            rc = error_set(e, RP_EINPUT, "record %lld: duplicate candidate %d of example '%s'", (long long)i, s->candidate[i],
                           s->example_id[i]);
        else rc = strmap_put(&seen, key.s, key.len, i, e);
    }
    strbuf_free(&key);
    strmap_free(&seen);
    return rc;
}

int samples_read(const char *path, Samples *s, Error *e) {
    samples_init(s);
    hid_t f;
    int rc = h5_open_read(path, SAMPLES_FORMAT, SAMPLES_VERSION, &f, e);
    if (rc) return rc;
    rc = read_body(f, s, e);
    h5_close(f);
    if (rc) {
        samples_free(s);
        return error_wrap(e, "%s", path);
    }
    return RP_OK;
}

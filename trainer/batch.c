/* Token sequences, pretraining/SFT corpora, epoch order and padded batches (see batch.h). */
#include "trainer/batch.h"

#include <stdlib.h>
#include <string.h>

#include "core/text.h"

void seqset_init(SeqSet *s) { memset(s, 0, sizeof *s); }

void seqset_free(SeqSet *s) {
    free(s->tok);
    free(s->start);
    free(s->len);
    free(s->loss_from);
    seqset_init(s);
}

static int reserve_tok(SeqSet *s, int64_t extra, Error *e) {
    if (s->n_tok + extra <= s->cap_tok) return RP_OK;
    int64_t cap = s->cap_tok ? s->cap_tok : 4096;
    while (cap < s->n_tok + extra) cap *= 2;
    int32_t *p = xrealloc(s->tok, sizeof(int32_t) * (size_t)cap, e);
    if (!p) return RP_ENOMEM;
    s->tok = p;
    s->cap_tok = cap;
    return RP_OK;
}

/* Adds sequence tok[start .. start+len) over tokens already stored. */
static int add_view(SeqSet *s, int64_t start, int64_t len, int64_t loss_from, Error *e) {
    if (len < 2 || loss_from < 1 || loss_from >= len || len > 0x7fffffff)
        return error_set(e, RP_EINTERNAL, "sequence of %lld tokens with loss from %lld", (long long)len, (long long)loss_from);
    if (s->n == s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 256;
        int64_t *st = xrealloc(s->start, sizeof(int64_t) * (size_t)cap, e);
        if (!st) return RP_ENOMEM;
        s->start = st;
        int32_t *ln = xrealloc(s->len, sizeof(int32_t) * (size_t)cap, e);
        if (!ln) return RP_ENOMEM;
        s->len = ln;
        int32_t *lf = xrealloc(s->loss_from, sizeof(int32_t) * (size_t)cap, e);
        if (!lf) return RP_ENOMEM;
        s->loss_from = lf;
        s->cap = cap;
    }
    s->start[s->n] = start;
    s->len[s->n] = (int32_t)len;
    s->loss_from[s->n] = (int32_t)loss_from;
    s->n++;
    return RP_OK;
}

int seqset_add(SeqSet *s, const int32_t *ids, int64_t n, int64_t loss_from, Error *e) {
    int rc = reserve_tok(s, n, e);
    if (rc) return rc;
    if ((rc = add_view(s, s->n_tok, n, loss_from, e))) return rc;
    memcpy(s->tok + s->n_tok, ids, sizeof(int32_t) * (size_t)n);
    s->n_tok += n;
    return RP_OK;
}

int64_t seqset_targets(const SeqSet *s) {
    int64_t n = 0;
    for (int64_t i = 0; i < s->n; i++) n += s->len[i] - s->loss_from[i];
    return n;
}

/* Encodes [BOS, if the model wants one] text + <|endoftext|> at the end of s's token storage (no
 * sequence added yet). */
static int append_doc(SeqSet *s, const Tokenizer *t, const char *text, TokenVec *scratch, Error *e) {
    scratch->n = 0;
    int rc = tokenizer_bos(t) >= 0 ? tokvec_push(scratch, tokenizer_bos(t), e) : RP_OK;
    if (!rc) rc = tokenizer_encode(t, text, strlen(text), scratch, e);
    if (!rc) rc = tokvec_push(scratch, tokenizer_special(t, TOK_EOT), e);
    if (!rc) rc = reserve_tok(s, scratch->n, e);
    if (rc) return rc;
    memcpy(s->tok + s->n_tok, scratch->v, sizeof(int32_t) * (size_t)scratch->n);
    s->n_tok += scratch->n;
    return RP_OK;
}

/* Cuts the stored stream into windows of up to T+1 tokens overlapping by one. */
static int cut_windows(SeqSet *s, int T, Error *e) {
    for (int64_t at = 0; s->n_tok - at >= 2; at += T) {
        int64_t len = s->n_tok - at < (int64_t)T + 1 ? s->n_tok - at : (int64_t)T + 1;
        int rc = add_view(s, at, len, 1, e);
        if (rc) return rc;
    }
    return RP_OK;
}

/* Adds one text to s unless `seen` has it (then it is a duplicate). */
static int add_text(SeqSet *s, const Tokenizer *t, StrMap *seen, const char *text, TokenVec *scratch, Error *e) {
    size_t n = strlen(text);
    int64_t dummy;
    if (n == 0 || strmap_get(seen, text, n, &dummy)) return RP_OK;
    int rc = strmap_put(seen, text, n, 1, e);
    return rc ? rc : append_doc(s, t, text, scratch, e);
}

static int add_split_texts(const Dataset *d, const char *split, const Tokenizer *t, StrMap *seen, SeqSet *s,
                           Error *e) {
    TokenVec scratch;
    tokvec_init(&scratch);
    StrBuf item;
    strbuf_init(&item);
    int rc = RP_OK;
    for (int64_t i = 0; i < d->n && !rc; i++) {
        if (strcmp(d->split[i], split)) continue;
        rc = add_text(s, t, seen, d->output[i], &scratch, e);
        for (int64_t j = 0; j < dataset_n_items(d, i) && !rc; j++) {
            strbuf_clear(&item);
            char **f = dataset_item(d, i, j);
            for (int k = 0; k < d->n_fields && !rc; k++)
                if (f[k][0]) rc = strbuf_printf(&item, e, "%s%s", item.len ? "\n" : "", f[k]);
            if (!rc && item.len) rc = add_text(s, t, seen, item.s, &scratch, e);
        }
    }
    strbuf_free(&item);
    tokvec_free(&scratch);
    return rc;
}

int batch_pretrain_corpus(const Dataset *d, const char *source, const Tokenizer *t, int T, SeqSet *train, SeqSet *val,
                          Error *e) {
    seqset_init(train);
    seqset_init(val);
    StrMap seen;
    int rc = strmap_init(&seen, 1024, e);
    if (rc) return rc;
    if (!(rc = add_split_texts(d, "train", t, &seen, train, e)) && !(rc = add_split_texts(d, "val", t, &seen, val, e)) &&
        !(rc = cut_windows(train, T, e)))
        rc = cut_windows(val, T, e);
    strmap_free(&seen);
    if (!rc && train->n == 0)
        rc = error_set(e, RP_EINPUT, "%s: the train split has no text to pretrain on", source);
    if (rc) {
        seqset_free(train);
        seqset_free(val);
    }
    return rc;
}

int batch_sft_corpus(const Dataset *d, const char *split, const Tokenizer *t, const PromptOptions *o, int T,
                     int skip_unreasoned, SeqSet *out, int64_t *n_truncated, int64_t *n_skipped, Error *e) {
    seqset_init(out);
    *n_truncated = *n_skipped = 0;
    PromptOptions opt = *o;
    opt.max_tokens = T + 1;
    BuiltPrompt bp;
    built_prompt_init(&bp);
    int rc = RP_OK;
    for (int64_t i = 0; i < d->n && !rc; i++) {
        if (strcmp(d->split[i], split)) continue;
        if (skip_unreasoned && o->reasoning && !d->reasoning[i][0]) {
            ++*n_skipped;
            continue;
        }
        if ((rc = prompt_build(d, i, t, &opt, &bp, e))) break;
        int64_t n = bp.tokens.n < (int64_t)T + 1 ? bp.tokens.n : (int64_t)T + 1;
        int64_t from = bp.n_prompt < 1 ? 1 : bp.n_prompt;
        if (from >= n) {
            rc = error_set(e, RP_EINPUT, "example '%s': no target token fits in --seq-len %d", d->id[i], T);
            break;
        }
        *n_truncated += bp.target_truncated != 0;
        rc = seqset_add(out, bp.tokens.v, n, from, e);
    }
    built_prompt_free(&bp);
    if (rc) seqset_free(out);
    return rc;
}

static void shuffle(DataOrder *o) {
    o->epoch_state = o->rng.state;
    for (int64_t i = 0; i < o->n; i++) o->perm[i] = i;
    for (int64_t i = o->n - 1; i > 0; i--) {
        int64_t j = (int64_t)(rng_next(&o->rng) % (uint64_t)(i + 1));
        int64_t tmp = o->perm[i];
        o->perm[i] = o->perm[j];
        o->perm[j] = tmp;
    }
}

int order_init(DataOrder *o, int64_t n, uint64_t seed, Error *e) {
    memset(o, 0, sizeof *o);
    if (n < 1) return error_set(e, RP_EINPUT, "no training sequences");
    o->perm = xmalloc(sizeof(int64_t) * (size_t)n, e);
    if (!o->perm) return RP_ENOMEM;
    o->n = n;
    rng_seed(&o->rng, seed);
    shuffle(o);
    return RP_OK;
}

int order_restore(DataOrder *o, int64_t n, uint64_t epoch_state, int64_t epoch, int64_t pos, Error *e) {
    int rc = order_init(o, n, 0, e);
    if (rc) return rc;
    if (pos < 0 || pos > n || epoch < 0) {
        order_free(o);
        return error_set(e, RP_EINPUT, "data position %lld of epoch %lld is outside 0..%lld", (long long)pos,
                         (long long)epoch, (long long)n);
    }
    o->rng.state = epoch_state;
    shuffle(o);
    o->epoch = epoch;
    o->pos = pos;
    return RP_OK;
}

void order_free(DataOrder *o) {
    free(o->perm);
    memset(o, 0, sizeof *o);
}

int64_t order_next(DataOrder *o) {
    if (o->pos == o->n) {
        shuffle(o);
        o->epoch++;
        o->pos = 0;
    }
    return o->perm[o->pos++];
}

int batch_init(Batch *b, int B, int T, Error *e) {
    memset(b, 0, sizeof *b);
    size_t n = (size_t)B * (size_t)T;
    b->inputs = xmalloc(sizeof(int32_t) * n, e);
    b->targets = xmalloc(sizeof(int32_t) * n, e);
    b->mask = xmalloc(sizeof(float) * n, e);
    if (!b->inputs || !b->targets || !b->mask) {
        batch_free(b);
        return RP_ENOMEM;
    }
    b->B = B;
    b->T = T;
    return RP_OK;
}

void batch_free(Batch *b) {
    free(b->inputs);
    free(b->targets);
    free(b->mask);
    memset(b, 0, sizeof *b);
}

void batch_fill(Batch *b, const SeqSet *s, const int64_t *idx, int n_seq, int32_t pad) {
    int T = 1;
    for (int r = 0; r < n_seq; r++) {
        int len = s->len[idx[r]] - 1;
        if (len > T) T = len;
    }
    if (T > b->T) T = b->T;
    b->T_used = T;
    b->n_target = b->n_real = 0;
    for (int r = 0; r < b->B; r++) {
        int32_t *in = b->inputs + (size_t)r * T, *tg = b->targets + (size_t)r * T;
        float *mk = b->mask + (size_t)r * T;
        int len = 0, from = 0;
        const int32_t *seq = NULL;
        if (r < n_seq) {
            seq = s->tok + s->start[idx[r]];
            len = s->len[idx[r]] - 1;
            if (len > T) len = T;
            from = s->loss_from[idx[r]];
        }
        for (int j = 0; j < T; j++) {
            int real = j < len;
            in[j] = real ? seq[j] : pad;
            tg[j] = real ? seq[j + 1] : pad;
            mk[j] = real && j + 1 >= from ? 1.0f : 0.0f;
            b->n_real += real;
            b->n_target += mk[j] != 0.0f;
        }
    }
}

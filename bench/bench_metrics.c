/* Benchmark: reward metric throughput on one core, on 200-word texts cut from the real prose of
 * tests/reference/metric_pairs.jsonl (predictions from the pairs' pred side, references from
 * their ref side, so related pairs keep their partial overlap).
 * Usage: bench_metrics [metric_pairs.jsonl] (default: $RESTPG_SOURCE_DIR/tests/reference/...,
 * else ./tests/reference/metric_pairs.jsonl).
 * Prints JSON lines, one per configuration: ROUGE-1/2/L together, pairwise with a cold and a
 * warm vocabulary, and with a prepared reference scored against 32 candidates (the E-step
 * pattern), without and with stemming; METEOR pairwise, its first pass (cold WordNet cache) and
 * warm. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/text.h"
#include "reward/meteor.h"
#include "reward/rouge.h"

#define WORDS 200
#define GROUP 32 /* candidates per reference, as N in the E-step */

typedef struct {
    char **t;
    size_t n;
} Texts;

/* Cuts the whitespace words of all texts, in order, into texts of WORDS words. */
static void cut(StrBuf *stream, Texts *out) {
    char *save = NULL, *w = strtok_r(stream->s, " \t\r\n", &save);
    StrBuf cur;
    Error e;
    int k = 0;
    strbuf_init(&cur);
    for (; w; w = strtok_r(NULL, " \t\r\n", &save)) {
        if (k) strbuf_append(&cur, " ", 1, &e);
        strbuf_puts(&cur, w, &e);
        if (++k == WORDS) {
            out->t = realloc(out->t, (out->n + 1) * sizeof *out->t);
            out->t[out->n++] = cur.s;
            strbuf_init(&cur);
            k = 0;
        }
    }
    strbuf_free(&cur);
}

static int load(const char *path, Texts *pred, Texts *ref) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_metrics: cannot open %s (pass the path of metric_pairs.jsonl)\n", path);
        return 1;
    }
    StrBuf ps, rs;
    Error e;
    strbuf_init(&ps);
    strbuf_init(&rs);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        cJSON *j = cJSON_Parse(line);
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "id"));
        const char *p = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "pred"));
        const char *r = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "ref"));
        if (id && p && r && strncmp(id, "edge_", 5) && strncmp(id, "long_", 5)) {
            strbuf_printf(&ps, &e, "%s\n", p);
            strbuf_printf(&rs, &e, "%s\n", r);
        }
        cJSON_Delete(j);
    }
    free(line);
    fclose(f);
    memset(pred, 0, sizeof *pred);
    memset(ref, 0, sizeof *ref);
    cut(&ps, pred);
    cut(&rs, ref);
    strbuf_free(&ps);
    strbuf_free(&rs);
    Texts *longer = ref->n > pred->n ? ref : pred;
    size_t n = ref->n < pred->n ? ref->n : pred->n;
    while (longer->n > n) free(longer->t[--longer->n]);
    if (pred->n < GROUP) {
        fprintf(stderr, "bench_metrics: %s yields only %zu texts of %d words\n", path, pred->n, WORDS);
        return 1;
    }
    return 0;
}

/* One pass of rouge_score(pred[i], ref[i]) over all i; returns 0, or -1 on failure. */
static double pairwise_once(Rouge *r, const Texts *pred, const Texts *ref, double *sink) {
    RougeScores s;
    Error e;
    for (size_t i = 0; i < pred->n; i++) {
        if (rouge_score(r, pred->t[i], strlen(pred->t[i]), ref->t[i], strlen(ref->t[i]), &s, &e)) return -1;
        *sink += s.rouge1.f + s.rouge2.f + s.rougeL.f;
    }
    return 0;
}

/* Pairwise passes with a warm vocabulary, repeated for at least a second. */
static double pairwise(Rouge *r, const Texts *pred, const Texts *ref, double *sink) {
    size_t done = 0;
    double t0 = time_now(), t;
    do {
        if (pairwise_once(r, pred, ref, sink) < 0) return -1;
        done += pred->n;
        t = time_now() - t0;
    } while (t < 1.0);
    return (double)done / t;
}

/* Pairwise with a fresh scorer per pass: every word is new, so each one is hashed in (and
 * stemmed) once per pass; the cost of a cold vocabulary. */
static double cold(int stem, const Texts *pred, const Texts *ref, double *sink) {
    size_t done = 0;
    double t0 = time_now(), t;
    do {
        Rouge r;
        Error e;
        if (rouge_init(&r, stem, &e)) return -1;
        double rate = pairwise_once(&r, pred, ref, sink);
        rouge_free(&r);
        if (rate < 0) return -1;
        done += pred->n;
        t = time_now() - t0;
    } while (t < 1.0);
    return (double)done / t;
}

/* E-step pattern: each reference prepared once, then scored against GROUP candidates. */
static double prepared(Rouge *r, const Texts *pred, const Texts *ref, double *sink) {
    RougeScores s;
    RougeRef f;
    Error e;
    size_t done = 0;
    double t0 = time_now(), t;
    do {
        for (size_t i = 0; i < ref->n; i++) {
            if (rouge_ref_init(r, &f, ref->t[i], strlen(ref->t[i]), &e)) return -1;
            for (size_t j = 0; j < GROUP; j++) {
                const char *c = pred->t[(i + j) % pred->n];
                if (rouge_score_ref(r, &f, c, strlen(c), &s, &e)) return -1;
                *sink += s.rouge1.f + s.rouge2.f + s.rougeL.f;
            }
            rouge_ref_free(&f);
        }
        done += ref->n * GROUP;
        t = time_now() - t0;
    } while (t < 1.0);
    return (double)done / t;
}

/* METEOR over all pairs: one pass (the first, on a fresh scorer, fills the WordNet cache), or
 * repeated for at least a second. */
static double meteor_pairwise(Meteor *m, const Texts *pred, const Texts *ref, int once, double *sink) {
    size_t done = 0;
    double t0 = time_now(), t;
    do {
        for (size_t i = 0; i < pred->n; i++) *sink += meteor_score(m, pred->t[i], ref->t[i]);
        done += pred->n;
        t = time_now() - t0;
    } while (!once && t < 1.0);
    return (double)done / t;
}

int main(int argc, char **argv) {
    char def[2048];
    const char *src = getenv("RESTPG_SOURCE_DIR");
    snprintf(def, sizeof def, "%s/tests/reference/metric_pairs.jsonl", src ? src : ".");
    const char *path = argc > 1 ? argv[1] : def;
    Texts pred, ref;
    if (load(path, &pred, &ref)) return 2;
    double sink = 0;

    /* ---- ROUGE-1/2/L ---- */
    for (int stem = 0; stem < 2; stem++) {
        Rouge r;
        Error e;
        if (rouge_init(&r, stem, &e)) return 1;
        pairwise(&r, &pred, &ref, &sink); /* warm the vocabulary and the stem cache */
        double pw = pairwise(&r, &pred, &ref, &sink), pr = prepared(&r, &pred, &ref, &sink);
        double pc = cold(stem, &pred, &ref, &sink);
        printf("{\"bench\": \"metrics\", \"metric\": \"rouge1+rouge2+rougeL\", \"mode\": "
               "\"pairwise_cold_vocab\", \"stem\": %s, \"words\": %d, \"texts\": %zu, \"threads\": 1, "
               "\"pairs_per_s\": %.0f}\n", stem ? "true" : "false", WORDS, pred.n, pc);
        printf("{\"bench\": \"metrics\", \"metric\": \"rouge1+rouge2+rougeL\", \"mode\": "
               "\"pairwise\", \"stem\": %s, \"words\": %d, \"texts\": %zu, \"threads\": 1, "
               "\"pairs_per_s\": %.0f}\n", stem ? "true" : "false", WORDS, pred.n, pw);
        printf("{\"bench\": \"metrics\", \"metric\": \"rouge1+rouge2+rougeL\", \"mode\": "
               "\"prepared_ref_x%d\", \"stem\": %s, \"words\": %d, \"texts\": %zu, \"threads\": 1, "
               "\"pairs_per_s\": %.0f}\n", GROUP, stem ? "true" : "false", WORDS, pred.n, pr);
        rouge_free(&r);
    }

    /* ---- METEOR (NLTK semantics; Punkt data from $RESTPG_DATA_DIR or the compiled-in dir) ---- */
    {
        Meteor m;
        Error e;
        if (meteor_init(&m, NLTK_3_10, &e)) {
            fprintf(stderr, "bench_metrics: %s\n", e.msg);
            return 1;
        }
        double cold_wn = meteor_pairwise(&m, &pred, &ref, 1, &sink), warm = meteor_pairwise(&m, &pred, &ref, 0, &sink);
        printf("{\"bench\": \"metrics\", \"metric\": \"meteor\", \"mode\": \"pairwise_cold_wordnet\", "
               "\"words\": %d, \"texts\": %zu, \"threads\": 1, \"pairs_per_s\": %.0f}\n", WORDS, pred.n, cold_wn);
        printf("{\"bench\": \"metrics\", \"metric\": \"meteor\", \"mode\": \"pairwise\", \"words\": %d, "
               "\"texts\": %zu, \"threads\": 1, \"pairs_per_s\": %.0f}\n", WORDS, pred.n, warm);
        meteor_free(&m);
    }

    fprintf(stderr, "checksum %.6f\n", sink);
    for (size_t i = 0; i < pred.n; i++) free(pred.t[i]), free(ref.t[i]);
    free(pred.t);
    free(ref.t);
    return 0;
}

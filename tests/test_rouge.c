/* ROUGE parity: every pair of tests/reference/metric_pairs.jsonl scored as rouge_score does
 * (tests/reference/rouge_expected.jsonl), with and without stemming, through both the pairwise
 * and the prepared-reference paths; edge-case tokenization; the DP fallback for huge texts. */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "reward/rouge.h"
#include "tests/test.h"

static long n_values, n_exact, n_pairs;
static double max_err;

static void check_score(const char *id, const char *what, const RougeScore *s, const cJSON *want) {
    double got[3] = {s->p, s->r, s->f};
    for (int i = 0; i < 3; i++) {
        const cJSON *w = cJSON_GetArrayItem(want, i);
        double x = w ? w->valuedouble : -1, err = fabs(got[i] - x);
        n_values++;
        n_exact += got[i] == x;
        if (err > max_err) max_err = err;
        CHECK_MSG(err <= 1e-6, "%s %s[%d]: %.17g, rouge_score %.17g", id, what, i, got[i], x);
    }
}

static void check_set(const char *id, const char *mode, const RougeScores *s, const cJSON *want) {
    char what[64];
    snprintf(what, sizeof what, "%s rouge1", mode);
    check_score(id, what, &s->rouge1, cJSON_GetObjectItemCaseSensitive(want, "rouge1"));
    snprintf(what, sizeof what, "%s rouge2", mode);
    check_score(id, what, &s->rouge2, cJSON_GetObjectItemCaseSensitive(want, "rouge2"));
    snprintf(what, sizeof what, "%s rougeL", mode);
    check_score(id, what, &s->rougeL, cJSON_GetObjectItemCaseSensitive(want, "rougeL"));
}

static void check_tokens(Rouge *r, const char *id, const char *text, const cJSON *want) {
    StrBuf b;
    Error e;
    strbuf_init(&b);
    CHECK_OK(rouge_tokens(r, text, strlen(text), &b, &e), &e);
    const char *w = cJSON_IsString(want) ? want->valuestring : "(missing)";
    CHECK_MSG(!strcmp(b.s ? b.s : "", w), "%s tokens '%s', rouge_score '%s'", id, b.s ? b.s : "", w);
    strbuf_free(&b);
}

static void parity(const char *dir) {
    char p1[1024], p2[1024];
    snprintf(p1, sizeof p1, "%s/tests/reference/metric_pairs.jsonl", dir);
    snprintf(p2, sizeof p2, "%s/tests/reference/rouge_expected.jsonl", dir);
    FILE *fp = fopen(p1, "r"), *fe = fopen(p2, "r");
    CHECK_MSG(fp && fe, "cannot open %s or %s", p1, p2);
    if (!fp || !fe) return;
    Rouge rs[2];
    Error e;
    CHECK_OK(rouge_init(&rs[0], 0, &e), &e);
    CHECK_OK(rouge_init(&rs[1], 1, &e), &e);
    static const char *mode[2] = {"nostem", "stem"};
    char *l1 = NULL, *l2 = NULL;
    size_t c1 = 0, c2 = 0;
    while (getline(&l1, &c1, fp) > 0 && getline(&l2, &c2, fe) > 0) {
        cJSON *pair = cJSON_Parse(l1), *want = cJSON_Parse(l2);
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pair, "id"));
        const char *pred = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pair, "pred"));
        const char *ref = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(pair, "ref"));
        const char *wid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(want, "id"));
        CHECK(id && pred && ref && wid && !strcmp(id, wid));
        if (!id || !pred || !ref || !wid || strcmp(id, wid)) break;
        n_pairs++;
        for (int m = 0; m < 2; m++) {
            const cJSON *w = cJSON_GetObjectItemCaseSensitive(want, mode[m]);
            RougeScores s;
            CHECK_OK(rouge_score(&rs[m], pred, strlen(pred), ref, strlen(ref), &s, &e), &e);
            check_set(id, mode[m], &s, w);
            RougeRef prepared;
            CHECK_OK(rouge_ref_init(&rs[m], &prepared, ref, strlen(ref), &e), &e);
            CHECK_OK(rouge_score_ref(&rs[m], &prepared, pred, strlen(pred), &s, &e), &e);
            check_set(id, mode[m], &s, w);
            rouge_ref_free(&prepared);
        }
        const cJSON *tk = cJSON_GetObjectItemCaseSensitive(want, "tokens");
        if (tk) {
            check_tokens(&rs[0], id, pred, cJSON_GetObjectItemCaseSensitive(tk, "pred"));
            check_tokens(&rs[0], id, ref, cJSON_GetObjectItemCaseSensitive(tk, "ref"));
            check_tokens(&rs[1], id, pred, cJSON_GetObjectItemCaseSensitive(tk, "pred_stem"));
            check_tokens(&rs[1], id, ref, cJSON_GetObjectItemCaseSensitive(tk, "ref_stem"));
        }
        cJSON_Delete(pair);
        cJSON_Delete(want);
    }
    free(l1);
    free(l2);
    fclose(fp);
    fclose(fe);
    rouge_free(&rs[0]);
    rouge_free(&rs[1]);
    CHECK_MSG(n_pairs >= 600, "only %ld pairs", n_pairs);
    printf("rouge parity: %ld pairs, %ld values, %ld bit-identical, max |diff| %.3g\n", n_pairs,
           n_values, n_exact, max_err);
}

/* Texts with this many distinct tokens overflow the LCS masks, so the reference side takes the
 * one-row DP; LCS is symmetric, so swapping the sides (masks) must give the mirrored scores. */
static void dp_fallback(void) {
    size_t n = 30000;
    StrBuf big, small;
    strbuf_init(&big);
    strbuf_init(&small);
    Error e;
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        CHECK(strbuf_printf(&big, &e, "w%zu ", i) == RP_OK);
        x = x * 1103515245u + 12345u;
        if (i % 50 == 0) CHECK(strbuf_printf(&small, &e, "w%u ", (x >> 8) % 40000) == RP_OK);
        if (i % 97 == 0) CHECK(strbuf_printf(&small, &e, "w%zu ", i) == RP_OK);
    }
    Rouge r;
    RougeScores a, b;
    CHECK_OK(rouge_init(&r, 0, &e), &e);
    CHECK_OK(rouge_score(&r, small.s, small.len, big.s, big.len, &a, &e), &e);
    CHECK_OK(rouge_score(&r, big.s, big.len, small.s, small.len, &b, &e), &e);
    CHECK(a.rougeL.p == b.rougeL.r && a.rougeL.r == b.rougeL.p && a.rougeL.f > 0);
    CHECK(a.rouge1.p == b.rouge1.r && a.rouge2.p == b.rouge2.r);
    rouge_free(&r);
    strbuf_free(&big);
    strbuf_free(&small);
}

int main(void) {
    const char *src = getenv("RESTPG_SOURCE_DIR");
    parity(src ? src : ".");
    dp_fallback();

    Rouge r;
    Error e;
    RougeScores s;
    CHECK_OK(rouge_init(&r, 1, &e), &e);
    /* Empty sides score 0 everywhere, as rouge_score does. */
    CHECK_OK(rouge_score(&r, "", 0, "words here", 10, &s, &e), &e);
    CHECK(s.rouge1.f == 0 && s.rouge2.f == 0 && s.rougeL.f == 0);
    CHECK_OK(rouge_score(&r, "!!", 2, "", 0, &s, &e), &e);
    CHECK(s.rouge1.f == 0 && s.rougeL.p == 0);
    /* One identical word: ROUGE-1 and ROUGE-L are 1, ROUGE-2 has no bigrams and is 0. */
    CHECK_OK(rouge_score(&r, "Word", 4, "word.", 5, &s, &e), &e);
    CHECK(s.rouge1.f == 1 && s.rougeL.f == 1 && s.rouge2.f == 0);
    /* KELVIN SIGN lowercases to ASCII "k" in Python and so joins the token; invalid UTF-8 is a
     * separator. */
    StrBuf b;
    strbuf_init(&b);
    CHECK_OK(rouge_tokens(&r, "\xe2\x84\xaa" "elvins ok\xff" "go", 15, &b, &e), &e);
    CHECK_STR(b.s, "kelvin ok go");
    strbuf_free(&b);
    rouge_free(&r);
    return test_summary("test_rouge");
}

/* BM25 (rank_bm25 BM25Okapi semantics) against scores computed by hand, top-k order and ties,
 * and Python-compatible whitespace splitting. */
#include <stdlib.h>

#include "data/bm25.h"
#include "tests/test.h"

/* Corpus: d0 "the cat sat" (3 tokens), d1 "the dog sat down" (4), d2 "the cat the cat" (4),
 * d3 "a bird" (2). N = 4, avgdl = 13 / 4 = 3.25.
 * df: the 3, cat 2, sat 2, dog 1, down 1, a 1, bird 1.
 * idf = ln(N - df + 0.5) - ln(df + 0.5):
 *   the:  ln(1.5) - ln(3.5) = -0.847298 (negative)
 *   cat, sat: ln(2.5) - ln(2.5) = 0 (zero stays zero: only negatives are floored)
 *   dog, down, a, bird: ln(3.5) - ln(1.5) = 0.847298
 * mean idf over the 7 terms before flooring = (-0.847298 + 4 * 0.847298) / 7 = 0.363128;
 * floor = epsilon * mean = 0.25 * 0.363128 = 0.090782, so idf(the) = 0.090782.
 * Length norm k1 * (1 - b + b * dl / avgdl) = 1.5 * (0.25 + 0.75 * dl / 3.25):
 *   dl 3: 1.413462; dl 4: 1.759615; dl 2: 1.067308.
 * Query "the dog cat", per document sum of idf * tf * 2.5 / (tf + norm):
 *   d0: the tf 1: 0.090782 * 2.5 / 2.413462 = 0.094037; cat adds 0     -> 0.094037
 *   d1: the tf 1: 0.090782 * 2.5 / 2.759615 = 0.082241;
 *       dog tf 1: 0.847298 * 2.5 / 2.759615 = 0.767586                -> 0.849827
 *   d2: the tf 2: 0.090782 * 5.0 / 3.759615 = 0.120733; cat adds 0     -> 0.120733
 *   d3: nothing matches                                               -> 0
 * Query "dog dog": a repeated query token counts twice: 2 * 0.767586 = 1.535172 for d1. */
static void test_hand_scores(void) {
    Error e;
    error_clear(&e);
    const char *docs[] = {"the cat sat", "the dog sat down", "the cat the cat", "a bird"};
    Bm25 m;
    CHECK_OK(bm25_init(&m, docs, 4, &e), &e);
    CHECK(m.n_docs == 4 && m.n_terms == 7);
    CHECK_NEAR(m.avgdl, 3.25, 1e-12);
    CHECK_NEAR(m.average_idf, 0.363128, 1e-6);
    CHECK_NEAR(bm25_idf(&m, "the"), 0.090782, 1e-6);
    CHECK_NEAR(bm25_idf(&m, "cat"), 0.0, 1e-15);
    CHECK_NEAR(bm25_idf(&m, "dog"), 0.847298, 1e-6);
    CHECK_NEAR(bm25_idf(&m, "unicorn"), 0.0, 1e-15);

    double s[4];
    bm25_score(&m, "the dog cat", s);
    CHECK_NEAR(s[0], 0.094037, 1e-5);
    CHECK_NEAR(s[1], 0.849827, 1e-5);
    CHECK_NEAR(s[2], 0.120733, 1e-5);
    CHECK_NEAR(s[3], 0.0, 1e-15);
    bm25_score(&m, "dog dog", s);
    CHECK_NEAR(s[1], 1.535172, 1e-5);
    CHECK_NEAR(s[0] + s[2] + s[3], 0.0, 1e-15);

    int64_t idx[4], n;
    double sc[4];
    CHECK_OK(bm25_top_k(&m, "the dog cat", 10, idx, sc, &n, &e), &e);
    CHECK(n == 4 && idx[0] == 1 && idx[1] == 2 && idx[2] == 0 && idx[3] == 3);
    CHECK_NEAR(sc[0], 0.849827, 1e-5);
    /* Zero-score documents are still returned; with nothing matching, index order decides. */
    CHECK_OK(bm25_top_k(&m, "sat unicorn", 3, idx, NULL, &n, &e), &e);
    CHECK(n == 3 && idx[0] == 0 && idx[1] == 1 && idx[2] == 2);
    CHECK_OK(bm25_top_k(&m, "dog", 0, idx, NULL, &n, &e), &e);
    CHECK(n == 0);
    bm25_free(&m);
}

/* Ties with a non-zero score: d0 and d2 are the same text, so they score the same and come out
 * by index, ahead of d1; k = 2 cuts after the tie. N = 5, df(x) = 2: idf = ln(3.5 / 2.5) > 0. */
static void test_ties(void) {
    Error e;
    error_clear(&e);
    const char *docs[] = {"x y", "y z", "x y", "w v", "u t"};
    Bm25 m;
    CHECK_OK(bm25_init(&m, docs, 5, &e), &e);
    int64_t idx[5], n;
    double sc[5];
    CHECK_OK(bm25_top_k(&m, "x", 5, idx, sc, &n, &e), &e);
    CHECK(n == 5 && idx[0] == 0 && idx[1] == 2 && idx[2] == 1 && idx[3] == 3 && idx[4] == 4);
    CHECK(sc[0] == sc[1] && sc[0] > 0 && sc[2] == 0);
    CHECK_OK(bm25_top_k(&m, "x", 2, idx, NULL, &n, &e), &e);
    CHECK(n == 2 && idx[0] == 0 && idx[1] == 2);
    bm25_free(&m);
}

/* rank_bm25's floor can itself be negative: in "x y", "y z", "x y" (N = 3)
 *   idf(x) = ln(1.5) - ln(2.5) = -0.510826, idf(y) = ln(0.5) - ln(3.5) = -1.945910,
 *   idf(z) = ln(2.5) - ln(1.5) = 0.510826; mean = -1.945910 / 3 = -0.648637;
 *   floor = 0.25 * -0.648637 = -0.162159 for x and y.
 * For query "x", d0 and d2 (tf 1, dl 2 = avgdl, norm 1.5) score -0.162159 * 2.5 / 2.5 =
 * -0.162159, below d1's 0, so d1 ranks first. */
static void test_negative_floor(void) {
    Error e;
    error_clear(&e);
    const char *docs[] = {"x y", "y z", "x y"};
    Bm25 m;
    CHECK_OK(bm25_init(&m, docs, 3, &e), &e);
    CHECK_NEAR(m.average_idf, -0.648637, 1e-6);
    CHECK_NEAR(bm25_idf(&m, "x"), -0.162159, 1e-6);
    CHECK_NEAR(bm25_idf(&m, "y"), -0.162159, 1e-6);
    CHECK_NEAR(bm25_idf(&m, "z"), 0.510826, 1e-6);
    int64_t idx[3], n;
    double sc[3];
    CHECK_OK(bm25_top_k(&m, "x", 3, idx, sc, &n, &e), &e);
    CHECK(n == 3 && idx[0] == 1 && idx[1] == 0 && idx[2] == 2);
    CHECK_NEAR(sc[1], -0.162159, 1e-6);
    bm25_free(&m);
}

/* Degenerate corpora score zero instead of dividing by zero. */
static void test_empty(void) {
    Error e;
    error_clear(&e);
    Bm25 m;
    CHECK_OK(bm25_init(&m, NULL, 0, &e), &e);
    int64_t idx[1], n = 7;
    CHECK_OK(bm25_top_k(&m, "x", 3, idx, NULL, &n, &e), &e);
    CHECK(n == 0);
    bm25_free(&m);
    const char *blank[] = {"", "  \n"};
    CHECK_OK(bm25_init(&m, blank, 2, &e), &e);
    double s[2] = {1, 1};
    bm25_score(&m, "x", s);
    CHECK(m.n_terms == 0 && s[0] == 0 && s[1] == 0);
    bm25_free(&m);
}

/* str.split(): ASCII and Unicode whitespace separate (NBSP U+00A0, U+3000, the \x1c..\x1f
 * separators); a zero-width space U+200B does not. */
static void test_split(void) {
    const char *s = "  a\xc2\xa0" "b\xe3\x80\x80" "c\x1c" "d\te\xe2\x80\x8b" "f  ";
    const char *want[] = {"a", "b", "c", "d", "e\xe2\x80\x8b" "f"}; /* 5 tokens */
    size_t pos = 0, b, l, n = strlen(s);
    int k = 0;
    while (pysplit_next(s, n, &pos, &b, &l)) {
        CHECK(k < 5 && l == strlen(want[k]) && !memcmp(s + b, want[k], l));
        k++;
    }
    CHECK(k == 5);
    pystrip(s, n, &b, &l);
    CHECK(b == 2 && l == n - 4);
    pystrip(" \n ", 3, &b, &l);
    CHECK(l == 0);

    Error e;
    error_clear(&e);
    const char *docs[] = {"tea\xe2\x80\x83" "cup", "tea cup."};
    Bm25 m;
    CHECK_OK(bm25_init(&m, docs, 2, &e), &e);
    CHECK(m.n_terms == 3); /* tea, cup, "cup." */
    bm25_free(&m);
}

int main(void) {
    test_hand_scores();
    test_ties();
    test_negative_floor();
    test_empty();
    test_split();
    return test_summary("test_bm25");
}

/* Porter stemmer: every word of tests/reference/porter_expected.tsv (NLTK's PorterStemmer on
 * 100k+ words: WordNet lemmas and inflections, the metric pairs' tokens as written, NLTK's special
 * cases) must stem identically, plus the buffer contract and Python-exact lowercasing. */
#include <stdlib.h>

#include "reward/porter.h"
#include "reward/unicase.h"
#include "tests/test.h"

static void check_reference(const char *path) {
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    if (!f) return;
    char line[4096], out[4096 * 3 + 8];
    long n = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t');
        size_t len = strlen(line);
        if (len && line[len - 1] == '\n') line[--len] = '\0';
        if (!tab) continue;
        *tab = '\0';
        int r = porter_stem(line, (size_t)(tab - line), out, sizeof out);
        n++;
        if (r < 0 || strcmp(out, tab + 1) != 0) {
            if (bad++ < 20) fprintf(stderr, "porter('%s') = '%s', NLTK '%s'\n", line, out, tab + 1);
        }
    }
    fclose(f);
    CHECK_MSG(n > 100000, "only %ld reference words", n);
    CHECK_MSG(bad == 0, "%ld of %ld words differ from NLTK", bad, n);
    printf("porter: %ld words, %ld mismatches\n", n, bad);
}

int main(void) {
    const char *src = getenv("RESTPG_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/reference/porter_expected.tsv", src ? src : ".");
    check_reference(path);

    /* snprintf-style contract: the length comes back even when the buffer is too small. */
    char small[4];
    CHECK(porter_stem("generalization", 14, small, sizeof small) == 5);
    char out[64];
    CHECK(porter_stem("generalization", 14, out, sizeof out) == 5);
    CHECK_STR(out, "gener");
    CHECK(porter_stem("", 0, out, sizeof out) == 0 && out[0] == '\0');

    /* A long word takes the heap path; a long run of y's must not recurse. */
    size_t big = 200000;
    char *w = malloc(big + 1), *o = malloc(3 * big + 8);
    CHECK(w && o);
    if (w && o) {
        memset(w, 'y', big);
        CHECK(porter_stem(w, big, o, 3 * big + 8) == (int)big);
        CHECK(o[big - 1] == 'i'); /* y -> i after a consonant y, as NLTK does */
    }
    free(w);
    free(o);

    /* Python's str.lower(): one-to-many U+0130 and Final_Sigma. */
    StrBuf b;
    Error e;
    strbuf_init(&b);
    const char *mixed = "İSTANBUL ΟΔΟΣ Σ ΑΣ. ÉCOLE \xff";
    CHECK_OK(unicase_lower_utf8(mixed, strlen(mixed), &b, &e), &e);
    CHECK_STR(b.s, "i̇stanbul οδος σ ας. école \xff");
    strbuf_free(&b);
    return test_summary("test_porter");
}

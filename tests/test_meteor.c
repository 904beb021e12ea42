/* METEOR parity with NLTK as Hugging Face `evaluate` calls it: every pair of
 * tests/reference/metric_pairs.jsonl against tests/reference/meteor_expected.jsonl (corpus mean
 * within 0.002, the bound, and each pair within 1e-6), the Punkt sentence splitter and the
 * word tokenizer on tricky texts and the WordNet synonym sets against meteor_cases.jsonl (all made
 * by tests/reference/make_meteor_refs.py), scoring from two threads at once, bad data files, and
 * `restpg score --metrics meteor --meteor-compat nltk3.8` on the same pairs. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "reward/cptext.h"
#include "reward/meteor.h"
#include "reward/punkt.h"
#include "tests/test.h"

typedef struct {
    char **id, **pred, **ref;
    double *want, *got;
    cJSON **extra;
    size_t n;
} Pairs;

static char src[1024];

static cJSON *next_json(FILE *f, char **line, size_t *cap) {
    return getline(line, cap, f) > 0 ? cJSON_Parse(*line) : NULL;
}

static const char *str_of(const cJSON *o, const char *k) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* The tokens meteor_tokenize gives, compared with a JSON list. */
static void check_tokens(Meteor *m, const char *what, const char *text, const cJSON *want) {
    StrBuf b;
    Error e;
    strbuf_init(&b);
    CHECK_OK(meteor_tokenize(m, text, strlen(text), &b, &e), &e);
    StrBuf w;
    strbuf_init(&w);
    const cJSON *t;
    cJSON_ArrayForEach(t, want) strbuf_printf(&w, &e, "%s\n", t->valuestring);
    CHECK_MSG(!strcmp(b.s ? b.s : "", w.s ? w.s : ""), "%s: tokens\n%s-- NLTK:\n%s", what, b.s ? b.s : "",
              w.s ? w.s : "");
    strbuf_free(&b);
    strbuf_free(&w);
}

static void check_sentences(Meteor *m, const char *text, const cJSON *want) {
    CpBuf t;
    PunktSpans s = {0};
    Error e;
    cpbuf_init(&t);
    CHECK_OK(cp_decode(text, strlen(text), &t, &e), &e);
    CHECK_OK(punkt_spans(&m->punkt, t.v, t.n, &s, &e), &e);
    int n = cJSON_GetArraySize(want), ok = (size_t)n == s.n;
    for (int i = 0; i < n && ok; i++) {
        StrBuf b;
        strbuf_init(&b);
        cp_encode(t.v + s.v[i].start, s.v[i].end - s.v[i].start, &b, &e);
        ok = !strcmp(b.s ? b.s : "", cJSON_GetArrayItem(want, i)->valuestring);
        strbuf_free(&b);
    }
    CHECK_MSG(ok, "sentences of '%s': %zu spans, NLTK %d sentences (or a sentence differs)", text, s.n, n);
    punkt_spans_free(&s);
    cpbuf_free(&t);
}

/* The synonym set of word equals NLTK's names without '_' and without upper-case letters. */
static void check_wordnet(Meteor *m, const char *word, const cJSON *names) {
    WnSet set;
    Error e;
    size_t len = strlen(word), want = 0;
    const char *wp = word;
    CHECK_OK(wnsyn_sets(&m->wordnet, &wp, &len, 1, &set, &e), &e);
    const cJSON *nm;
    int all_in = 1;
    cJSON_ArrayForEach(nm, names) {
        const char *s = nm->valuestring;
        if (strpbrk(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")) continue;
        want++;
        size_t sl = strlen(s);
        int32_t id;
        wnsyn_name_ids(&m->wordnet, &s, &sl, 1, &id);
        int in = 0;
        for (size_t i = 0; i < set.n; i++) in |= set.ids[i] == id;
        if (!in) all_in = 0, fprintf(stderr, "synonyms of '%s': NLTK's '%s' missing\n", word, s);
    }
    CHECK_MSG(all_in && set.n == want, "synonyms of '%s': %zu names, NLTK %zu", word, set.n, want);
}

static void cases(Meteor *m) {
    char path[2048], *line = NULL;
    size_t cap = 0, texts = 0, words = 0;
    snprintf(path, sizeof path, "%s/tests/reference/meteor_cases.jsonl", src);
    FILE *f = fopen(path, "r");
    CHECK_MSG(f != NULL, "cannot open %s", path);
    if (!f) return;
    for (cJSON *c; (c = next_json(f, &line, &cap));) {
        const char *kind = str_of(c, "kind");
        if (kind && !strcmp(kind, "text")) {
            const char *t = str_of(c, "text");
            check_sentences(m, t, cJSON_GetObjectItemCaseSensitive(c, "sentences"));
            check_tokens(m, t, t, cJSON_GetObjectItemCaseSensitive(c, "tokens"));
            texts++;
        } else if (kind && !strcmp(kind, "wordnet")) {
            check_wordnet(m, str_of(c, "word"), cJSON_GetObjectItemCaseSensitive(c, "names"));
            words++;
        }
        cJSON_Delete(c);
    }
    free(line);
    fclose(f);
    printf("tokenizer cases: %zu texts, WordNet cases: %zu words\n", texts, words);
    CHECK(texts >= 30 && words >= 100);
}

static void load_pairs(Pairs *p) {
    char p1[2048], p2[2048], *l1 = NULL;
    size_t c1 = 0;
    snprintf(p1, sizeof p1, "%s/tests/reference/metric_pairs.jsonl", src);
    snprintf(p2, sizeof p2, "%s/tests/reference/meteor_expected.jsonl", src);
    FILE *fp = fopen(p1, "r"), *fe = fopen(p2, "r");
    CHECK_MSG(fp && fe, "cannot open %s or %s", p1, p2);
    memset(p, 0, sizeof *p);
    for (cJSON *a, *b; fp && fe && (a = next_json(fp, &l1, &c1));) {
        b = next_json(fe, &l1, &c1);
        const char *id = str_of(a, "id"), *wid = b ? str_of(b, "id") : NULL;
        CHECK_MSG(id && wid && !strcmp(id, wid), "pair %zu: ids differ between the two files", p->n);
        p->id = realloc(p->id, (p->n + 1) * sizeof *p->id);
        p->pred = realloc(p->pred, (p->n + 1) * sizeof *p->pred);
        p->ref = realloc(p->ref, (p->n + 1) * sizeof *p->ref);
        p->want = realloc(p->want, (p->n + 1) * sizeof *p->want);
        p->extra = realloc(p->extra, (p->n + 1) * sizeof *p->extra);
        p->id[p->n] = strdup(id ? id : "?");
        p->pred[p->n] = strdup(str_of(a, "pred") ? str_of(a, "pred") : "");
        p->ref[p->n] = strdup(str_of(a, "ref") ? str_of(a, "ref") : "");
        const cJSON *w = b ? cJSON_GetObjectItemCaseSensitive(b, "meteor") : NULL;
        p->want[p->n] = cJSON_IsNumber(w) ? w->valuedouble : -1;
        p->extra[p->n++] = b;
        cJSON_Delete(a);
    }
    free(l1);
    if (fp) fclose(fp);
    if (fe) fclose(fe);
    p->got = calloc(p->n + 1, sizeof *p->got);
}

static void parity(Meteor *m, Pairs *p) {
    size_t close = 0, exact = 0;
    double sum_got = 0, sum_want = 0, max_err = 0;
    for (size_t i = 0; i < p->n; i++) {
        Error e;
        CHECK_OK(meteor_score_n(m, p->pred[i], strlen(p->pred[i]), p->ref[i], strlen(p->ref[i]), &p->got[i], &e), &e);
        double err = fabs(p->got[i] - p->want[i]);
        close += err <= 1e-6;
        exact += p->got[i] == p->want[i];
        if (err > max_err) max_err = err;
        CHECK_MSG(err <= 1e-6, "%s: METEOR %.17g, NLTK %.17g", p->id[i], p->got[i], p->want[i]);
        sum_got += p->got[i], sum_want += p->want[i];
        if (!strncmp(p->id[i], "edge_", 5)) {
            check_tokens(m, p->id[i], p->pred[i], cJSON_GetObjectItemCaseSensitive(p->extra[i], "pred_tokens"));
            check_tokens(m, p->id[i], p->ref[i], cJSON_GetObjectItemCaseSensitive(p->extra[i], "ref_tokens"));
        }
    }
    double mean_got = sum_got / (double)p->n, mean_want = sum_want / (double)p->n;
    printf("METEOR parity: %zu pairs, %zu within 1e-6 (%zu bit-identical), max |diff| %.3g; corpus mean %.6f, "
           "NLTK %.6f\n", p->n, close, exact, max_err, mean_got, mean_want);
    CHECK(p->n >= 600);
    CHECK_NEAR(mean_got, mean_want, 0.002);
}

/* Bytes that are not UTF-8 (no Python str holds them) survive tokenization unchanged and match
 * themselves; two identical two-word texts score Fmean 1 with one chunk of two matches. The stem
 * stage reads every bad byte as U+FFFD (reward/porter.h), so different bad bytes stem alike. */
static void invalid_utf8(Meteor *m) {
    const char *t = "caf\xe9 ok\xff";
    StrBuf b;
    Error e;
    strbuf_init(&b);
    CHECK_OK(meteor_tokenize(m, t, strlen(t), &b, &e), &e);
    CHECK_STR(b.s, "caf\xe9\nok\xff\n");
    strbuf_free(&b);
    CHECK_NEAR(meteor_score(m, t, t), 1.0 - 0.5 * 0.125, 1e-15);
    CHECK(meteor_score(m, "caf\xe9", "caf\xe8") == meteor_score(m, "caf\xe9", "caf\xe9"));
}

/* str.strip(): Unicode whitespace at both ends goes, a bad byte or inner space stays. */
static void strip(void) {
    static const struct {
        const char *in, *out;
    } cases[] = {{"\xe3\x80\x80 \n\"hi\" x\xc2\x85\t", "\"hi\" x"}, {" \t\r\n", ""}, {"", ""},
                 {"\xff a \xff", "\xff a \xff"}, {"a\xe2\x80\xa8", "a"}, {"\xc2\xa0\x1c-\x1f", "-"}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t start, n = meteor_strip(cases[i].in, strlen(cases[i].in), &start);
        CHECK_MSG(n == strlen(cases[i].out) && !memcmp(cases[i].in + start, cases[i].out, n), "strip case %zu", i);
    }
}

typedef struct {
    Meteor *m;
    const Pairs *p;
    size_t from;
    int same;
} Job;

static void *score_half(void *arg) {
    Job *j = arg;
    j->same = 1;
    for (size_t i = j->from; i < j->p->n; i += 2)
        j->same &= meteor_score(j->m, j->p->pred[i], j->p->ref[i]) == j->p->got[i];
    return NULL;
}

/* A fresh scorer (cold WordNet cache) shared by two threads gives the single-thread scores. */
static void threads(const Pairs *p) {
    Meteor m;
    Error e;
    CHECK_OK(meteor_init(&m, NLTK_3_8, &e), &e);
    pthread_t t[2];
    Job j[2] = {{&m, p, 0, 0}, {&m, p, 1, 0}};
    for (int k = 0; k < 2; k++) CHECK(pthread_create(&t[k], NULL, score_half, &j[k]) == 0);
    for (int k = 0; k < 2; k++) pthread_join(t[k], NULL);
    CHECK(j[0].same && j[1].same);
    meteor_free(&m);
}

/* Writes one side of the pairs as JSON Lines {id, text}. */
static void write_side(const char *path, const Pairs *p, char **texts) {
    FILE *f = fopen(path, "w");
    CHECK_MSG(f != NULL, "cannot write %s", path);
    for (size_t i = 0; f && i < p->n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "id", p->id[i]);
        cJSON_AddStringToObject(o, "text", texts[i]);
        char *s = cJSON_PrintUnformatted(o);
        fprintf(f, "%s\n", s);
        free(s);
        cJSON_Delete(o);
    }
    if (f) fclose(f);
}

/* The CLI's corpus mean is the mean of NLTK's scores (LongLaMP's strip changes none of these). */
static void cli(const Pairs *p) {
    const char *restpg = getenv("RESTPG"), *tmp = getenv("RESTPG_TEST_TMP");
    if (!restpg) {
        fprintf(stderr, "test_meteor: RESTPG not set, skipping the CLI check (run through ctest)\n");
        return;
    }
    char pred[2048], ref[2048], out[2048], cmd[8192], line[512];
    snprintf(pred, sizeof pred, "%s/meteor_pred_%d.jsonl", tmp ? tmp : "/tmp", (int)getpid());
    snprintf(ref, sizeof ref, "%s/meteor_ref_%d.jsonl", tmp ? tmp : "/tmp", (int)getpid());
    snprintf(out, sizeof out, "%s/meteor_out_%d.txt", tmp ? tmp : "/tmp", (int)getpid());
    write_side(pred, p, p->pred);
    write_side(ref, p, p->ref);
    snprintf(cmd, sizeof cmd, "'%s' score --pred '%s' --ref '%s' --metrics meteor --meteor-compat nltk3.8 > '%s' 2>&1", restpg, pred, ref, out);
    CHECK(system(cmd) == 0);
    double mean = -1, want = 0;
    FILE *f = fopen(out, "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "meteor", 6)) mean = atof(line + 6);
    if (f) fclose(f);
    for (size_t i = 0; i < p->n; i++) want += p->want[i];
    CHECK_NEAR(mean, want / (double)p->n, 1e-6);
    unlink(pred), unlink(ref), unlink(out);
}

static void bad_files(void) {
    const char *tmp = getenv("RESTPG_TEST_TMP");
    char path[2048], wn[] = "/usr/share/wordnet";
    snprintf(path, sizeof path, "%s/meteor_bad_%d.tsv", tmp ? tmp : "/tmp", (int)getpid());
    Meteor m;
    Error e;
    CHECK(meteor_init_paths(&m, NLTK_3_8, "/nonexistent/punkt_english.tsv", wn, &e) == RP_EINPUT);
    CHECK(strstr(e.msg, "/nonexistent/punkt_english.tsv") != NULL);
    char good[2048];
    snprintf(good, sizeof good, "%s/reward/data/%s", src, METEOR_PUNKT_FILE);
    CHECK(meteor_init_paths(&m, NLTK_3_8, good, "/nonexistent/wordnet", &e) == RP_EINPUT);
    CHECK(strstr(e.msg, "/nonexistent/wordnet/index.noun") != NULL);
    static const char *const bad[] = {"abbrev\tdr\northo\tthe\tmany\n", "abbrev\tdr\nbogus\tx\n",
                                      "abbrev\tdr\ncolloc\tonly-one\n", "# empty\n"};
    static const char *const says[] = {"line 2: field 3", "line 2: field 1", "line 2:", "no 'abbrev'"};
    for (int i = 0; i < 4; i++) {
        FILE *f = fopen(path, "w");
        fputs(bad[i], f);
        fclose(f);
        CHECK(meteor_init_paths(&m, NLTK_3_8, path, wn, &e) == RP_EINPUT);
        CHECK_MSG(strstr(e.msg, path) && strstr(e.msg, says[i]), "message '%s' wants '%s'", e.msg, says[i]);
    }
    unlink(path);
}

int main(void) {
    const char *s = getenv("RESTPG_SOURCE_DIR");
    snprintf(src, sizeof src, "%s", s ? s : ".");
    char data[1100];
    snprintf(data, sizeof data, "%s/reward/data", src);
    setenv("RESTPG_DATA_DIR", data, 0);
    Meteor m;
    Error e;
    CHECK_OK(meteor_init(&m, NLTK_3_8, &e), &e);
    cases(&m);
    Pairs p;
    load_pairs(&p);
    parity(&m, &p);
    invalid_utf8(&m);
    strip();
    threads(&p);
    cli(&p);
    bad_files();
    meteor_free(&m);
    for (size_t i = 0; i < p.n; i++) free(p.id[i]), free(p.pred[i]), free(p.ref[i]), cJSON_Delete(p.extra[i]);
    free(p.id), free(p.pred), free(p.ref), free(p.want), free(p.got), free(p.extra);
    return test_summary("test_meteor");
}

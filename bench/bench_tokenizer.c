/* Benchmark: tokenizer training and encoding speed on real English text, Debian's package
 * descriptions from apt's Translation-en lists (falling back to /usr/share/common-licenses).
 * Usage: bench_tokenizer [MB (default 4)] [vocab size (default 8192)] [apt lists dir].
 * Prints JSON lines: training seconds for the vocabulary, then encode MB/s for GPT-2's vocabulary
 * and the trained one, each with a cold memo (fresh tokenizer) and a warm one (second pass). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "core/log.h"
#include "data/aptlists.h"
#include "data/tokenizer.h"

typedef struct {
    char **texts;
    int64_t n, cap;
    size_t bytes;
    const char *source;
} Texts;

static void add(Texts *t, const char *s, size_t n) {
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 4096;
        t->texts = realloc(t->texts, sizeof(char *) * (size_t)t->cap);
    }
    t->texts[t->n] = malloc(n + 1);
    memcpy(t->texts[t->n], s, n);
    t->texts[t->n++][n] = '\0';
    t->bytes += n;
}

static void from_apt(Texts *t, const char *dir, size_t want) {
    Error e;
    char **pk, **tr;
    int npk, ntr;
    if (apt_list_dir(dir, &pk, &npk, &tr, &ntr, &e)) return;
    for (int i = 0; i < ntr && t->bytes < want; i++) {
        AptReader r;
        int got = 1;
        if (apt_open(&r, tr[i], &e)) continue;
        while (t->bytes < want && !apt_next(&r, &got, &e) && got) {
            const char *d = apt_get(&r, "Description-en");
            if (d) add(t, d, strlen(d));
        }
        apt_close(&r);
    }
    apt_paths_free(pk, npk);
    apt_paths_free(tr, ntr);
    if (t->n) t->source = "apt Translation-en descriptions";
}

static void from_licenses(Texts *t) {
    DIR *d = opendir("/usr/share/common-licenses");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        char path[1024], *text;
        size_t len;
        Error e;
        snprintf(path, sizeof path, "/usr/share/common-licenses/%s", de->d_name);
        if (de->d_name[0] == '.' || file_read_all(path, &text, &len, &e)) continue;
        add(t, text, len);
        free(text);
    }
    if (d) closedir(d);
    t->source = "/usr/share/common-licenses";
}

/* Encodes text twice with a fresh tokenizer's memo: cold then warm MB/s. */
static int bench_encode(const Tokenizer *tok, const char *name, const char *text, size_t n, const char *source) {
    Error e;
    double mbs[2];
    int64_t n_ids = 0;
    for (int pass = 0; pass < 2; pass++) {
        TokenVec ids;
        tokvec_init(&ids);
        double t0 = time_now();
        int rc = tokenizer_encode(tok, text, n, &ids, &e);
        double dt = time_now() - t0;
        n_ids = ids.n;
        tokvec_free(&ids);
        if (rc) {
            fprintf(stderr, "bench_tokenizer: %s\n", e.msg);
            return rc;
        }
        mbs[pass] = (double)n / 1e6 / dt;
    }
    printf("{\"bench\": \"tokenizer_encode\", \"vocab\": \"%s\", \"vocab_size\": %d, \"text\": \"%s\", \"mb\": %.2f, "
           "\"tokens\": %lld, \"bytes_per_token\": %.2f, \"encode_mb_s_cold\": %.1f, \"encode_mb_s_warm\": %.1f}\n",
           name, tokenizer_vocab_size(tok), source, (double)n / 1e6, (long long)n_ids, (double)n / (double)n_ids,
           mbs[0], mbs[1]);
    return RP_OK;
}

int main(int argc, char **argv) {
    double mb = argc > 1 ? atof(argv[1]) : 4.0;
    int vocab = argc > 2 ? atoi(argv[2]) : 8192;
    const char *lists = argc > 3 ? argv[3] : "/var/lib/apt/lists";
    Texts t = {0};
    from_apt(&t, lists, (size_t)(mb * 1e6));
    if (!t.n) from_licenses(&t);
    if (!t.n) {
        fprintf(stderr, "bench_tokenizer: no text found (apt lists in %s, /usr/share/common-licenses)\n", lists);
        return 2;
    }
    StrBuf all;
    Error e;
    strbuf_init(&all);
    for (int64_t i = 0; i < t.n; i++)
        if (strbuf_puts(&all, t.texts[i], &e) || strbuf_puts(&all, "\n\n", &e)) return e.code;

    /* The GPT-2 files sit in the repository next to this file's folder. */
    char gpt2[4096];
    const char *root = getenv("RESTPG_SOURCE_DIR");
    if (root) snprintf(gpt2, sizeof gpt2, "%s/data/gpt2", root);
    else snprintf(gpt2, sizeof gpt2, "%.*s/../data/gpt2", (int)(strrchr(__FILE__, '/') - __FILE__), __FILE__);
    Tokenizer *g = NULL, *tr = NULL;
    double t0 = time_now();
    int rc = tokenizer_load(gpt2, &g, &e);
    double t_load = time_now() - t0;
    if (!rc) {
        printf("{\"bench\": \"tokenizer_load\", \"vocab\": \"gpt2\", \"seconds\": %.3f}\n", t_load);
        rc = bench_encode(g, "gpt2", all.s, all.len, t.source);
    }
    if (!rc) {
        t0 = time_now();
        rc = tokenizer_train(t.texts, t.n, vocab, &tr, &e);
        double dt = time_now() - t0;
        if (!rc)
            printf("{\"bench\": \"tokenizer_train\", \"text\": \"%s\", \"texts\": %lld, \"mb\": %.2f, "
                   "\"vocab_size\": %d, \"seconds\": %.2f}\n",
                   t.source, (long long)t.n, (double)t.bytes / 1e6, tokenizer_vocab_size(tr), dt);
    }
    if (!rc) rc = bench_encode(tr, "trained", all.s, all.len, t.source);
    if (rc && e.msg[0]) fprintf(stderr, "bench_tokenizer: %s\n", e.msg);
    tokenizer_free(g);
    tokenizer_free(tr);
    strbuf_free(&all);
    for (int64_t i = 0; i < t.n; i++) free(t.texts[i]);
    free(t.texts);
    return rc;
}

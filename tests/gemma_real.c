/* The real Gemma 3 270M through restpg's own forward (model/llama.c via model/model.h), for
 * tests/gemma_real.sh to compare with llama.cpp: imports the GGUF file, then for every prompt (one
 * line of token ids in IDS) writes the last position's logits (V floats, native f32) to OUT and
 * prints the greedy continuation of N tokens (full forwards, no KV cache) as one line of ids.
 * Usage: gemma_real MODEL.gguf IDS OUT N */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "model/gguf_import.h"

static int argmax(const float *x, int n) {
    int b = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: gemma_real MODEL.gguf IDS OUT N\n");
        return 2;
    }
    Error e;
    Model m;
    Tokenizer *t = NULL;
    int rc = gguf_import(argv[1], &m, &t, &e);
    if (rc) {
        fprintf(stderr, "gemma_real: %s\n", e.msg);
        return rc;
    }
    int steps = atoi(argv[4]), V = m.vocab_size, Vp = m.padded_vocab_size;
    FILE *in = fopen(argv[2], "r"), *out = fopen(argv[3], "wb");
    if (!in || !out) return 3;
    char line[65536];
    float *logits = malloc(sizeof(float) * (size_t)Vp);
    while (!rc && fgets(line, sizeof line, in)) {
        int32_t ids[4096];
        int n = 0;
        for (char *p = strtok(line, " \n"); p && n < 4000; p = strtok(NULL, " \n")) ids[n++] = (int32_t)atoi(p);
        if (!n) continue;
        for (int s = 0; s <= steps && !rc; s++) {
            if ((rc = model_plan(&m, 1, n, &e)) || (rc = model_forward(&m, ids, NULL, NULL, 1, n, NULL, &e)) ||
                (rc = model_logits_download(&m, n - 1, 1, logits, &e)))
                break;
            if (s == 0 && fwrite(logits, sizeof(float), (size_t)V, out) != (size_t)V) rc = 3;
            if (s < steps) {
                ids[n] = argmax(logits, V);
                printf("%s%d", s ? " " : "", ids[n]);
                n++;
            }
        }
        printf("\n");
    }
    if (rc) fprintf(stderr, "gemma_real: %s\n", e.msg);
    free(logits);
    fclose(in);
    fclose(out);
    tokenizer_free(t);
    model_free(&m);
    return rc;
}

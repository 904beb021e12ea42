/* `restpg loss`: the mean next-token loss of token sequences under a checkpoint or GGUF file, for
 * checking restpg's forward pass against other implementations (e.g. PyTorch on the exported
 * weights). The sequences are token ids, fed exactly as written: a BOS is the caller's to put. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/args.h"
#include "core/fileio.h"
#include "kernels/backend.h"
#include "launch/commands.h"
#include "model/checkpoint.h"
#include "trainer/trainer.h"

/* Parses one line of whitespace-separated ids into ids (reset first). */
static int parse_line(const char *path, long lineno, char *line, int V, int max_len, TokenVec *ids, Error *e) {
    ids->n = 0;
    for (char *tok = strtok(line, " \t\r"); tok; tok = strtok(NULL, " \t\r")) {
        char *end = NULL;
        errno = 0;
        long v = strtol(tok, &end, 10);
        if (errno || *end || end == tok)
            return error_set(e, RP_EINPUT, "%s:%ld: token %lld '%s' is not an integer id", path, lineno, (long long)ids->n + 1, tok);
        if (v < 0 || v >= V)
            return error_set(e, RP_EINPUT, "%s:%ld: token %lld: id %ld is outside the vocabulary 0..%d", path, lineno,
                             (long long)ids->n + 1, v, V - 1);
        int rc = tokvec_push(ids, (int32_t)v, e);
        if (rc) return rc;
    }
    if (ids->n == 1) return error_set(e, RP_EINPUT, "%s:%ld: a sequence needs at least 2 tokens to predict one", path, lineno);
    if (ids->n > max_len)
        return error_set(e, RP_EINPUT, "%s:%ld: %lld tokens, more than the model's n_positions + 1 = %d", path, lineno,
                         (long long)ids->n, max_len);
    return RP_OK;
}

static int read_sequences(const char *path, int V, int max_len, SeqSet *s, Error *e) {
    char *text = NULL;
    size_t n = 0;
    int rc = file_read_all(path, &text, &n, e);
    if (rc) return rc;
    if (strlen(text) != n) {
        free(text);
        return error_set(e, RP_EINPUT, "%s: contains a NUL byte (expected text: one sequence of ids per line)", path);
    }
    TokenVec ids;
    tokvec_init(&ids);
    long lineno = 0;
    for (char *p = text; p && *p && !rc;) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = '\0';
        lineno++;
        rc = parse_line(path, lineno, p, V, max_len, &ids, e);
        if (!rc && ids.n >= 2) rc = seqset_add(s, ids.v, ids.n, 1, e);
        p = nl ? nl + 1 : NULL;
    }
    tokvec_free(&ids);
    free(text);
    if (!rc && s->n == 0) rc = error_set(e, RP_EINPUT, "%s: no token sequences (expected one sequence of ids per line)", path);
    return rc;
}

int cmd_loss(int argc, char **argv, Error *e) {
    const char *model = NULL, *tokens = NULL;
    long batch = 1, threads = 0;
    int json = 0;
    const char *device = "cpu";
    ArgSpec specs[] = {
        {"--model", ARG_STR, &model, "checkpoint (restpg-checkpoint), GGUF file or Hugging Face directory", 1, 0},
        {"--tokens", ARG_STR, &tokens, "text file: one sequence per line, whitespace-separated token ids, used as "
                                       "given (no BOS is added: start a line with it if the model wants one)", 1, 0},
        {"--batch-size", ARG_INT, &batch, "sequences per forward pass (default 1)", 0, ARG_RANGE(1, 65536)},
        {"--threads", ARG_INT, &threads, "CPU threads (default: OMP_NUM_THREADS or all cores)", 0, ARG_THREADS},
        BACKEND_DEVICE_SPEC(device),
        {"--json", ARG_FLAG, &json, "print one JSON object", 0, 0},
        {NULL, 0, NULL, NULL, 0, 0},
    };
    int rc = args_parse("loss",
                        "Prints the mean next-token cross-entropy (nats/token) of the sequences in --tokens under "
                        "--model, averaged over all predicted tokens (every token after the first of each line). "
                        "Blank lines are skipped.",
                        specs, argc, argv, e);
    if (rc || (rc = backend_select(device, e))) return rc;
    if (threads > 0) backend_get()->ops->set_threads((int)threads);
    Model m;
    Tokenizer *t = NULL;
    if ((rc = checkpoint_load_any(model, &m, &t, NULL, e))) return rc;
    SeqSet s;
    seqset_init(&s);
    int64_t *idx = NULL;
    rc = read_sequences(tokens, m.vocab_size, m.n_positions + 1, &s, e);
    int T = 1;
    for (int64_t i = 0; !rc && i < s.n; i++)
        if (s.len[i] - 1 > T) T = s.len[i] - 1;
    if (!rc && !(idx = xmalloc(sizeof(int64_t) * (size_t)s.n, e))) rc = RP_ENOMEM;
    for (int64_t i = 0; !rc && i < s.n; i++) idx[i] = i;
    int B = (int64_t)batch < s.n ? (int)batch : (int)s.n;
    if (!rc) rc = model_plan(&m, B, T, e);
    double loss = 0;
    int64_t n_tok = 0;
    if (!rc) rc = trainer_eval(&m, &s, idx, s.n, B, tokenizer_special(t, TOK_EOT), &loss, &n_tok, e);
    if (!rc && json)
        printf("{\"loss\": %.8f, \"tokens\": %lld, \"sequences\": %lld}\n", loss, (long long)n_tok, (long long)s.n);
    else if (!rc)
        printf("loss %.6f nats/token over %lld tokens in %lld sequences\n", loss, (long long)n_tok, (long long)s.n);
    free(idx);
    seqset_free(&s);
    model_free(&m);
    tokenizer_free(t);
    return rc;
}

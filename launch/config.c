/* Run configuration: the key table, YAML loading, command-line overrides, checks and output
 * (see config.h). */
#include "launch/config.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/args.h"

typedef enum { K_STR, K_INT, K_DOUBLE } KeyType;

typedef struct {
    const char *name;
    KeyType type;
    size_t off;
    const char *def;
    const char *help;
} Key;

#define K(name, type, field, def, help) {name, type, offsetof(RunConfig, field), def, help}

/* Defaults are sized for the CPU demo: a ~1M-parameter model that runs the whole method on 2 cores
 * in minutes. Real runs override model.*, *.steps and em.n. */
static const Key KEYS[] = {
    K("run_dir", K_STR, run_dir, "runs/restpg", "directory holding every stage's outputs"),
    K("seed", K_INT, seed, "1", "seed of data splits, initialisation, data order and sampling"),
    K("threads", K_INT, threads, "0", "CPU threads per rank; 0 = cores / ranks"),
    K("data.source", K_STR, data.source, "debian", "debian (this machine's apt lists), synth, or file"),
    K("data.path", K_STR, data.path, "", "an existing restpg dataset when data.source is file"),
    K("data.synth_users", K_INT, data.synth_users, "60", "users of the synthetic dataset"),
    K("data.max_users", K_INT, data.max_users, "0", "debian: keep at most this many users (0 = all)"),
    K("data.min_items", K_INT, data.min_items, "5", "debian: profile items a user needs"),
    K("data.max_examples_per_user", K_INT, data.max_examples_per_user, "2", "debian: target packages per user"),
    K("tokenizer.path", K_STR, tokenizer.path, "", "an existing tokenizer (file or GPT-2 directory); empty = train one"),
    K("tokenizer.vocab_size", K_INT, tokenizer.vocab_size, "2048", "vocabulary of a trained tokenizer"),
    K("model.init", K_STR, model.init, "", "base checkpoint; empty = pretrain one from scratch"),
    K("model.n_layer", K_INT, model.n_layer, "4", "transformer layers of a pretrained-here model"),
    K("model.n_head", K_INT, model.n_head, "4", "attention heads"),
    K("model.n_embd", K_INT, model.n_embd, "128", "channels"),
    K("model.n_positions", K_INT, model.n_positions, "512", "context length"),
    K("pretrain.steps", K_INT, pretrain.steps, "400", "optimizer steps of pretraining"),
    K("pretrain.batch_size", K_INT, pretrain.batch_size, "4", "sequences per micro-batch"),
    K("pretrain.grad_accum", K_INT, pretrain.grad_accum, "2", "micro-batches per step, shared out over the ranks"),
    K("pretrain.seq_len", K_INT, pretrain.seq_len, "128", "tokens per pretraining sequence"),
    K("pretrain.lr", K_DOUBLE, pretrain.lr, "0.002", "peak learning rate"),
    K("reason.teacher", K_STR, reason.teacher, "builtin", "builtin, or jsonl:FILE with {id, reasoning} lines"),
    K("prompt.k", K_INT, prompt.k, "2", "profile items retrieved into each prompt"),
    K("prompt.profile", K_STR, prompt.profile, "on", "off = no personalization (no profile in the prompt)"),
    K("sft.steps", K_INT, sft.steps, "300", "optimizer steps of supervised fine-tuning"),
    K("sft.batch_size", K_INT, sft.batch_size, "4", "sequences per micro-batch"),
    K("sft.grad_accum", K_INT, sft.grad_accum, "2", "micro-batches per step, shared out over the ranks"),
    K("sft.lr", K_DOUBLE, sft.lr, "0.001", "peak learning rate"),
    K("sft.reasoning", K_STR, sft.reasoning, "on", "on: targets are reasoning + answer (REST-PG); off: answer only"),
    K("em.rounds", K_INT, em.rounds, "3", "EM rounds (T)"),
    K("em.n", K_INT, em.n, "8", "candidates sampled per training input (N; the paper uses 32)"),
    K("em.temperature", K_DOUBLE, em.temperature, "0.7", "sampling temperature"),
    K("em.top_p", K_DOUBLE, em.top_p, "0.9", "nucleus sampling mass"),
    K("em.top_k", K_INT, em.top_k, "0", "top-k sampling (0 = off)"),
    K("em.max_new_tokens", K_INT, em.max_new_tokens, "160", "generated tokens per candidate"),
    K("em.reward", K_STR, em.reward, "rouge1:0.5,rougeL:0.5", "reward spec (restpg reward --help)"),
    K("em.tau", K_DOUBLE, em.tau, "0.3", "keep candidates with reward >= tau"),
    K("em.keep", K_INT, em.keep, "4", "keep at most K candidates per input (the paper uses 10)"),
    K("em.mstep_init", K_STR, em.mstep_init, "base", "M-step starts from base, sft or previous"),
    K("em.steps", K_INT, em.steps, "60", "optimizer steps of each M-step"),
    K("em.batch_size", K_INT, em.batch_size, "4", "sequences per micro-batch in the M-step"),
    K("em.grad_accum", K_INT, em.grad_accum, "2", "micro-batches per M-step step, shared out over the ranks"),
    K("em.lr", K_DOUBLE, em.lr, "0.0005", "peak learning rate of the M-step"),
    K("em.limit", K_INT, em.limit, "256", "training inputs sampled per round (0 = all)"),
    K("eval.split", K_STR, eval.split, "test", "split of the final evaluation"),
    K("eval.decode", K_STR, eval.decode, "greedy", "greedy or sample"),
    K("eval.limit", K_INT, eval.limit, "0", "examples evaluated (0 = all)"),
    K("eval.val_limit", K_INT, eval.val_limit, "0", "val examples scored after each round (0 = all)"),
    K("eval.max_new_tokens", K_INT, eval.max_new_tokens, "160", "generated tokens per evaluated example"),
};
#define N_KEYS (sizeof KEYS / sizeof KEYS[0])

static void *slot(RunConfig *c, const Key *k) { return (char *)c + k->off; }
static const void *cslot(const RunConfig *c, const Key *k) { return (const char *)c + k->off; }

static int assign(RunConfig *c, const Key *k, const char *value, const char *where, Error *e) {
    char what[160];
    snprintf(what, sizeof what, "%s: key '%s'", where, k->name);
    switch (k->type) {
    case K_STR: {
        /* A string slot holds either the static default or a copy made here, never anything else,
         * so config_free can tell which to free. */
        char *s = xstrdup(value, e);
        if (!s) return RP_ENOMEM;
        const char **dst = (const char **)slot(c, k);
        if (*dst != k->def) free((char *)*dst);
        *dst = s;
        return RP_OK;
    }
    case K_INT: return parse_long(value, what, (long *)slot(c, k), e);
    case K_DOUBLE: return parse_double(value, what, (double *)slot(c, k), e);
    }
    return RP_EINTERNAL;
}

static const Key *find_key(const char *name) {
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(KEYS[i].name, name)) return &KEYS[i];
    return NULL;
}

void config_defaults(RunConfig *c) {
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_KEYS; i++) {
        const Key *k = &KEYS[i];
        if (k->type == K_STR) *(const char **)slot(c, k) = k->def;
        else if (k->type == K_INT) *(long *)slot(c, k) = strtol(k->def, NULL, 10);
        else *(double *)slot(c, k) = strtod(k->def, NULL);
    }
}

void config_free(RunConfig *c) {
    for (size_t i = 0; i < N_KEYS; i++) {
        const Key *k = &KEYS[i];
        if (k->type != K_STR) continue;
        const char *s = *(const char **)slot(c, k);
        if (s != k->def) free((char *)s);
    }
    config_defaults(c);
}

int config_set(RunConfig *c, const char *assignment, const char *origin, Error *e) {
    const char *eq = strchr(assignment, '=');
    if (!eq) return error_set(e, RP_EINPUT, "%s: '%s' is not key=value", origin, assignment);
    char name[96];
    size_t n = (size_t)(eq - assignment);
    if (n >= sizeof name) return error_set(e, RP_EINPUT, "%s: key too long in '%s'", origin, assignment);
    memcpy(name, assignment, n);
    name[n] = '\0';
    const Key *k = find_key(name);
    if (!k) return error_set(e, RP_EINPUT, "%s: unknown key '%s' (restpg run --help lists the keys)", origin, name);
    return assign(c, k, eq + 1, origin, e);
}

/* A plain scalar must not be a quoted number for numeric keys: "3" in quotes is a string. */
static int scalar_ok_for(const Key *k, const yaml_node_t *v) {
    if (v->type != YAML_SCALAR_NODE) return 0;
    return k->type == K_STR || v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static int load_mapping(RunConfig *c, const char *path, yaml_document_t *doc, yaml_node_t *map, const char *section,
                        Error *e) {
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(doc, p->key);
        yaml_node_t *vn = yaml_document_get_node(doc, p->value);
        size_t line = kn->start_mark.line + 1;
        if (kn->type != YAML_SCALAR_NODE) return error_set(e, RP_EINPUT, "%s: line %zu: keys must be plain names", path, line);
        char name[96];
        snprintf(name, sizeof name, "%s%s%s", section ? section : "", section ? "." : "", (const char *)kn->data.scalar.value);
        /* Duplicate keys: libyaml keeps both pairs, so look back. */
        for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *qk = yaml_document_get_node(doc, q->key);
            if (qk->type == YAML_SCALAR_NODE && !strcmp((const char *)qk->data.scalar.value, (const char *)kn->data.scalar.value))
                return error_set(e, RP_EINPUT, "%s: line %zu: key '%s' appears twice", path, line, name);
        }
        if (!section && vn->type == YAML_MAPPING_NODE) {
            int known = 0;
            size_t len = strlen(name);
            for (size_t i = 0; i < N_KEYS; i++) known |= !strncmp(KEYS[i].name, name, len) && KEYS[i].name[len] == '.';
            if (!known) return error_set(e, RP_EINPUT, "%s: line %zu: unknown section '%s'", path, line, name);
            int rc = load_mapping(c, path, doc, vn, name, e);
            if (rc) return rc;
            continue;
        }
        const Key *k = find_key(name);
        if (!k) return error_set(e, RP_EINPUT, "%s: line %zu: unknown key '%s' (restpg run --help lists the keys)", path, line, name);
        if (!scalar_ok_for(k, vn))
            return error_set(e, RP_EINPUT, "%s: line %zu: key '%s' must be %s", path, vn->start_mark.line + 1, name,
                             k->type == K_INT ? "an integer" : k->type == K_DOUBLE ? "a number" : "a string");
        char where[600];
        snprintf(where, sizeof where, "%s: line %zu", path, vn->start_mark.line + 1);
        int rc = assign(c, k, (const char *)vn->data.scalar.value, where, e);
        if (rc) return rc;
    }
    return RP_OK;
}

int config_load(RunConfig *c, const char *path, Error *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return error_set(e, RP_EINPUT, "%s: cannot open config: %s", path, strerror(errno));
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return error_set(e, RP_ENOMEM, "%s: cannot start the YAML parser", path);
    }
    yaml_parser_set_input_file(&parser, f);
    int rc = RP_OK;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = error_set(e, RP_EINPUT, "%s: line %zu: YAML error: %s", path, parser.problem_mark.line + 1,
                       parser.problem ? parser.problem : "malformed");
    } else {
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        if (root && root->type != YAML_MAPPING_NODE)
            rc = error_set(e, RP_EINPUT, "%s: line %zu: expected a mapping of key: value", path, root->start_mark.line + 1);
        else if (root)
            rc = load_mapping(c, path, &doc, root, NULL, e);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

static int one_of(const char *v, const char *name, const char *a, const char *b, const char *c3, Error *e) {
    if (!strcmp(v, a) || !strcmp(v, b) || (c3 && !strcmp(v, c3))) return RP_OK;
    return error_set(e, RP_EINPUT, "config key '%s' must be %s, %s%s%s; got '%s'", name, a, b, c3 ? " or " : "", c3 ? c3 : "", v);
}

int config_check(const RunConfig *c, Error *e) {
    int rc;
    if ((rc = one_of(c->data.source, "data.source", "debian", "synth", "file", e)) ||
        (rc = one_of(c->prompt.profile, "prompt.profile", "on", "off", NULL, e)) ||
        (rc = one_of(c->sft.reasoning, "sft.reasoning", "on", "off", NULL, e)) ||
        (rc = one_of(c->em.mstep_init, "em.mstep_init", "base", "sft", "previous", e)) ||
        (rc = one_of(c->eval.decode, "eval.decode", "greedy", "sample", NULL, e)) ||
        (rc = one_of(c->eval.split, "eval.split", "val", "test", "train", e)))
        return rc;
    if (!strcmp(c->data.source, "file") && !c->data.path[0])
        return error_set(e, RP_EINPUT, "config: data.source is file but data.path is empty");
    if (!c->run_dir[0]) return error_set(e, RP_EINPUT, "config: run_dir is empty");
    const struct {
        const char *name;
        long v, lo;
    } ints[] = {
        {"em.rounds", c->em.rounds, 0},         {"em.n", c->em.n, 1},
        {"em.max_new_tokens", c->em.max_new_tokens, 1}, {"em.keep", c->em.keep, 0},
        {"em.steps", c->em.steps, 1},           {"em.batch_size", c->em.batch_size, 1},
        {"sft.steps", c->sft.steps, 1},         {"sft.batch_size", c->sft.batch_size, 1},
        {"pretrain.steps", c->pretrain.steps, 1}, {"pretrain.batch_size", c->pretrain.batch_size, 1},
        {"pretrain.seq_len", c->pretrain.seq_len, 2}, {"prompt.k", c->prompt.k, 1},
        {"pretrain.grad_accum", c->pretrain.grad_accum, 1}, {"sft.grad_accum", c->sft.grad_accum, 1},
        {"em.grad_accum", c->em.grad_accum, 1},
        {"tokenizer.vocab_size", c->tokenizer.vocab_size, 300}, {"threads", c->threads, 0},
        {"eval.max_new_tokens", c->eval.max_new_tokens, 1}, {"em.top_k", c->em.top_k, 0},
        {"em.limit", c->em.limit, 0}, {"eval.limit", c->eval.limit, 0}, {"eval.val_limit", c->eval.val_limit, 0},
        {"data.synth_users", c->data.synth_users, 3},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
        if (ints[i].v < ints[i].lo)
            return error_set(e, RP_EINPUT, "config key '%s' must be at least %ld, got %ld", ints[i].name, ints[i].lo, ints[i].v);
    if (!(c->em.temperature >= 0)) return error_set(e, RP_EINPUT, "config key 'em.temperature' must be >= 0");
    if (!(c->em.top_p > 0 && c->em.top_p <= 1)) return error_set(e, RP_EINPUT, "config key 'em.top_p' must be in (0, 1]");
    if (!(c->pretrain.lr > 0 && c->sft.lr > 0 && c->em.lr > 0)) return error_set(e, RP_EINPUT, "config: learning rates must be > 0");
    return RP_OK;
}

int config_to_yaml(const RunConfig *c, StrBuf *out, Error *e) {
    const char *section = NULL;
    size_t sec_len = 0;
    int rc = strbuf_puts(out, "# restpg effective run configuration (defaults + file + overrides)\n", e);
    for (size_t i = 0; i < N_KEYS && !rc; i++) {
        const Key *k = &KEYS[i];
        const char *dot = strchr(k->name, '.');
        const char *leaf = k->name;
        if (dot) {
            if (!section || sec_len != (size_t)(dot - k->name) || strncmp(section, k->name, sec_len)) {
                section = k->name;
                sec_len = (size_t)(dot - k->name);
                rc = strbuf_printf(out, e, "%.*s:\n", (int)sec_len, section);
            }
            leaf = dot + 1;
        }
        if (!rc) rc = strbuf_printf(out, e, "%s%s: ", dot ? "  " : "", leaf);
        if (rc) break;
        if (k->type == K_STR) rc = strbuf_json_string(out, *(const char *const *)cslot(c, k), e);
        else if (k->type == K_INT) rc = strbuf_printf(out, e, "%ld", *(const long *)cslot(c, k));
        else rc = strbuf_printf(out, e, "%.17g", *(const double *)cslot(c, k));
        if (!rc) rc = strbuf_puts(out, "\n", e);
    }
    return rc;
}

void config_print_keys(void) {
    printf("config keys (YAML sections, or --section.key=value on the command line):\n");
    for (size_t i = 0; i < N_KEYS; i++)
        printf("  %-24s %-6s %-24s %s\n", KEYS[i].name, KEYS[i].type == K_STR ? "string" : KEYS[i].type == K_INT ? "int" : "number",
               KEYS[i].def[0] ? KEYS[i].def : "\"\"", KEYS[i].help);
}

static void usage(const char *cmd, const char *synopsis, const char *text) {
    printf("usage: restpg %s %s\n\n%s\n\n", cmd, synopsis, text);
    config_print_keys();
}

/* Parses argv into defaults + config file + overrides (applied after the file, in order,
 * wherever they stand). RP_HELP after printing help. */
int config_parse_args(const char *cmd, const char *synopsis, const char *text, int argc, char **argv, RunConfig *c, RunArgs *a,
                 int positional_config, const char *const *presets, Error *e) {
    config_defaults(c);
    for (; presets && *presets; presets++) {
        int prc = config_set(c, *presets, cmd, e);
        if (prc) return prc;
    }
    const struct {
        const char *name;
        const char **dst;
    } paths[] = {{"--out", &a->out}, {"--data", &a->data}, {"--sft", &a->sft}, {"--base", &a->base}, {"--run-dir", &a->run_dir}};
    const char **overrides = calloc((size_t)argc + 1, sizeof(char *));
    if (!overrides) return error_set(e, RP_ENOMEM, "out of memory");
    int n_over = 0, rc = RP_OK;
    for (int i = 1; i < argc && !rc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "--help") || !strcmp(s, "-h")) {
            usage(cmd, synopsis, text);
            free(overrides);
            return RP_HELP;
        }
        if (s[0] != '-') {
            if (!positional_config || a->config) rc = error_set(e, RP_EINPUT, "%s: unexpected argument '%s'", cmd, s);
            a->config = s;
            continue;
        }
        if (!strcmp(s, "--resume")) {
            a->resume = 1;
            continue;
        }
        const char *eq = strchr(s, '=');
        size_t n = eq ? (size_t)(eq - s) : strlen(s);
        int hit = 0;
        for (size_t k = 0; k < sizeof paths / sizeof paths[0] && !hit && !rc; k++) {
            if (strlen(paths[k].name) != n || strncmp(paths[k].name, s, n)) continue;
            hit = 1;
            if (eq) *paths[k].dst = eq + 1;
            else if (i + 1 < argc) *paths[k].dst = argv[++i];
            else rc = error_set(e, RP_EINPUT, "%s: option %s needs a value", cmd, paths[k].name);
        }
        if (hit || rc) continue;
        if (s[1] != '-' || !eq) rc = error_set(e, RP_EINPUT, "%s: expected --section.key=value, got '%s' (see restpg %s --help)", cmd, s, cmd);
        else overrides[n_over++] = s + 2;
    }
    if (!rc && a->config) rc = config_load(c, a->config, e);
    for (int i = 0; i < n_over && !rc; i++) rc = config_set(c, overrides[i], "command line", e);
    free(overrides);
    if (!rc) rc = config_check(c, e);
    return rc;
}


/* Model config YAML reader (see config.h), on libyaml's document API. */
#include "model/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/fileio.h"

static const char *const KEYS[] = {"n_layer", "n_head", "n_embd", "n_positions"};
#define N_KEYS 4

static int *key_slot(GPTConfig *c, int k) {
    switch (k) {
    case 0: return &c->n_layer;
    case 1: return &c->n_head;
    case 2: return &c->n_embd;
    default: return &c->n_positions;
    }
}

/* A plain (unquoted) decimal scalar in 1..2^31-1; quoted "12" is a string, so it is refused. */
static int parse_positive(const yaml_node_t *v, int *out) {
    if (v->type != YAML_SCALAR_NODE || v->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *s = (const char *)v->data.scalar.value;
    if (!*s) return 0;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9') return 0;
    errno = 0;
    long x = strtol(s, NULL, 10);
    if (errno || x < 1 || x > 0x7fffffff) return 0;
    *out = (int)x;
    return 1;
}

static const char *describe(const yaml_node_t *v) {
    if (v->type == YAML_MAPPING_NODE) return "a mapping";
    if (v->type == YAML_SEQUENCE_NODE) return "a list";
    return (const char *)v->data.scalar.value;
}

static int check_doc(const char *path, yaml_document_t *doc, GPTConfig *cfg, Error *e) {
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root) return error_set(e, RP_EINPUT, "%s: empty model config (expected keys n_layer, n_head, n_embd, n_positions)", path);
    if (root->type != YAML_MAPPING_NODE)
        return error_set(e, RP_EINPUT, "%s: line %zu: expected a mapping of key: value", path, root->start_mark.line + 1);
    int seen[N_KEYS] = {0};
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        size_t line = k->start_mark.line + 1;
        if (k->type != YAML_SCALAR_NODE) return error_set(e, RP_EINPUT, "%s: line %zu: keys must be plain names", path, line);
        const char *name = (const char *)k->data.scalar.value;
        int idx = -1;
        for (int i = 0; i < N_KEYS; i++)
            if (!strcmp(name, KEYS[i])) idx = i;
        if (idx < 0) {
            const char *hint = !strcmp(name, "vocab_size") ? " (the vocabulary size comes from the tokenizer)" : "";
            return error_set(e, RP_EINPUT, "%s: line %zu: unknown key '%s'%s; known keys: n_layer, n_head, n_embd, n_positions",
                             path, line, name, hint);
        }
        if (seen[idx]) return error_set(e, RP_EINPUT, "%s: line %zu: key '%s' appears twice", path, line, name);
        seen[idx] = 1;
        if (!parse_positive(v, key_slot(cfg, idx)))
            return error_set(e, RP_EINPUT, "%s: line %zu: key '%s' must be a positive integer, got '%s'", path,
                             v->start_mark.line + 1, name, describe(v));
    }
    for (int i = 0; i < N_KEYS; i++)
        if (!seen[i]) return error_set(e, RP_EINPUT, "%s: missing key '%s'", path, KEYS[i]);
    return RP_OK;
}

int model_config_load(const char *path, GPTConfig *cfg, Error *e) {
    memset(cfg, 0, sizeof *cfg);
    FILE *f;
    int rc0 = file_open_input(path, &f, e);
    if (rc0) return rc0;
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) {
        fclose(f);
        return error_set(e, RP_ENOMEM, "%s: cannot start the YAML parser", path);
    }
    yaml_parser_set_input_file(&parser, f);
    yaml_document_t doc;
    int rc;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = error_set(e, RP_EINPUT, "%s: line %zu: YAML syntax error: %s", path, parser.problem_mark.line + 1,
                       parser.problem ? parser.problem : "unknown");
    } else {
        rc = check_doc(path, &doc, cfg, e);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    fclose(f);
    return rc;
}

/* Run configuration: the key table, YAML loading, command-line overrides, checks and output
 * (see config.h). */
#include "launch/config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/fileio.h"
#include "core/args.h"
#include "core/watchdog.h"
#include "data/debian.h"
#include "kernels/backend.h"
#include "launch/presets.h"
#include "launch/stages.h"
#include "reward/judge.h"
#include "reward/reward.h"
#include "trainer/dp.h"

/* A key's type is ARG_STR, ARG_INT, ARG_DOUBLE or ARG_FLAG (a boolean: true or false, in an int);
 * its rule (core/args.h) is what config_check holds every value to, the same mechanism and
 * wording as the commands' options. */
typedef struct {
    const char *name;
    ArgType type;
    size_t off;
    const char *def;
    const char *help;
    const ArgRule *rule;
    int runtime; /* where the run computes, not what: not in config.yaml, so it may change on resume */
} Key;

#define K(name, type, field, def, help, rule) {name, type, offsetof(RunConfig, field), def, help, rule, 0}
#define K_RUNTIME(name, type, field, def, help, rule) {name, type, offsetof(RunConfig, field), def, help, rule, 1}

#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

/* Defaults are sized for the CPU demo: a ~1M-parameter model that runs the whole method on 2 cores
 * in minutes. Real runs override model.*, *.steps and em.n. */
static const Key KEYS[] = {
    K("run_dir", ARG_STR, run_dir, "runs/restpg", "directory holding every stage's outputs", NULL),
    /* seed + round must not overflow a long, and stays exact through the double of the rules. */
    K("seed", ARG_INT, seed, "1", "seed of data splits, initialisation, data order and sampling",
      ARG_RANGE(0, 9007199254740991.0)),
    K("threads", ARG_INT, threads, "0", "CPU threads per rank; 0 = cores / ranks", ARG_THREADS),
    K_RUNTIME("stall_timeout", ARG_INT, stall_timeout, STRINGIFY(WATCHDOG_DEFAULT_S),
              "seconds a rank may make no progress before the job stops naming it (0 = never); may change on resume",
              ARG_RANGE(0, WATCHDOG_MAX_S)),
    K_RUNTIME("device", ARG_STR, device, "cpu", "compute device of every rank (" BACKEND_DEVICES "); may change on resume",
              ARG_ONE_OF(BACKEND_DEVICE_LIST)),
    K("data.source", ARG_STR, data.source, "debian", "debian (this machine's apt lists), synth, or file",
      ARG_ONE_OF("debian", "synth", "file")),
    K("data.path", ARG_STR, data.path, "", "an existing restpg dataset when data.source is file", NULL),
    K("data.synth_users", ARG_INT, data.synth_users, "60", "users of the synthetic dataset", ARG_RANGE(3, INT_MAX)),
    K("data.max_users", ARG_INT, data.max_users, "0", "debian: keep at most this many users (0 = all)", ARG_RANGE(0, INT_MAX)),
    K("data.min_items", ARG_INT, data.min_items, "5", "debian: profile items a user needs", ARG_RANGE(1, INT_MAX)),
    K("data.max_examples_per_user", ARG_INT, data.max_examples_per_user, "2", "debian: target packages per user", ARG_RANGE(1, INT_MAX)),
    K("tokenizer.path", ARG_STR, tokenizer.path, "", "an existing tokenizer (file or GPT-2 directory); empty = train one",
      NULL),
    K("tokenizer.vocab_size", ARG_INT, tokenizer.vocab_size, "2048", "vocabulary of a trained tokenizer",
      ARG_RANGE(300, 1 << 24)),
    K("model.init", ARG_STR, model.init, "", "base model: a restpg checkpoint, a GGUF file (gguf:FILE) or a Hugging Face directory (hf:DIR), the last two imported with context model.n_positions; empty = pretrain one from scratch", NULL),
    K("model.dtype", ARG_STR, model.dtype, "auto", "precision of the weights in use: auto (bf16 on cuda, fp32 on cpu), fp32 or bf16. bf16 is the decoders' weight copy when sampling and evaluating (half its memory) and, on cuda, mixed-precision training (bf16 operands, fp32 accumulation); training keeps fp32 master weights, gradients and AdamW moments, and the cpu trains in fp32", ARG_ONE_OF("auto", "fp32", "bf16")),
    K("model.n_layer", ARG_INT, model.n_layer, "4", "transformer layers of a pretrained-here model", ARG_RANGE(1, INT_MAX)),
    K("model.n_head", ARG_INT, model.n_head, "4", "attention heads", ARG_RANGE(1, INT_MAX)),
    K("model.n_embd", ARG_INT, model.n_embd, "128", "channels", ARG_RANGE(1, INT_MAX)),
    K("model.n_positions", ARG_INT, model.n_positions, "512", "context length (of the pretrained model; with a GGUF or Hugging Face model.init, the context the run plans for)", ARG_RANGE(1, INT_MAX)),
    K_RUNTIME("train.recompute", ARG_FLAG, train.recompute, "false",
              "true: every training stage keeps only each layer's input and recomputes its activations in the "
              "backward (less memory, more compute, same results); may change on resume", NULL),
    K("train.reduce", ARG_STR, train.reduce, "tree",
      "gradient sum over the ranks of every training stage: tree (fixed tree, bitwise the same for any rank count) or "
      "allreduce (each rank's micro-batches summed locally, then a bucketed all-reduce, NCCL on GPUs: bitwise the same "
      "for the same rank count only)", ARG_ONE_OF(DP_REDUCE_NAMES)),
    K_RUNTIME("train.overlap", ARG_INT, train.overlap, "1",
              "1: with train.reduce allreduce (and train.zero 0), each bucket's all-reduce starts during the backward as "
              "its layers finish; 0: after the backward (the same result on the cpu); may change on resume",
              ARG_RANGE(0, 1)),
    K("train.schedule", ARG_STR, train.schedule, "cosine", "learning-rate decay after warm-up in every training stage: "
      "cosine or linear (to 10% of the peak)", ARG_ONE_OF("cosine", "linear")),
    K_RUNTIME("train.zero", ARG_INT, train.zero, "0",
              "1: ZeRO-1, each rank keeps the AdamW moments of its 1/ranks shard of the parameters only (less memory; "
              "needs train.reduce allreduce; checkpoints hold all moments); may change on resume", ARG_RANGE(0, 1)),
    K("train.vocab_chunk", ARG_STR, train.vocab_chunk, "auto",
      "vocabulary columns per chunk of every training stage's LM head and loss: auto (32768 on cuda, 0 on cpu), 0 (the "
      "whole [batch x seq, vocabulary] logits at once) or N (rounded up to a multiple of 128: only [batch x seq, N] "
      "logits exist, for a second LM-head product in the backward; results equal to float rounding)", NULL),
    K("pretrain.steps", ARG_INT, pretrain.steps, "400", "optimizer steps of pretraining", ARG_MIN(1)),
    K("pretrain.batch_size", ARG_INT, pretrain.batch_size, "4", "sequences per micro-batch", ARG_RANGE(1, INT_MAX)),
    K("pretrain.grad_accum", ARG_INT, pretrain.grad_accum, "2", "micro-batches per step, shared out over the ranks",
      ARG_RANGE(1, INT_MAX)),
    K("pretrain.seq_len", ARG_INT, pretrain.seq_len, "128", "tokens per pretraining sequence", ARG_RANGE(2, INT_MAX)),
    K("pretrain.lr", ARG_DOUBLE, pretrain.lr, "0.002", "peak learning rate", ARG_ABOVE(0)),
    K("reason.teacher", ARG_STR, reason.teacher, "builtin",
      "builtin, jsonl:FILE with {id, reasoning} lines, or cmd:PROGRAM ARGS... (a teacher program, docs/reward.md)", NULL),
    K("reason.teacher_timeout", ARG_DOUBLE, reason.teacher_timeout, "300",
      "cmd: teacher: seconds it may take per answer", ARG_ABOVE(0)),
    K("reason.teacher_batch", ARG_INT, reason.teacher_batch, "16", "cmd: teacher: requests sent per batch",
      ARG_RANGE(1, 1 << 20)),
    K("reason.teacher_retries", ARG_INT, reason.teacher_retries, "1",
      "cmd: teacher: restarts per batch after a crash or timeout", ARG_RANGE(0, 1000)),
    K("prompt.k", ARG_INT, prompt.k, "2", "profile items retrieved into each prompt", ARG_RANGE(1, 1000)),
    K("prompt.profile", ARG_STR, prompt.profile, "on", "off = no personalization (no profile in the prompt)",
      ARG_ONE_OF("on", "off")),
    K("sft.steps", ARG_INT, sft.steps, "300", "optimizer steps of supervised fine-tuning", ARG_MIN(1)),
    K("sft.batch_size", ARG_INT, sft.batch_size, "4", "sequences per micro-batch", ARG_RANGE(1, INT_MAX)),
    K("sft.grad_accum", ARG_INT, sft.grad_accum, "2", "micro-batches per step, shared out over the ranks",
      ARG_RANGE(1, INT_MAX)),
    K("sft.lr", ARG_DOUBLE, sft.lr, "0.001", "peak learning rate", ARG_ABOVE(0)),
    K("sft.warmup", ARG_INT, sft.warmup, "0", "warm-up steps of SFT", ARG_RANGE(0, INT_MAX)),
    K("sft.reasoning", ARG_STR, sft.reasoning, "on", "on: targets are reasoning + answer (REST-PG); off: answer only",
      ARG_ONE_OF("on", "off")),
    K("em.rounds", ARG_INT, em.rounds, "3", "EM rounds (T)", ARG_RANGE(0, INT_MAX)),
    K("em.n", ARG_INT, em.n, "8", "candidates sampled per training input (N; the paper uses 32)", ARG_RANGE(1, 1000000)),
    K("em.temperature", ARG_DOUBLE, em.temperature, "0.7", "sampling temperature", ARG_MIN(0)),
    K("em.top_p", ARG_DOUBLE, em.top_p, "0.9", "nucleus sampling mass", ARG_ABOVE_UPTO(0, 1)),
    K("em.top_k", ARG_INT, em.top_k, "0", "top-k sampling (0 = off)", ARG_RANGE(0, 1 << 30)),
    K("em.max_new_tokens", ARG_INT, em.max_new_tokens, "160", "generated tokens per candidate", ARG_RANGE(1, 1 << 30)),
    K("em.max_reasoning_tokens", ARG_INT, em.max_reasoning_tokens, "0", "separate budgets: reasoning tokens per "
      "candidate, then the separator is forced (with em.max_answer_tokens; 0 = off)", ARG_RANGE(0, 1 << 30)),
    K("em.max_answer_tokens", ARG_INT, em.max_answer_tokens, "0", "separate budgets: answer tokens per candidate "
      "(0 = off: em.max_new_tokens is shared by reasoning and answer)", ARG_RANGE(0, 1 << 30)),
    K("em.reward", ARG_STR, em.reward, "rouge1:0.5,rougeL:0.5", "reward spec (restpg reward --help)", NULL),
    K("em.tau", ARG_DOUBLE, em.tau, "0.3", "keep candidates with reward >= tau (rewards lie in [0, 1])", ARG_RANGE(0, 1)),
    K("em.keep", ARG_INT, em.keep, "4", "keep at most K candidates per input (the paper uses 10; 0 = no cap)", ARG_RANGE(0, INT_MAX)),
    K("em.mstep_init", ARG_STR, em.mstep_init, "base", "M-step starts from base, sft or previous",
      ARG_ONE_OF("base", "sft", "previous")),
    K("em.steps", ARG_INT, em.steps, "0", "optimizer steps of each M-step; 0 = sized by em.epochs", ARG_MIN(0)),
    K("em.epochs", ARG_DOUBLE, em.epochs, "2", "passes over the round's kept set per M-step (when em.steps is 0)",
      ARG_ABOVE(0)),
    K("em.warmup_frac", ARG_DOUBLE, em.warmup_frac, "0.1", "share of each M-step's steps spent warming the learning "
      "rate up", ARG_RANGE(0, 0.999)),
    K("em.batch_size", ARG_INT, em.batch_size, "4", "sequences per micro-batch in the M-step", ARG_RANGE(1, INT_MAX)),
    K("em.grad_accum", ARG_INT, em.grad_accum, "2", "micro-batches per M-step step, shared out over the ranks",
      ARG_RANGE(1, INT_MAX)),
    K("em.lr", ARG_DOUBLE, em.lr, "0.0005", "peak learning rate of the M-step", ARG_ABOVE(0)),
    K("em.limit", ARG_INT, em.limit, "0", "training inputs sampled per round (0 = all)", ARG_MIN(0)),
    K("em.subset", ARG_STR, em.subset, "random", "with em.limit: random = a fresh seeded subset each round; first = "
      "the first em.limit inputs every round", ARG_ONE_OF("random", "first")),
    K("em.select", ARG_STR, em.select, "best", "final policy: best = the round (0 = SFT) with the highest validation "
      "reward; last = the last round", ARG_ONE_OF("best", "last")),
    K("em.judge", ARG_STR, em.judge, "", "external judge command (JSON array or words, never run by a shell) for a "
      "reward spec that uses judge, and for eval.judge", NULL),
    K("em.judge_timeout", ARG_DOUBLE, em.judge_timeout, "60", "seconds the judge may take per answer", ARG_ABOVE(0)),
    K("em.judge_batch", ARG_INT, em.judge_batch, "64", "requests per judge batch", ARG_RANGE(1, INT_MAX)),
    K("em.judge_retries", ARG_INT, em.judge_retries, "1", "restarts of a crashed or stuck judge per batch",
      ARG_RANGE(0, INT_MAX)),
    K("eval.split", ARG_STR, eval.split, "test", "split of the final evaluation", ARG_ONE_OF("val", "test", "train")),
    K("eval.decode", ARG_STR, eval.decode, "greedy", "greedy or sample", ARG_ONE_OF("greedy", "sample")),
    K("eval.meteor_compat", ARG_STR, eval.meteor_compat, "nltk3.10",
      "NLTK release every METEOR of the run follows: nltk3.10 (pip's today) or nltk3.8 (LongLaMP's numbers)",
      ARG_ONE_OF("nltk3.10", "nltk3.8")),
    K("eval.limit", ARG_INT, eval.limit, "0", "examples evaluated (0 = all)", ARG_MIN(0)),
    K("eval.val_limit", ARG_INT, eval.val_limit, "0", "val examples scored after each round (0 = all)", ARG_MIN(0)),
    K("eval.max_reasoning_tokens", ARG_INT, eval.max_reasoning_tokens, "0", "separate budgets in evaluation: "
      "reasoning tokens (with eval.max_answer_tokens; 0 = off)", ARG_RANGE(0, 1 << 30)),
    K("eval.max_answer_tokens", ARG_INT, eval.max_answer_tokens, "0", "separate budgets in evaluation: answer tokens, "
      "the same for methods with and without reasoning (0 = off: eval.max_new_tokens is shared)", ARG_RANGE(0, 1 << 30)),
    K("eval.judge", ARG_FLAG, eval.judge, "false", "also report the judge's mean score (em.judge) in evaluations",
      NULL),
    K("eval.max_new_tokens", ARG_INT, eval.max_new_tokens, "160", "generated tokens per evaluated example",
      ARG_RANGE(1, 1 << 30)),
    /* How the run reports, not what it computes: a run resumed with TensorBoard switched on
     * writes it from there on. */
    K_RUNTIME("report.tensorboard", ARG_FLAG, report.tensorboard, "false",
              "true: every metric also goes, as it is written, to TensorBoard event files in run_dir/tensorboard "
              "(tensorboard --logdir run_dir/tensorboard); may change on resume", NULL),
};
#define N_KEYS (sizeof KEYS / sizeof KEYS[0])

static void *slot(RunConfig *c, const Key *k) { return (char *)c + k->off; }
static const void *cslot(const RunConfig *c, const Key *k) { return (const char *)c + k->off; }

static int assign(RunConfig *c, const Key *k, const char *value, const char *where, Error *e) {
    switch (k->type) {
    case ARG_STR: {
        /* A string slot holds either the static default or a copy made here, never anything else,
         * so config_free can tell which to free. */
        char *s = xstrdup(value, e);
        if (!s) return RP_ENOMEM;
        const char **dst = (const char **)slot(c, k);
        if (*dst != k->def) free((char *)*dst);
        *dst = s;
        return RP_OK;
    }
    case ARG_INT:
    case ARG_DOUBLE: {
        char *what = xasprintf(e, "%s: key '%s'", where, k->name);
        if (!what) return RP_ENOMEM;
        int rc = k->type == ARG_INT ? parse_long(value, what, (long *)slot(c, k), e)
                                    : parse_double(value, what, (double *)slot(c, k), e);
        free(what);
        return rc;
    }
    case ARG_FLAG:
        if (strcmp(value, "true") && strcmp(value, "false"))
            return error_set(e, RP_EINPUT, "%s: key '%s': expected true or false, got '%s'", where, k->name, value);
        *(int *)slot(c, k) = !strcmp(value, "true");
        return RP_OK;
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
        if (k->type == ARG_STR) *(const char **)slot(c, k) = k->def;
        else if (k->type == ARG_INT) *(long *)slot(c, k) = strtol(k->def, NULL, 10);
        else if (k->type == ARG_FLAG) *(int *)slot(c, k) = !strcmp(k->def, "true");
        else *(double *)slot(c, k) = strtod(k->def, NULL);
    }
}

void config_free(RunConfig *c) {
    for (size_t i = 0; i < N_KEYS; i++) {
        const Key *k = &KEYS[i];
        if (k->type != ARG_STR) continue;
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
    return k->type == ARG_STR || v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static int load_mapping(RunConfig *c, const char *path, yaml_document_t *doc, yaml_node_t *map, const char *section,
                        Error *e);

/* One "key: value" pair of a mapping; name is the key with its section ("eval.limit"). */
static int load_pair(RunConfig *c, const char *path, yaml_document_t *doc, yaml_node_t *map, yaml_node_pair_t *p,
                     const char *section, const char *name, Error *e) {
    yaml_node_t *kn = yaml_document_get_node(doc, p->key);
    yaml_node_t *vn = yaml_document_get_node(doc, p->value);
    size_t line = kn->start_mark.line + 1;
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
        return load_mapping(c, path, doc, vn, name, e);
    }
    const Key *k = find_key(name);
    if (!k) return error_set(e, RP_EINPUT, "%s: line %zu: unknown key '%s' (restpg run --help lists the keys)", path, line, name);
    if (!scalar_ok_for(k, vn))
        return error_set(e, RP_EINPUT, "%s: line %zu: key '%s' must be %s", path, vn->start_mark.line + 1, name,
                         k->type == ARG_INT ? "an integer" : k->type == ARG_DOUBLE ? "a number"
                                             : k->type == ARG_FLAG ? "true or false" : "a string");
    char *where = xasprintf(e, "%s: line %zu", path, vn->start_mark.line + 1);
    if (!where) return RP_ENOMEM;
    int rc = assign(c, k, (const char *)vn->data.scalar.value, where, e);
    free(where);
    return rc;
}

static int load_mapping(RunConfig *c, const char *path, yaml_document_t *doc, yaml_node_t *map, const char *section,
                        Error *e) {
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = yaml_document_get_node(doc, p->key);
        if (kn->type != YAML_SCALAR_NODE)
            return error_set(e, RP_EINPUT, "%s: line %zu: keys must be plain names", path, kn->start_mark.line + 1);
        char *name = xasprintf(e, "%s%s%s", section ? section : "", section ? "." : "", (const char *)kn->data.scalar.value);
        if (!name) return RP_ENOMEM;
        int rc = load_pair(c, path, doc, map, p, section, name, e);
        free(name);
        if (rc) return rc;
    }
    return RP_OK;
}

int config_load(RunConfig *c, const char *path, Error *e) {
    FILE *f;
    if (file_open_input(path, &f, e)) return error_wrap(e, "cannot open config");
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

/* What the stages would reject hours in (the E-step's reward spec, the sampler's room for a
 * prompt), checked before the first stage so a run never fails after pretraining and SFT on a
 * value it could have refused at the start. Checks that need a file's contents (a given
 * model.init's n_positions) stay with the stage. */
static int check_stages(const RunConfig *c, Error *e) {
    if (!strcmp(c->data.source, "debian")) {
        DebianOptions o;
        debian_options_default(&o);
        o.min_items = c->data.min_items;
        o.max_users = c->data.max_users;
        o.max_examples_per_user = c->data.max_examples_per_user;
        if (debian_options_check(&o, e)) return error_wrap(e, "config key 'data.*'");
    }
    if (reason_teacher_check(c->reason.teacher, e)) return error_wrap(e, "config key 'reason.teacher'");
    RewardSpec spec;
    if (reward_spec_parse(c->em.reward, &spec, e)) return error_wrap(e, "config key 'em.reward'");
    const char *sec[2] = {"em", "eval"};
    const long bud[2][2] = {{c->em.max_reasoning_tokens, c->em.max_answer_tokens},
                            {c->eval.max_reasoning_tokens, c->eval.max_answer_tokens}};
    for (int i = 0; i < 2; i++)
        if ((bud[i][0] > 0) != (bud[i][1] > 0) && strcmp(c->sft.reasoning, "off"))
            return error_set(e, RP_EINPUT, "config keys '%s.max_reasoning_tokens' (%ld) and '%s.max_answer_tokens' (%ld): "
                             "set both or neither (separate budgets)", sec[i], bud[i][0], sec[i], bud[i][1]);
    if ((spec.weight[METRIC_JUDGE] > 0 || c->eval.judge) && !c->em.judge[0])
        return error_set(e, RP_EINPUT, "config key '%s' needs a judge: set em.judge to its command",
                         c->eval.judge ? "eval.judge" : "em.reward");
    char **argv = NULL;
    if (c->em.judge[0] && judge_argv_parse(c->em.judge, &argv, e)) return error_wrap(e, "config key 'em.judge'");
    judge_argv_free(argv);
    if (!c->model.init[0]) {
        /* The model is pretrained here, so its shape is known now. */
        if (c->model.n_embd % c->model.n_head)
            return error_set(e, RP_EINPUT, "config key 'model.n_embd': %ld is not a multiple of model.n_head %ld",
                             c->model.n_embd, c->model.n_head);
        if (c->pretrain.seq_len > c->model.n_positions)
            return error_set(e, RP_EINPUT, "config key 'pretrain.seq_len': %ld exceeds model.n_positions %ld",
                             c->pretrain.seq_len, c->model.n_positions);
        const char *gen[2] = {"em.max_new_tokens", "eval.max_new_tokens"};
        /* With separate budgets the total adds the forced separator sentence (~20 tokens). */
        const long val[2] = {c->em.max_answer_tokens ? c->em.max_reasoning_tokens + c->em.max_answer_tokens + 20
                                                     : c->em.max_new_tokens,
                             c->eval.max_answer_tokens ? c->eval.max_reasoning_tokens + c->eval.max_answer_tokens + 20
                                                       : c->eval.max_new_tokens};
        for (int i = 0; i < 2; i++)
            if (val[i] >= c->model.n_positions)
                return error_set(e, RP_EINPUT, "config key '%s': %ld leaves no room for a prompt in model.n_positions %ld",
                                 gen[i], val[i], c->model.n_positions);
    }
    return RP_OK;
}

DType config_dtype(const RunConfig *c) {
    DType d = DTYPE_F32;
    Error e = {0};
    (void)model_dtype_parse(c->model.dtype, &d, &e); /* cannot fail on a checked config */
    return d;
}

int config_vocab_chunk(const RunConfig *c) {
    int cols = 0;
    Error e = {0};
    (void)model_vocab_chunk_parse(c->train.vocab_chunk, &cols, &e); /* cannot fail on a checked config */
    return cols;
}

int config_check(const RunConfig *c, Error *e) {
    for (size_t i = 0; i < N_KEYS; i++) {
        char what[128];
        snprintf(what, sizeof what, "config key '%s'", KEYS[i].name);
        int rc = arg_rule_check(KEYS[i].rule, KEYS[i].type, what, cslot(c, &KEYS[i]), e);
        if (rc) return rc;
    }
    if (!strcmp(c->data.source, "file") && !c->data.path[0])
        return error_set(e, RP_EINPUT, "config: data.source is file but data.path is empty");
    if (!c->run_dir[0]) return error_set(e, RP_EINPUT, "config: run_dir is empty");
    int cols;
    if (model_vocab_chunk_parse(c->train.vocab_chunk, &cols, e)) return error_wrap(e, "config key 'train.vocab_chunk'");
    if (c->train.zero && strcmp(c->train.reduce, "allreduce"))
        return error_set(e, RP_EINPUT, "config key 'train.zero': 1 needs train.reduce allreduce (ZeRO-1 shards the "
                                       "all-reduce's sum), got train.reduce %s", c->train.reduce);
    return check_stages(c, e);
}

int config_to_yaml(const RunConfig *c, StrBuf *out, Error *e) {
    const char *section = NULL;
    size_t sec_len = 0;
    int rc = strbuf_puts(out, "# restpg effective run configuration (defaults + file + overrides)\n", e);
    for (size_t i = 0; i < N_KEYS && !rc; i++) {
        const Key *k = &KEYS[i];
        if (k->runtime) continue;
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
        if (k->type == ARG_STR) rc = strbuf_json_string(out, *(const char *const *)cslot(c, k), e);
        else if (k->type == ARG_INT) rc = strbuf_printf(out, e, "%ld", *(const long *)cslot(c, k));
        else if (k->type == ARG_FLAG) rc = strbuf_puts(out, *(const int *)cslot(c, k) ? "true" : "false", e);
        else rc = strbuf_printf(out, e, "%.17g", *(const double *)cslot(c, k));
        if (!rc) rc = strbuf_puts(out, "\n", e);
    }
    return rc;
}

int config_copy_runtime(RunConfig *dst, const RunConfig *src, Error *e) {
    int rc = RP_OK;
    for (size_t i = 0; i < N_KEYS && !rc; i++) {
        const Key *k = &KEYS[i];
        if (!k->runtime) continue;
        if (k->type == ARG_STR) rc = assign(dst, k, *(const char *const *)cslot(src, k), "runtime copy", e);
        else if (k->type == ARG_INT) *(long *)slot(dst, k) = *(const long *)cslot(src, k);
        else if (k->type == ARG_FLAG) *(int *)slot(dst, k) = *(const int *)cslot(src, k);
        else *(double *)slot(dst, k) = *(const double *)cslot(src, k);
    }
    return rc;
}

void config_print_keys(void) {
    printf("config keys (YAML sections, or --section.key=value on the command line):\n");
    for (size_t i = 0; i < N_KEYS; i++)
        printf("  %-24s %-6s %-24s %s\n", KEYS[i].name,
               KEYS[i].type == ARG_STR ? "string" : KEYS[i].type == ARG_INT ? "int" : KEYS[i].type == ARG_FLAG ? "bool" : "number",
               KEYS[i].def[0] ? KEYS[i].def : "\"\"", KEYS[i].help);
}

static void usage(const char *cmd, const char *synopsis, const char *text) {
    printf("usage: restpg %s %s\n\n%s\n\n", cmd, synopsis, text);
    config_print_keys();
}

/* Parses argv into defaults + config file + overrides (applied after the file, in order,
 * wherever they stand). RP_HELP after printing help. */
int config_parse_args(const char *cmd, const char *synopsis, const char *text, int argc, char **argv, RunConfig *c, RunArgs *a,
                 int positional_config, const char *preset, Error *e) {
    config_defaults(c);
    const struct {
        const char *name;
        const char **dst;
    } paths[] = {{"--out", &a->out},         {"--data", &a->data},   {"--sft", &a->sft},      {"--base", &a->base},
                 {"--run-dir", &a->run_dir}, {"--seeds", &a->seeds}, {"--preset", &a->preset}};
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
    if (!rc && a->seeds && strcmp(cmd, "ablate")) rc = error_set(e, RP_EINPUT, "%s: --seeds is restpg ablate's option", cmd);
    if (!rc && a->preset && preset) rc = error_set(e, RP_EINPUT, "%s: --preset: %s has its own preset (%s)", cmd, cmd, preset);
    if (!rc && (preset || a->preset)) rc = preset_apply(c, preset ? preset : a->preset, e);
    if (!rc && a->config) rc = config_load(c, a->config, e);
    for (int i = 0; i < n_over && !rc; i++) rc = config_set(c, overrides[i], "command line", e);
    free(overrides);
    if (!rc) rc = config_check(c, e);
    if (!rc) preset_check_final(c, preset ? preset : a->preset);
    if (!rc) rc = backend_select(c->device, e);
    return rc;
}


/* Run config: defaults, YAML sections, dotted overrides, every error names file/line/key, and the
 * effective YAML loads back to the same config. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launch/config.h"
#include "tests/test.h"

static char dir[256];

static const char *write_file(const char *name, const char *text) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static int load_text(const char *text, Error *e) {
    RunConfig c;
    config_defaults(&c);
    int rc = config_load(&c, write_file("c.yaml", text), e);
    config_free(&c);
    return rc;
}

int main(void) {
    Error e;
    error_clear(&e);
    const char *tmp = getenv("RESTPG_TEST_TMP");
    snprintf(dir, sizeof dir, "%s/cfg_%d", tmp ? tmp : "/tmp", (int)getpid());
    mkdir(dir, 0777);

    RunConfig c;
    config_defaults(&c);
    CHECK(c.em.rounds == 3 && c.em.n == 8 && !strcmp(c.em.mstep_init, "base"));
    CHECK_NEAR(c.em.temperature, 0.7, 0);
    CHECK_OK(config_check(&c, &e), &e);
    CHECK_OK(config_load(&c, write_file("a.yaml", "run_dir: /tmp/x\nem:\n  rounds: 2\n  temperature: 0.5\n  reward: rougeL\nmodel: {n_layer: 2}\n"), &e), &e);
    CHECK(c.em.rounds == 2 && c.model.n_layer == 2 && !strcmp(c.run_dir, "/tmp/x") && !strcmp(c.em.reward, "rougeL"));
    CHECK_NEAR(c.em.temperature, 0.5, 0);
    CHECK_OK(config_set(&c, "em.rounds=5", "command line", &e), &e);
    CHECK_OK(config_set(&c, "run_dir=/tmp/y", "command line", &e), &e);
    CHECK(c.em.rounds == 5 && !strcmp(c.run_dir, "/tmp/y"));

    /* The effective YAML reproduces the config exactly. */
    StrBuf y1, y2;
    strbuf_init(&y1);
    strbuf_init(&y2);
    CHECK_OK(config_to_yaml(&c, &y1, &e), &e);
    RunConfig d;
    config_defaults(&d);
    CHECK_OK(config_load(&d, write_file("eff.yaml", y1.s), &e), &e);
    CHECK_OK(config_to_yaml(&d, &y2, &e), &e);
    CHECK_STR(y1.s, y2.s);
    config_free(&d);
    config_free(&c);

    CHECK(load_text("em:\n  rounds: 2\n  roundz: 3\n", &e) == RP_EINPUT);
    CHECK_MSG(strstr(e.msg, "c.yaml: line 3: unknown key 'em.roundz'"), "%s", e.msg);
    CHECK(load_text("em:\n  rounds: two\n", &e) == RP_EINPUT);
    CHECK_MSG(strstr(e.msg, "line 2: key 'em.rounds'") && strstr(e.msg, "expected an integer"), "%s", e.msg);
    CHECK(load_text("em:\n  rounds: \"2\"\n", &e) == RP_EINPUT && strstr(e.msg, "must be an integer"));
    CHECK(load_text("em:\n  rounds: 2\n  rounds: 3\n", &e) == RP_EINPUT && strstr(e.msg, "appears twice"));
    CHECK(load_text("emm:\n  rounds: 2\n", &e) == RP_EINPUT && strstr(e.msg, "unknown section 'emm'"));
    CHECK(load_text("em: [1, 2\n", &e) == RP_EINPUT && strstr(e.msg, "YAML error"));
    CHECK(load_text("- a\n- b\n", &e) == RP_EINPUT && strstr(e.msg, "expected a mapping"));
    CHECK(load_text("em:\n  temperature: [1]\n", &e) == RP_EINPUT && strstr(e.msg, "must be a number"));
    CHECK_OK(load_text("", &e), &e); /* an empty file means all defaults */

    config_defaults(&c);
    CHECK(config_set(&c, "em.n", "command line", &e) == RP_EINPUT && strstr(e.msg, "not key=value"));
    CHECK(config_set(&c, "em.nn=3", "command line", &e) == RP_EINPUT && strstr(e.msg, "command line: unknown key 'em.nn'"));
    CHECK(config_set(&c, "em.n=3.5", "command line", &e) == RP_EINPUT && strstr(e.msg, "key 'em.n'"));
    CHECK_OK(config_set(&c, "em.mstep_init=later", "command line", &e), &e);
    CHECK(config_check(&c, &e) == RP_EINPUT && strstr(e.msg, "em.mstep_init"));
    config_free(&c);
    config_defaults(&c);
    CHECK_OK(config_set(&c, "em.top_p=1.5", "x", &e), &e);
    CHECK(config_check(&c, &e) == RP_EINPUT && strstr(e.msg, "em.top_p"));
    config_free(&c);

    /* A boolean key: true or false, plain in YAML; a runtime key, so not in the effective YAML. */
    config_defaults(&c);
    CHECK(c.train.recompute == 0);
    CHECK_OK(config_load(&c, write_file("b.yaml", "train: {recompute: true}\n"), &e), &e);
    CHECK(c.train.recompute == 1);
    CHECK_OK(config_set(&c, "train.recompute=false", "command line", &e), &e);
    CHECK(c.train.recompute == 0);
    CHECK(config_set(&c, "train.recompute=1", "command line", &e) == RP_EINPUT);
    CHECK_MSG(strstr(e.msg, "command line: key 'train.recompute': expected true or false, got '1'"), "%s", e.msg);
    CHECK(load_text("train:\n  recompute: yes\n", &e) == RP_EINPUT && strstr(e.msg, "line 2: key 'train.recompute'"));
    CHECK(load_text("train:\n  recompute: \"true\"\n", &e) == RP_EINPUT && strstr(e.msg, "must be true or false"));
    CHECK_OK(config_set(&c, "train.recompute=true", "command line", &e), &e);
    StrBuf y3;
    strbuf_init(&y3);
    CHECK_OK(config_to_yaml(&c, &y3, &e), &e);
    CHECK(y3.s && !strstr(y3.s, "recompute"));
    strbuf_free(&y3);
    config_free(&c);

    /* Presets: over the defaults, under the config file and the overrides. */
    {
        RunArgs a = {0};
        char *argv[] = {"run", "--preset", "paper", "--em.n=8", NULL};
        CHECK_OK(config_parse_args("run", "", "", 4, argv, &c, &a, 1, NULL, &e), &e);
        CHECK(c.em.n == 8 && c.em.rounds == 3 && c.em.keep == 10 && c.prompt.k == 5 && c.model.n_positions == 6656);
        CHECK(c.sft.batch_size * c.sft.grad_accum == 64 && c.sft.warmup == 250 && !strcmp(c.train.schedule, "linear"));
        CHECK_NEAR(c.sft.lr, 5e-6, 0);
        CHECK_NEAR(c.em.tau, 0.3, 0);
        config_free(&c);
        RunArgs b = {0};
        char *bad[] = {"run", "--preset=gpt4", NULL};
        CHECK(config_parse_args("run", "", "", 2, bad, &c, &b, 1, NULL, &e) == RP_EINPUT && strstr(e.msg, "demo, paper"));
        config_free(&c);
        RunArgs d = {0};
        char *seeds[] = {"run", "--seeds", "1,2", NULL};
        CHECK(config_parse_args("run", "", "", 3, seeds, &c, &d, 1, NULL, &e) == RP_EINPUT && strstr(e.msg, "ablate"));
        config_free(&c);
        RunArgs f = {0};
        char *twice[] = {"demo", "--preset", "paper", NULL};
        CHECK(config_parse_args("demo", "", "", 3, twice, &c, &f, 0, "demo", &e) == RP_EINPUT && strstr(e.msg, "own preset"));
        config_free(&c);
        RunArgs g = {0};
        char *demo[] = {"demo", NULL};
        CHECK_OK(config_parse_args("demo", "", "", 1, demo, &c, &g, 0, "demo", &e), &e);
        CHECK(c.em.limit == 256 && !strcmp(c.em.mstep_init, "previous"));
        config_free(&c);
    }

    /* A judge in em.reward or eval.judge needs em.judge, and em.judge must parse. */
    config_defaults(&c);
    CHECK(c.em.limit == 0 && !strcmp(c.em.subset, "random") && !strcmp(c.em.select, "best") && c.em.steps == 0);
    CHECK_OK(config_set(&c, "em.reward=rouge1:0.5,judge:0.5", "command line", &e), &e);
    CHECK(config_check(&c, &e) == RP_EINPUT && strstr(e.msg, "'em.reward' needs a judge"));
    CHECK_OK(config_set(&c, "em.judge=[\"python3\", \"j.py\"", "command line", &e), &e);
    CHECK(config_check(&c, &e) == RP_EINPUT && strstr(e.msg, "em.judge"));
    CHECK_OK(config_set(&c, "em.judge=python3 j.py", "command line", &e), &e);
    CHECK_OK(config_check(&c, &e), &e);
    CHECK_OK(config_set(&c, "em.reward=rouge1", "command line", &e), &e);
    CHECK_OK(config_set(&c, "em.judge=", "command line", &e), &e);
    CHECK_OK(config_set(&c, "eval.judge=true", "command line", &e), &e);
    CHECK(config_check(&c, &e) == RP_EINPUT && strstr(e.msg, "'eval.judge' needs a judge"));
    config_free(&c);

    /* train.reduce changes results, so it is in the effective YAML; train.zero changes memory
     * only (checkpoints hold every moment), a runtime key; ZeRO-1 needs the all-reduce. */
    config_defaults(&c);
    CHECK_STR(c.train.reduce, "tree");
    CHECK(c.train.zero == 0);
    CHECK_OK(config_set(&c, "train.zero=1", "command line", &e), &e);
    CHECK(config_check(&c, &e) == RP_EINPUT && strstr(e.msg, "'train.zero'") && strstr(e.msg, "train.reduce allreduce"));
    CHECK_OK(config_set(&c, "train.reduce=allreduce", "command line", &e), &e);
    CHECK_OK(config_check(&c, &e), &e);
    strbuf_init(&y3);
    CHECK_OK(config_to_yaml(&c, &y3, &e), &e);
    CHECK(y3.s && strstr(y3.s, "train:\n  reduce: \"allreduce\"\n") && !strstr(y3.s, "zero"));
    strbuf_free(&y3);
    CHECK_OK(config_set(&c, "train.reduce=ring", "command line", &e), &e);
    CHECK(config_check(&c, &e) == RP_EINPUT && strstr(e.msg, "train.reduce"));
    CHECK_OK(config_set(&c, "train.reduce=tree", "command line", &e), &e);
    CHECK_OK(config_set(&c, "train.zero=2", "command line", &e), &e);
    CHECK(config_check(&c, &e) == RP_EINPUT && strstr(e.msg, "train.zero"));
    config_free(&c);

    /* train.vocab_chunk changes results at float rounding, so it is in the effective YAML; auto
     * resolves by the backend (the cpu here: 0), counts round up to 128, the rest is refused. */
    config_defaults(&c);
    CHECK_STR(c.train.vocab_chunk, "auto");
    CHECK(config_vocab_chunk(&c) == 0);
    CHECK_OK(config_set(&c, "train.vocab_chunk=4000", "command line", &e), &e);
    CHECK_OK(config_check(&c, &e), &e);
    CHECK(config_vocab_chunk(&c) == 4096);
    strbuf_init(&y3);
    CHECK_OK(config_to_yaml(&c, &y3, &e), &e);
    CHECK(y3.s && strstr(y3.s, "  vocab_chunk: \"4000\"\n"));
    strbuf_free(&y3);
    CHECK_OK(config_set(&c, "train.vocab_chunk=lots", "command line", &e), &e);
    CHECK(config_check(&c, &e) == RP_EINPUT && strstr(e.msg, "'train.vocab_chunk'") && strstr(e.msg, "lots"));
    config_free(&c);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    return test_summary("test_config");
}

/* `restpg run`, `restpg demo` and `restpg em`: the REST-PG pipeline from a config (launch/pipeline.h,
 * launch/em.h), with --section.key=value overrides. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/watchdog.h"
#include "launch/commands.h"
#include "launch/config.h"
#include "launch/em.h"
#include "launch/pipeline.h"
#include "launch/runtime.h"

static int with_runtime(int (*fn)(const RunConfig *, const RunArgs *, Error *), const RunConfig *c, const RunArgs *a, Error *e) {
    Runtime rt;
    int rc = runtime_init(&rt, e);
    if (!rc) rc = watchdog_start(c->stall_timeout, "setup", e);
    if (!rc) rc = fn(c, a, e);
    watchdog_stop();
    runtime_finalize(&rt);
    return rc;
}

static int do_run(const RunConfig *c, const RunArgs *a, Error *e) {
    PipelineResult res;
    int rc = pipeline_run(c, a->resume, &res, e);
    pipeline_result_free(&res);
    return rc;
}

int cmd_run(int argc, char **argv, Error *e) {
    RunConfig c;
    RunArgs a = {0};
    int rc = config_parse_args("run", "CONFIG.yaml [--preset demo|paper] [--section.key=value ...] [--resume]",
                   "Runs REST-PG end to end: data -> tokenizer -> reasoning paths -> (pretrain, when model.init is empty) "
                   "-> SFT with reasoning -> EM rounds -> evaluation, writing everything under run_dir. Every config key "
                   "can be overridden on the command line. A killed run continues with --resume (same config) and ends "
                   "with the same result as an uninterrupted one. Works under mpirun (all ranks sample and train).",
                   argc, argv, &c, &a, 1, NULL, e);
    if (!rc && !a.config) rc = error_set(e, RP_EINPUT, "run: missing CONFIG.yaml (see restpg run --help)");
    if (!rc) rc = with_runtime(do_run, &c, &a, e);
    config_free(&c);
    return rc;
}

int cmd_demo(int argc, char **argv, Error *e) {
    RunConfig c;
    RunArgs a = {0};
    int rc = config_parse_args("demo", "[--out DIR] [--section.key=value ...]",
                   "The default REST-PG run on this machine, sized for a 2-core CPU: the Debian-maintainer dataset (the "
                   "synthetic one when Debian's apt lists are absent), a ~1M-parameter model pretrained here, reasoning "
                   "from the built-in teacher, SFT, 3 EM rounds and evaluation. Run it under mpirun with 2 ranks "
                   "(scripts/demo does). Rerunning continues or re-reports the same run directory. Unlike restpg run, "
                   "the M-step continues from the previous policy (em.mstep_init=previous): with a model this small and "
                   "~100 kept samples per round, restarting from the base model would forget the SFT stage; and each "
                   "E-step samples a fresh random 256 of the train inputs (em.limit=256) to stay within minutes.",
                   argc, argv, &c, &a, 0, "demo", e);
    if (!rc) {
        char *kv = xasprintf(e, "run_dir=%s", a.out ? a.out : "runs/demo");
        rc = kv ? config_set(&c, kv, "--out", e) : RP_ENOMEM;
        free(kv);
    }
    a.resume = 1;
    if (!rc) rc = with_runtime(do_run, &c, &a, e);
    config_free(&c);
    return rc;
}

static int do_em(const RunConfig *c, const RunArgs *a, Error *e) {
    char *metrics = xasprintf(e, "%s/metrics", a->run_dir), *final_model = NULL;
    if (!metrics) return RP_ENOMEM;
    EmPlan p = {c, a->run_dir, a->data, a->base ? a->base : a->sft, a->sft, metrics, NULL};
    int rc = em_tensorboard_open(c, a->run_dir, &p.tb, e);
    if (!rc) rc = em_run(&p, &final_model, e);
    if (!rc) log_info("em: final policy %s", final_model);
    free(final_model);
    free(metrics);
    tbevents_close(p.tb);
    return rc;
}

int cmd_em(int argc, char **argv, Error *e) {
    RunConfig c;
    RunArgs a = {0};
    int rc = config_parse_args("em", "--data DS.h5 --sft CKPT.h5 [--base CKPT.h5] --run-dir DIR [--em.key=value ...] [--resume]",
                   "Runs the EM self-training rounds alone on a dataset (with reasoning texts, unless "
                   "--sft.reasoning=off) from an SFT policy: sample -> reward and filter -> M-step from base, sft or "
                   "previous (--em.mstep_init) -> validate, per round, under DIR/round<t>/. Killed at any point, the same "
                   "command continues where it stopped.",
                   argc, argv, &c, &a, 0, NULL, e);
    if (!rc && (!a.data || !a.sft || !a.run_dir))
        rc = error_set(e, RP_EINPUT, "em: --data, --sft and --run-dir are required (see restpg em --help)");
    if (!rc && !strcmp(c.em.mstep_init, "base") && !a.base)
        log_warn("em: --base not given; the M-step starts from the SFT checkpoint instead");
    if (!rc) rc = with_runtime(do_em, &c, &a, e);
    config_free(&c);
    return rc;
}

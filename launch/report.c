/* metrics.jsonl, plots and the summary table of a run (see report.h). */
#include "launch/report.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/fileio.h"
#include "core/log.h"
#include "data/samples.h"

int report_gnuplot(const char *script, Error *e) {
    pid_t pid = fork();
    if (pid < 0) return error_set(e, RP_EIO, "gnuplot: fork: %s", strerror(errno));
    if (pid == 0) {
        execlp("gnuplot", "gnuplot", script, (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (waitpid(pid, &status, 0) < 0) return error_set(e, RP_EIO, "gnuplot: wait: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return error_set(e, RP_EIO, "gnuplot %s failed (status %d)%s", script, WEXITSTATUS(status),
                         WEXITSTATUS(status) == 127 ? ": is gnuplot installed (scripts/setup.sh)?" : "");
    return RP_OK;
}

/* Reads a one-object JSON file; NULL if absent or unreadable. */
static cJSON *read_json(const char *path) {
    char *text;
    Error e;
    if (!path_exists(path) || file_read_all(path, &text, NULL, &e)) return NULL;
    cJSON *o = cJSON_Parse(text);
    free(text);
    return o;
}

static double num(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

/* Appends a record to metrics.jsonl with "stage" and "round" in front. */
static int add_record(StrBuf *out, const char *stage, int round, const cJSON *o, Error *e) {
    cJSON *copy = cJSON_Duplicate(o, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "stage");
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "round");
    char *body = cJSON_PrintUnformatted(copy);
    cJSON_Delete(copy);
    if (!body) return error_set(e, RP_ENOMEM, "out of memory");
    int rc = strbuf_printf(out, e, "{\"stage\": \"%s\", \"round\": %d%s%s\n", stage, round, strlen(body) > 2 ? ", " : "",
                           body + 1);
    free(body);
    return rc;
}

/* One line per training step (the last record of each step wins: a resumed stage repeats steps
 * after its last checkpoint), "step loss" for gnuplot. */
static int loss_table(const char *jsonl, const char *tsv, int *n_out, Error *e) {
    *n_out = 0;
    char *text;
    if (!path_exists(jsonl)) return RP_OK;
    int rc = file_read_all(jsonl, &text, NULL, e);
    if (rc) return rc;
    int64_t cap = 1024, max_step = 0;
    double *loss = calloc((size_t)cap, sizeof(double));
    for (char *line = strtok(text, "\n"); line && loss; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "step"), *l = cJSON_GetObjectItemCaseSensitive(o, "loss");
        if (cJSON_IsNumber(st) && cJSON_IsNumber(l) && st->valuedouble >= 1) {
            int64_t s = (int64_t)st->valuedouble;
            while (s >= cap) {
                double *nl = realloc(loss, sizeof(double) * (size_t)cap * 2);
                if (!nl) break;
                memset(nl + cap, 0, sizeof(double) * (size_t)cap);
                loss = nl;
                cap *= 2;
            }
            if (s < cap) {
                loss[s] = l->valuedouble;
                if (s > max_step) max_step = s;
            }
        }
        cJSON_Delete(o);
    }
    free(text);
    if (!loss) return error_set(e, RP_ENOMEM, "out of memory");
    StrBuf b;
    strbuf_init(&b);
    for (int64_t s = 1; s <= max_step && !rc; s++)
        if (loss[s] > 0) rc = strbuf_printf(&b, e, "%lld %.6f\n", (long long)s, loss[s]);
    if (!rc && b.len) rc = atomic_write(tsv, b.s, b.len, e);
    *n_out = b.len ? 1 : 0;
    strbuf_free(&b);
    free(loss);
    return rc;
}

/* Histogram of a round's rewards (20 bins over [0, 1]) as "bin_center fraction". */
static int reward_hist(const char *samples, const char *tsv, Error *e) {
    Samples s;
    if (samples_read(samples, &s, e)) return RP_OK; /* no samples yet: nothing to draw */
    int rc = RP_OK;
    if (s.has_reward && s.m) {
        double bins[20] = {0};
        for (int64_t i = 0; i < s.m; i++) {
            int b = (int)(s.reward[i] * 20);
            bins[b < 0 ? 0 : b > 19 ? 19 : b] += 1.0 / (double)s.m;
        }
        StrBuf b;
        strbuf_init(&b);
        for (int k = 0; k < 20 && !rc; k++) rc = strbuf_printf(&b, e, "%.3f %.6f\n", (k + 0.5) / 20, bins[k]);
        if (!rc) rc = atomic_write(tsv, b.s, b.len, e);
        strbuf_free(&b);
    }
    samples_free(&s);
    return rc;
}

static int plots(const char *dir, int rounds, int have_val, Error *e) {
    char *pdir = xasprintf(e, "%s/plots", dir);
    if (!pdir) return RP_ENOMEM;
    int rc = mkdir_p(pdir, e);
    StrBuf s;
    strbuf_init(&s);
    /* Loss curves of every training stage. */
    rc = rc ? rc : strbuf_printf(&s, e, "set terminal pngcairo size 900,540 noenhanced\nset output '%s/loss.png'\nset title 'training loss'\n"
                                 "set xlabel 'optimizer step'\nset ylabel 'loss (nats/token)'\nset key outside\nplot ", pdir);
    const char *stages[64];
    char names[64][64];
    int ns = 0;
    snprintf(names[ns], 64, "pretrain");
    stages[ns] = names[ns], ns++;
    snprintf(names[ns], 64, "sft");
    stages[ns] = names[ns], ns++;
    for (int t = 1; t <= rounds && ns < 64; t++) {
        snprintf(names[ns], 64, "mstep_round%d", t);
        stages[ns] = names[ns], ns++;
    }
    int drawn = 0;
    for (int i = 0; i < ns && !rc; i++) {
        char *jl = xasprintf(e, "%s/metrics/%s.jsonl", dir, stages[i]);
        char *tsv = jl ? xasprintf(e, "%s/%s_loss.tsv", pdir, stages[i]) : NULL;
        int have = 0;
        if (!tsv) rc = RP_ENOMEM;
        else if (!(rc = loss_table(jl, tsv, &have, e)) && have)
            rc = strbuf_printf(&s, e, "%s'%s' using 1:2 with lines title '%s'", drawn++ ? ", " : "", tsv, stages[i]);
        free(jl);
        free(tsv);
    }
    if (!rc) rc = strbuf_puts(&s, "\n", e);
    /* Reward distribution per round and the kept fraction. */
    int hist = 0;
    StrBuf h;
    strbuf_init(&h);
    for (int t = 1; t <= rounds && !rc; t++) {
        char *sp = xasprintf(e, "%s/em/round%d/samples.h5", dir, t);
        char *tsv = sp ? xasprintf(e, "%s/reward_round%d.tsv", pdir, t) : NULL;
        if (!tsv) rc = RP_ENOMEM;
        else if (!(rc = reward_hist(sp, tsv, e)) && path_exists(tsv))
            rc = strbuf_printf(&h, e, "%s'%s' using 1:2 with linespoints title 'round %d'", hist++ ? ", " : "", tsv, t);
        free(sp);
        free(tsv);
    }
    if (!rc && hist)
        rc = strbuf_printf(&s, e, "set output '%s/reward.png'\nset title 'reward of sampled candidates'\nset xlabel 'reward'\n"
                           "set ylabel 'fraction of candidates'\nplot %s\n"
                           "set output '%s/kept.png'\nset title 'E-step: kept fraction and mean reward per round'\n"
                           "set xlabel 'round'\nset ylabel ''\nset xtics 1\nplot '%s/estep.tsv' using 1:2 with linespoints title 'kept fraction', "
                           "'%s/estep.tsv' using 1:3 with linespoints title 'mean reward', '%s/estep.tsv' using 1:4 with linespoints "
                           "title 'mean kept reward'\n",
                           pdir, h.s, pdir, pdir, pdir, pdir);
    strbuf_free(&h);
    if (!rc && have_val)
        rc = strbuf_printf(&s, e, "set output '%s/eval.png'\nset title 'validation after each round (0 = SFT)'\nset xlabel 'round'\n"
                           "set ylabel 'score'\nset xtics 1\nplot '%s/val.tsv' using 1:2 with linespoints title 'ROUGE-1', "
                           "'%s/val.tsv' using 1:3 with linespoints title 'ROUGE-L', '%s/val.tsv' using 1:4 with linespoints "
                           "title 'METEOR', '%s/val.tsv' using 1:5 with linespoints title 'reward'\n",
                           pdir, pdir, pdir, pdir, pdir);
    char *gp = rc ? NULL : xasprintf(e, "%s/plots.gp", pdir);
    if (!rc) rc = gp ? atomic_write(gp, s.s, s.len, e) : RP_ENOMEM;
    strbuf_free(&s);
    if (!rc && report_gnuplot(gp, e)) {
        log_warn("plots not drawn: %s", e->msg);
        error_clear(e);
    }
    free(gp);
    free(pdir);
    return rc;
}

/* Writes b atomically to "<dir>/<name>"; an empty b writes nothing unless `always`. */
static int write_in(const char *dir, const char *name, const StrBuf *b, int always, Error *e) {
    if (!always && !b->len) return RP_OK;
    char *path = xasprintf(e, "%s/%s", dir, name);
    if (!path) return RP_ENOMEM;
    int rc = atomic_write(path, b->s ? b->s : "", b->len, e);
    free(path);
    return rc;
}

static void fill_metrics(const cJSON *o, EvalMetrics *m) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, "judge");
    *m = (EvalMetrics){.n = (int64_t)num(o, "n"), .rouge1 = num(o, "rouge1"), .rougeL = num(o, "rougeL"),
                       .meteor = num(o, "meteor"), .reward = num(o, "reward"), .answer_words = num(o, "answer_words"),
                       .with_separator = num(o, "with_separator"), .has_judge = cJSON_IsNumber(j), .judge = num(o, "judge")};
}

int report_write(const char *dir, int rounds, PipelineResult *res, Error *e) {
    StrBuf lines, val, est;
    strbuf_init(&lines);
    strbuf_init(&val);
    strbuf_init(&est);
    char *path = NULL;
    int rc = RP_OK, have_val = 0;
    for (int t = 0; t <= rounds && !rc; t++) {
        free(path);
        if (!(path = xasprintf(e, "%s/em/round%d/estep.json", dir, t))) {
            rc = RP_ENOMEM;
            break;
        }
        cJSON *o = read_json(path);
        if (o) {
            rc = add_record(&lines, "estep", t, o, e);
            if (!rc)
                rc = strbuf_printf(&est, e, "%d %.6f %.6f %.6f\n", t, num(o, "kept_fraction"), num(o, "mean_reward"),
                                   num(o, "mean_kept_reward"));
            cJSON_Delete(o);
        }
        free(path);
        if (!(path = xasprintf(e, "%s/em/round%d/val/eval.json", dir, t))) {
            rc = RP_ENOMEM;
            break;
        }
        if (!rc && (o = read_json(path))) {
            rc = add_record(&lines, "val", t, o, e);
            if (!rc)
                rc = strbuf_printf(&val, e, "%d %.6f %.6f %.6f %.6f\n", t, num(o, "rouge1"), num(o, "rougeL"), num(o, "meteor"),
                                   num(o, "reward"));
            if (t == 0) fill_metrics(o, &res->sft_val);
            fill_metrics(o, &res->last_val);
            have_val++;
            cJSON_Delete(o);
        }
    }
    free(path);
    path = rc ? NULL : xasprintf(e, "%s/em/select.json", dir);
    if (!rc && !path) rc = RP_ENOMEM;
    cJSON *sel = rc ? NULL : read_json(path);
    if (sel) {
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(sel, "round");
        res->selected_round = cJSON_IsNumber(r) ? (int)r->valuedouble : rounds;
        rc = add_record(&lines, "select", res->selected_round, sel, e);
        cJSON_Delete(sel);
    }
    free(path);
    path = rc ? NULL : xasprintf(e, "%s/eval/eval.json", dir);
    if (!rc && !path) rc = RP_ENOMEM;
    cJSON *o = rc ? NULL : read_json(path);
    if (o) {
        rc = add_record(&lines, "eval", rounds, o, e);
        fill_metrics(o, &res->eval);
        cJSON_Delete(o);
    }
    free(path);
    char *pdir = rc ? NULL : xasprintf(e, "%s/plots", dir);
    if (!rc) rc = pdir ? mkdir_p(pdir, e) : RP_ENOMEM;
    if (!rc) rc = write_in(dir, "metrics.jsonl", &lines, 1, e);
    if (!rc) rc = write_in(pdir, "val.tsv", &val, 0, e);
    if (!rc) rc = write_in(pdir, "estep.tsv", &est, 0, e);
    free(pdir);
    if (!rc) rc = plots(dir, rounds, have_val > 0, e);
    if (!rc) {
        log_info("\n%-28s %8s %8s %8s %8s", "", "ROUGE-1", "ROUGE-L", "METEOR", "reward");
        log_info("%-28s %8.4f %8.4f %8.4f %8.4f", "val, SFT policy (round 0)", res->sft_val.rouge1, res->sft_val.rougeL,
                 res->sft_val.meteor, res->sft_val.reward);
        char label[64];
        snprintf(label, sizeof label, "val, after round %d", rounds);
        log_info("%-28s %8.4f %8.4f %8.4f %8.4f", label, res->last_val.rouge1, res->last_val.rougeL, res->last_val.meteor,
                 res->last_val.reward);
        snprintf(label, sizeof label, "final eval (round %d)", res->selected_round);
        log_info("%-28s %8.4f %8.4f %8.4f %8.4f   (%lld examples)", label, res->eval.rouge1, res->eval.rougeL,
                 res->eval.meteor, res->eval.reward, (long long)res->eval.n);
        log_info("\nmetrics: %s/metrics.jsonl\nplots:   %s/plots/{loss,reward,kept,eval}.png\npredictions (LongLaMP format): "
                 "%s/eval/predictions.json",
                 dir, dir, dir);
    }
    strbuf_free(&lines);
    strbuf_free(&val);
    strbuf_free(&est);
    return rc;
}

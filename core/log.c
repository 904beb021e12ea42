/* Rank-aware logging and progress display (see log.h). */
#include "core/log.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int g_rank = 0;
static int g_world = 1;

void log_set_rank(int rank, int world_size) {
    g_rank = rank;
    g_world = world_size;
}

int log_rank(void) { return g_rank; }

void log_info(const char *fmt, ...) {
    if (g_rank != 0) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
}

void log_warn(const char *fmt, ...) {
    if (g_world > 1) fprintf(stderr, "[rank %d] ", g_rank);
    fputs("warning: ", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

double time_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A redrawn bar only on a real terminal. Under mpirun/srun a rank's stdout is often a pty that
 * the launcher copies into a log file, so launched ranks print lines unless RESTPG_PROGRESS=bar. */
static int want_bar(void) {
    const char *mode = getenv("RESTPG_PROGRESS");
    if (mode && !strcmp(mode, "bar")) return 1;
    if (mode && !strcmp(mode, "lines")) return 0;
    if (getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("SLURM_PROCID")) return 0;
    return isatty(STDOUT_FILENO);
}

void progress_init(Progress *p, const char *label, int64_t total) {
    p->label = label;
    p->total = total;
    p->t_start = time_now();
    p->t_last = 0.0;
    p->tty = want_bar();
}

static void format_eta(double s, char *buf, size_t n) {
    if (s < 0 || s > 1e7) {
        snprintf(buf, n, "?");
        return;
    }
    int sec = (int)(s + 0.5);
    if (sec >= 3600) snprintf(buf, n, "%dh%02dm", sec / 3600, (sec / 60) % 60);
    else snprintf(buf, n, "%dm%02ds", sec / 60, sec % 60);
}

static void progress_print(Progress *p, int64_t done, const char *extra, int final) {
    double now = time_now();
    double el = now - p->t_start;
    char eta[32] = "?";
    if (p->total > 0 && done > 0) format_eta(el / (double)done * (double)(p->total - done), eta, sizeof eta);
    char head[64];
    if (p->total > 0) snprintf(head, sizeof head, "%lld/%lld", (long long)done, (long long)p->total);
    else snprintf(head, sizeof head, "%lld", (long long)done);
    if (p->tty) {
        char bar[21] = "                    ";
        if (p->total > 0) {
            int fill = (int)(20.0 * (double)done / (double)p->total);
            for (int i = 0; i < fill && i < 20; i++) bar[i] = '#';
        }
        fprintf(stdout, "\r\033[K%s [%s] %s %s eta %s", p->label, bar, head, extra ? extra : "", eta);
        if (final) fputc('\n', stdout);
    } else {
        fprintf(stdout, "%s %s %s elapsed %.1fs eta %s\n", p->label, head, extra ? extra : "", el,
                final ? "0m00s" : eta);
    }
    fflush(stdout);
    p->t_last = now;
}

void progress_update(Progress *p, int64_t done, const char *extra) {
    if (g_rank != 0) return;
    double gap = p->tty ? 0.1 : 5.0;
    if (time_now() - p->t_last < gap) return;
    progress_print(p, done, extra, 0);
}

void progress_finish(Progress *p, int64_t done, const char *extra) {
    if (g_rank != 0) return;
    progress_print(p, done, extra, 1);
}

/* A JSON Lines helper program: process group, batches, per-line timeouts, restart and resend
 * (see jsonl_worker.h). */
#define _GNU_SOURCE
#include "core/jsonl_worker.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"

int jsonl_worker_argv_parse(const char *what, const char *cmd, char ***out, Error *e) {
    char **argv = NULL;
    int n = 0, rc = RP_OK;
    const char *p = cmd;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '[') {
        cJSON *arr = cJSON_Parse(p);
        if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
            cJSON_Delete(arr);
            return error_set(e, RP_EINPUT, "%s command '%s': expected a non-empty JSON array of strings", what, cmd);
        }
        int len = cJSON_GetArraySize(arr);
        argv = xcalloc((size_t)len + 1, sizeof(char *), e);
        for (int i = 0; argv && i < len && !rc; i++) {
            cJSON *it = cJSON_GetArrayItem(arr, i);
            if (!cJSON_IsString(it)) rc = error_set(e, RP_EINPUT, "%s command: element %d is not a string", what, i);
            else if (!(argv[n++] = xstrdup(it->valuestring, e))) rc = RP_ENOMEM;
        }
        cJSON_Delete(arr);
        if (!argv) return RP_ENOMEM;
    } else {
        size_t len = strlen(p);
        argv = xcalloc(len / 2 + 2, sizeof(char *), e);
        if (!argv) return RP_ENOMEM;
        while (*p && !rc) {
            const char *s = p;
            while (*p && *p != ' ' && *p != '\t') p++;
            if (!(argv[n] = strndup(s, (size_t)(p - s)))) rc = error_set(e, RP_ENOMEM, "out of memory");
            n++;
            while (*p == ' ' || *p == '\t') p++;
        }
        if (!rc && n == 0) rc = error_set(e, RP_EINPUT, "%s command is empty", what);
    }
    if (rc) {
        jsonl_worker_argv_free(argv);
        return rc;
    }
    *out = argv;
    return RP_OK;
}

void jsonl_worker_argv_free(char **argv) {
    if (!argv) return;
    for (char **a = argv; *a; a++) free(*a);
    free(argv);
}

static void kill_child(JsonlWorker *w) {
    if (w->wfd >= 0) close(w->wfd);
    if (w->rfd >= 0) close(w->rfd);
    w->wfd = w->rfd = -1;
    if (w->pgid > 0) kill(-w->pgid, SIGKILL); /* helpers too, even after the program itself exited */
    if (w->pid > 0) {
        kill(w->pid, SIGKILL);
        waitpid(w->pid, NULL, 0);
    }
    w->pid = -1;
    w->pgid = -1;
}

/* fork + execvp with a close-on-exec status pipe so an exec failure is reported with its errno
 * instead of looking like a program that died later. */
static int spawn(JsonlWorker *w, Error *e) {
    int in[2], out[2], st[2];
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(st, O_CLOEXEC))
        return error_set(e, RP_EIO, "%s: pipe: %s", w->what, strerror(errno));
    pid_t pid = fork();
    if (pid < 0) return error_set(e, RP_EIO, "%s: fork: %s", w->what, strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        dup2(in[0], 0);
        dup2(out[1], 1);
        execvp(w->argv[0], w->argv);
        int err = errno;
        if (write(st[1], &err, sizeof err) < 0) _exit(127);
        _exit(127);
    }
    /* Set on both sides so the group exists before either a kill or the exec can happen. */
    setpgid(pid, pid);
    close(in[0]);
    close(out[1]);
    close(st[1]);
    int child_err = 0;
    ssize_t got = read(st[0], &child_err, sizeof child_err);
    close(st[0]);
    w->pid = pid;
    w->pgid = pid;
    w->wfd = in[1];
    w->rfd = out[0];
    if (got == (ssize_t)sizeof child_err) {
        kill_child(w);
        return error_set(e, RP_EINPUT, "%s: cannot run '%s': %s", w->what, w->argv[0], strerror(child_err));
    }
    fcntl(w->wfd, F_SETFL, O_NONBLOCK);
    fcntl(w->rfd, F_SETFL, O_NONBLOCK);
    return RP_OK;
}

int jsonl_worker_start(JsonlWorker *w, const char *what, char *const *argv, double timeout_s, int batch, int retries,
                       Error *e) {
    memset(w, 0, sizeof *w);
    w->what = what;
    w->pid = w->pgid = -1;
    w->wfd = w->rfd = -1;
    w->timeout_s = timeout_s > 0 ? timeout_s : 60.0;
    w->batch = batch > 0 ? batch : 64;
    w->retries = retries >= 0 ? retries : 0;
    /* A program that exits early must surface as an error from write(), not kill restpg. */
    signal(SIGPIPE, SIG_IGN);
    int n = 0;
    while (argv[n]) n++;
    w->argv = xcalloc((size_t)n + 1, sizeof(char *), e);
    if (!w->argv) return RP_ENOMEM;
    for (int i = 0; i < n; i++)
        if (!(w->argv[i] = xstrdup(argv[i], e))) return RP_ENOMEM;
    return spawn(w, e);
}

void jsonl_worker_stop(JsonlWorker *w) {
    if (w->wfd >= 0) close(w->wfd);
    w->wfd = -1;
    if (w->pid > 0) {
        for (int i = 0; i < 200; i++) { /* up to 2 s for a clean exit */
            if (waitpid(w->pid, NULL, WNOHANG) == w->pid) {
                w->pid = -1;
                break;
            }
            usleep(10000);
        }
    }
    kill_child(w);
    jsonl_worker_argv_free(w->argv);
    w->argv = NULL;
}

int jsonl_worker_take(const char *what, const JsonlJob *job, int64_t b0, int64_t bn, const char *line, uint8_t *done,
                      Error *e) {
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithOpts(line, &end, 0);
    if (o && end) {
        while (*end == ' ' || *end == '\t' || *end == '\r') end++;
        /* `{...} {...}` would otherwise count as one answer and hide the second. */
        if (*end) {
            cJSON_Delete(o);
            return error_set(e, RP_EINPUT, "%s answered more than one JSON value on one line: '%.200s'", what, line);
        }
    }
    cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    int rc = RP_OK;
    if (!cJSON_IsObject(o)) rc = error_set(e, RP_EINPUT, "%s answered a line that is not a JSON object: '%.200s'", what, line);
    else if (!cJSON_IsString(id)) rc = error_set(e, RP_EINPUT, "%s answer has no string field 'id': '%.200s'", what, line);
    if (!rc) {
        int64_t k = 0;
        while (k < bn && strcmp(job->id(job->ctx, b0 + k), id->valuestring)) k++;
        if (k == bn) rc = error_set(e, RP_EINPUT, "%s answered unknown id '%s'", what, id->valuestring);
        else if (done[k]) rc = error_set(e, RP_EINPUT, "%s answered id '%s' twice", what, id->valuestring);
        else if (!(rc = job->answer(job->ctx, b0 + k, o, e))) done[k] = 1;
    }
    cJSON_Delete(o);
    return rc;
}

/* Says how the program ended after its output reached EOF (usually it exited: it gets a moment to
 * be reaped so the message can say how). Always RP_EIO: a crash is retryable. */
static int eof_error(JsonlWorker *w, Error *e) {
    int status = 0;
    pid_t got = 0;
    for (int i = 0; i < 100 && got == 0; i++) {
        got = waitpid(w->pid, &status, WNOHANG);
        if (got == 0) usleep(10000);
    }
    if (got == w->pid) w->pid = -1;
    if (got == 0) return error_set(e, RP_EIO, "%s closed its output", w->what);
    if (WIFSIGNALED(status)) return error_set(e, RP_EIO, "%s was killed by signal %d", w->what, WTERMSIG(status));
    return error_set(e, RP_EIO, "%s exited with status %d", w->what, WEXITSTATUS(status));
}

/* One batch [b0, b0 + bn): RP_OK, RP_EINPUT for protocol errors (final), or RP_EIO for a crash or
 * timeout (retryable). */
static int exchange(JsonlWorker *w, const JsonlJob *job, int64_t b0, int64_t bn, Error *e) {
    StrBuf req, in;
    strbuf_init(&req);
    strbuf_init(&in);
    uint8_t *done = xcalloc((size_t)bn, 1, e);
    int rc = done ? RP_OK : RP_ENOMEM;
    for (int64_t k = 0; k < bn && !rc; k++)
        if (!(rc = job->request(job->ctx, b0 + k, &req, e))) rc = strbuf_puts(&req, "\n", e);
    size_t sent = 0;
    int64_t answered = 0;
    double deadline = time_now() + w->timeout_s;
    while (!rc && answered < bn) {
        struct pollfd p[2] = {{w->rfd, POLLIN, 0}, {sent < req.len ? w->wfd : -1, POLLOUT, 0}};
        double left = deadline - time_now();
        if (left <= 0) {
            rc = error_set(e, RP_EIO, "%s gave no answer within %.1f s (%lld of %lld answered)", w->what, w->timeout_s,
                           (long long)answered, (long long)bn);
            break;
        }
        if (poll(p, 2, (int)(left * 1000) + 1) < 0) {
            if (errno == EINTR) continue;
            rc = error_set(e, RP_EIO, "%s: poll: %s", w->what, strerror(errno));
            break;
        }
        if (p[1].revents & (POLLOUT | POLLERR | POLLHUP)) {
            ssize_t n = write(w->wfd, req.s + sent, req.len - sent);
            if (n < 0 && errno != EAGAIN) rc = error_set(e, RP_EIO, "%s stopped reading its input: %s", w->what, strerror(errno));
            else if (n > 0) sent += (size_t)n;
        }
        if (!rc && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            char buf[65536];
            ssize_t r = read(w->rfd, buf, sizeof buf);
            if (r == 0) {
                rc = eof_error(w, e);
            } else if (r < 0 && errno != EAGAIN) {
                rc = error_set(e, RP_EIO, "%s: read: %s", w->what, strerror(errno));
            } else if (r > 0 && !(rc = strbuf_append(&in, buf, (size_t)r, e))) {
                char *nl;
                while (!rc && (nl = memchr(in.s, '\n', in.len))) {
                    *nl = '\0';
                    size_t used = (size_t)(nl - in.s) + 1;
                    if (in.s[0] && !(rc = jsonl_worker_take(w->what, job, b0, bn, in.s, done, e))) {
                        answered++;
                        deadline = time_now() + w->timeout_s;
                    }
                    memmove(in.s, nl + 1, in.len - used);
                    in.len -= used;
                }
                if (!rc && in.len > JSONL_WORKER_MAX_LINE)
                    rc = error_set(e, RP_EINPUT, "%s wrote a response line longer than %u MiB without a newline", w->what,
                                   JSONL_WORKER_MAX_LINE >> 20);
            }
        }
    }
    free(done);
    strbuf_free(&req);
    strbuf_free(&in);
    return rc;
}

int jsonl_worker_run(JsonlWorker *w, const JsonlJob *job, int64_t n, Error *e) {
    for (int64_t b0 = 0; b0 < n; b0 += w->batch) {
        int64_t bn = n - b0 < w->batch ? n - b0 : w->batch;
        int rc = RP_EIO;
        for (int attempt = 0; rc == RP_EIO && attempt <= w->retries; attempt++) {
            if (attempt > 0) {
                log_warn("%s: %s; restarting it and resending %lld items", w->what, e->msg, (long long)bn);
                w->restarts++;
            }
            if (attempt > 0 || w->pid < 0) {
                kill_child(w);
                if ((rc = spawn(w, e))) return rc;
            }
            rc = exchange(w, job, b0, bn, e);
        }
        if (rc) {
            kill_child(w);
            return error_wrap(e, "%s '%s' (batch starting at item %lld)", w->what, w->argv[0], (long long)b0);
        }
    }
    return RP_OK;
}

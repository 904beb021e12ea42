/* External judge process management and protocol (see judge.h). */
#define _GNU_SOURCE
#include "reward/judge.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/log.h"
#include "core/text.h"

int judge_argv_parse(const char *cmd, char ***out, Error *e) {
    char **argv = NULL;
    int n = 0, rc = RP_OK;
    const char *p = cmd;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '[') {
        cJSON *arr = cJSON_Parse(p);
        if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0) {
            cJSON_Delete(arr);
            return error_set(e, RP_EINPUT, "judge command '%s': expected a non-empty JSON array of strings", cmd);
        }
        int len = cJSON_GetArraySize(arr);
        argv = xcalloc((size_t)len + 1, sizeof(char *), e);
        for (int i = 0; argv && i < len && !rc; i++) {
            cJSON *it = cJSON_GetArrayItem(arr, i);
            if (!cJSON_IsString(it)) rc = error_set(e, RP_EINPUT, "judge command: element %d is not a string", i);
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
        if (!rc && n == 0) rc = error_set(e, RP_EINPUT, "judge command is empty");
    }
    if (rc) {
        judge_argv_free(argv);
        return rc;
    }
    *out = argv;
    return RP_OK;
}

void judge_argv_free(char **argv) {
    if (!argv) return;
    for (char **a = argv; *a; a++) free(*a);
    free(argv);
}

static void kill_child(Judge *j) {
    if (j->wfd >= 0) close(j->wfd);
    if (j->rfd >= 0) close(j->rfd);
    j->wfd = j->rfd = -1;
    if (j->pgid > 0) kill(-j->pgid, SIGKILL); /* helpers too, even after the judge itself exited */
    if (j->pid > 0) {
        kill(j->pid, SIGKILL);
        waitpid(j->pid, NULL, 0);
    }
    j->pid = -1;
    j->pgid = -1;
}

/* fork + execvp with a close-on-exec status pipe so an exec failure is reported with its errno
 * instead of looking like a judge that died later. */
static int spawn(Judge *j, Error *e) {
    int in[2], out[2], st[2];
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(st, O_CLOEXEC))
        return error_set(e, RP_EIO, "judge: pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) return error_set(e, RP_EIO, "judge: fork: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        dup2(in[0], 0);
        dup2(out[1], 1);
        execvp(j->argv[0], j->argv);
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
    j->pid = pid;
    j->pgid = pid;
    j->wfd = in[1];
    j->rfd = out[0];
    if (got == (ssize_t)sizeof child_err) {
        kill_child(j);
        return error_set(e, RP_EINPUT, "judge: cannot run '%s': %s", j->argv[0], strerror(child_err));
    }
    fcntl(j->wfd, F_SETFL, O_NONBLOCK);
    fcntl(j->rfd, F_SETFL, O_NONBLOCK);
    return RP_OK;
}

int judge_start(Judge *j, char *const *argv, double timeout_s, int batch, int retries, Error *e) {
    memset(j, 0, sizeof *j);
    j->pid = j->pgid = -1;
    j->wfd = j->rfd = -1;
    j->timeout_s = timeout_s > 0 ? timeout_s : 60.0;
    j->batch = batch > 0 ? batch : 64;
    j->retries = retries >= 0 ? retries : 0;
    /* A judge that exits early must surface as an error from write(), not kill restpg. */
    signal(SIGPIPE, SIG_IGN);
    int n = 0;
    while (argv[n]) n++;
    j->argv = xcalloc((size_t)n + 1, sizeof(char *), e);
    if (!j->argv) return RP_ENOMEM;
    for (int i = 0; i < n; i++)
        if (!(j->argv[i] = xstrdup(argv[i], e))) return RP_ENOMEM;
    return spawn(j, e);
}

void judge_stop(Judge *j) {
    if (j->wfd >= 0) close(j->wfd);
    j->wfd = -1;
    if (j->pid > 0) {
        for (int i = 0; i < 200; i++) { /* up to 2 s for a clean exit */
            if (waitpid(j->pid, NULL, WNOHANG) == j->pid) {
                j->pid = -1;
                break;
            }
            usleep(10000);
        }
    }
    kill_child(j);
    judge_argv_free(j->argv);
    j->argv = NULL;
}

static int append_request(StrBuf *b, const JudgeItem *it, Error *e) {
    const char *keys[5] = {"id", "input", "reference", "reasoning", "answer"};
    const char *vals[5] = {it->id, it->input, it->reference, it->reasoning, it->answer};
    int rc = strbuf_puts(b, "{", e);
    for (int k = 0; k < 5 && !rc; k++) {
        rc = strbuf_printf(b, e, "%s\"%s\": ", k ? ", " : "", keys[k]);
        if (!rc) rc = strbuf_json_string(b, vals[k] ? vals[k] : "", e);
    }
    return rc ? rc : strbuf_puts(b, "}\n", e);
}

/* Validates one response line against the batch; RP_EINPUT for protocol errors. */
static int take_response(const char *line, const JudgeItem *items, int64_t n, double *rewards, uint8_t *done, Error *e) {
    const char *end = NULL;
    cJSON *o = cJSON_ParseWithOpts(line, &end, 0);
    int rc = RP_OK;
    if (o && end) {
        while (*end == ' ' || *end == '\t' || *end == '\r') end++;
        /* `{...} {...}` would otherwise count as one answer and hide the second. */
        if (*end) {
            cJSON_Delete(o);
            return error_set(e, RP_EINPUT, "judge answered more than one JSON value on one line: '%.200s'", line);
        }
    }
    cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "reward");
    if (!cJSON_IsObject(o)) rc = error_set(e, RP_EINPUT, "judge answered a line that is not a JSON object: '%.200s'", line);
    else if (!cJSON_IsString(id)) rc = error_set(e, RP_EINPUT, "judge answer has no string field 'id': '%.200s'", line);
    else if (!cJSON_IsNumber(r)) rc = error_set(e, RP_EINPUT, "judge answer for id '%s': field 'reward' missing or not a number", id->valuestring);
    else if (!isfinite(r->valuedouble) || r->valuedouble < 0.0 || r->valuedouble > 1.0)
        rc = error_set(e, RP_EINPUT, "judge answer for id '%s': field 'reward' = %g is outside [0, 1]", id->valuestring, r->valuedouble);
    if (!rc) {
        int64_t k = 0;
        while (k < n && strcmp(items[k].id, id->valuestring)) k++;
        if (k == n) rc = error_set(e, RP_EINPUT, "judge answered unknown id '%s'", id->valuestring);
        else if (done[k]) rc = error_set(e, RP_EINPUT, "judge answered id '%s' twice", id->valuestring);
        else {
            done[k] = 1;
            rewards[k] = r->valuedouble;
        }
    }
    cJSON_Delete(o);
    return rc;
}

/* Returns RP_OK, RP_EINPUT for protocol errors (final), or RP_EIO for a crash/timeout (retryable). */
static int exchange(Judge *j, const JudgeItem *items, int64_t n, double *rewards, Error *e) {
    StrBuf req, in;
    strbuf_init(&req);
    strbuf_init(&in);
    uint8_t *done = xcalloc((size_t)n, 1, e);
    int rc = done ? RP_OK : RP_ENOMEM;
    for (int64_t k = 0; k < n && !rc; k++) rc = append_request(&req, &items[k], e);
    size_t sent = 0;
    int64_t answered = 0;
    double deadline = time_now() + j->timeout_s;
    while (!rc && answered < n) {
        struct pollfd p[2] = {{j->rfd, POLLIN, 0}, {sent < req.len ? j->wfd : -1, POLLOUT, 0}};
        double left = deadline - time_now();
        if (left <= 0) {
            rc = error_set(e, RP_EIO, "judge gave no answer within %.1f s (%lld of %lld answered)", j->timeout_s,
                           (long long)answered, (long long)n);
            break;
        }
        if (poll(p, 2, (int)(left * 1000) + 1) < 0) {
            if (errno == EINTR) continue;
            rc = error_set(e, RP_EIO, "judge: poll: %s", strerror(errno));
            break;
        }
        if (p[1].revents & (POLLOUT | POLLERR | POLLHUP)) {
            ssize_t w = write(j->wfd, req.s + sent, req.len - sent);
            if (w < 0 && errno != EAGAIN) rc = error_set(e, RP_EIO, "judge stopped reading its input: %s", strerror(errno));
            else if (w > 0) sent += (size_t)w;
        }
        if (!rc && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            char buf[65536];
            ssize_t r = read(j->rfd, buf, sizeof buf);
            if (r == 0) {
                /* EOF usually means it exited: give it a moment to be reaped so the error
                 * can say how it ended. */
                int status = 0;
                pid_t w = 0;
                for (int i = 0; i < 100 && w == 0; i++) {
                    w = waitpid(j->pid, &status, WNOHANG);
                    if (w == 0) usleep(10000);
                }
                if (w == j->pid) j->pid = -1;
                if (w == 0) rc = error_set(e, RP_EIO, "judge closed its output");
                else if (WIFSIGNALED(status)) rc = error_set(e, RP_EIO, "judge was killed by signal %d", WTERMSIG(status));
                else rc = error_set(e, RP_EIO, "judge exited with status %d", WEXITSTATUS(status));
            } else if (r < 0 && errno != EAGAIN) {
                rc = error_set(e, RP_EIO, "judge: read: %s", strerror(errno));
            } else if (r > 0 && !(rc = strbuf_append(&in, buf, (size_t)r, e))) {
                char *nl;
                while (!rc && (nl = memchr(in.s, '\n', in.len))) {
                    *nl = '\0';
                    size_t used = (size_t)(nl - in.s) + 1;
                    if (in.s[0] && !(rc = take_response(in.s, items, n, rewards, done, e))) {
                        answered++;
                        deadline = time_now() + j->timeout_s;
                    }
                    memmove(in.s, nl + 1, in.len - used);
                    in.len -= used;
                }
                if (!rc && in.len > JUDGE_MAX_LINE)
                    rc = error_set(e, RP_EINPUT, "judge wrote a response line longer than %u MiB without a newline",
                                   JUDGE_MAX_LINE >> 20);
            }
        }
    }
    free(done);
    strbuf_free(&req);
    strbuf_free(&in);
    return rc;
}

int judge_score(Judge *j, const JudgeItem *items, int64_t n, double *rewards, Error *e) {
    for (int64_t b0 = 0; b0 < n; b0 += j->batch) {
        int64_t bn = n - b0 < j->batch ? n - b0 : j->batch;
        int rc = RP_EIO;
        for (int attempt = 0; rc == RP_EIO && attempt <= j->retries; attempt++) {
            if (attempt > 0) {
                log_warn("judge: %s; restarting it and resending %lld items", e->msg, (long long)bn);
                j->restarts++;
            }
            if (attempt > 0 || j->pid < 0) {
                kill_child(j);
                if ((rc = spawn(j, e))) return rc;
            }
            rc = exchange(j, items + b0, bn, rewards + b0, e);
        }
        if (rc) {
            kill_child(j);
            return error_wrap(e, "judge '%s' (batch starting at item %lld)", j->argv[0], (long long)b0);
        }
    }
    return RP_OK;
}

/* The sampler's MPI protocol (see shard.h and docs/sampler.md).
 *
 * Messages (on a duplicate of MPI_COMM_WORLD):
 *   REQUEST  worker -> 0   int32 count: inputs the worker can take
 *   ASSIGN   0 -> worker   int64[k] input positions, 1 <= k <= count; k = 0: no more work
 *   RESULT   worker -> 0   one finished input, packed (pack_result)
 *   DONE     worker -> 0   int32 status + message: the worker's last message
 *   ABORT    0 -> worker   another rank failed: stop generating
 *   LEAVE    0 -> worker   the answer to DONE: nothing more will be sent to the worker
 * Rank 0 answers every REQUEST, so a worker may block on its reply; a worker sends DONE only
 * after its last REQUEST was answered, and rank 0 stops only after every worker's DONE, so no
 * message is left unreceived. The final status is broadcast from rank 0. */
#include "sampler/shard.h"

#include <stdlib.h>
#include <string.h>

#include "core/comm.h"

enum { TAG_REQUEST = 7401, TAG_ASSIGN, TAG_RESULT, TAG_DONE, TAG_ABORT, TAG_LEAVE };
#define MAX_ASSIGN 64

/* Packed result: int64 input, int32 n, n x int32 len, n x uint8 finish, n x double logprob, then
 * each candidate's tokens back to back. */
static size_t packed_size(const InputResult *r) {
    size_t tokens = 0;
    for (int c = 0; c < r->n; c++) tokens += (size_t)r->len[c];
    return 12 + (size_t)r->n * (4 + 1 + 8) + tokens * 4;
}

static void put(uint8_t **p, const void *v, size_t n) {
    memcpy(*p, v, n);
    *p += n;
}

static void pack_result(const InputResult *r, uint8_t *buf) {
    uint8_t *p = buf;
    put(&p, &r->input, 8);
    put(&p, &r->n, 4);
    put(&p, r->len, 4 * (size_t)r->n);
    put(&p, r->finish, (size_t)r->n);
    put(&p, r->logprob, 8 * (size_t)r->n);
    for (int c = 0; c < r->n; c++) put(&p, r->tokens + (size_t)c * r->max_new, 4 * (size_t)r->len[c]);
}

/* Unpacks into r (allocated for the run's n and max_new), checking every size. */
static int unpack_result(const uint8_t *buf, size_t n, InputResult *r, int64_t n_inputs, int src, Error *e) {
    int32_t nc;
    if (n < 12) goto bad;
    memcpy(&r->input, buf, 8);
    memcpy(&nc, buf + 8, 4);
    if (nc != r->n || r->input < 0 || r->input >= n_inputs || n < 12 + (size_t)nc * 13) goto bad;
    const uint8_t *p = buf + 12;
    memcpy(r->len, p, 4 * (size_t)nc);
    memcpy(r->finish, p + 4 * (size_t)nc, (size_t)nc);
    memcpy(r->logprob, p + 5 * (size_t)nc, 8 * (size_t)nc);
    p += 13 * (size_t)nc;
    for (int c = 0; c < nc; c++) {
        size_t bytes = 4 * (size_t)r->len[c];
        if (r->len[c] < 1 || r->len[c] > r->max_new || (size_t)(p - buf) + bytes > n) goto bad;
        memcpy(r->tokens + (size_t)c * r->max_new, p, bytes);
        p += bytes;
    }
    if ((size_t)(p - buf) == n) return RP_OK;
bad:
    return error_set(e, RP_EMPI, "sampler: malformed result message of %zu bytes from rank %d", n, src);
}

int shard_init(Shard *sh, int64_t n_inputs, const uint8_t *skip, int n_cand, int max_new, ShardSink sink,
               void *sink_ctx, Error *e) {
    int rc;
    memset(sh, 0, sizeof *sh);
    comm_world(&sh->rank, &sh->world);
    /* A communicator of its own, so no other module's messages can match the protocol's. First,
     * so that every rank reaches this collective whatever fails after it. */
    if (sh->world > 1) {
        if ((rc = comm_check(MPI_Comm_dup(MPI_COMM_WORLD, &sh->comm), "sampler: MPI_Comm_dup", e))) return rc;
        sh->have_comm = 1;
    }
    sh->n_inputs = n_inputs;
    sh->n_cand = n_cand;
    sh->max_new = max_new;
    sh->skip = skip;
    sh->sink = sink;
    sh->sink_ctx = sink_ctx;
    for (int64_t i = 0; i < n_inputs; i++) sh->results_left += !(skip && skip[i]);
    sh->unassigned = sh->results_left;
    sh->wstate = xcalloc((size_t)sh->world * 3, sizeof(int), e);
    sh->per_rank = xcalloc((size_t)sh->world, sizeof(int64_t), e);
    sh->queue = xcalloc(2 * MAX_ASSIGN, sizeof(int64_t), e);
    if (!sh->wstate || !sh->per_rank || !sh->queue) return RP_ENOMEM;
    sh->abort_sent = sh->wstate + sh->world;
    sh->heard = sh->abort_sent + sh->world;
    sh->reply = sh->queue + MAX_ASSIGN;
    if (sh->rank == 0 && (rc = input_result_init(&sh->scratch, n_cand, max_new, e))) return rc;
    return RP_OK;
}

void shard_free(Shard *sh) {
    if (sh->have_comm) MPI_Comm_free(&sh->comm);
    for (int i = 0; i < sh->n_send; i++) free(sh->send_buf[i]);
    free(sh->send_req);
    free(sh->send_buf);
    free(sh->wstate);
    free(sh->per_rank);
    free(sh->queue);
    input_result_free(&sh->scratch);
    memset(sh, 0, sizeof *sh);
}

/* ---- rank 0 ---- */

static int take_input(Shard *sh, int64_t *input) {
    while (sh->next_input < sh->n_inputs && sh->skip && sh->skip[sh->next_input]) sh->next_input++;
    if (sh->failed || sh->next_input >= sh->n_inputs) return 0;
    *input = sh->next_input++;
    sh->unassigned--;
    return 1;
}

/* Records the first failure and tells every working rank to stop. */
static int fail(Shard *sh, int rc, const Error *err, int from) {
    if (sh->failed) return RP_OK;
    sh->failed = rc;
    if (from == 0) sh->fail_err = *err;
    else error_set(&sh->fail_err, rc, "rank %d: %s", from, err->msg);
    int dummy = 0;
    for (int w = 1; w < sh->world; w++) {
        if (sh->wstate[w] == 2 || sh->abort_sent[w]) continue;
        sh->abort_sent[w] = 1;
        if (MPI_Send(&dummy, 1, MPI_INT, w, TAG_ABORT, sh->comm) != MPI_SUCCESS) return RP_EMPI;
    }
    return RP_OK;
}

/* Handles one message that MPI_Probe found. */
static int serve(Shard *sh, const MPI_Status *st, Error *e) {
    int w = st->MPI_SOURCE, rc = RP_OK, count = 0;
    sh->heard[w] = 1;
    if ((rc = comm_check(MPI_Get_count(st, MPI_BYTE, &count), "sampler: MPI_Get_count", e))) return rc;
    if (st->MPI_TAG == TAG_REQUEST) {
        int32_t want = 0;
        if ((rc = comm_check(MPI_Recv(&want, 1, MPI_INT32_T, w, TAG_REQUEST, sh->comm, MPI_STATUS_IGNORE),
                           "sampler: receive request", e)))
            return rc;
        /* At most a fair share of what is left (guided self-scheduling): a worker with many free
         * rows must not take every input while the other ranks have room too. */
        int64_t share = (sh->unassigned + sh->world - 1) / sh->world;
        int k = 0;
        while (k < want && k < share && k < MAX_ASSIGN && take_input(sh, &sh->reply[k])) k++;
        if (k == 0) sh->wstate[w] = 1;
        return comm_check(MPI_Send(sh->reply, k, MPI_INT64_T, w, TAG_ASSIGN, sh->comm), "sampler: send work", e);
    }
    uint8_t *buf = xmalloc((size_t)count + 1, e);
    if (!buf) return RP_ENOMEM;
    rc = comm_check(MPI_Recv(buf, count, MPI_BYTE, w, st->MPI_TAG, sh->comm, MPI_STATUS_IGNORE),
                  "sampler: receive from a worker", e);
    if (!rc && st->MPI_TAG == TAG_RESULT) {
        if (!(rc = unpack_result(buf, (size_t)count, &sh->scratch, sh->n_inputs, w, e)) && !sh->failed) {
            sh->results_left--;
            sh->per_rank[w]++;
            rc = sh->sink(sh->sink_ctx, &sh->scratch, e);
        }
    } else if (!rc && st->MPI_TAG == TAG_DONE) {
        Error werr;
        int32_t wrc = 0;
        memcpy(&wrc, buf, 4);
        buf[count] = 0;
        error_set(&werr, wrc, "%s", (const char *)buf + 4);
        sh->wstate[w] = 2;
        if (wrc) rc = fail(sh, wrc, &werr, w);
        int dummy = 0;
        if (!rc) rc = comm_check(MPI_Send(&dummy, 1, MPI_INT, w, TAG_LEAVE, sh->comm), "sampler: send leave", e);
    }
    free(buf);
    return rc;
}

/* Serves every message already waiting (or, blocking, at least one). */
static int serve_pending(Shard *sh, int blocking, Error *e) {
    for (;;) {
        MPI_Status st;
        int flag = 1, rc;
        if (blocking) rc = comm_check(MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, sh->comm, &st), "sampler: MPI_Probe", e);
        else rc = comm_check(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, sh->comm, &flag, &st), "sampler: MPI_Iprobe", e);
        if (rc || !flag) return rc;
        if ((rc = serve(sh, &st, e))) return rc;
        if (blocking) return RP_OK;
    }
}

/* ---- workers ---- */

static int request(Shard *sh, int want, Error *e) {
    int32_t n = want < 1 ? 1 : want > MAX_ASSIGN ? MAX_ASSIGN : want;
    int rc = comm_check(MPI_Send(&n, 1, MPI_INT32_T, 0, TAG_REQUEST, sh->comm), "sampler: send request", e);
    if (!rc)
        rc = comm_check(MPI_Irecv(sh->reply, MAX_ASSIGN, MPI_INT64_T, 0, TAG_ASSIGN, sh->comm, &sh->req),
                      "sampler: post work receive", e);
    sh->req_out = !rc;
    return rc;
}

/* Checks (or, blocking, waits for) the reply to the outstanding request. */
static int check_reply(Shard *sh, int blocking, Error *e) {
    if (!sh->req_out) return RP_OK;
    MPI_Status st;
    int flag = 1, rc;
    if (blocking) rc = comm_check(MPI_Wait(&sh->req, &st), "sampler: wait for work", e);
    else rc = comm_check(MPI_Test(&sh->req, &flag, &st), "sampler: test for work", e);
    if (rc || !flag) return rc;
    sh->req_out = 0;
    int k = 0;
    if ((rc = comm_check(MPI_Get_count(&st, MPI_INT64_T, &k), "sampler: MPI_Get_count", e))) return rc;
    if (k == 0) sh->no_more = 1;
    for (int i = 0; i < k; i++) sh->queue[(sh->q_head + sh->q_n++) % MAX_ASSIGN] = sh->reply[i];
    return RP_OK;
}

/* Frees the buffers of result sends that completed. */
static int reap_sends(Shard *sh, Error *e) {
    int kept = 0;
    for (int i = 0; i < sh->n_send; i++) {
        int flag = 0;
        int rc = comm_check(MPI_Test(&sh->send_req[i], &flag, MPI_STATUS_IGNORE), "sampler: test result send", e);
        if (rc) return rc;
        if (flag) {
            free(sh->send_buf[i]);
        } else {
            sh->send_req[kept] = sh->send_req[i];
            sh->send_buf[kept++] = sh->send_buf[i];
        }
    }
    sh->n_send = kept;
    return RP_OK;
}

/* ---- the engine's callbacks ---- */

static int io_next(void *ctx, int want, int *got, int64_t *input, Error *e) {
    Shard *sh = ctx;
    if (sh->rank == 0) {
        *got = take_input(sh, input) ? 1 : -1;
        return RP_OK;
    }
    int rc = RP_OK;
    *got = 0;
    if (sh->aborted) *got = -1;
    else if (sh->q_n > 0) {
        *input = sh->queue[sh->q_head];
        sh->q_head = (sh->q_head + 1) % MAX_ASSIGN;
        sh->q_n--;
        *got = 1;
    } else if (sh->no_more) *got = -1;
    else if (!sh->req_out) rc = request(sh, want, e);
    return rc;
}

static int io_emit(void *ctx, const InputResult *r, Error *e) {
    Shard *sh = ctx;
    if (sh->rank == 0) {
        sh->results_left--;
        sh->per_rank[0]++;
        return sh->sink(sh->sink_ctx, r, e);
    }
    if (sh->n_send == sh->cap_send) {
        int cap = sh->cap_send ? 2 * sh->cap_send : 8;
        MPI_Request *rq = xrealloc(sh->send_req, sizeof(MPI_Request) * (size_t)cap, e);
        if (!rq) return RP_ENOMEM;
        sh->send_req = rq;
        void **bf = xrealloc(sh->send_buf, sizeof(void *) * (size_t)cap, e);
        if (!bf) return RP_ENOMEM;
        sh->send_buf = bf;
        sh->cap_send = cap;
    }
    size_t n = packed_size(r);
    if (n > 0x7fffffff) return error_set(e, RP_EINTERNAL, "sampler: result of %zu bytes is too large for one message", n);
    uint8_t *buf = xmalloc(n, e);
    if (!buf) return RP_ENOMEM;
    pack_result(r, buf);
    int rc = comm_check(MPI_Isend(buf, (int)n, MPI_BYTE, 0, TAG_RESULT, sh->comm, &sh->send_req[sh->n_send]),
                      "sampler: send result", e);
    if (rc) {
        free(buf);
        return rc;
    }
    sh->send_buf[sh->n_send++] = buf;
    return RP_OK;
}

static int io_poll(void *ctx, int idle, Error *e) {
    Shard *sh = ctx;
    if (sh->world == 1) return RP_OK;
    if (sh->rank == 0) {
        int rc = RP_OK;
        /* Before its first prefill rank 0 waits for every worker's first request (or failure),
         * so no worker idles for the length of that prefill. */
        for (int w = 1; w < sh->world && !rc; w++)
            while (!rc && !sh->heard[w]) rc = serve_pending(sh, 1, e);
        if (!rc) rc = serve_pending(sh, 0, e);
        if (!rc && sh->failed) rc = error_set(e, sh->failed, "%s", sh->fail_err.msg);
        return rc;
    }
    int flag = 0, rc;
    if ((rc = comm_check(MPI_Iprobe(0, TAG_ABORT, sh->comm, &flag, MPI_STATUS_IGNORE), "sampler: MPI_Iprobe", e)))
        return rc;
    if (flag) {
        sh->aborted = 1;
        return error_set(e, RP_EMPI, "sampler: stopped because another rank failed");
    }
    if ((rc = check_reply(sh, idle, e))) return rc;
    return reap_sends(sh, e);
}

EngineIO shard_io(Shard *sh) {
    EngineIO io = {io_next, io_emit, io_poll, sh};
    return io;
}

/* Worker: report rc, let every send complete, and wait for rank 0's leave. */
static int worker_finish(Shard *sh, int rc, Error *e) {
    Error tmp;
    int mrc = check_reply(sh, 1, &tmp);
    size_t len = rc ? strlen(e->msg) : 0;
    uint8_t msg[4 + sizeof e->msg];
    int32_t code = rc;
    memcpy(msg, &code, 4);
    memcpy(msg + 4, e->msg, len);
    if (!mrc) mrc = comm_check(MPI_Send(msg, (int)(4 + len), MPI_BYTE, 0, TAG_DONE, sh->comm), "sampler: send done", &tmp);
    if (!mrc && sh->n_send)
        mrc = comm_check(MPI_Waitall(sh->n_send, sh->send_req, MPI_STATUSES_IGNORE), "sampler: complete result sends", &tmp);
    for (;;) {
        MPI_Status st;
        int dummy;
        if (mrc || (mrc = comm_check(MPI_Recv(&dummy, 1, MPI_INT, 0, MPI_ANY_TAG, sh->comm, &st), "sampler: wait for leave", &tmp)))
            break;
        if (st.MPI_TAG == TAG_LEAVE) break;
    }
    if (mrc) *e = tmp;
    return mrc;
}

int shard_finish(Shard *sh, int rc, Error *e) {
    if (sh->world == 1) return rc;
    int mrc = RP_OK;
    if (sh->rank == 0) {
        if (rc) mrc = fail(sh, rc, e, 0);
        for (;;) {
            int waiting = 0;
            for (int w = 1; w < sh->world; w++) waiting |= sh->wstate[w] != 2;
            if (mrc || (!waiting && (sh->failed || sh->results_left == 0))) break;
            if (!waiting) {
                mrc = error_set(e, RP_EINTERNAL, "sampler: %lld results missing after every rank finished",
                                (long long)sh->results_left);
                break;
            }
            mrc = serve_pending(sh, 1, e);
            /* A sink failure (e.g. the progress file) stops everyone like a worker's failure. */
            if (mrc && mrc != RP_EMPI) mrc = fail(sh, mrc, e, 0);
        }
        if (!mrc && sh->failed) {
            *e = sh->fail_err;
            mrc = sh->failed;
        }
    } else {
        mrc = worker_finish(sh, rc, e);
    }
    /* Every rank ends with rank 0's verdict. */
    struct {
        int32_t rc;
        char msg[sizeof e->msg];
    } verdict;
    memset(&verdict, 0, sizeof verdict);
    verdict.rc = mrc;
    if (mrc) memcpy(verdict.msg, e->msg, sizeof verdict.msg);
    if (comm_check(MPI_Bcast(&verdict, (int)sizeof verdict, MPI_BYTE, 0, sh->comm), "sampler: broadcast status", e))
        return RP_EMPI;
    if (verdict.rc) error_set(e, verdict.rc, "%s", verdict.msg);
    return verdict.rc;
}

/* Fixed-tree gradient reduction over MPI (see dp.h). */
#include "trainer/dp.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DP_TAG 7301
/* MPI counts are int: large buffers go in pieces of at most this many elements. */
#define DP_CHUNK ((size_t)1 << 30)

int dp_check(int mpi_rc, const char *what, Error *e) {
    if (mpi_rc == MPI_SUCCESS) return RP_OK;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(mpi_rc, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "MPI error code %d", mpi_rc);
    return error_set(e, RP_EMPI, "%s: %s", what, msg);
}

void dp_world(int *rank, int *world) {
    int inited = 0, fin = 0;
    *rank = 0;
    *world = 1;
    if (MPI_Initialized(&inited) != MPI_SUCCESS || !inited) return;
    if (MPI_Finalized(&fin) != MPI_SUCCESS || fin) return;
    if (MPI_Comm_rank(MPI_COMM_WORLD, rank) != MPI_SUCCESS || MPI_Comm_size(MPI_COMM_WORLD, world) != MPI_SUCCESS) {
        *rank = 0;
        *world = 1;
    }
}

int dp_local_ranks(void) {
    /* Collective the first time only: later calls (possibly from one rank alone, e.g. rank 0's
     * scoring) must not start a collective the other ranks never join. */
    static int cached = 0;
    if (cached) return cached;
    int rank, world;
    dp_world(&rank, &world);
    if (world == 1) return 1;
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node) != MPI_SUCCESS) return 1;
    int n = 1;
    if (MPI_Comm_size(node, &n) != MPI_SUCCESS) n = 1;
    MPI_Comm_free(&node);
    cached = n;
    return n;
}

void dp_leaves(int rank, int world, int n_leaves, int *lo, int *hi) {
    *lo = (int)((long long)rank * n_leaves / world);
    *hi = (int)((long long)(rank + 1) * n_leaves / world);
}

static int owner(const DPReducer *r, int leaf) {
    /* The block formula inverted: the largest rank whose block starts at or before leaf. */
    int o = (int)(((long long)leaf * r->world + r->world - 1) / r->n_leaves);
    while (o > 0 && (long long)o * r->n_leaves / r->world > leaf) o--;
    while (o + 1 < r->world && (long long)(o + 1) * r->n_leaves / r->world <= leaf) o++;
    return o;
}

int dp_init(DPReducer *r, int rank, int world, int n_leaves, size_t n, Error *e) {
    memset(r, 0, sizeof *r);
    if (n_leaves < 1) return error_set(e, RP_EINPUT, "--grad-accum: must be >= 1, got %d", n_leaves);
    r->rank = rank;
    r->world = world;
    r->n_leaves = n_leaves;
    r->n = n;
    int depth = 1;
    for (int span = n_leaves; span > 1; span = (span + 1) / 2) depth++;
    r->level = xcalloc((size_t)depth, sizeof(float *), e);
    if (!r->level) return RP_ENOMEM;
    r->depth = depth;
    for (int i = 0; i < depth; i++) {
        r->level[i] = xmalloc(n * sizeof(float), e);
        if (!r->level[i]) {
            dp_free(r);
            return error_wrap(e, "data-parallel reduction buffers (%d x %zu floats)", depth, n);
        }
    }
    return RP_OK;
}

void dp_free(DPReducer *r) {
    if (r->level)
        for (int i = 0; i < r->depth; i++) free(r->level[i]);
    free(r->level);
    memset(r, 0, sizeof *r);
}

static int send_floats(const float *p, size_t n, int to, Error *e) {
    for (size_t off = 0; off < n; off += DP_CHUNK) {
        size_t c = n - off < DP_CHUNK ? n - off : DP_CHUNK;
        int rc = dp_check(MPI_Send(p + off, (int)c, MPI_FLOAT, to, DP_TAG, MPI_COMM_WORLD), "sending gradients", e);
        if (rc) return rc;
    }
    return RP_OK;
}

static int recv_floats(float *p, size_t n, int from, Error *e) {
    for (size_t off = 0; off < n; off += DP_CHUNK) {
        size_t c = n - off < DP_CHUNK ? n - off : DP_CHUNK;
        int rc = dp_check(MPI_Recv(p + off, (int)c, MPI_FLOAT, from, DP_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
                          "receiving gradients", e);
        if (rc) return rc;
    }
    return RP_OK;
}

typedef struct {
    DPReducer *r;
    DPLeafFn leaf;
    void *ctx;
    int status; /* first local failure; the walk goes on so partners are never left waiting */
    Error *e;
} Walk;

/* Leaves the value of node [lo, hi) in level[lv] on the node's owner. A leaf that failed leaves
 * garbage; the failure is reported after the walk by dp_agree. */
static int walk(Walk *w, int lo, int hi, int lv) {
    DPReducer *r = w->r;
    if (hi - lo == 1) {
        if (owner(r, lo) == r->rank && !w->status) {
            int rc = w->leaf(w->ctx, lo, r->level[lv], w->e);
            if (rc) w->status = rc;
        }
        return RP_OK;
    }
    int mid = lo + (hi - lo + 1) / 2;
    int rc;
    if ((rc = walk(w, lo, mid, lv)) || (rc = walk(w, mid, hi, lv + 1))) return rc;
    int ol = owner(r, lo), om = owner(r, mid);
    float *a = r->level[lv], *b = r->level[lv + 1];
    if (ol == r->rank && om != r->rank && (rc = recv_floats(b, r->n, om, w->e))) return rc;
    if (om == r->rank && ol != r->rank) return send_floats(b, r->n, ol, w->e);
    if (ol == r->rank) {
        size_t n = r->n;
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) a[i] += b[i];
    }
    return RP_OK;
}

int dp_reduce(DPReducer *r, DPLeafFn leaf, void *ctx, float *out, Error *e) {
    Walk w = {r, leaf, ctx, RP_OK, e};
    int rc = walk(&w, 0, r->n_leaves, 0);
    if (rc) return rc; /* an MPI failure: the communicator is not usable for agreement */
    if ((rc = dp_agree(w.status, e))) return rc;
    /* The root's owner holds the sum: rank 0 unless it owns no leaf (more ranks than leaves). */
    int root = owner(r, 0);
    if (r->rank == root) memcpy(out, r->level[0], r->n * sizeof(float));
    for (size_t off = 0; r->world > 1 && off < r->n; off += DP_CHUNK) {
        size_t c = r->n - off < DP_CHUNK ? r->n - off : DP_CHUNK;
        if ((rc = dp_check(MPI_Bcast(out + off, (int)c, MPI_FLOAT, root, MPI_COMM_WORLD), "broadcasting gradients", e)))
            return rc;
    }
    return RP_OK;
}

int dp_share_leaves(int n_leaves, double *v, int width, Error *e) {
    int rank, world;
    dp_world(&rank, &world);
    if (world == 1) return RP_OK;
    int *counts = xmalloc(sizeof(int) * (size_t)world * 2, e);
    if (!counts) return RP_ENOMEM;
    int *displs = counts + world;
    for (int k = 0; k < world; k++) {
        int lo, hi;
        dp_leaves(k, world, n_leaves, &lo, &hi);
        counts[k] = (hi - lo) * width;
        displs[k] = lo * width;
    }
    int rc = dp_check(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, v, counts, displs, MPI_DOUBLE, MPI_COMM_WORLD),
                      "gathering per-micro-batch statistics", e);
    free(counts);
    return rc;
}

int dp_bcast(void *buf, size_t n, Error *e) {
    int rank, world;
    dp_world(&rank, &world);
    if (world == 1) return RP_OK;
    if (n > INT_MAX) return error_set(e, RP_EINTERNAL, "dp_bcast: %zu bytes is too large", n);
    return dp_check(MPI_Bcast(buf, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD), "broadcasting", e);
}

int dp_agree(int rc, Error *e) {
    int rank, world;
    dp_world(&rank, &world);
    if (world == 1) return rc;
    int mine = rc ? rank : world, first = world;
    Error tmp;
    error_clear(&tmp);
    int mrc = dp_check(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "agreeing on status", &tmp);
    if (mrc) {
        *e = tmp;
        return mrc;
    }
    if (first == world) return RP_OK;
    int code = rc;
    char msg[sizeof e->msg];
    memcpy(msg, e->msg, sizeof msg);
    if ((mrc = dp_check(MPI_Bcast(&code, 1, MPI_INT, first, MPI_COMM_WORLD), "broadcasting status", &tmp)) ||
        (mrc = dp_check(MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, first, MPI_COMM_WORLD), "broadcasting an error", &tmp))) {
        *e = tmp;
        return mrc;
    }
    e->code = code;
    memcpy(e->msg, msg, sizeof msg);
    if (first != rank) error_wrap(e, "rank %d", first);
    return code;
}

/* Fixed-tree gradient reduction over MPI (see dp.h). */
#include "trainer/dp.h"

#include "core/comm.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DP_TAG 7301
/* MPI counts are int: large buffers go in pieces of at most this many elements. */
#define DP_CHUNK ((size_t)1 << 30)

typedef struct {
    GradReducer base;
    const Backend *be;
    int rank, world;
    int n_leaves;   /* A: micro-batches per global batch */
    float *grad;    /* the gradient buffer leaves write and the sum lands in */
    size_t n;       /* floats per gradient */
    int depth;      /* levels of partial-sum buffers */
    float **level;  /* [depth][n]: partial sums held while the walk descends */
} DPTree;

static int tree_depth(int n_leaves) {
    int depth = 1;
    for (int span = n_leaves; span > 1; span = (span + 1) / 2) depth++;
    return depth;
}

size_t dp_tree_bytes(size_t n, int n_leaves) { return (size_t)tree_depth(n_leaves) * n * sizeof(float); }

static int owner(const DPTree *r, int leaf) {
    /* The block formula inverted: the largest rank whose block starts at or before leaf. */
    int o = (int)(((long long)leaf * r->world + r->world - 1) / r->n_leaves);
    while (o > 0 && (long long)o * r->n_leaves / r->world > leaf) o--;
    while (o + 1 < r->world && (long long)(o + 1) * r->n_leaves / r->world <= leaf) o++;
    return o;
}

static void tree_free(GradReducer *base) {
    DPTree *r = (DPTree *)base;
    if (!r) return;
    if (r->level)
        for (int i = 0; i < r->depth; i++) r->be->ops->free(r->level[i]);
    free(r->level);
    free(r);
}

static int tree_reduce(GradReducer *base, DPLeafFn leaf, void *ctx, Error *e);

int dp_tree_init(GradReducer **out, const Backend *be, float *grad, size_t n, int n_leaves, Error *e) {
    *out = NULL;
    if (n_leaves < 1) return error_set(e, RP_EINPUT, "--grad-accum: must be >= 1, got %d", n_leaves);
    if (!be->ops->host_memory)
        return error_set(e, RP_EINPUT, "the tree gradient reduction needs host memory; the %s backend has none",
                         be->ops->name);
    DPTree *r = xcalloc(1, sizeof *r, e);
    if (!r) return RP_ENOMEM;
    r->base.name = "tree";
    r->base.reduce = tree_reduce;
    r->base.free = tree_free;
    r->be = be;
    comm_world(&r->rank, &r->world);
    r->n_leaves = n_leaves;
    r->grad = grad;
    r->n = n;
    int depth = tree_depth(n_leaves);
    r->level = xcalloc((size_t)depth, sizeof(float *), e);
    if (!r->level) {
        free(r);
        return RP_ENOMEM;
    }
    r->depth = depth;
    for (int i = 0; i < depth; i++)
        if (be->ops->alloc(n * sizeof(float), (void **)&r->level[i], e)) {
            tree_free(&r->base);
            return error_wrap(e, "data-parallel reduction buffers (%d x %zu floats)", depth, n);
        }
    *out = &r->base;
    return RP_OK;
}

static int send_floats(const float *p, size_t n, int to, Error *e) {
    for (size_t off = 0; off < n; off += DP_CHUNK) {
        size_t c = n - off < DP_CHUNK ? n - off : DP_CHUNK;
        int rc = comm_check(MPI_Send(p + off, (int)c, MPI_FLOAT, to, DP_TAG, MPI_COMM_WORLD), "sending gradients", e);
        if (rc) return rc;
    }
    return RP_OK;
}

static int recv_floats(float *p, size_t n, int from, Error *e) {
    for (size_t off = 0; off < n; off += DP_CHUNK) {
        size_t c = n - off < DP_CHUNK ? n - off : DP_CHUNK;
        int rc = comm_check(MPI_Recv(p + off, (int)c, MPI_FLOAT, from, DP_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
                          "receiving gradients", e);
        if (rc) return rc;
    }
    return RP_OK;
}

typedef struct {
    DPTree *r;
    DPLeafFn leaf;
    void *ctx;
    int status; /* first local failure; the walk goes on so partners are never left waiting */
    Error *e;
} Walk;

/* Leaves the value of node [lo, hi) in level[lv] on the node's owner. A leaf that failed leaves
 * garbage; the failure is reported after the walk by comm_agree. */
static int walk(Walk *w, int lo, int hi, int lv) {
    DPTree *r = w->r;
    if (hi - lo == 1) {
        if (owner(r, lo) == r->rank && !w->status) {
            int rc = w->leaf(w->ctx, lo, w->e);
            if (!rc) rc = r->be->ops->copy(r->level[lv], r->grad, r->n * sizeof(float), w->e);
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
    if (ol == r->rank) return r->be->ops->add(a, b, r->n, w->e);
    return RP_OK;
}

static int tree_reduce(GradReducer *base, DPLeafFn leaf, void *ctx, Error *e) {
    DPTree *r = (DPTree *)base;
    float *out = r->grad;
    Walk w = {r, leaf, ctx, RP_OK, e};
    int rc = walk(&w, 0, r->n_leaves, 0);
    if (rc) return rc; /* an MPI failure: the communicator is not usable for agreement */
    if ((rc = comm_agree(w.status, e))) return rc;
    /* The root's owner holds the sum: rank 0 unless it owns no leaf (more ranks than leaves). */
    int root = owner(r, 0);
    if (r->rank == root && (rc = r->be->ops->copy(out, r->level[0], r->n * sizeof(float), e))) return rc;
    for (size_t off = 0; r->world > 1 && off < r->n; off += DP_CHUNK) {
        size_t c = r->n - off < DP_CHUNK ? r->n - off : DP_CHUNK;
        if ((rc = comm_check(MPI_Bcast(out + off, (int)c, MPI_FLOAT, root, MPI_COMM_WORLD), "broadcasting gradients", e)))
            return rc;
    }
    return RP_OK;
}


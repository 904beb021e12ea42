/* Gradient reductions over the backend's collectives (see dp.h): the fixed tree and the
 * bucketed all-reduce. */
#include "trainer/dp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/comm.h"
#include "model/params.h"

static const char *const REDUCE_NAMES[] = {DP_REDUCE_NAMES};

const char *dp_reduce_name(DPReduce r) { return REDUCE_NAMES[r]; }

int dp_reduce_parse(const char *s, DPReduce *r, Error *e) {
    for (int i = 0; i < (int)(sizeof REDUCE_NAMES / sizeof REDUCE_NAMES[0]); i++)
        if (!strcmp(s, REDUCE_NAMES[i])) {
            *r = (DPReduce)i;
            return RP_OK;
        }
    return error_set(e, RP_EINPUT, "gradient reduction '%s': expected tree or allreduce", s);
}

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
    int rc = be->ops->comm_init(e);
    if (rc) return rc;
    DPTree *r = xcalloc(1, sizeof *r, e);
    if (!r) return RP_ENOMEM;
    r->base.name = "tree";
    r->base.sum_hi = n;
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
    if (ol == r->rank && om != r->rank && (rc = r->be->ops->recv(b, r->n, om, w->e))) return rc;
    if (om == r->rank && ol != r->rank) return r->be->ops->send(b, r->n, ol, w->e);
    if (ol == r->rank) return r->be->ops->add(a, b, r->n, w->e);
    return RP_OK;
}

/* Copies root's buf to every rank down a binomial tree (log2(world) rounds): in round `mask`,
 * each rank that has it (relative rank < mask) sends to relative rank + mask. A rank receives
 * before it sends, in the same round order everywhere, so no send waits on a rank that waits. */
static int broadcast(const Backend *be, float *buf, size_t n, int root, int rank, int world, Error *e) {
    int vr = (rank - root + world) % world, rc = RP_OK;
    for (int mask = 1; mask < world && !rc; mask <<= 1) {
        if (vr < mask && vr + mask < world) rc = be->ops->send(buf, n, (vr + mask + root) % world, e);
        else if (vr >= mask && vr < 2 * mask) rc = be->ops->recv(buf, n, (vr - mask + root) % world, e);
    }
    return rc;
}

static int tree_reduce(GradReducer *base, DPLeafFn leaf, void *ctx, Error *e) {
    DPTree *r = (DPTree *)base;
    Walk w = {r, leaf, ctx, RP_OK, e};
    int rc = walk(&w, 0, r->n_leaves, 0);
    if (rc) return rc; /* a communication failure: the communicator is not usable for agreement */
    if ((rc = comm_agree(w.status, e))) return rc;
    /* The root's owner holds the sum: rank 0 unless it owns no leaf (more ranks than leaves). */
    int root = owner(r, 0);
    if (r->rank == root && (rc = r->be->ops->copy(r->grad, r->level[0], r->n * sizeof(float), e))) return rc;
    return broadcast(r->be, r->grad, r->n, root, r->rank, r->world, e);
}

typedef struct {
    GradReducer base;
    const Backend *be;
    int rank, world;
    int lo, hi;       /* this rank's leaves */
    float *grad;      /* the gradient buffer leaves write and the sum lands in */
    float *acc;       /* the local sum while a second leaf is computed (NULL with fewer than 2) */
    size_t n, bucket; /* floats per gradient, per all-reduce */
    int sharded;
    ParamShard shard;
    /* Overlap (dp_allreduce_overlap): the ranges the backward reports, in its order, and per
     * reduction the state of the walk through them. */
    ParamRange *plan, *pending; /* pending: ready ranges not yet queued, merged where adjacent */
    int n_plan, n_pending;
    size_t pending_floats;
    int armed;   /* 1 while the rank's last leaf runs (its reports are taken) */
    int cursor;  /* plan ranges taken so far */
    int comm_rc; /* a failed collective: the communicator is unusable, nothing more is queued */
} DPAllreduce;

size_t dp_allreduce_bytes(size_t n, int n_leaves, int world) {
    return (n_leaves + world - 1) / world > 1 ? n * sizeof(float) : 0;
}

static void allreduce_free(GradReducer *base) {
    DPAllreduce *r = (DPAllreduce *)base;
    if (!r) return;
    r->be->ops->free(r->acc);
    free(r->plan);
    free(r->pending);
    free(r);
}

/* The local sum of this rank's leaves, in leaf order, into grad (zeros for a rank without leaves). */
static int local_sum(DPAllreduce *r, DPLeafFn leaf, void *ctx, Error *e) {
    const BackendOps *ops = r->be->ops;
    size_t bytes = r->n * sizeof(float);
    if (r->lo == r->hi) return ops->zero(r->grad, bytes, e);
    int rc = RP_OK;
    for (int j = r->lo; j < r->hi && !rc; j++) {
        rc = leaf(ctx, j, e);
        if (!rc && r->acc) rc = j == r->lo ? ops->copy(r->acc, r->grad, bytes, e) : ops->add(r->acc, r->grad, r->n, e);
    }
    return !rc && r->acc ? ops->copy(r->grad, r->acc, bytes, e) : rc;
}

/* Queues the pending ranges' all-reduces, each cut into pieces of at most a bucket (a range
 * longer than a bucket, an embedding say, stays a few collectives as without overlap). */
static int flush(DPAllreduce *r, Error *e) {
    for (int i = 0; i < r->n_pending && !r->comm_rc; i++)
        for (size_t lo = r->pending[i].lo; lo < r->pending[i].hi && !r->comm_rc; lo += r->bucket) {
            size_t len = r->pending[i].hi - lo < r->bucket ? r->pending[i].hi - lo : r->bucket;
            r->comm_rc = r->be->ops->allreduce_sum_start(r->grad + lo, len, e);
        }
    r->n_pending = 0;
    r->pending_floats = 0;
    return r->comm_rc;
}

/* Takes the next plan range as final: adds the sum of the rank's earlier leaves (add: when the
 * rank has several and computed them all; grad + acc is acc + grad bitwise, the local sum's last
 * addition), then pends it, merged with an adjacent pending range (a tensor's layers l and l-1
 * are neighbours), and queues the pending ranges once they hold a bucket. The range is pended
 * even when the addition fails, so the sequence of collectives stays the plan's. */
static int take(DPAllreduce *r, int add, Error *e) {
    ParamRange p = r->plan[r->cursor++];
    int rc = add && r->acc ? r->be->ops->add(r->grad + p.lo, r->acc + p.lo, p.hi - p.lo, e) : RP_OK;
    int i = 0;
    while (i < r->n_pending && r->pending[i].hi != p.lo && r->pending[i].lo != p.hi) i++;
    if (i == r->n_pending) r->pending[r->n_pending++] = p;
    else if (r->pending[i].hi == p.lo) r->pending[i].hi = p.hi;
    else r->pending[i].lo = p.lo;
    r->pending_floats += p.hi - p.lo;
    if (r->pending_floats >= r->bucket && flush(r, e)) return r->comm_rc;
    return rc;
}

int dp_grad_ready(void *reducer, const ParamRange *ranges, int n, Error *e) {
    DPAllreduce *r = reducer;
    if (!r->armed) return RP_OK; /* an earlier leaf's backward: its gradient is summed locally */
    for (int i = 0; i < n; i++) {
        const ParamRange *want = r->cursor < r->n_plan ? &r->plan[r->cursor] : NULL;
        if (!want || want->lo != ranges[i].lo || want->hi != ranges[i].hi)
            return error_set(e, RP_EINTERNAL, "gradient range [%zu, %zu) reported out of the plan's order (range %d of %d)",
                             ranges[i].lo, ranges[i].hi, r->cursor, r->n_plan);
        int rc = take(r, 1, e);
        if (rc) return rc;
    }
    return RP_OK;
}

/* The overlapped reduction: leaves as local_sum, but the last leaf's backward hands its final
 * ranges to take() as it goes. Whatever happens locally, every rank then takes the rest of the
 * plan (all of it after an earlier failure) and waits, so all ranks queue the same collectives;
 * only then do they agree on the local status. */
static int overlap_reduce(DPAllreduce *r, DPLeafFn leaf, void *ctx, Error *e) {
    const BackendOps *ops = r->be->ops;
    size_t bytes = r->n * sizeof(float);
    r->cursor = r->n_pending = 0;
    r->pending_floats = 0;
    r->comm_rc = RP_OK;
    int rc = r->lo == r->hi ? ops->zero(r->grad, bytes, e) : RP_OK;
    for (int j = r->lo; j < r->hi && !rc; j++) {
        r->armed = j == r->hi - 1;
        rc = leaf(ctx, j, e);
        r->armed = 0;
        if (r->comm_rc) return r->comm_rc;
        if (!rc && r->acc && j < r->hi - 1)
            rc = j == r->lo ? ops->copy(r->acc, r->grad, bytes, e) : ops->add(r->acc, r->grad, r->n, e);
    }
    while (r->cursor < r->n_plan && !r->comm_rc) {
        int rc2 = take(r, !rc, e);
        if (!rc) rc = rc2;
    }
    if (!r->comm_rc) flush(r, e);
    if (!r->comm_rc) r->comm_rc = ops->comm_wait(e);
    return r->comm_rc ? r->comm_rc : comm_agree(rc, e);
}

static int allreduce_reduce(GradReducer *base, DPLeafFn leaf, void *ctx, Error *e) {
    DPAllreduce *r = (DPAllreduce *)base;
    const BackendOps *ops = r->be->ops;
    if (r->plan) return overlap_reduce(r, leaf, ctx, e);
    int rc = comm_agree(local_sum(r, leaf, ctx, e), e); /* before any rank enters a collective */
    if (rc) return rc;
    if (r->sharded) {
        const ParamShard *sh = &r->shard;
        size_t body = (size_t)sh->world * sh->per_rank;
        if ((rc = ops->reduce_scatter_sum(r->grad + sh->lo, r->grad, sh->per_rank, e))) return rc;
        return body < r->n ? ops->allreduce_sum(r->grad + body, r->n - body, e) : RP_OK;
    }
    for (size_t off = 0; off < r->n && !rc; off += r->bucket)
        rc = ops->allreduce_sum(r->grad + off, r->n - off < r->bucket ? r->n - off : r->bucket, e);
    return rc;
}

int dp_allreduce_init(GradReducer **out, const Backend *be, float *grad, size_t n, int n_leaves, size_t bucket_bytes,
                      int shard, Error *e) {
    *out = NULL;
    if (n_leaves < 1) return error_set(e, RP_EINPUT, "--grad-accum: must be >= 1, got %d", n_leaves);
    if (bucket_bytes < sizeof(float))
        return error_set(e, RP_EINPUT, "all-reduce bucket of %zu bytes: must hold a float", bucket_bytes);
    int rc = be->ops->comm_init(e);
    if (rc) return rc;
    DPAllreduce *r = xcalloc(1, sizeof *r, e);
    if (!r) return RP_ENOMEM;
    r->base.name = "allreduce";
    r->base.reduce = allreduce_reduce;
    r->base.free = allreduce_free;
    r->be = be;
    comm_world(&r->rank, &r->world);
    comm_block(r->rank, r->world, n_leaves, &r->lo, &r->hi);
    r->grad = grad;
    r->n = n;
    r->bucket = bucket_bytes / sizeof(float);
    r->sharded = shard;
    params_shard(n, r->rank, r->world, &r->shard);
    r->base.sum_lo = shard ? r->shard.lo : 0;
    r->base.sum_hi = shard ? r->shard.hi : n;
    if (r->hi - r->lo > 1 && be->ops->alloc(n * sizeof(float), (void **)&r->acc, e)) {
        allreduce_free(&r->base);
        return error_wrap(e, "all-reduce buffer (%zu floats)", n);
    }
    *out = &r->base;
    return RP_OK;
}

static int range_order(const void *a, const void *b) {
    const ParamRange *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

int dp_allreduce_overlap(GradReducer *base, const ParamRange *plan, int n, Error *e) {
    DPAllreduce *r = (DPAllreduce *)base;
    if (base->reduce != allreduce_reduce || r->sharded)
        return error_set(e, RP_EINTERNAL, "overlap needs the unsharded all-reduce, not %s%s", base->name,
                         base->reduce == allreduce_reduce ? " with ZeRO-1" : "");
    ParamRange *sorted = xmalloc(sizeof *sorted * (size_t)(n > 0 ? n : 1), e);
    if (!sorted) return RP_ENOMEM;
    memcpy(sorted, plan, sizeof *sorted * (size_t)n);
    qsort(sorted, (size_t)n, sizeof *sorted, range_order);
    size_t end = 0;
    for (int i = 0; i < n && end != SIZE_MAX; i++) end = sorted[i].lo == end && sorted[i].hi > end ? sorted[i].hi : SIZE_MAX;
    if (end != r->n) {
        free(sorted);
        return error_set(e, RP_EINTERNAL, "the gradient plan's %d ranges do not cover [0, %zu) once", n, r->n);
    }
    /* sorted becomes the pending list's room: at most every range pends at once. */
    free(r->plan);
    free(r->pending);
    r->n_plan = 0;
    r->pending = sorted;
    r->plan = xmalloc(sizeof *sorted * (size_t)n, e);
    if (!r->plan) return RP_ENOMEM;
    memcpy(r->plan, plan, sizeof *sorted * (size_t)n);
    r->n_plan = n;
    return RP_OK;
}

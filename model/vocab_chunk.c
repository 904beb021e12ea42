/* The vocabulary-chunked LM head and loss (see vocab_chunk.h): chunk loops over backend ops, and
 * the packing of the rows that carry loss for the backward. */
#include "model/vocab_chunk.h"

#define OP(x)                                                                                                          \
    do {                                                                                                               \
        int op_rc_ = (x);                                                                                              \
        if (op_rc_) return op_rc_;                                                                                     \
    } while (0)

int vchunk_cols(int vocab_chunk, int V) {
    if (vocab_chunk <= 0) return 0;
    long cols = ((long)vocab_chunk + 127) / 128 * 128;
    return cols >= V ? 0 : (int)cols;
}

size_t vchunk_row_floats(int cols, int Vp) { return cols > 0 ? (size_t)cols + 3 : (size_t)Vp; }

/* Columns of the chunk starting at j0. */
static int chunk_width(int j0, int V, int Vc) { return V - j0 < Vc ? V - j0 : Vc; }

int vchunk_forward(const BackendOps *op, float *losses, float *lse, float *buf, const float *x, const float *W,
                   const int32_t *targets, const float *mask, int B, int T, int C, int V, int Vc, Error *e) {
    const int N = B * T;
    float *logits_c = buf, *stats = buf + (size_t)N * Vc;
    for (int j0 = 0; j0 < V; j0 += Vc) {
        int n = chunk_width(j0, V, Vc);
        OP(op->matmul_forward(logits_c, x, W + (size_t)j0 * C, NULL, NULL, B, T, C, n, e));
        OP(op->crossentropy_chunk_forward(losses, lse, stats, logits_c, targets, mask, N, V, j0, n, e));
    }
    return RP_OK;
}

/* Copies the rows i with dloss[i] != 0 of src[N, w] (elements of `size` bytes) to consecutive
 * rows of dst (pack), or back from consecutive rows of src to their places in dst (unpack): one
 * copy per run of such rows, which in fine-tuning (loss on each sequence's answer) are a few per
 * sequence. */
static int copy_runs(const BackendOps *op, const float *dloss, int N, void *dst, const void *src, size_t w,
                     size_t size, int unpack, Error *e) {
    size_t row = w * size, k = 0;
    for (int i = 0; i < N;) {
        if (dloss[i] == 0.0f) {
            i++;
            continue;
        }
        int i0 = i;
        while (i < N && dloss[i] != 0.0f) i++;
        size_t n = (size_t)(i - i0), at = unpack ? (size_t)i0 : k, from = unpack ? k : (size_t)i0;
        OP(op->copy((char *)dst + at * row, (const char *)src + from * row, n * row, e));
        k += n;
    }
    return RP_OK;
}

int vchunk_backward(const BackendOps *op, float *dx, float *dW, float *buf, float *scratch, const float *x,
                    const float *W, const TokenBatch *tok, const float *lse, int B, int T, int C, int V, int Vc,
                    Error *e) {
    const int N = B * T;
    const float *hd = tok->h_dloss;
    int M = 0;
    for (int i = 0; i < N; i++) M += hd[i] != 0.0f;
    if (M == 0) return op->zero(dx, sizeof(float) * (size_t)N * C, e);
    float *logits_c = buf, *stats = buf + (size_t)N * Vc;
    /* Every row carries loss (pretraining): the rows as they are, in their B groups of T. */
    const float *xp = x, *lp = lse, *dlp = tok->dloss;
    const int32_t *tp = tok->targets;
    float *dxp = dx;
    int gB = B, gT = T;
    if (M < N) {
        /* The forward's running statistics are dead now: their 3 N floats hold the packed rows'
         * targets, lse and dloss. */
        float *xs = scratch, *ls = stats + N, *ds = stats + 2 * (size_t)N;
        int32_t *ts = (int32_t *)(void *)stats;
        OP(copy_runs(op, hd, N, xs, x, (size_t)C, sizeof(float), 0, e));
        OP(copy_runs(op, hd, N, ts, tok->targets, 1, sizeof(int32_t), 0, e));
        OP(copy_runs(op, hd, N, ls, lse, 1, sizeof(float), 0, e));
        OP(copy_runs(op, hd, N, ds, tok->dloss, 1, sizeof(float), 0, e));
        xp = xs, lp = ls, dlp = ds, tp = ts;
        dxp = scratch + (size_t)N * C;
        gB = 1, gT = M;
    }
    for (int j0 = 0; j0 < V; j0 += Vc) {
        int n = chunk_width(j0, V, Vc);
        const float *Wc = W + (size_t)j0 * C;
        OP(op->matmul_forward(logits_c, xp, Wc, NULL, NULL, gB, gT, C, n, e));
        OP(op->crossentropy_chunk_backward(logits_c, lp, tp, dlp, M, j0, n, e));
        OP(op->matmul_backward(dxp, dW + (size_t)j0 * C, NULL, logits_c, xp, Wc, gB, gT, C, n, j0 > 0, e));
    }
    if (M == N) return RP_OK;
    OP(op->zero(dx, sizeof(float) * (size_t)N * C, e));
    return copy_runs(op, hd, N, dx, dxp, (size_t)C, sizeof(float), 1, e);
}

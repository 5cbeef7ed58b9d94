/* core/fast/batchnorm.c — the fast tier's batch normalization: the reference's forward,
 * running statistics and backward (core/ops/batchnorm.c, derived in docs/batchnorm.md) as
 * vectorized passes split across threads, and BatchNorm + ReLU as one op, which a
 * Sequential's plan uses for a BatchNorm followed by a ReLU (layers/module.c).
 *
 * Layout. x, y, dx, dy are viewed as (N, C, S) with S = H*W (S = 1 for an (N, C) input):
 * the values of channel c in sample n are the contiguous run x[(n*C + c)*S .. +S).
 * Per-channel buffers mean, rstd, gamma, beta, dgamma, dbeta are (C). Each channel has
 * M = N*S values. Per-channel sums are double whatever em_real is; inside one run of S
 * values they are summed in 16 independent partial sums of em_real (so the loop
 * vectorizes), each run's total then added in double.
 *
 * Speed. Every pass walks memory in order: for S > 1, channel by channel over its N runs
 * (channels split across threads); for S = 1 (BatchNorm1d), row by row with one double
 * accumulator per channel. Kernels are EM_KERNEL (core/simd.h): AVX-512 / AVX2 / plain,
 * chosen at run time.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fast.h"
#include "simd.h"

/* The per-run loops use core/simd.h's vector types: em_vec is EM_LANES em_reals. */

/* The fused ReLU (em_fast_batchnorm_relu): y = max(0, v), v = (x - mu) k + b, and its
 * backward passes dy only where v > 0. Forward and backward compute v with the same
 * expression from the same saved mean, scale and shift (no contraction into a fused
 * multiply-add: ISO C mode), so the backward's mask is exactly where the forward's output
 * is positive. A NaN passes through the forward and gets no gradient, as em_relu.
 * RELU_PASSES is the backward's test, written once for scalars and GCC vectors alike (on
 * vectors it is a lane mask); xc = x - mu. It compares the expression where the forward
 * compares the em_real it stored: the same value wherever arithmetic is done in em_real's
 * own precision (FLT_EVAL_METHOD 0: x86-64, AArch64), which is checked here. */
#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "the fused ReLU's mask needs arithmetic in em_real's own precision (FLT_EVAL_METHOD 0)"
#endif
#define RELU_PASSES(xc, k, b) ((xc) * (k) + (b) > 0)

/* em_run_dsums of dy masked by the fused ReLU: dy where (x - mu) k + b > 0, else 0 */
EM_INLINE static void run_dsums_relu(const em_real *restrict dy, const em_real *restrict x,
                                  em_real mu, em_real k, em_real b, int S, double *sdy,
                                  double *sdyxc) {
    em_vec a = {0}, bb = {0};
    int s = 0;
    for (; s + EM_LANES <= S; s += EM_LANES) {
        em_vec xc = EM_LOADV(x + s) - mu;
        em_vec d = (em_vec)((em_mvec)EM_LOADV(dy + s) & RELU_PASSES(xc, k, b));
        a += d;
        bb += d * xc;
    }
    double ta = 0.0, tb = 0.0;
    for (; s < S; s++) {
        em_real d = RELU_PASSES(x[s] - mu, k, b) ? dy[s] : 0;
        ta += d;
        tb += (double)d * ((double)x[s] - mu);
    }
    *sdy += ta + em_lanes_sum(&a);
    *sdyxc += tb + em_lanes_sum(&bb);
}

/* Every kernel below has an S = 1 form (BatchNorm1d: rows of C channels, one double
 * accumulator per channel) and an S > 1 form over channels [lo, hi) (or (n, c) runs
 * [lo, hi)), which EM_PARALLEL_RANGES splits across threads. */

/* sum[c] = sum_{n,s} x[n,c,s] */
EM_KERNEL static void bn_sum_k(double *restrict sum, const em_real *restrict x, int N, int C,
                               int S, size_t lo, size_t hi) {
    if (S == 1) {
        for (int c = 0; c < C; c++) sum[c] = 0.0;
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++) sum[c] += x[(size_t)n * C + c];
        return;
    }
    for (size_t c = lo; c < hi; c++) {
        double t = 0.0;
        for (int n = 0; n < N; n++) t += em_run_sum(x + ((size_t)n * C + c) * S, (size_t)S);
        sum[c] = t;
    }
}

static void bn_sum(double *sum, const em_real *x, int N, int C, int S) {
    EM_PARALLEL_RANGES((size_t)C, S == 1 ? 0 : (long)N * C * S, lo, hi,
                       bn_sum_k(sum, x, N, C, S, lo, hi));
}

/* sq[c] = sum_{n,s} (x[n,c,s] - mean[c])^2 — the second pass of a two-pass variance, so
 * no cancellation as in E[x^2] - E[x]^2 */
EM_KERNEL static void bn_sqdev_k(double *restrict sq, const em_real *restrict x,
                                 const em_real *restrict mean, int N, int C, int S, size_t lo,
                                 size_t hi) {
    if (S == 1) {
        for (int c = 0; c < C; c++) sq[c] = 0.0;
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++) {
                double d = (double)x[(size_t)n * C + c] - mean[c];
                sq[c] += d * d;
            }
        return;
    }
    for (size_t c = lo; c < hi; c++) {
        double t = 0.0;
        for (int n = 0; n < N; n++) t += em_run_sqdev(x + ((size_t)n * C + c) * S, mean[c], S);
        sq[c] = t;
    }
}

static void bn_sqdev(double *sq, const em_real *x, const em_real *mean, int N, int C, int S) {
    EM_PARALLEL_RANGES((size_t)C, S == 1 ? 0 : (long)N * C * S, lo, hi,
                       bn_sqdev_k(sq, x, mean, N, C, S, lo, hi));
}

/* y[n,c,s] = (x[n,c,s] - mean[c]) * scale[c] + shift[c], scale = gamma * rstd,
 * shift = beta; relu: y = max(0, that) (em_fast_batchnorm_relu). (x - mean) first: folding
 * mean into the shift would cancel digits when |mean| >> std. S > 1: runs nc in [lo, hi). */
EM_KERNEL static void bn_normalize_k(em_real *restrict y, const em_real *restrict x,
                                     const em_real *restrict mean,
                                     const em_real *restrict scale,
                                     const em_real *restrict shift, int N, int C, int S,
                                     bool relu, size_t lo, size_t hi) {
    if (S == 1) {
        for (int n = 0; n < N; n++) {
            const em_real *xr = x + (size_t)n * C;
            em_real *yr = y + (size_t)n * C;
            for (int c = 0; c < C; c++) yr[c] = (xr[c] - mean[c]) * scale[c] + shift[c];
            for (int c = 0; relu && c < C; c++) yr[c] = yr[c] > 0 || yr[c] != yr[c] ? yr[c] : 0;
        }
        return;
    }
    for (size_t nc = lo; nc < hi; nc++) {
        size_t c = nc % (size_t)C;
        const em_real *xr = x + nc * S;
        em_real *yr = y + nc * S;
        em_real mu = mean[c], k = scale[c], b = shift[c];
        if (relu)
            for (int s = 0; s < S; s++) {
                em_real v = (xr[s] - mu) * k + b;
                yr[s] = v > 0 || v != v ? v : 0;
            }
        else
            for (int s = 0; s < S; s++) yr[s] = (xr[s] - mu) * k + b;
    }
}

static void bn_normalize(em_real *y, const em_real *x, const em_real *mean,
                         const em_real *scale, const em_real *shift, int N, int C, int S,
                         bool relu) {
    EM_PARALLEL_RANGES((size_t)N * C, S == 1 ? 0 : (long)N * C * S, lo, hi,
                       bn_normalize_k(y, x, mean, scale, shift, N, C, S, relu, lo, hi));
}

/* sdy[c] = sum dy, sdyxc[c] = sum dy * (x - mean); with the fused ReLU (scale, shift
 * not NULL) dy counts only where (x - mean) scale + shift > 0 */
EM_KERNEL static void bn_dsums_k(double *restrict sdy, double *restrict sdyxc,
                                 const em_real *restrict dy, const em_real *restrict x,
                                 const em_real *restrict mean, const em_real *restrict scale,
                                 const em_real *restrict shift, int N, int C, int S,
                                 size_t lo, size_t hi) {
    if (S == 1) {
        for (int c = 0; c < C; c++) sdy[c] = sdyxc[c] = 0.0;
        for (int n = 0; n < N; n++) {
            const em_real *d = dy + (size_t)n * C, *xr = x + (size_t)n * C;
            for (int c = 0; c < C; c++) {
                em_real dc = !scale || RELU_PASSES(xr[c] - mean[c], scale[c], shift[c]) ? d[c] : 0;
                sdy[c] += dc;
                sdyxc[c] += (double)dc * ((double)xr[c] - mean[c]);
            }
        }
        return;
    }
    for (size_t c = lo; c < hi; c++) {
        double a = 0.0, b = 0.0;
        for (int n = 0; n < N; n++) {
            size_t at = ((size_t)n * C + c) * S;
            if (scale)
                run_dsums_relu(dy + at, x + at, mean[c], scale[c], shift[c], S, &a, &b);
            else
                em_run_dsums(dy + at, x + at, mean[c], S, &a, &b);
        }
        sdy[c] = a;
        sdyxc[c] = b;
    }
}

static void bn_dsums(double *sdy, double *sdyxc, const em_real *dy, const em_real *x,
                     const em_real *mean, const em_real *scale, const em_real *shift, int N,
                     int C, int S) {
    EM_PARALLEL_RANGES((size_t)C, S == 1 ? 0 : (long)N * C * S, lo, hi,
                       bn_dsums_k(sdy, sdyxc, dy, x, mean, scale, shift, N, C, S, lo, hi));
}

/* dx[n,c,s] += a[c] * dy[n,c,s] + b[c] + k[c] * (x[n,c,s] - mean[c]); add = false: a
 * fresh buffer (em_node_grad_fresh), dx = ... (never read: it holds garbage, maybe NaN).
 * With the fused ReLU (scale, shift not NULL) dy is 0 where (x - mean) scale + shift <= 0. */
EM_KERNEL static void bn_dx_k(em_real *restrict dx, const em_real *restrict dy,
                              const em_real *restrict x, const em_real *restrict mean,
                              const em_real *restrict a, const em_real *restrict b,
                              const em_real *restrict k, const em_real *restrict scale,
                              const em_real *restrict shift, int N, int C, int S, bool add,
                              size_t lo, size_t hi) {
    if (S == 1) {
        for (int n = 0; n < N; n++) {
            size_t r = (size_t)n * C;
            for (int c = 0; c < C; c++) {
                bool pass = !scale || RELU_PASSES(x[r + c] - mean[c], scale[c], shift[c]);
                em_real d = pass ? dy[r + c] : 0;
                em_real v = a[c] * d + b[c] + k[c] * (x[r + c] - mean[c]);
                if (add)  /* a fresh dx is never read */
                    dx[r + c] += v;
                else
                    dx[r + c] = v;
            }
        }
        return;
    }
    for (size_t nc = lo; nc < hi; nc++) {
        size_t c = nc % (size_t)C, at = nc * S;
        em_real ac = a[c], bc = b[c], kc = k[c], mu = mean[c];
        if (scale) {
            em_real sc = scale[c], sh = shift[c];
            if (add)
                for (int s = 0; s < S; s++) {
                    em_real xc = x[at + s] - mu;
                    dx[at + s] += ac * (RELU_PASSES(xc, sc, sh) ? dy[at + s] : 0) + bc + kc * xc;
                }
            else
                for (int s = 0; s < S; s++) {
                    em_real xc = x[at + s] - mu;
                    dx[at + s] = ac * (RELU_PASSES(xc, sc, sh) ? dy[at + s] : 0) + bc + kc * xc;
                }
        } else if (add) {
            for (int s = 0; s < S; s++)
                dx[at + s] += ac * dy[at + s] + bc + kc * (x[at + s] - mu);
        } else {
            for (int s = 0; s < S; s++)
                dx[at + s] = ac * dy[at + s] + bc + kc * (x[at + s] - mu);
        }
    }
}

static void bn_dx(em_real *dx, const em_real *dy, const em_real *x, const em_real *mean,
                  const em_real *a, const em_real *b, const em_real *k, const em_real *scale,
                  const em_real *shift, int N, int C, int S, bool add) {
    EM_PARALLEL_RANGES((size_t)N * C, S == 1 ? 0 : (long)N * C * S, lo, hi,
                       bn_dx_k(dx, dy, x, mean, a, b, k, scale, shift, N, C, S, add, lo, hi));
}

/* em_ref_bn_train's statistics and running averages by the fast passes, then y (relu:
 * max(0, y)); k, b (C) receive the normalization's constants gamma rstd and beta.
 * Returns M, or -1 when out of memory. */
static double bn_train(em_tape *tape, em_real *y, em_real *mean, em_real *rstd, em_real *k,
                       em_real *b, const em_real *x, const em_bn_args *a, int N, int C, int S,
                       bool relu) {
    double *sum = em_tape_alloc(tape, (2 * (size_t)C + 1) * sizeof *sum);
    if (!sum) return -1;
    double *sq = sum + C + 1;
    bn_sum(sum, x, N, C, S);
    sum[C] = (double)N * S;
    if (a->sync) a->sync->sum(sum, C + 1, a->sync->ctx);
    const double M = sum[C], m = a->momentum;
    if (M < 2) return M;
    for (int c = 0; c < C; c++) mean[c] = (em_real)(sum[c] / M);
    bn_sqdev(sq, x, mean, N, C, S);
    if (a->sync) a->sync->sum(sq, C, a->sync->ctx);
    for (int c = 0; c < C; c++) {
        double var = sq[c] / M;
        rstd[c] = em_bn_rstd(var, a->eps);
        if (a->running_mean)
            a->running_mean[c] = (em_real)(m * a->running_mean[c] + (1 - m) * sum[c] / M);
        if (a->running_var)
            a->running_var[c] = (em_real)(m * a->running_var[c] + (1 - m) * var * M / (M - 1));
    }
    em_bn_affine(k, b, rstd, a, C);
    bn_normalize(y, x, mean, k, b, N, C, S, relu);
    return M;
}

/* Batch Renorm has no fast version: it goes to the reference kernels */
double em_fast_bn_train(em_tape *tape, em_real *y, em_real *mean, em_real *rstd, em_real *rd,
                        const em_real *x, const em_bn_args *a, int N, int C, int S) {
    if (em_bn_renorm_on(a)) return em_ref_bn_train(tape, y, mean, rstd, rd, x, a, N, C, S);
    em_real *kb = em_tape_alloc(tape, 2 * (size_t)C * sizeof *kb);
    if (!kb) return -1;
    return bn_train(tape, y, mean, rstd, kb, kb + C, x, a, N, C, S, false);
}

void em_fast_bn_normalize(em_real *y, const em_real *x, const em_real *mean, const em_real *k,
                          const em_real *b, int N, int C, int S) {
    bn_normalize(y, x, mean, k, b, N, C, S, false);
}

/* em_ref_bn_backward by the fast passes. With the fused ReLU (k, b not NULL: the forward's
 * constants) dy counts only where (x - mean) k + b > 0, as em_relu's backward would have
 * passed it. As computed:
 *   dx (+)= A dy + B + K (x - mean),  A = gamma rstd,  B = -A (1/M) sum dy,
 *                                     K = -A rstd^2 (1/M) sum dy (x - mean)
 * (B = K = 0 with the statistics held constant). */
static bool bn_backward(em_tape *tape, em_real *dx, bool add, em_real *dgamma, em_real *dbeta,
                        const em_real *dy, const em_real *mean, const em_real *rstd,
                        const em_real *x, const em_bn_args *a, int N, int C, int S, double M,
                        const em_real *k, const em_real *b) {
    double *sums = em_tape_alloc(tape, 4 * (size_t)C * sizeof(double));
    em_real *abk = em_tape_alloc(tape, 3 * (size_t)C * sizeof(em_real));
    if (!sums || !abk) return false;
    double *sdy = sums, *sdyxc = sums + C;
    bn_dsums(sdy, sdyxc, dy, x, mean, k, b, N, C, S);
    for (int c = 0; c < C; c++) {
        if (dbeta) dbeta[c] += (em_real)sdy[c];
        if (dgamma) dgamma[c] += (em_real)(sdyxc[c] * rstd[c]);
    }
    if (!dx) return true;
    const bool full = a->mode == EM_BN_TRAIN;
    if (full && a->sync) { /* dx needs the sums over the global batch */
        memcpy(sums + 2 * C, sums, 2 * (size_t)C * sizeof(double));
        sdy = sums + 2 * C;
        sdyxc = sums + 3 * C;
        a->sync->sum(sdy, 2 * C, a->sync->ctx);
    }
    em_real *A = abk, *B = abk + C, *K = abk + 2 * C;
    for (int c = 0; c < C; c++) {
        double g = (a->gamma ? a->gamma->data[c] : 1) * (double)rstd[c];
        A[c] = (em_real)g;
        B[c] = full ? (em_real)(-g * sdy[c] / M) : 0;
        K[c] = full ? (em_real)(-g * rstd[c] * rstd[c] * sdyxc[c] / M) : 0;
    }
    bn_dx(dx, dy, x, mean, A, B, K, k, b, N, C, S, add);
    return true;
}

bool em_fast_bn_backward(em_tape *tape, em_real *dx, bool add, em_real *dgamma, em_real *dbeta,
                         const em_real *dy, const em_real *mean, const em_real *rstd,
                         const em_real *rd, const em_real *x, const em_bn_args *a, int N,
                         int C, int S, double M) {
    if (em_bn_renorm_on(a))
        return em_ref_bn_backward(tape, dx, add, dgamma, dbeta, dy, mean, rstd, rd, x, a, N, C,
                                  S, M);
    return bn_backward(tape, dx, add, dgamma, dbeta, dy, mean, rstd, x, a, N, C, S, M, NULL,
                       NULL);
}

/* ---- BatchNorm + ReLU as one op ------------------------------------------------------
 * y = max(0, em_batchnorm(x, a)): the same statistics, running averages and gradients as
 * the two ops of this tier, bit for bit (tests/test_ops_batchnorm.c), writing one tensor
 * instead of two and reading x, not a second copy, in backward, where the ReLU's mask is
 * recomputed from x with the forward's own expression (RELU_PASSES above). */

typedef struct bnr_saved {
    em_real *mean, *rstd, *k, *b;  /* (C) statistics and the normalization's constants */
    double M;
    em_bn_args args;
} bnr_saved;

static void bnr_node_backward(em_tape *tape, em_node *node) {
    em_tensor *x = node->inputs[0], *y = node->output;
    const bnr_saved *sv = node->saved;
    int N, C, S;
    em_bn_check(x, &sv->args, &N, &C, &S);
    em_real *dgamma = em_node_grad(tape, node, 1), *dbeta = em_node_grad(tape, node, 2);
    bool fresh;
    em_real *dx = em_node_grad_fresh(tape, node, 0, &fresh);
    if (!em_tape_ok(tape)) return;
    bn_backward(tape, dx, !fresh, dgamma, dbeta, y->grad, sv->mean, sv->rstd, x->data,
                &sv->args, N, C, S, sv->M, sv->k, sv->b);
}

em_tensor *em_fast_batchnorm_relu(em_tape *tape, em_tensor *x, const em_bn_args *a) {
    if (!em_tape_ok(tape)) return NULL;
    if (em_bn_renorm_on(a)) return em_relu(tape, em_batchnorm(tape, x, a));  /* not fused */
    int N, C, S;
    em_bn_check(x, a, &N, &C, &S);
    em_tensor *y = em_tape_tensor_like(tape, x);
    bnr_saved *sv = em_tape_alloc(tape, sizeof *sv);
    em_real *stats = em_tape_alloc(tape, 4 * (size_t)C * sizeof *stats);
    if (!y || !sv || !stats) return NULL;
    *sv = (bnr_saved){stats, stats + C, stats + 2 * C, stats + 3 * C, 0, *a};
    if (a->mode == EM_BN_EVAL) {
        em_bn_running_stats(sv->mean, sv->rstd, a, C);
        em_bn_affine(sv->k, sv->b, sv->rstd, a, C);
        bn_normalize(y->data, x->data, sv->mean, sv->k, sv->b, N, C, S, true);
    } else {
        sv->M = bn_train(tape, y->data, sv->mean, sv->rstd, sv->k, sv->b, x->data, a, N, C, S,
                         true);
        if (sv->M < 0) return NULL;
        if (sv->M < 2) return em_bn_fail_one_value(tape, N, C, S);
    }
    em_node *node = em_tape_record(tape, EM_OP_BATCHNORM_RELU, y, bnr_node_backward, 3, x,
                                   a->gamma, a->beta);
    if (node) {
        node->saved = sv;
        node->args[0] = a->mode;
    }
    return y;
}

/* core/ops/batchnorm.c — batch normalization: forward, running statistics, and the fused
 * backward through the batch mean and variance. docs/batchnorm.md derives every line.
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

#include "../ops.h"
#include "../simd.h"
#ifdef EM_EXERCISES
#include "../exercise_hooks.h"
#endif

/* The per-run loops use core/simd.h's vector types: em_vec is EM_LANES em_reals. */

/* The fused ReLU (em_batchnorm_relu): y = max(0, v), v = (x - mu) k + b, and its
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

/* sum of (x - mu)^2 over x[0..S) */
EM_INLINE static double run_sqdev(const em_real *restrict x, em_real mu, int S) {
    em_vec acc = {0};
    int s = 0;
    for (; s + EM_LANES <= S; s += EM_LANES) {
        em_vec d = EM_LOADV(x + s) - mu;
        acc += d * d;
    }
    double t = 0.0;
    for (; s < S; s++) t += ((double)x[s] - mu) * ((double)x[s] - mu);
    return t + em_lanes_sum(&acc);
}

/* sum of dy and of dy * (x - mu) over a run */
EM_INLINE static void run_dsums(const em_real *restrict dy, const em_real *restrict x, em_real mu,
                             int S, double *sdy, double *sdyxc) {
    em_vec a = {0}, b = {0};
    int s = 0;
    for (; s + EM_LANES <= S; s += EM_LANES) {
        em_vec d = EM_LOADV(dy + s);
        a += d;
        b += d * (EM_LOADV(x + s) - mu);
    }
    double ta = 0.0, tb = 0.0;
    for (; s < S; s++) {
        ta += dy[s];
        tb += (double)dy[s] * ((double)x[s] - mu);
    }
    *sdy += ta + em_lanes_sum(&a);
    *sdyxc += tb + em_lanes_sum(&b);
}

/* run_dsums of dy masked by the fused ReLU: dy where (x - mu) k + b > 0, else 0 */
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
        for (int n = 0; n < N; n++) t += run_sqdev(x + ((size_t)n * C + c) * S, mean[c], S);
        sq[c] = t;
    }
}

static void bn_sqdev(double *sq, const em_real *x, const em_real *mean, int N, int C, int S) {
    EM_PARALLEL_RANGES((size_t)C, S == 1 ? 0 : (long)N * C * S, lo, hi,
                       bn_sqdev_k(sq, x, mean, N, C, S, lo, hi));
}

/* y[n,c,s] = (x[n,c,s] - mean[c]) * scale[c] + shift[c], scale = gamma * rstd,
 * shift = beta; relu: y = max(0, that) (em_batchnorm_relu). (x - mean) first: folding
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
                run_dsums(dy + at, x + at, mean[c], S, &a, &b);
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

/* rstd = 1 / sqrt(var + eps): eps inside the root. The ONE definition, used by the
 * forward in every mode and, through the saved rstd, by the backward. */
static em_real bn_rstd(double var, double eps) { return (em_real)(1.0 / sqrt(var + eps)); }

typedef struct bn_saved {
    em_real *mean;   /* (C) the statistics the forward normalized with (batch or running) */
    em_real *rstd;   /* (C) */
    double M;        /* values per channel the statistics came from (all processes)      */
    bool full;       /* backward through the batch statistics                           */
    bool relu;       /* em_batchnorm_relu: y = max(0, BN(x)); scale, shift give the mask */
    const em_real *scale, *shift;  /* (C) gamma rstd and beta, as the forward used them */
    const em_bn_sync *sync;
} bn_saved;

/* x viewed as (N, C, S) */
static void bn_dims(const em_tensor *x, int *N, int *C, int *S) {
    *N = x->shape[0];
    *C = x->shape[1];
    *S = x->ndim == 4 ? x->shape[2] * x->shape[3] : 1;
}

/* Backward, with xhat = (x - mean) * rstd:
 *   dbeta[c]  += sum_{n,s} dy
 *   dgamma[c] += sum_{n,s} dy * xhat
 * full (mean and var depend on x):
 *   dx += gamma * rstd * (dy - (1/M) sum dy - xhat * (1/M) sum dy * xhat)
 * frozen (mean and var taken as constants; also the exact backward of eval mode):
 *   dx += gamma * rstd * dy
 * The two sums are exactly dbeta's and dgamma's (before scaling), so the full backward
 * costs one more pass over the data than the frozen one. As computed:
 *   dx += a * dy + b + k * (x - mean),  a = gamma * rstd,  b = -a * mean(dy),
 *                                       k = -a * rstd^2 * mean(dy * (x - mean)) */
static void bn_node_backward(em_tape *tape, em_node *node) {
    em_tensor *x = node->inputs[0], *gamma = node->inputs[1], *y = node->output;
    const bn_saved *sv = node->saved;
    int N, C, S;
    bn_dims(x, &N, &C, &S);
    em_real *dgamma = gamma ? em_node_grad(tape, node, 1) : NULL;
    em_real *dbeta = node->inputs[2] ? em_node_grad(tape, node, 2) : NULL;
    bool fresh;
    em_real *dx = em_node_grad_fresh(tape, node, 0, &fresh);
    double *sums = em_tape_alloc(tape, 4 * (size_t)C * sizeof(double));
    em_real *abk = em_tape_alloc(tape, 3 * (size_t)C * sizeof(em_real));
    if (!sums || !abk || !em_tape_ok(tape)) return;
    double *sdy = sums, *sdyxc = sums + C;
    const em_real *dy = y->grad, *mean = sv->mean, *rstd = sv->rstd;
#ifdef EM_EXERCISES
    if (sv->full && !sv->sync) {  /* exercise 2 computes dx, dgamma, dbeta */
        em_ex_batchnorm_backward(tape, node, dx, fresh, dgamma, dbeta, mean, rstd);
        return;
    }
#endif
    const em_real *scale = sv->relu ? sv->scale : NULL, *shift = sv->relu ? sv->shift : NULL;
    bn_dsums(sdy, sdyxc, dy, x->data, mean, scale, shift, N, C, S);
    for (int c = 0; c < C; c++) {
        if (dbeta) dbeta[c] += (em_real)sdy[c];
        if (dgamma) dgamma[c] += (em_real)(sdyxc[c] * rstd[c]);
    }
    if (!dx) return;
    if (sv->full && sv->sync) { /* dx needs the sums over the global batch */
        memcpy(sums + 2 * C, sums, 2 * (size_t)C * sizeof(double));
        sdy = sums + 2 * C;
        sdyxc = sums + 3 * C;
        sv->sync->sum(sdy, 2 * C, sv->sync->ctx);
    }
    em_real *a = abk, *b = abk + C, *k = abk + 2 * C;
    for (int c = 0; c < C; c++) {
        double g = (gamma ? gamma->data[c] : 1) * (double)rstd[c];
        a[c] = (em_real)g;
        b[c] = sv->full ? (em_real)(-g * sdy[c] / sv->M) : 0;
        k[c] = sv->full ? (em_real)(-g * rstd[c] * rstd[c] * sdyxc[c] / sv->M) : 0;
    }
    bn_dx(dx, dy, x->data, mean, a, b, k, scale, shift, N, C, S, !fresh);
}

em_tensor *em_batchnorm(em_tape *tape, em_tensor *x, em_tensor *gamma, em_tensor *beta,
                        em_real *running_mean, em_real *running_var, double momentum,
                        double eps, em_bn_mode mode) {
    return em_batchnorm_sync(tape, x, gamma, beta, running_mean, running_var, momentum, eps,
                             mode, NULL);
}

/* em_batchnorm_sync, and with relu em_batchnorm_relu_sync */
static em_tensor *bn_op(em_tape *tape, em_tensor *x, em_tensor *gamma, em_tensor *beta,
                        em_real *running_mean, em_real *running_var, double momentum,
                        double eps, em_bn_mode mode, const em_bn_sync *sync, bool relu) {
    if (!em_tape_ok(tape)) return NULL;
    EM_ASSERT_MSG(x->ndim == 2 || x->ndim == 4, "em_batchnorm: x is (N, C) or (N, C, H, W)");
    int N, C, S;
    bn_dims(x, &N, &C, &S);
    EM_ASSERT_MSG(!gamma || (gamma->ndim == 1 && gamma->shape[0] == C), "gamma is (C)");
    EM_ASSERT_MSG(!beta || (beta->ndim == 1 && beta->shape[0] == C), "beta is (C)");
    EM_ASSERT_MSG(eps >= 0 && momentum >= 0 && momentum <= 1, "eps >= 0, momentum in [0, 1]");
    bool training = mode != EM_BN_EVAL;
    if (!training) EM_ASSERT_MSG(running_mean && running_var, "eval mode needs running stats");

    em_tensor *y = em_tape_tensor_like(tape, x);
    bn_saved *sv = em_tape_alloc(tape, sizeof *sv);
    em_real *mean = em_tape_alloc(tape, 4 * (size_t)C * sizeof(em_real));
    double *stats = em_tape_alloc(tape, (2 * (size_t)C + 1) * sizeof(double));
    if (!y || !sv || !mean || !stats) return NULL;
    em_real *rstd = mean + C, *scale = mean + 2 * C, *shift = mean + 3 * C;
    double M = (double)N * S;

    if (training) {
        double *sum = stats, *sq = stats + C + 1;
        bn_sum(sum, x->data, N, C, S);
        sum[C] = M;
        if (sync) sync->sum(sum, C + 1, sync->ctx);
        M = sum[C];
        if (M < 2)
            return em_tape_fail(tape, EM_ERR_STATE,
                                "batchnorm: training needs more than one value per channel, "
                                "got input (N=%d, C=%d, H*W=%d); use a batch of 2 or more, "
                                "or evaluation mode", N, C, S);
#ifdef EM_EXERCISES
        if (!sync) {  /* exercise 1 computes mean, rstd, y and the running statistics */
            if (!em_ex_batchnorm_forward(tape, y, mean, rstd, running_mean, running_var, x,
                                         gamma, beta, momentum, eps))
                return NULL;
            goto record;
        }
#endif
        for (int c = 0; c < C; c++) mean[c] = (em_real)(sum[c] / M);
        bn_sqdev(sq, x->data, mean, N, C, S);
        if (sync) sync->sum(sq, C, sync->ctx);
        /* running_mean = m * running_mean + (1 - m) * mean
         * running_var  = m * running_var  + (1 - m) * var * M / (M - 1)   (unbiased, as
         * Ioffe & Szegedy's inference algorithm and PyTorch use); m = history kept */
        for (int c = 0; c < C; c++) {
            double mu = sum[c] / M, var = sq[c] / M;
            rstd[c] = bn_rstd(var, eps);
            if (running_mean)
                running_mean[c] = (em_real)(momentum * running_mean[c] + (1 - momentum) * mu);
            if (running_var)
                running_var[c] = (em_real)(momentum * running_var[c] +
                                           (1 - momentum) * var * M / (M - 1));
        }
    } else {
        for (int c = 0; c < C; c++) {
            mean[c] = running_mean[c];
            rstd[c] = bn_rstd(running_var[c], eps);
        }
    }
    for (int c = 0; c < C; c++) {
        scale[c] = (gamma ? gamma->data[c] : 1) * rstd[c];
        shift[c] = beta ? beta->data[c] : 0;
    }
    bn_normalize(y->data, x->data, mean, scale, shift, N, C, S, relu);

#ifdef EM_EXERCISES
record:
#endif
    sv->mean = mean;
    sv->rstd = rstd;
    sv->M = M;
    sv->full = mode == EM_BN_TRAIN;
    sv->relu = relu;
    sv->scale = scale;
    sv->shift = shift;
    sv->sync = training ? sync : NULL;
    em_node *node = em_tape_record(tape, relu ? EM_OP_BATCHNORM_RELU : EM_OP_BATCHNORM, y,
                                   bn_node_backward, 3, x, gamma, beta);
    if (node) {
        node->saved = sv;
        node->args[0] = mode;
    }
    return y;
}

em_tensor *em_batchnorm_sync(em_tape *tape, em_tensor *x, em_tensor *gamma, em_tensor *beta,
                             em_real *running_mean, em_real *running_var, double momentum,
                             double eps, em_bn_mode mode, const em_bn_sync *sync) {
    return bn_op(tape, x, gamma, beta, running_mean, running_var, momentum, eps, mode, sync,
                 false);
}

em_tensor *em_batchnorm_relu_sync(em_tape *tape, em_tensor *x, em_tensor *gamma,
                                  em_tensor *beta, em_real *running_mean, em_real *running_var,
                                  double momentum, double eps, em_bn_mode mode,
                                  const em_bn_sync *sync) {
#ifdef EM_EXERCISES  /* the exercises' BatchNorm is the plain one: compose the two ops */
    return em_relu(tape, em_batchnorm_sync(tape, x, gamma, beta, running_mean, running_var,
                                           momentum, eps, mode, sync));
#else
    return bn_op(tape, x, gamma, beta, running_mean, running_var, momentum, eps, mode, sync,
                 true);
#endif
}

em_tensor *em_batchnorm_relu(em_tape *tape, em_tensor *x, em_tensor *gamma, em_tensor *beta,
                             em_real *running_mean, em_real *running_var, double momentum,
                             double eps, em_bn_mode mode) {
    return em_batchnorm_relu_sync(tape, x, gamma, beta, running_mean, running_var, momentum,
                                  eps, mode, NULL);
}

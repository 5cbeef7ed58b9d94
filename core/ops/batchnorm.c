/* core/ops/batchnorm.c — batch normalization, the reference: the forward in training and
 * in evaluation, the running statistics, and the backward through the batch mean and
 * variance, as plain loops; Batch Renormalization as an option of the same kernels.
 * docs/batchnorm.md derives every line; core/fast/batchnorm.c computes the same thing
 * faster (and fuses a ReLU into it), and hands Batch Renorm to these kernels.
 *
 * Layout. x, y, dx, dy are viewed as (N, C, S) with S = H*W (S = 1 for an (N, C) input):
 * value s of channel c in sample n is x[(n*C + c)*S + s]. mean, rstd, gamma, beta, dgamma
 * and dbeta are (C). Channel c has M = N*S values. Every sum is in double.
 */
#include <string.h>

#include "../kernels.h"
#include "reference.h"

/* x[n, c, s] of an array viewed as (N, C, S) */
#define AT(x, n, c, s) ((x)[((size_t)(n) * C + (c)) * S + (s)])

/* gamma[c], 1 without the affine part */
static double gamma_of(const em_bn_args *a, int c) { return a->gamma ? a->gamma->data[c] : 1; }

/* k = gamma rstd, b = beta (0 without the affine part) */
void em_bn_affine(em_real *k, em_real *b, const em_real *rstd, const em_bn_args *a, int C) {
    for (int c = 0; c < C; c++) {
        k[c] = (em_real)(gamma_of(a, c) * rstd[c]);
        b[c] = a->beta ? a->beta->data[c] : 0;
    }
}

/* y = gamma (x - mean) rstd + beta, as (x - mean) k + b with k = gamma rstd, b = beta:
 * (x - mean) first, since folding mean into b would cancel digits when |mean| >> std */
void em_ref_bn_normalize(em_real *y, const em_real *x, const em_real *mean, const em_real *k,
                         const em_real *b, int N, int C, int S) {
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int s = 0; s < S; s++) AT(y, n, c, s) = (AT(x, n, c, s) - mean[c]) * k[c] + b[c];
}

/* Batch Renorm, channel c: r and d from the batch's mean and variance and the running
 * statistics as they are BEFORE this batch updates them, sigma = sqrt(running_var + eps):
 *   r = clip(sqrt(var + eps) / sigma, 1/rmax, rmax)      (into rd[c])
 *   d = clip((mean - running_mean) / sigma, -dmax, dmax)  (into rd[C + c]) */
static void renorm_rd(em_real *rd, int C, int c, double mean, double var, const em_bn_args *a) {
    double sigma = sqrt((double)a->running_var[c] + a->eps);
    double r = sqrt(var + a->eps) / sigma, d = (mean - a->running_mean[c]) / sigma;
    rd[c] = (em_real)fmin(fmax(r, 1 / a->rmax), a->rmax);
    rd[C + c] = (em_real)fmin(fmax(d, -a->dmax), a->dmax);
}

/* Training, channel c, over its M values (over every process's, with a->sync):
 *   mean = (1/M) sum x                  var  = (1/M) sum (x - mean)^2     (biased)
 *   rstd = 1 / sqrt(var + eps)          y    = gamma (x - mean) rstd + beta
 *   running_mean = m running_mean + (1 - m) mean
 *   running_var  = m running_var  + (1 - m) var M / (M - 1)      (the unbiased variance)
 * with m = a->momentum, the fraction of the history kept. The variance is a second pass
 * over (x - mean)^2, not E[x^2] - mean^2, which loses every digit when |mean| >> std.
 * Batch Renorm (a->renorm): y = gamma ((x - mean) rstd r + d) + beta, with r and d of
 * renorm_rd saved in rd; that is (x - mean) k + b with k = gamma rstd r, b = gamma d + beta.
 * Returns M; when M < 2 (the variance of one value is 0) it returns before writing. */
double em_ref_bn_train(em_tape *tape, em_real *y, em_real *mean, em_real *rstd, em_real *rd,
                       const em_real *x, const em_bn_args *a, int N, int C, int S) {
    double *sum = em_tape_alloc(tape, (2 * (size_t)C + 1) * sizeof *sum);  /* (C + 1) */
    em_real *k = em_tape_alloc(tape, 2 * (size_t)C * sizeof *k);           /* (C) each */
    if (!sum || !k) return -1;
    double *sq = sum + C + 1;                                              /* (C)     */
    for (int c = 0; c < C; c++) {
        sum[c] = 0;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) sum[c] += AT(x, n, c, s);
    }
    sum[C] = (double)N * S;  /* M, summed over the processes with the channel sums */
    if (a->sync) a->sync->sum(sum, C + 1, a->sync->ctx);
    const double M = sum[C];
    if (M < 2) return M;
    for (int c = 0; c < C; c++) mean[c] = (em_real)(sum[c] / M);
    for (int c = 0; c < C; c++) {
        sq[c] = 0;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                double d = (double)AT(x, n, c, s) - mean[c];
                sq[c] += d * d;
            }
    }
    if (a->sync) a->sync->sum(sq, C, a->sync->ctx);
    const double m = a->momentum;
    const bool renorm = em_bn_renorm_on(a);
    for (int c = 0; c < C; c++) {
        double var = sq[c] / M;
        rstd[c] = em_bn_rstd(var, a->eps);
        if (renorm) renorm_rd(rd, C, c, sum[c] / M, var, a);  /* before the update below */
        if (a->running_mean)
            a->running_mean[c] = (em_real)(m * a->running_mean[c] + (1 - m) * sum[c] / M);
        if (a->running_var)
            a->running_var[c] = (em_real)(m * a->running_var[c] + (1 - m) * var * M / (M - 1));
    }
    em_bn_affine(k, k + C, rstd, a, C);
    for (int c = 0; renorm && c < C; c++) {
        k[c] = (em_real)(gamma_of(a, c) * rstd[c] * rd[c]);
        k[C + c] = (em_real)(gamma_of(a, c) * rd[C + c] + k[C + c]);
    }
    em_ref_bn_normalize(y, x, mean, k, k + C, N, C, S);
    return M;
}

/* Backward, with xhat = (x - mean) rstd, per channel:
 *   dbeta  += sum dy                    dgamma += sum dy xhat
 * EM_BN_TRAIN: mean and rstd are functions of every x of the channel, and
 *   dx = gamma rstd (dy - (1/M) sum dy - xhat (1/M) sum dy xhat)
 * EM_BN_FROZEN_STATS and EM_BN_EVAL: mean and rstd are constants, and
 *   dx = gamma rstd dy
 * The two sums are dbeta's and dgamma's. With a->sync (EM_BN_TRAIN) the sums in dx are
 * over every process's values, M too, while dgamma and dbeta keep this process's own sums:
 * the parameter gradients are summed over the processes afterwards.
 * Batch Renorm (a->renorm, training): y = gamma (xhat r + d) + beta with r and d constants
 * (rd), so dgamma += r sum dy xhat + d sum dy, and dx is the above with gamma r for gamma. */
bool em_ref_bn_backward(em_tape *tape, em_real *dx, bool add, em_real *dgamma,
                        em_real *dbeta, const em_real *dy, const em_real *mean,
                        const em_real *rstd, const em_real *rd, const em_real *x,
                        const em_bn_args *a, int N, int C, int S, double M) {
    const bool renorm = em_bn_renorm_on(a);
    double *sdy = em_tape_alloc(tape, 2 * (size_t)C * sizeof *sdy);  /* (C) sum dy     */
    if (!sdy) return false;
    double *sdyxhat = sdy + C;                                        /* (C) sum dy xhat */
    for (int c = 0; c < C; c++) {
        sdy[c] = sdyxhat[c] = 0;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                double xhat = ((double)AT(x, n, c, s) - mean[c]) * rstd[c];
                sdy[c] += AT(dy, n, c, s);
                sdyxhat[c] += AT(dy, n, c, s) * xhat;
            }
        if (dbeta) dbeta[c] += (em_real)sdy[c];
        if (dgamma && renorm) dgamma[c] += (em_real)(rd[c] * sdyxhat[c] + rd[C + c] * sdy[c]);
        else if (dgamma) dgamma[c] += (em_real)sdyxhat[c];
    }
    if (!dx) return true;
    const bool full = a->mode == EM_BN_TRAIN;
    if (full && a->sync) a->sync->sum(sdy, 2 * C, a->sync->ctx);
    for (int c = 0; c < C; c++) {
        double g = gamma_of(a, c) * rstd[c] * (renorm ? rd[c] : 1);
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                double xhat = ((double)AT(x, n, c, s) - mean[c]) * rstd[c];
                double v = AT(dy, n, c, s);
                if (full) v -= sdy[c] / M + xhat * sdyxhat[c] / M;
                AT(dx, n, c, s) = (em_real)((add ? AT(dx, n, c, s) : 0) + g * v);
            }
    }
    return true;
}

/* ---- the op ------------------------------------------------------------------------ */

em_bn_args em_bn_args_default(void) {
    return (em_bn_args){.momentum = 0.9, .eps = 1e-5, .mode = EM_BN_TRAIN, .rmax = 3, .dmax = 5};
}

void em_bn_check(const em_tensor *x, const em_bn_args *a, int *N, int *C, int *S) {
    EM_ASSERT_MSG(x->ndim == 2 || x->ndim == 4, "em_batchnorm: x is (N, C) or (N, C, H, W)");
    *N = x->shape[0];
    *C = x->shape[1];
    *S = x->ndim == 4 ? x->shape[2] * x->shape[3] : 1;
    EM_ASSERT_MSG(!a->gamma || (a->gamma->ndim == 1 && a->gamma->shape[0] == *C), "gamma is (C)");
    EM_ASSERT_MSG(!a->beta || (a->beta->ndim == 1 && a->beta->shape[0] == *C), "beta is (C)");
    EM_ASSERT_MSG(a->eps >= 0 && a->momentum >= 0 && a->momentum <= 1,
                  "em_batchnorm: eps >= 0, momentum in [0, 1]");
    EM_ASSERT_MSG(a->mode != EM_BN_EVAL || (a->running_mean && a->running_var),
                  "em_batchnorm: evaluation needs the running statistics");
    EM_ASSERT_MSG(!em_bn_renorm_on(a) || (a->running_mean && a->running_var && a->rmax >= 1 &&
                                          a->dmax >= 0),
                  "em_batchnorm: Batch Renorm needs the running statistics, rmax >= 1, dmax >= 0");
}

/* What backward needs: the statistics the forward normalized with (batch or running), the
 * count they came from, Batch Renorm's r and d, and the arguments. */
typedef struct bn_saved {
    em_real *mean, *rstd;  /* (C) */
    em_real *rd;           /* (2C): r, d (Batch Renorm in training), else NULL */
    double M;              /* values per channel (all processes); 0 in evaluation */
    em_bn_args args;
} bn_saved;

static void bn_node_backward(em_tape *tape, em_node *node) {
    em_tensor *x = node->inputs[0], *y = node->output;
    const bn_saved *sv = node->saved;
    int N, C, S;
    em_bn_check(x, &sv->args, &N, &C, &S);
    em_real *dgamma = em_node_grad(tape, node, 1), *dbeta = em_node_grad(tape, node, 2);
    bool fresh;
    em_real *dx = em_node_grad_fresh(tape, node, 0, &fresh);
    if (!em_tape_ok(tape)) return;
    tape->kernels->bn_backward(tape, dx, !fresh, dgamma, dbeta, y->grad, sv->mean, sv->rstd,
                               sv->rd, x->data, &sv->args, N, C, S, sv->M);
}

void em_bn_running_stats(em_real *mean, em_real *rstd, const em_bn_args *a, int C) {
    for (int c = 0; c < C; c++) {
        mean[c] = a->running_mean[c];
        rstd[c] = em_bn_rstd(a->running_var[c], a->eps);
    }
}

em_tensor *em_bn_fail_one_value(em_tape *tape, int N, int C, int S) {
    return em_tape_fail(tape, EM_ERR_STATE,
                        "batchnorm: training needs more than one value per channel, got input "
                        "(N=%d, C=%d, H*W=%d); use a batch of 2 or more, or evaluation mode",
                        N, C, S);
}

em_tensor *em_batchnorm(em_tape *tape, em_tensor *x, const em_bn_args *a) {
    if (!em_tape_ok(tape)) return NULL;
    int N, C, S;
    em_bn_check(x, a, &N, &C, &S);
    em_tensor *y = em_tape_tensor_like(tape, x);
    bn_saved *sv = em_tape_alloc(tape, sizeof *sv);
    const bool renorm = em_bn_renorm_on(a);
    em_real *mean = em_tape_alloc(tape, (renorm ? 4 : 2) * (size_t)C * sizeof *mean);
    em_real *k = a->mode == EM_BN_EVAL ? em_tape_alloc(tape, 2 * (size_t)C * sizeof *k) : NULL;
    if (!y || !sv || !mean || (a->mode == EM_BN_EVAL && !k)) return NULL;
    *sv = (bn_saved){.mean = mean, .rstd = mean + C, .rd = renorm ? mean + 2 * C : NULL,
                     .M = 0, .args = *a};
    if (a->mode == EM_BN_EVAL) {
        em_bn_running_stats(sv->mean, sv->rstd, a, C);
        em_bn_affine(k, k + C, sv->rstd, a, C);
        tape->kernels->bn_normalize(y->data, x->data, sv->mean, k, k + C, N, C, S);
    } else {
        sv->M = tape->kernels->bn_train(tape, y->data, sv->mean, sv->rstd, sv->rd, x->data, a,
                                        N, C, S);
        if (sv->M < 0) return NULL;  /* out of memory: the tape has failed */
        if (sv->M < 2) return em_bn_fail_one_value(tape, N, C, S);
    }
    em_node *node = em_tape_record(tape, EM_OP_BATCHNORM, y, bn_node_backward, 3, x, a->gamma,
                                   a->beta);
    if (node) {
        node->saved = sv;
        node->args[0] = a->mode;
    }
    return y;
}

/* core/ops/batchnorm.c — batch normalization: forward, running statistics, and the fused
 * backward through the batch mean and variance. docs/batchnorm.md derives every line.
 *
 * Layout. x, y, dx, dy are viewed as (N, C, S) with S = H*W (S = 1 for an (N, C) input):
 * the values of channel c in sample n are the contiguous run x[(n*C + c)*S .. +S).
 * Per-channel buffers mean, rstd, gamma, beta, dgamma, dbeta are (C). Each channel has
 * M = N*S values. Sums run in double whatever em_real is.
 */
#include <math.h>

#include "../ops.h"

/* rstd = 1 / sqrt(var + eps): eps inside the root. The ONE definition, used by the
 * forward in every mode and, through the saved rstd, by the backward. */
static em_real bn_rstd(double var, double eps) { return (em_real)(1.0 / sqrt(var + eps)); }

/* mean[c] = (1/M) sum_{n,s} x[n,c,s]
 * var[c]  = (1/M) sum_{n,s} (x[n,c,s] - mean[c])^2      (biased; two passes, so no
 *                                                         cancellation as in E[x^2]-E[x]^2) */
static void bn_batch_stats(double *mean, double *var, const em_real *x, int N, int C, int S) {
    const double M = (double)N * S;
    for (int c = 0; c < C; c++) {
        double sum = 0.0;
        for (int n = 0; n < N; n++) {
            const em_real *xc = x + ((size_t)n * C + c) * S;
            for (int s = 0; s < S; s++) sum += xc[s];
        }
        double mu = sum / M, sq = 0.0;
        for (int n = 0; n < N; n++) {
            const em_real *xc = x + ((size_t)n * C + c) * S;
            for (int s = 0; s < S; s++) sq += (xc[s] - mu) * (xc[s] - mu);
        }
        mean[c] = mu;
        var[c] = sq / M;
    }
}

/* y[n,c,s] = gamma[c] * (x[n,c,s] - mean[c]) * rstd[c] + beta[c]
 * gamma = NULL means 1, beta = NULL means 0. */
static void bn_normalize(em_real *y, const em_real *x, const em_real *mean,
                         const em_real *rstd, const em_real *gamma, const em_real *beta,
                         int N, int C, int S) {
    for (int n = 0; n < N; n++) {
        for (int c = 0; c < C; c++) {
            size_t at = ((size_t)n * C + c) * S;
            /* (x - mean) first: folding mean into the shift would cancel digits when
             * |mean| >> std */
            em_real scale = (gamma ? gamma[c] : 1) * rstd[c], mu = mean[c];
            em_real shift = beta ? beta[c] : 0;
            for (int s = 0; s < S; s++) y[at + s] = (x[at + s] - mu) * scale + shift;
        }
    }
}

/* running_mean = m * running_mean + (1 - m) * mean
 * running_var  = m * running_var  + (1 - m) * var * M / (M - 1)   (unbiased, as Ioffe &
 * Szegedy's inference algorithm and PyTorch use); m = fraction of history kept. */
static void bn_update_running(em_real *running_mean, em_real *running_var, const double *mean,
                              const double *var, double m, double M, int C) {
    for (int c = 0; c < C; c++) {
        if (running_mean) running_mean[c] = (em_real)(m * running_mean[c] + (1 - m) * mean[c]);
        if (running_var)
            running_var[c] = (em_real)(m * running_var[c] + (1 - m) * var[c] * M / (M - 1));
    }
}

/* Backward, with xhat = (x - mean) * rstd recomputed from the saved mean and rstd:
 *   dbeta[c]  += sum_{n,s} dy
 *   dgamma[c] += sum_{n,s} dy * xhat
 * full (mean and var depend on x):
 *   dx += gamma * rstd * (dy - (1/M) sum dy - xhat * (1/M) sum dy * xhat)
 * frozen (mean and var taken as constants; also the exact backward of eval mode):
 *   dx += gamma * rstd * dy
 * The two sums are exactly dbeta's and dgamma's (before scaling), so the full backward
 * costs one more pass over the data than the frozen one. */
static void bn_backward(em_real *dx, em_real *dgamma, em_real *dbeta, const em_real *dy,
                        const em_real *x, const em_real *mean, const em_real *rstd,
                        const em_real *gamma, bool full, int N, int C, int S) {
    const double M = (double)N * S;
    for (int c = 0; c < C; c++) {
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int n = 0; n < N; n++) {
            size_t at = ((size_t)n * C + c) * S;
            for (int s = 0; s < S; s++) {
                double xhat = (x[at + s] - mean[c]) * rstd[c];
                sum_dy += dy[at + s];
                sum_dy_xhat += dy[at + s] * xhat;
            }
        }
        if (dbeta) dbeta[c] += (em_real)sum_dy;
        if (dgamma) dgamma[c] += (em_real)sum_dy_xhat;
        if (!dx) continue;
        double k = (gamma ? gamma[c] : 1) * (double)rstd[c];
        double mean_dy = full ? sum_dy / M : 0.0, mean_dy_xhat = full ? sum_dy_xhat / M : 0.0;
        for (int n = 0; n < N; n++) {
            size_t at = ((size_t)n * C + c) * S;
            for (int s = 0; s < S; s++) {
                double xhat = (x[at + s] - mean[c]) * rstd[c];
                dx[at + s] += (em_real)(k * (dy[at + s] - mean_dy - xhat * mean_dy_xhat));
            }
        }
    }
}

typedef struct bn_saved {
    em_real *mean;   /* (C) the statistics the forward normalized with (batch or running) */
    em_real *rstd;   /* (C) */
    bool full;       /* backward through the batch statistics                           */
} bn_saved;

/* x viewed as (N, C, S) */
static void bn_dims(const em_tensor *x, int *N, int *C, int *S) {
    *N = x->shape[0];
    *C = x->shape[1];
    *S = x->ndim == 4 ? x->shape[2] * x->shape[3] : 1;
}

static void bn_node_backward(em_tape *tape, em_node *node) {
    em_tensor *x = node->inputs[0], *gamma = node->inputs[1], *y = node->output;
    const bn_saved *sv = node->saved;
    int N, C, S;
    bn_dims(x, &N, &C, &S);
    em_real *dgamma = gamma ? em_node_grad(tape, node, 1) : NULL;
    em_real *dbeta = node->inputs[2] ? em_node_grad(tape, node, 2) : NULL;
    bn_backward(em_node_grad(tape, node, 0), dgamma, dbeta, y->grad, x->data, sv->mean,
                sv->rstd, gamma ? gamma->data : NULL, sv->full, N, C, S);
}

em_tensor *em_batchnorm(em_tape *tape, em_tensor *x, em_tensor *gamma, em_tensor *beta,
                        em_real *running_mean, em_real *running_var, double momentum,
                        double eps, em_bn_mode mode) {
    if (!em_tape_ok(tape)) return NULL;
    EM_ASSERT_MSG(x->ndim == 2 || x->ndim == 4, "em_batchnorm: x is (N, C) or (N, C, H, W)");
    int N, C, S;
    bn_dims(x, &N, &C, &S);
    EM_ASSERT_MSG(!gamma || (gamma->ndim == 1 && gamma->shape[0] == C), "gamma is (C)");
    EM_ASSERT_MSG(!beta || (beta->ndim == 1 && beta->shape[0] == C), "beta is (C)");
    EM_ASSERT_MSG(eps >= 0 && momentum >= 0 && momentum <= 1, "eps >= 0, momentum in [0, 1]");
    bool training = mode != EM_BN_EVAL;
    if (training && (size_t)N * S < 2)
        return em_tape_fail(tape, EM_ERR_STATE,
                            "batchnorm: training needs more than one value per channel, got "
                            "input (N=%d, C=%d, H*W=%d); use a batch of 2 or more, or "
                            "evaluation mode", N, C, S);
    if (!training) EM_ASSERT_MSG(running_mean && running_var, "eval mode needs running stats");

    em_tensor *y = em_tape_tensor_like(tape, x);
    bn_saved *sv = em_tape_alloc(tape, sizeof *sv);
    em_real *mean = em_tape_alloc(tape, 2 * (size_t)C * sizeof(em_real));
    double *stats = training ? em_tape_alloc(tape, 2 * (size_t)C * sizeof(double)) : NULL;
    if (!y || !sv || !mean || (training && !stats)) return NULL;
    em_real *rstd = mean + C;

    if (training) {
        double *bmean = stats, *bvar = stats + C;
        bn_batch_stats(bmean, bvar, x->data, N, C, S);
        for (int c = 0; c < C; c++) {
            mean[c] = (em_real)bmean[c];
            rstd[c] = bn_rstd(bvar[c], eps);
        }
        bn_update_running(running_mean, running_var, bmean, bvar, momentum, (double)N * S, C);
    } else {
        for (int c = 0; c < C; c++) {
            mean[c] = running_mean[c];
            rstd[c] = bn_rstd(running_var[c], eps);
        }
    }
    bn_normalize(y->data, x->data, mean, rstd, gamma ? gamma->data : NULL,
                 beta ? beta->data : NULL, N, C, S);

    sv->mean = mean;
    sv->rstd = rstd;
    sv->full = mode == EM_BN_TRAIN;
    em_node *node = em_tape_record(tape, EM_OP_BATCHNORM, y, bn_node_backward, 3, x, gamma, beta);
    if (node) {
        node->saved = sv;
        node->args[0] = mode;
    }
    return y;
}

/* core/ops/groupnorm.c — group normalization, the reference (and for now the only) tier,
 * its kernels reached through the table (core/kernels.h: gn_forward, gn_backward):
 * GroupNorm, and with it LayerNorm (G = 1) and InstanceNorm (G = C), forward and the
 * backward through the per-(sample, group) statistics, as plain loops. BatchNorm's
 * derivation with the reduction set changed: docs/batchnorm.md §6.
 *
 * Layout. x, y, dx, dy are viewed as (N, C, S) with S = H*W (S = 1 for an (N, C) input),
 * the C channels in G groups of Cg = C/G consecutive channels. The K = Cg*S values of
 * group g in sample n are then one contiguous run, x[(n*G + g)*K .. +K), in which value
 * j*S + s is channel c = g*Cg + j at position s. mean and rstd are (N, G); gamma, beta,
 * dgamma and dbeta (C). Every sum is in double.
 */
#include "../kernels.h"
#include "reference.h"

/* the run of group g in sample n of an array viewed as (N, G, K) */
#define RUN(x, n, g) ((x) + ((size_t)(n) * G + (g)) * K)

/* gamma[c] and beta[c], 1 and 0 without the affine part */
#define GAMMA(c) (gamma ? (double)gamma[c] : 1.0)
#define BETA(c) (beta ? (double)beta[c] : 0.0)

/* Per sample n and group g, over the group's K values:
 *   mean = (1/K) sum x              var  = (1/K) sum (x - mean)^2     (biased)
 *   rstd = 1 / sqrt(var + eps)      y    = gamma[c] (x - mean) rstd + beta[c]
 * The variance is a second pass over (x - mean)^2, as BatchNorm's; y is computed as
 * (x - mean) k + b with k = gamma[c] rstd and b = beta[c]. */
void em_ref_gn_forward(em_real *y, em_real *mean, em_real *rstd, const em_real *x,
                       const em_real *gamma, const em_real *beta, int N, int C, int S, int G,
                       double eps) {
    const int Cg = C / G;
    const size_t K = (size_t)Cg * S;
    for (int n = 0; n < N; n++)
        for (int g = 0; g < G; g++) {
            const em_real *xr = RUN(x, n, g);
            em_real *yr = RUN(y, n, g);
            double sum = 0, sq = 0;
            for (size_t i = 0; i < K; i++) sum += xr[i];
            const em_real mu = (em_real)(sum / (double)K);
            for (size_t i = 0; i < K; i++) sq += ((double)xr[i] - mu) * ((double)xr[i] - mu);
            const em_real r = em_bn_rstd(sq / (double)K, eps);
            mean[n * G + g] = mu;
            rstd[n * G + g] = r;
            for (int j = 0; j < Cg; j++) {
                const int c = g * Cg + j;
                const em_real k = (em_real)(GAMMA(c) * r), b = (em_real)BETA(c);
                for (int s = 0; s < S; s++) yr[j * S + s] = (xr[j * S + s] - mu) * k + b;
            }
        }
}

/* Backward, with xhat = (x - mean) rstd. The parameters, per channel c over n and s:
 *   dbeta[c] += sum dy                  dgamma[c] += sum dy xhat
 * The input, per (n, g) over its K values, with gx = gamma[c] dy the gradient reaching xhat:
 *   dx = rstd (gx - (1/K) sum gx - xhat (1/K) sum gx xhat)
 * — BatchNorm's closed form with the sums over the group instead of the batch, and gamma
 * inside them, since it changes from channel to channel within a group. add = false: dx
 * is a fresh buffer, stored into (never read). */
void em_ref_gn_backward(em_real *dx, bool add, em_real *dgamma, em_real *dbeta,
                        const em_real *dy, const em_real *mean, const em_real *rstd,
                        const em_real *x, const em_real *gamma, int N, int C, int S, int G) {
    const int Cg = C / G;
    const size_t K = (size_t)Cg * S;
    for (int c = 0; c < C && (dgamma || dbeta); c++) {
        const int g = c / Cg, j = c % Cg;
        double sdy = 0, sdyxhat = 0;
        for (int n = 0; n < N; n++) {
            const em_real *xr = RUN(x, n, g) + (size_t)j * S, *dyr = RUN(dy, n, g) + (size_t)j * S;
            for (int s = 0; s < S; s++) {
                double xhat = ((double)xr[s] - mean[n * G + g]) * rstd[n * G + g];
                sdy += dyr[s];
                sdyxhat += dyr[s] * xhat;
            }
        }
        if (dbeta) dbeta[c] += (em_real)sdy;
        if (dgamma) dgamma[c] += (em_real)sdyxhat;
    }
    for (int n = 0; n < N && dx; n++)
        for (int g = 0; g < G; g++) {
            const em_real *xr = RUN(x, n, g), *dyr = RUN(dy, n, g);
            em_real *dxr = RUN(dx, n, g);
            const double mu = mean[n * G + g], r = rstd[n * G + g];
            double sgx = 0, sgxxhat = 0;
            for (int j = 0; j < Cg; j++)
                for (int s = 0; s < S; s++) {
                    double gx = GAMMA(g * Cg + j) * dyr[j * S + s];
                    sgx += gx;
                    sgxxhat += gx * ((double)xr[j * S + s] - mu) * r;
                }
            for (int j = 0; j < Cg; j++)
                for (int s = 0; s < S; s++) {
                    size_t i = (size_t)j * S + s;
                    double xhat = ((double)xr[i] - mu) * r, gx = GAMMA(g * Cg + j) * dyr[i];
                    double v = r * (gx - sgx / (double)K - xhat * sgxxhat / (double)K);
                    dxr[i] = (em_real)((add ? dxr[i] : 0) + v);
                }
        }
}

/* ---- the op ------------------------------------------------------------------------ */

/* x (N, C) or (N, C, H, W) viewed as (N, C, S), and a's shapes checked against it */
static void gn_check(const em_tensor *x, const em_gn_args *a, int *N, int *C, int *S) {
    EM_ASSERT_MSG(x->ndim == 2 || x->ndim == 4, "em_groupnorm: x is (N, C) or (N, C, H, W)");
    *N = x->shape[0];
    *C = x->shape[1];
    *S = x->ndim == 4 ? x->shape[2] * x->shape[3] : 1;
    EM_ASSERT_MSG(a->groups >= 1 && *C % a->groups == 0,
                  "em_groupnorm: the channels C must be a multiple of the groups G");
    EM_ASSERT_MSG((size_t)(*C / a->groups) * (size_t)*S >= 2,
                  "em_groupnorm: one value per group (C/G * H*W = 1) normalizes to 0");
    EM_ASSERT_MSG(!a->gamma || (a->gamma->ndim == 1 && a->gamma->shape[0] == *C), "gamma is (C)");
    EM_ASSERT_MSG(!a->beta || (a->beta->ndim == 1 && a->beta->shape[0] == *C), "beta is (C)");
    EM_ASSERT_MSG(a->eps >= 0, "em_groupnorm: eps >= 0");
}

/* what backward needs: the statistics per (sample, group) and the arguments */
typedef struct gn_saved {
    em_real *mean, *rstd;  /* (N, G) */
    em_gn_args args;
} gn_saved;

static void gn_node_backward(em_tape *tape, em_node *node) {
    em_tensor *x = node->inputs[0], *y = node->output;
    const gn_saved *sv = node->saved;
    int N, C, S;
    gn_check(x, &sv->args, &N, &C, &S);
    em_real *dgamma = em_node_grad(tape, node, 1), *dbeta = em_node_grad(tape, node, 2);
    bool fresh;
    em_real *dx = em_node_grad_fresh(tape, node, 0, &fresh);
    if (!em_tape_ok(tape)) return;
    const em_tensor *gamma = sv->args.gamma;
    tape->kernels->gn_backward(dx, !fresh, dgamma, dbeta, y->grad, sv->mean, sv->rstd, x->data,
                               gamma ? gamma->data : NULL, N, C, S, sv->args.groups);
}

em_tensor *em_groupnorm(em_tape *tape, em_tensor *x, const em_gn_args *a) {
    if (!em_tape_ok(tape)) return NULL;
    int N, C, S;
    gn_check(x, a, &N, &C, &S);
    const int G = a->groups;
    em_tensor *y = em_tape_tensor_like(tape, x);
    gn_saved *sv = em_tape_alloc(tape, sizeof *sv);
    em_real *stats = em_tape_alloc(tape, 2 * (size_t)N * G * sizeof *stats);
    if (!y || !sv || !stats) return NULL;
    *sv = (gn_saved){.mean = stats, .rstd = stats + (size_t)N * G, .args = *a};
    tape->kernels->gn_forward(y->data, sv->mean, sv->rstd, x->data,
                              a->gamma ? a->gamma->data : NULL, a->beta ? a->beta->data : NULL,
                              N, C, S, G, a->eps);
    em_node *node = em_tape_record(tape, EM_OP_GROUPNORM, y, gn_node_backward, 3, x, a->gamma,
                                   a->beta);
    if (node) {
        node->saved = sv;
        node->args[0] = G;
    }
    return y;
}

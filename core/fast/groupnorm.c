/* core/fast/groupnorm.c — the fast tier's group normalization (GroupNorm; LayerNorm is
 * G = 1, InstanceNorm G = C): the reference's forward and backward (core/ops/groupnorm.c,
 * derived in docs/batchnorm.md §6) as vectorized passes split across threads.
 *
 * Layout, as the reference's. x, y, dx, dy are viewed as (N, C, S), S = H*W; the K = Cg*S
 * values of group g of sample n (Cg = C/G channels) are the contiguous run r = n*G + g,
 * x[r*K .. +K), channel j of the group at [j*S .. +S) inside it; mean and rstd are (N, G).
 * Sums: EM_LANES partial sums of em_real inside a run of values, each run's total added
 * in double (core/fast/simd.h), as the fast BatchNorm's.
 *
 * Speed. The forward and the input's gradient work run by run, runs split across threads;
 * the parameters' gradients channel by channel, each over its N runs of S values,
 * channels split across threads. Every pass reads memory in order.
 */
#include "fast.h"
#include "simd.h"

/* runs r in [lo, hi): mean, rstd, then y = (x - mean) k + b with k = gamma[c] rstd and
 * b = beta[c] per channel (k rounded from double, as the reference does) */
EM_KERNEL static void gn_forward_k(em_real *restrict y, em_real *restrict mean,
                                   em_real *restrict rstd, const em_real *restrict x,
                                   const em_real *restrict gamma, const em_real *restrict beta,
                                   int C, int S, int G, double eps, size_t lo, size_t hi) {
    const int Cg = C / G;
    const size_t K = (size_t)Cg * S;
    for (size_t r = lo; r < hi; r++) {
        const em_real *xr = x + r * K;
        em_real *yr = y + r * K;
        const em_real mu = (em_real)(em_run_sum(xr, K) / (double)K);
        const em_real rs = em_bn_rstd(em_run_sqdev(xr, mu, K) / (double)K, eps);
        mean[r] = mu;
        rstd[r] = rs;
        const int c0 = (int)(r % (size_t)G) * Cg;
        for (int j = 0; j < Cg; j++) {
            const em_real k = (em_real)((gamma ? (double)gamma[c0 + j] : 1.0) * rs);
            const em_real b = beta ? beta[c0 + j] : 0;
            const em_real *xj = xr + (size_t)j * S;
            em_real *yj = yr + (size_t)j * S;
            for (int s = 0; s < S; s++) yj[s] = (xj[s] - mu) * k + b;
        }
    }
}

void em_fast_gn_forward(em_real *y, em_real *mean, em_real *rstd, const em_real *x,
                        const em_real *gamma, const em_real *beta, int N, int C, int S, int G,
                        double eps) {
    EM_PARALLEL_RANGES((size_t)N * G, (long)N * C * S, lo, hi,
                       gn_forward_k(y, mean, rstd, x, gamma, beta, C, S, G, eps, lo, hi));
}

/* channels c in [lo, hi): dbeta[c] += sum dy, dgamma[c] += sum dy xhat, over the N runs
 * of S values of the channel (xhat = (x - mean) rstd of the run's group) */
EM_KERNEL static void gn_dparams_k(em_real *restrict dgamma, em_real *restrict dbeta,
                                   const em_real *restrict dy, const em_real *restrict x,
                                   const em_real *restrict mean, const em_real *restrict rstd,
                                   int N, int C, int S, int G, size_t lo, size_t hi) {
    const int Cg = C / G;
    for (size_t c = lo; c < hi; c++) {
        const int g = (int)c / Cg;
        double sdy = 0, sdyxhat = 0;
        for (int n = 0; n < N; n++) {
            const size_t at = ((size_t)n * C + c) * S, ng = (size_t)n * G + g;
            double a = 0, b = 0;
            em_run_dsums(dy + at, x + at, mean[ng], (size_t)S, &a, &b);
            sdy += a;
            sdyxhat += b * rstd[ng];
        }
        if (dbeta) dbeta[c] += (em_real)sdy;
        if (dgamma) dgamma[c] += (em_real)sdyxhat;
    }
}

/* runs r in [lo, hi): with gx = gamma[c] dy and the group's sums over its K values,
 *   dx = rstd (gx - (1/K) sum gx - xhat (1/K) sum gx xhat)
 * written per channel as dx = a dy + b + k (x - mean): a = gamma[c] rstd,
 * b = -rstd sum gx / K, k = -rstd^3 sum gx (x - mean) / K (xhat = (x - mean) rstd, so
 * sum gx xhat = rstd sum gx (x - mean)). add = false: dx is a fresh
 * buffer, stored into (never read). */
EM_KERNEL static void gn_dx_k(em_real *restrict dx, bool add, const em_real *restrict dy,
                              const em_real *restrict x, const em_real *restrict gamma,
                              const em_real *restrict mean, const em_real *restrict rstd,
                              int C, int S, int G, size_t lo, size_t hi) {
    const int Cg = C / G;
    const size_t K = (size_t)Cg * S;
    for (size_t r = lo; r < hi; r++) {
        const em_real mu = mean[r];
        const double rs = rstd[r];
        const int c0 = (int)(r % (size_t)G) * Cg;
        double sgx = 0, sgxxc = 0;
        for (int j = 0; j < Cg; j++) {
            double a = 0, b = 0;
            em_run_dsums(dy + r * K + (size_t)j * S, x + r * K + (size_t)j * S, mu, (size_t)S,
                         &a, &b);
            const double gm = gamma ? (double)gamma[c0 + j] : 1.0;
            sgx += gm * a;
            sgxxc += gm * b;
        }
        const em_real b = (em_real)(-rs * sgx / (double)K);
        const em_real k = (em_real)(-rs * rs * rs * sgxxc / (double)K);
        for (int j = 0; j < Cg; j++) {
            const em_real a = (em_real)((gamma ? (double)gamma[c0 + j] : 1.0) * rs);
            const size_t at = r * K + (size_t)j * S;
            const em_real *dyj = dy + at, *xj = x + at;
            em_real *dxj = dx + at;
            if (add)
                for (int s = 0; s < S; s++) dxj[s] += a * dyj[s] + b + k * (xj[s] - mu);
            else
                for (int s = 0; s < S; s++) dxj[s] = a * dyj[s] + b + k * (xj[s] - mu);
        }
    }
}

void em_fast_gn_backward(em_real *dx, bool add, em_real *dgamma, em_real *dbeta,
                         const em_real *dy, const em_real *mean, const em_real *rstd,
                         const em_real *x, const em_real *gamma, int N, int C, int S, int G) {
    const long work = (long)N * C * S;
    if (dgamma || dbeta)
        EM_PARALLEL_RANGES((size_t)C, work, lo, hi,
                           gn_dparams_k(dgamma, dbeta, dy, x, mean, rstd, N, C, S, G, lo, hi));
    if (dx)
        EM_PARALLEL_RANGES((size_t)N * G, work, lo, hi,
                           gn_dx_k(dx, add, dy, x, gamma, mean, rstd, C, S, G, lo, hi));
}

/* Exercise 12, solution — LayerNorm forward and backward (exercises.h).
 *
 * Per row n, with xhat = (x - mean) rstd and gx[d] = gamma[d] dy[n,d] the gradient that
 * reaches xhat (gamma changes along the row, so it stays inside the sums):
 *   dx[n,d] = rstd (gx[d] - (1/D) sum_j gx[j] - xhat[d] (1/D) sum_j gx[j] xhat[j])
 *   dgamma[d] = sum_n dy xhat, dbeta[d] = sum_n dy (over the batch). */
#include "exercises.h"

#include <math.h>

void ex_layernorm_forward(em_real *y, em_real *mean, em_real *rstd, const em_real *x,
                          const em_real *gamma, const em_real *beta, int N, int D,
                          double eps) {
    for (int n = 0; n < N; n++) {
        const em_real *xr = x + (size_t)n * D;
        double sum = 0, sq = 0;
        for (int d = 0; d < D; d++) sum += xr[d];
        double mu = sum / D;
        for (int d = 0; d < D; d++) sq += (xr[d] - mu) * (xr[d] - mu);
        double r = 1 / sqrt(sq / D + eps);
        for (int d = 0; d < D; d++)
            y[(size_t)n * D + d] = (em_real)(gamma[d] * (xr[d] - mu) * r + beta[d]);
        mean[n] = (em_real)mu;
        rstd[n] = (em_real)r;
    }
}

void ex_layernorm_backward(em_real *dx, em_real *dgamma, em_real *dbeta, const em_real *dy,
                           const em_real *x, const em_real *mean, const em_real *rstd,
                           const em_real *gamma, int N, int D) {
    for (int d = 0; d < D; d++) {
        double sg = 0, sgx = 0;
        for (int n = 0; n < N; n++) {
            size_t i = (size_t)n * D + d;
            sg += dy[i];
            sgx += dy[i] * (x[i] - mean[n]) * rstd[n];
        }
        dbeta[d] = (em_real)sg;
        dgamma[d] = (em_real)sgx;
    }
    for (int n = 0; n < N; n++) {
        double mu = mean[n], r = rstd[n], sgx = 0, sgxxhat = 0;
        for (int d = 0; d < D; d++) {
            size_t i = (size_t)n * D + d;
            double gx = gamma[d] * dy[i];
            sgx += gx;
            sgxxhat += gx * (x[i] - mu) * r;
        }
        for (int d = 0; d < D; d++) {
            size_t i = (size_t)n * D + d;
            double xhat = (x[i] - mu) * r, gx = gamma[d] * dy[i];
            dx[i] = (em_real)(r * (gx - sgx / D - xhat * sgxxhat / D));
        }
    }
}

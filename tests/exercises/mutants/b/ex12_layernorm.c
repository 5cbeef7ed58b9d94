/* A WRONG solution of exercise 12, on purpose (../README.md): each feature normalized over
 * the batch (BatchNorm's axis). */
#include "exercises.h"

#include <math.h>

void ex_layernorm_forward(em_real *y, em_real *mean, em_real *rstd, const em_real *x,
                          const em_real *gamma, const em_real *beta, int N, int D,
                          double eps) {
    /* the mistake: the statistics of each feature over the batch */
    for (int d = 0; d < D; d++) {
        double sum = 0, sq = 0;
        for (int n = 0; n < N; n++) sum += x[(size_t)n * D + d];
        double mu = sum / N;
        for (int n = 0; n < N; n++) sq += (x[(size_t)n * D + d] - mu) * (x[(size_t)n * D + d] - mu);
        double r = 1 / sqrt(sq / N + eps);
        for (int n = 0; n < N; n++)
            y[(size_t)n * D + d] = (em_real)(gamma[d] * (x[(size_t)n * D + d] - mu) * r + beta[d]);
        if (d < N) mean[d] = (em_real)mu, rstd[d] = (em_real)r;
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

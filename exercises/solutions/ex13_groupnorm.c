/* Exercise 13, solution — GroupNorm forward and backward (exercises.h).
 *
 * In the (N, C, S) layout the Cg*S values of group g of sample n are one contiguous run,
 * starting at (n*C + g*Cg)*S = (n*G + g)*K with K = Cg*S; value k of the run is channel
 * g*Cg + k/S. The backward is LayerNorm's over that run, with gamma[c] inside the sums. */
#include "exercises.h"

#include <math.h>

void ex_groupnorm_forward(em_real *y, em_real *mean, em_real *rstd, const em_real *x,
                          const em_real *gamma, const em_real *beta, int N, int C, int S,
                          int G, double eps) {
    const int Cg = C / G;
    const size_t K = (size_t)Cg * S;
    for (int n = 0; n < N; n++)
        for (int g = 0; g < G; g++) {
            size_t at = ((size_t)n * G + g) * K;
            double sum = 0, sq = 0;
            for (size_t k = 0; k < K; k++) sum += x[at + k];
            double mu = sum / (double)K;
            for (size_t k = 0; k < K; k++) sq += (x[at + k] - mu) * (x[at + k] - mu);
            double r = 1 / sqrt(sq / (double)K + eps);
            for (size_t k = 0; k < K; k++) {
                int c = g * Cg + (int)(k / (size_t)S);
                y[at + k] = (em_real)(gamma[c] * (x[at + k] - mu) * r + beta[c]);
            }
            mean[n * G + g] = (em_real)mu;
            rstd[n * G + g] = (em_real)r;
        }
}

void ex_groupnorm_backward(em_real *dx, em_real *dgamma, em_real *dbeta, const em_real *dy,
                           const em_real *x, const em_real *mean, const em_real *rstd,
                           const em_real *gamma, int N, int C, int S, int G) {
    const int Cg = C / G;
    const size_t K = (size_t)Cg * S;
    for (int c = 0; c < C; c++) {
        int g = c / Cg;
        double sg = 0, sgx = 0;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                size_t i = ((size_t)n * C + c) * S + s;
                sg += dy[i];
                sgx += dy[i] * (x[i] - mean[n * G + g]) * rstd[n * G + g];
            }
        dbeta[c] = (em_real)sg;
        dgamma[c] = (em_real)sgx;
    }
    for (int n = 0; n < N; n++)
        for (int g = 0; g < G; g++) {
            size_t at = ((size_t)n * G + g) * K;
            double mu = mean[n * G + g], r = rstd[n * G + g], sgx = 0, sgxxhat = 0;
            for (size_t k = 0; k < K; k++) {
                double gx = gamma[g * Cg + (int)(k / (size_t)S)] * dy[at + k];
                sgx += gx;
                sgxxhat += gx * (x[at + k] - mu) * r;
            }
            for (size_t k = 0; k < K; k++) {
                double xhat = (x[at + k] - mu) * r;
                double gx = gamma[g * Cg + (int)(k / (size_t)S)] * dy[at + k];
                dx[at + k] = (em_real)(r * (gx - sgx / (double)K - xhat * sgxxhat / (double)K));
            }
        }
}

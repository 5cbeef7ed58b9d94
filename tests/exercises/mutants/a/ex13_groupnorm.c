/* A WRONG solution of exercise 13, on purpose (../README.md): the groups taken as every
 * G-th channel. */
#include "exercises.h"

#include <math.h>

void ex_groupnorm_forward(em_real *y, em_real *mean, em_real *rstd, const em_real *x,
                          const em_real *gamma, const em_real *beta, int N, int C, int S,
                          int G, double eps) {
    const double K = (double)C / G * S;
    for (int n = 0; n < N; n++)
        for (int g = 0; g < G; g++) {
            /* the mistake: channels g, g + G, g + 2G, ... */
            double sum = 0, sq = 0;
            for (int c = g; c < C; c += G)
                for (int s = 0; s < S; s++) sum += x[((size_t)n * C + c) * S + s];
            double mu = sum / K;
            for (int c = g; c < C; c += G)
                for (int s = 0; s < S; s++) {
                    double d = x[((size_t)n * C + c) * S + s] - mu;
                    sq += d * d;
                }
            double r = 1 / sqrt(sq / K + eps);
            for (int c = g; c < C; c += G)
                for (int s = 0; s < S; s++) {
                    size_t i = ((size_t)n * C + c) * S + s;
                    y[i] = (em_real)(gamma[c] * (x[i] - mu) * r + beta[c]);
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

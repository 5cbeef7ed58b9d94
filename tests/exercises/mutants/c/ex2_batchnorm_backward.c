/* A WRONG solution of exercise 2, on purpose (../README.md): dx misses the term through the
 * mean (the channel's mean of dy). */
#include "exercises.h"

void ex_batchnorm_backward(em_real *dx, em_real *dgamma, em_real *dbeta, const em_real *dy,
                           const em_real *x, const em_real *mean, const em_real *rstd,
                           const em_real *gamma, int N, int C, int S) {
    const double M = (double)N * S;
    for (int c = 0; c < C; c++) {
        double mu = mean[c], r = rstd[c];
        double sum_g = 0.0, sum_gxhat = 0.0;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                size_t i = ((size_t)n * C + c) * S + s;
                sum_g += dy[i];
                sum_gxhat += dy[i] * (x[i] - mu) * r;
            }
        dbeta[c] = (em_real)sum_g;
        dgamma[c] = (em_real)sum_gxhat;

        double k = gamma[c] * r;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                size_t i = ((size_t)n * C + c) * S + s;
                double xhat = (x[i] - mu) * r;
                dx[i] = (em_real)(k * (dy[i] - xhat * sum_gxhat / M));  /* the mistake */
            }
    }
}

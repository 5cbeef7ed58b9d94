/* A WRONG solution of exercise 1, on purpose (../README.md): the running statistics keep
 * (1 - momentum) of the history — PyTorch's meaning of momentum, not ember's. */
#include "exercises.h"

#include <math.h>

void ex_batchnorm_forward(em_real *y, em_real *mean, em_real *rstd, em_real *running_mean,
                          em_real *running_var, const em_real *x, const em_real *gamma,
                          const em_real *beta, int N, int C, int S, double momentum,
                          double eps) {
    const double M = (double)N * S;
    for (int c = 0; c < C; c++) {
        double sum = 0.0, sq = 0.0;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) sum += x[((size_t)n * C + c) * S + s];
        double mu = sum / M;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                double d = x[((size_t)n * C + c) * S + s] - mu;
                sq += d * d;
            }
        double var = sq / M, r = 1.0 / sqrt(var + eps);
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                size_t i = ((size_t)n * C + c) * S + s;
                y[i] = (em_real)(gamma[c] * (x[i] - mu) * r + beta[c]);
            }
        mean[c] = (em_real)mu;
        rstd[c] = (em_real)r;
        /* the mistake: momentum taken as the weight of the new batch */
        running_mean[c] = (em_real)((1 - momentum) * running_mean[c] + momentum * mu);
        running_var[c] = (em_real)((1 - momentum) * running_var[c] +
                                   momentum * var * M / (M - 1));
    }
}

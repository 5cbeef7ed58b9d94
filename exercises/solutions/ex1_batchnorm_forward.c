/* Exercise 1, solution — BatchNorm forward in training mode (exercises.h). One channel at a
 * time: the mean, then the variance from the deviations (two passes), then y and the
 * running statistics. */
#include "exercises.h"

#include <math.h>

void ex_batchnorm_forward(em_real *y, em_real *mean, em_real *rstd, em_real *running_mean,
                          em_real *running_var, const em_real *x, const em_real *gamma,
                          const em_real *beta, int N, int C, int S, double momentum,
                          double eps) {
    const double M = (double)N * S;
    for (int c = 0; c < C; c++) {
        /* mean = (1/M) sum x */
        double sum = 0.0;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) sum += x[((size_t)n * C + c) * S + s];
        double mu = sum / M;

        /* var = (1/M) sum (x - mean)^2, biased */
        double sq = 0.0;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                double d = x[((size_t)n * C + c) * S + s] - mu;
                sq += d * d;
            }
        double var = sq / M;
        double r = 1.0 / sqrt(var + eps);

        /* y = gamma (x - mean) rstd + beta */
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                size_t i = ((size_t)n * C + c) * S + s;
                y[i] = (em_real)(gamma[c] * (x[i] - mu) * r + beta[c]);
            }
        mean[c] = (em_real)mu;
        rstd[c] = (em_real)r;

        /* momentum = history kept; the running variance gets the unbiased variance */
        running_mean[c] = (em_real)(momentum * running_mean[c] + (1 - momentum) * mu);
        running_var[c] = (em_real)(momentum * running_var[c] +
                                   (1 - momentum) * var * M / (M - 1));
    }
}

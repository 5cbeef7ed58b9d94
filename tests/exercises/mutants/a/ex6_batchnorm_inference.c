/* A WRONG solution of exercise 6, on purpose (../README.md): evaluation normalizes with
 * the batch's own statistics. */
#include "exercises.h"

#include <math.h>

void ex_batchnorm_eval(em_real *y, const em_real *x, const em_real *running_mean,
                       const em_real *running_var, const em_real *gamma, const em_real *beta,
                       double eps, int N, int C, int S) {
    for (int c = 0; c < C; c++) {
        /* the mistake: the batch's mean and variance instead of the running ones */
        double M = (double)N * S, sum = 0, sq = 0;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) sum += x[((size_t)n * C + c) * S + s];
        double mu = sum / M;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) sq += pow(x[((size_t)n * C + c) * S + s] - mu, 2);
        double k = gamma[c] / sqrt(sq / M + eps);
        (void)running_mean, (void)running_var;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                size_t i = ((size_t)n * C + c) * S + s;
                y[i] = (em_real)((x[i] - mu) * k + beta[c]);
            }
    }
}

void ex_fold_batchnorm(em_real *wf, em_real *bf, const em_real *w, const em_real *b,
                       const em_real *running_mean, const em_real *running_var,
                       const em_real *gamma, const em_real *beta, double eps, int O, int K) {
    for (int o = 0; o < O; o++) {
        double k = gamma[o] / sqrt((double)running_var[o] + eps);
        for (int j = 0; j < K; j++) wf[(size_t)o * K + j] = (em_real)(w[(size_t)o * K + j] * k);
        double bias = b ? b[o] : 0.0;
        bf[o] = (em_real)((bias - running_mean[o]) * k + beta[o]);
    }
}

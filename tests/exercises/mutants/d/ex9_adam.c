/* A WRONG solution of exercise 9, on purpose (../README.md): the bias correction at t + 1. */
#include "exercises.h"

#include <math.h>

void ex_adam_step(em_real *p, em_real *m, em_real *v, const em_real *g, double lr,
                  double beta1, double beta2, double eps, double weight_decay, long t,
                  size_t n) {
    const double bias1 = 1 - pow(beta1, (double)t + 1), bias2 = 1 - pow(beta2, (double)t + 1);
    for (size_t i = 0; i < n; i++) {
        double gi = g[i] + weight_decay * p[i];
        m[i] = (em_real)(beta1 * m[i] + (1 - beta1) * gi);
        v[i] = (em_real)(beta2 * v[i] + (1 - beta2) * gi * gi);
        double mhat = m[i] / bias1, vhat = v[i] / bias2;
        p[i] = (em_real)(p[i] - lr * mhat / (sqrt(vhat) + eps));
    }
}

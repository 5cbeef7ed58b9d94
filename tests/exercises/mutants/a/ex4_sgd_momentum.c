/* A WRONG solution of exercise 4, on purpose (../README.md): the first step damps the
 * gradient, v = (1 - dampening) g', where PyTorch sets v = g'. */
#include "exercises.h"

void ex_sgd_momentum_step(em_real *p, em_real *v, const em_real *g, double lr, double momentum,
                          double dampening, double weight_decay, bool first_step, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double gi = g[i] + weight_decay * p[i];
        v[i] = (em_real)(first_step ? (1 - dampening) * gi  /* the mistake */
                                    : momentum * v[i] + (1 - dampening) * gi);
        p[i] = (em_real)(p[i] - lr * v[i]);
    }
}

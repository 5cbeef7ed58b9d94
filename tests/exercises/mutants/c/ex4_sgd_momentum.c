/* A WRONG solution of exercise 4, on purpose (../README.md): the first step is treated like
 * any other (it reads the velocity it should set). */
#include "exercises.h"

void ex_sgd_momentum_step(em_real *p, em_real *v, const em_real *g, double lr, double momentum,
                          double dampening, double weight_decay, bool first_step, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double gi = g[i] + weight_decay * p[i];
        v[i] = (em_real)(momentum * v[i] + (1 - dampening) * gi);  /* the mistake */
        (void)first_step;
        p[i] = (em_real)(p[i] - lr * v[i]);
    }
}

/* A WRONG solution of exercise 4, on purpose (../README.md): the learning rate inside the
 * velocity (v = momentum v + lr g', p -= v), a formulation that equals PyTorch's only while
 * the learning rate is constant. */
#include "exercises.h"

void ex_sgd_momentum_step(em_real *p, em_real *v, const em_real *g, double lr, double momentum,
                          double dampening, double weight_decay, bool first_step, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double gi = g[i] + weight_decay * p[i];
        v[i] = (em_real)(first_step ? lr * gi : momentum * v[i] + (1 - dampening) * lr * gi);
        p[i] = (em_real)(p[i] - v[i]);  /* the mistake */
    }
}

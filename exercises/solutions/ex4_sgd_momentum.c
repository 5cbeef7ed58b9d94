/* Exercise 4, solution — one step of SGD with momentum (exercises.h; PyTorch's
 * torch.optim.SGD without Nesterov). */
#include "exercises.h"

void ex_sgd_momentum_step(em_real *p, em_real *v, const em_real *g, double lr, double momentum,
                          double dampening, double weight_decay, bool first_step, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double gi = g[i] + weight_decay * p[i];
        v[i] = (em_real)(first_step ? gi : momentum * v[i] + (1 - dampening) * gi);
        p[i] = (em_real)(p[i] - lr * v[i]);
    }
}

/* Exercise 4 — one step of SGD with momentum, weight decay and dampening.
 *
 * Fill in the body of ex_sgd_momentum_step below. exercises.h gives the update, which is
 * PyTorch's torch.optim.SGD; the grader compares five steps with PyTorch's. Grade it with
 *     ./run grade 4            (the handout)
 *     meson test -C build-ex --print-errorlogs ex4_sgd_momentum     (the repository)
 *
 * Hints:
 *   - The first step sets the velocity to the gradient itself: no dampening on it.
 *   - Weight decay is added to the gradient before the velocity sees it.
 */
#include "exercises.h"

void ex_sgd_momentum_step(em_real *p, em_real *v, const em_real *g, double lr, double momentum,
                          double dampening, double weight_decay, bool first_step, size_t n) {
    /* YOUR CODE HERE */
}

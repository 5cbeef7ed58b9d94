/* Exercise 10 — Kaiming (He) initialization.
 *
 * Fill in the body below (exercises.h). The grader replays your draws, then pushes a batch
 * through a deep ReLU network initialized by your function and watches the activations'
 * spread, layer by layer. Grade it with
 *     ./run grade 10           (the handout)
 *     meson test -C build-ex --print-errorlogs ex10_kaiming_init     (the repository)
 *
 * Hints:
 *   - fan_in is the number of inputs one output unit sums over. For a convolution, how many
 *     inputs does one filter read?
 *   - Write the variance of one pre-activation as a function of Var(w), fan_in and the
 *     previous layer's activations. What does a ReLU do to E[x^2] of a symmetric input?
 *   - A uniform distribution on [-a, a) has variance a^2 / 3.
 *   - ember-ablate init-scale runs networks initialized at other scales: see what happens.
 */
#include "exercises.h"

#include <math.h>

void ex_kaiming_init(em_real *w, int ndim, const int *shape, bool uniform, ex_rng *rng) {
    /* YOUR CODE HERE */
}

/* Exercise 12 — LayerNorm: forward and backward.
 *
 * Fill in the two bodies below (exercises.h). Grade it with
 *     ./run grade 12           (the handout)
 *     meson test -C build-ex --print-errorlogs ex12_layernorm     (the repository)
 *
 * Hints:
 *   - Row n of x is x[n*D .. n*D + D): the statistics are one pair per row.
 *   - The backward is exercise 2's derivation with the sums over a row instead of over the
 *     batch. One thing is different: within a row every value has its own gamma[d]. Where
 *     exercise 2 could take gamma out of the sums, can you here? Go through dL/dxhat.
 *   - dgamma and dbeta still sum over the batch: one per feature.
 */
#include "exercises.h"

#include <math.h>

void ex_layernorm_forward(em_real *y, em_real *mean, em_real *rstd, const em_real *x,
                          const em_real *gamma, const em_real *beta, int N, int D,
                          double eps) {
    /* YOUR CODE HERE */
}

void ex_layernorm_backward(em_real *dx, em_real *dgamma, em_real *dbeta, const em_real *dy,
                           const em_real *x, const em_real *mean, const em_real *rstd,
                           const em_real *gamma, int N, int D) {
    /* YOUR CODE HERE */
}

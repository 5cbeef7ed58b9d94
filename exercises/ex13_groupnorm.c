/* Exercise 13 — GroupNorm (and with it LayerNorm, G = 1, and InstanceNorm, G = C):
 * forward and backward.
 *
 * Fill in the two bodies below (exercises.h). ember runs them in every em_groupnorm, so
 * in every GroupNorm, LayerNorm and InstanceNorm module. Grade it with
 *     ./run grade 13           (the handout)
 *     meson test -C build-ex --print-errorlogs ex13_groupnorm     (the repository)
 *
 * Hints:
 *   - Write down which values one (n, g) pair reduces over. In the (N, C, S) layout, are
 *     they one contiguous run of x? Where does it start?
 *   - mean and rstd are (N, G): element n*G + g.
 *   - The backward is exercise 12's with a group in place of a row; dgamma and dbeta sum
 *     over the batch and the positions, one per channel.
 *   - Test G = 1 and G = C in your head: which layers are they?
 */
#include "exercises.h"

#include <math.h>

void ex_groupnorm_forward(em_real *y, em_real *mean, em_real *rstd, const em_real *x,
                          const em_real *gamma, const em_real *beta, int N, int C, int S,
                          int G, double eps) {
    /* YOUR CODE HERE */
}

void ex_groupnorm_backward(em_real *dx, em_real *dgamma, em_real *dbeta, const em_real *dy,
                           const em_real *x, const em_real *mean, const em_real *rstd,
                           const em_real *gamma, int N, int C, int S, int G) {
    /* YOUR CODE HERE */
}

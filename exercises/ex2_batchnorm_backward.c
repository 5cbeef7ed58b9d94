/* Exercise 2 — BatchNorm backward, through the batch mean and variance.
 *
 * Fill in the body of ex_batchnorm_backward below. exercises.h says exactly what to
 * compute. Grade it with
 *     ./run grade 2            (the handout)
 *     meson test -C build-ex --print-errorlogs ex2_batchnorm_backward     (the repository)
 * (the grader runs it after ITS OWN forward, so this exercise does not need exercise 1).
 *
 * Hints:
 *   - Write M = N*S and xhat = (x - mean[c]) * rstd[c].
 *   - x[n,c,s] reaches the loss by three paths: directly through xhat, through mean[c]
 *     and through the variance. Exercise 5 is this derivative one op at a time: do it
 *     first, then collect its terms on paper into one expression per element.
 *   - Simplify with sum_{n,s} (x - mean) = 0 and (var + eps)^(-3/2) = rstd^3: dx then
 *     needs only dy, xhat and two per-channel sums — which dgamma and dbeta need anyway.
 *   - A quick check of your own: with dy the same number everywhere, dx must be 0
 *     (shifting every input of a channel by one amount does not change y).
 */
#include "exercises.h"

void ex_batchnorm_backward(em_real *dx, em_real *dgamma, em_real *dbeta, const em_real *dy,
                           const em_real *x, const em_real *mean, const em_real *rstd,
                           const em_real *gamma, int N, int C, int S) {
    /* YOUR CODE HERE */
}

/* Exercise 2 — BatchNorm backward, through the batch mean and variance.
 *
 * Fill in the body of ex_batchnorm_backward below. exercises.h says exactly what to
 * compute; docs/batchnorm.md §4 derives it. Grade it with
 *     meson test -C build-ex --suite exercises --print-errorlogs ex2_batchnorm_backward
 * (the grader runs it after ITS OWN forward, so this exercise does not need exercise 1).
 *
 * Hints:
 *   - Write M = N*S and xhat = (x - mean[c]) * rstd[c].
 *   - By the chain rule, through dL/dxhat = gamma * dy, then dL/dvar and dL/dmean (Ioffe &
 *     Szegedy's route), or straight to the closed form at the end of §4. Either way dx
 *     needs two per-channel sums that dgamma and dbeta need anyway.
 *   - A quick check of your own: with dy the same number everywhere, dx must be 0
 *     (shifting every input of a channel by one amount does not change y).
 */
#include "exercises.h"

void ex_batchnorm_backward(em_real *dx, em_real *dgamma, em_real *dbeta, const em_real *dy,
                           const em_real *x, const em_real *mean, const em_real *rstd,
                           const em_real *gamma, int N, int C, int S) {
    /* YOUR CODE HERE */
}

/* Exercise 1 — BatchNorm forward in training mode.
 *
 * Fill in the body of ex_batchnorm_forward below. exercises.h says exactly what to compute;
 * docs/batchnorm.md §1-2 explains why. Grade it with
 *     ./run grade 1            (the handout)
 *     meson test -C build-ex --print-errorlogs ex1_batchnorm_forward     (the repository)
 *
 * Hints:
 *   - Channel c of sample n is the run x[(n*C + c)*S .. (n*C + c)*S + S).
 *   - Two passes per channel: the mean first, then the squared deviations from it.
 *     (E[x^2] - E[x]^2 cancels digits when the mean is large against the spread: one of
 *     the grader's inputs has mean 1e5 and standard deviation 1.)
 *   - Accumulate the sums in a double.
 *   - Only the running variance gets the unbiased variance; y uses the biased one.
 */
#include "exercises.h"

#include <math.h>

void ex_batchnorm_forward(em_real *y, em_real *mean, em_real *rstd, em_real *running_mean,
                          em_real *running_var, const em_real *x, const em_real *gamma,
                          const em_real *beta, int N, int C, int S, double momentum,
                          double eps) {
    /* YOUR CODE HERE */
}

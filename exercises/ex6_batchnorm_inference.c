/* Exercise 6 — BatchNorm at inference, and folded into the layer before it.
 *
 * Fill in the two bodies below (exercises.h). ember runs your ex_batchnorm_eval in every
 * BatchNorm in evaluation mode. Grade it with
 *     ./run grade 6            (the handout)
 *     meson test -C build-ex --print-errorlogs ex6_batchnorm_inference  (the repository)
 *
 * Hints:
 *   - At inference nothing depends on the batch: no mean or variance of x is taken.
 *   - For a fixed channel, write BatchNorm in evaluation as y = a * u + d with two numbers
 *     a and d made of the channel's four parameters and eps. Then put u = sum_k w[o,k] x_k
 *     + b[o] in and read off the new weights and bias.
 *   - A layer without bias (b == NULL) is a layer with b[o] = 0.
 */
#include "exercises.h"

#include <math.h>

void ex_batchnorm_eval(em_real *y, const em_real *x, const em_real *running_mean,
                       const em_real *running_var, const em_real *gamma, const em_real *beta,
                       double eps, int N, int C, int S) {
    /* YOUR CODE HERE */
}

void ex_fold_batchnorm(em_real *wf, em_real *bf, const em_real *w, const em_real *b,
                       const em_real *running_mean, const em_real *running_var,
                       const em_real *gamma, const em_real *beta, double eps, int O, int K) {
    /* YOUR CODE HERE */
}

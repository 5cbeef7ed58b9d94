/* Exercise 7 — max-pooling: the forward, which remembers where each maximum was, and the
 * backward, which sends the gradient there.
 *
 * Fill in the two bodies below (exercises.h). ember runs them in every em_maxpool2d.
 * Grade it with
 *     ./run grade 7            (the handout)
 *     meson test -C build-ex --print-errorlogs ex7_maxpool     (the repository)
 *
 * Hints:
 *   - Plane p starts at x + p*H*W; output (i, j) of plane p is element (p*Ho + i)*Wo + j.
 *   - The maximum's offset is h*W + v inside its plane, not an index into all of x.
 *   - Ties: which comparison keeps the first of two equal values? And which comparisons
 *     are false when one side is a NaN?
 *   - With stride < k the windows overlap, and one pixel can be the maximum of two of them.
 */
#include "exercises.h"

void ex_maxpool_forward(em_real *y, int32_t *argmax, const em_real *x, int P, int H, int W,
                        int k, int stride) {
    /* YOUR CODE HERE */
}

void ex_maxpool_backward(em_real *dx, const em_real *dy, const int32_t *argmax, int P, int H,
                         int W, int k, int stride) {
    /* YOUR CODE HERE */
}

/* Exercise 3 — the backward of a 2-D convolution: dx, dw and db.
 *
 * Fill in the body of ex_conv2d_backward below. exercises.h gives the forward and the three
 * gradients. Grade it with
 *     ./run grade 3            (the handout)
 *     meson test -C build-ex --print-errorlogs ex3_conv2d_backward     (the repository)
 *
 * Hints:
 *   - The easiest correct route is to walk the forward's loops (n, o, i, j, c, p, q) and,
 *     at each term w[o,c,p,q] * x[n,c,h,v] of y[n,o,i,j], add what that term contributes
 *     to dw and to dx ("scatter"). Skip taps that fall in the padding.
 *   - Strides > 1 and padding > 0 are where indexing slips hide: the grader tests both,
 *     and 1x1 kernels, and a kernel larger than the unpadded image.
 *   - Index helpers make it readable, e.g. x[((n*C + c)*H + h)*W + v].
 */
#include "exercises.h"

void ex_conv2d_backward(em_real *dx, em_real *dw, em_real *db, const em_real *dy,
                        const em_real *x, const em_real *w, int N, int C, int H, int W, int O,
                        int kh, int kw, int stride, int pad) {
    /* YOUR CODE HERE */
}

/* Exercise 5 — BatchNorm backward through the graph: the backward of its six primitive ops.
 *
 * Fill in the six bodies below. exercises.h gives each op's forward and what its backward
 * receives; the grader records BatchNorm as a graph of these ops on ember's tape and runs
 * your functions as the nodes' backward. Grade it with
 *     ./run grade 5            (the handout)
 *     meson test -C build-ex --print-errorlogs ex5_batchnorm_graph      (the repository)
 *
 * Hints:
 *   - One op at a time, one input at a time: how much does the op's output move when this
 *     one input element moves a little? Multiply by the output's gradient; where one input
 *     element reaches several outputs (a per-channel vector does), add up over them.
 *   - ADD into every gradient array (+=): the grader fills them with other numbers first,
 *     as the tape does when a tensor feeds two ops.
 *   - rsqrt: you get both its input var and its output r; the derivative is shortest
 *     written with r.
 *   - Once all six pass, compare the graph's dx with your exercise 2: the grader does.
 */
#include "exercises.h"

void ex_channel_mean_backward(em_real *dx, const em_real *dmu, int N, int C, int S) {
    /* YOUR CODE HERE */
}

void ex_center_backward(em_real *dx, em_real *dmu, const em_real *dxc, int N, int C, int S) {
    /* YOUR CODE HERE */
}

void ex_square_backward(em_real *dx, const em_real *dsq, const em_real *x, size_t n) {
    /* YOUR CODE HERE */
}

void ex_rsqrt_backward(em_real *dvar, const em_real *dr, const em_real *var, const em_real *r,
                       double eps, int C) {
    /* YOUR CODE HERE */
}

void ex_scale_backward(em_real *dx, em_real *ds, const em_real *dy, const em_real *x,
                       const em_real *s, int N, int C, int S) {
    /* YOUR CODE HERE */
}

void ex_shift_backward(em_real *dx, em_real *db, const em_real *dy, int N, int C, int S) {
    /* YOUR CODE HERE */
}

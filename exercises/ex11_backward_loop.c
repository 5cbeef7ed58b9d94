/* Exercise 11 — the tape's backward loop: autograd itself.
 *
 * Fill in the body below (exercises.h). The grader records graphs on ember's tape (a
 * network, a diamond, a branch that does not lead to y, a backward that fails) and
 * compares your gradients with ember's em_backward. Grade it with
 *     ./run grade 11           (the handout)
 *     meson test -C build-ex --print-errorlogs ex11_backward_loop     (the repository)
 *
 * Hints:
 *   - Nodes are recorded in the order the ops ran. Can an op read the output of an op that
 *     ran after it? What does that tell you about the order to run the backwards in?
 *   - From the last node you can reach every earlier one; you need no sorting and no
 *     recursion.
 *   - How do you know, when you reach a node, whether anything sent a gradient to its
 *     output?
 */
#include "exercises.h"

int ex_backward(ex_tape *tape, ex_tensor *y, const em_real *dy) {
    /* YOUR CODE HERE */
    return 0;
}

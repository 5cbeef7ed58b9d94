/* Exercise 9 — one step of Adam.
 *
 * Fill in the body below (exercises.h). ember runs it in every em_adam_step (Adam with L2
 * weight decay; AdamW stays ember's). The grader compares five steps with PyTorch's.
 * Grade it with
 *     ./run grade 9            (the handout)
 *     meson test -C build-ex --print-errorlogs ex9_adam        (the repository)
 *
 * Hints:
 *   - Read Kingma & Ba's Algorithm 1 (arXiv:1412.6980): m and v are the moving averages,
 *     mhat and vhat their bias-corrected values at step t.
 *   - Why a correction at all: m starts at 0, so after one step it is (1 - beta1) g. What
 *     must you divide by to get g back?
 *   - Keep m and v uncorrected in the arrays: the correction is for this step's update only.
 *   - eps goes outside the square root.
 */
#include "exercises.h"

#include <math.h>

void ex_adam_step(em_real *p, em_real *m, em_real *v, const em_real *g, double lr,
                  double beta1, double beta2, double eps, double weight_decay, long t,
                  size_t n) {
    /* YOUR CODE HERE */
}

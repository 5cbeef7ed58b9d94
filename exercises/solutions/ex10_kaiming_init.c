/* Exercise 10, solution — Kaiming (He) initialization, fan-in mode, for ReLU (exercises.h).
 *
 * A unit's pre-activation sums fan_in products w x. With w independent of x, mean 0:
 * Var(sum) = fan_in Var(w) E[x^2], and after a ReLU of a symmetric input E[x^2] is half the
 * input's variance. Keeping the variance constant layer to layer asks for
 * fan_in Var(w) / 2 = 1: Var(w) = 2 / fan_in. fan_in is every input one output reads:
 * I for a linear layer, C kh kw for a convolution.
 * Normal: std = sqrt(2 / fan_in). Uniform on [-a, a): Var = a^2 / 3, so a = sqrt(6 / fan_in). */
#include "exercises.h"

#include <math.h>

void ex_kaiming_init(em_real *w, int ndim, const int *shape, bool uniform, ex_rng *rng) {
    size_t n = 1;
    for (int d = 0; d < ndim; d++) n *= (size_t)shape[d];
    double fan_in = (double)n / shape[0];  /* everything but the output channels */
    double std = sqrt(2.0 / fan_in), a = sqrt(6.0 / fan_in);
    for (size_t i = 0; i < n; i++)
        w[i] = (em_real)(uniform ? a * (2 * ex_rng_uniform(rng) - 1) : std * ex_rng_normal(rng));
}

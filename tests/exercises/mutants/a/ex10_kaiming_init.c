/* A WRONG solution of exercise 10, on purpose (../README.md): fan_in is the input channels
 * only (a convolution's kernel size forgotten). */
#include "exercises.h"

#include <math.h>

void ex_kaiming_init(em_real *w, int ndim, const int *shape, bool uniform, ex_rng *rng) {
    size_t n = 1;
    for (int d = 0; d < ndim; d++) n *= (size_t)shape[d];
    double fan_in = shape[1];  /* the mistake: C, not C kh kw */
    double std = sqrt(2.0 / fan_in), a = sqrt(6.0 / fan_in);
    for (size_t i = 0; i < n; i++)
        w[i] = (em_real)(uniform ? a * (2 * ex_rng_uniform(rng) - 1) : std * ex_rng_normal(rng));
}

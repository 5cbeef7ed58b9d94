/* A WRONG solution of exercise 10, on purpose (../README.md): the variance 1 / fan_in (no
 * factor 2 for the ReLU). */
#include "exercises.h"

#include <math.h>

void ex_kaiming_init(em_real *w, int ndim, const int *shape, bool uniform, ex_rng *rng) {
    size_t n = 1;
    for (int d = 0; d < ndim; d++) n *= (size_t)shape[d];
    double fan_in = (double)n / shape[0];  /* everything but the output channels */
    double std = sqrt(1.0 / fan_in), a = sqrt(3.0 / fan_in);  /* the mistake */
    for (size_t i = 0; i < n; i++)
        w[i] = (em_real)(uniform ? a * (2 * ex_rng_uniform(rng) - 1) : std * ex_rng_normal(rng));
}

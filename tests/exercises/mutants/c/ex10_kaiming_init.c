/* A WRONG solution of exercise 10, on purpose (../README.md): the uniform bound is the
 * normal's standard deviation. */
#include "exercises.h"

#include <math.h>

void ex_kaiming_init(em_real *w, int ndim, const int *shape, bool uniform, ex_rng *rng) {
    size_t n = 1;
    for (int d = 0; d < ndim; d++) n *= (size_t)shape[d];
    double fan_in = (double)n / shape[0];  /* everything but the output channels */
    double std = sqrt(2.0 / fan_in), a = std;  /* the mistake */
    for (size_t i = 0; i < n; i++)
        w[i] = (em_real)(uniform ? a * (2 * ex_rng_uniform(rng) - 1) : std * ex_rng_normal(rng));
}

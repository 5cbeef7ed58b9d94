/* core/parallel.c — thread counts for ember's kernels (OpenMP) and for OpenBLAS. */
#include "parallel.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* OpenBLAS's own setter; absent from other BLAS libraries, hence weak */
void openblas_set_num_threads(int n) __attribute__((weak));

void em_set_threads(int n) {
    if (n <= 0) return;
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    if (openblas_set_num_threads) openblas_set_num_threads(n);
}

int em_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* core/parallel.c — thread counts for ember's kernels (OpenMP) and for OpenBLAS. */
#include "parallel.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* OpenBLAS's own setter; absent from other BLAS libraries, hence weak */
void openblas_set_num_threads(int n) __attribute__((weak));

/* OpenBLAS always runs single-threaded: ember splits its products across its own
 * threads (core/gemm.c), and a second pool of spinning BLAS threads would fight them for
 * the cores (and OpenBLAS 0.3.21 mallocs inside every multithreaded call). Done once
 * when the library is loaded. */
__attribute__((constructor)) static void em_blas_single_thread(void) {
    if (openblas_set_num_threads) openblas_set_num_threads(1);
}

void em_set_threads(int n) {
    if (n <= 0) return;
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    if (openblas_set_num_threads) openblas_set_num_threads(1);
}

int em_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int em_thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

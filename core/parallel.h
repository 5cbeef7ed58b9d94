/* core/parallel.h — how many threads ember's kernels and BLAS use.
 *
 *     em_set_threads(2);     // before the first step; 0 = the machine's default
 *
 * ember runs its own kernels on OpenMP threads (when built with OpenMP) and calls
 * OpenBLAS for some GEMMs. The two pools must not fight over the cores: em_set_threads
 * sets both, and ember's parallel kernels call OpenBLAS only from outside their
 * parallel regions. The thread count is process-wide state of those libraries.
 */
#ifndef EM_PARALLEL_H
#define EM_PARALLEL_H

/* n > 0: use n threads; n = 0: the libraries' defaults (OMP_NUM_THREADS, the cores). */
void em_set_threads(int n);
/* threads an OpenMP parallel region of ember would use now (1 without OpenMP) */
int em_threads(void);

#endif

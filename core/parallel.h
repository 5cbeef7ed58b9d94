/** @file
 * core/parallel.h — how many threads ember's kernels and BLAS use.
 *
 *     em_set_threads(2);     // before the first step; 0 = the machine's default
 *
 * ember runs its kernels on OpenMP threads (when built with OpenMP), and splits every
 * large matrix product across them itself (core/gemm.c), each piece one single-threaded
 * OpenBLAS call: OpenBLAS's own thread pool is set to one thread when the library loads,
 * so the two pools never fight over the cores. The thread count is process-wide state of
 * OpenMP (OMP_NUM_THREADS sets it too).
 */
#ifndef EM_PARALLEL_H
#define EM_PARALLEL_H

/** Set how many threads ember's kernels use.
 * @param n  n > 0: use n threads; 0 (or less): leave OpenMP's default (OMP_NUM_THREADS,
 *           else the cores) */
void em_set_threads(int n);
/** @return the threads an OpenMP parallel region of ember would use now (1 without
 *          OpenMP) */
int em_threads(void);
/** @return this thread's number inside a parallel region, 0 .. threads - 1 (0 outside
 *          one) */
int em_thread_id(void);

#endif

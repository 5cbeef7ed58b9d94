/* bench/malloc_count.h — how many heap allocations the process has made (all threads), for
 * ember-bench's mallocs_per_step. The count comes from bench/malloc_count.c, a shim linked
 * into the benchmark program alone: it interposes malloc, calloc, realloc, aligned_alloc
 * and posix_memalign, counts, and hands each call to glibc. The library knows nothing of
 * it. Not in sanitizer builds (AddressSanitizer owns malloc): there em_malloc_counting()
 * is false and the count stays 0. */
#ifndef EM_BENCH_MALLOC_COUNT_H
#define EM_BENCH_MALLOC_COUNT_H

#include <stdbool.h>
#include <stddef.h>

/* allocations so far */
size_t em_malloc_count(void);
/* whether allocations are counted in this build */
bool em_malloc_counting(void);

#endif

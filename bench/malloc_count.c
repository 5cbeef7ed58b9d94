/* bench/malloc_count.c — the allocation counter of bench/malloc_count.h: glibc's
 * allocator behind a counting front, in the benchmark program only. */
#include "malloc_count.h"

#include <errno.h>
#include <stdatomic.h>

#if defined(__SANITIZE_ADDRESS__)
size_t em_malloc_count(void) { return 0; }
bool em_malloc_counting(void) { return false; }
#else
static atomic_size_t n_allocs;

size_t em_malloc_count(void) { return atomic_load(&n_allocs); }
bool em_malloc_counting(void) { return true; }

static void counted(void) { atomic_fetch_add_explicit(&n_allocs, 1, memory_order_relaxed); }

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

void *malloc(size_t n) {
    counted();
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
    counted();
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
    counted();
    return __libc_realloc(p, n);
}
void *aligned_alloc(size_t a, size_t n) {
    counted();
    return __libc_memalign(a, n);
}
int posix_memalign(void **p, size_t a, size_t n) {
    counted();
    *p = __libc_memalign(a, n);
    return *p ? 0 : ENOMEM;
}
#endif

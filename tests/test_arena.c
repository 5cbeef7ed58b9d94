/* tests/test_arena.c — the bump allocator: alignment, growth, reset, counters. */
#include "helpers.h"

#include <stdint.h>
#include <string.h>

Test(arena, aligned_and_disjoint) {
    em_arena *a = em_arena_new(1024);
    cr_assert_not_null(a);
    unsigned char *p = em_arena_alloc(a, 3), *q = em_arena_alloc(a, 100);
    cr_assert_eq((uintptr_t)p % EM_ARENA_ALIGN, 0);
    cr_assert_eq((uintptr_t)q % EM_ARENA_ALIGN, 0);
    cr_assert(q >= p + 3, "allocations overlap");
    memset(p, 1, 3);
    memset(q, 2, 100);
    cr_assert_eq(p[2], 1);
    em_arena_free(a);
}

Test(arena, grows_by_chunks_and_big_requests_fit) {
    em_arena *a = em_arena_new(1024);
    cr_assert_eq(a->chunk_allocs, 1);
    for (int i = 0; i < 20; i++) cr_assert_not_null(em_arena_alloc(a, 200));
    cr_assert_gt(a->chunk_allocs, 1);
    char *big = em_arena_alloc(a, 10000);  /* larger than a chunk */
    cr_assert_not_null(big);
    memset(big, 0, 10000);
    em_arena_free(a);
}

Test(arena, reset_reuses_memory_without_malloc) {
    em_arena *a = em_arena_new(1024);
    for (int step = 0; step < 5; step++) {
        for (int i = 0; i < 30; i++) cr_assert_not_null(em_arena_alloc(a, 100 + i));
        em_arena_reset(a);
    }
    size_t after_warmup = a->chunk_allocs;
    size_t hw = a->high_water;
    for (int step = 0; step < 50; step++) {
        for (int i = 0; i < 30; i++) cr_assert_not_null(em_arena_alloc(a, 100 + i));
        em_arena_reset(a);
    }
    cr_assert_eq(a->chunk_allocs, after_warmup, "steady state allocated new chunks");
    cr_assert_eq(a->high_water, hw);
    cr_assert_eq(a->used, 0);
    em_arena_free(a);
}

Test(arena, reset_merges_chunks_into_one) {
    em_arena *a = em_arena_new(256);
    for (int i = 0; i < 10; i++) em_arena_alloc(a, 200);
    cr_assert_gt(a->chunk_allocs, 5);
    em_arena_reset(a);
    /* one chunk of exactly the high-water mark is left, and it holds a whole step */
    cr_assert_eq(a->capacity, a->high_water, "capacity %zu, high water %zu", a->capacity,
                 a->high_water);
    size_t before = a->chunk_allocs;
    for (int i = 0; i < 10; i++) em_arena_alloc(a, 200);
    cr_assert_eq(a->chunk_allocs, before);
    /* a bigger step later grows again, and merges again */
    for (int i = 0; i < 5; i++) em_arena_alloc(a, 300);
    cr_assert_gt(a->chunk_allocs, before);
    em_arena_reset(a);
    cr_assert_eq(a->capacity, a->high_water);
    em_arena_free(a);
}

Test(arena, calloc_zeroes_recycled_memory) {
    em_arena *a = em_arena_new(1024);
    memset(em_arena_alloc(a, 512), 0xff, 512);
    em_arena_reset(a);
    unsigned char *z = em_arena_calloc(a, 512);
    for (int i = 0; i < 512; i++) cr_assert_eq(z[i], 0);
    em_arena_free(a);
}

Test(arena, failed_chunk_allocation_returns_null) {
    em_arena *a = em_arena_new(256);
    a->fail_after = 2;  /* the second chunk malloc fails */
    cr_assert_not_null(em_arena_alloc(a, 200));
    cr_assert_null(em_arena_alloc(a, 200));
    em_arena_free(a);
}

Test(arena, absurd_requests_fail_instead_of_wrapping) {
    em_arena *a = em_arena_new(1024);
    cr_assert_null(em_arena_alloc(a, SIZE_MAX - 10));
    cr_assert_null(em_arena_alloc(a, SIZE_MAX / 2 + 1));
    cr_assert_not_null(em_arena_alloc(a, 10));
    em_arena_free(a);
}

/* core/arena.c — chunked bump allocator, see arena.h. */
#define _DEFAULT_SOURCE  /* madvise (Linux), beside the build's _POSIX_C_SOURCE */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "errors.h"

struct em_arena_chunk {
    em_arena_chunk *next;
    size_t cap;              /* usable bytes in data[]  */
    size_t top;              /* bytes used in data[]    */
    unsigned char *data;     /* EM_ARENA_ALIGN-aligned  */
};

static size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

/* A chunk of 2 MiB or more is aligned to 2 MiB and asked to be backed by huge pages
 * (Linux, transparent huge pages in "madvise" mode, as on Debian). A training step walks
 * its whole arena (about 25 MB for mnist-cnn at batch 64, 100 MB at 256): with 4 KiB
 * pages that is more pages than the TLB holds, and the memory-bound passes (BatchNorm,
 * max-pool, im2col's reads) paid for the misses. Only advice: where the kernel has no
 * huge page to give, the chunk is ordinary memory and everything works the same. */
#define HUGE_PAGE ((size_t)2 << 20)

static void *chunk_memory(size_t cap) {
    if (cap < HUGE_PAGE) return aligned_alloc(EM_ARENA_ALIGN, round_up(cap, EM_ARENA_ALIGN));
    size_t bytes = round_up(cap, HUGE_PAGE);
    void *p = aligned_alloc(HUGE_PAGE, bytes);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (p) (void)madvise(p, bytes, MADV_HUGEPAGE);  /* advice: a refusal changes nothing */
#endif
    return p;
}

static em_arena_chunk *chunk_new(em_arena *arena, size_t cap) {
    if (arena->fail_after && arena->chunk_allocs + 1 >= arena->fail_after) return NULL;
    em_arena_chunk *c = malloc(sizeof *c);
    if (!c) return NULL;
    c->data = chunk_memory(cap);
    if (!c->data) {
        free(c);
        return NULL;
    }
    c->next = NULL;
    c->cap = cap;
    c->top = 0;
    arena->chunk_allocs++;
    arena->capacity += cap;
    return c;
}

static void chunk_free(em_arena_chunk *c) {
    free(c->data);
    free(c);
}

em_arena *em_arena_new(size_t chunk_bytes) {
    em_arena *arena = calloc(1, sizeof *arena);
    if (!arena) return NULL;
    arena->chunk_bytes = round_up(chunk_bytes ? chunk_bytes : 1 << 20, EM_ARENA_ALIGN);
    arena->first = arena->cur = chunk_new(arena, arena->chunk_bytes);
    if (!arena->first) {
        free(arena);
        return NULL;
    }
    return arena;
}

void em_arena_free(em_arena *arena) {
    if (!arena) return;
    for (em_arena_chunk *c = arena->first, *next; c; c = next) {
        next = c->next;
        chunk_free(c);
    }
    free(arena);
}

void *em_arena_alloc(em_arena *arena, size_t bytes) {
    if (bytes > SIZE_MAX / 2) return NULL;  /* no request this large can be met; no wrap */
    size_t need = round_up(bytes ? bytes : 1, EM_ARENA_ALIGN);
    em_arena_chunk *c = arena->cur;
    while (c->top + need > c->cap) {
        if (!c->next) {
            size_t cap = need > arena->chunk_bytes ? need : arena->chunk_bytes;
            em_arena_chunk *fresh = chunk_new(arena, cap);
            if (!fresh) return NULL;
            c->next = fresh;
        }
        c = c->next;
        c->top = 0;
    }
    arena->cur = c;
    void *p = c->data + c->top;
    c->top += need;
    arena->used += need;
    if (arena->used > arena->high_water) arena->high_water = arena->used;
#ifdef EM_ARENA_POISON
    /* test builds: new memory reads as NaN (all bits set), so a kernel that reads memory
     * it did not write (a "fresh" gradient it forgot to store to) poisons its result */
    memset(p, 0xFF, bytes);
#endif
    return p;
}

void *em_arena_calloc(em_arena *arena, size_t bytes) {
    void *p = em_arena_alloc(arena, bytes);
    if (p) memset(p, 0, bytes);
    return p;
}

void em_arena_reset(em_arena *arena) {
    /* Several chunks in use: replace them by one that holds the high-water mark, so the
     * next steps bump through one contiguous block. If that malloc fails, keep the
     * chunks we have: they still work. */
    if (arena->first->next && arena->high_water > arena->first->cap) {
        em_arena_chunk *big = chunk_new(arena, arena->high_water);
        if (big) {
            for (em_arena_chunk *c = arena->first, *next; c; c = next) {
                next = c->next;
                arena->capacity -= c->cap;
                chunk_free(c);
            }
            arena->first = big;
        }
    }
    for (em_arena_chunk *c = arena->first; c; c = c->next) c->top = 0;
    arena->cur = arena->first;
    arena->used = 0;
}

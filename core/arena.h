/** core/arena.h — a chunked bump allocator for everything that lives for one step.
 *
 *     em_arena *a = em_arena_new(1 << 20);          // chunks of at least 1 MiB
 *     float *buf = em_arena_alloc(a, 256 * sizeof(float));   // 64-byte aligned
 *     ...
 *     em_arena_reset(a);                           // everything above is gone, chunks kept
 *
 * Allocation moves a pointer forward inside the current chunk; when a request does not
 * fit, the next chunk is used, and only when there is none is a new one malloc'ed. Reset
 * rewinds to the first chunk without freeing. A training step that makes the same
 * requests every time therefore stops calling malloc after its first step:
 * `chunk_allocs` counts the mallocs so a test can prove it.
 *
 * After a step that needed several chunks, reset merges them into one chunk as large as
 * the high-water mark, so the steady state is one contiguous chunk.
 *
 * @file
 */
#ifndef EM_ARENA_H
#define EM_ARENA_H

#include <stddef.h>

#define EM_ARENA_ALIGN 64  /**< a cache line, and enough for any SIMD load */

/** One malloc'ed block of an arena (private to core/arena.c). */
typedef struct em_arena_chunk em_arena_chunk;

/** A chunked bump allocator; the counters are public so tests and benchmarks can read
 * them. */
typedef struct em_arena {
    em_arena_chunk *first;   /**< list of chunks, in order of use               */
    em_arena_chunk *cur;     /**< the chunk allocations come from now           */
    size_t chunk_bytes;      /**< minimum size of a new chunk                   */
    size_t used;             /**< bytes handed out since the last reset         */
    size_t high_water;       /**< the largest `used` ever seen                  */
    size_t chunk_allocs;     /**< how many chunks were ever malloc'ed           */
    size_t capacity;         /**< bytes held in all chunks                      */
    size_t fail_after;       /**< testing: the n-th chunk malloc and all later ones
                                  fail (0 = never)                                  */
} em_arena;

/** A new arena with its first chunk. NULL if the first chunk cannot be allocated.
 * @param chunk_bytes  the minimum size of a chunk (0: 1 MiB), rounded up to
 *                     EM_ARENA_ALIGN
 * @return the arena, or NULL when out of memory */
em_arena *em_arena_new(size_t chunk_bytes);
/** Free every chunk and the arena; everything allocated from it is gone.
 * @param arena  the arena; NULL is allowed and does nothing */
void em_arena_free(em_arena *arena);
/** 64-byte aligned memory of the given size, uninitialised; NULL when out of memory.
 * @param arena  the arena
 * @param bytes  the size (0 gives a valid, distinct pointer); rounded up to
 *               EM_ARENA_ALIGN
 * @return the memory, valid until em_arena_reset(), or NULL when a new chunk cannot be
 *         allocated */
void *em_arena_alloc(em_arena *arena, size_t bytes);
/** the same, zero-filled
 * @param arena  the arena
 * @param bytes  the size
 * @return the zeroed memory, or NULL when out of memory */
void *em_arena_calloc(em_arena *arena, size_t bytes);
/** Everything allocated so far is gone; the chunks are kept (merged into one as large as
 * the high-water mark when several were in use), so the next step allocates nothing.
 * @param arena  the arena */
void em_arena_reset(em_arena *arena);

#endif

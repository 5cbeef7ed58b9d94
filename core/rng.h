/** core/rng.h — the library's random number generator: PCG32 (O'Neill 2014), explicit
 * state, no globals. Same seed -> same stream on every machine.
 *
 *     em_rng rng;
 *     em_rng_seed(&rng, 42);
 *     float u = em_rng_uniform(&rng);          // [0, 1)
 *     float z = em_rng_normal(&rng, 0, 1);     // N(0, 1)
 *     em_rng_permutation(&rng, order, n);      // Fisher-Yates shuffle of 0..n-1
 *
 * Independent streams for independent uses (data order, init, dropout) come from
 * different seeds or from em_rng_split, so adding a dropout layer does not change the
 * data order of a run.
 *
 * @file
 */
#ifndef EM_RNG_H
#define EM_RNG_H

#include <stddef.h>
#include <stdint.h>

/** A PCG32 generator: its whole state, copied and saved as a value. */
typedef struct em_rng {
    uint64_t state;  /**< the LCG state                                 */
    uint64_t inc;    /**< stream selector, always odd                   */
} em_rng;

/** Seed a generator (on a fixed stream): the same seed gives the same numbers everywhere.
 * @param rng   the generator to set
 * @param seed  any value */
void em_rng_seed(em_rng *rng, uint64_t seed);
/** PCG's own seeding (pcg32_srandom_r): initial state and stream id.
 * @param rng     the generator to set
 * @param seed    the initial state
 * @param stream  the stream id (different ids give independent sequences) */
void em_rng_seed_stream(em_rng *rng, uint64_t seed, uint64_t stream);
/** A generator seeded from this one's next outputs and a stream tag: a child stream that
 * does not overlap the parent's in practice.
 * @param rng  the parent; advanced by two outputs
 * @param tag  tells children of the same parent state apart
 * @return the child generator */
em_rng em_rng_split(em_rng *rng, uint64_t tag);

/** The next 32 random bits.
 * @param rng  the generator, advanced by one step
 * @return a uniform value in [0, 2^32) */
uint32_t em_rng_u32(em_rng *rng);
/** uniform integer in [0, n), without modulo bias; n > 0
 * @param rng  the generator
 * @param n    the bound, > 0 (0 is a programmer error)
 * @return a value in [0, n) */
uint32_t em_rng_below(em_rng *rng, uint32_t n);
/** uniform double in [0, 1) with 53 random bits
 * @param rng  the generator
 * @return a value in [0, 1) */
double em_rng_uniform(em_rng *rng);
/** uniform in [lo, hi)
 * @param rng  the generator
 * @param lo   the lower bound (included)
 * @param hi   the upper bound (excluded)
 * @return a value in [lo, hi) */
double em_rng_uniform_range(em_rng *rng, double lo, double hi);
/** normal N(mean, std^2) by Box-Muller; each call draws a fresh pair of uniforms (no
 * cached second value, so the whole state stays in the struct above)
 * @param rng   the generator
 * @param mean  the mean
 * @param std   the standard deviation
 * @return one sample */
double em_rng_normal(em_rng *rng, double mean, double std);
/** out[0..n) = a uniformly random permutation of 0..n-1 (Fisher-Yates)
 * @param rng  the generator
 * @param out  n entries, overwritten
 * @param n    the length */
void em_rng_permutation(em_rng *rng, size_t *out, size_t n);
/** shuffle an existing index array in place (Fisher-Yates)
 * @param rng  the generator
 * @param idx  n entries, permuted in place
 * @param n    the length */
void em_rng_shuffle(em_rng *rng, size_t *idx, size_t n);

#endif

/* core/rng.c — PCG32: a 64-bit LCG whose output is a permuted 32-bit word (XSH-RR). */
#include "rng.h"

#include <math.h>

#include "errors.h"

#define PCG_MULT 6364136223846793005ULL

uint32_t em_rng_u32(em_rng *rng) {
    uint64_t old = rng->state;
    rng->state = old * PCG_MULT + rng->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

void em_rng_seed_stream(em_rng *rng, uint64_t seed, uint64_t stream) {
    rng->state = 0;
    rng->inc = (stream << 1u) | 1u;
    em_rng_u32(rng);
    rng->state += seed;
    em_rng_u32(rng);
}

void em_rng_seed(em_rng *rng, uint64_t seed) {
    em_rng_seed_stream(rng, seed, 0x9e3779b97f4a7c15ULL);
}

em_rng em_rng_split(em_rng *rng, uint64_t tag) {
    uint64_t hi = em_rng_u32(rng);   /* two statements: the order of calls is fixed */
    uint64_t s = (hi << 32) | em_rng_u32(rng);
    em_rng child;
    em_rng_seed_stream(&child, s, tag * 2654435761ULL + 1);
    return child;
}

uint32_t em_rng_below(em_rng *rng, uint32_t n) {
    EM_ASSERT(n > 0);
    /* reject the top partial bucket so every residue is equally likely */
    uint32_t threshold = (uint32_t)(-n) % n;
    for (;;) {
        uint32_t r = em_rng_u32(rng);
        if (r >= threshold) return r % n;
    }
}

double em_rng_uniform(em_rng *rng) {
    uint64_t hi = em_rng_u32(rng) >> 5, lo = em_rng_u32(rng) >> 6;  /* 27 + 26 bits */
    return (double)(hi * 67108864.0 + lo) / 9007199254740992.0;      /* / 2^53 */
}

double em_rng_uniform_range(em_rng *rng, double lo, double hi) {
    return lo + (hi - lo) * em_rng_uniform(rng);
}

double em_rng_normal(em_rng *rng, double mean, double std) {
    double u1 = em_rng_uniform(rng), u2 = em_rng_uniform(rng);
    if (u1 < 1e-300) u1 = 1e-300;  /* log(0) guard; probability 2^-53 */
    double r = sqrt(-2.0 * log(u1));
    return mean + std * r * cos(6.283185307179586 * u2);
}

void em_rng_shuffle(em_rng *rng, size_t *idx, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = em_rng_below(rng, (uint32_t)i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

void em_rng_permutation(em_rng *rng, size_t *out, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = i;
    em_rng_shuffle(rng, out, n);
}

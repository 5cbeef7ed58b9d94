/* tests/test_rng.c — determinism and distribution of the library rng. */
#include "helpers.h"

#include <stdlib.h>

Test(rng, same_seed_same_stream_different_seed_different) {
    em_rng a, b, c;
    em_rng_seed(&a, 42);
    em_rng_seed(&b, 42);
    em_rng_seed(&c, 43);
    int differ = 0;
    for (int i = 0; i < 100; i++) {
        uint32_t x = em_rng_u32(&a), y = em_rng_u32(&b), z = em_rng_u32(&c);
        cr_assert_eq(x, y);
        differ += x != z;
    }
    cr_assert_gt(differ, 90);
}

/* The streams are fixed forever: a change to the generator or to how uniform, normal and
 * below use it changes every seeded run, so it must show up here. The values were
 * recorded when the generator was written; the PCG32 core itself is checked against the
 * published reference below. */
Test(rng, streams_are_pinned) {
    em_rng r;
    em_rng_seed(&r, 42);
    const uint32_t want[3] = {0x637fb995, 0x71178965, 0x1c8cd136};
    for (int i = 0; i < 3; i++) {
        uint32_t got = em_rng_u32(&r);
        cr_assert_eq(got, want[i], "u32 %d: got %#x", i, got);
    }
    em_rng_seed(&r, 42);
    cr_assert_eq(em_rng_uniform(&r), 0.38866767616395193);
    em_rng_seed(&r, 42);
    cr_assert(fabs(em_rng_normal(&r, 0, 1) - 1.0508596215797832) < 1e-15);
    em_rng_seed(&r, 42);
    cr_assert_eq(em_rng_below(&r, 1000), 965);
}

/* The published PCG32 reference stream (pcg32-demo, state 42, sequence 54). */
Test(rng, matches_pcg32_reference) {
    const uint32_t want[6] = {0xa15c02b7, 0x7b47f409, 0xba1d3330,
                              0x83d2f293, 0xbfa4784b, 0xcbed606e};
    em_rng r;
    em_rng_seed_stream(&r, 42, 54);
    for (int i = 0; i < 6; i++) {
        uint32_t got = em_rng_u32(&r);
        cr_assert_eq(got, want[i], "output %d: got %#x, want %#x", i, got, want[i]);
    }
}

Test(rng, uniform_and_normal_moments) {
    em_rng r;
    em_rng_seed(&r, 7);
    const int n = 200000;
    double su = 0, su2 = 0, sn = 0, sn2 = 0, lo = 1, hi = 0;
    for (int i = 0; i < n; i++) {
        double u = em_rng_uniform(&r), z = em_rng_normal(&r, 2.0, 3.0);
        su += u; su2 += u * u; sn += z; sn2 += z * z;
        if (u < lo) lo = u;
        if (u > hi) hi = u;
    }
    double mu = su / n, vu = su2 / n - mu * mu, mz = sn / n, vz = sn2 / n - mz * mz;
    cr_assert(lo >= 0 && hi < 1);
    cr_assert(fabs(mu - 0.5) < 0.005, "uniform mean %g", mu);
    cr_assert(fabs(vu - 1.0 / 12) < 0.002, "uniform var %g", vu);
    cr_assert(fabs(mz - 2.0) < 0.03, "normal mean %g", mz);
    cr_assert(fabs(vz - 9.0) < 0.15, "normal var %g", vz);
}

Test(rng, below_is_in_range_and_covers_it) {
    em_rng r;
    em_rng_seed(&r, 9);
    int seen[7] = {0};
    for (int i = 0; i < 7000; i++) {
        uint32_t k = em_rng_below(&r, 7);
        cr_assert_lt(k, 7);
        seen[k]++;
    }
    for (int k = 0; k < 7; k++) cr_assert(seen[k] > 850 && seen[k] < 1150, "bucket %d: %d", k, seen[k]);
}

Test(rng, permutation_is_a_permutation_and_seeded) {
    enum { N = 1000 };
    size_t p[N], q[N];
    int hits[N] = {0};
    em_rng a, b;
    em_rng_seed(&a, 5);
    em_rng_seed(&b, 5);
    em_rng_permutation(&a, p, N);
    em_rng_permutation(&b, q, N);
    int fixed = 0;
    for (size_t i = 0; i < N; i++) {
        cr_assert_lt(p[i], N);
        hits[p[i]]++;
        cr_assert_eq(p[i], q[i]);
        fixed += p[i] == i;
    }
    for (int i = 0; i < N; i++) cr_assert_eq(hits[i], 1);
    cr_assert_lt(fixed, 10, "hardly shuffled: %d fixed points", fixed);
}

Test(rng, split_streams_differ_from_parent_and_each_other) {
    em_rng parent;
    em_rng_seed(&parent, 3);
    em_rng c1 = em_rng_split(&parent, 1), c2 = em_rng_split(&parent, 1);
    int same12 = 0, same1p = 0;
    for (int i = 0; i < 50; i++) {
        uint32_t a = em_rng_u32(&c1), b = em_rng_u32(&c2), p = em_rng_u32(&parent);
        same12 += a == b;
        same1p += a == p;
    }
    cr_assert_lt(same12, 3);
    cr_assert_lt(same1p, 3);
}

/* tests/helpers.h — small helpers shared by the Criterion suites.
 *
 * Every suite is compiled twice: against `ember` (em_real = float) and against
 * `ember_f64` (em_real = double, EM_DOUBLE defined). Known-value tests run in both;
 * gradient checks use the build's default tolerances (tight in double). */
#ifndef EM_TEST_HELPERS_H
#define EM_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>

#include "ember.h"
#include "bn_args.h"
#include "core/fast/fast.h"
#include "core/kernels.h"

/* tolerance for comparing computed values with known ones in this build */
#ifdef EM_DOUBLE
#define TOL 1e-12
#else
#define TOL 1e-5
#endif

/* A heap tensor with the given values (floats), optionally requiring grad. */
static inline em_tensor *tensor_of(int ndim, const int *shape, const float *values,
                                   unsigned flags) {
    em_tensor *t = em_tensor_new(ndim, shape, flags);
    cr_assert_not_null(t);
    if (values) em_tensor_set(t, values);
    return t;
}

/* A heap tensor filled with N(mean, std^2) from rng. */
static inline em_tensor *tensor_randn(em_rng *rng, int ndim, const int *shape, double mean,
                                      double std, unsigned flags) {
    em_tensor *t = em_tensor_new(ndim, shape, flags);
    cr_assert_not_null(t);
    for (size_t i = 0; i < t->size; i++) t->data[i] = (em_real)em_rng_normal(rng, mean, std);
    return t;
}

/* Assert |got[i] - want[i]| <= tol * max(1, |want[i]|) for all i, naming the index. */
static inline void assert_close(const em_real *got, const float *want, size_t n, double tol,
                                const char *what) {
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        double bound = tol * fmax(1.0, fabs(w));
        cr_assert(fabs(g - w) <= bound, "%s[%zu]: got %.9g, want %.9g (tol %.3g)", what, i, g,
                  w, bound);
    }
}

/* The same against double-precision wants (for values computed in the test). */
static inline void assert_close_d(const em_real *got, const double *want, size_t n, double tol,
                                  const char *what) {
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        double bound = tol * fmax(1.0, fabs(w));
        cr_assert(fabs(g - w) <= bound, "%s[%zu]: got %.9g, want %.9g (tol %.3g)", what, i, g,
                  w, bound);
    }
}

/* y has the given shape and values (hand-computed doubles), to TOL relative. */
static inline void assert_tensor(const em_tensor *y, int ndim, const int *shape,
                                 const double *want, const char *what) {
    cr_assert_not_null(y, "%s: NULL", what);
    cr_assert_eq(y->ndim, ndim, "%s: ndim %d, want %d", what, y->ndim, ndim);
    for (int d = 0; d < ndim; d++)
        cr_assert_eq(y->shape[d], shape[d], "%s: dim %d is %d, want %d", what, d, y->shape[d],
                     shape[d]);
    assert_close_d(y->data, want, y->size, TOL, what);
}

static inline void assert_close_real(const em_real *got, const em_real *want, size_t n,
                                     double tol, const char *what) {
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        double bound = tol * fmax(1.0, fabs(w));
        cr_assert(fabs(g - w) <= bound, "%s[%zu]: got %.9g, want %.9g (tol %.3g)", what, i, g,
                  w, bound);
    }
}

/* The last node of tape is the fused op `fused_name` when fused, else `composed_name`, the
 * last op of the composed ones ("relu", "maxpool2d"). */
static inline void assert_last_op_fused(const em_tape *tape, const char *fused_name,
                                        const char *composed_name, bool fused) {
    cr_assert_str_eq(em_op_name(tape->last->op), fused ? fused_name : composed_name);
}

/* A new tape computing with the given tier (em_kernels_fast(), em_kernels_reference()):
 * for the tests that are about one tier, whatever EMBER_KERNELS says. */
static inline em_tape *tape_on(const em_kernels *k) {
    em_tape *tape = em_tape_new(0);
    cr_assert_not_null(tape);
    em_tape_set_kernels(tape, k);
    return tape;
}

/* Run em_gradcheck with this build's defaults and fail the test with the per-input
 * report if any checked element is off. */
static inline void assert_gradcheck(em_gradcheck_fn f, void *ctx, int n, em_tensor *const *in,
                                    const char *what) {
    em_gradcheck_result r;
    em_code c = em_gradcheck(f, ctx, n, in, NULL, &r);
    cr_assert_eq(c, EM_OK, "%s: gradcheck could not run", what);
    if (!r.passed) {
        fprintf(stderr, "%s:\n", what);
        em_gradcheck_print(&r, stderr);
    }
    size_t checked = 0;
    for (int k = 0; k < n; k++) checked += r.checked[k];
    cr_assert(checked > 0, "%s: no input required a gradient, nothing was checked", what);
    cr_assert(r.passed, "%s: gradcheck failed (report above)", what);
}

#endif

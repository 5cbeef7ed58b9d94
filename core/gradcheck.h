/** core/gradcheck.h — check a backward against central finite differences.
 *
 *     static em_tensor *f(em_tape *tape, em_tensor *const *in, void *ctx) {
 *         return em_mul(tape, in[0], in[1]);
 *     }
 *     ...
 *     em_tensor *in[2] = {a, b};                 // leaves; EM_REQUIRES_GRAD ones are checked
 *     em_gradcheck_result r;
 *     em_gradcheck(f, NULL, 2, in, NULL, &r);    // NULL: default options
 *     if (!r.passed) em_gradcheck_print(&r, stderr);
 *
 * Method. Draw a random, non-uniform upstream gradient u (normal, seeded) for the output
 * y = f(inputs) and define the scalar L = sum(u * y). The analytic gradient of L is the
 * vector-Jacobian product that em_backward_from(tape, y, u) computes. The numeric one is
 * (L(x + h e_i) - L(x - h e_i)) / 2h for each checked element i. A uniform u would hide
 * bugs: for BatchNorm, sum over the batch of dL/dx is zero whenever u is constant.
 *
 * Precision. In float32, central differences carry errors near 1e-3 relative: enough
 * for sign and factor-of-two bugs, not for a mean that divides by N-1 instead of N at
 * N = 64 (a 1.6% error). The library is therefore also built as `ember_f64`, where
 * em_real is double; there h = 1e-6 gives errors near 1e-9 and the default tolerance
 * (rtol 1e-6) catches any O(1/N) error. The test suites run their gradchecks there.
 *
 * Rounding. L is a sum over every output element, each carrying a rounding error of
 * about eps * |u_i y_i| (eps of em_real), so the numeric derivative carries an error up to
 * about eps * S / h with S = sum |u_i y_i|. That floor is added to the tolerance: a big
 * output (a BatchNorm over 16 x 3 x 3 x 2 values, S ~ 10^3) cannot be checked to 1e-8
 * absolute, and pretending it can fails correct code by chance. The floor is reported.
 *
 * Points of non-differentiability (ReLU at 0, max-pool ties) make finite differences
 * meaningless: pick inputs away from them.
 *
 * @file
 */
#ifndef EM_GRADCHECK_H
#define EM_GRADCHECK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tape.h"

/** The most inputs one check takes. */
#define EM_GRADCHECK_MAX_INPUTS 8

/** Build the output from the inputs on the tape. Must be deterministic: same inputs, same
 * output (reseed any dropout inside from ctx).
 * @param tape    the tape to compute on
 * @param inputs  the tensors handed to em_gradcheck(), in the same order
 * @param ctx     em_gradcheck()'s ctx
 * @return the output (any shape), or NULL when the tape failed */
typedef em_tensor *(*em_gradcheck_fn)(em_tape *tape, em_tensor *const *inputs, void *ctx);

/** How closely the analytic gradient must match the numeric one. */
typedef struct em_gradcheck_opts {
    double h;            /**< step; 1e-6 in double, 1e-2 in float by default            */
    double atol, rtol;   /**< element passes iff |a - n| <= atol + rtol * max(|a|, |n|)
                              + noise, the rounding floor eps * sum|u y| / h (see above);
                              defaults 1e-8 and 1e-6 in double, 1e-3 and 3e-2 in float  */
    size_t max_checks;   /**< elements checked per input (spread evenly); 0: all         */
    uint64_t seed;       /**< for the upstream gradient u                                 */
} em_gradcheck_opts;
/** @var em_gradcheck_opts::atol
 * the absolute part of the tolerance: see rtol */

/** The defaults for this build's em_real.
 * @return the options em_gradcheck() uses when given NULL */
em_gradcheck_opts em_gradcheck_defaults(void);

/** What em_gradcheck() found, per input k (arrays indexed by k). */
typedef struct em_gradcheck_result {
    int n_inputs;                                      /**< inputs checked (the k range) */
    bool passed;                                       /**< every checked element passed */
    size_t checked[EM_GRADCHECK_MAX_INPUTS];           /**< 0 for inputs without grad  */
    size_t failures[EM_GRADCHECK_MAX_INPUTS];          /**< elements out of tolerance  */
    double max_abs_err[EM_GRADCHECK_MAX_INPUTS];       /**< max |analytic - numeric|   */
    double max_rel_err[EM_GRADCHECK_MAX_INPUTS];       /**< max of that / max(|a|,|n|) */
    size_t worst[EM_GRADCHECK_MAX_INPUTS];             /**< element with the largest excess */
    double worst_analytic[EM_GRADCHECK_MAX_INPUTS];    /**< the backward's value there */
    double worst_numeric[EM_GRADCHECK_MAX_INPUTS];     /**< the finite difference there */
    double noise;                                      /**< the rounding floor used    */
} em_gradcheck_result;

/** EM_OK with the result filled in (passed or not); EM_ERR_NOMEM if a tape failed.
 * Afterwards each input's grad holds the analytic gradient of L = sum(u * y), and its
 * data is restored exactly.
 * @param f         builds the output from the inputs
 * @param ctx       passed to f
 * @param n_inputs  1..EM_GRADCHECK_MAX_INPUTS
 * @param inputs    leaf tensors; those with EM_REQUIRES_GRAD (and a grad buffer) are
 *                  checked, the others held constant
 * @param opts      tolerances and step; NULL: em_gradcheck_defaults()
 * @param res       filled in
 * @return EM_OK when the check ran (res->passed tells the verdict); EM_ERR_NOMEM when a
 *         tape failed (f returned NULL); a failed backward's status (res->passed is then
 *         false) */
em_code em_gradcheck(em_gradcheck_fn f, void *ctx, int n_inputs, em_tensor *const *inputs,
                     const em_gradcheck_opts *opts, em_gradcheck_result *res);

/** One line per input: checked count, max abs and rel error, the worst element; then a
 * line with the verdict and the rounding floor.
 * @param res  a result of em_gradcheck()
 * @param out  where to print */
void em_gradcheck_print(const em_gradcheck_result *res, FILE *out);

#endif

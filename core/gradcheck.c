/* core/gradcheck.c — finite-difference gradient checking, see gradcheck.h. */
#include "gradcheck.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

em_gradcheck_opts em_gradcheck_defaults(void) {
    em_gradcheck_opts o;
#ifdef EM_DOUBLE
    o.h = 1e-6;
    o.atol = 1e-8;
    o.rtol = 1e-6;
#else
    o.h = 1e-2;
    o.atol = 1e-3;
    o.rtol = 3e-2;
#endif
    o.max_checks = 0;
    o.seed = 12345;
    return o;
}

/* L = sum(u * f(inputs)), accumulated in double. Returns NAN on a failed tape. */
static double objective(em_gradcheck_fn f, void *ctx, em_tensor *const *inputs, em_tape *tape,
                        const em_real *u, size_t n_out) {
    em_tape_reset(tape);
    em_tape_set_recording(tape, false);
    em_tensor *y = f(tape, inputs, ctx);
    if (!y) return NAN;
    EM_ASSERT_MSG(y->size == n_out, "gradcheck: f changed its output size");
    double L = 0.0;
    for (size_t i = 0; i < n_out; i++) L += (double)u[i] * (double)y->data[i];
    return L;
}

em_code em_gradcheck(em_gradcheck_fn f, void *ctx, int n_inputs, em_tensor *const *inputs,
                     const em_gradcheck_opts *opts, em_gradcheck_result *res) {
    EM_ASSERT(n_inputs > 0 && n_inputs <= EM_GRADCHECK_MAX_INPUTS);
    em_gradcheck_opts o = opts ? *opts : em_gradcheck_defaults();
    memset(res, 0, sizeof *res);
    res->n_inputs = n_inputs;
    res->passed = true;

    em_tape *tape = em_tape_new(0);
    if (!tape) return EM_ERR_NOMEM;
    em_code status = EM_OK;

    /* 1. analytic: one forward, u drawn for the output, one backward from u */
    for (int k = 0; k < n_inputs; k++) em_tensor_zero_grad(inputs[k]);
    em_tensor *y = f(tape, inputs, ctx);
    em_real *u = NULL;
    if (!y) {
        status = EM_ERR_NOMEM;
        goto done;
    }
    size_t n_out = y->size;
    u = malloc(n_out * sizeof *u);
    if (!u) {
        status = EM_ERR_NOMEM;
        goto done;
    }
    em_rng rng;
    em_rng_seed(&rng, o.seed);
    for (size_t i = 0; i < n_out; i++) u[i] = (em_real)em_rng_normal(&rng, 0.0, 1.0);
    /* the rounding floor of the numeric derivative: eps * sum |u y| / h */
    double S = 0;
    for (size_t i = 0; i < n_out; i++) S += fabs((double)u[i] * (double)y->data[i]);
    res->noise = (sizeof(em_real) == sizeof(double) ? DBL_EPSILON : FLT_EPSILON) * S / o.h;
    status = em_backward_from(tape, y, u);
    if (status != EM_OK) goto done;

    /* 2. numeric, element by element; the analytic values stay in inputs[k]->grad */
    for (int k = 0; k < n_inputs; k++) {
        em_tensor *x = inputs[k];
        if (!em_requires_grad(x)) continue;
        size_t n = x->size, count = o.max_checks && o.max_checks < n ? o.max_checks : n;
        double worst_excess = -INFINITY;
        for (size_t c = 0; c < count; c++) {
            size_t i = count == n ? c : c * n / count;  /* spread evenly */
            em_real saved = x->data[i];
            x->data[i] = (em_real)(saved + o.h);
            double hp = (double)x->data[i] - saved;      /* the step actually taken */
            double Lp = objective(f, ctx, inputs, tape, u, n_out);
            x->data[i] = (em_real)(saved - o.h);
            double hm = saved - (double)x->data[i];
            double Lm = objective(f, ctx, inputs, tape, u, n_out);
            x->data[i] = saved;
            if (isnan(Lp) || isnan(Lm)) {
                status = EM_ERR_NOMEM;
                goto done;
            }
            double numeric = (Lp - Lm) / (hp + hm);
            double analytic = x->grad[i];
            double err = fabs(analytic - numeric);
            double scale = fmax(fabs(analytic), fabs(numeric));
            double rel = scale > 0 ? err / scale : 0.0;
            double excess = err - (o.atol + o.rtol * scale + res->noise);
            /* inf or NaN on either side never passes (inf - inf would make excess NaN) */
            if (!isfinite(analytic) || !isfinite(numeric)) excess = INFINITY;
            res->checked[k]++;
            if (err > res->max_abs_err[k]) res->max_abs_err[k] = err;
            if (rel > res->max_rel_err[k]) res->max_rel_err[k] = rel;
            if (excess > 0) {
                res->failures[k]++;
                res->passed = false;
            }
            if (excess > worst_excess) {
                worst_excess = excess;
                res->worst[k] = i;
                res->worst_analytic[k] = analytic;
                res->worst_numeric[k] = numeric;
            }
        }
    }
done:
    free(u);
    em_tape_free(tape);
    if (status != EM_OK) res->passed = false;
    return status;
}

void em_gradcheck_print(const em_gradcheck_result *res, FILE *out) {
    for (int k = 0; k < res->n_inputs; k++) {
        if (!res->checked[k]) continue;
        fprintf(out,
                "  input %d: %zu checked, %zu failed, max abs err %.3g, max rel err %.3g; "
                "worst element %zu: analytic %.10g numeric %.10g\n",
                k, res->checked[k], res->failures[k], res->max_abs_err[k],
                res->max_rel_err[k], res->worst[k], res->worst_analytic[k],
                res->worst_numeric[k]);
    }
    fprintf(out, "  gradcheck %s (rounding floor %.2g)\n", res->passed ? "passed" : "FAILED",
            res->noise);
}

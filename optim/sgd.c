/* optim/sgd.c — SGD with momentum, Nesterov, dampening and weight decay (see optim.h for
 * the formulas). One flat loop over the model's parameter block. */
#include <stdlib.h>
#include <string.h>

#include "optim.h"
#include "../core/simd.h"
#ifdef EM_EXERCISES
#include "../exercises/exercises.h"
#endif

em_sgd_opts em_sgd_defaults(void) {
    return (em_sgd_opts){.momentum = 0, .dampening = 0, .weight_decay = 0, .nesterov = false};
}

em_sgd *em_sgd_new(em_params params, const em_sgd_opts *opts, em_error *err) {
    EM_ASSERT(params.data && params.grad);
    em_sgd_opts o = opts ? *opts : em_sgd_defaults();
    if (!(o.momentum >= 0) || !(o.dampening >= 0) || !(o.weight_decay >= 0)) {
        em_error_set(err, EM_ERR_ARG, "SGD: momentum %g, dampening %g and weight decay %g must "
                     "be >= 0", o.momentum, o.dampening, o.weight_decay);
        return NULL;
    }
    if (o.nesterov && (o.momentum <= 0 || o.dampening != 0)) {
        em_error_set(err, EM_ERR_ARG, "SGD: Nesterov momentum needs momentum > 0 and "
                     "dampening 0 (got momentum %g, dampening %g)", o.momentum, o.dampening);
        return NULL;
    }
    em_sgd *s = calloc(1, sizeof *s);
    if (s && o.momentum > 0) s->velocity = calloc(params.n ? params.n : 1, sizeof(em_real));
    if (!s || (o.momentum > 0 && !s->velocity)) {
        free(s);
        em_error_set(err, EM_ERR_NOMEM, "SGD: no memory for the velocity of %zu parameters",
                     params.n);
        return NULL;
    }
    s->params = params;
    s->opts = o;
    return s;
}

void em_sgd_free(em_sgd *opt) {
    if (!opt) return;
    free(opt->velocity);
    free(opt);
}

void em_sgd_zero_grad(em_sgd *opt) {
    memset(opt->params.grad, 0, opt->params.n * sizeof(em_real));
}

/* p (n), v (n), g (n): one update; the branches are per call, not per element */
/* The update of p[lo, hi) (v NULL: no momentum): every element on its own, so threads
 * may take pieces (EM_PARALLEL_RANGES) and the result does not depend on how many */
EM_KERNEL static void sgd_update_k(em_real *restrict p, em_real *restrict v,
                                   const em_real *restrict g, em_real lr, em_real wd,
                                   em_real mu, em_real keep, bool first, bool nesterov,
                                   size_t lo, size_t hi) {
    if (!v) {                                    /* p = p - lr * (g + wd * p) */
        for (size_t i = lo; i < hi; i++) p[i] -= lr * (g[i] + wd * p[i]);
    } else if (first && nesterov) {              /* v = g (PyTorch: no dampening at first) */
        for (size_t i = lo; i < hi; i++) {
            em_real gi = g[i] + wd * p[i];
            v[i] = gi;
            p[i] -= lr * (gi + mu * v[i]);
        }
    } else if (first) {
        for (size_t i = lo; i < hi; i++) {
            em_real gi = g[i] + wd * p[i];
            v[i] = gi;
            p[i] -= lr * v[i];
        }
    } else if (nesterov) {                       /* v = mu v + g;  p = p - lr (g + mu v) */
        for (size_t i = lo; i < hi; i++) {
            em_real gi = g[i] + wd * p[i];
            v[i] = mu * v[i] + keep * gi;
            p[i] -= lr * (gi + mu * v[i]);
        }
    } else {                                     /* v = mu v + (1 - d) g;  p = p - lr v */
        for (size_t i = lo; i < hi; i++) {
            em_real gi = g[i] + wd * p[i];
            v[i] = mu * v[i] + keep * gi;
            p[i] -= lr * v[i];
        }
    }
}

void em_sgd_step(em_sgd *opt, double lr_d) {
    em_real *p = opt->params.data, *v = opt->velocity;
    const em_real *g = opt->params.grad;
    const size_t n = opt->params.n;
    const em_real lr = (em_real)lr_d, wd = (em_real)opt->opts.weight_decay;
    const em_real mu = (em_real)opt->opts.momentum;
    const em_real keep = (em_real)(1.0 - opt->opts.dampening);   /* 1 - dampening */
    const bool first = opt->step == 0;
#ifdef EM_EXERCISES
    if (v && !opt->opts.nesterov) {  /* exercise 4 */
        ex_sgd_momentum_step(p, v, g, lr_d, opt->opts.momentum, opt->opts.dampening,
                             opt->opts.weight_decay, first, n);
        opt->step++;
        return;
    }
#endif
    EM_PARALLEL_RANGES(n, (long)n, lo, hi,
                       sgd_update_k(p, v, g, lr, wd, mu, keep, first, opt->opts.nesterov, lo, hi));
    opt->step++;
}

int em_sgd_buffers(em_sgd *opt, em_optim_buf *out) {
    if (!opt->velocity) return 0;
    out[0] = (em_optim_buf){"momentum_buffer", opt->velocity, opt->params.n};
    return 1;
}

/* optim/adam.c — Adam and AdamW (see optim.h for the formulas). The bias corrections are
 * scalars computed once per step in double; the elementwise work is one flat loop, the
 * kernel table's adam (core/ops/update.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim.h"

em_adam_opts em_adam_defaults(void) {
    return (em_adam_opts){.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0,
                          .decoupled = false};
}

em_adam_opts em_adamw_defaults(void) {
    em_adam_opts o = em_adam_defaults();
    o.weight_decay = 0.01;
    o.decoupled = true;
    return o;
}

em_adam *em_adam_new(em_params params, const em_adam_opts *opts, em_error *err) {
    EM_ASSERT(params.data && params.grad);
    em_adam_opts o = opts ? *opts : em_adam_defaults();
    const char *name = o.decoupled ? "AdamW" : "Adam";
    if (!(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1)) {
        em_error_set(err, EM_ERR_ARG, "%s: betas (%g, %g) must lie in [0, 1)", name, o.beta1,
                     o.beta2);
        return NULL;
    }
    if (!(o.eps >= 0) || !(o.weight_decay >= 0)) {
        em_error_set(err, EM_ERR_ARG, "%s: eps %g and weight decay %g must be >= 0", name,
                     o.eps, o.weight_decay);
        return NULL;
    }
    em_adam *a = calloc(1, sizeof *a);
    size_t n = params.n ? params.n : 1;
    if (a) {
        a->exp_avg = calloc(n, sizeof(em_real));
        a->exp_avg_sq = calloc(n, sizeof(em_real));
    }
    if (!a || !a->exp_avg || !a->exp_avg_sq) {
        em_adam_free(a);
        em_error_set(err, EM_ERR_NOMEM, "%s: no memory for the state of %zu parameters", name,
                     params.n);
        return NULL;
    }
    a->params = params;
    a->opts = o;
    if (!a->opts.kernels) a->opts.kernels = em_kernels_default();
    return a;
}

void em_adam_free(em_adam *opt) {
    if (!opt) return;
    free(opt->exp_avg);
    free(opt->exp_avg_sq);
    free(opt);
}

void em_adam_zero_grad(em_adam *opt) {
    memset(opt->params.grad, 0, opt->params.n * sizeof(em_real));
}

void em_adam_step(em_adam *opt, double lr) {
    const em_adam_opts *o = &opt->opts;
    opt->step++;
    const double t = (double)opt->step;
    em_adam_hyper h = {lr, o->beta1, o->beta2, o->eps, o->weight_decay,
                       1 - pow(o->beta1, t), 1 - pow(o->beta2, t), o->decoupled,
                       (long)opt->step};
    o->kernels->adam(opt->params.data, opt->exp_avg, opt->exp_avg_sq, opt->params.grad,
                     opt->params.n, &h);
}

int em_adam_buffers(em_adam *opt, em_optim_buf *out) {
    out[0] = (em_optim_buf){"exp_avg", opt->exp_avg, opt->params.n};
    out[1] = (em_optim_buf){"exp_avg_sq", opt->exp_avg_sq, opt->params.n};
    return 2;
}

/* optim/sgd.c — SGD with momentum, Nesterov, dampening and weight decay (see optim.h for
 * the formulas): the optimizer's state and options; the update itself is one flat loop
 * over the model's parameter block, the kernel table's sgd (core/ops/update.c). */
#include <stdlib.h>
#include <string.h>

#include "optim.h"

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
    if (!s->opts.kernels) s->opts.kernels = em_kernels_default();
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

void em_sgd_step(em_sgd *opt, double lr) {
    const em_sgd_opts *o = &opt->opts;
    em_sgd_hyper h = {lr, o->momentum, o->dampening, o->weight_decay, o->nesterov,
                      opt->step == 0};
    o->kernels->sgd(opt->params.data, opt->velocity, opt->params.grad, opt->params.n, &h);
    opt->step++;
}

int em_sgd_buffers(em_sgd *opt, em_optim_buf *out) {
    if (!opt->velocity) return 0;
    out[0] = (em_optim_buf){"momentum_buffer", opt->velocity, opt->params.n};
    return 1;
}

/* optim/optimizer.c — SGD or Adam(W) behind one face (optimizer.h). */
#include "optimizer.h"

#include <string.h>

em_code em_optimizer_sgd(em_optimizer *o, em_params params, const em_sgd_opts *opts,
                         em_error *err) {
    memset(o, 0, sizeof *o);
    o->sgd = em_sgd_new(params, opts, err);
    return o->sgd ? EM_OK : err->code;
}

em_code em_optimizer_adam(em_optimizer *o, em_params params, const em_adam_opts *opts,
                          em_error *err) {
    memset(o, 0, sizeof *o);
    o->adam = em_adam_new(params, opts, err);
    return o->adam ? EM_OK : err->code;
}

void em_optimizer_free(em_optimizer *o) {
    em_sgd_free(o->sgd);
    em_adam_free(o->adam);
    memset(o, 0, sizeof *o);
}

void em_optimizer_step(em_optimizer *o, double lr) {
    if (o->sgd) em_sgd_step(o->sgd, lr);
    else em_adam_step(o->adam, lr);
}

void em_optimizer_zero_grad(em_optimizer *o) {
    if (o->sgd) em_sgd_zero_grad(o->sgd);
    else em_adam_zero_grad(o->adam);
}

int64_t em_optimizer_steps(const em_optimizer *o) { return o->sgd ? o->sgd->step : o->adam->step; }

void em_optimizer_set_steps(em_optimizer *o, int64_t steps) {
    if (o->sgd) o->sgd->step = steps;
    else o->adam->step = steps;
}

int em_optimizer_buffers(em_optimizer *o, em_optim_buf *out) {
    return o->sgd ? em_sgd_buffers(o->sgd, out) : em_adam_buffers(o->adam, out);
}

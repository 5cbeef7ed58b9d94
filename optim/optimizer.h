/** optim/optimizer.h — SGD or Adam(W) behind one face, for a training loop that takes
 * either (the programs' --optim).
 *
 *     em_optimizer opt;
 *     em_sgd_opts so = em_sgd_defaults();
 *     so.momentum = 0.9;
 *     if (em_optimizer_sgd(&opt, em_module_params(net), &so, &err) != EM_OK) ...
 *     ...forward, em_backward...
 *     em_optimizer_step(&opt, lr);
 *     em_optimizer_zero_grad(&opt);
 *     em_optimizer_free(&opt);
 *
 * It holds exactly one of the two (the other NULL) and forwards every call to it; the
 * update rules are em_sgd's and em_adam's (optim/optim.h).
 *
 * @file
 */
#ifndef EM_OPTIMIZER_H
#define EM_OPTIMIZER_H

#include "optim.h"

/** One of SGD and Adam(W): exactly one member is non-NULL after a constructor. */
typedef struct em_optimizer {
    em_sgd *sgd;            /**< the SGD optimizer, or NULL                             */
    em_adam *adam;          /**< the Adam or AdamW optimizer, or NULL                   */
} em_optimizer;

/** An SGD optimizer behind the face. On failure o is empty and err says why (em_sgd_new).
 * @param o       receives the optimizer
 * @param params  the block to update; it must outlive the optimizer
 * @param opts    the options; NULL: em_sgd_defaults()
 * @param err     filled on failure
 * @return EM_OK, EM_ERR_ARG or EM_ERR_NOMEM */
em_code em_optimizer_sgd(em_optimizer *o, em_params params, const em_sgd_opts *opts,
                         em_error *err);
/** An Adam or AdamW optimizer behind the face (em_adam_new).
 * @param o       receives the optimizer
 * @param params  the block to update; it must outlive the optimizer
 * @param opts    the options; NULL: em_adam_defaults()
 * @param err     filled on failure
 * @return EM_OK, EM_ERR_ARG or EM_ERR_NOMEM */
em_code em_optimizer_adam(em_optimizer *o, em_params params, const em_adam_opts *opts,
                          em_error *err);
/** Free the optimizer it holds; o is empty afterwards (an empty one is allowed).
 * @param o  the optimizer */
void em_optimizer_free(em_optimizer *o);
/** One update at learning rate lr.
 * @param o   the optimizer
 * @param lr  the learning rate of this step */
void em_optimizer_step(em_optimizer *o, double lr);
/** Every gradient of the block set to 0.
 * @param o  the optimizer */
void em_optimizer_zero_grad(em_optimizer *o);
/** The steps taken (Adam's t).
 * @param o  the optimizer
 * @return the count */
int64_t em_optimizer_steps(const em_optimizer *o);
/** Set the steps taken, for a resumed run.
 * @param o      the optimizer
 * @param steps  the count the checkpoint recorded */
void em_optimizer_set_steps(em_optimizer *o, int64_t steps);
/** The state buffers, for checkpoints (em_sgd_buffers, em_adam_buffers).
 * @param o    the optimizer
 * @param out  receives up to 2 buffers
 * @return the count */
int em_optimizer_buffers(em_optimizer *o, em_optim_buf *out);

#endif

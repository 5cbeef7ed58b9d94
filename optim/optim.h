/** optim/optim.h — SGD (momentum, Nesterov, weight decay, dampening), Adam and AdamW, in
 * PyTorch's formulation, on a model's ONE contiguous parameter block.
 *
 *     em_sgd_opts o = em_sgd_defaults();
 *     o.momentum = 0.9; o.nesterov = true; o.weight_decay = 5e-4;
 *     em_error err;
 *     em_sgd *opt = em_sgd_new(em_module_params(net), &o, &err);
 *     if (!opt) { fprintf(stderr, "%s\n", err.msg); return 2; }
 *     em_schedule sched = em_schedule_cosine(0.1, steps_per_epoch, epochs, 0);
 *     for (int64_t step = 0; step < total; step++) {
 *         em_sgd_zero_grad(opt);                       // one memset
 *         ...forward, em_backward...
 *         em_sgd_step(opt, em_schedule_lr(&sched, step));   // one flat loop
 *         em_tape_reset(tape);
 *     }
 *     em_sgd_free(opt);
 *
 * The learning rate is an argument of every step: the schedule (optim/schedule.h) is the
 * one place it lives, and the optimizer holds nothing that a resume would have to guess.
 *
 * Layout. em_module_params() gives data[n] and grad[n]; every state buffer of an optimizer
 * (velocity, exp_avg, exp_avg_sq) is a flat array of the same n in the same order, so a
 * step is one loop over i < n and the state saves as one tensor per buffer. The state a
 * resumed run needs is the buffers plus `step` (the number of steps taken): see
 * em_sgd_buffers / em_adam_buffers and io/checkpoint.h.
 *
 * @file
 */
#ifndef EM_OPTIM_H
#define EM_OPTIM_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/errors.h"
#include "../core/kernels.h"
#include "../core/tensor.h"

/** A named state buffer of an optimizer: n elements laid out like the parameter block. */
typedef struct em_optim_buf {
    const char *name;       /**< PyTorch's state name: "momentum_buffer", "exp_avg", ... */
    em_real *data;          /**< n values, element i belonging to parameter i             */
    size_t n;               /**< the parameter block's n                                  */
} em_optim_buf;

/* ---- SGD ------------------------------------------------------------------------------- */
/** SGD's options. For every parameter p with gradient g, at learning rate lr (PyTorch's
 * torch.optim.SGD):
 *
 *     g = g + wd * p                               weight decay (L2), added to the gradient
 *     v = g                                        first step (no dampening on it)
 *     v = mu * v + (1 - dampening) * g             later steps
 *     u = g + mu * v   (Nesterov)   or   u = v     (mu = 0: u = g, no buffer at all)
 *     p = p - lr * u
 */
typedef struct em_sgd_opts {
    double momentum;        /**< mu, default 0                                           */
    double dampening;       /**< default 0; Nesterov needs 0                             */
    double weight_decay;    /**< wd, default 0                                           */
    bool nesterov;          /**< default false; needs momentum > 0                       */
    const em_kernels *kernels; /**< the tier of the update (core/kernels.h); NULL:
                                    em_kernels_default()                                */
} em_sgd_opts;

/** An SGD optimizer over one parameter block. */
typedef struct em_sgd {
    em_params params;       /**< the model's block (not owned)                           */
    em_sgd_opts opts;       /**< the options it was made with                            */
    em_real *velocity;      /**< (n) v; NULL when momentum == 0                           */
    int64_t step;           /**< steps taken; 0 means v is not yet initialized          */
} em_sgd;

/** SGD's defaults: plain SGD, as PyTorch's.
 * @return momentum 0, dampening 0, weight decay 0, no Nesterov */
em_sgd_opts em_sgd_defaults(void);
/** NULL with err set: EM_ERR_ARG for impossible options (negative values, Nesterov
 * without momentum or with dampening), EM_ERR_NOMEM.
 * @param params  the block to update (em_module_params()); it must outlive the optimizer
 * @param opts    the options; NULL: em_sgd_defaults()
 * @param err     filled on failure
 * @return the optimizer, or NULL */
em_sgd *em_sgd_new(em_params params, const em_sgd_opts *opts, em_error *err);
/** Free the optimizer and its velocity (not the parameters).
 * @param opt  the optimizer; NULL is allowed and does nothing */
void em_sgd_free(em_sgd *opt);
/** one update of every parameter at learning rate lr, from the gradients as they are
 * @param opt  the optimizer
 * @param lr   the learning rate of this step (optim/schedule.h) */
void em_sgd_step(em_sgd *opt, double lr);
/** grad[0..n) = 0: one memset for the whole model
 * @param opt  the optimizer */
void em_sgd_zero_grad(em_sgd *opt);
/** The state buffers, for checkpoints: "momentum_buffer" (0 buffers when momentum == 0).
 * out must hold 1 entry. Returns the count.
 * @param opt  the optimizer
 * @param out  receives the buffers
 * @return 0 or 1 */
int em_sgd_buffers(em_sgd *opt, em_optim_buf *out);

/* ---- Adam and AdamW -------------------------------------------------------------------- */
/** Adam's and AdamW's options. PyTorch's torch.optim.Adam / AdamW, at step t = 1, 2, ...
 * and learning rate lr:
 *
 *     Adam:   g = g + wd * p                       (L2 added to the gradient)
 *     AdamW:  p = p - lr * wd * p                  (decoupled decay, before the update)
 *     m = beta1 * m + (1 - beta1) * g              exp_avg
 *     v = beta2 * v + (1 - beta2) * g * g          exp_avg_sq
 *     denom = sqrt(v) / sqrt(1 - beta2^t) + eps
 *     p = p - (lr / (1 - beta1^t)) * m / denom      bias-corrected step
 */
typedef struct em_adam_opts {
    double beta1;           /**< default 0.9                                             */
    double beta2;           /**< default 0.999                                           */
    double eps;             /**< default 1e-8 (outside the square root, as PyTorch)      */
    double weight_decay;    /**< Adam: default 0; AdamW: default 0.01                    */
    bool decoupled;         /**< true: AdamW                                             */
    const em_kernels *kernels; /**< the tier of the update (core/kernels.h); NULL:
                                    em_kernels_default()                                */
} em_adam_opts;

/** An Adam or AdamW optimizer over one parameter block. */
typedef struct em_adam {
    em_params params;       /**< the model's block (not owned)                           */
    em_adam_opts opts;      /**< the options it was made with                            */
    em_real *exp_avg;       /**< (n) m                                                    */
    em_real *exp_avg_sq;    /**< (n) v                                                    */
    int64_t step;           /**< t: steps taken                                          */
} em_adam;

/** Adam's defaults, as PyTorch's.
 * @return betas (0.9, 0.999), eps 1e-8, weight decay 0, not decoupled */
em_adam_opts em_adam_defaults(void);
/** AdamW's defaults, as PyTorch's.
 * @return betas (0.9, 0.999), eps 1e-8, weight decay 0.01, decoupled */
em_adam_opts em_adamw_defaults(void);
/** NULL with err set: EM_ERR_ARG (betas outside [0, 1), eps or weight decay negative),
 * EM_ERR_NOMEM.
 * @param params  the block to update; it must outlive the optimizer
 * @param opts    the options; NULL: em_adam_defaults()
 * @param err     filled on failure
 * @return the optimizer, or NULL */
em_adam *em_adam_new(em_params params, const em_adam_opts *opts, em_error *err);
/** Free the optimizer and its moment buffers (not the parameters).
 * @param opt  the optimizer; NULL is allowed and does nothing */
void em_adam_free(em_adam *opt);
/** one update of every parameter at learning rate lr (t advances by one)
 * @param opt  the optimizer
 * @param lr   the learning rate of this step */
void em_adam_step(em_adam *opt, double lr);
/** grad[0..n) = 0: one memset for the whole model
 * @param opt  the optimizer */
void em_adam_zero_grad(em_adam *opt);
/** "exp_avg" and "exp_avg_sq"; out must hold 2 entries. Returns 2.
 * @param opt  the optimizer
 * @param out  receives the buffers
 * @return 2 */
int em_adam_buffers(em_adam *opt, em_optim_buf *out);

#endif

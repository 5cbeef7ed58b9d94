/** optim/schedule.h — learning-rate schedules as pure functions of the step.
 *
 *     // 90 epochs of 391 steps: lr 0.1, x0.1 at epochs 30, 60 and 80, 5 epochs of warm-up
 *     em_schedule s = em_schedule_multistep(0.1, 391, 3, (int64_t[]){30, 60, 80}, 0.1);
 *     s = em_schedule_with_warmup(s, 5 * 391, 0.01);
 *     em_error err;
 *     if (em_schedule_check(&s, &err) != EM_OK) ...print err.msg...
 *     for (int64_t step = 0; step < 90 * 391; step++)
 *         em_sgd_step(opt, em_schedule_lr(&s, step));
 *
 * A schedule is a value, not an object: em_schedule_lr(s, step) depends on nothing but its
 * arguments, so a resumed run needs only the step count to continue on the same curve.
 * Epochs are counted as epoch = floor(step / steps_per_epoch), from the start of the run.
 *
 *   constant    lr(t) = lr
 *   step        lr(t) = lr * gamma^floor(epoch / every)                 (PyTorch StepLR)
 *   multistep   lr(t) = lr * gamma^(number of milestones <= epoch)     (MultiStepLR)
 *   cosine      per step, T = total_epochs * steps_per_epoch:          (CosineAnnealingLR)
 *               lr(t) = min_lr + (lr - min_lr) * (1 + cos(pi * t / T)) / 2,  min_lr for t >= T
 *   warm-up     in front of any of them, for t < W = warmup_steps:     (LinearLR, chained)
 *               lr(t) = inner(t) * (f0 + (1 - f0) * t / W)
 *
 * The warm-up multiplies the inner schedule (PyTorch's ChainedScheduler of LinearLR and the
 * other), so the curve is continuous at t = W and the inner schedule keeps the run's clock.
 *
 * @file
 */
#ifndef EM_SCHEDULE_H
#define EM_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/errors.h"

/** The shape of a schedule (the formulas above). */
typedef enum em_schedule_kind {
    EM_SCHEDULE_CONSTANT,          /**< lr(t) = lr                                        */
    EM_SCHEDULE_STEP,              /**< x gamma every `every` epochs (StepLR)             */
    EM_SCHEDULE_MULTISTEP,         /**< x gamma at each milestone epoch (MultiStepLR)     */
    EM_SCHEDULE_COSINE,            /**< cosine annealing to min_lr (CosineAnnealingLR)    */
} em_schedule_kind;

/** The most milestones of a multi-step schedule. */
#define EM_SCHEDULE_MAX_MILESTONES 16

/** A learning-rate schedule: a value; make it with the functions below. */
typedef struct em_schedule {
    em_schedule_kind kind;         /**< the shape                                            */
    double lr;                     /**< the base learning rate                               */
    int64_t steps_per_epoch;       /**< > 0                                                  */
    double gamma;                  /**< step, multistep: factor per decay                    */
    int64_t every;                 /**< step: decay every this many epochs                   */
    int n_milestones;              /**< multistep: epochs where lr *= gamma, ascending       */
    int64_t milestones[EM_SCHEDULE_MAX_MILESTONES];  /**< multistep: the n_milestones epochs */
    int64_t total_epochs;          /**< cosine: the length of the annealing                  */
    double min_lr;                 /**< cosine: eta_min                                      */
    int64_t warmup_steps;          /**< W: linear warm-up in front (0: none)                 */
    double warmup_start;           /**< f0: the warm-up factor at step 0, in [0, 1]          */
} em_schedule;

/** lr(t) = lr
 * @param lr  the learning rate
 * @return the schedule */
em_schedule em_schedule_constant(double lr);
/** lr(t) = lr * gamma^floor(epoch / every)
 * @param lr               the base learning rate
 * @param steps_per_epoch  optimizer steps in an epoch
 * @param every            epochs between decays
 * @param gamma            the factor per decay
 * @return the schedule (check it with em_schedule_check()) */
em_schedule em_schedule_step(double lr, int64_t steps_per_epoch, int64_t every, double gamma);
/** lr(t) = lr * gamma^(number of milestones <= epoch).
 * n <= EM_SCHEDULE_MAX_MILESTONES (more is a programmer error)
 * @param lr               the base learning rate
 * @param steps_per_epoch  optimizer steps in an epoch
 * @param n                number of milestones
 * @param milestones       n epochs, ascending
 * @param gamma            the factor per milestone
 * @return the schedule */
em_schedule em_schedule_multistep(double lr, int64_t steps_per_epoch, int n,
                                  const int64_t *milestones, double gamma);
/** Cosine annealing from lr to min_lr over total_epochs * steps_per_epoch steps.
 * @param lr               the learning rate at step 0
 * @param steps_per_epoch  optimizer steps in an epoch
 * @param total_epochs     the length of the annealing, in epochs
 * @param min_lr           the learning rate at the end and after it
 * @return the schedule */
em_schedule em_schedule_cosine(double lr, int64_t steps_per_epoch, int64_t total_epochs,
                               double min_lr);
/** s with a linear warm-up over its first `steps` steps from start_factor * lr(t)
 * @param s             the inner schedule
 * @param steps         W, the warm-up's length in steps
 * @param start_factor  f0, the factor at step 0, in [0, 1]
 * @return s with the warm-up */
em_schedule em_schedule_with_warmup(em_schedule s, int64_t steps, double start_factor);

/** EM_ERR_ARG with a message when the values are impossible (lr < 0, steps_per_epoch < 1,
 * gamma <= 0, every < 1, milestones not ascending, total_epochs < 1, ...).
 * @param s    the schedule
 * @param err  filled when it is impossible
 * @return EM_OK or EM_ERR_ARG */
em_code em_schedule_check(const em_schedule *s, em_error *err);

/** The learning rate at step t = 0, 1, 2, ...
 * @param s  the schedule
 * @param t  the step, counted from the start of the run
 * @return the learning rate */
double em_schedule_lr(const em_schedule *s, int64_t t);

/** "cosine(lr=0.1, total_epochs=90, min_lr=0) with 1955 warm-up steps from x0.01": for
 * logs and checkpoint metadata.
 * @param s    the schedule
 * @param buf  the destination, always terminated
 * @param len  bytes available at buf
 * @return buf */
char *em_schedule_describe(const em_schedule *s, char *buf, size_t len);

#endif

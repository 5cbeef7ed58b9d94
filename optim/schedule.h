/* optim/schedule.h — learning-rate schedules as pure functions of the step.
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
 */
#ifndef EM_SCHEDULE_H
#define EM_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "../core/errors.h"

typedef enum em_schedule_kind {
    EM_SCHEDULE_CONSTANT,
    EM_SCHEDULE_STEP,
    EM_SCHEDULE_MULTISTEP,
    EM_SCHEDULE_COSINE,
} em_schedule_kind;

#define EM_SCHEDULE_MAX_MILESTONES 16

typedef struct em_schedule {
    em_schedule_kind kind;
    double lr;                     /* the base learning rate                                 */
    int64_t steps_per_epoch;       /* > 0                                                    */
    double gamma;                  /* step, multistep: factor per decay                      */
    int64_t every;                 /* step: decay every this many epochs                     */
    int n_milestones;              /* multistep: epochs where lr *= gamma, ascending         */
    int64_t milestones[EM_SCHEDULE_MAX_MILESTONES];
    int64_t total_epochs;          /* cosine: the length of the annealing                    */
    double min_lr;                 /* cosine: eta_min                                        */
    int64_t warmup_steps;          /* W: linear warm-up in front (0: none)                   */
    double warmup_start;           /* f0: the warm-up factor at step 0, in [0, 1]            */
} em_schedule;

em_schedule em_schedule_constant(double lr);
em_schedule em_schedule_step(double lr, int64_t steps_per_epoch, int64_t every, double gamma);
/* n <= EM_SCHEDULE_MAX_MILESTONES (more is a programmer error) */
em_schedule em_schedule_multistep(double lr, int64_t steps_per_epoch, int n,
                                  const int64_t *milestones, double gamma);
em_schedule em_schedule_cosine(double lr, int64_t steps_per_epoch, int64_t total_epochs,
                               double min_lr);
/* s with a linear warm-up over its first `steps` steps from start_factor * lr(t) */
em_schedule em_schedule_with_warmup(em_schedule s, int64_t steps, double start_factor);

/* EM_ERR_ARG with a message when the values are impossible (lr < 0, steps_per_epoch < 1,
 * gamma <= 0, every < 1, milestones not ascending, total_epochs < 1, ...). */
em_code em_schedule_check(const em_schedule *s, em_error *err);

/* The learning rate at step t = 0, 1, 2, ... */
double em_schedule_lr(const em_schedule *s, int64_t t);

/* "cosine(lr=0.1, total_epochs=90, min_lr=0) with 1955 warm-up steps from x0.01": for
 * logs and checkpoint metadata. */
char *em_schedule_describe(const em_schedule *s, char *buf, size_t len);

#endif

/* optim/schedule.c — learning-rate schedules (formulas in schedule.h). */
#include "schedule.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static em_schedule base(em_schedule_kind kind, double lr, int64_t steps_per_epoch) {
    em_schedule s;
    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.lr = lr;
    s.steps_per_epoch = steps_per_epoch;
    s.gamma = 1;
    s.warmup_start = 1;
    return s;
}

em_schedule em_schedule_constant(double lr) { return base(EM_SCHEDULE_CONSTANT, lr, 1); }

em_schedule em_schedule_step(double lr, int64_t steps_per_epoch, int64_t every, double gamma) {
    em_schedule s = base(EM_SCHEDULE_STEP, lr, steps_per_epoch);
    s.every = every;
    s.gamma = gamma;
    return s;
}

em_schedule em_schedule_multistep(double lr, int64_t steps_per_epoch, int n,
                                  const int64_t *milestones, double gamma) {
    EM_ASSERT_MSG(n >= 0 && n <= EM_SCHEDULE_MAX_MILESTONES, "too many milestones");
    em_schedule s = base(EM_SCHEDULE_MULTISTEP, lr, steps_per_epoch);
    s.n_milestones = n;
    if (n) memcpy(s.milestones, milestones, (size_t)n * sizeof *milestones);
    s.gamma = gamma;
    return s;
}

em_schedule em_schedule_cosine(double lr, int64_t steps_per_epoch, int64_t total_epochs,
                               double min_lr) {
    em_schedule s = base(EM_SCHEDULE_COSINE, lr, steps_per_epoch);
    s.total_epochs = total_epochs;
    s.min_lr = min_lr;
    return s;
}

em_schedule em_schedule_with_warmup(em_schedule s, int64_t steps, double start_factor) {
    s.warmup_steps = steps;
    s.warmup_start = start_factor;
    return s;
}

em_code em_schedule_check(const em_schedule *s, em_error *err) {
    if (!(s->lr >= 0) || !isfinite(s->lr))
        return em_error_set(err, EM_ERR_ARG, "schedule: learning rate %g must be >= 0", s->lr);
    if (s->steps_per_epoch < 1)
        return em_error_set(err, EM_ERR_ARG, "schedule: steps per epoch %lld must be >= 1",
                            (long long)s->steps_per_epoch);
    if ((s->kind == EM_SCHEDULE_STEP || s->kind == EM_SCHEDULE_MULTISTEP) && !(s->gamma > 0))
        return em_error_set(err, EM_ERR_ARG, "schedule: gamma %g must be > 0", s->gamma);
    if (s->kind == EM_SCHEDULE_STEP && s->every < 1)
        return em_error_set(err, EM_ERR_ARG, "schedule: decay every %lld epochs: must be >= 1",
                            (long long)s->every);
    if (s->kind == EM_SCHEDULE_MULTISTEP) {
        if (s->n_milestones < 0 || s->n_milestones > EM_SCHEDULE_MAX_MILESTONES)
            return em_error_set(err, EM_ERR_ARG, "schedule: %d milestones (at most %d)",
                                s->n_milestones, EM_SCHEDULE_MAX_MILESTONES);
        for (int i = 0; i < s->n_milestones; i++)
            if (s->milestones[i] < 0 || (i > 0 && s->milestones[i] <= s->milestones[i - 1]))
                return em_error_set(err, EM_ERR_ARG, "schedule: milestones must be >= 0 and "
                                    "strictly ascending (milestone %d is %lld)", i,
                                    (long long)s->milestones[i]);
    }
    if (s->kind == EM_SCHEDULE_COSINE && (s->total_epochs < 1 || !(s->min_lr >= 0)))
        return em_error_set(err, EM_ERR_ARG, "schedule: cosine needs total epochs >= 1 (got "
                            "%lld) and min lr >= 0 (got %g)", (long long)s->total_epochs,
                            s->min_lr);
    if (s->warmup_steps < 0 || !(s->warmup_start >= 0 && s->warmup_start <= 1))
        return em_error_set(err, EM_ERR_ARG, "schedule: warm-up of %lld steps from factor %g: "
                            "steps must be >= 0 and the factor in [0, 1]",
                            (long long)s->warmup_steps, s->warmup_start);
    if (s->kind > EM_SCHEDULE_COSINE)
        return em_error_set(err, EM_ERR_ARG, "schedule: unknown kind %d", (int)s->kind);
    return EM_OK;
}

static double inner_lr(const em_schedule *s, int64_t t) {
    const double pi = 3.14159265358979323846;
    int64_t epoch = t / s->steps_per_epoch;
    switch (s->kind) {
    case EM_SCHEDULE_STEP:                        /* lr * gamma^floor(epoch / every) */
        return s->lr * pow(s->gamma, (double)(epoch / s->every));
    case EM_SCHEDULE_MULTISTEP: {                 /* lr * gamma^#(milestones <= epoch) */
        int passed = 0;
        while (passed < s->n_milestones && s->milestones[passed] <= epoch) passed++;
        return s->lr * pow(s->gamma, passed);
    }
    case EM_SCHEDULE_COSINE: {                    /* min + (lr - min)(1 + cos(pi t / T)) / 2 */
        int64_t T = s->total_epochs * s->steps_per_epoch;
        if (t >= T) return s->min_lr;
        return s->min_lr + (s->lr - s->min_lr) * (1 + cos(pi * (double)t / (double)T)) / 2;
    }
    case EM_SCHEDULE_CONSTANT:
    default:
        return s->lr;
    }
}

double em_schedule_lr(const em_schedule *s, int64_t t) {
    EM_ASSERT(t >= 0 && s->steps_per_epoch > 0);
    double lr = inner_lr(s, t);
    if (t < s->warmup_steps)                      /* * (f0 + (1 - f0) t / W) */
        lr *= s->warmup_start + (1 - s->warmup_start) * (double)t / (double)s->warmup_steps;
    return lr;
}

char *em_schedule_describe(const em_schedule *s, char *buf, size_t len) {
    int k = 0;
    switch (s->kind) {
    case EM_SCHEDULE_STEP:
        k = snprintf(buf, len, "step(lr=%g, x%g every %lld epochs)", s->lr, s->gamma,
                     (long long)s->every);
        break;
    case EM_SCHEDULE_MULTISTEP:
        k = snprintf(buf, len, "multistep(lr=%g, x%g at epochs", s->lr, s->gamma);
        for (int i = 0; i < s->n_milestones && k >= 0 && (size_t)k < len; i++)
            k += snprintf(buf + k, len - (size_t)k, "%s%lld", i ? "," : " ",
                          (long long)s->milestones[i]);
        if (k >= 0 && (size_t)k < len) k += snprintf(buf + k, len - (size_t)k, ")");
        break;
    case EM_SCHEDULE_COSINE:
        k = snprintf(buf, len, "cosine(lr=%g, total_epochs=%lld, min_lr=%g)", s->lr,
                     (long long)s->total_epochs, s->min_lr);
        break;
    case EM_SCHEDULE_CONSTANT:
    default:
        k = snprintf(buf, len, "constant(lr=%g)", s->lr);
        break;
    }
    if (s->warmup_steps > 0 && k >= 0 && (size_t)k < len)
        snprintf(buf + k, len - (size_t)k, " with %lld warm-up steps from x%g",
                 (long long)s->warmup_steps, s->warmup_start);
    return buf;
}

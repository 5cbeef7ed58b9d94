/* tests/test_faults.c — faults injected into the training loop (examples/common/train.c):
 * a NaN or Inf in the input batch, a NaN gradient under a finite loss, a weight that the
 * update turns into Inf, an exploding learning rate, and an allocation that fails inside a
 * step. Each stops the run at the step where it appears — status 3 (diverged) for the
 * numerical faults, 1 for the allocation — without applying that step's update. */
#include "examples/common/train.h"
#include "helpers.h"

#include <stdlib.h>
#include <string.h>

/* ---- a small learnable 28x28 set: class k is a bright band at rows 2k..2k+3 ------------- */

static void make_set(em_dataset *ds, size_t n, uint64_t seed) {
    em_error err;
    cr_assert_eq(em_dataset_alloc(ds, "bands", n, 1, 28, 28, &err), EM_OK, "%s", err.msg);
    em_rng rng;
    em_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) {
        int k = (int)em_rng_below(&rng, 10);
        ds->labels[i] = (uint8_t)k;
        uint8_t *px = ds->pixels + i * 784;
        for (int p = 0; p < 784; p++) {
            int row = p / 28;
            px[p] = (uint8_t)(em_rng_below(&rng, 60) + (row >= 2 * k && row < 2 * k + 4 ? 150 : 0));
        }
    }
    cr_assert_eq(em_dataset_number_names(ds, 10, &err), EM_OK, "%s", err.msg);
}

typedef struct fixture {
    em_dataset train, test;
    em_config cfg;
    em_trainer t;
} fixture;

static void setup(fixture *f, const char *model, int batch, long steps) {
    memset(f, 0, sizeof *f);
    make_set(&f->train, 640, 1);
    make_set(&f->test, 64, 2);
    em_config_defaults(&f->cfg, EM_PROGRAM_MNIST);
    snprintf(f->cfg.model, sizeof f->cfg.model, "%s", model);
    f->cfg.batch = batch;
    f->cfg.steps = steps;
    f->cfg.quiet = true;
    snprintf(f->cfg.schedule, sizeof f->cfg.schedule, "const");
}

static void init_trainer(fixture *f) {
    em_error err;
    cr_assert_eq(em_trainer_init(&f->t, &f->cfg, &f->train, &f->test, NULL, &err), EM_OK, "%s",
                 err.msg);
    f->t.silent = true;
}

static void teardown(fixture *f) {
    em_trainer_free(&f->t);
    em_dataset_free(&f->train);
    em_dataset_free(&f->test);
}

static bool params_finite(em_trainer *t) {
    em_params p = em_module_params(t->net);
    for (size_t i = 0; i < p.n; i++)
        if (!isfinite(p.data[i])) return false;
    return true;
}

/* ---- input ------------------------------------------------------------------------------ */

typedef struct poison {
    long at_step;     /* poison the batch of this step (1-based)  */
    em_real value;
} poison;

static void poison_input(void *ctx, em_trainer *t, int n) {
    const poison *p = ctx;
    cr_assert(n > 0);
    if (t->step + 1 == p->at_step) t->x->data[t->x->size / 2] = p->value;
}

Test(faults, nan_or_inf_in_the_input_stops_at_that_step) {
    const em_real values[] = {(em_real)NAN, (em_real)INFINITY, -(em_real)INFINITY};
    for (int i = 0; i < 3; i++) {
        fixture f;
        setup(&f, "mlp", 16, 30);
        init_trainer(&f);
        poison p = {7 + i, values[i]};
        f.t.batch_hook = poison_input;
        f.t.batch_ctx = &p;
        em_run_result r;
        em_trainer_run(&f.t, &r);
        cr_assert_eq(r.status, 3, "value %g: status %d", (double)values[i], r.status);
        cr_assert_eq(r.diverged_step, p.at_step, "detected at step %ld, injected at %ld",
                     r.diverged_step, p.at_step);
        cr_assert(strstr(r.diverged_what, "input"), "%s", r.diverged_what);
        cr_assert_eq(f.t.step, p.at_step - 1, "the poisoned step was taken");
        cr_assert(params_finite(&f.t), "NaN reached the weights");
        teardown(&f);
    }
}

/* ---- gradients -------------------------------------------------------------------------- */

/* identity in the forward; on its at-th call, y = x + sqrt(0 * x): the same values, but the
 * backward of sqrt at 0 is infinite and 0 * Inf makes every input gradient NaN, while the
 * loss stays finite (sqrt at 0 is a real source of this, e.g. a norm of a zero vector) */
typedef struct trap {
    em_module base;
    int calls, at;
} trap;

static em_tensor *trap_forward(em_module *m, em_tape *tape, em_tensor *x) {
    trap *tr = (trap *)m;
    if (++tr->calls != tr->at) return em_mul_scalar(tape, x, 1);
    return em_add(tape, x, em_sqrt(tape, em_mul_scalar(tape, x, 0)));
}

static void trap_free(em_module *m) { free(m); }

static const em_module_ops trap_ops = {.kind = "Trap", .forward = trap_forward,
                                       .free = trap_free};

Test(faults, nan_gradient_under_a_finite_loss_stops_before_the_update) {
    fixture f;
    setup(&f, "mlp", 16, 30);
    trap *tr = calloc(1, sizeof *tr);
    cr_assert_not_null(tr);
    tr->base.ops = &trap_ops;
    tr->base.training = true;
    tr->at = 5;
    em_module *net = em_sequential_new(3, (em_module *[]){em_flatten_new(),
                                                          em_linear_new(784, 10, true),
                                                          &tr->base});
    cr_assert_not_null(net);
    em_error err;
    cr_assert_eq(em_trainer_init_net(&f.t, &f.cfg, &f.train, &f.test, net, (int[]){1, 28, 28},
                                     "trap", NULL, &err), EM_OK, "%s", err.msg);
    f.t.silent = true;
    em_run_result r;
    em_trainer_run(&f.t, &r);
    cr_assert_eq(r.status, 3);
    cr_assert_eq(r.diverged_step, 5);
    cr_assert(strstr(r.diverged_what, "gradient"), "%s", r.diverged_what);
    cr_assert(isfinite(r.diverged_loss), "the loss was finite: %g", r.diverged_loss);
    cr_assert_eq(f.t.step, 4);
    cr_assert(params_finite(&f.t), "the NaN gradient was applied");
    teardown(&f);
}

/* ---- weights and learning rate ------------------------------------------------------------ */

/* after step 3, an Inf in the momentum buffer: step 4's input, loss and gradients are
 * finite, its update is not */
static void poison_velocity(void *ctx, em_trainer *t, const em_step_info *info) {
    (void)ctx;
    if (info->step == 3) t->opt.sgd->velocity[0] = (em_real)INFINITY;
}

Test(faults, update_that_makes_a_weight_inf_is_caught_at_that_step) {
    fixture f;
    setup(&f, "mlp", 16, 30);
    init_trainer(&f);
    f.t.hook = poison_velocity;
    em_run_result r;
    em_trainer_run(&f.t, &r);
    cr_assert_eq(r.status, 3);
    cr_assert_eq(r.diverged_step, 4);
    cr_assert(strstr(r.diverged_what, "weight"), "%s", r.diverged_what);
    cr_assert(isfinite(r.diverged_loss));
    teardown(&f);
}

Test(faults, exploding_learning_rate_diverges_by_the_step_after_the_first_update) {
    const double lrs[] = {1e30, 1e10};
    for (int i = 0; i < 2; i++) {
        fixture f;
        setup(&f, "mlp", 16, 30);
        f.cfg.bn = false;
        f.cfg.lr = lrs[i];
        init_trainer(&f);
        em_run_result r;
        em_trainer_run(&f.t, &r);
        cr_assert_eq(r.status, 3, "lr %g: status %d", lrs[i], r.status);
        cr_assert(r.diverged_step >= 1 && r.diverged_step <= 2, "lr %g: diverged at step %ld",
                  lrs[i], r.diverged_step);
        cr_assert_not_null(r.diverged_what);
        teardown(&f);
    }
}

/* ---- memory ----------------------------------------------------------------------------------- */

/* the step's arena cannot grow (the first chunk is 1 MiB; mnist-cnn's first convolution
 * alone needs 1.6 MiB for a batch of 32): the step fails with an error, nothing crashes,
 * no update is applied, and the trainer still frees cleanly */
Test(faults, allocation_failure_inside_a_step_is_an_error) {
    fixture f;
    setup(&f, "cnn", 32, 5);
    init_trainer(&f);
    em_arena *a = f.t.tape->arena;
    a->fail_after = a->chunk_allocs + 1;
    em_params p = em_module_params(f.t.net);
    em_real *before = malloc(p.n * sizeof *before);
    memcpy(before, p.data, p.n * sizeof *before);
    em_run_result r;
    em_trainer_run(&f.t, &r);
    cr_assert_eq(r.status, 1);
    cr_assert(strstr(r.error, "step 1 failed") && strstr(r.error, "out of memory"), "%s",
              r.error);
    cr_assert_eq(f.t.step, 0);
    cr_assert(!memcmp(before, p.data, p.n * sizeof *before), "weights changed");
    /* and with memory back, the same trainer trains */
    a->fail_after = 0;
    f.t.total_steps = 2;
    em_trainer_run(&f.t, &r);
    cr_assert_eq(r.status, 0, "%s", r.error);
    cr_assert_eq(f.t.step, 2);
    free(before);
    teardown(&f);
}

/* ---- the memory estimate ---------------------------------------------------------------- */

static bool same_state(void *ctx, const char *name, const em_entry *e) {
    (void)name;
    const em_real **at = ctx;
    if (e->kind == EM_ENTRY_COUNTER) return *e->counter == 0;   /* no forward counted */
    for (size_t i = 0; i < e->tensor->size; i++)
        if (memcmp(&e->tensor->data[i], (*at)++, sizeof(em_real))) return false;
    return true;
}

static bool copy_state(void *ctx, const char *name, const em_entry *e) {
    (void)name;
    em_real **at = ctx;
    if (e->kind != EM_ENTRY_COUNTER) {
        memcpy(*at, e->tensor->data, e->tensor->size * sizeof(em_real));
        *at += e->tensor->size;
    }
    return true;
}

/* the estimate predicts the first real step's arena high-water mark (it is linear in the
 * batch), and measuring it leaves the model's state, counters and gradients untouched */
Test(faults, step_memory_estimate_matches_the_step_and_changes_nothing) {
    const int batches[] = {16, 64};
    for (int i = 0; i < 2; i++) {
        fixture f;
        setup(&f, "cnn", batches[i], 1);
        init_trainer(&f);
        em_real *state = malloc(2 * 1024 * 1024 * sizeof *state), *at = state;
        em_module_visit(f.t.net, copy_state, &at);
        size_t bytes;
        em_error err;
        cr_assert_eq(em_trainer_step_bytes(&f.t, (size_t)batches[i], &bytes, &err), EM_OK, "%s",
                     err.msg);
        const em_real *cmp = state;
        cr_assert(em_module_visit(f.t.net, same_state, &cmp), "the estimate changed the model");
        em_params p = em_module_params(f.t.net);
        for (size_t k = 0; k < p.n; k++) cr_assert_eq(p.grad[k], 0, "gradient %zu left", k);
        em_run_result r;
        em_trainer_run(&f.t, &r);
        cr_assert_eq(r.status, 0, "%s", r.error);
        size_t real = f.t.tape->arena->high_water;
        cr_assert(bytes >= real * 95 / 100 && bytes <= real * 105 / 100,
                  "batch %d: estimated %zu bytes, the step used %zu", batches[i], bytes, real);
        free(state);
        teardown(&f);
    }
}

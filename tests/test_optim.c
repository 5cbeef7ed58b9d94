/* tests/test_optim.c — SGD, Adam, AdamW and the learning-rate schedules against PyTorch:
 * optim.emfx (tools/fixtures/gen_optim.py) holds 5-step trajectories of torch.optim on a
 * small parameter vector with given gradients and a learning rate that changes every step,
 * and the learning rates of PyTorch's schedulers. */
#include "fixture.h"
#include "helpers.h"
#include "optim/optimizer.h"

/* The fixture is the exact (float64) answer for float32 inputs. After every step the
 * parameter vector (and at the end each state buffer) must agree to REL relative, measured
 * normwise as the other golden tests do: max_i |got_i - want_i| / max_i |want_i| (an element
 * that cancels to near zero cannot keep float32's relative precision of itself; PyTorch's
 * own float32 result does not either). The elementwise error is reported beside it. */
#ifdef EM_DOUBLE
#define REL 1e-12
#else
#define REL 1e-6
#endif

/* normwise relative error of got against want's elements [from, from + n) */
static double norm_err(const em_real *got, const fx_tensor *want, size_t from, size_t n) {
    double scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++) {
        scale = fmax(scale, fabs(want->data[from + i]));
        worst = fmax(worst, fabs(got[i] - want->data[from + i]));
    }
    return scale > 0 ? worst / scale : worst;
}

/* elementwise: max_i |got_i - want_i| / max(|want_i|, 1e-3 max|want|), for the report */
static double elem_err(const em_real *got, const fx_tensor *want, size_t from, size_t n) {
    double scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(want->data[from + i]));
    for (size_t i = 0; i < n; i++) {
        double w = want->data[from + i];
        worst = fmax(worst, fabs(got[i] - w) / fmax(fabs(w), 1e-3 * scale));
    }
    return worst;
}

typedef struct errs {
    double norm, elem;
} errs;

static void errs_add(errs *e, const em_real *got, const fx_tensor *want, size_t from, size_t n) {
    e->norm = fmax(e->norm, norm_err(got, want, from, n));
    e->elem = fmax(e->elem, elem_err(got, want, from, n));
}

typedef struct block {
    em_real *data, *grad;
    size_t n;
} block;

static block block_new(const fx_tensor *p0) {
    block b = {calloc(p0->size, sizeof(em_real)), calloc(p0->size, sizeof(em_real)), p0->size};
    cr_assert(b.data && b.grad);
    for (size_t i = 0; i < b.n; i++) b.data[i] = (em_real)p0->data[i];
    return b;
}

static em_params params_of(block *b) { return (em_params){b->data, b->grad, b->n}; }

static void set_grad(block *b, const fx_tensor *g, int step) {
    for (size_t i = 0; i < b->n; i++) b->grad[i] = (em_real)g->data[(size_t)step * b->n + i];
}

static void check_step(const char *c, int step, block *b, const fx_tensor *p, errs *e) {
    double n = norm_err(b->data, p, (size_t)step * b->n, b->n);
    cr_assert(n <= REL, "%s step %d: parameters differ from PyTorch by %.3g relative", c,
              step + 1, n);
    errs_add(e, b->data, p, (size_t)step * b->n, b->n);
}

static void check_buf(const char *c, const char *buf, const em_real *got, const fixture *fx,
                      errs *e) {
    char key[96];
    snprintf(key, sizeof key, "%s.%s", c, buf);
    const fx_tensor *want = fixture_get(fx, key);
    double n = norm_err(got, want, 0, want->size);
    cr_assert(n <= REL, "%s differs from PyTorch by %.3g relative", key, n);
    errs_add(e, got, want, 0, want->size);
}

static void report(const char *c, const errs *e) {
    printf("%-16s (%s) max rel err vs PyTorch over 5 steps: %.2g (elementwise %.2g)\n", c,
           EM_REAL_NAME, e->norm, e->elem);
}

#define K(c, s) (snprintf(key, sizeof key, "%s.%s", c, s), key)

static void run_sgd(const fixture *fx, const char *c) {
    char key[96];
    const fx_tensor *hp = fixture_get(fx, K(c, "hp")), *lr = fixture_get(fx, K(c, "lr"));
    const fx_tensor *g = fixture_get(fx, K(c, "g")), *p = fixture_get(fx, K(c, "p"));
    block b = block_new(fixture_get(fx, K(c, "p0")));
    em_sgd_opts o = {.momentum = hp->data[0], .dampening = hp->data[1],
                     .weight_decay = hp->data[2], .nesterov = hp->data[3] != 0};
    em_error err;
    em_sgd *opt = em_sgd_new(params_of(&b), &o, &err);
    cr_assert_not_null(opt, "%s", err.msg);
    errs e = {0, 0};
    for (int k = 0; k < 5; k++) {
        set_grad(&b, g, k);
        em_sgd_step(opt, lr->data[k]);
        check_step(c, k, &b, p, &e);
    }
    em_optim_buf bufs[1];
    int nb = em_sgd_buffers(opt, bufs);
    cr_assert_eq(nb, o.momentum > 0 ? 1 : 0);
    for (int i = 0; i < nb; i++) check_buf(c, bufs[i].name, bufs[i].data, fx, &e);
    report(c, &e);
    em_sgd_free(opt);
    free(b.data);
    free(b.grad);
}

static void run_adam(const fixture *fx, const char *c, bool decoupled) {
    char key[96];
    const fx_tensor *hp = fixture_get(fx, K(c, "hp")), *lr = fixture_get(fx, K(c, "lr"));
    const fx_tensor *g = fixture_get(fx, K(c, "g")), *p = fixture_get(fx, K(c, "p"));
    block b = block_new(fixture_get(fx, K(c, "p0")));
    em_adam_opts o = {.beta1 = hp->data[0], .beta2 = hp->data[1], .eps = hp->data[2],
                      .weight_decay = hp->data[3], .decoupled = decoupled};
    em_error err;
    em_adam *opt = em_adam_new(params_of(&b), &o, &err);
    cr_assert_not_null(opt, "%s", err.msg);
    errs e = {0, 0};
    for (int k = 0; k < 5; k++) {
        set_grad(&b, g, k);
        em_adam_step(opt, lr->data[k]);
        check_step(c, k, &b, p, &e);
    }
    cr_assert_eq(opt->step, 5);
    em_optim_buf bufs[2];
    cr_assert_eq(em_adam_buffers(opt, bufs), 2);
    for (int i = 0; i < 2; i++) check_buf(c, bufs[i].name, bufs[i].data, fx, &e);
    report(c, &e);
    em_adam_free(opt);
    free(b.data);
    free(b.grad);
}

Test(optim, sgd_matches_pytorch) {
    fixture *fx = fixture_load("optim.emfx");
    const char *cases[] = {"sgd_plain", "sgd_momentum", "sgd_nesterov", "sgd_wd",
                           "sgd_dampening", "sgd_wd_nesterov", "sgd_wd_plain"};
    for (int i = 0; i < 7; i++) run_sgd(fx, cases[i]);
    fixture_free(fx);
}

Test(optim, adam_and_adamw_match_pytorch) {
    fixture *fx = fixture_load("optim.emfx");
    run_adam(fx, "adam", false);
    run_adam(fx, "adam_wd", false);
    run_adam(fx, "adamw", true);
    run_adam(fx, "adamw_big_wd", true);
    fixture_free(fx);
}

Test(optim, bad_options_are_errors_not_crashes) {
    em_real d[3] = {0}, g[3] = {0};
    em_params p = {d, g, 3};
    em_error err;
    em_sgd_opts o = em_sgd_defaults();
    o.nesterov = true;
    cr_assert_null(em_sgd_new(p, &o, &err));
    cr_assert_eq(err.code, EM_ERR_ARG);
    cr_assert(strstr(err.msg, "Nesterov"), "%s", err.msg);
    o = em_sgd_defaults();
    o.momentum = -0.5;
    cr_assert_null(em_sgd_new(p, &o, &err));
    cr_assert_eq(err.code, EM_ERR_ARG);
    em_adam_opts a = em_adam_defaults();
    a.beta2 = 1.0;
    cr_assert_null(em_adam_new(p, &a, &err));
    cr_assert_eq(err.code, EM_ERR_ARG);
    cr_assert(strstr(err.msg, "betas"), "%s", err.msg);
    a = em_adamw_defaults();
    cr_assert(a.decoupled && a.weight_decay == 0.01);
}

Test(optim, zero_grad_clears_the_whole_block_and_no_momentum_means_no_buffer) {
    em_real d[5] = {1, 2, 3, 4, 5}, g[5] = {1, 1, 1, 1, 1};
    em_params p = {d, g, 5};
    em_sgd *s = em_sgd_new(p, NULL, NULL);
    cr_assert_not_null(s);
    cr_assert_null(s->velocity);
    em_optim_buf b[1];
    cr_assert_eq(em_sgd_buffers(s, b), 0);
    em_sgd_step(s, 0.5);
    cr_assert_float_eq(d[4], 4.5, 1e-6);
    em_sgd_zero_grad(s);
    for (int i = 0; i < 5; i++) cr_assert_eq(g[i], 0);
    em_sgd_free(s);
    em_adam *a = em_adam_new(p, NULL, NULL);
    for (int i = 0; i < 5; i++) g[i] = 2;
    em_adam_zero_grad(a);
    for (int i = 0; i < 5; i++) cr_assert_eq(g[i], 0);
    em_adam_free(a);
}

/* optim/optimizer.h: each constructor holds its kind alone, and every call through the face
 * does what the same call on the optimizer itself does (two blocks, the same gradients) */
static void same_as_direct(bool adam) {
    em_real d1[4] = {1, -2, 3, 0.5}, g1[4], d2[4] = {1, -2, 3, 0.5}, g2[4];
    em_params p1 = {d1, g1, 4}, p2 = {d2, g2, 4};
    em_optimizer o;
    em_sgd *s = NULL;
    em_adam *a = NULL;
    em_sgd_opts so = em_sgd_defaults();
    so.momentum = 0.9;
    em_error err;
    if (adam) {
        cr_assert_eq(em_optimizer_adam(&o, p1, NULL, &err), EM_OK);
        cr_assert(o.adam && !o.sgd);
        a = em_adam_new(p2, NULL, &err);
    } else {
        cr_assert_eq(em_optimizer_sgd(&o, p1, &so, &err), EM_OK);
        cr_assert(o.sgd && !o.adam);
        s = em_sgd_new(p2, &so, &err);
    }
    for (int step = 0; step < 3; step++) {
        for (int i = 0; i < 4; i++) g1[i] = g2[i] = (em_real)(0.3 * i - 0.4 + 0.1 * step);
        em_optimizer_step(&o, 0.1);
        if (adam) em_adam_step(a, 0.1);
        else em_sgd_step(s, 0.1);
        em_optimizer_zero_grad(&o);
        for (int i = 0; i < 4; i++) {
            cr_assert_eq(d1[i], d2[i], "step %d, element %d", step, i);
            cr_assert_eq(g1[i], 0);
        }
    }
    cr_assert_eq(em_optimizer_steps(&o), 3);
    em_optim_buf b[2];
    cr_assert_eq(em_optimizer_buffers(&o, b), adam ? 2 : 1);
    cr_assert_str_eq(b[0].name, adam ? "exp_avg" : "momentum_buffer");
    em_optimizer_set_steps(&o, 7);
    cr_assert_eq(adam ? o.adam->step : o.sgd->step, 7);
    em_optimizer_free(&o);
    cr_assert(!o.sgd && !o.adam);
    em_optimizer_free(&o);   /* an empty one: nothing to do */
    em_sgd_free(s);
    em_adam_free(a);
}

Test(optim, the_optimizer_face_forwards_every_call) {
    same_as_direct(false);
    same_as_direct(true);
}

Test(optim, the_optimizer_face_reports_bad_options_and_stays_empty) {
    em_real d[2] = {0, 0}, g[2] = {0, 0};
    em_sgd_opts so = em_sgd_defaults();
    so.nesterov = true;   /* without momentum */
    em_optimizer o;
    em_error err;
    cr_assert_eq(em_optimizer_sgd(&o, (em_params){d, g, 2}, &so, &err), EM_ERR_ARG);
    cr_assert(!o.sgd && !o.adam);
    em_adam_opts ao = em_adam_defaults();
    ao.beta1 = 1.5;
    cr_assert_eq(em_optimizer_adam(&o, (em_params){d, g, 2}, &ao, &err), EM_ERR_ARG);
    cr_assert(!o.sgd && !o.adam);
}

/* ---- schedules ----------------------------------------------------------------------------- */

static void check_schedule(const fixture *fx, const char *name, em_schedule s) {
    char key[64];
    snprintf(key, sizeof key, "sched.%s", name);
    const fx_tensor *want = fixture_get(fx, key);
    cr_assert_eq(em_schedule_check(&s, NULL), EM_OK, "%s", key);
    double worst = 0;
    for (size_t t = 0; t < want->size; t++) {
        double lr = em_schedule_lr(&s, (int64_t)t);
        double e = fabs(lr - want->data[t]) / want->data[t];
        cr_assert(e < 1e-12, "%s: step %zu: lr %.17g, PyTorch %.17g", key, t, lr, want->data[t]);
        worst = fmax(worst, e);
    }
    char desc[160];
    printf("%-18s %-70s max rel err vs PyTorch %.2g\n", key,
           em_schedule_describe(&s, desc, sizeof desc), worst);
}

Test(schedule, matches_pytorch_schedulers) {
    fixture *fx = fixture_load("optim.emfx");
    check_schedule(fx, "step", em_schedule_step(0.1, 3, 2, 0.5));
    check_schedule(fx, "multistep", em_schedule_multistep(0.1, 3, 3, (int64_t[]){2, 5, 7}, 0.1));
    check_schedule(fx, "cosine", em_schedule_cosine(0.1, 3, 10, 0.001));
    check_schedule(fx, "warm_step",
                   em_schedule_with_warmup(em_schedule_step(0.1, 3, 2, 0.5), 5, 0.1));
    check_schedule(fx, "warm_cosine",
                   em_schedule_with_warmup(em_schedule_cosine(0.1, 3, 10, 0), 4, 0.25));
    fixture_free(fx);
}

Test(schedule, constant_warmup_and_end_of_cosine) {
    em_schedule c = em_schedule_constant(0.05);
    for (int64_t t = 0; t < 1000; t += 97) cr_assert_eq(em_schedule_lr(&c, t), 0.05);
    em_schedule w = em_schedule_with_warmup(c, 10, 0);
    cr_assert_eq(em_schedule_lr(&w, 0), 0);
    cr_assert_float_eq(em_schedule_lr(&w, 5), 0.025, 1e-15);
    cr_assert_eq(em_schedule_lr(&w, 10), 0.05);
    em_schedule cos = em_schedule_cosine(1, 10, 2, 0.01);
    cr_assert_float_eq(em_schedule_lr(&cos, 10), 0.505, 1e-15);   /* half way: the mean */
    cr_assert_eq(em_schedule_lr(&cos, 20), 0.01);
    cr_assert_eq(em_schedule_lr(&cos, 1000000), 0.01);
    /* a pure function: the same step gives the same lr whatever was asked before */
    em_schedule s = em_schedule_multistep(0.1, 100, 2, (int64_t[]){3, 6}, 0.1);
    double a = em_schedule_lr(&s, 450);
    for (int64_t t = 0; t < 900; t++) (void)em_schedule_lr(&s, t);
    cr_assert_eq(em_schedule_lr(&s, 450), a);
    cr_assert_float_eq(a, 0.01, 1e-15);
}

Test(schedule, impossible_values_are_reported) {
    em_error err;
    em_schedule s = em_schedule_step(0.1, 0, 2, 0.5);
    cr_assert_eq(em_schedule_check(&s, &err), EM_ERR_ARG);
    cr_assert(strstr(err.msg, "steps per epoch"), "%s", err.msg);
    s = em_schedule_multistep(0.1, 10, 2, (int64_t[]){5, 3}, 0.1);
    cr_assert_eq(em_schedule_check(&s, &err), EM_ERR_ARG);
    cr_assert(strstr(err.msg, "ascending"), "%s", err.msg);
    s = em_schedule_with_warmup(em_schedule_constant(0.1), 10, 1.5);
    cr_assert_eq(em_schedule_check(&s, &err), EM_ERR_ARG);
    s = em_schedule_cosine(-1, 10, 5, 0);
    cr_assert_eq(em_schedule_check(&s, &err), EM_ERR_ARG);
}

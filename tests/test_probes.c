/* tests/test_probes.c — what ember-ablate's probes rely on: em_model_mlp_new builds the
 * deep networks it is asked for; a snapshot restores a model bit-exactly after training
 * steps; the landscape probe leaves parameters, running statistics, counters and gradients
 * exactly as it found them, and its measures agree with a direct computation. */
#include "examples/common/landscape.h"
#include "examples/common/models.h"
#include "examples/common/snapshot.h"
#include "helpers.h"

#include <math.h>
#include <string.h>

#define N 16

typedef struct batch {
    em_tensor *x;
    int labels[N];
} batch;

static em_tensor *ce(void *ctx, em_module *net, em_tape *tape) {
    batch *b = ctx;
    return em_cross_entropy(tape, em_module_forward(net, tape, b->x), b->labels);
}

static em_module *deep_bn_net(em_rng *rng) {
    em_model_opts o = em_model_defaults();
    o.bn = true;
    em_module *net = em_model_mlp_new((int[]){1, 4, 4}, 4, 8, 3, "relu", &o);
    cr_assert_not_null(net);
    em_module_init(net, rng, NULL);
    em_module_train(net, true);
    return net;
}

static batch make_batch(em_rng *rng) {
    batch b = {em_tensor_new(4, (int[]){N, 1, 4, 4}, 0), {0}};
    for (size_t i = 0; i < b.x->size; i++) b.x->data[i] = (em_real)em_rng_normal(rng, 0, 1);
    for (int i = 0; i < N; i++) b.labels[i] = (int)em_rng_below(rng, 3);
    return b;
}

Test(probes, mlp_builder_shapes) {
    em_model_opts o = em_model_defaults();
    int in[3] = {1, 28, 28};
    o.bn = false;
    em_module *net = em_model_mlp_new(in, 6, 100, 10, "relu", &o);
    cr_assert_not_null(net);
    cr_assert_eq(em_sequential_len(net), 1 + 6 * 2 + 1);
    cr_assert_eq(em_module_param_count(net), (size_t)(784 * 100 + 100 + 5 * (100 * 100 + 100) + 100 * 10 + 10));
    em_module_free(net);
    o.bn = true;   /* 24 hidden linear+BN blocks: the deep linear network of E5a */
    net = em_model_mlp_new((int[]){10, 1, 1}, 24, 10, 10, "linear", &o);
    cr_assert_not_null(net);
    cr_assert_eq(em_sequential_len(net), 1 + 24 * 2 + 1);
    em_module_free(net);
    cr_assert_null(em_model_mlp_new(in, 3, 100, 10, "softplus", &o));
    cr_assert_null(em_model_mlp_new(in, 40, 100, 10, "relu", &o));   /* too many layers */
}

/* every bit of state: parameters, buffers and counters, through a snapshot */
static bool same_state(em_module *net, const em_snapshot *ref) {
    em_snapshot now;
    cr_assert(em_snapshot_take(&now, net));
    bool same = now.n_values == ref->n_values && now.n_counters == ref->n_counters &&
                !memcmp(now.values, ref->values, now.n_values * sizeof *now.values) &&
                !memcmp(now.counters, ref->counters, now.n_counters * sizeof *now.counters);
    em_snapshot_free(&now);
    return same;
}

Test(probes, snapshot_restores_after_training_steps) {
    em_rng rng;
    em_rng_seed(&rng, 3);
    em_module *net = deep_bn_net(&rng);
    batch b = make_batch(&rng);
    em_tape *tape = em_tape_new(0);
    em_snapshot s;
    cr_assert(em_snapshot_take(&s, net));
    em_params p = em_module_params(net);
    for (int step = 0; step < 3; step++) {       /* moves weights and running statistics */
        cr_assert_eq(em_backward(tape, ce(&b, net, tape)), EM_OK);
        for (size_t i = 0; i < p.n; i++) p.data[i] -= (em_real)0.1 * p.grad[i];
        em_module_zero_grad(net);
        em_tape_reset(tape);
    }
    cr_assert(!same_state(net, &s));
    em_snapshot_restore(&s, net);
    cr_assert(same_state(net, &s));
    em_snapshot_free(&s);
    em_tape_free(tape);
    em_tensor_free(b.x);
    em_module_free(net);
}

Test(probes, landscape_probe_changes_nothing_and_measures_right) {
    em_rng rng;
    em_rng_seed(&rng, 5);
    em_module *net = deep_bn_net(&rng);
    batch b = make_batch(&rng);
    em_tape *tape = em_tape_new(0);
    em_snapshot before;
    cr_assert(em_snapshot_take(&before, net));
    double etas[3] = {0.01, 0.1, 1.0}, loss_eta[3], gp_eta[3];
    em_landscape l;
    em_error err;
    cr_assert_eq(em_landscape_probe(net, tape, ce, &b, etas, 3, &l, loss_eta, gp_eta, &err), EM_OK);
    cr_assert(same_state(net, &before), "the probe must restore the model bit-exactly");
    em_params p = em_module_params(net);
    for (size_t i = 0; i < p.n; i++) cr_assert_eq(p.grad[i], 0, "gradients left zero");

    /* direct computation of L(theta) and L(theta - eta g) for eta = 0.1 */
    cr_assert_eq(em_backward(tape, ce(&b, net, tape)), EM_OK);
    em_tape_reset(tape);
    em_snapshot_restore(&before, net);
    em_real g[4096];
    cr_assert(p.n <= 4096);
    memcpy(g, p.grad, p.n * sizeof *g);
    double gn = 0;
    for (size_t i = 0; i < p.n; i++) gn += (double)g[i] * g[i];
    cr_assert(fabs(sqrt(gn) - l.gnorm) <= 1e-5 * l.gnorm);
    em_module_zero_grad(net);
    for (size_t i = 0; i < p.n; i++) p.data[i] = (em_real)(p.data[i] - 0.1 * g[i]);
    em_tensor *l1 = ce(&b, net, tape);
    cr_assert(fabs(l1->data[0] - loss_eta[1]) <= 1e-5 * fabs(loss_eta[1]) + 1e-6);
    em_tape_reset(tape);
    em_snapshot_restore(&before, net);
    cr_assert(l.loss_min <= loss_eta[1] && loss_eta[1] <= l.loss_max);
    cr_assert(l.gp_min <= gp_eta[1] && gp_eta[1] <= l.gp_max);
    cr_assert(l.beta_eff >= gp_eta[1] / (0.1 * l.gnorm) * (1 - 1e-9));
    em_snapshot_free(&before);
    em_tape_free(tape);
    em_tensor_free(b.x);
    em_module_free(net);
}

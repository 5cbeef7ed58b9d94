/* tests/test_layers.c — modules: state-dict names against PyTorch's, the contiguous
 * parameter block, train/eval, initialization, and gradient checks of whole stacks. */
#include "examples/common/models.h"
#include "helpers.h"

#include <string.h>

/* ---- names, kinds and shapes against tests/fixtures/state_dict_names.txt -------------- */
struct name_list { char lines[64][128]; int n; };

static bool collect_fn(void *ctx, const char *name, const em_entry *e) {
    struct name_list *l = ctx;
    char shape[48] = "scalar";
    if (e->kind != EM_ENTRY_COUNTER) {
        int at = 0;
        for (int d = 0; d < e->tensor->ndim; d++)
            at += snprintf(shape + at, sizeof shape - at, d ? "x%d" : "%d", e->tensor->shape[d]);
    }
    cr_assert_lt(l->n, 64);
    snprintf(l->lines[l->n++], 128, "%s %s %s", name, e->kind == EM_ENTRY_COUNTER ? "i64" : "f32",
             shape);
    return true;
}

Test(layers, state_dict_names_match_pytorch) {
    char path[1024];
    snprintf(path, sizeof path, "%s/state_dict_names.txt", EM_FIXTURES_DIR);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s", path);
    char model[32], name[64], dtype[8], shape[48];
    int bn;
    struct name_list want[3][2] = {0};
    while (fscanf(f, "%31s %d %63s %7s %47s", model, &bn, name, dtype, shape) == 5) {
        int m = !strcmp(model, "mnist-cnn") ? 0 : !strcmp(model, "cifar-cnn") ? 1 : 2;
        struct name_list *l = &want[m][bn];
        snprintf(l->lines[l->n++], 128, "%s %s %s", name, dtype, shape);
    }
    fclose(f);
    for (int m = 0; m < 3; m++) {
        for (int b = 0; b < 2; b++) {
            em_model_opts o = em_model_defaults();
            o.bn = b;
            int in[3];
            em_module *net = em_model_new(em_model_names[m], &o, in);
            cr_assert_not_null(net);
            struct name_list got = {0};
            em_module_visit(net, collect_fn, &got);
            cr_assert_eq(got.n, want[m][b].n, "%s bn=%d: %d entries, PyTorch has %d",
                         em_model_names[m], b, got.n, want[m][b].n);
            for (int i = 0; i < got.n; i++)
                cr_assert_str_eq(got.lines[i], want[m][b].lines[i], "%s bn=%d entry %d",
                                 em_model_names[m], b, i);
            em_module_free(net);
        }
    }
}

Test(layers, unknown_model_or_activation_is_null) {
    int in[3];
    cr_assert_null(em_model_new("resnet", NULL, in));
    em_model_opts o = em_model_defaults();
    o.act = "softplus";
    cr_assert_null(em_model_new("mlp", &o, in));
}

/* em_model_opts.width multiplies every channel count and hidden width: mnist-cnn + BN has
 * 207098 parameters (PyTorch's count), at width 2 conv1 1->32 (288 + 64 BN), conv2
 * 32->64 (18432 + 128), fc1 3136->256 (802816 + 512), fc2 256->10 (2570): 824810; width 0
 * is width 1; and the wide model runs a batch to (N, 10) */
Test(layers, model_width_multiplies_channels) {
    const struct { int width; size_t params; } cases[] = {{0, 207098}, {1, 207098}, {2, 824810}};
    for (int i = 0; i < 3; i++) {
        em_model_opts o = em_model_defaults();
        o.width = cases[i].width;
        int in[3];
        em_module *net = em_model_new("mnist-cnn", &o, in);
        cr_assert_not_null(net);
        cr_assert_eq(em_module_params(net).n, cases[i].params, "width %d: %zu parameters",
                     cases[i].width, em_module_params(net).n);
        if (cases[i].width == 2) {
            em_tape *tape = em_tape_new(0);
            em_tensor *x = em_tensor_new(4, (int[]){3, 1, 28, 28}, 0);
            cr_assert(tape && x);
            em_tensor *y = em_module_forward(net, tape, x);
            cr_assert(y && y->ndim == 2 && y->shape[0] == 3 && y->shape[1] == 10);
            em_tensor_free(x);
            em_tape_free(tape);
        }
        em_module_free(net);
    }
    em_model_opts o = em_model_defaults();
    o.width = 65;
    int in[3];
    cr_assert_null(em_model_new("mnist-cnn", &o, in), "width 65 is refused");
}

/* ---- the parameter block -------------------------------------------------------------- */
struct block_ctx { em_params p; size_t at; int params; };

static bool block_fn(void *ctx, const char *name, const em_entry *e) {
    (void)name;
    struct block_ctx *b = ctx;
    if (e->kind != EM_ENTRY_PARAM) return true;
    cr_assert_eq(e->tensor->data, b->p.data + b->at, "parameter not in the block, in order");
    cr_assert_eq(e->tensor->grad, b->p.grad + b->at);
    b->at += e->tensor->size;
    b->params++;
    return true;
}

Test(layers, parameters_are_one_contiguous_block) {
    int in[3];
    em_module *net = em_model_new("mnist-cnn", NULL, in);
    struct block_ctx b = {em_module_params(net), 0, 0};
    em_module_visit(net, block_fn, &b);
    cr_assert_eq(b.at, b.p.n);
    cr_assert_eq(b.p.n, em_module_param_count(net));
    /* PyTorch: 16*9 + 2*16 + 32*16*9 + 2*32 + 1568*128 + 2*128 + 128*10 + 10 */
    cr_assert_eq(b.p.n, 144 + 32 + 4608 + 64 + 200704 + 256 + 1280 + 10);
    for (size_t i = 0; i < b.p.n; i++) b.p.grad[i] = 1;
    em_module_zero_grad(net);
    for (size_t i = 0; i < b.p.n; i++) cr_assert_eq(b.p.grad[i], 0);
    em_module_free(net);
}

/* ---- train / eval ---------------------------------------------------------------------- */
Test(layers, train_and_eval_propagate) {
    int in[3];
    em_module *net = em_model_new("mlp", NULL, in);
    em_module_train(net, false);
    for (int i = 0; i < em_sequential_len(net); i++) cr_assert_not(em_sequential_at(net, i)->training);
    em_module_train(net, true);
    for (int i = 0; i < em_sequential_len(net); i++) cr_assert(em_sequential_at(net, i)->training);
    em_module_free(net);
}

/* After training steps, the eval output is gamma (x - running_mean)/sqrt(running_var +
 * eps) + beta with the running statistics the steps left behind. */
Test(layers, eval_uses_running_stats_left_by_training) {
    em_rng rng;
    em_rng_seed(&rng, 3);
    em_module *bn = em_batchnorm1d_new(4, NULL);
    em_tape *tape = em_tape_new(0);
    for (int step = 0; step < 20; step++) {
        em_tensor *x = tensor_randn(&rng, 2, (int[]){16, 4}, 5, 3, 0);
        cr_assert_not_null(em_module_forward(bn, tape, x));
        em_tensor_free(x);
        em_tape_reset(tape);
    }
    em_entry rm, rv, g, b, nbt;
    em_module_find(bn, "running_mean", &rm);
    em_module_find(bn, "running_var", &rv);
    em_module_find(bn, "weight", &g);
    em_module_find(bn, "bias", &b);
    em_module_find(bn, "num_batches_tracked", &nbt);
    cr_assert_eq(*nbt.counter, 20);
    /* 20 steps at momentum 0.9: 1 - 0.9^20 = 88% of the way from (0, 1) to (5, 9) */
    for (int c = 0; c < 4; c++) {
        cr_assert(rm.tensor->data[c] > 3.5 && rm.tensor->data[c] < 5.5, "rm %g", rm.tensor->data[c]);
        cr_assert(rv.tensor->data[c] > 5 && rv.tensor->data[c] < 11, "rv %g", rv.tensor->data[c]);
        g.tensor->data[c] = (em_real)(1 + c);
        b.tensor->data[c] = (em_real)(-c);
    }
    em_module_train(bn, false);
    em_tensor *x = tensor_randn(&rng, 2, (int[]){3, 4}, 5, 3, 0);
    em_tensor *y = em_module_forward(bn, tape, x);
    for (int i = 0; i < 12; i++) {
        int c = i % 4;
        double want = g.tensor->data[c] * (x->data[i] - rm.tensor->data[c]) /
                          sqrt(rv.tensor->data[c] + 1e-5) + b.tensor->data[c];
        cr_assert(fabs(y->data[i] - want) < 1e-5 * fmax(1, fabs(want)));
    }
    cr_assert_eq(*nbt.counter, 20, "evaluation counted a batch");
    em_tensor_free(x);
    em_tape_free(tape);
    em_module_free(bn);
}

Test(layers, batchnorm_one_sample_error_surfaces_through_sequential) {
    int in[3];
    em_module *net = em_model_new("mlp", NULL, in);
    em_tape *tape = em_tape_new(0);
    em_tensor *x = em_tensor_new(4, (int[]){1, 1, 28, 28}, 0);
    cr_assert_null(em_module_forward(net, tape, x));
    cr_assert_eq(tape->status, EM_ERR_STATE);
    cr_assert(strstr(tape->err.msg, "batchnorm"), "%s", tape->err.msg);
    em_tensor_free(x);
    em_tape_free(tape);
    em_module_free(net);
}

/* ---- initialization -------------------------------------------------------------------- */
Test(layers, init_rules_and_scale) {
    em_rng rng;
    em_module *lin = em_linear_new(400, 300, true);
    em_entry w, b;
    em_module_find(lin, "weight", &w);
    em_module_find(lin, "bias", &b);
    const em_init rules[] = {{EM_INIT_DEFAULT, 0, 0}, {EM_INIT_KAIMING_NORMAL, 0, 0},
                             {EM_INIT_XAVIER_UNIFORM, 0, 0}, {EM_INIT_NORMAL, 0.01, 0},
                             {EM_INIT_NORMAL, 0.01, 100}};
    const double want_std[] = {1 / sqrt(400) / sqrt(3), sqrt(2.0 / 400), sqrt(6.0 / 700) / sqrt(3),
                               0.01, 1.0};
    for (int r = 0; r < 5; r++) {
        em_rng_seed(&rng, 1);
        em_module_init(lin, &rng, &rules[r]);
        double s2 = 0, maxabs = 0;
        for (size_t i = 0; i < w.tensor->size; i++) {
            s2 += w.tensor->data[i] * w.tensor->data[i];
            maxabs = fmax(maxabs, fabs(w.tensor->data[i]));
        }
        double std = sqrt(s2 / w.tensor->size);
        cr_assert(fabs(std - want_std[r]) < 0.02 * want_std[r], "rule %d: std %g want %g", r, std,
                  want_std[r]);
        if (r == 0) cr_assert(maxabs <= 1 / sqrt(400.0) + 1e-7);
        if (r == 0) cr_assert(fabs(b.tensor->data[0]) <= 1 / sqrt(400.0) && b.tensor->data[0] != 0);
        if (r != 0) cr_assert_eq(b.tensor->data[0], 0);
    }
    /* same seed, same weights */
    em_rng_seed(&rng, 9);
    em_module_init(lin, &rng, NULL);
    em_real first = w.tensor->data[123];
    em_rng_seed(&rng, 9);
    em_module_init(lin, &rng, NULL);
    cr_assert_eq(w.tensor->data[123], first);
    cr_assert_eq(em_init_parse("kaiming-normal"), EM_INIT_KAIMING_NORMAL);
    cr_assert_eq(em_init_parse("nope"), -1);
    em_module_free(lin);
}

/* ---- gradient checks of stacks of modules -----------------------------------------------
 * Only in the double build: with float's step h = 1e-2, perturbing a conv weight moves
 * many pre-activations at once and some cross ReLU's kink or switch a max-pool window,
 * so float differences there measure the kinks, not the backward. With h = 1e-6 in
 * double a crossing is rare enough, and the checks below are exact to ~1e-7. */
#ifdef EM_DOUBLE
struct net_ctx { em_module *net; };

static em_tensor *net_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    return em_module_forward(((struct net_ctx *)ctx)->net, tape, in[0]);
}

struct param_list { em_tensor *t[EM_GRADCHECK_MAX_INPUTS]; int n; };

static bool params_fn(void *ctx, const char *name, const em_entry *e) {
    (void)name;
    struct param_list *l = ctx;
    if (e->kind == EM_ENTRY_PARAM && l->n < EM_GRADCHECK_MAX_INPUTS) l->t[l->n++] = e->tensor;
    return true;
}

static void check_stack(em_module *net, em_tensor *x, bool training, const char *what) {
    em_rng rng;
    em_rng_seed(&rng, 77);
    em_module_init(net, &rng, NULL);
    /* move the BN statistics away from (0, 1) so eval mode is not trivial */
    em_module_train(net, true);
    em_tape *tape = em_tape_new(0);
    cr_assert_not_null(em_module_forward(net, tape, x));
    em_tape_free(tape);
    em_module_train(net, training);
    struct param_list l = {.t = {x}, .n = 1};
    em_module_visit(net, params_fn, &l);
    struct net_ctx c = {net};
    em_gradcheck_opts o = em_gradcheck_defaults();
    o.max_checks = 60;
    em_gradcheck_result r;
    cr_assert_eq(em_gradcheck(net_fn, &c, l.n, l.t, &o, &r), EM_OK);
    if (!r.passed) em_gradcheck_print(&r, stderr);
    cr_assert(r.passed, "%s (training %d): gradcheck failed", what, training);
}

Test(layers, gradcheck_cnn_stack_train_and_eval) {
    for (int training = 1; training >= 0; training--) {
        em_module *net = em_sequential_new(9, (em_module *[]){
            em_conv2d_new(2, 3, 3, 1, 1, false), em_batchnorm2d_new(3, NULL), em_relu_new(),
            em_maxpool2d_new(2, 2), em_flatten_new(), em_linear_new(3 * 3 * 3, 5, false),
            em_batchnorm1d_new(5, NULL), em_tanh_new(), em_linear_new(5, 3, true)});
        em_rng rng;
        em_rng_seed(&rng, 5);
        em_tensor *x = tensor_randn(&rng, 4, (int[]){4, 2, 6, 6}, 0, 1, EM_REQUIRES_GRAD);
        check_stack(net, x, training, "conv-bn-relu-pool-linear-bn-tanh-linear");
        em_tensor_free(x);
        em_module_free(net);
    }
}

Test(layers, gradcheck_mlp_with_sigmoid_and_avgpool) {
    for (int training = 1; training >= 0; training--) {
        em_module *net = em_sequential_new(6, (em_module *[]){
            em_avgpool2d_new(2, 1), em_flatten_new(), em_linear_new(9, 6, true),
            em_batchnorm1d_new(6, NULL), em_sigmoid_new(), em_linear_new(6, 2, true)});
        em_rng rng;
        em_rng_seed(&rng, 6);
        em_tensor *x = tensor_randn(&rng, 4, (int[]){5, 1, 4, 4}, 1, 2, EM_REQUIRES_GRAD);
        check_stack(net, x, training, "avgpool-linear-bn-sigmoid-linear");
        em_tensor_free(x);
        em_module_free(net);
    }
}

#endif

Test(layers, dropout_module_is_identity_in_eval_and_seeded_in_training) {
    em_module *d = em_dropout_new(0.5);
    em_rng rng;
    em_rng_seed(&rng, 4);
    em_module_init(d, &rng, NULL);
    em_tape *tape = em_tape_new(0);
    em_tensor *x = em_tensor_new(1, (int[]){1000}, 0);
    em_tensor_fill(x, 1);
    em_tensor *y1 = em_module_forward(d, tape, x);
    int zeros = 0;
    for (int i = 0; i < 1000; i++) zeros += y1->data[i] == 0;
    cr_assert(zeros > 400 && zeros < 600, "%d zeros", zeros);
    em_module_train(d, false);
    cr_assert_eq(em_module_forward(d, tape, x), x);
    /* re-init with the same seed: the same first mask */
    em_rng_seed(&rng, 4);
    em_module_init(d, &rng, NULL);
    em_module_train(d, true);
    em_tensor *y2 = em_module_forward(d, tape, x);
    assert_close_real(y2->data, y1->data, 1000, 0, "mask");
    em_tensor_free(x);
    em_tape_free(tape);
    em_module_free(d);
}

/* The module's backward follows its options: frozen_stats gives the constant-statistics
 * gradient of the op, full the exact one; switching after construction works. */
Test(layers, batchnorm_module_backward_follows_its_options) {
    em_rng rng;
    em_rng_seed(&rng, 8);
    em_module *bn = em_batchnorm1d_new(3, NULL);
    em_tensor *x = tensor_randn(&rng, 2, (int[]){6, 3}, 1, 2, EM_REQUIRES_GRAD);
    em_real dy[18];
    for (int i = 0; i < 18; i++) dy[i] = (em_real)em_rng_normal(&rng, 0, 1);
    em_real want[2][18];
    for (int frozen = 0; frozen < 2; frozen++) {   /* the op, directly */
        em_tape *tape = em_tape_new(0);
        em_tensor_zero_grad(x);
        em_tensor *y = em_batchnorm(tape, x, BN_ARGS(NULL, NULL, NULL, NULL, 0.9, 1e-5, frozen ? EM_BN_FROZEN_STATS : EM_BN_TRAIN));
        cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
        memcpy(want[frozen], x->grad, sizeof want[frozen]);
        em_tape_free(tape);
    }
    for (int frozen = 0; frozen < 2; frozen++) {   /* the module, option switched */
        em_bn_opts o;
        cr_assert(em_batchnorm_get_opts(bn, &o));
        o.frozen_stats = frozen;
        cr_assert(em_batchnorm_set_opts(bn, &o));
        em_tape *tape = em_tape_new(0);
        em_tensor_zero_grad(x);
        em_tensor *y = em_module_forward(bn, tape, x);
        cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
        assert_close_real(x->grad, want[frozen], 18, 1e-6, frozen ? "frozen dx" : "full dx");
        em_tape_free(tape);
    }
    em_module *relu = em_relu_new();
    em_bn_opts o;
    cr_assert_not(em_batchnorm_get_opts(relu, &o));
    em_module_free(relu);
    em_tensor_free(x);
    em_module_free(bn);
}

/* The zoo hands its BatchNorm options to every BatchNorm layer. */
Test(layers, model_zoo_passes_bn_options) {
    em_model_opts mo = em_model_defaults();
    mo.bn_opts.momentum = 0.7;
    mo.bn_opts.eps = 1e-3;
    mo.bn_opts.frozen_stats = true;
    int in[3], found = 0;
    em_module *net = em_model_new("mnist-cnn", &mo, in);
    for (int i = 0; i < em_sequential_len(net); i++) {
        em_bn_opts o;
        if (!em_batchnorm_get_opts(em_sequential_at(net, i), &o)) continue;
        cr_assert(o.momentum == 0.7 && o.eps == 1e-3 && o.frozen_stats, "layer %d", i);
        found++;
    }
    cr_assert_eq(found, 3);
    em_module_free(net);
}

/* Conv2d's fan-in is Cin * k * k: PyTorch's default bound is 1/sqrt(Cin k k). */
Test(layers, conv_init_uses_the_receptive_field) {
    em_rng rng;
    em_rng_seed(&rng, 2);
    em_module *conv = em_conv2d_new(8, 64, 3, 1, 1, true);
    em_module_init(conv, &rng, NULL);
    em_entry w, b;
    em_module_find(conv, "weight", &w);
    em_module_find(conv, "bias", &b);
    double bound = 1 / sqrt(8.0 * 9), maxabs = 0, maxb = 0;
    for (size_t i = 0; i < w.tensor->size; i++) maxabs = fmax(maxabs, fabs(w.tensor->data[i]));
    for (size_t i = 0; i < b.tensor->size; i++) maxb = fmax(maxb, fabs(b.tensor->data[i]));
    cr_assert(maxabs <= bound + 1e-7 && maxabs > 0.95 * bound, "max |w| %g, bound %g", maxabs, bound);
    cr_assert(maxb <= bound + 1e-7 && maxb > 0.8 * bound, "max |b| %g, bound %g", maxb, bound);
    em_init kn = {EM_INIT_KAIMING_NORMAL, 0, 0};
    em_module_init(conv, &rng, &kn);
    double s2 = 0;
    for (size_t i = 0; i < w.tensor->size; i++) s2 += w.tensor->data[i] * w.tensor->data[i];
    double std = sqrt(s2 / w.tensor->size), want = sqrt(2.0 / 72);
    cr_assert(fabs(std - want) < 0.05 * want, "kaiming-normal std %g, want %g", std, want);
    em_module_free(conv);
}

Test(layers, the_same_module_twice_aborts, .signal = SIGABRT) {
    em_module *r = em_relu_new();
    em_sequential_new(2, (em_module *[]){r, r});
}

/* ---- a Sequential fuses BatchNorm + ReLU into one op, with the same results ------------ */

/* One training step of conv-ReLU-pool-conv-ReLU-conv-BN-ReLU-pool-linear-BN-ReLU, fused or
 * not, from the same initialization and input: the logits, every parameter gradient and
 * the running statistics must agree bit for bit, and the tape must show the fused nodes
 * only when fusion is on (5 fewer nodes: the first ReLU and pool ran inside their
 * convolution, the next ReLUs inside the second convolution and the BatchNorms). */
static em_module *fusion_net(bool fuse, const em_kernels *k, em_real *logits, em_real *grads,
                             em_real *state, int *nodes, char *ops, size_t ops_len) {
    em_module *net = em_sequential_new(13, (em_module *[]){
            em_conv2d_new(2, 3, 3, 1, 1, true), em_relu_new(), em_maxpool2d_new(2, 2),
            em_conv2d_new(3, 3, 3, 1, 1, true), em_relu_new(),
            em_conv2d_new(3, 4, 3, 1, 1, false), em_batchnorm2d_new(4, NULL), em_relu_new(),
            em_maxpool2d_new(2, 2), em_flatten_new(), em_linear_new(4 * 3 * 3, 6, false),
            em_batchnorm1d_new(6, NULL), em_relu_new()});
    cr_assert_not_null(net);
    em_sequential_fuse(net, fuse);
    em_rng rng;
    em_rng_seed(&rng, 5);
    em_module_init(net, &rng, NULL);
    em_tensor *x = tensor_randn(&rng, 4, (int[]){5, 2, 12, 12}, 0.5, 1, 0);
    em_tape *tape = tape_on(k);
    em_tensor *y = em_module_forward(net, tape, x);
    cr_assert_not_null(y);
    em_real dy[5 * 6];
    for (int i = 0; i < 30; i++) dy[i] = (em_real)em_rng_normal(&rng, 0, 1);
    cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
    memcpy(logits, y->data, 30 * sizeof *logits);
    memcpy(grads, net->param_grad, net->n_params * sizeof *grads);
    *nodes = tape->n_nodes;
    snprintf(ops, ops_len, " ");   /* the op names, last to first, each between spaces */
    for (em_node *n = tape->last; n; n = n->prev)
        snprintf(ops + strlen(ops), ops_len - strlen(ops), "%s ", em_op_name(n->op));
    /* the running statistics of both BatchNorms, after the step */
    size_t at = 0;
    for (int i = 0; i < em_sequential_len(net); i++) {
        em_entry e[EM_MAX_ENTRIES];
        em_module *m = em_sequential_at(net, i);
        int k = m->ops->entries ? m->ops->entries(m, e) : 0;
        for (int j = 0; j < k; j++)
            if (e[j].kind == EM_ENTRY_BUFFER) {
                memcpy(state + at, e[j].tensor->data, e[j].tensor->size * sizeof *state);
                at += e[j].tensor->size;
            }
    }
    cr_assert_eq(at, 2 * (4 + 6));
    em_tensor_free(x);
    em_tape_free(tape);
    return net;
}

Test(layers, sequential_fuses_relu_into_conv_and_batchnorm_with_identical_results) {
    em_real la[30], lb[30], ga[1024], gb[1024], sa[20], sb[20];
    int na, nb;
    char oa[512], ob[512];
    em_module *a = fusion_net(false, em_kernels_fast(), la, ga, sa, &na, oa, sizeof oa);
    em_module *b = fusion_net(true, em_kernels_fast(), lb, gb, sb, &nb, ob, sizeof ob);
    cr_assert_leq(a->n_params, 1024);
    cr_assert_eq(nb, na - 5, "fused: %d nodes (%s), unfused: %d (%s)", nb, ob, na, oa);
    cr_assert(strstr(ob, " batchnorm_relu ") && strstr(ob, " conv2d_relu ") &&
              strstr(ob, " conv2d_relu_pool ") && !strstr(ob, " relu "), "fused tape: %s", ob);
    cr_assert(!strstr(oa, "_relu") && strstr(oa, " relu "), "unfused tape: %s", oa);
    cr_assert(memcmp(la, lb, sizeof la) == 0, "logits differ");
    cr_assert(memcmp(ga, gb, a->n_params * sizeof *ga) == 0, "parameter gradients differ");
    cr_assert(memcmp(sa, sb, sizeof sa) == 0, "running statistics differ");
    em_module_free(a);
    em_module_free(b);
}

/* The reference tier never fuses: the same plan runs module by module, and gives what the
 * reference tier gives with fusion switched off. */
Test(layers, reference_tier_runs_the_plan_unfused) {
    em_real la[30], lb[30], ga[1024], gb[1024], sa[20], sb[20];
    int na, nb;
    char oa[512], ob[512];
    em_module *a = fusion_net(false, em_kernels_reference(), la, ga, sa, &na, oa, sizeof oa);
    em_module *b = fusion_net(true, em_kernels_reference(), lb, gb, sb, &nb, ob, sizeof ob);
    cr_assert_eq(nb, na, "reference tier: %d nodes (%s), unfused: %d (%s)", nb, ob, na, oa);
    cr_assert(!strstr(ob, "_relu") && strstr(ob, " relu "), "reference tier's tape: %s", ob);
    cr_assert(memcmp(la, lb, sizeof la) == 0, "logits differ");
    cr_assert(memcmp(ga, gb, a->n_params * sizeof *ga) == 0, "parameter gradients differ");
    cr_assert(memcmp(sa, sb, sizeof sa) == 0, "running statistics differ");
    em_module_free(a);
    em_module_free(b);
}

/* ---- GroupNorm, LayerNorm, InstanceNorm ------------------------------------------------ */

static void describe_is(em_module *m, const char *want) {
    char buf[160];
    m->ops->describe(m, buf, sizeof buf);
    cr_assert_str_eq(buf, want);
}

/* PyTorch's names and shapes ("1.weight", "1.bias", (C)), weight 1 and bias 0 after init,
 * no entries without the affine part, and one line each as PyTorch prints them */
Test(layers, norm_layers_state_dicts_and_descriptions) {
    em_gn_opts plain = em_gn_defaults();
    plain.no_affine = true;
    em_module *layers[3] = {em_groupnorm_new(2, 6, NULL), em_layernorm_new(6, NULL),
                            em_instancenorm_new(6, NULL)};
    const char *desc[3] = {"GroupNorm(2, 6, eps=1e-05, affine=true)",
                           "LayerNorm(6, eps=1e-05, elementwise_affine=true)",
                           "InstanceNorm2d(6, eps=1e-05, affine=true, track_running_stats=false)"};
    for (int k = 0; k < 3; k++) {
        describe_is(layers[k], desc[k]);
        em_rng rng;
        em_rng_seed(&rng, 1);
        em_module *net = em_sequential_new(2, (em_module *[]){em_conv2d_new(1, 6, 3, 1, 1, false),
                                                               layers[k]});
        em_module_init(net, &rng, NULL);
        cr_assert_eq(em_module_param_count(net), 54 + 12);
        struct name_list got = {0};
        em_module_visit(net, collect_fn, &got);
        cr_assert_eq(got.n, 3);
        cr_assert_str_eq(got.lines[1], "1.weight f32 6");
        cr_assert_str_eq(got.lines[2], "1.bias f32 6");
        em_entry w, b;
        cr_assert(em_module_find(net, "1.weight", &w) && em_module_find(net, "1.bias", &b));
        for (int c = 0; c < 6; c++) cr_assert(w.tensor->data[c] == 1 && b.tensor->data[c] == 0);
        em_module_free(net);
    }
    em_module *bare = em_groupnorm_new(3, 6, &plain);
    describe_is(bare, "GroupNorm(3, 6, eps=1e-05, affine=false)");
    cr_assert_eq(em_module_param_count(bare), 0);
    em_module_free(bare);
}

/* No running statistics: training and evaluation mode compute the same function, bit for
 * bit; LayerNorm is the op with G = 1 on (N, C) and (N, C, H, W), InstanceNorm with G = C. */
Test(layers, norm_layers_train_and_eval_agree) {
    em_rng rng;
    em_rng_seed(&rng, 12);
    em_tensor *x4 = tensor_randn(&rng, 4, (int[]){3, 6, 2, 3}, 2, 3, 0);
    em_tensor *x2 = tensor_randn(&rng, 2, (int[]){5, 6}, 2, 3, 0);
    em_module *mods[4] = {em_groupnorm_new(3, 6, NULL), em_layernorm_new(6, NULL),
                          em_layernorm_new(6, NULL), em_instancenorm_new(6, NULL)};
    em_tensor *xs[4] = {x4, x4, x2, x4};
    const int groups[4] = {3, 1, 1, 6};
    em_tape *tape = em_tape_new(0);
    for (int k = 0; k < 4; k++) {
        em_module_init(mods[k], &rng, NULL);
        em_entry w;
        cr_assert(em_module_find(mods[k], "weight", &w));
        for (int c = 0; c < 6; c++) w.tensor->data[c] = (em_real)(0.5 + c);
        em_module_train(mods[k], true);
        em_tensor *yt = em_module_forward(mods[k], tape, xs[k]);
        em_module_train(mods[k], false);
        em_tensor *ye = em_module_forward(mods[k], tape, xs[k]);
        em_gn_args a = {.gamma = w.tensor, .groups = groups[k], .eps = 1e-5};
        em_tensor *yo = em_groupnorm(tape, xs[k], &a);  /* bias 0 */
        size_t bytes = xs[k]->size * sizeof(em_real);
        cr_assert(memcmp(yt->data, ye->data, bytes) == 0, "module %d: train vs eval", k);
        cr_assert(memcmp(yt->data, yo->data, bytes) == 0, "module %d: vs the op", k);
        em_module_free(mods[k]);
    }
    em_tape_free(tape);
    em_tensor_free(x4); em_tensor_free(x2);
}

Test(layers, instancenorm_takes_4d_input_only, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_module_forward(em_instancenorm_new(4, NULL), tape, em_tensor_new(2, (int[]){3, 4}, 0));
}

Test(layers, groupnorm_channels_must_be_a_multiple_of_the_groups, .signal = SIGABRT) {
    em_groupnorm_new(4, 6, NULL);
}

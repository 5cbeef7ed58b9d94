/* tests/test_residual.c — the residual block (em_residual_new) and global average pooling
 * as modules: PyTorch's state-dict names for a block with `branch` and `shortcut`, one
 * parameter block for the whole tree, the sum it computes, and gradient checks through
 * blocks with an identity and with a projection shortcut, in training and evaluation. */
#include "helpers.h"

#include <string.h>

struct names { char v[64][64]; int n; };

static bool name_fn(void *ctx, const char *name, const em_entry *e) {
    (void)e;
    struct names *l = ctx;
    cr_assert_lt(l->n, 64);
    snprintf(l->v[l->n++], 64, "%s", name);
    return true;
}

/* conv c->c 3x3, BN, ReLU, conv c->c, BN: a ResNet basic block's branch */
static em_module *basic_branch(int cin, int c, int stride) {
    return em_sequential_new(5, (em_module *[]){
        em_conv2d_new(cin, c, 3, stride, 1, false), em_batchnorm2d_new(c, NULL), em_relu_new(),
        em_conv2d_new(c, c, 3, 1, 1, false), em_batchnorm2d_new(c, NULL)});
}

/* conv 2->4, BN, ReLU, a block with the identity, a block with a 1x1 stride-2 projection
 * to 6 channels, ReLU, global average pooling, linear 6->3 */
static em_module *small_resnet(void) {
    return em_sequential_new(7, (em_module *[]){
        em_conv2d_new(2, 4, 3, 1, 1, false), em_batchnorm2d_new(4, NULL), em_relu_new(),
        em_residual_new(basic_branch(4, 4, 1), NULL),
        em_residual_new(basic_branch(4, 6, 2),
                        em_sequential_new(2, (em_module *[]){em_conv2d_new(4, 6, 1, 2, 0, false),
                                                             em_batchnorm2d_new(6, NULL)})),
        em_global_avgpool_new(), em_linear_new(6, 3, true)});
}

Test(residual, state_dict_names_are_pytorchs) {
    em_module *net = small_resnet();
    cr_assert_not_null(net);
    struct names l = {.n = 0};
    em_module_visit(net, name_fn, &l);
    const char *want[] = {
        "0.weight", "1.weight", "1.bias", "1.running_mean", "1.running_var",
        "1.num_batches_tracked", "3.branch.0.weight", "3.branch.1.weight", "3.branch.1.bias",
        "3.branch.1.running_mean", "3.branch.1.running_var", "3.branch.1.num_batches_tracked",
        "3.branch.3.weight", "3.branch.4.weight", "3.branch.4.bias", "3.branch.4.running_mean",
        "3.branch.4.running_var", "3.branch.4.num_batches_tracked", "4.branch.0.weight"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert_str_eq(l.v[i], want[i], "entry %zu", i);
    bool shortcut = false;
    for (int i = 0; i < l.n; i++) shortcut |= !strcmp(l.v[i], "4.shortcut.0.weight");
    cr_assert(shortcut, "the projection's weight is 4.shortcut.0.weight");
    cr_assert_str_eq(l.v[l.n - 1], "6.bias");
    em_module_free(net);
}

/* one block of memory for the tree's parameters, in state-dict order */
struct block { em_real *data; size_t at; bool ok; };

static bool block_fn(void *ctx, const char *name, const em_entry *e) {
    (void)name;
    struct block *b = ctx;
    if (e->kind != EM_ENTRY_PARAM) return true;
    b->ok &= e->tensor->data == b->data + b->at;
    b->at += e->tensor->size;
    return true;
}

Test(residual, parameters_are_one_block) {
    em_module *net = small_resnet();
    em_params p = em_module_params(net);
    struct block b = {p.data, 0, true};
    em_module_visit(net, block_fn, &b);
    cr_assert(b.ok, "every parameter lies in the model's block, in order");
    cr_assert_eq(b.at, p.n);
    cr_assert_eq(p.n, em_module_param_count(net));
    /* conv 2*4*9; bn 8; block 1: 2 (4*4*9) + 2*8; block 2: 4*6*9 + 6*6*9 + 2*12 + 4*6 + 12;
     * linear 6*3 + 3 */
    cr_assert_eq(p.n, 72 + 8 + (2 * 144 + 16) + (216 + 324 + 24 + 24 + 12) + 21);
    em_module_free(net);
}

Test(residual, the_block_adds_the_branch_to_the_input) {
    em_module *branch = em_sequential_new(1, (em_module *[]){em_linear_new(3, 3, true)});
    em_module *blk = em_residual_new(branch, NULL);
    em_rng rng;
    em_rng_seed(&rng, 3);
    em_module_init(blk, &rng, NULL);
    em_tensor *x = tensor_randn(&rng, 2, (int[]){2, 3}, 0, 1, 0);
    em_tape *tape = em_tape_new(0);
    em_tensor *y = em_module_forward(blk, tape, x);
    cr_assert(em_module_is_residual(blk) && !em_module_is_residual(branch));
    em_tensor *b = em_module_forward(branch, tape, x);  /* the block owns it, as its child */
    for (int i = 0; i < 6; i++)
        cr_assert_float_eq(y->data[i], b->data[i] + x->data[i], 1e-6, "y[%d]", i);
    em_tape_free(tape);
    em_tensor_free(x);
    em_module_free(blk);
}

/* In double only: float's finite differences (h ~ 1e-2) step across the ReLUs' kinks of a
 * network this deep, and the check would measure that, not the backward. */
#ifdef EM_DOUBLE
static em_tensor *net_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)in;
    return em_module_forward(ctx, tape, in[0]);
}

struct params { em_tensor *t[EM_GRADCHECK_MAX_INPUTS]; int n; };

static bool params_fn(void *ctx, const char *name, const em_entry *e) {
    (void)name;
    struct params *l = ctx;
    if (e->kind == EM_ENTRY_PARAM && l->n < EM_GRADCHECK_MAX_INPUTS) l->t[l->n++] = e->tensor;
    return true;
}

Test(residual, gradcheck_through_both_shortcuts_train_and_eval) {
    for (int training = 1; training >= 0; training--) {
        em_module *net = small_resnet();
        em_rng rng;
        em_rng_seed(&rng, 9);
        em_module_init(net, &rng, NULL);
        em_tensor *x = tensor_randn(&rng, 4, (int[]){3, 2, 6, 6}, 0, 1, EM_REQUIRES_GRAD);
        em_module_train(net, true);  /* running statistics away from (0, 1) */
        em_tape *tape = em_tape_new(0);
        cr_assert_not_null(em_module_forward(net, tape, x));
        em_tape_free(tape);
        em_module_train(net, training);
        struct params l = {.t = {x}, .n = 1};
        em_module_visit(net, params_fn, &l);
        em_gradcheck_opts o = em_gradcheck_defaults();
        o.max_checks = 40;
        em_gradcheck_result r;
        cr_assert_eq(em_gradcheck(net_fn, net, l.n, l.t, &o, &r), EM_OK);
        if (!r.passed) em_gradcheck_print(&r, stderr);
        cr_assert(r.passed, "a small ResNet (training %d): gradcheck failed", training);
        em_tensor_free(x);
        em_module_free(net);
    }
}
#endif

Test(residual, global_avgpool_module) {
    em_module *gap = em_global_avgpool_new();
    char desc[64];
    gap->ops->describe(gap, desc, sizeof desc);
    cr_assert_str_eq(desc, "GlobalAvgPool()");
    em_tensor *x = tensor_of(4, (int[]){1, 2, 1, 2}, (float[]){1, 3, -2, 4}, 0);
    em_tape *tape = em_tape_new(0);
    em_tensor *y = em_module_forward(gap, tape, x);
    assert_tensor(y, 2, (int[]){1, 2}, (double[]){2, 1}, "gap");
    em_tape_free(tape);
    em_tensor_free(x);
    em_module_free(gap);
}

Test(residual, a_branch_whose_shape_differs_from_the_identity_aborts, .signal = SIGABRT) {
    em_module *blk = em_residual_new(
        em_sequential_new(1, (em_module *[]){em_conv2d_new(2, 3, 3, 1, 1, true)}), NULL);
    em_tensor *x = tensor_of(4, (int[]){1, 2, 4, 4}, NULL, 0);
    em_tape *tape = em_tape_new(0);
    em_module_forward(blk, tape, x);
}

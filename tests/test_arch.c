/* tests/test_arch.c — the architecture language (examples/common/arch.h):
 *   - the presets written as specs build the networks the model zoo built by hand until
 *     now, bit for bit: the same parameters after the same seed's initialization and the
 *     same losses over 20 SGD steps (the hand-built constructions are kept here, as the
 *     zoo had them);
 *   - the new presets' sizes (resnet20 is He et al.'s 0.27M with projection shortcuts);
 *   - 30+ bad specs, each refused with the column (or the layer and its shapes) in the
 *     message;
 *   - the file form round-trips (printed, parsed, built: the same network, the same print);
 *   - --norm and --norm-position rewrite every normalization. */
#include "examples/common/arch.h"
#include "examples/common/models.h"
#include "helpers.h"

#include <string.h>

/* ---- the zoo as it was built by hand ---------------------------------------------------- */

typedef struct list { em_module *m[64]; int n; } list;

static void push(list *l, em_module *m) { l->m[l->n++] = m; }

static void conv_block(list *l, int cin, int cout, bool bn) {
    push(l, em_conv2d_new(cin, cout, 3, 1, 1, !bn));
    if (bn) push(l, em_batchnorm2d_new(cout, NULL));
    push(l, em_relu_new());
}

static void dense_block(list *l, int in, int out, bool bn, const char *act) {
    push(l, em_linear_new(in, out, !bn));
    if (bn) push(l, em_batchnorm1d_new(out, NULL));
    push(l, !strcmp(act, "relu") ? em_relu_new() : !strcmp(act, "tanh") ? em_tanh_new()
                                                                       : em_sigmoid_new());
}

static em_module *by_hand(const char *name, bool bn, const char *act) {
    list l = {.n = 0};
    if (!strcmp(name, "mnist-cnn")) {
        conv_block(&l, 1, 16, bn);
        push(&l, em_maxpool2d_new(2, 2));
        conv_block(&l, 16, 32, bn);
        push(&l, em_maxpool2d_new(2, 2));
        push(&l, em_flatten_new());
        dense_block(&l, 32 * 7 * 7, 128, bn, "relu");
        push(&l, em_linear_new(128, 10, true));
    } else if (!strcmp(name, "cifar-cnn")) {
        conv_block(&l, 3, 32, bn);
        conv_block(&l, 32, 32, bn);
        push(&l, em_maxpool2d_new(2, 2));
        conv_block(&l, 32, 64, bn);
        conv_block(&l, 64, 64, bn);
        push(&l, em_maxpool2d_new(2, 2));
        conv_block(&l, 64, 128, bn);
        push(&l, em_maxpool2d_new(2, 2));
        push(&l, em_flatten_new());
        dense_block(&l, 128 * 4 * 4, 256, bn, "relu");
        push(&l, em_linear_new(256, 10, true));
    } else {
        push(&l, em_flatten_new());
        dense_block(&l, 784, 100, bn, act);
        dense_block(&l, 100, 100, bn, act);
        dense_block(&l, 100, 100, bn, act);
        push(&l, em_linear_new(100, 10, true));
    }
    return em_sequential_new(l.n, l.m);
}

/* 20 steps of SGD on a fixed batch stream: the losses */
static void train20(em_module *net, const int chw[3], double *losses) {
    em_rng rng;
    em_rng_seed(&rng, 77);
    int N = 8;
    em_tensor *x = em_tensor_new(4, (int[]){N, chw[0], chw[1], chw[2]}, 0);
    int labels[8];
    em_tape *tape = em_tape_new(0);
    em_params p = em_module_params(net);
    em_module_train(net, true);
    for (int step = 0; step < 20; step++) {
        for (size_t i = 0; i < x->size; i++) x->data[i] = (em_real)em_rng_normal(&rng, 0, 1);
        for (int i = 0; i < N; i++) labels[i] = (int)em_rng_below(&rng, 10);
        em_tensor *loss = em_cross_entropy(tape, em_module_forward(net, tape, x), labels);
        cr_assert_eq(em_backward(tape, loss), EM_OK, "%s", tape->err.msg);
        losses[step] = loss->data[0];
        for (size_t i = 0; i < p.n; i++) p.data[i] -= (em_real)0.05 * p.grad[i];
        memset(p.grad, 0, p.n * sizeof *p.grad);
        em_tape_reset(tape);
    }
    em_tape_free(tape);
    em_tensor_free(x);
}

static void same_as_by_hand(const char *name, bool bn, const char *act) {
    em_model_opts o = em_model_defaults();
    o.bn = bn;
    o.act = act;
    int chw[3];
    em_module *spec = em_model_new(name, &o, chw), *hand = by_hand(name, bn, act);
    cr_assert(spec && hand, "%s", name);
    em_rng a, b;
    em_rng_seed(&a, 5);
    em_rng_seed(&b, 5);
    em_module_init(spec, &a, NULL);
    em_module_init(hand, &b, NULL);
    em_params ps = em_module_params(spec), ph = em_module_params(hand);
    cr_assert_eq(ps.n, ph.n, "%s: %zu parameters, by hand %zu", name, ps.n, ph.n);
    cr_assert(memcmp(ps.data, ph.data, ps.n * sizeof *ps.data) == 0,
              "%s (bn %d): the initial parameters differ", name, bn);
    double ls[20], lh[20];
    train20(spec, chw, ls);
    train20(hand, chw, lh);
    cr_assert(memcmp(ls, lh, sizeof ls) == 0, "%s (bn %d): the 20 losses differ", name, bn);
    cr_assert(memcmp(ps.data, ph.data, ps.n * sizeof *ps.data) == 0,
              "%s (bn %d): the parameters after 20 steps differ", name, bn);
    em_module_free(spec);
    em_module_free(hand);
}

Test(arch, presets_are_the_hand_built_models_bit_for_bit) {
    same_as_by_hand("mnist-cnn", true, NULL);
    same_as_by_hand("mnist-cnn", false, NULL);
    same_as_by_hand("cifar-cnn", true, NULL);
    same_as_by_hand("mlp", true, "sigmoid");
    same_as_by_hand("mlp", false, "tanh");
    same_as_by_hand("mlp", true, "relu");
}

Test(arch, the_new_presets) {
    int chw[3];
    struct { const char *name; size_t params; int in[3]; } want[] = {
        /* conv 1->6 k5 156-6 (no bias: bn), bn 12, conv 6->16 k5 2400, bn 32, fc 256->120
         * 30720, bn 240, fc 120->84 10080, bn 168, fc 84->10 850 */
        {"lenet", 150 + 12 + 2400 + 32 + 30720 + 240 + 10080 + 168 + 850, {1, 28, 28}},
        /* He et al.'s ResNet-20 (0.27M) with 1x1 projection shortcuts (option B) */
        {"resnet20", 272474, {3, 32, 32}},
        {"resnet8", 144 + 32 + 4672 + 14528 + 57728 + 650, {1, 28, 28}},
    };
    for (int i = 0; i < 3; i++) {
        em_module *net = em_model_new(want[i].name, NULL, chw);
        cr_assert_not_null(net, "%s", want[i].name);
        cr_assert_eq(em_module_param_count(net), want[i].params, "%s: %zu parameters",
                     want[i].name, em_module_param_count(net));
        cr_assert(memcmp(chw, want[i].in, sizeof chw) == 0, "%s's input", want[i].name);
        em_module_free(net);
    }
}

/* ---- bad specs ------------------------------------------------------------------------ */

static void refused(const char *spec, const int chw[3], const char *where, const char *what) {
    em_arch *a = NULL;
    em_error err = {0};
    em_code c = em_arch_parse(spec, "--arch", &a, &err);
    if (c == EM_OK) {
        em_arch_opts o = em_arch_defaults();
        em_module *net = em_arch_build(a, chw, &o, &err);
        cr_assert_null(net, "'%s' was built", spec);
        em_arch_free(a);
        cr_assert_eq(err.code, EM_ERR_ARG, "'%s': %s", spec, err.msg);
    } else {
        cr_assert_eq(c, EM_ERR_ARG, "'%s': %s", spec, err.msg);
        cr_assert_null(a);
    }
    cr_assert(strstr(err.msg, where), "'%s': the message names '%s': %s", spec, where, err.msg);
    cr_assert(strstr(err.msg, what), "'%s': the message says '%s': %s", spec, what, err.msg);
}

Test(arch, bad_specs_name_the_column_or_the_layer) {
    const int img[3] = {1, 28, 28};
    struct { const char *spec, *where, *what; } bad[] = {
        {"", "--arch", "no layer"},
        {"   # only a comment", "--arch", "no layer"},
        {"cov16 relu", "column 1", "expected a layer"},
        {"conv16 rleu", "column 8", "'rleu'"},
        {"conv relu", "column 1", "needs its channels"},
        {"conv0", "column 1", "from 1 to 65536"},
        {"conv99999999", "column 1", "'conv99999999'"},
        {"conv16x", "column 1", "after its number"},
        {"conv16k", "column 1", "'k' in 'conv16k'"},
        {"conv16k99", "column 1", "from 1 to 31"},
        {"conv16s0", "column 1", "from 1 to 16"},
        {"conv16 fc", "column 8", "needs its outputs"},
        {"conv16 gn:", "column 8", "number of groups"},
        {"conv16 gn:x", "column 8", "number of groups"},
        {"conv16 pool0", "column 8", "its window"},
        {"conv16 pool2p1", "column 8", "only s may follow"},
        {"dropout:1.5", "column 1", "[0, 1)"},
        {"dropout:abc", "column 1", "probability"},
        {"3 conv16", "column 1", "as a count"},
        {"0*conv16", "column 1", "from 1 to 1000"},
        {"3*", "column 3", "after the count"},
        {"3*(conv16 relu", "column 3", "never closed"},
        {"(conv16 relu))", "column 14", "unexpected"},
        {"conv16 | relu", "column 8", "unexpected"},
        {"()", "column 1", "empty group"},
        {"res", "column 1", "'res' needs '('"},
        {"res(conv16 relu", "column 1", "never closed"},
        {"res()", "column 1", "branch has no layer"},
        {"res(conv16 | ) relu", "column 12", "nothing after '|'"},
        {"conv16 bn\nrelu cov8", "line 2, column 6", "expected a layer"},
        {"conv16 bn relu fc10", "layer 4 (fc10)", "not flat"},
        {"flatten conv16", "layer 2 (conv16)", "a convolution needs an image"},
        {"flatten pool2", "layer 2 (pool2)", "pooling needs an image"},
        {"flatten in", "layer 2 (in)", "instance norm needs an image"},
        {"conv16 gn:3", "layer 2 (gn:3)", "16 channels do not split into 3 groups"},
        /* GroupNorm's relatives normalize each example's groups: one value a group would be
         * 0 whatever it holds (training aborted in em_groupnorm's assertion, exit 134) */
        {"conv16 pool28 in flatten fc10", "layer 3 (in)", "16 group(s) holds one value"},
        {"conv16 gap gn:16 fc10", "layer 3 (gn:16)", "holds one value"},
        {"flatten fc1 ln fc10", "layer 3 (ln)", "1 group(s) holds one value"},
        {"conv16k31p0", "layer 1 (conv16k31p0)", "larger than the padded input (1, 28, 28)"},
        {"pool29", "layer 1 (pool29)", "larger than the input (1, 28, 28)"},
        {"conv8 res(conv16s2 relu conv16)", "layer 2 (res(...))",
         "the branch gives (16, 14, 14) but the input is (8, 28, 28)"},
        {"conv8 res(conv8 relu | conv16k1)", "layer 2 (res(...))",
         "the branch gives (8, 28, 28) but the shortcut gives (16, 28, 28)"},
        /* the shortcut suggested is one that fits: a linear layer on features, the stride
         * that gives the branch's size (28 -> 10 is stride 3; it said conv8k1s1p0 for both) */
        {"flatten fc16 res(fc32) fc10", "layer 3 (res(...))", "res( ... | fc32 bn )"},
        {"conv8 res(conv8s3) gap fc10", "layer 2 (res(...))", "conv8k1s3p0 bn ), or use res8s3"},
        {"conv8 res(conv8 fc10)", "layer 2 (res(...)), branch layer 2 (fc10)", "not flat"},
        {"gap gap", "layer 2 (gap)", "needs an image"},
        /* a character that is not ASCII is named whole, a control byte by its code (the
         * message showed a UTF-8 sequence's first byte alone, not text) */
        {"conv16 \u00fc relu", "column 8", "got '\u00fc'"},
        {"conv16 \x01 relu", "column 8", "got '\\x01'"},
        /* 39 characters: the message says 38 at most, so 39 are refused too */
        {"conv8 dropout:0.50000000000000000000000000000 gap", "column 7", "more than 38"},
        /* repetitions of nested blocks multiply: 400 blocks of 401 layers (the old limit
         * counted the 400 and took it; three such levels asked for 8 GB and more) */
        {"conv16 400*res(400*relu) gap fc10", "column 8", "more than 100000 layers"},
        {"conv16 res(2*res(100*(1000*relu))) gap", "column 18", "more than 100000 layers"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        refused(bad[i].spec, img, bad[i].where, bad[i].what);
    cr_assert_geq(sizeof bad / sizeof bad[0], 30);
}

/* ---- the file form and the options -------------------------------------------------------- */

static char *printed(const char *spec, const int chw[3], const em_arch_opts *o) {
    em_arch *a;
    em_error err;
    cr_assert_eq(em_arch_parse(spec, "--arch", &a, &err), EM_OK, "%s", err.msg);
    static char text[16384];
    FILE *f = fmemopen(text, sizeof text, "w");
    cr_assert_eq(em_arch_print(a, chw, o, "t", f, &err), EM_OK, "%s", err.msg);
    fclose(f);
    em_arch_free(a);
    return strdup(text);
}

Test(arch, the_printed_form_is_a_spec_of_the_same_network) {
    const char *specs[] = {
        "conv16 bn relu pool2 conv32 bn relu pool2 flatten fc128 bn relu fc10",
        "conv16 bn relu 3*res16 res32s2 2*res32 res64s2 2*res64 gap fc10",
        "conv8k5s2p1 gn:2 tanh 2*(conv8 ln sigmoid) res(conv8 relu conv8 | conv8k1 in) "
        "avgpool3s2 dropout:0.25 flatten fc12 brn relu fc3",
        /* blocks whose one line is longer than 4096 characters (the printer cut them) */
        "conv8 res(900*relu) res(conv8 bn relu | 800*relu conv8k1) gap fc10",
    };
    const int chw[3] = {3, 32, 32};
    em_arch_opts o = em_arch_defaults();
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        char *one = printed(specs[i], chw, &o);
        char *two = printed(one, chw, &o);
        cr_assert_str_eq(one, two, "printing the printed spec changes it");
        em_arch *a, *b;
        em_error err;
        cr_assert_eq(em_arch_parse(specs[i], "spec", &a, &err), EM_OK);
        cr_assert_eq(em_arch_parse(one, "printed", &b, &err), EM_OK, "%s", err.msg);
        em_module *na = em_arch_build(a, chw, &o, &err), *nb = em_arch_build(b, chw, &o, &err);
        cr_assert(na && nb);
        em_rng ra, rb;
        em_rng_seed(&ra, 2);
        em_rng_seed(&rb, 2);
        em_module_init(na, &ra, NULL);
        em_module_init(nb, &rb, NULL);
        em_params pa = em_module_params(na), pb = em_module_params(nb);
        cr_assert_eq(pa.n, pb.n);
        cr_assert(memcmp(pa.data, pb.data, pa.n * sizeof *pa.data) == 0);
        /* the total it prints is the network's */
        char total[32];
        snprintf(total, sizeof total, "%zu", pa.n);
        char digits[64] = "";
        for (const char *c = strstr(one, "\n# ") + 3; *c && *c != ' '; c++)
            if (*c != ',') strncat(digits, c, 1);
        cr_assert_str_eq(digits, total, "the printed total");
        em_module_free(na);
        em_module_free(nb);
        em_arch_free(a);
        em_arch_free(b);
        free(one);
        free(two);
    }
}

/* dropout's probability is printed whole, in digits the parser reads (no exponent) */
Test(arch, the_printed_dropout_reads_back_to_the_same_probability) {
    /* each printed as typed: 1e-07 would not parse, 0.123457 is another network, and
     * "0." before the last would make a token of 39 characters */
    const char *typed[] = {"0.123456789", "0.0000001", ".00000000000000000000000000001", "0.5"};
    const int chw[3] = {1, 28, 28};
    em_arch_opts o = em_arch_defaults();
    for (int i = 0; i < 4; i++) {
        char spec[96], want[64];
        snprintf(spec, sizeof spec, "dropout:%s flatten fc10", typed[i]);
        snprintf(want, sizeof want, "\ndropout:%s ", typed[i]);
        char *one = printed(spec, chw, &o);
        cr_assert(strstr(one, want), "'%s' prints '%s': %s", spec, want + 1, one);
        char *two = printed(one, chw, &o);   /* parses back (printed() asserts it) */
        cr_assert_str_eq(one, two);
        free(one);
        free(two);
    }
}

Test(arch, norm_and_its_position_replace_every_normalization) {
    const int chw[3] = {1, 28, 28};
    const char *spec = "conv16 bn relu res16 gap fc10";
    em_arch_opts o = em_arch_defaults();
    o.norm = "gn:4";
    char *gn = printed(spec, chw, &o);
    cr_assert(strstr(gn, "gn:4") && !strstr(gn, " bn"), "%s", gn);
    o.norm = "none";
    char *none = printed(spec, chw, &o);
    cr_assert(!strstr(none, "bn") && !strstr(none, "gn"), "%s", none);
    o.norm = NULL;
    o.norm_after = 1;
    char *after = printed(spec, chw, &o);
    cr_assert(strstr(after, "conv16 relu bn conv16 bn"), "the block's first norm after its "
              "ReLU, the last (before the sum) where it was: %s", after);
    cr_assert(strstr(after, "\nrelu ") && strstr(after, "\nbn "), "%s", after);
    em_error err;
    cr_assert_eq(em_arch_check_norm("gn:0", &err), EM_ERR_ARG);
    cr_assert(strstr(err.msg, "gn:G"), "%s", err.msg);
    cr_assert_eq(em_arch_check_norm("batchnorm", &err), EM_ERR_ARG);
    cr_assert_eq(em_arch_check_norm("ln", &err), EM_OK);
    free(gn);
    free(none);
    free(after);
}

Test(arch, width_multiplies_all_but_the_classifier) {
    const int chw[3] = {1, 28, 28};
    em_arch_opts o = em_arch_defaults();
    o.width = 2;
    char *w = printed("conv16 bn relu pool2 flatten fc128 bn relu fc10", chw, &o);
    cr_assert(strstr(w, "conv32") && strstr(w, "fc256") && strstr(w, "fc10 "), "%s", w);
    free(w);
}

Test(arch, print_torch_names_every_module) {
    em_arch *a;
    em_error err;
    cr_assert_eq(em_arch_parse("conv16 bn relu res16s2 gap fc10", "t", &a, &err), EM_OK);
    char text[16384];
    FILE *f = fmemopen(text, sizeof text, "w");
    em_arch_opts o = em_arch_defaults();
    cr_assert_eq(em_arch_print_torch(a, (int[]){1, 28, 28}, &o, "t", f, &err), EM_OK);
    fclose(f);
    cr_assert(strstr(text, "nn.Conv2d(1, 16, 3, stride=1, padding=1, bias=False)"), "%s", text);
    cr_assert(strstr(text, "nn.BatchNorm2d(16, eps=1e-05, momentum=0.1)"),
              "momentum as PyTorch's (the new batch's weight): %s", text);
    cr_assert(strstr(text, "nn.Conv2d(16, 16, 1, stride=2, padding=0, bias=False)"),
              "the projection: %s", text);
    cr_assert(strstr(text, "GlobalAvgPool()") && strstr(text, "nn.Linear(16, 10, bias=True)"), "%s", text);
    em_arch_free(a);
}

/* ---- zero-gamma and Fixup ------------------------------------------------------------------ */

struct snap { em_real v[300000]; size_t n; };

Test(arch, zero_gamma_starts_every_block_as_its_shortcut) {
    em_model_opts o = em_model_defaults();
    int chw[3];
    em_module *net = em_model_new("resnet20", &o, chw);
    em_rng rng;
    em_rng_seed(&rng, 1);
    em_module_init(net, &rng, NULL);
    cr_assert_eq(em_model_zero_gamma(net), 9, "resnet20 has 9 blocks");
    /* each block's branch gives 0 (its last BN's gamma and beta are 0), so each block is
     * its shortcut: with identity shortcuts, x itself */
    em_module *block = em_sequential_at(net, 3);
    cr_assert(em_module_is_residual(block));
    em_tensor *x = tensor_randn(&rng, 4, (int[]){4, 16, 8, 8}, 0, 1, 0);
    em_tape *tape = em_tape_new(0);
    em_tensor *y = em_module_forward(block, tape, x);
    assert_close_real(y->data, x->data, x->size, TOL, "block(x) = x");
    /* the first BN of a branch keeps gamma = 1 */
    em_entry e;
    cr_assert(em_module_find(net, "3.branch.1.weight", &e) && e.tensor->data[0] == 1);
    cr_assert(em_module_find(net, "3.branch.4.weight", &e) && e.tensor->data[0] == 0);
    em_tape_free(tape);
    em_tensor_free(x);
    em_module_free(net);
}

Test(arch, fixup_scales_the_branches_and_zeroes_their_ends_and_the_classifier) {
    em_model_opts o = em_model_defaults();
    o.norm = "none";
    int chw[3];
    em_module *net = em_model_new("resnet20", &o, chw);
    em_rng rng;
    em_rng_seed(&rng, 1);
    em_module_init(net, &rng, NULL);
    em_entry first, second;
    cr_assert(em_module_find(net, "4.branch.0.weight", &first));
    cr_assert(em_module_find(net, "4.branch.2.weight", &second), "no norms: conv, relu, conv");
    static struct snap before;
    before.n = first.tensor->size;
    memcpy(before.v, first.tensor->data, before.n * sizeof *before.v);
    cr_assert_eq(em_model_fixup(net), 9);
    for (size_t i = 0; i < before.n; i++)  /* L = 9, m = 2: 9^(-1/2) */
        cr_assert_float_eq(first.tensor->data[i], before.v[i] / 3, 1e-6);
    for (size_t i = 0; i < second.tensor->size; i++) cr_assert_eq(second.tensor->data[i], 0);
    /* the classifier is 0, so every logit starts at 0: the loss is ln 10 */
    em_tensor *x = tensor_randn(&rng, 4, (int[]){2, 3, 32, 32}, 0, 1, 0);
    em_tape *tape = em_tape_new(0);
    em_tensor *loss = em_cross_entropy(tape, em_module_forward(net, tape, x), (int[]){3, 7});
    cr_assert_float_eq(loss->data[0], log(10.0), 1e-6);
    em_tape_free(tape);
    em_tensor_free(x);
    em_module_free(net);
}

/* a spec's network with its parameters initialized (seed 1) */
static em_module *spec_net(const char *spec) {
    em_arch *a;
    em_error err;
    cr_assert_eq(em_arch_parse(spec, "t", &a, &err), EM_OK, "%s", err.msg);
    em_arch_opts o = em_arch_defaults();
    em_module *net = em_arch_build(a, (int[]){1, 28, 28}, &o, &err);
    cr_assert_not_null(net, "%s", err.msg);
    em_arch_free(a);
    em_rng rng;
    em_rng_seed(&rng, 1);
    em_module_init(net, &rng, NULL);
    return net;
}

static em_tensor *find(em_module *net, const char *name) {
    em_entry e;
    cr_assert(em_module_find(net, name, &e), "%s", name);
    return e.tensor;
}

static bool all_zero(const em_tensor *t) {
    for (size_t i = 0; i < t->size; i++)
        if (t->data[i] != 0) return false;
    return true;
}

/* specs have any number of blocks and layers: both rules reach all of them (they stopped at
 * 256 blocks, 64 layers of a branch and 4096 weight layers of a network) */
Test(arch, zero_gamma_and_fixup_reach_every_block_of_a_deep_spec) {
    em_module *net = spec_net("conv4 300*res(conv4 bn relu conv4 bn) gap fc10");
    cr_assert_eq(em_model_zero_gamma(net), 300);
    cr_assert(all_zero(find(net, "300.branch.4.weight")), "the 300th block's last gamma");
    em_module_free(net);
    net = spec_net("conv4 res(70*(conv4 bn relu)) gap fc10");
    em_model_zero_gamma(net);
    cr_assert(all_zero(find(net, "1.branch.208.weight")), "the 70th norm, the branch's last");
    cr_assert(!all_zero(find(net, "1.branch.190.weight")), "the 64th norm keeps its gamma");
    em_module_free(net);

    em_module *plain = spec_net("conv4 300*res(conv4 relu conv4) gap fc10");
    net = spec_net("conv4 300*res(conv4 relu conv4) gap fc10");
    cr_assert_eq(em_model_fixup(net), 300);
    const em_tensor *before = find(plain, "300.branch.0.weight");
    const em_tensor *after = find(net, "300.branch.0.weight");
    for (size_t i = 0; i < after->size; i++)   /* L = 300, m = 2: 300^(-1/2) */
        cr_assert_float_eq(after->data[i], before->data[i] / sqrt(300.0), 1e-6);
    cr_assert(all_zero(find(net, "300.branch.2.weight")), "the 300th block's last conv");
    em_module_free(plain);
    em_module_free(net);
    net = spec_net("conv4 res(70*(conv4 relu)) gap fc10");
    em_model_fixup(net);
    cr_assert(all_zero(find(net, "1.branch.138.weight")), "the 70th conv, the branch's last");
    cr_assert(!all_zero(find(net, "1.branch.126.weight")), "the 64th conv is not the last");
    em_module_free(net);
    net = spec_net("conv4 res(conv4 relu conv4) 5*(820*conv4k1) gap fc10");
    em_model_fixup(net);
    cr_assert(all_zero(find(net, "4103.weight")), "the classifier after 4102 weight layers");
    em_module_free(net);
}

static bool collect_name(void *ctx, const char *name, const em_entry *e) {
    (void)e;
    char **names = ctx;
    int n = 0;
    while (names[n]) n++;
    names[n] = strdup(name);
    return true;
}

static int by_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* the deepest nesting the language takes (31 blocks in blocks) gets a state-dict name for
 * every tensor, each whole and none twice: a checkpoint can hold it (names were cut at 255
 * characters, and two tensors then had the same one: --save refused after training) */
Test(arch, the_deepest_nesting_has_whole_and_distinct_state_dict_names) {
    char spec[2048] = "conv4";
    for (int i = 0; i < 31; i++) strcat(spec, " res( conv4 bn relu");
    strcat(spec, " conv4");
    for (int i = 0; i < 31; i++) strcat(spec, " )");
    strcat(spec, " gap fc10");
    em_module *net = spec_net(spec);
    static char *names[1024];
    memset(names, 0, sizeof names);
    em_module_visit(net, collect_name, names);
    int n = 0;
    while (names[n]) n++;
    cr_assert_eq(n, 2 + 31 * 6 + 2 + 2, "conv4, 31 x (a conv weight, bn 5), conv4, fc10: %d", n);
    qsort(names, (size_t)n, sizeof *names, by_str);
    size_t longest = 0;
    for (int i = 0; i < n; i++) {
        if (i) cr_assert_str_neq(names[i - 1], names[i], "two tensors named alike");
        if (strlen(names[i]) > longest) longest = strlen(names[i]);
    }
    /* the innermost BatchNorm's counter: 1.branch.3.branch.3. ... .branch.1.num_batches_tracked */
    cr_assert_eq(longest, strlen("1.branch.") + 30 * strlen("3.branch.") +
                              strlen("1.num_batches_tracked"), "%zu", longest);
    for (int i = 0; i < n; i++) free(names[i]);
    em_module_free(net);
}

/* tests/test_models.c — ember against PyTorch on whole computations:
 *   ops.emfx           conv2d (3 configurations), max/avg pooling (plain and overlapping),
 *                      linear: outputs and the gradients of sum(y * dy);
 *   mnist_cnn_bn.emfx  the whole mnist-cnn with BatchNorm given PyTorch's weights and one
 *                      batch: logits, loss, every parameter gradient and the running
 *                      statistics after the step.
 * Both made by tools/fixtures/gen_{ops,models}.py with Debian's python3-torch. */
#include "examples/common/models.h"
#include "fixture.h"
#include "helpers.h"

/* The fixtures hold the exact (float64) answer for float32 inputs: the float build must
 * come within 1e-4 relative, the double build within rounding. */
#ifdef EM_DOUBLE
#define GOLDEN_TOL 1e-9
#else
#define GOLDEN_TOL 1e-4
#endif

typedef em_tensor *(*op_fn)(em_tape *, em_tensor *, em_tensor *, em_tensor *);

static em_tensor *conv_s1p1(em_tape *t, em_tensor *x, em_tensor *w, em_tensor *b) { return em_conv2d(t, x, w, b, 1, 1); }
static em_tensor *conv_s2p0(em_tape *t, em_tensor *x, em_tensor *w, em_tensor *b) { return em_conv2d(t, x, w, b, 2, 0); }
static em_tensor *conv_s2p2(em_tape *t, em_tensor *x, em_tensor *w, em_tensor *b) { return em_conv2d(t, x, w, b, 2, 2); }
static em_tensor *maxpool(em_tape *t, em_tensor *x, em_tensor *w, em_tensor *b) { (void)w; (void)b; return em_maxpool2d(t, x, 2, 2); }
static em_tensor *maxpool_ov(em_tape *t, em_tensor *x, em_tensor *w, em_tensor *b) { (void)w; (void)b; return em_maxpool2d(t, x, 3, 2); }
static em_tensor *avgpool(em_tape *t, em_tensor *x, em_tensor *w, em_tensor *b) { (void)w; (void)b; return em_avgpool2d(t, x, 2, 2); }
static em_tensor *avgpool_ov(em_tape *t, em_tensor *x, em_tensor *w, em_tensor *b) { (void)w; (void)b; return em_avgpool2d(t, x, 3, 2); }
static em_tensor *linear(em_tape *t, em_tensor *x, em_tensor *w, em_tensor *b) { return em_linear(t, x, w, b); }

static bool has(const fixture *fx, const char *name) {
    for (int i = 0; i < fx->n; i++)
        if (!strcmp(fx->t[i].name, name)) return true;
    return false;
}

static void check_op(const fixture *fx, const char *c, op_fn fn) {
    char key[64];
#define K(s) (snprintf(key, sizeof key, "%s.%s", c, s), key)
    em_tensor *x = fixture_tensor(fixture_get(fx, K("x")), EM_REQUIRES_GRAD);
    em_tensor *w = has(fx, K("w")) ? fixture_tensor(fixture_get(fx, K("w")), EM_REQUIRES_GRAD) : NULL;
    em_tensor *b = has(fx, K("b")) ? fixture_tensor(fixture_get(fx, K("b")), EM_REQUIRES_GRAD) : NULL;
    const fx_tensor *dyf = fixture_get(fx, K("dy"));
    em_real *dy = malloc(dyf->size * sizeof *dy);
    for (size_t i = 0; i < dyf->size; i++) dy[i] = (em_real)dyf->data[i];
    em_tape *tape = em_tape_new(0);
    em_tensor *y = fn(tape, x, w, b);
    cr_assert_eq(y->size, fixture_get(fx, K("y"))->size, "%s: output size", c);
    cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
    double ey = fixture_rel_err(y->data, fixture_get(fx, K("y")));
    double ex = fixture_rel_err(x->grad, fixture_get(fx, K("dx")));
    double ew = w ? fixture_rel_err(w->grad, fixture_get(fx, K("dw"))) : 0;
    double eb = b ? fixture_rel_err(b->grad, fixture_get(fx, K("db"))) : 0;
    printf("%-11s (%s) max rel err vs PyTorch: y %.2g dx %.2g dw %.2g db %.2g\n", c,
           EM_REAL_NAME, ey, ex, ew, eb);
    cr_assert(ey < GOLDEN_TOL && ex < GOLDEN_TOL && ew < GOLDEN_TOL && eb < GOLDEN_TOL,
              "%s: y %.3g dx %.3g dw %.3g db %.3g", c, ey, ex, ew, eb);
#undef K
    free(dy);
    em_tape_free(tape);
    em_tensor_free(x); em_tensor_free(w); em_tensor_free(b);
}

Test(golden, conv_pool_linear_match_pytorch) {
    fixture *fx = fixture_load("ops.emfx");
    const char *cases[] = {"conv_s1p1", "conv_s2p0", "conv_s2p2", "maxpool", "maxpool_ov",
                           "avgpool", "avgpool_ov", "linear"};
    op_fn fns[] = {conv_s1p1, conv_s2p0, conv_s2p2, maxpool, maxpool_ov, avgpool, avgpool_ov, linear};
    for (int i = 0; i < 8; i++) check_op(fx, cases[i], fns[i]);
    fixture_free(fx);
}

/* ---- the whole mnist-cnn ------------------------------------------------------------------ */
struct load_ctx {
    const fixture *fx;
    const char *prefix;
    double worst, worst_elem;   /* normwise, and elementwise (reported only) */
    char worst_name[64];
    bool grads;
};

static bool load_fn(void *ctx, const char *name, const em_entry *e) {
    struct load_ctx *l = ctx;
    const fx_tensor *t = fixture_get(l->fx, name);
    if (e->kind == EM_ENTRY_COUNTER) *e->counter = (int64_t)t->data[0];
    else {
        cr_assert_eq(t->size, e->tensor->size, "%s: size", name);
        for (size_t i = 0; i < t->size; i++) e->tensor->data[i] = (em_real)t->data[i];
    }
    return true;
}

/* compare entries against "<prefix><name>" (gradients or post-step buffers) */
static bool compare_fn(void *ctx, const char *name, const em_entry *e) {
    struct load_ctx *l = ctx;
    char key[128];
    snprintf(key, sizeof key, "%s%s", l->prefix, name);
    if (l->grads && e->kind != EM_ENTRY_PARAM) return true;
    if (!l->grads && e->kind == EM_ENTRY_PARAM) return true;
    const fx_tensor *t = fixture_get(l->fx, key);
    double err, elem;
    if (e->kind == EM_ENTRY_COUNTER) err = elem = fabs((double)*e->counter - t->data[0]);
    else {
        err = fixture_rel_err(l->grads ? e->tensor->grad : e->tensor->data, t);
        elem = fixture_elem_err(l->grads ? e->tensor->grad : e->tensor->data, t);
    }
    l->worst_elem = fmax(l->worst_elem, elem);
    cr_assert(err < GOLDEN_TOL, "%s differs from PyTorch: rel err %.3g", key, err);
    if (err > l->worst) {
        l->worst = err;
        snprintf(l->worst_name, sizeof l->worst_name, "%s", name);
    }
    return true;
}

Test(golden, mnist_cnn_with_bn_matches_pytorch) {
    fixture *fx = fixture_load("mnist_cnn_bn.emfx");
    int in[3];
    em_module *net = em_model_new("mnist-cnn", NULL, in);
    struct load_ctx l = {fx, "", 0, 0, "", false};
    em_module_visit(net, load_fn, &l);
    em_tensor *x = fixture_tensor(fixture_get(fx, "x"), 0);
    const fx_tensor *lab = fixture_get(fx, "labels");
    int labels[8];
    for (int i = 0; i < 8; i++) labels[i] = (int)lab->data[i];
    em_tape *tape = em_tape_new(0);
    em_module_train(net, true);
    em_module_zero_grad(net);
    em_tensor *logits = em_module_forward(net, tape, x);
    em_tensor *loss = em_cross_entropy(tape, logits, labels);
    cr_assert_eq(em_backward(tape, loss), EM_OK);
    double e_logits = fixture_rel_err(logits->data, fixture_get(fx, "logits"));
    double e_loss = fixture_rel_err(loss->data, fixture_get(fx, "loss"));
    cr_assert(e_logits < GOLDEN_TOL, "logits rel err %.3g", e_logits);
    cr_assert(e_loss < GOLDEN_TOL, "loss rel err %.3g", e_loss);
    struct load_ctx g = {fx, "grad.", 0, 0, "", true};
    em_module_visit(net, compare_fn, &g);
    struct load_ctx a = {fx, "after.", 0, 0, "", false};
    em_module_visit(net, compare_fn, &a);
    printf("mnist-cnn+BN (%s) max rel err vs PyTorch (float64): logits %.2g, loss %.2g, "
           "gradients %.2g (%s; elementwise %.2g), running stats %.2g (%s)\n", EM_REAL_NAME,
           e_logits, e_loss, g.worst, g.worst_name, g.worst_elem, a.worst, a.worst_name);
    em_tensor_free(x);
    em_tape_free(tape);
    em_module_free(net);
    fixture_free(fx);
}

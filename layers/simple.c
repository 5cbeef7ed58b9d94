/* layers/simple.c — modules without parameters: activations, pooling, flatten, dropout. */
#include <stdlib.h>

#include "../core/ops_image.h"
#include "layers.h"

/* Every module here is a base plus at most two ints, a probability and an rng. */
typedef struct simple {
    em_module base;
    int k, stride;      /* pooling window and stride            */
    double p;           /* dropout probability                  */
    em_rng rng;         /* dropout masks; seeded by init        */
} simple;

static void free_self(em_module *m) { free(m); }

static em_module *simple_new(const em_module_ops *ops, int k, int stride, double p) {
    simple *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base.ops = ops;
    s->base.training = true;
    s->k = k;
    s->stride = stride;
    s->p = p;
    em_rng_seed(&s->rng, 0);
    return &s->base;
}

#define DESCRIBE_PLAIN(fn, text)                                             \
    static void fn(const em_module *m, char *buf, size_t len) {              \
        (void)m;                                                             \
        snprintf(buf, len, text);                                            \
    }

/* ---- activations ---------------------------------------------------------------------- */
static em_tensor *relu_fwd(em_module *m, em_tape *t, em_tensor *x) { (void)m; return em_relu(t, x); }
static em_tensor *sigmoid_fwd(em_module *m, em_tape *t, em_tensor *x) { (void)m; return em_sigmoid(t, x); }
static em_tensor *tanh_fwd(em_module *m, em_tape *t, em_tensor *x) { (void)m; return em_tanh(t, x); }
DESCRIBE_PLAIN(relu_describe, "ReLU()")
DESCRIBE_PLAIN(sigmoid_describe, "Sigmoid()")
DESCRIBE_PLAIN(tanh_describe, "Tanh()")
static const em_module_ops relu_ops = {.kind = "ReLU", .forward = relu_fwd, .free = free_self, .describe = relu_describe};
static const em_module_ops sigmoid_ops = {.kind = "Sigmoid", .forward = sigmoid_fwd, .free = free_self, .describe = sigmoid_describe};
static const em_module_ops tanh_ops = {.kind = "Tanh", .forward = tanh_fwd, .free = free_self, .describe = tanh_describe};
em_module *em_relu_new(void) { return simple_new(&relu_ops, 0, 0, 0); }
bool em_module_is_relu(const em_module *m) { return m && m->ops == &relu_ops; }
em_module *em_sigmoid_new(void) { return simple_new(&sigmoid_ops, 0, 0, 0); }
em_module *em_tanh_new(void) { return simple_new(&tanh_ops, 0, 0, 0); }

/* ---- pooling and flatten ---------------------------------------------------------------- */
static em_tensor *maxpool_fwd(em_module *m, em_tape *t, em_tensor *x) {
    simple *s = (simple *)m;
    return em_maxpool2d(t, x, s->k, s->stride);
}
static em_tensor *avgpool_fwd(em_module *m, em_tape *t, em_tensor *x) {
    simple *s = (simple *)m;
    return em_avgpool2d(t, x, s->k, s->stride);
}
static em_tensor *flatten_fwd(em_module *m, em_tape *t, em_tensor *x) { (void)m; return em_flatten(t, x); }
static void maxpool_describe(const em_module *m, char *buf, size_t len) {
    snprintf(buf, len, "MaxPool2d(kernel=%d, stride=%d)", ((const simple *)m)->k, ((const simple *)m)->stride);
}
static void avgpool_describe(const em_module *m, char *buf, size_t len) {
    snprintf(buf, len, "AvgPool2d(kernel=%d, stride=%d)", ((const simple *)m)->k, ((const simple *)m)->stride);
}
DESCRIBE_PLAIN(flatten_describe, "Flatten()")
static const em_module_ops maxpool_ops = {.kind = "MaxPool2d", .forward = maxpool_fwd, .free = free_self, .describe = maxpool_describe};
static const em_module_ops avgpool_ops = {.kind = "AvgPool2d", .forward = avgpool_fwd, .free = free_self, .describe = avgpool_describe};
static const em_module_ops flatten_ops = {.kind = "Flatten", .forward = flatten_fwd, .free = free_self, .describe = flatten_describe};

em_module *em_maxpool2d_new(int kernel, int stride) {
    EM_ASSERT(kernel > 0 && stride > 0);
    return simple_new(&maxpool_ops, kernel, stride, 0);
}
bool em_module_is_maxpool2x2(const em_module *m) {
    return m && m->ops == &maxpool_ops && ((const simple *)m)->k == 2 &&
           ((const simple *)m)->stride == 2;
}
em_module *em_avgpool2d_new(int kernel, int stride) {
    EM_ASSERT(kernel > 0 && stride > 0);
    return simple_new(&avgpool_ops, kernel, stride, 0);
}
em_module *em_flatten_new(void) { return simple_new(&flatten_ops, 0, 0, 0); }

static em_tensor *gap_fwd(em_module *m, em_tape *t, em_tensor *x) { (void)m; return em_global_avgpool(t, x); }
DESCRIBE_PLAIN(gap_describe, "GlobalAvgPool()")
static const em_module_ops gap_ops = {.kind = "GlobalAvgPool", .forward = gap_fwd, .free = free_self, .describe = gap_describe};
em_module *em_global_avgpool_new(void) { return simple_new(&gap_ops, 0, 0, 0); }

/* ---- dropout ---------------------------------------------------------------------------- */
static em_tensor *dropout_fwd(em_module *m, em_tape *t, em_tensor *x) {
    simple *s = (simple *)m;
    return em_dropout(t, x, (em_real)s->p, m->training, &s->rng);
}
/* the mask stream is split off the init rng, so the same init seed gives the same masks */
static void dropout_init(em_module *m, em_rng *rng, const em_init *init) {
    (void)init;
    ((simple *)m)->rng = em_rng_split(rng, 0xd50);
}
static void dropout_describe(const em_module *m, char *buf, size_t len) {
    snprintf(buf, len, "Dropout(p=%g)", ((const simple *)m)->p);
}
static em_rng *dropout_rng(em_module *m) { return &((simple *)m)->rng; }
static const em_module_ops dropout_ops = {.kind = "Dropout", .forward = dropout_fwd,
                                          .free = free_self, .init = dropout_init,
                                          .describe = dropout_describe, .rng = dropout_rng};
em_module *em_dropout_new(double p) {
    EM_ASSERT_MSG(p >= 0 && p < 1, "dropout p in [0, 1)");
    return simple_new(&dropout_ops, 0, 0, p);
}

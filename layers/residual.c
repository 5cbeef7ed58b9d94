/* layers/residual.c — a residual block: y = branch(x) + shortcut(x), the shortcut the
 * identity or a module of its own (in a ResNet, a 1x1 convolution and a norm where the
 * branch changes the shape). Its state-dict names are a PyTorch module's with the
 * attributes `branch` and `shortcut`: "branch.0.weight", "shortcut.1.running_mean"
 * (nn.Identity, the identity shortcut, has none). */
#include <stdlib.h>

#include "layers.h"

typedef struct residual {
    em_module base;
    em_module *branch;
    em_module *shortcut;  /* NULL: the identity */
} residual;

static em_tensor *residual_forward(em_module *m, em_tape *tape, em_tensor *x) {
    residual *r = (residual *)m;
    em_tensor *b = em_module_forward(r->branch, tape, x);
    em_tensor *s = r->shortcut ? em_module_forward(r->shortcut, tape, x) : x;
    if (!b || !s) return NULL;
    EM_ASSERT_MSG(em_shape_equal(b, s), "residual block: the branch and the shortcut give "
                                        "different shapes");
    return em_add(tape, b, s);
}

static void residual_free(em_module *m) {
    residual *r = (residual *)m;
    em_module_free(r->branch);
    em_module_free(r->shortcut);
    free(r);
}

static em_module *residual_child(em_module *m, int i) {
    residual *r = (residual *)m;
    return i == 0 ? r->branch : i == 1 ? r->shortcut : NULL;
}

static const char *residual_child_name(const em_module *m, int i) {
    (void)m;
    return i == 0 ? "branch" : "shortcut";
}

static void residual_describe(const em_module *m, char *buf, size_t len) {
    snprintf(buf, len, "Residual(shortcut=%s)",
             ((const residual *)m)->shortcut ? "projection" : "identity");
}

static const em_module_ops residual_ops = {
    .kind = "Residual",
    .forward = residual_forward,
    .free = residual_free,
    .child = residual_child,
    .child_name = residual_child_name,
    .describe = residual_describe,
};

em_module *em_residual_new(em_module *branch, em_module *shortcut) {
    residual *r = calloc(1, sizeof *r);
    if (!r || !branch) {
        em_module_free(branch);
        em_module_free(shortcut);
        free(r);
        return NULL;
    }
    EM_ASSERT_MSG(branch != shortcut, "em_residual_new: the branch and the shortcut are one module");
    r->base.ops = &residual_ops;
    r->base.training = true;
    r->branch = branch;
    r->shortcut = shortcut;
    if (!em_module_gather_params(&r->base)) {
        residual_free(&r->base);
        return NULL;
    }
    return &r->base;
}

bool em_module_is_residual(const em_module *m) { return m && m->ops == &residual_ops; }

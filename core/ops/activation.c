/* core/ops/activation.c — ReLU, sigmoid, tanh: the reference kernels and the ops.
 * Shapes: x, y, dx, dy are any shape of n elements, the same shape for all four.
 * Each backward reads the output y, not x: the derivative is a function of y alone.
 * Every backward adds into dx when `add`, and stores into a fresh dx otherwise (the tape
 * hands out a new gradient buffer unzeroed: em_node_grad_fresh). The fast tier's
 * versions are in core/fast/activation.c. */
#include <math.h>

#include "../kernels.h"
#include "reference.h"

/* ---- relu: y = max(0, x) -----------------------------------------------------------
 * A NaN passes through (as in PyTorch), so a diverging run still shows in the loss. */

void em_ref_relu(em_real *y, const em_real *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 || isnan(x[i]) ? x[i] : 0;
}

/* dx += dy [x > 0]   (the output y stands in for x: y > 0 exactly where x > 0; at x = 0
 * the subgradient 0 is taken, as PyTorch does) */
void em_ref_relu_backward(em_real *dx, bool add, const em_real *dy, const em_real *y,
                          size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] = (add ? dx[i] : 0) + (y[i] > 0 ? dy[i] : 0);
}

/* ---- sigmoid: y = 1 / (1 + e^-x) ----------------------------------------------------
 * e^-x overflows for x << 0 (e^1000 = inf). Only ever exponentiate -|x| <= 0:
 *   x >= 0:  y = 1 / (1 + e^-x)
 *   x <  0:  y = e^x / (1 + e^x)      (the same value, multiplied by e^x / e^x)
 * so e^-|x| is in (0, 1] and y goes smoothly to exactly 0 or 1 in the tails. */

void em_ref_sigmoid(em_real *y, const em_real *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double e = exp(-fabs((double)x[i]));  /* in (0, 1]; NaN for a NaN */
        y[i] = (em_real)(x[i] >= 0 ? 1 / (1 + e) : e / (1 + e));
    }
}

/* dx += dy y (1 - y) */
void em_ref_sigmoid_backward(em_real *dx, bool add, const em_real *dy, const em_real *y,
                             size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] = (add ? dx[i] : 0) + dy[i] * y[i] * (1 - y[i]);
}

/* ---- tanh: y = tanh x = (e^x - e^-x) / (e^x + e^-x)   (C's tanh saturates to +-1) --- */

void em_ref_tanh(em_real *y, const em_real *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = (em_real)tanh(x[i]);
}

/* dx += dy (1 - y^2) */
void em_ref_tanh_backward(em_real *dx, bool add, const em_real *dy, const em_real *y,
                          size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] = (add ? dx[i] : 0) + dy[i] * (1 - y[i] * y[i]);
}

/* ---- the ops: one wrapper for all three, the kernels from the tape's table ----------- */

typedef void (*act_fn)(em_real *y, const em_real *x, size_t n);
typedef void (*act_grad_fn)(em_real *dx, bool add, const em_real *dy, const em_real *y,
                            size_t n);

/* the table entries of an activation op */
static void activation_kernels(const em_kernels *k, em_op op, act_fn *f, act_grad_fn *df) {
    *f = op == EM_OP_RELU ? k->relu : op == EM_OP_SIGMOID ? k->sigmoid : k->tanh;
    *df = op == EM_OP_RELU      ? k->relu_backward
          : op == EM_OP_SIGMOID ? k->sigmoid_backward
                                : k->tanh_backward;
}

static void activation_node_backward(em_tape *tape, em_node *node) {
    bool fresh;
    em_real *dx = em_node_grad_fresh(tape, node, 0, &fresh);
    if (!dx) return;
    act_fn f;
    act_grad_fn df;
    activation_kernels(tape->kernels, node->op, &f, &df);
    em_tensor *y = node->output;
    df(dx, !fresh, y->grad, y->data, y->size);
}

static em_tensor *activation(em_tape *tape, em_tensor *x, em_op op) {
    if (!em_tape_ok(tape)) return NULL;
    em_tensor *y = em_tape_tensor_like(tape, x);
    if (!y) return NULL;
    act_fn f;
    act_grad_fn df;
    activation_kernels(tape->kernels, op, &f, &df);
    f(y->data, x->data, x->size);
    em_tape_record(tape, op, y, activation_node_backward, 1, x);
    return y;
}

em_tensor *em_relu(em_tape *tape, em_tensor *x) { return activation(tape, x, EM_OP_RELU); }
em_tensor *em_sigmoid(em_tape *tape, em_tensor *x) { return activation(tape, x, EM_OP_SIGMOID); }
em_tensor *em_tanh(em_tape *tape, em_tensor *x) { return activation(tape, x, EM_OP_TANH); }

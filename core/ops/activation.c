/* core/ops/activation.c — ReLU, sigmoid, tanh.
 * Shapes: x, y, dx, dy are any shape of n elements, the same shape for all four.
 * Each backward reads the output y, not x: the derivative is a function of y alone. */
#include <math.h>

#include "../ops.h"

/* ---- relu: y = max(0, x) -----------------------------------------------------------
 * A NaN passes through (as in PyTorch), so a diverging run still shows in the loss. */

static void relu_forward(em_real *y, const em_real *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 || isnan(x[i]) ? x[i] : 0;
}

/* dx += dy [x > 0]   (the output y stands in for x: y > 0 exactly where x > 0;
 * at x = 0 the subgradient 0 is taken, as PyTorch does) */
static void relu_backward(em_real *dx, const em_real *dy, const em_real *y, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] += y[i] > 0 ? dy[i] : 0;
}

static void relu_node_backward(em_tape *tape, em_node *node) {
    em_real *dx = em_node_grad(tape, node, 0);
    if (!dx) return;
    em_tensor *y = node->output;
    relu_backward(dx, y->grad, y->data, y->size);
}

em_tensor *em_relu(em_tape *tape, em_tensor *x) {
    if (!em_tape_ok(tape)) return NULL;
    em_tensor *y = em_tape_tensor_like(tape, x);
    if (!y) return NULL;
    relu_forward(y->data, x->data, x->size);
    em_tape_record(tape, EM_OP_RELU, y, relu_node_backward, 1, x);
    return y;
}

/* ---- sigmoid: y = 1 / (1 + e^-x) ----------------------------------------------------
 * e^-x overflows for x << 0 (e^1000 = inf). Only ever exponentiate -|x| <= 0:
 *   x >= 0:  y = 1 / (1 + e^-x)
 *   x <  0:  y = e^x / (1 + e^x)      (the same value, multiplied by e^x / e^x)
 * so e^-|x| is in (0, 1] and y goes smoothly to exactly 0 or 1 in the tails. */

static void sigmoid_forward(em_real *y, const em_real *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double e = exp(-fabs((double)x[i]));  /* in (0, 1] */
        y[i] = (em_real)(x[i] >= 0 ? 1 / (1 + e) : e / (1 + e));
    }
}

/* dx += dy y (1 - y) */
static void sigmoid_backward(em_real *dx, const em_real *dy, const em_real *y, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * y[i] * (1 - y[i]);
}

static void sigmoid_node_backward(em_tape *tape, em_node *node) {
    em_real *dx = em_node_grad(tape, node, 0);
    if (!dx) return;
    em_tensor *y = node->output;
    sigmoid_backward(dx, y->grad, y->data, y->size);
}

em_tensor *em_sigmoid(em_tape *tape, em_tensor *x) {
    if (!em_tape_ok(tape)) return NULL;
    em_tensor *y = em_tape_tensor_like(tape, x);
    if (!y) return NULL;
    sigmoid_forward(y->data, x->data, x->size);
    em_tape_record(tape, EM_OP_SIGMOID, y, sigmoid_node_backward, 1, x);
    return y;
}

/* ---- tanh: y = tanh x = (e^x - e^-x) / (e^x + e^-x)   (C's tanh saturates to +-1) --- */

static void tanh_forward(em_real *y, const em_real *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = (em_real)tanh(x[i]);
}

/* dx += dy (1 - y^2) */
static void tanh_backward(em_real *dx, const em_real *dy, const em_real *y, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * (1 - y[i] * y[i]);
}

static void tanh_node_backward(em_tape *tape, em_node *node) {
    em_real *dx = em_node_grad(tape, node, 0);
    if (!dx) return;
    em_tensor *y = node->output;
    tanh_backward(dx, y->grad, y->data, y->size);
}

em_tensor *em_tanh(em_tape *tape, em_tensor *x) {
    if (!em_tape_ok(tape)) return NULL;
    em_tensor *y = em_tape_tensor_like(tape, x);
    if (!y) return NULL;
    tanh_forward(y->data, x->data, x->size);
    em_tape_record(tape, EM_OP_TANH, y, tanh_node_backward, 1, x);
    return y;
}

/* core/ops/unary.c — elementwise ops of one tensor: shift, scale, negate, exp, log,
 * square root, reciprocal square root, power.
 * Shapes: x, y, dx, dy are any shape of n elements, the same shape for all four.
 * Math is done in double and rounded to em_real once, in both builds. */
#include <math.h>

#include "../ops.h"

/* ---- add_scalar: y = x + c --------------------------------------------------------- */

static void add_scalar_forward(em_real *y, const em_real *x, em_real c, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] + c;
}

/* dx += dy */
static void add_scalar_backward(em_real *dx, const em_real *dy, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] += dy[i];
}

static void add_scalar_node_backward(em_tape *tape, em_node *node) {
    em_real *dx = em_node_grad(tape, node, 0);
    if (!dx) return;
    em_tensor *y = node->output;
    add_scalar_backward(dx, y->grad, y->size);
}

em_tensor *em_add_scalar(em_tape *tape, em_tensor *x, em_real c) {
    if (!em_tape_ok(tape)) return NULL;
    em_tensor *y = em_tape_tensor_like(tape, x);
    if (!y) return NULL;
    add_scalar_forward(y->data, x->data, c, x->size);
    em_tape_record(tape, EM_OP_ADD_SCALAR, y, add_scalar_node_backward, 1, x);
    return y;
}

/* ---- mul_scalar: y = c x ----------------------------------------------------------- */

static void mul_scalar_forward(em_real *y, const em_real *x, em_real c, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = c * x[i];
}

/* dx += c dy */
static void mul_scalar_backward(em_real *dx, const em_real *dy, em_real c, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] += c * dy[i];
}

static void mul_scalar_node_backward(em_tape *tape, em_node *node) {
    em_real *dx = em_node_grad(tape, node, 0);
    if (!dx) return;
    em_tensor *y = node->output;
    mul_scalar_backward(dx, y->grad, (em_real)node->scalar, y->size);
}

em_tensor *em_mul_scalar(em_tape *tape, em_tensor *x, em_real c) {
    if (!em_tape_ok(tape)) return NULL;
    em_tensor *y = em_tape_tensor_like(tape, x);
    if (!y) return NULL;
    mul_scalar_forward(y->data, x->data, c, x->size);
    em_node *node = em_tape_record(tape, EM_OP_MUL_SCALAR, y, mul_scalar_node_backward, 1, x);
    if (node) node->scalar = c;
    return y;
}

/* ---- neg: y = -x ------------------------------------------------------------------- */

static void neg_forward(em_real *y, const em_real *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = -x[i];
}

/* dx += -dy */
static void neg_backward(em_real *dx, const em_real *dy, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] -= dy[i];
}

static void neg_node_backward(em_tape *tape, em_node *node) {
    em_real *dx = em_node_grad(tape, node, 0);
    if (!dx) return;
    em_tensor *y = node->output;
    neg_backward(dx, y->grad, y->size);
}

em_tensor *em_neg(em_tape *tape, em_tensor *x) {
    if (!em_tape_ok(tape)) return NULL;
    em_tensor *y = em_tape_tensor_like(tape, x);
    if (!y) return NULL;
    neg_forward(y->data, x->data, x->size);
    em_tape_record(tape, EM_OP_NEG, y, neg_node_backward, 1, x);
    return y;
}

/* ---- exp: y = e^x ------------------------------------------------------------------ */

static void exp_forward(em_real *y, const em_real *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = (em_real)exp(x[i]);
}

/* dx += dy e^x = dy y */
static void exp_backward(em_real *dx, const em_real *dy, const em_real *y, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * y[i];
}

static void exp_node_backward(em_tape *tape, em_node *node) {
    em_real *dx = em_node_grad(tape, node, 0);
    if (!dx) return;
    em_tensor *y = node->output;
    exp_backward(dx, y->grad, y->data, y->size);
}

em_tensor *em_exp(em_tape *tape, em_tensor *x) {
    if (!em_tape_ok(tape)) return NULL;
    em_tensor *y = em_tape_tensor_like(tape, x);
    if (!y) return NULL;
    exp_forward(y->data, x->data, x->size);
    em_tape_record(tape, EM_OP_EXP, y, exp_node_backward, 1, x);
    return y;
}

/* ---- log: y = ln x   (x > 0; x = 0 gives -inf, x < 0 NaN, as in C) ------------------ */

static void log_forward(em_real *y, const em_real *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = (em_real)log(x[i]);
}

/* dx += dy / x */
static void log_backward(em_real *dx, const em_real *dy, const em_real *x, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] / x[i];
}

static void log_node_backward(em_tape *tape, em_node *node) {
    em_real *dx = em_node_grad(tape, node, 0);
    if (!dx) return;
    em_tensor *x = node->inputs[0], *y = node->output;
    log_backward(dx, y->grad, x->data, y->size);
}

em_tensor *em_log(em_tape *tape, em_tensor *x) {
    if (!em_tape_ok(tape)) return NULL;
    em_tensor *y = em_tape_tensor_like(tape, x);
    if (!y) return NULL;
    log_forward(y->data, x->data, x->size);
    em_tape_record(tape, EM_OP_LOG, y, log_node_backward, 1, x);
    return y;
}

/* ---- sqrt: y = x^(1/2)   (x >= 0) -------------------------------------------------- */

static void sqrt_forward(em_real *y, const em_real *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = (em_real)sqrt(x[i]);
}

/* dx += dy / (2 sqrt x) = dy / (2y) */
static void sqrt_backward(em_real *dx, const em_real *dy, const em_real *y, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] / (2 * y[i]);
}

static void sqrt_node_backward(em_tape *tape, em_node *node) {
    em_real *dx = em_node_grad(tape, node, 0);
    if (!dx) return;
    em_tensor *y = node->output;
    sqrt_backward(dx, y->grad, y->data, y->size);
}

em_tensor *em_sqrt(em_tape *tape, em_tensor *x) {
    if (!em_tape_ok(tape)) return NULL;
    em_tensor *y = em_tape_tensor_like(tape, x);
    if (!y) return NULL;
    sqrt_forward(y->data, x->data, x->size);
    em_tape_record(tape, EM_OP_SQRT, y, sqrt_node_backward, 1, x);
    return y;
}

/* ---- rsqrt: y = x^(-1/2)   (x > 0) ------------------------------------------------- */

static void rsqrt_forward(em_real *y, const em_real *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = (em_real)(1.0 / sqrt(x[i]));
}

/* dx += dy (-1/2) x^(-3/2) = dy (-1/2) y^3 */
static void rsqrt_backward(em_real *dx, const em_real *dy, const em_real *y, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * (em_real)-0.5 * y[i] * y[i] * y[i];
}

static void rsqrt_node_backward(em_tape *tape, em_node *node) {
    em_real *dx = em_node_grad(tape, node, 0);
    if (!dx) return;
    em_tensor *y = node->output;
    rsqrt_backward(dx, y->grad, y->data, y->size);
}

em_tensor *em_rsqrt(em_tape *tape, em_tensor *x) {
    if (!em_tape_ok(tape)) return NULL;
    em_tensor *y = em_tape_tensor_like(tape, x);
    if (!y) return NULL;
    rsqrt_forward(y->data, x->data, x->size);
    em_tape_record(tape, EM_OP_RSQRT, y, rsqrt_node_backward, 1, x);
    return y;
}

/* ---- pow: y = x^p   (p a scalar; x > 0 unless p is an integer, as for C's pow) ------ */

static void pow_forward(em_real *y, const em_real *x, double p, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = (em_real)pow(x[i], p);
}

/* dx += dy p x^(p-1)   (not p y / x: that is 0/0 at x = 0) */
static void pow_backward(em_real *dx, const em_real *dy, const em_real *x, double p,
                         size_t n) {
    if (p == 0) return;  /* y = 1: no gradient (and 0 * 0^-1 would be NaN at x = 0) */
    for (size_t i = 0; i < n; i++) dx[i] += (em_real)(dy[i] * p * pow(x[i], p - 1));
}

static void pow_node_backward(em_tape *tape, em_node *node) {
    em_real *dx = em_node_grad(tape, node, 0);
    if (!dx) return;
    em_tensor *x = node->inputs[0], *y = node->output;
    pow_backward(dx, y->grad, x->data, node->scalar, y->size);
}

em_tensor *em_pow(em_tape *tape, em_tensor *x, em_real p) {
    if (!em_tape_ok(tape)) return NULL;
    em_tensor *y = em_tape_tensor_like(tape, x);
    if (!y) return NULL;
    pow_forward(y->data, x->data, p, x->size);
    em_node *node = em_tape_record(tape, EM_OP_POW, y, pow_node_backward, 1, x);
    if (node) node->scalar = p;
    return y;
}

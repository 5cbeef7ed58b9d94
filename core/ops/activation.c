/* core/ops/activation.c — ReLU, sigmoid, tanh.
 * Shapes: x, y, dx, dy are any shape of n elements, the same shape for all four.
 * Each backward reads the output y, not x: the derivative is a function of y alone. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../ops.h"
#include "../simd.h"

/* ---- relu: y = max(0, x) -----------------------------------------------------------
 * A NaN passes through (as in PyTorch), so a diverging run still shows in the loss. */

EM_KERNEL static void relu_fwd_k(em_real *restrict y, const em_real *restrict x, size_t lo,
                                 size_t hi) {
    for (size_t i = lo; i < hi; i++) y[i] = x[i] > 0 || x[i] != x[i] ? x[i] : 0;
}

static void relu_forward(em_real *y, const em_real *x, size_t n) {
    EM_PARALLEL_RANGES(n, n, lo, hi, relu_fwd_k(y, x, lo, hi));
}

/* dx += dy [x > 0]   (the output y stands in for x: y > 0 exactly where x > 0;
 * at x = 0 the subgradient 0 is taken, as PyTorch does); add = false: dx = ..., for a
 * fresh buffer (em_node_grad_fresh) */
EM_KERNEL static void relu_bwd_k(em_real *restrict dx, const em_real *restrict dy,
                                 const em_real *restrict y, size_t lo, size_t hi, bool add) {
    if (add)
        for (size_t i = lo; i < hi; i++) dx[i] += y[i] > 0 ? dy[i] : 0;
    else
        for (size_t i = lo; i < hi; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
}

static void relu_backward(em_real *dx, const em_real *dy, const em_real *y, size_t n,
                          bool add) {
    EM_PARALLEL_RANGES(n, n, lo, hi, relu_bwd_k(dx, dy, y, lo, hi, add));
}

static void relu_node_backward(em_tape *tape, em_node *node) {
    bool fresh;
    em_real *dx = em_node_grad_fresh(tape, node, 0, &fresh);
    if (!dx) return;
    em_tensor *y = node->output;
    relu_backward(dx, y->grad, y->data, y->size, !fresh);
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

#ifdef EM_DOUBLE
static inline double exp_nonpos(double x) { return exp(x); }
#else
/* e^x for x <= 0, in float, as straight-line code the compiler can vectorize (libm's
 * expf is a call per element). x = n ln2 + r with n = round(x / ln2), |r| <= ln2 / 2;
 * e^r by its Taylor series to r^6 (truncation error < 1.3e-7 relative, about 1 ulp);
 * 2^n built in the exponent bits. Below -87, e^x is under float's smallest normal
 * number and the result is flushed to 0. */
static inline float exp_nonpos(float x) {
    const float magic = 12582912.0f;               /* 1.5 * 2^23: rounds to an integer */
    float xc = x < -87.0f ? -87.0f : x;
    float nf = (xc * 1.44269504f + magic) - magic; /* round(x / ln 2)                  */
    float r = xc - nf * 0.693359375f - nf * -2.12194440e-4f;   /* ln 2 in two parts   */
    float p = 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)nf + 127) * (1 << 23);
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x < -87.0f ? 0.0f : p * scale;
}
#endif

EM_KERNEL static void sigmoid_fwd_k(em_real *restrict y, const em_real *restrict x,
                                    size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; i++) {
        em_real ax = x[i] < 0 ? -x[i] : x[i];
        em_real e = exp_nonpos(-ax);  /* in (0, 1] */
        em_real r = 1 / (1 + e);
        em_real v = x[i] >= 0 ? r : e * r;
        y[i] = x[i] != x[i] ? x[i] : v;  /* NaN stays NaN */
    }
}

static void sigmoid_forward(em_real *y, const em_real *x, size_t n) {
    EM_PARALLEL_RANGES(n, 2 * n, lo, hi, sigmoid_fwd_k(y, x, lo, hi));
}

/* dx += dy y (1 - y) */
EM_KERNEL static void sigmoid_bwd_k(em_real *restrict dx, const em_real *restrict dy,
                                    const em_real *restrict y, size_t lo, size_t hi, bool add) {
    if (add)
        for (size_t i = lo; i < hi; i++) dx[i] += dy[i] * y[i] * (1 - y[i]);
    else
        for (size_t i = lo; i < hi; i++) dx[i] = dy[i] * y[i] * (1 - y[i]);
}

static void sigmoid_backward(em_real *dx, const em_real *dy, const em_real *y, size_t n,
                             bool add) {
    EM_PARALLEL_RANGES(n, n, lo, hi, sigmoid_bwd_k(dx, dy, y, lo, hi, add));
}

static void sigmoid_node_backward(em_tape *tape, em_node *node) {
    bool fresh;
    em_real *dx = em_node_grad_fresh(tape, node, 0, &fresh);
    if (!dx) return;
    em_tensor *y = node->output;
    sigmoid_backward(dx, y->grad, y->data, y->size, !fresh);
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
EM_KERNEL static void tanh_backward(em_real *restrict dx, const em_real *restrict dy,
                                    const em_real *restrict y, size_t n, bool add) {
    if (add)
        for (size_t i = 0; i < n; i++) dx[i] += dy[i] * (1 - y[i] * y[i]);
    else
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (1 - y[i] * y[i]);
}

static void tanh_node_backward(em_tape *tape, em_node *node) {
    bool fresh;
    em_real *dx = em_node_grad_fresh(tape, node, 0, &fresh);
    if (!dx) return;
    em_tensor *y = node->output;
    tanh_backward(dx, y->grad, y->data, y->size, !fresh);
}

em_tensor *em_tanh(em_tape *tape, em_tensor *x) {
    if (!em_tape_ok(tape)) return NULL;
    em_tensor *y = em_tape_tensor_like(tape, x);
    if (!y) return NULL;
    tanh_forward(y->data, x->data, x->size);
    em_tape_record(tape, EM_OP_TANH, y, tanh_node_backward, 1, x);
    return y;
}

/* core/fast/activation.c — the fast tier's ReLU and sigmoid, and tanh's backward: the
 * reference's loops (core/ops/activation.c) as EM_KERNEL clones split across threads, and
 * a vectorizable e^x for the float sigmoid. tanh's forward is the reference's (libm). */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "fast.h"
#include "simd.h"

EM_KERNEL static void relu_k(em_real *restrict y, const em_real *restrict x, size_t lo,
                             size_t hi) {
    for (size_t i = lo; i < hi; i++) y[i] = x[i] > 0 || x[i] != x[i] ? x[i] : 0;
}

void em_fast_relu(em_real *y, const em_real *x, size_t n) {
    EM_PARALLEL_RANGES(n, n, lo, hi, relu_k(y, x, lo, hi));
}

EM_KERNEL static void relu_bwd_k(em_real *restrict dx, const em_real *restrict dy,
                                 const em_real *restrict y, size_t lo, size_t hi, bool add) {
    if (add)
        for (size_t i = lo; i < hi; i++) dx[i] += y[i] > 0 ? dy[i] : 0;
    else  /* a fresh dx is never read */
        for (size_t i = lo; i < hi; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
}

void em_fast_relu_backward(em_real *dx, bool add, const em_real *dy, const em_real *y,
                           size_t n) {
    EM_PARALLEL_RANGES(n, n, lo, hi, relu_bwd_k(dx, dy, y, lo, hi, add));
}

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

/* the reference's sigmoid: e = e^-|x|, y = 1 / (1 + e) for x >= 0, e / (1 + e) below */
EM_KERNEL static void sigmoid_k(em_real *restrict y, const em_real *restrict x, size_t lo,
                                size_t hi) {
    for (size_t i = lo; i < hi; i++) {
        em_real ax = x[i] < 0 ? -x[i] : x[i];
        em_real e = exp_nonpos(-ax);  /* in (0, 1] */
        em_real r = 1 / (1 + e);
        em_real v = x[i] >= 0 ? r : e * r;
        y[i] = x[i] != x[i] ? x[i] : v;  /* NaN stays NaN */
    }
}

void em_fast_sigmoid(em_real *y, const em_real *x, size_t n) {
    EM_PARALLEL_RANGES(n, 2 * n, lo, hi, sigmoid_k(y, x, lo, hi));
}

EM_KERNEL static void sigmoid_bwd_k(em_real *restrict dx, const em_real *restrict dy,
                                    const em_real *restrict y, size_t lo, size_t hi, bool add) {
    if (add)
        for (size_t i = lo; i < hi; i++) dx[i] += dy[i] * y[i] * (1 - y[i]);
    else
        for (size_t i = lo; i < hi; i++) dx[i] = dy[i] * y[i] * (1 - y[i]);
}

void em_fast_sigmoid_backward(em_real *dx, bool add, const em_real *dy, const em_real *y,
                              size_t n) {
    EM_PARALLEL_RANGES(n, n, lo, hi, sigmoid_bwd_k(dx, dy, y, lo, hi, add));
}

EM_KERNEL static void tanh_bwd_k(em_real *restrict dx, const em_real *restrict dy,
                                 const em_real *restrict y, size_t n, bool add) {
    if (add)
        for (size_t i = 0; i < n; i++) dx[i] += dy[i] * (1 - y[i] * y[i]);
    else
        for (size_t i = 0; i < n; i++) dx[i] = dy[i] * (1 - y[i] * y[i]);
}

void em_fast_tanh_backward(em_real *dx, bool add, const em_real *dy, const em_real *y,
                           size_t n) {
    tanh_bwd_k(dx, dy, y, n, add);
}

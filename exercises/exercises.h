/* exercises/exercises.h — the four exercises: what each function must compute.
 *
 * You fill in the bodies in exercises/ex1_batchnorm_forward.c ... ex4_sgd_momentum.c.
 * Built with `meson setup build-ex -Dexercises=student`, ember runs YOUR functions in
 * place of its own kernels: em_batchnorm's training forward and backward, em_conv2d's
 * backward and em_sgd_step's momentum update. `meson test -C build-ex --suite exercises`
 * grades them (docs/exercises.md).
 *
 * Rules for every function:
 *   - Plain arrays in, plain arrays out: no tapes, no tensors, no allocation needed (a
 *     malloc of your own is fine if you free it).
 *   - Output arrays arrive filled with zeros; write every element of them (the grader
 *     checks each one).
 *   - em_real is float in the library `ember` and double in `ember_f64`, which the grader
 *     uses: write em_real, and accumulate sums in double.
 *   - Argument order is ember's (docs/architecture.md §4): outputs first, then what the
 *     forward saved, then inputs, then parameters, then sizes.
 *
 * Layouts are row-major (C order). Shapes are given in comments as (N, C, S) etc.
 */
#ifndef EM_EXERCISES_H
#define EM_EXERCISES_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/tensor.h"

/* ---- Exercise 1: BatchNorm forward, training mode --------------------------------------
 * x is viewed as (N, C, S): the S values of channel c in sample n are the contiguous run
 * x[(n*C + c)*S + s], s < S (S = H*W for BatchNorm2d, S = 1 for BatchNorm1d). Each channel
 * has M = N*S values, M >= 2. For every channel c:
 *
 *   mean[c] = (1/M) sum_{n,s} x[n,c,s]
 *   var     = (1/M) sum_{n,s} (x[n,c,s] - mean[c])^2          biased: divide by M
 *   rstd[c] = 1 / sqrt(var + eps)                             eps INSIDE the root
 *   y[n,c,s] = gamma[c] * (x[n,c,s] - mean[c]) * rstd[c] + beta[c]
 *
 * and the running statistics, with momentum = the fraction of history KEPT (ember's 0.9
 * is PyTorch's momentum=0.1; docs/batchnorm.md §2):
 *
 *   running_mean[c] = momentum * running_mean[c] + (1 - momentum) * mean[c]
 *   running_var[c]  = momentum * running_var[c]  + (1 - momentum) * var * M / (M - 1)
 *
 * (the running variance is fed the UNBIASED batch variance). mean and rstd are what the
 * backward (exercise 2) receives.
 *
 *   y (N, C, S)  mean (C)  rstd (C)  running_mean (C)  running_var (C)  [in and out]
 *   x (N, C, S)  gamma (C)  beta (C) */
void ex_batchnorm_forward(em_real *y, em_real *mean, em_real *rstd, em_real *running_mean,
                          em_real *running_var, const em_real *x, const em_real *gamma,
                          const em_real *beta, int N, int C, int S, double momentum,
                          double eps);

/* ---- Exercise 2: BatchNorm backward, through the batch statistics ----------------------
 * The forward of exercise 1 computed, per channel c, xhat = (x - mean[c]) * rstd[c] and
 * y = gamma[c] * xhat + beta[c], where mean[c] and rstd[c] are functions of ALL M values
 * of the channel. Given dy = dL/dy, compute
 *
 *   dbeta[c]  = dL/dbeta[c]  = sum_{n,s} dy[n,c,s]
 *   dgamma[c] = dL/dgamma[c] = sum_{n,s} dy[n,c,s] * xhat[n,c,s]
 *   dx[n,c,s] = dL/dx[n,c,s]   — the full derivative: x reaches y directly AND through
 *                                mean[c] and the variance. Treating mean and rstd as
 *                                constants gives gamma * rstd * dy, which is NOT it.
 *
 * docs/batchnorm.md §4 derives dx by the chain rule (dL/dxhat, then dL/dvar, dL/dmean).
 * mean and rstd are the ones your forward saved; recompute xhat from them.
 *
 *   dx (N, C, S)  dgamma (C)  dbeta (C)  dy (N, C, S)  x (N, C, S)  mean (C)  rstd (C)
 *   gamma (C) */
void ex_batchnorm_backward(em_real *dx, em_real *dgamma, em_real *dbeta, const em_real *dy,
                           const em_real *x, const em_real *mean, const em_real *rstd,
                           const em_real *gamma, int N, int C, int S);

/* ---- Exercise 3: conv2d backward ---------------------------------------------------------
 * The forward (ember's, in core/ops/conv.c) is, with stride s and zero padding pad,
 *
 *   y[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] * x[n, c, i*s + p - pad, j*s + q - pad]
 *
 * where x reads 0 outside the image, Ho = (H + 2 pad - kh) / s + 1 and
 * Wo = (W + 2 pad - kw) / s + 1 (integer division). Given dy = dL/dy, compute
 *
 *   db[o]       = sum_{n,i,j} dy[n,o,i,j]
 *   dw[o,c,p,q] = sum_{n,i,j} dy[n,o,i,j] * x[n, c, i*s + p - pad, j*s + q - pad]
 *   dx[n,c,h,v] = the sum of w[o,c,p,q] * dy[n,o,i,j] over every (o, p, q, i, j) with
 *                 i*s + p - pad = h and j*s + q - pad = v   (every output x[n,c,h,v]
 *                 contributed to)
 *
 * Direct loops are fine; so is im2col + matrix products.
 *
 *   dx (N, C, H, W)  dw (O, C, kh, kw)  db (O)  dy (N, O, Ho, Wo)  x (N, C, H, W)
 *   w (O, C, kh, kw) */
void ex_conv2d_backward(em_real *dx, em_real *dw, em_real *db, const em_real *dy,
                        const em_real *x, const em_real *w, int N, int C, int H, int W, int O,
                        int kh, int kw, int stride, int pad);

/* ---- Exercise 4: SGD with momentum -----------------------------------------------------
 * One step of PyTorch's torch.optim.SGD (without Nesterov) at learning rate lr, for every
 * parameter i < n, in place:
 *
 *   g'   = g[i] + weight_decay * p[i]                     L2 weight decay
 *   v[i] = g'                                             on the first step (first_step)
 *   v[i] = momentum * v[i] + (1 - dampening) * g'         on every later step
 *   p[i] = p[i] - lr * v[i]
 *
 * p and v are read and written (they do NOT arrive zeroed).
 *
 *   p (n)  v (n)  g (n) */
void ex_sgd_momentum_step(em_real *p, em_real *v, const em_real *g, double lr, double momentum,
                          double dampening, double weight_decay, bool first_step, size_t n);

#endif

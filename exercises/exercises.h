/* exercises/exercises.h — the exercises: what each function must compute.
 *
 * You fill in the bodies in exercises/ex1_batchnorm_forward.c ... ex13_groupnorm.c.
 * ember runs YOUR functions in place of its own kernels where it has a kernel for the job
 * (BatchNorm's training forward, backward and evaluation, conv2d's backward, max-pooling,
 * the softmax cross-entropy, GroupNorm, SGD's and Adam's updates), and the grader checks
 * every function against finite differences, PyTorch's numbers and its own references.
 *
 * Rules for every function:
 *   - Plain arrays in, plain arrays out: no tapes, no tensors. A malloc of your own is
 *     fine if you free it.
 *   - Call nothing but the C library's math (<math.h>), malloc/calloc/realloc/free,
 *     memset/memcpy/memmove, printf-style printing, the other functions of this header
 *     (your own exercises) and the helpers it declares (ex_rng_*, ex_tape_*, ...). The
 *     grader lists every function your object files call and rejects an exercise that
 *     calls anything else (ember's own kernels, say).
 *   - Output arrays arrive filled with zeros, except where a comment says they are read
 *     and written (the optimizers' state) or ADDED into (exercise 5, the backward of a
 *     tape op). Write every element of them: the grader checks each one.
 *   - em_real is float in the library the programs use and double in the one the grader
 *     uses: write em_real, and accumulate sums in double.
 *   - Argument order is ember's (docs/architecture.md §4): outputs first, then what the
 *     forward saved, then inputs, then parameters, then sizes.
 *
 * Layouts are row-major (C order). Shapes are given in comments as (N, C, S) etc.
 * This header includes nothing of ember: your files compile with it alone.
 */
#ifndef EM_EXERCISES_H
#define EM_EXERCISES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ember's element type (core/tensor.h defines the same: C11 allows the repetition) */
#ifdef EM_DOUBLE
typedef double em_real;
#else
typedef float em_real;
#endif

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

/* ---- Exercise 2: BatchNorm backward, the closed form -----------------------------------
 * The forward of exercise 1 computed, per channel c, xhat = (x - mean[c]) * rstd[c] and
 * y = gamma[c] * xhat + beta[c], where mean[c] and rstd[c] are functions of ALL M values
 * of the channel. Given dy = dL/dy, compute
 *
 *   dbeta[c]  = dL/dbeta[c]
 *   dgamma[c] = dL/dgamma[c]
 *   dx[n,c,s] = dL/dx[n,c,s]   — the full derivative: x reaches y directly AND through
 *                                mean[c] and the variance. Treating mean and rstd as
 *                                constants gives gamma * rstd * dy, which is NOT it.
 *
 * Derive dx yourself, on paper, down to one expression per element that needs nothing but
 * dy, xhat and two sums over the channel (exercise 5 builds the same derivative out of the
 * graph's pieces: its result is what your closed form must equal). mean and rstd are the
 * ones the forward saved; recompute xhat from them.
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
 * Direct loops are fine; so is im2col + matrix products of your own.
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

/* ---- Exercise 5: BatchNorm backward through the graph -----------------------------------
 * BatchNorm in training mode is a composition of six primitive ops on (N, C, S) arrays and
 * (C) per-channel vectors (M = N*S values per channel):
 *
 *   mu   = channel_mean(x)      mu[c]      = (1/M) sum_{n,s} x[n,c,s]
 *   xc   = center(x, mu)        xc[n,c,s]  = x[n,c,s] - mu[c]
 *   sq   = square(xc)           sq[i]      = xc[i] * xc[i]
 *   var  = channel_mean(sq)
 *   r    = rsqrt(var)           r[c]       = 1 / sqrt(var[c] + eps)
 *   xhat = scale(xc, r)         xhat[n,c,s] = xc[n,c,s] * r[c]
 *   z    = scale(xhat, gamma)
 *   y    = shift(z, beta)       y[n,c,s]   = z[n,c,s] + beta[c]
 *
 * The grader records this graph on ember's tape, one node per line, and runs YOUR
 * functions as the nodes' backward. Each gets the gradient of its op's output and ADDS the
 * contribution to the gradient of each input: dx += ..., never dx = ... . Adding is not a
 * detail: xc feeds two ops (square and scale) and its gradient is the sum of what both
 * send; ember's tape walks the nodes from the last to the first and every backward adds.
 * Each function is checked alone by finite differences, then the whole graph's dx, dgamma
 * and dbeta against the closed form of exercise 2.
 *
 *   channel_mean:  dx (N, C, S) += from dmu (C)
 *   center:        dx (N, C, S) and dmu (C) += from dxc (N, C, S)
 *   square:        dx (n) += from dsq (n), x (n) the op's input
 *   rsqrt:         dvar (C) += from dr (C); var (C) the op's input, r (C) its output
 *   scale:         dx (N, C, S) and ds (C) += from dy (N, C, S); x, s the op's inputs
 *   shift:         dx (N, C, S) and db (C) += from dy (N, C, S) */
void ex_channel_mean_backward(em_real *dx, const em_real *dmu, int N, int C, int S);
void ex_center_backward(em_real *dx, em_real *dmu, const em_real *dxc, int N, int C, int S);
void ex_square_backward(em_real *dx, const em_real *dsq, const em_real *x, size_t n);
void ex_rsqrt_backward(em_real *dvar, const em_real *dr, const em_real *var, const em_real *r,
                       double eps, int C);
void ex_scale_backward(em_real *dx, em_real *ds, const em_real *dy, const em_real *x,
                       const em_real *s, int N, int C, int S);
void ex_shift_backward(em_real *dx, em_real *db, const em_real *dy, int N, int C, int S);

/* ---- Exercise 6: BatchNorm at inference, and folded into the convolution before it ------
 * (a) In evaluation mode BatchNorm normalizes with the running statistics (constants):
 *
 *   y[n,c,s] = gamma[c] * (x[n,c,s] - running_mean[c]) / sqrt(running_var[c] + eps)
 *              + beta[c]
 *
 *   y (N, C, S)  x (N, C, S)  running_mean, running_var, gamma, beta (C)
 *
 * (b) Folding. A layer with weights w (O, K) and bias b (O) — a convolution with
 * K = C*kh*kw, or a linear layer with K inputs — computes each output channel o as
 * sum_k w[o,k] * (its inputs) + b[o]. Followed by BatchNorm in evaluation mode on its O
 * channels, the pair is again such a layer. Compute its weights wf (O, K) and bias bf (O):
 *
 *   layer(x; wf, bf) = BatchNorm_eval(layer(x; w, b))     for every input x
 *
 * b may be NULL: a layer without bias (the usual convolution before a BatchNorm). */
void ex_batchnorm_eval(em_real *y, const em_real *x, const em_real *running_mean,
                       const em_real *running_var, const em_real *gamma, const em_real *beta,
                       double eps, int N, int C, int S);
void ex_fold_batchnorm(em_real *wf, em_real *bf, const em_real *w, const em_real *b,
                       const em_real *running_mean, const em_real *running_var,
                       const em_real *gamma, const em_real *beta, double eps, int O, int K);

/* ---- Exercise 7: max-pooling, forward and backward --------------------------------------
 * x holds P = N*C planes of (H, W), each pooled alone: windows of k x k pixels, one every
 * `stride` pixels, no padding, so Ho = (H - k) / stride + 1 and Wo = (W - k) / stride + 1.
 *
 *   y[p,i,j]      = max_{a,b < k} x[p, i*stride + a, j*stride + b]
 *   argmax[p,i,j] = the offset h*W + v, within plane p, of that maximum; on a tie the
 *                   first in row-major order (the smallest offset) wins, and a NaN counts
 *                   as larger than any number (a diverged activation must not be hidden)
 *
 * The backward sends each dy[p,i,j] to the one input that won its window:
 * dx[p,h,v] = the sum of dy[p,i,j] over every window (i, j) whose argmax is h*W + v.
 * Windows overlap when stride < k, and one input can win several of them.
 *
 *   forward:  y (P, Ho, Wo)  argmax (P, Ho, Wo)  x (P, H, W)
 *   backward: dx (P, H, W)  dy (P, Ho, Wo)  argmax (P, Ho, Wo), as your forward wrote it */
void ex_maxpool_forward(em_real *y, int32_t *argmax, const em_real *x, int P, int H, int W,
                        int k, int stride);
void ex_maxpool_backward(em_real *dx, const em_real *dy, const int32_t *argmax, int P, int H,
                         int W, int k, int stride);

/* ---- Exercise 8: softmax cross-entropy, forward and backward ----------------------------
 * z holds N rows of C logits, labels[n] in [0, C) the class of row n.
 *
 *   probs[n,c] = exp(z[n,c]) / sum_j exp(z[n,j])                 softmax of each row
 *   loss       = (1/N) sum_n -log probs[n, labels[n]]            returned
 *
 * The logits can be large (1000 and more): exp(1000) is inf in any precision, and the loss
 * must still come out finite and right.
 * The backward: given dloss = dL/dloss (a number), dz[n,c] = dL/dz[n,c] from the probs
 * your forward saved.
 *
 *   forward:  probs (N, C)  z (N, C)  labels (N)
 *   backward: dz (N, C)  probs (N, C)  labels (N) */
double ex_cross_entropy_forward(em_real *probs, const em_real *z, const int *labels, int N,
                                int C);
void ex_cross_entropy_backward(em_real *dz, const em_real *probs, const int *labels,
                               double dloss, int N, int C);

/* ---- Exercise 9: Adam -----------------------------------------------------------------
 * Step t (t = 1 on the first step) of PyTorch's torch.optim.Adam (Kingma & Ba, Algorithm
 * 1, with L2 weight decay added to the gradient), for every parameter i < n, in place:
 * g' = g[i] + weight_decay * p[i]; the first moment m[i] and the second moment v[i] are
 * exponential moving averages of g' and g'^2 with decays beta1 and beta2 (both start at 0,
 * so early averages are biased towards 0: correct that bias, for step t, in both); the
 * parameter moves by lr times the corrected first moment over the square root of the
 * corrected second moment plus eps (eps added OUTSIDE the root).
 *
 * p, m and v are read and written (m and v hold what the previous steps left).
 *
 *   p (n)  m (n)  v (n)  g (n) */
void ex_adam_step(em_real *p, em_real *m, em_real *v, const em_real *g, double lr,
                  double beta1, double beta2, double eps, double weight_decay, long t,
                  size_t n);

/* ---- Exercise 10: Kaiming (He) initialization ------------------------------------------
 * Fill the weights w of a layer for a ReLU network the way He et al. (2015) derive it, in
 * "fan-in" mode: drawn independently with mean 0 and the variance that keeps the variance
 * of the activations the same from layer to layer in the forward pass. shape is (O, I) for
 * a linear layer (O outputs, I inputs) or (O, C, kh, kw) for a convolution; ndim 2 or 4.
 *
 *   uniform false: w[i] = std * ex_rng_normal(rng)            with the right std
 *   uniform true:  w[i] = a * (2 * ex_rng_uniform(rng) - 1)   uniform on [-a, a), with
 *                  the a that gives the same variance
 *
 * One draw per element, in order w[0], w[1], ... (the grader replays the same numbers). */
typedef struct ex_rng ex_rng;            /* the grader's random numbers                 */
double ex_rng_normal(ex_rng *rng);       /* a draw from N(0, 1)                         */
double ex_rng_uniform(ex_rng *rng);      /* a draw from the uniform distribution [0, 1) */
void ex_kaiming_init(em_real *w, int ndim, const int *shape, bool uniform, ex_rng *rng);

/* ---- Exercise 11: the tape's backward loop ----------------------------------------------
 * ember records every op of a step on a tape, as a node: what it read, what it made (its
 * output tensor) and a backward function. Nodes are recorded in the order the ops ran,
 * each linked to the one recorded before it. Write the loop that turns an upstream
 * gradient dy of the tensor y into the gradients of everything y depends on:
 *
 *   - y's gradient buffer receives dy (y->size values): ADD it in, as every backward adds;
 *   - every node whose output leads to y runs its backward exactly once, and only after
 *     every node that reads its output has run (so the gradient of its output is complete);
 *   - a node whose output received no gradient does not lead to y: skip it (its backward
 *     would read a gradient that does not exist);
 *   - a backward can fail (out of memory): stop at once and return -1. Return 0 otherwise.
 *
 * The tape, its nodes and tensors are opaque here; the helpers below reach them. */
typedef struct ex_tape ex_tape;        /* ember's em_tape   */
typedef struct ex_node ex_node;        /* ember's em_node   */
typedef struct ex_tensor ex_tensor;    /* ember's em_tensor */
ex_node *ex_tape_last(ex_tape *tape);           /* the node recorded last (NULL: none)  */
ex_node *ex_node_prev(ex_node *node);           /* the one recorded before (NULL: none) */
ex_tensor *ex_node_output(ex_node *node);       /* the tensor the node's op made        */
size_t ex_tensor_size(const ex_tensor *t);      /* its number of elements               */
bool ex_tensor_has_grad(const ex_tensor *t);    /* whether it has a gradient buffer yet */
em_real *ex_tensor_grad(ex_tape *tape, ex_tensor *t); /* its gradient buffer, made
                                                 (zeroed) on first use; NULL: no memory */
void ex_node_backward(ex_tape *tape, ex_node *node);  /* run the node's backward: reads
                                                 its output's gradient, adds into its
                                                 inputs' gradients                      */
bool ex_tape_ok(const ex_tape *tape);           /* false once a backward has failed     */
int ex_backward(ex_tape *tape, ex_tensor *y, const em_real *dy);

/* ---- Exercise 12: LayerNorm, forward and backward -------------------------------------
 * x holds N samples of D features, row-major (N, D). LayerNorm normalizes each SAMPLE over
 * its D features — where BatchNorm normalizes each feature over the batch — and then scales
 * and shifts each feature:
 *
 *   mean[n] = (1/D) sum_d x[n,d]
 *   var     = (1/D) sum_d (x[n,d] - mean[n])^2            biased: divide by D
 *   rstd[n] = 1 / sqrt(var + eps)
 *   y[n,d]  = gamma[d] * (x[n,d] - mean[n]) * rstd[n] + beta[d]
 *
 * The same in training and at inference: there is nothing to track. The backward gets
 * dy = dL/dy and the mean and rstd your forward saved, and computes dx (through mean[n]
 * and the variance, as in exercise 2 — mind where gamma sits now), dgamma and dbeta.
 *
 *   forward:  y (N, D)  mean (N)  rstd (N)  x (N, D)  gamma (D)  beta (D)
 *   backward: dx (N, D)  dgamma (D)  dbeta (D)  dy (N, D)  x (N, D)  mean (N)  rstd (N)
 *             gamma (D) */
void ex_layernorm_forward(em_real *y, em_real *mean, em_real *rstd, const em_real *x,
                          const em_real *gamma, const em_real *beta, int N, int D,
                          double eps);
void ex_layernorm_backward(em_real *dx, em_real *dgamma, em_real *dbeta, const em_real *dy,
                           const em_real *x, const em_real *mean, const em_real *rstd,
                           const em_real *gamma, int N, int D);

/* ---- Exercise 13: GroupNorm, forward and backward -------------------------------------
 * x is viewed as (N, C, S) as in exercise 1, and its C channels are split into G groups of
 * Cg = C/G consecutive channels (G divides C). GroupNorm normalizes each sample's GROUP: the
 * Cg*S values of channels g*Cg .. g*Cg + Cg - 1 of sample n, at every position s. With
 * LayerNorm as G = 1 and InstanceNorm as G = C, one function covers the three; ember runs
 * yours in every em_groupnorm.
 *
 *   mean[n*G + g], rstd[n*G + g]   over the group's values (biased variance, eps inside)
 *   y[n,c,s] = gamma[c] * (x[n,c,s] - mean[n,g]) * rstd[n,g] + beta[c],   g = c / Cg
 *
 * The backward: dx, dgamma, dbeta from dy and the statistics your forward saved.
 *
 *   forward:  y (N, C, S)  mean (N, G)  rstd (N, G)  x (N, C, S)  gamma (C)  beta (C)
 *   backward: dx (N, C, S)  dgamma (C)  dbeta (C)  dy (N, C, S)  x (N, C, S)  mean (N, G)
 *             rstd (N, G)  gamma (C) */
void ex_groupnorm_forward(em_real *y, em_real *mean, em_real *rstd, const em_real *x,
                          const em_real *gamma, const em_real *beta, int N, int C, int S,
                          int G, double eps);
void ex_groupnorm_backward(em_real *dx, em_real *dgamma, em_real *dbeta, const em_real *dy,
                           const em_real *x, const em_real *mean, const em_real *rstd,
                           const em_real *gamma, int N, int C, int S, int G);

#endif

/** core/ops_image.h — the image ops: convolution, pooling, dropout, one line of math each.
 *
 *     em_tensor *h = em_conv2d(tape, x, w1, b1, 1, 1);  // (N, 3, 32, 32) -> (N, 16, 32, 32)
 *     h = em_maxpool2d(tape, em_relu(tape, h), 2, 2);   // -> (N, 16, 16, 16)
 *     h = em_dropout(tape, h, 0.25f, training, &rng);   // identity when !training
 *     em_tensor *f = em_global_avgpool(tape, h);        // -> (N, 16)
 *
 * Images are NCHW. Output sizes: Ho = (H + 2 pad - kh) / stride + 1 for conv2d,
 * Ho = (H - k) / stride + 1 for the pools (no padding: every window lies inside the
 * image). Like every op (core/ops.h) each one allocates its output from the tape's arena,
 * records a node when an input requires a gradient, aborts on wrong shapes and returns
 * NULL on a failed tape. Implementations: core/ops/conv.c, pool.c, dropout.c; the fast
 * tier's kernels in core/fast/.
 *
 * @file
 */
#ifndef EM_OPS_IMAGE_H
#define EM_OPS_IMAGE_H

#include <stdbool.h>

#include "rng.h"
#include "tape.h"
#include "tensor.h"

/* ---- convolution (core/ops/conv.c) ------------------------------------------------ */
/** y[n,o,i,j] = b[o] + sum_{c,p,q} w[o,c,p,q] x[n,c, i*stride+p-pad, j*stride+q-pad]
 * (x outside the image reads 0). x (N, Cin, H, W), w (Cout, Cin, kh, kw), b (Cout) or
 * NULL -> y (N, Cout, Ho, Wo). The reference kernels lower it image by image to im2col (a
 * scratch matrix of Cin*kh*kw x Ho*Wo) and one matrix product; the fast tier's add
 * threads and Winograd's algorithm (core/kernels.h).
 * @param tape    the tape of this step
 * @param x       (N, Cin, H, W)
 * @param w       (Cout, Cin, kh, kw)
 * @param b       (Cout), or NULL for no bias
 * @param stride  the step between windows (> 0)
 * @param pad     zeros on every side (>= 0)
 * @return y (N, Cout, Ho, Wo); NULL when the tape has failed */
em_tensor *em_conv2d(em_tape *tape, em_tensor *x, em_tensor *w, em_tensor *b, int stride,
                     int pad);

/** The same convolution as seven plain loops on raw arrays (core/ops/conv_direct.c): the
 * definition itself, which the tests hold both tiers' kernels to. y (N, Cout, Ho, Wo) is overwritten;
 * b may be NULL. Sums run in double.
 * @param y       (N, Cout, Ho, Wo), overwritten
 * @param x       (N, Cin, H, W)
 * @param w       (Cout, Cin, kh, kw)
 * @param b       (Cout), or NULL
 * @param N       batch size
 * @param Cin     input channels
 * @param H       input height
 * @param W       input width
 * @param Cout    output channels
 * @param kh      kernel height
 * @param kw      kernel width
 * @param stride  the step between windows
 * @param pad     zeros on every side */
void em_conv2d_direct_forward(em_real *y, const em_real *x, const em_real *w,
                              const em_real *b, int N, int Cin, int H, int W, int Cout,
                              int kh, int kw, int stride, int pad);
/** Its gradients, each formula evaluated directly; each of dx, dw, db may be NULL and each
 * is ACCUMULATED (+=), as every backward does:
 *
 *     db[o]       += sum_{n,i,j} dy[n,o,i,j]
 *     dw[o,c,p,q] += sum_{n,i,j} dy[n,o,i,j] x[n,c, i*s+p-pad, j*s+q-pad]
 *     dx[n,c,h,v] += sum_{o,p,q} w[o,c,p,q] dy[n,o, (h+pad-p)/s, (v+pad-q)/s]
 *                    over the p, q where both divisions are exact and land inside (Ho, Wo).
 *
 * @param dx      (N, Cin, H, W), added to; or NULL
 * @param dw      (Cout, Cin, kh, kw), added to; or NULL
 * @param db      (Cout), added to; or NULL
 * @param dy      (N, Cout, Ho, Wo), the output's gradient
 * @param x       (N, Cin, H, W)
 * @param w       (Cout, Cin, kh, kw)
 * @param N       batch size
 * @param Cin     input channels
 * @param H       input height
 * @param W       input width
 * @param Cout    output channels
 * @param kh      kernel height
 * @param kw      kernel width
 * @param stride  the step between windows
 * @param pad     zeros on every side */
void em_conv2d_direct_backward(em_real *dx, em_real *dw, em_real *db, const em_real *dy,
                               const em_real *x, const em_real *w, int N, int Cin, int H,
                               int W, int Cout, int kh, int kw, int stride, int pad);

/* ---- pooling (core/ops/pool.c) ----------------------------------------------------- */
/** y[n,c,i,j] = max_{p,q<k} x[n,c, i*stride+p, j*stride+q]; the gradient goes to the
 * first maximum in row-major window order. (N, C, H, W) -> (N, C, Ho, Wo)
 * @param tape    the tape of this step
 * @param x       (N, C, H, W)
 * @param k       the window's height and width
 * @param stride  the step between windows
 * @return y (N, C, Ho, Wo); NULL when the tape has failed */
em_tensor *em_maxpool2d(em_tape *tape, em_tensor *x, int k, int stride);
/** y[n,c,i,j] = (1/k^2) sum_{p,q<k} x[n,c, i*stride+p, j*stride+q].
 * (N, C, H, W) -> (N, C, Ho, Wo)
 * @param tape    the tape of this step
 * @param x       (N, C, H, W)
 * @param k       the window's height and width
 * @param stride  the step between windows
 * @return y (N, C, Ho, Wo); NULL when the tape has failed */
em_tensor *em_avgpool2d(em_tape *tape, em_tensor *x, int k, int stride);
/** y[n,c] = (1/(H W)) sum_{h,v} x[n,c,h,v]. (N, C, H, W) -> (N, C)
 * @param tape  the tape of this step
 * @param x     (N, C, H, W)
 * @return y (N, C); NULL when the tape has failed */
em_tensor *em_global_avgpool(em_tape *tape, em_tensor *x);

/* ---- dropout (core/ops/dropout.c) -------------------------------------------------- */
/** training: y = x * m / (1 - p), m ~ Bernoulli(1 - p) per element, drawn from rng;
 * otherwise (or p == 0) y = x: x itself is returned, no copy, no node. p in [0, 1).
 * @param tape      the tape of this step
 * @param x         any shape
 * @param p         the probability of zeroing an element, in [0, 1)
 * @param training  false: the identity
 * @param rng       the stream the masks come from, advanced
 * @return y (or x itself); NULL when the tape has failed */
em_tensor *em_dropout(em_tape *tape, em_tensor *x, em_real p, bool training, em_rng *rng);

#endif

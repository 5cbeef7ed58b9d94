/** core/ops.h — every differentiable op, one line of math each.
 *
 *     em_tensor *h = em_relu(tape, em_linear(tape, x, w1, b1));    // (N, 128)
 *     em_tensor *logits = em_linear(tape, h, w2, b2);               // (N, 10)
 *     em_tensor *loss = em_cross_entropy(tape, logits, labels);     // scalar
 *     em_backward(tape, loss);
 *
 * Each op allocates its output from the tape's arena and records a node when an input
 * requires a gradient. Shapes are checked with EM_ASSERT (a wrong shape is a bug in the
 * caller). On a failed tape (out of memory) every op returns NULL. The implementation of
 * each family is one file in core/ops/, forward kernel, backward kernel, tape wrapper.
 *
 * Every op below takes the step's tape first and returns its output, allocated from the
 * tape's arena (valid until em_tape_reset()), or NULL when the tape has failed (then
 * tape->err says why).
 *
 * @file
 */
#ifndef EM_OPS_H
#define EM_OPS_H

#include <stdbool.h>

#include "tape.h"
#include "tensor.h"

/* ---- elementwise binary, NumPy broadcasting (core/ops/binary.c) ------------------
 * Shapes are aligned at the right; a dimension of 1 (or a missing one) is repeated.
 * Backward sums the gradient over the broadcast axes. */
/** @param tape  the tape of this step
 * @param a     any shape
 * @param b     a shape that broadcasts with a's
 * @return y of the broadcast shape; NULL when the tape has failed */
em_tensor *em_add(em_tape *tape, em_tensor *a, em_tensor *b);  /**< y = a + b */
/** @param tape  the tape of this step
 * @param a     any shape
 * @param b     a shape that broadcasts with a's
 * @return y of the broadcast shape; NULL when the tape has failed */
em_tensor *em_sub(em_tape *tape, em_tensor *a, em_tensor *b);  /**< y = a - b */
/** @param tape  the tape of this step
 * @param a     any shape
 * @param b     a shape that broadcasts with a's
 * @return y of the broadcast shape; NULL when the tape has failed */
em_tensor *em_mul(em_tape *tape, em_tensor *a, em_tensor *b);  /**< y = a * b */
/** @param tape  the tape of this step
 * @param a     any shape
 * @param b     a shape that broadcasts with a's
 * @return y of the broadcast shape; NULL when the tape has failed */
em_tensor *em_div(em_tape *tape, em_tensor *a, em_tensor *b);  /**< y = a / b */

/* ---- elementwise unary (core/ops/unary.c) ----------------------------------------- */
/** @param tape  the tape of this step
 * @param x     any shape
 * @param c     the constant
 * @return y, x's shape; NULL when the tape has failed */
em_tensor *em_add_scalar(em_tape *tape, em_tensor *x, em_real c);  /**< y = x + c      */
/** @param tape  the tape of this step
 * @param x     any shape
 * @param c     the constant
 * @return y, x's shape; NULL when the tape has failed */
em_tensor *em_mul_scalar(em_tape *tape, em_tensor *x, em_real c);  /**< y = c x        */
/** @param tape  the tape of this step
 * @param x     any shape
 * @return y, x's shape; NULL when the tape has failed */
em_tensor *em_neg(em_tape *tape, em_tensor *x);                    /**< y = -x         */
/** @param tape  the tape of this step
 * @param x     any shape
 * @return y, x's shape; NULL when the tape has failed */
em_tensor *em_exp(em_tape *tape, em_tensor *x);                    /**< y = e^x        */
/** @param tape  the tape of this step
 * @param x     any shape
 * @return y, x's shape; NULL when the tape has failed */
em_tensor *em_log(em_tape *tape, em_tensor *x);                    /**< y = ln x       */
/** @param tape  the tape of this step
 * @param x     any shape
 * @return y, x's shape; NULL when the tape has failed */
em_tensor *em_sqrt(em_tape *tape, em_tensor *x);                   /**< y = x^(1/2)    */
/** @param tape  the tape of this step
 * @param x     any shape
 * @return y, x's shape; NULL when the tape has failed */
em_tensor *em_rsqrt(em_tape *tape, em_tensor *x);                  /**< y = x^(-1/2)   */
/** @param tape  the tape of this step
 * @param x     any shape
 * @param p     the exponent
 * @return y, x's shape; NULL when the tape has failed */
em_tensor *em_pow(em_tape *tape, em_tensor *x, em_real p);         /**< y = x^p        */

/* ---- activations (core/ops/activation.c) ------------------------------------------ */
/** @param tape  the tape of this step
 * @param x     any shape
 * @return y, x's shape; NULL when the tape has failed */
em_tensor *em_relu(em_tape *tape, em_tensor *x);     /**< y = max(0, x)                */
/** @param tape  the tape of this step
 * @param x     any shape
 * @return y, x's shape; NULL when the tape has failed */
em_tensor *em_sigmoid(em_tape *tape, em_tensor *x);  /**< y = 1 / (1 + e^-x)           */
/** @param tape  the tape of this step
 * @param x     any shape
 * @return y, x's shape; NULL when the tape has failed */
em_tensor *em_tanh(em_tape *tape, em_tensor *x);     /**< y = tanh x                   */

/* ---- matrix products (core/ops/matmul.c) ------------------------------------------ */
/** y = op(a) op(b), 2-D; op(a) = a^T when trans_a. (M, K) x (K, N) -> (M, N)
 * @param tape     the tape of this step
 * @param a        (M, K), or (K, M) when trans_a
 * @param b        (K, N), or (N, K) when trans_b
 * @param trans_a  use a^T
 * @param trans_b  use b^T
 * @return y (M, N); NULL when the tape has failed */
em_tensor *em_matmul(em_tape *tape, em_tensor *a, em_tensor *b, bool trans_a, bool trans_b);
/** y = x w^T + b: x (N, in), w (out, in), b (out) or NULL -> y (N, out). PyTorch's layout
 * for nn.Linear, one GEMM for the whole batch.
 * @param tape  the tape of this step
 * @param x     (N, in)
 * @param w     (out, in)
 * @param b     (out), or NULL for no bias
 * @return y (N, out); NULL when the tape has failed */
em_tensor *em_linear(em_tape *tape, em_tensor *x, em_tensor *w, em_tensor *b);

/* ---- reductions (core/ops/reduce.c) ------------------------------------------------
 * axes is a bit mask: EM_AXIS(0) | EM_AXIS(2) reduces over dims 0 and 2; EM_ALL_AXES
 * over all. keepdim keeps reduced dims as size 1 (handy for broadcasting back). */
/** The bit of dimension i in an axes mask.
 * @param i  the dimension */
#define EM_AXIS(i) (1u << (i))
/** An axes mask of every dimension. */
#define EM_ALL_AXES (~0u)
/** @param tape     the tape of this step
 * @param x        any shape
 * @param axes     the dimensions to reduce: EM_AXIS(i) | ..., or EM_ALL_AXES
 * @param keepdim  keep the reduced dimensions as size 1
 * @return y; NULL when the tape has failed */
em_tensor *em_sum(em_tape *tape, em_tensor *x, unsigned axes, bool keepdim);  /**< sum x */
/** @param tape     the tape of this step
 * @param x        any shape
 * @param axes     the dimensions to reduce: EM_AXIS(i) | ..., or EM_ALL_AXES
 * @param keepdim  keep the reduced dimensions as size 1
 * @return y; NULL when the tape has failed */
em_tensor *em_mean(em_tape *tape, em_tensor *x, unsigned axes, bool keepdim); /**< sum x / M */
/** sum (x - mean)^2 / (M - correction); correction 0: biased, 1: unbiased
 * @param tape        the tape of this step
 * @param x           any shape
 * @param axes        the dimensions to reduce over (M values each)
 * @param keepdim     keep the reduced dimensions as size 1
 * @param correction  0 (biased) or 1 (unbiased)
 * @return y; NULL when the tape has failed */
em_tensor *em_var(em_tape *tape, em_tensor *x, unsigned axes, bool keepdim, int correction);

/* ---- shape (core/ops/shape.c) ------------------------------------------------------ */
/** a view with another shape of the same size; one dim may be -1 (inferred)
 * @param tape   the tape of this step
 * @param x      the tensor to view
 * @param ndim   number of dimensions of the view
 * @param shape  ndim dimensions, at most one -1
 * @return the view (shares x's data); NULL when the tape has failed */
em_tensor *em_reshape(em_tape *tape, em_tensor *x, int ndim, const int *shape);
/** (N, d1, d2, ...) -> (N, d1*d2*...), a view
 * @param tape  the tape of this step
 * @param x     at least one dimension
 * @return the view; NULL when the tape has failed */
em_tensor *em_flatten(em_tape *tape, em_tensor *x);
/** (M, N) -> (N, M), a copy
 * @param tape  the tape of this step
 * @param x     (M, N)
 * @return y (N, M); NULL when the tape has failed */
em_tensor *em_transpose(em_tape *tape, em_tensor *x);

/* ---- loss (core/ops/loss.c) -------------------------------------------------------- */
/** logits (N, C), labels[N] in [0, C): y = -(1/N) sum_n log softmax(logits_n)[labels_n],
 * computed with log-sum-exp so no logit overflows. A scalar.
 * @param tape    the tape of this step
 * @param logits  (N, C)
 * @param labels  N class indices in [0, C) (others are a programmer error)
 * @return y, one element; NULL when the tape has failed */
em_tensor *em_cross_entropy(em_tape *tape, em_tensor *logits, const int *labels);

/* ---- batch normalization (core/ops/batchnorm.c) ------------------------------------
 * x (N, C) or (N, C, H, W); statistics per channel c over the M = N*H*W values of c.
 *   training:  mu = mean x,  var = (1/M) sum (x - mu)^2   (biased),
 *              xhat = (x - mu) / sqrt(var + eps),   y = gamma * xhat + beta,
 *              running_mean = m * running_mean + (1 - m) * mu
 *              running_var  = m * running_var  + (1 - m) * var * M / (M - 1)  (unbiased)
 *   eval:      the same with mu, var := running_mean, running_var; nothing updated.
 * m (momentum) is the fraction of history kept: 0.9 here is PyTorch's momentum=0.1.
 * The backward of EM_BN_TRAIN flows through mu and var (the full derivative);
 * EM_BN_FROZEN_STATS computes the same forward but treats mu and var as constants in
 * backward — a deliberately incomplete gradient, for the experiment that shows why the
 * full one matters. Training with M = 1 fails the step with EM_ERR_STATE and a message
 * (the variance of one value is 0).
 * Batch Renormalization (Ioffe 2017; args->renorm, training modes only): with the running
 * statistics as they were before this batch, sigma = sqrt(running_var + eps),
 *   r = clip(sqrt(var + eps) / sigma, 1/rmax, rmax),  d = clip((mu - running_mean) / sigma,
 *   -dmax, dmax),  y = gamma * (xhat * r + d) + beta,
 * and r, d are constants in backward (stop-gradient): dx is BatchNorm's times r, dgamma =
 * sum dy (xhat r + d). The running statistics update as above; evaluation is BatchNorm's.
 * rmax = 1, dmax = 0 is BatchNorm exactly. */
/** Which statistics em_batchnorm() normalizes with, and how its backward treats them. */
typedef enum em_bn_mode {
    EM_BN_TRAIN,         /**< batch statistics, full backward                            */
    EM_BN_FROZEN_STATS,  /**< batch statistics, backward as if they were constants       */
    EM_BN_EVAL,          /**< running statistics                                         */
} em_bn_mode;

/** Synchronized batch statistics (SyncBatchNorm), for data-parallel training where each
 * process holds a shard of the global batch. `sum` must replace buf[0..n) by its sum over
 * all processes (an MPI_Allreduce with MPI_SUM, say); core knows nothing of MPI.
 * em_batchnorm calls it, in training modes only, with:
 *   forward   [sum_x[0..C), M_local]          -> global mean and M
 *             [sum (x - mean)^2 [0..C)]       -> global (biased) variance
 *   backward  [sum dy [0..C), sum dy*xhat [0..C)]  (EM_BN_TRAIN only; dx uses the global
 *             sums and M, while dgamma/dbeta get this process's own sums: the parameter
 *             gradients are reduced with all the others afterwards)
 * Every process must call with the same C and mode, in the same order. */
typedef struct em_bn_sync {
    void (*sum)(double *buf, int n, void *ctx); /**< replace buf[0..n) by its global sum */
    void *ctx;                                  /**< passed to sum                        */
} em_bn_sync;

/** What em_batchnorm() normalizes with, besides x: its parameters, statistics and
 * options. em_bn_args_default() gives the usual ones; set the rest by name. */
typedef struct em_bn_args {
    em_tensor *gamma;           /**< (C), or NULL: no affine part (gamma = 1)             */
    em_tensor *beta;            /**< (C), or NULL (beta = 0)                              */
    em_real *running_mean;      /**< C values, updated in training and read in
                                     EM_BN_EVAL; may be NULL in training (not tracked)   */
    em_real *running_var;       /**< C values, likewise                                   */
    double momentum;            /**< the fraction of history kept, in [0, 1]            */
    double eps;                 /**< added to the variance inside the square root         */
    em_bn_mode mode;            /**< EM_BN_TRAIN, EM_BN_FROZEN_STATS or EM_BN_EVAL        */
    const em_bn_sync *sync;     /**< statistics over all processes (training only), or
                                     NULL: this process's                                */
    bool renorm;                /**< Batch Renorm in the training modes: needs the
                                     running statistics                                  */
    double rmax;                /**< Batch Renorm: r is clipped to [1/rmax, rmax], rmax >= 1 */
    double dmax;                /**< Batch Renorm: d is clipped to [-dmax, dmax], dmax >= 0 */
} em_bn_args;

/** The usual BatchNorm arguments: no parameters, no running statistics, momentum 0.9
 * (PyTorch's 0.1), eps 1e-5, EM_BN_TRAIN, no sync, no Batch Renorm (its limits set to
 * Ioffe's final values, rmax 3 and dmax 5, for when it is switched on).
 * @return the arguments */
em_bn_args em_bn_args_default(void);

/** BatchNorm over the channels of x, as described above (docs/batchnorm.md derives it).
 *
 *     em_bn_args a = em_bn_args_default();
 *     a.gamma = gamma; a.beta = beta;                       // (C) parameters
 *     a.running_mean = rm; a.running_var = rv;              // (C) buffers
 *     em_tensor *y = em_batchnorm(tape, x, &a);
 *
 * @param tape  the tape of this step
 * @param x     (N, C) or (N, C, H, W)
 * @param args  parameters, statistics and options (copied: the struct may go after the
 *              call; the tensors and buffers it points at must live until backward)
 * @return y, x's shape; NULL when the tape has failed, or when training sees one value
 *         per channel (the tape fails with EM_ERR_STATE and says so) */
em_tensor *em_batchnorm(em_tape *tape, em_tensor *x, const em_bn_args *args);

/* ---- group normalization: GroupNorm, LayerNorm, InstanceNorm (core/ops/groupnorm.c) ---
 * x (N, C) or (N, C, H, W); the C channels in G groups of C/G consecutive channels.
 * Statistics per sample n and group g over the K = (C/G)*H*W values of g's channels:
 *   mu = (1/K) sum x,  var = (1/K) sum (x - mu)^2   (biased),
 *   xhat = (x - mu) / sqrt(var + eps),   y = gamma[c] * xhat + beta[c]   (c: x's channel)
 * The same in training and evaluation: no running statistics, no batch dependence. G = 1 is
 * LayerNorm over every non-batch dimension, G = C is InstanceNorm. The backward flows
 * through mu and var (docs/batchnorm.md derives it). */
/** What em_groupnorm() normalizes with, besides x. */
typedef struct em_gn_args {
    em_tensor *gamma;  /**< (C), or NULL: no affine part (gamma = 1)                   */
    em_tensor *beta;   /**< (C), or NULL (beta = 0)                                     */
    int groups;        /**< G: 1 <= G <= C, C divisible by G; and (C/G)*H*W >= 2        */
    double eps;        /**< added to the variance inside the square root (>= 0)          */
} em_gn_args;

/** GroupNorm over the channel groups of each sample, as described above.
 *
 *     em_gn_args a = {.gamma = gamma, .beta = beta, .groups = 2, .eps = 1e-5};
 *     em_tensor *y = em_groupnorm(tape, x, &a);             // x (N, C, H, W), C even
 *
 * A shape that does not fit (C not divisible by G, one value per group) is a programmer
 * error (EM_ASSERT): it depends on the model, not on the batch.
 * @param tape  the tape of this step
 * @param x     (N, C) or (N, C, H, W)
 * @param args  parameters, groups and eps (copied; gamma and beta must live until backward)
 * @return y, x's shape; NULL when the tape has failed */
em_tensor *em_groupnorm(em_tape *tape, em_tensor *x, const em_gn_args *args);

#endif

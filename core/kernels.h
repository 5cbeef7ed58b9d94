/** core/kernels.h — the seam between the ops and their kernels: two tiers.
 *
 *     em_tape *tape = em_tape_new(0);                      // the tier EMBER_KERNELS names
 *     em_tape_set_kernels(tape, em_kernels_reference());   // or: plain loops, to read
 *
 * Every op is a tape wrapper in core/ops/ (check the shapes, take the output from the
 * arena, record the node) around kernels that compute on raw arrays. The kernels of the
 * ops that have a faster version are reached through a table, em_kernels, that the tape
 * carries, so one op has one wrapper and any number of kernel sets:
 *
 *   reference  core/ops/: each kernel as plain loops with its formula above it, no vector
 *              types, no threads, no fusion. Matrix products are one OpenBLAS call
 *              (em_gemm). This is the code the docs, the tutorials and the exercises cite.
 *   fast       core/fast/: ember's own GEMM kernel split across threads, Winograd for
 *              3x3 convolutions, vectorized and threaded BatchNorm, pooling and
 *              activations, and fused ops (a Sequential runs Conv2d + ReLU + MaxPool2d and
 *              BatchNorm + ReLU as one op when the table allows it: em_kernels::fuse).
 *              Any shape the fast kernels do not take goes to the reference kernel.
 *
 * Both tiers compute the same functions: they differ only in float rounding (sums in
 * another order), and tests hold every fast kernel to its reference on a grid of shapes,
 * in float and in double (tests/test_tiers.c). Ops without a fast version (the binary and
 * unary elementwise ops, reductions, average pooling, dropout; and Batch Renorm, which the
 * fast BatchNorm kernels hand to the reference's) call their plain kernels directly,
 * whatever the tier. The loss has table entries without a fast version (both tables point
 * at the reference), so that an exercise build can put its own there; group normalization
 * has both (core/fast/groupnorm.c).
 *
 * The tier of a tape is chosen when it is made (em_tape_new: the environment variable
 * EMBER_KERNELS, "reference" or "fast", else the build's default, fast) and may be changed
 * between steps (em_tape_set_kernels). An optimizer takes its update kernel from a table
 * too (optim/optim.h). There is no global state: a table is a constant, and a tape holds a
 * pointer to one.
 *
 * Kernels follow ember's argument order: outputs, saved buffers, inputs, parameters,
 * sizes. A backward kernel ADDS into the parameter gradients; into the input gradient dx
 * it adds when `add` is true and stores (never reading dx, which may hold garbage) when
 * it is false: a fresh buffer (em_node_grad_fresh) saves a pass of zeroing. The BatchNorm
 * and convolution kernels take the step's tape for scratch memory only (em_tape_alloc)
 * and return false when it ran out (the tape is then marked failed).
 *
 * @file
 */
#ifndef EM_KERNELS_H
#define EM_KERNELS_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "ops.h"
#include "tape.h"
#include "tensor.h"

/** A 2-d convolution's shapes: x (N, C, H, W), w (O, C, kh, kw), y (N, O, Ho, Wo) with
 * Ho = (H + 2 pad - kh) / stride + 1 and Wo likewise. */
typedef struct em_conv_geom {
    int N;       /**< images                                  */
    int C;       /**< input channels                          */
    int H;       /**< input height                            */
    int W;       /**< input width                             */
    int O;       /**< output channels (filters)               */
    int kh;      /**< filter height                           */
    int kw;      /**< filter width                            */
    int stride;  /**< the step between windows                */
    int pad;     /**< zeros on each side                      */
    int Ho;      /**< output height                           */
    int Wo;      /**< output width                            */
} em_conv_geom;

/** A 2-d pooling's shapes: x viewed as NC planes (H, W), windows k x k every stride
 * pixels, y NC planes (Ho, Wo) with Ho = (H - k) / stride + 1 and Wo likewise. */
typedef struct em_pool_geom {
    int NC;      /**< planes: images times channels           */
    int H;       /**< plane height                            */
    int W;       /**< plane width                             */
    int k;       /**< the window's height and width           */
    int stride;  /**< the step between windows                */
    int Ho;      /**< output height                           */
    int Wo;      /**< output width                            */
} em_pool_geom;

/** One step of SGD (optim/optim.h has the formulas), the numbers an update kernel needs. */
typedef struct em_sgd_hyper {
    double lr;            /**< learning rate                                      */
    double momentum;      /**< mu (0: no velocity)                                */
    double dampening;     /**< d                                                  */
    double weight_decay;  /**< L2, added to the gradient                          */
    bool nesterov;        /**< Nesterov momentum                                  */
    bool first;           /**< the first step: the velocity starts as the gradient */
} em_sgd_hyper;

/** One step of Adam or AdamW (optim/optim.h). */
typedef struct em_adam_hyper {
    double lr;            /**< learning rate                                      */
    double beta1;         /**< the first moment's decay                          */
    double beta2;         /**< the second moment's decay                         */
    double eps;           /**< added to the denominator                          */
    double weight_decay;  /**< L2 (Adam) or decoupled decay (AdamW)              */
    double bias1;         /**< 1 - beta1^t for this step t                        */
    double bias2;         /**< 1 - beta2^t                                        */
    bool decoupled;       /**< AdamW: the decay applied to the weight, not the gradient */
    long step;            /**< t, this step's number: 1 on the first step          */
} em_adam_hyper;

/** A set of kernels: one tier. Every entry is set in every table. */
typedef struct em_kernels {
    const char *name;  /**< "reference" or "fast" (what --kernels and EMBER_KERNELS say) */
    /** a Sequential may run its fused plan (layers/module.h): Conv2d + ReLU (+ MaxPool2d
     * 2x2) and BatchNorm + ReLU as one op each */
    bool fuse;

    /** C = alpha op(A) op(B) + beta C (core/gemm.h's arguments): em_matmul, em_linear */
    void (*gemm)(bool trans_a, bool trans_b, int M, int N, int K, em_real alpha,
                 const em_real *A, int lda, const em_real *B, int ldb, em_real beta,
                 em_real *C, int ldc);

    /** y = max(0, x) on n values (a NaN passes through) */
    void (*relu)(em_real *y, const em_real *x, size_t n);
    /** dx (+)= dy [y > 0] */
    void (*relu_backward)(em_real *dx, bool add, const em_real *dy, const em_real *y,
                          size_t n);
    /** y = 1 / (1 + e^-x) */
    void (*sigmoid)(em_real *y, const em_real *x, size_t n);
    /** dx (+)= dy y (1 - y) */
    void (*sigmoid_backward)(em_real *dx, bool add, const em_real *dy, const em_real *y,
                             size_t n);
    /** y = tanh x */
    void (*tanh)(em_real *y, const em_real *x, size_t n);
    /** dx (+)= dy (1 - y^2) */
    void (*tanh_backward)(em_real *dx, bool add, const em_real *dy, const em_real *y,
                          size_t n);
    /** y = a + b on n values, a and b of one shape (em_add without broadcasting: a
     * residual block's sum) */
    void (*add)(em_real *y, const em_real *a, const em_real *b, size_t n);
    /** d (+)= dy: the gradient an addition passes to each of its two inputs */
    void (*add_backward)(em_real *d, bool add, const em_real *dy, size_t n);

    /** y = the max over each window; which[i] says where output i's maximum was, in the
     * kernel's own encoding (only its own maxpool_backward reads it) */
    void (*maxpool)(em_real *y, int32_t *which, const em_real *x, const em_pool_geom *g);
    /** dx (+)= dy at each window's maximum */
    void (*maxpool_backward)(em_real *dx, bool add, const em_real *dy, const int32_t *which,
                             const em_pool_geom *g);

    /** BatchNorm in training: the batch's mean and rstd (C) of x viewed as (N, C, S), y,
     * and the running statistics of a (core/ops.h); with a->renorm also Batch Renorm's r
     * and d into rd (2C: r, then d), which bn_backward gets back (rd is not touched, and
     * may be NULL, without renorm). Returns M, the values per channel over all processes
     * (a->sync); when M < 2 it returns at once, nothing written. Returns -1 when out of
     * scratch memory. */
    double (*bn_train)(em_tape *tape, em_real *y, em_real *mean, em_real *rstd, em_real *rd,
                       const em_real *x, const em_bn_args *a, int N, int C, int S);
    /** y = (x - mean) k + b, per channel (k = gamma rstd, b = beta): the normalization
     * with given statistics (evaluation mode) */
    void (*bn_normalize)(em_real *y, const em_real *x, const em_real *mean, const em_real *k,
                         const em_real *b, int N, int C, int S);
    /** dgamma, dbeta += ...; dx (+)= ... through the statistics when a->mode is
     * EM_BN_TRAIN, as constants otherwise; M as bn_train returned it (0 in evaluation);
     * rd: bn_train's r and d (read with a->renorm in the training modes only) */
    bool (*bn_backward)(em_tape *tape, em_real *dx, bool add, em_real *dgamma,
                        em_real *dbeta, const em_real *dy, const em_real *mean,
                        const em_real *rstd, const em_real *rd, const em_real *x,
                        const em_bn_args *a, int N, int C, int S, double M);

    /** group normalization (GroupNorm; LayerNorm is G = 1, InstanceNorm G = C) of x viewed
     * as (N, C, S), its C channels in G groups: per sample and group the mean and rstd
     * (N, G) of its C/G * S values, y = gamma[c] (x - mean) rstd + beta[c]; gamma, beta (C)
     * may be NULL (1 and 0) */
    void (*gn_forward)(em_real *y, em_real *mean, em_real *rstd, const em_real *x,
                       const em_real *gamma, const em_real *beta, int N, int C, int S, int G,
                       double eps);
    /** dgamma, dbeta += ... (either may be NULL); dx (+)= ... through the statistics */
    void (*gn_backward)(em_real *dx, bool add, em_real *dgamma, em_real *dbeta,
                        const em_real *dy, const em_real *mean, const em_real *rstd,
                        const em_real *x, const em_real *gamma, int N, int C, int S, int G);

    /** y = conv(x, w) + b (b may be NULL) for the whole batch */
    bool (*conv2d)(em_tape *tape, em_real *y, const em_real *x, const em_real *w,
                   const em_real *b, const em_conv_geom *g);
    /** dw, db += ...; dx (+)= ...; any of dx, dw, db may be NULL (not wanted) */
    bool (*conv2d_backward)(em_tape *tape, em_real *dx, bool add, em_real *dw, em_real *db,
                            const em_real *dy, const em_real *x, const em_real *w,
                            const em_conv_geom *g);

    /** softmax cross-entropy of the logits z (N, C) against labels (N): y[0] = the mean
     * over the rows of -log softmax(z_n)[label_n]; probs (N, C), when not NULL, receives
     * each row's softmax (what the backward reads) */
    void (*cross_entropy)(em_real *y, em_real *probs, const em_real *z, const int *labels,
                          int N, int C);
    /** dz (+)= dy[0] (probs - onehot(labels)) / N */
    void (*cross_entropy_backward)(em_real *dz, bool add, const em_real *dy,
                                   const em_real *probs, const int *labels, int N, int C);

    /** one SGD step of the n parameters p with gradient g; v the velocity (NULL without
     * momentum) */
    void (*sgd)(em_real *p, em_real *v, const em_real *g, size_t n, const em_sgd_hyper *h);
    /** one Adam step; m, v the two moments */
    void (*adam)(em_real *p, em_real *m, em_real *v, const em_real *g, size_t n,
                 const em_adam_hyper *h);
} em_kernels;

/** @return the reference tier: plain loops (core/ops/) */
const em_kernels *em_kernels_reference(void);
/** @return the fast tier: core/fast/ */
const em_kernels *em_kernels_fast(void);
/** The tier of a name.
 * @param name  "reference" or "fast"
 * @return the table, or NULL for any other name */
const em_kernels *em_kernels_by_name(const char *name);
/** The tier a new tape gets: EMBER_KERNELS when it names one, else the build's default
 * (fast; reference in an exercise build). A value that names no tier is ignored here;
 * programs check it first with em_kernels_from_env().
 * @return the table */
const em_kernels *em_kernels_default(void);
/** The tier EMBER_KERNELS names, checked: what a program calls at start.
 * @param out  receives the table (the default when the variable is unset or empty)
 * @param err  receives the message when the variable names no tier
 * @return EM_OK, or EM_ERR_ARG naming the value and the choices */
em_code em_kernels_from_env(const em_kernels **out, em_error *err);

/** rstd = 1 / sqrt(var + eps), eps inside the root: BatchNorm's one definition, used by
 * both tiers in every mode.
 * @param var  a variance (batch or running)
 * @param eps  BatchNorm's eps
 * @return the reciprocal standard deviation */
static inline em_real em_bn_rstd(double var, double eps) {
    return (em_real)(1.0 / sqrt(var + eps));
}

#endif

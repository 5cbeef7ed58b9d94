/* core/fast/fast.h — the fast tier's kernels by name (not installed), for its table
 * (core/fast/table.c), and the fused ops a Sequential's plan runs (layers/module.c). What
 * each table entry computes is in core/kernels.h; how each kernel gets there, in its file.
 * A fast kernel hands the shapes it does not take to the reference's (core/ops/reference.h). */
#ifndef EM_FAST_H
#define EM_FAST_H

#include "../kernels.h"
#include "../ops.h"
#include "../ops_image.h"
#include "../ops/reference.h"

/* activation.c */
void em_fast_relu(em_real *y, const em_real *x, size_t n);
void em_fast_relu_backward(em_real *dx, bool add, const em_real *dy, const em_real *y,
                           size_t n);
void em_fast_sigmoid(em_real *y, const em_real *x, size_t n);
void em_fast_sigmoid_backward(em_real *dx, bool add, const em_real *dy, const em_real *y,
                              size_t n);
void em_fast_tanh_backward(em_real *dx, bool add, const em_real *dy, const em_real *y,
                           size_t n);

/* binary.c */
void em_fast_add(em_real *y, const em_real *a, const em_real *b, size_t n);
void em_fast_add_backward(em_real *d, bool add, const em_real *dy, size_t n);

/* pool.c */
void em_fast_maxpool(em_real *y, int32_t *which, const em_real *x, const em_pool_geom *g);
void em_fast_maxpool_backward(em_real *dx, bool add, const em_real *dy, const int32_t *which,
                              const em_pool_geom *g);

/* batchnorm.c */
double em_fast_bn_train(em_tape *tape, em_real *y, em_real *mean, em_real *rstd, em_real *rd,
                        const em_real *x, const em_bn_args *a, int N, int C, int S);
void em_fast_bn_normalize(em_real *y, const em_real *x, const em_real *mean, const em_real *k,
                          const em_real *b, int N, int C, int S);
bool em_fast_bn_backward(em_tape *tape, em_real *dx, bool add, em_real *dgamma, em_real *dbeta,
                         const em_real *dy, const em_real *mean, const em_real *rstd,
                         const em_real *rd, const em_real *x, const em_bn_args *a, int N,
                         int C, int S, double M);

/* groupnorm.c */
void em_fast_gn_forward(em_real *y, em_real *mean, em_real *rstd, const em_real *x,
                        const em_real *gamma, const em_real *beta, int N, int C, int S, int G,
                        double eps);
void em_fast_gn_backward(em_real *dx, bool add, em_real *dgamma, em_real *dbeta,
                         const em_real *dy, const em_real *mean, const em_real *rstd,
                         const em_real *x, const em_real *gamma, int N, int C, int S, int G);

/* conv.c */
bool em_fast_conv2d(em_tape *tape, em_real *y, const em_real *x, const em_real *w,
                    const em_real *b, const em_conv_geom *g);
bool em_fast_conv2d_backward(em_tape *tape, em_real *dx, bool add, em_real *dw, em_real *db,
                             const em_real *dy, const em_real *x, const em_real *w,
                             const em_conv_geom *g);

/* update.c */
void em_fast_sgd(em_real *p, em_real *v, const em_real *g, size_t n, const em_sgd_hyper *h);

/* ---- the fused ops: each equals the ops it stands for on this tier, bit for bit --------
 * y = max(0, em_conv2d(x, w, b, stride, pad)), recorded as EM_OP_CONV2D_RELU */
em_tensor *em_fast_conv2d_relu(em_tape *tape, em_tensor *x, em_tensor *w, em_tensor *b,
                               int stride, int pad);
/* y = em_maxpool2d(max(0, em_conv2d(...)), 2, 2), recorded as EM_OP_CONV2D_RELU_POOL (when
 * the convolution's output has an odd side, the pool is its own op after a fused ReLU) */
em_tensor *em_fast_conv2d_relu_pool(em_tape *tape, em_tensor *x, em_tensor *w, em_tensor *b,
                                    int stride, int pad);
/* y = max(0, em_batchnorm(x, a)), recorded as EM_OP_BATCHNORM_RELU (Batch Renorm in
 * training: the two ops, em_batchnorm then em_relu) */
em_tensor *em_fast_batchnorm_relu(em_tape *tape, em_tensor *x, const em_bn_args *a);

#endif

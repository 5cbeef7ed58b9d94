/* core/ops/reference.h — the reference tier's kernels by name (not installed), for its
 * table (core/ops/table.c), for the fast tier, which hands every shape it does not take to
 * these, and for exercise builds (exercises/tier.c). Each is documented where it is
 * defined; core/kernels.h says what every table entry computes. Also the shape checks the
 * op wrappers share with the fast tier's fused ops. */
#ifndef EM_OPS_REFERENCE_H
#define EM_OPS_REFERENCE_H

#include "../kernels.h"

/* activation.c */
void em_ref_relu(em_real *y, const em_real *x, size_t n);
void em_ref_relu_backward(em_real *dx, bool add, const em_real *dy, const em_real *y,
                          size_t n);
void em_ref_sigmoid(em_real *y, const em_real *x, size_t n);
void em_ref_sigmoid_backward(em_real *dx, bool add, const em_real *dy, const em_real *y,
                             size_t n);
void em_ref_tanh(em_real *y, const em_real *x, size_t n);
void em_ref_tanh_backward(em_real *dx, bool add, const em_real *dy, const em_real *y,
                          size_t n);
/* binary.c */
void em_ref_add(em_real *y, const em_real *a, const em_real *b, size_t n);
void em_ref_add_backward(em_real *d, bool add, const em_real *dy, size_t n);

/* pool.c */
void em_ref_maxpool(em_real *y, int32_t *which, const em_real *x, const em_pool_geom *g);
void em_ref_maxpool_backward(em_real *dx, bool add, const em_real *dy, const int32_t *which,
                             const em_pool_geom *g);

/* batchnorm.c */
double em_ref_bn_train(em_tape *tape, em_real *y, em_real *mean, em_real *rstd, em_real *rd,
                       const em_real *x, const em_bn_args *a, int N, int C, int S);
void em_ref_bn_normalize(em_real *y, const em_real *x, const em_real *mean, const em_real *k,
                         const em_real *b, int N, int C, int S);
/* k = gamma rstd and b = beta (C), the constants of the normalization */
void em_bn_affine(em_real *k, em_real *b, const em_real *rstd, const em_bn_args *a, int C);
bool em_ref_bn_backward(em_tape *tape, em_real *dx, bool add, em_real *dgamma,
                        em_real *dbeta, const em_real *dy, const em_real *mean,
                        const em_real *rstd, const em_real *rd, const em_real *x,
                        const em_bn_args *a, int N, int C, int S, double M);
/* whether a's Batch Renorm applies: a->renorm in a training mode (evaluation is
 * BatchNorm's); the fast tier hands such calls to the reference kernels */
static inline bool em_bn_renorm_on(const em_bn_args *a) {
    return a->renorm && a->mode != EM_BN_EVAL;
}
/* x (N, C) or (N, C, H, W) viewed as (N, C, S), and a's shapes checked against it */
void em_bn_check(const em_tensor *x, const em_bn_args *a, int *N, int *C, int *S);
/* evaluation's statistics: mean = running_mean, rstd from running_var */
void em_bn_running_stats(em_real *mean, em_real *rstd, const em_bn_args *a, int C);
/* the step fails: training on one value per channel (returns NULL) */
em_tensor *em_bn_fail_one_value(em_tape *tape, int N, int C, int S);

/* groupnorm.c */
void em_ref_gn_forward(em_real *y, em_real *mean, em_real *rstd, const em_real *x,
                       const em_real *gamma, const em_real *beta, int N, int C, int S, int G,
                       double eps);
void em_ref_gn_backward(em_real *dx, bool add, em_real *dgamma, em_real *dbeta,
                        const em_real *dy, const em_real *mean, const em_real *rstd,
                        const em_real *x, const em_real *gamma, int N, int C, int S, int G);

/* conv.c */
bool em_ref_conv2d(em_tape *tape, em_real *y, const em_real *x, const em_real *w,
                   const em_real *b, const em_conv_geom *g);
bool em_ref_conv2d_backward(em_tape *tape, em_real *dx, bool add, em_real *dw, em_real *db,
                            const em_real *dy, const em_real *x, const em_real *w,
                            const em_conv_geom *g);
/* the geometry of em_conv2d(x, w, b, stride, pad), every shape checked (EM_ASSERT) */
em_conv_geom em_conv_geometry(const em_tensor *x, const em_tensor *w, const em_tensor *b,
                              int stride, int pad);

/* loss.c */
void em_ref_cross_entropy(em_real *y, em_real *probs, const em_real *z, const int *labels,
                          int N, int C);
void em_ref_cross_entropy_backward(em_real *dz, bool add, const em_real *dy,
                                   const em_real *probs, const int *labels, int N, int C);

/* update.c */
void em_ref_sgd(em_real *p, em_real *v, const em_real *g, size_t n, const em_sgd_hyper *h);
void em_ref_adam(em_real *p, em_real *m, em_real *v, const em_real *g, size_t n,
                 const em_adam_hyper *h);

#endif

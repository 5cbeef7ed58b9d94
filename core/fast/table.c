/* core/fast/table.c — the fast tier's table (core/kernels.h): a fast kernel where one
 * exists, the reference's where none does (tanh's forward: libm already; the loss; group normalization; Adam). */
#include "fast.h"
#include "../gemm.h"

static const em_kernels fast = {
    .name = "fast",
    .fuse = true,
    .gemm = em_gemm_fast,
    .relu = em_fast_relu,
    .relu_backward = em_fast_relu_backward,
    .sigmoid = em_fast_sigmoid,
    .sigmoid_backward = em_fast_sigmoid_backward,
    .tanh = em_ref_tanh,
    .tanh_backward = em_fast_tanh_backward,
    .add = em_fast_add,
    .add_backward = em_fast_add_backward,
    .maxpool = em_fast_maxpool,
    .maxpool_backward = em_fast_maxpool_backward,
    .bn_train = em_fast_bn_train,
    .bn_normalize = em_fast_bn_normalize,
    .bn_backward = em_fast_bn_backward,
    .gn_forward = em_fast_gn_forward,
    .gn_backward = em_fast_gn_backward,
    .conv2d = em_fast_conv2d,
    .conv2d_backward = em_fast_conv2d_backward,
    .sgd = em_fast_sgd,
    .cross_entropy = em_ref_cross_entropy,
    .cross_entropy_backward = em_ref_cross_entropy_backward,
    .adam = em_ref_adam,
};

const em_kernels *em_kernels_fast(void) { return &fast; }

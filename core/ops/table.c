/* core/ops/table.c — the reference tier's table (core/kernels.h): every kernel the plain
 * loops of core/ops/, every matrix product one OpenBLAS call. (An exercise build compiles
 * exercises/tier.c in this file's place: the same table with the student's functions in
 * the entries the exercises cover.) */
#include "../gemm.h"
#include "reference.h"

static const em_kernels reference = {
    .name = "reference",
    .fuse = false,
    .gemm = em_gemm,
    .relu = em_ref_relu,
    .relu_backward = em_ref_relu_backward,
    .sigmoid = em_ref_sigmoid,
    .sigmoid_backward = em_ref_sigmoid_backward,
    .tanh = em_ref_tanh,
    .tanh_backward = em_ref_tanh_backward,
    .add = em_ref_add,
    .add_backward = em_ref_add_backward,
    .maxpool = em_ref_maxpool,
    .maxpool_backward = em_ref_maxpool_backward,
    .bn_train = em_ref_bn_train,
    .bn_normalize = em_ref_bn_normalize,
    .bn_backward = em_ref_bn_backward,
    .gn_forward = em_ref_gn_forward,
    .gn_backward = em_ref_gn_backward,
    .conv2d = em_ref_conv2d,
    .conv2d_backward = em_ref_conv2d_backward,
    .sgd = em_ref_sgd,
    .cross_entropy = em_ref_cross_entropy,
    .cross_entropy_backward = em_ref_cross_entropy_backward,
    .adam = em_ref_adam,
};

const em_kernels *em_kernels_reference(void) { return &reference; }

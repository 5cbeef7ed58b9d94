/* examples/common/models.h — the model zoo: named networks, each a spec of the
 * architecture language (arch.h, docs/architectures.md), built the same way as any
 * network a user writes with --arch.
 *
 *     em_model_opts o = em_model_defaults();    // BN on, sigmoid for the mlp
 *     int in[3];
 *     em_module *net = em_model_new("mnist-cnn", &o, in);   // in = {1, 28, 28}
 *
 *   mnist-cnn  conv16 bn relu pool2 conv32 bn relu pool2 flatten fc128 bn relu fc10
 *   cifar-cnn  conv32 bn relu conv32 bn relu pool2 conv64 bn relu conv64 bn relu pool2
 *              conv128 bn relu pool2 flatten fc256 bn relu fc10
 *   mlp        Ioffe & Szegedy's MNIST network: flatten, 784-100-100-100-10 with the
 *              chosen activation (sigmoid by default), bn before each activation
 *   lenet      d2l's LeNet with BatchNorm (sigmoid, average pooling)
 *   resnet8    a small ResNet for 28 x 28 images: three basic blocks, 16/32/64 channels
 *   resnet20   He et al.'s CIFAR ResNet-20: 3 stages of 3 basic blocks, 16/32/64
 *              channels, projection shortcuts where the shape changes
 * The first three are layer for layer ../reference_models.py's (PyTorch), so the
 * state-dict names agree. A layer followed by a normalization has no bias.
 */
#ifndef EM_MODELS_H
#define EM_MODELS_H

#include "examples/common/arch.h"
#include "layers/layers.h"

typedef struct em_model_opts {
    bool bn;              /* false: every normalization left out (--no-bn)             */
    const char *norm;     /* NULL: the spec's own; else every normalization replaced
                             by this one: "bn", "brn", "gn:G", "ln", "in", "none"       */
    int norm_after;       /* -1: as written; 0, 1: norms before / after the activation   */
    const char *act;      /* mlp only: "sigmoid" (default), "relu", "tanh"               */
    em_bn_opts bn_opts;   /* momentum, eps, frozen-stats backward, Batch Renorm          */
    em_gn_opts gn_opts;   /* eps of GroupNorm, LayerNorm, InstanceNorm                   */
    int width;            /* every channel count and hidden width times this, the
                             classifier excepted (0 or 1: the model as written)          */
} em_model_opts;

em_model_opts em_model_defaults(void);

/* The preset's spec and input shape (C, H, W); NULL for an unknown name (the mlp's act
 * must be relu, sigmoid or tanh). buf holds the mlp's spec, with its activation. */
const char *em_model_spec(const char *name, const char *act, char *buf, size_t len,
                          int input_chw[3]);

/* The options as the architecture language takes them. */
em_arch_opts em_model_arch_opts(const em_model_opts *opts);

/* A preset: NULL for an unknown name or activation, a width above 64, or out of memory;
 * input_chw gets the input shape without the batch dimension. */
em_module *em_model_new(const char *name, const em_model_opts *opts, int input_chw[3]);

/* flatten, n_hidden x (linear width [BN1d] act), linear width->out; act is "relu",
 * "sigmoid", "tanh" or "linear" (none: a deep linear network). NULL on bad arguments. */
em_module *em_model_mlp_new(const int input_chw[3], int n_hidden, int width, int out,
                            const char *act, const em_model_opts *opts);

/* Zero-gamma (Goyal et al. 2017): the last normalization of every residual branch starts
 * with gamma = 0, so each block starts as its shortcut. Returns the blocks changed. */
int em_model_zero_gamma(em_module *net);

/* Fixup-style initialization (Zhang et al. 2019) for residual networks without
 * normalization, after an initialization by a He rule: with L residual blocks of m weight
 * layers each, every weight layer of a branch but its last scaled by L^(-1/(2m-2)), the
 * last one and the network's classifier (its last linear layer) set to 0. (Fixup's scalar
 * biases and multipliers are left out.) Returns L. */
int em_model_fixup(em_module *net);

/* "mnist-cnn", "cifar-cnn", "mlp", "lenet", "resnet8", "resnet20" */
#define EM_N_MODELS 6
extern const char *const em_model_names[EM_N_MODELS];

#endif

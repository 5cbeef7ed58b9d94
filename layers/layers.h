/** layers/layers.h — the modules. Each constructor returns NULL when out of memory.
 *
 *     em_module *conv = em_conv2d_new(1, 16, 3, 1, 1, false);   // 3x3, stride 1, pad 1
 *     em_module *bn = em_batchnorm2d_new(16, NULL);            // defaults: momentum 0.9
 *
 * Parameters start zeroed; em_module_init() fills them (PyTorch's defaults unless told
 * otherwise). State-dict names follow PyTorch: Linear and Conv2d have "weight" and
 * (if bias) "bias"; BatchNorm has "weight" (gamma), "bias" (beta), "running_mean",
 * "running_var", "num_batches_tracked"; GroupNorm, LayerNorm and InstanceNorm have
 * "weight" and "bias".
 *
 * @file
 */
#ifndef EM_LAYERS_H
#define EM_LAYERS_H

#include "../core/ops.h"
#include "init.h"
#include "module.h"

/** y = x W^T + b; x (N, in), W (out, in), b (out)
 * @param in    input features (> 0)
 * @param out   output features (> 0)
 * @param bias  whether the layer has b (leave it out before a BatchNorm)
 * @return the module (parameters zeroed until em_module_init()), or NULL when out of
 *         memory */
em_module *em_linear_new(int in, int out, bool bias);
/** y = conv(x, W) + b; W (Cout, Cin, k, k), square kernel, stride and zero padding
 * @param cin     input channels (> 0)
 * @param cout    output channels (> 0)
 * @param kernel  k, the kernel's height and width (> 0)
 * @param stride  the step between windows (> 0)
 * @param pad     zeros added on every side (>= 0)
 * @param bias    whether the layer has b
 * @return the module, or NULL when out of memory */
em_module *em_conv2d_new(int cin, int cout, int kernel, int stride, int pad, bool bias);

/** BatchNorm options; NULL means the defaults below.
 *
 * Batch Renormalization (Ioffe 2017; core/ops.h has the formulas): with renorm, training
 * corrects the batch statistics towards the running ones by r and d, clipped to
 * [1/rmax', rmax'] and [-dmax', dmax'], where the limits rmax' and dmax' go linearly from
 * 1 and 0 (BatchNorm exactly) to rmax and dmax over the first renorm_warmup training
 * batches (num_batches_tracked, which checkpoints save: a resumed run continues the
 * warm-up where it was). em_bn_renorm_limits() computes them. */
typedef struct em_bn_opts {
    double momentum;     /**< fraction of history kept (default 0.9 = PyTorch's 0.1)       */
    double eps;          /**< inside the square root (default 1e-5)                         */
    bool no_affine;      /**< true: no gamma/beta (default: affine on)                       */
    bool frozen_stats;   /**< true: backward treats the batch statistics as constants        */
    const em_bn_sync *sync;  /**< statistics over all processes (core/ops.h); default NULL */
    bool renorm;         /**< Batch Renorm in training (default off)                         */
    double rmax;         /**< Batch Renorm's final r limit, >= 1 (default 3, Ioffe's)         */
    double dmax;         /**< Batch Renorm's final d limit, >= 0 (default 5, Ioffe's)         */
    int64_t renorm_warmup;  /**< training batches over which the limits grow from 1 and 0
                                 to rmax and dmax, >= 0 (default 1000; 0: none)             */
} em_bn_opts;
/** The default BatchNorm options.
 * @return momentum 0.9, eps 1e-5, affine, full backward, no Batch Renorm (rmax 3, dmax 5,
 *         warm-up 1000 batches for when it is switched on) */
em_bn_opts em_bn_defaults(void);
/** Batch Renorm's limits after a number of training batches: rmax' = 1 + (rmax - 1) f and
 * dmax' = dmax f with f = min(1, batches / renorm_warmup) (f = 1 without a warm-up).
 * @param opts     the options (rmax, dmax, renorm_warmup)
 * @param batches  training batches before this one (the layer's num_batches_tracked)
 * @param rmax     receives rmax'
 * @param dmax     receives dmax' */
void em_bn_renorm_limits(const em_bn_opts *opts, int64_t batches, double *rmax, double *dmax);
/** x (N, C)
 * @param channels  C (> 0)
 * @param opts      options; NULL: em_bn_defaults() (momentum in [0, 1] and eps >= 0, else
 *                  a programmer error)
 * @return the module, or NULL when out of memory */
em_module *em_batchnorm1d_new(int channels, const em_bn_opts *opts);
/** x (N, C, H, W)
 * @param channels  C (> 0)
 * @param opts      options; NULL: em_bn_defaults()
 * @return the module, or NULL when out of memory */
em_module *em_batchnorm2d_new(int channels, const em_bn_opts *opts);
/** A BatchNorm module's options into *out; false if m is not a BatchNorm.
 * @param m    a module
 * @param out  receives the options
 * @return true when m is a BatchNorm1d or BatchNorm2d */
bool em_batchnorm_get_opts(const em_module *m, em_bn_opts *out);
/** Change momentum, eps or the backward of a BatchNorm module after construction (an
 * experiment switching to frozen statistics); false if m is not a BatchNorm. no_affine
 * cannot change: gamma and beta exist from construction or not at all.
 * @param m     a module
 * @param opts  the new options (a different no_affine is a programmer error)
 * @return true when m is a BatchNorm and took the options */
bool em_batchnorm_set_opts(em_module *m, const em_bn_opts *opts);

/** GroupNorm, LayerNorm and InstanceNorm options; NULL means the defaults below. */
typedef struct em_gn_opts {
    double eps;          /**< inside the square root (default 1e-5)                         */
    bool no_affine;      /**< true: no weight/bias (default: a per-channel affine)           */
} em_gn_opts;
/** The default options of the three layers below.
 * @return eps 1e-5, affine */
em_gn_opts em_gn_defaults(void);
/** GroupNorm (PyTorch's nn.GroupNorm(groups, channels)): x (N, C) or (N, C, H, W), each
 * sample's channels in G groups, each group normalized over its channels and positions;
 * "weight" and "bias" (C). The same in training and evaluation.
 * @param groups    G (> 0, divides channels)
 * @param channels  C (> 0)
 * @param opts      options; NULL: em_gn_defaults()
 * @return the module (weight 1, bias 0), or NULL when out of memory */
em_module *em_groupnorm_new(int groups, int channels, const em_gn_opts *opts);
/** LayerNorm: each sample normalized over all its values, with a per-channel affine,
 * "weight" and "bias" (C). On (N, C) this is PyTorch's nn.LayerNorm(C); on (N, C, H, W)
 * it is nn.GroupNorm(1, C) — the LayerNorm of Wu & He's GroupNorm paper, not
 * nn.LayerNorm([C, H, W]), whose affine is per value (docs/batchnorm.md §6).
 * @param channels  C (> 0)
 * @param opts      options; NULL: em_gn_defaults()
 * @return the module (weight 1, bias 0), or NULL when out of memory */
em_module *em_layernorm_new(int channels, const em_gn_opts *opts);
/** InstanceNorm: x (N, C, H, W), each channel of each sample normalized over its H*W
 * positions (GroupNorm with G = C); nn.InstanceNorm2d(C, affine=True) — affine by default
 * here, where PyTorch's default is affine=False (set no_affine for that). No running
 * statistics (PyTorch's track_running_stats=False).
 * @param channels  C (> 0)
 * @param opts      options; NULL: em_gn_defaults()
 * @return the module (weight 1, bias 0), or NULL when out of memory */
em_module *em_instancenorm_new(int channels, const em_gn_opts *opts);

/** y = max(0, x)
 * @return the module, or NULL when out of memory */
em_module *em_relu_new(void);
/** y = 1 / (1 + e^-x)
 * @return the module, or NULL when out of memory */
em_module *em_sigmoid_new(void);
/** y = tanh x
 * @return the module, or NULL when out of memory */
em_module *em_tanh_new(void);
/** Max over k x k windows: (N, C, H, W) -> (N, C, (H - k) / stride + 1, ...)
 * @param kernel  k (> 0)
 * @param stride  the step between windows (> 0)
 * @return the module, or NULL when out of memory */
em_module *em_maxpool2d_new(int kernel, int stride);
/** Mean over k x k windows, shapes as em_maxpool2d_new()
 * @param kernel  k (> 0)
 * @param stride  the step between windows (> 0)
 * @return the module, or NULL when out of memory */
em_module *em_avgpool2d_new(int kernel, int stride);
/** (N, d1, d2, ...) -> (N, d1*d2*...)
 * @return the module, or NULL when out of memory */
em_module *em_flatten_new(void);
/** (N, C, H, W) -> (N, C): the mean of each channel's plane (em_global_avgpool), as a
 * ResNet's head uses it; PyTorch: AdaptiveAvgPool2d(1) and Flatten in one
 * @return the module, or NULL when out of memory */
em_module *em_global_avgpool_new(void);
/** inverted dropout with probability p of zeroing, its own rng (seeded by em_module_init
 * from the init rng); identity in evaluation mode
 * @param p  the probability of zeroing an element, in [0, 1)
 * @return the module, or NULL when out of memory */
em_module *em_dropout_new(double p);

/** A residual block: y = branch(x) + shortcut(x). Takes ownership of both (also on
 * failure) and moves their parameters into its own block; state-dict names "branch.*" and
 * "shortcut.*", as a PyTorch module with those two attributes.
 * @param branch    the residual branch (a Sequential, say); NULL (a failed constructor)
 *                  makes the call fail
 * @param shortcut  the shortcut module, or NULL for the identity
 * @return the module, or NULL when out of memory */
em_module *em_residual_new(em_module *branch, em_module *shortcut);
/** @param m  a module
 * @return whether m is a residual block (em_residual_new) */
bool em_module_is_residual(const em_module *m);

#endif

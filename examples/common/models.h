/* examples/common/models.h — the reference models, layer for layer the same as
 * ../shared/reference_models.py (PyTorch), so the state-dict names agree.
 *
 *     em_model_opts o = em_model_defaults();    // BN on, sigmoid for the mlp
 *     int in[3];
 *     em_module *net = em_model_new("mnist-cnn", &o, in);   // in = {1, 28, 28}
 *
 *   mnist-cnn  conv3x3 1->16 pad 1, [BN2d], ReLU, maxpool 2; conv3x3 16->32, [BN2d], ReLU,
 *              maxpool 2; flatten (1568); linear 1568->128, [BN1d], ReLU; linear 128->10
 *   cifar-cnn  conv 3->32, [BN], ReLU; conv 32->32, [BN], ReLU, maxpool; conv 32->64, [BN],
 *              ReLU; conv 64->64, [BN], ReLU, maxpool; conv 64->128, [BN], ReLU, maxpool;
 *              flatten (2048); linear 2048->256, [BN1d], ReLU; linear 256->10
 *   mlp        Ioffe & Szegedy's MNIST network: flatten, 784-100-100-100-10 with the
 *              chosen activation (sigmoid by default), [BN1d] before each activation
 * A layer followed by BatchNorm has no bias (BN's beta takes its place).
 */
#ifndef EM_MODELS_H
#define EM_MODELS_H

#include "layers/layers.h"

typedef struct em_model_opts {
    bool bn;              /* insert BatchNorm layers                          */
    const char *act;      /* mlp only: "sigmoid" (default), "relu", "tanh"    */
    em_bn_opts bn_opts;   /* momentum, eps, frozen-stats backward             */
    int width;            /* every channel count and hidden width times this (0 or 1:
                           * the reference model; ember-bench --width) */
} em_model_opts;

em_model_opts em_model_defaults(void);

/* NULL for an unknown name or activation (or out of memory); input_chw gets the input
 * shape without the batch dimension. */
em_module *em_model_new(const char *name, const em_model_opts *opts, int input_chw[3]);

/* flatten, n_hidden x (linear width [BN1d] act), linear width->out; act is "relu",
 * "sigmoid", "tanh" or "linear" (none: a deep linear network). NULL on bad arguments. */
em_module *em_model_mlp_new(const int input_chw[3], int n_hidden, int width, int out,
                            const char *act, const em_model_opts *opts);

/* "mnist-cnn", "cifar-cnn", "mlp" */
extern const char *const em_model_names[3];

#endif

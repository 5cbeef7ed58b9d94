/* layers/fusion.h — a Sequential's fused plan (layers/fusion.c), and what the plan needs
 * of the modules it fuses (not installed). */
#ifndef EM_LAYERS_FUSION_H
#define EM_LAYERS_FUSION_H

#include "../core/ops.h"
#include "module.h"

/* One step of a Sequential's plan: one module, or a run the fast tier has one op for. */
typedef enum em_step_kind {
    EM_STEP_MODULE,          /* mods[first] alone                                  */
    EM_STEP_CONV_RELU,       /* Conv2d, ReLU                                       */
    EM_STEP_CONV_RELU_POOL,  /* Conv2d, ReLU, MaxPool2d(2, 2)                      */
    EM_STEP_BN_RELU,         /* BatchNorm1d/2d, ReLU                               */
} em_step_kind;

typedef struct em_plan_step {
    em_step_kind kind;
    int first, count;        /* mods[first .. first + count) */
} em_plan_step;

/* The plan of n modules into steps (at most n): returns the number of steps. */
int em_plan_build(em_module *const *mods, int n, em_plan_step *steps);
/* y = the step's modules applied to x: as one fused op when fuse, else one by one. */
em_tensor *em_plan_run(const em_plan_step *step, em_module *const *mods, em_tape *tape,
                       em_tensor *x, bool fuse);
/* "conv2d_relu_pool", ...; NULL for EM_STEP_MODULE */
const char *em_plan_step_name(em_step_kind kind);

/* ---- what the plan needs of the modules (their own files define these) ---------------- */
typedef em_tensor *(*em_conv_op)(em_tape *tape, em_tensor *x, em_tensor *w, em_tensor *b,
                                 int stride, int pad);
typedef em_tensor *(*em_bn_op)(em_tape *tape, em_tensor *x, const em_bn_args *args);

/* m is a Conv2d (linear.c) / a BatchNorm1d or 2d (batchnorm.c) */
bool em_module_is_conv2d(const em_module *m);
bool em_module_is_batchnorm(const em_module *m);
/* y = op(x, the Conv2d's weight, bias, stride and pad) */
em_tensor *em_conv2d_module_apply(em_module *m, em_tape *tape, em_tensor *x, em_conv_op op);
/* y = op(x, the BatchNorm's arguments in its current mode), counting the batch as the
 * module's forward does */
em_tensor *em_batchnorm_module_apply(em_module *m, em_tape *tape, em_tensor *x, em_bn_op op);

#endif

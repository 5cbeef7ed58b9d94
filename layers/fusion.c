/* layers/fusion.c — fusion as a plan: the one place that decides which runs of a
 * Sequential's modules the fast tier computes as one op. The plan is made once, when the
 * Sequential is built (em_sequential_new); each forward then runs a planned run as its
 * fused op when the tape's kernels allow it (em_kernels::fuse) and the Sequential's fuse
 * switch is on, and as its modules one by one otherwise. The fused ops give the same
 * values and gradients as the modules one by one on the same tier, exactly
 * (core/fast/fast.h; tests/test_layers.c). */
#include "fusion.h"

#include "../core/fast/fast.h"
#include "layers.h"

/* the run that starts at mods[i], if any */
static em_step_kind run_at(em_module *const *mods, int n, int i) {
    bool relu_next = i + 1 < n && em_module_is_relu(mods[i + 1]);
    if (!relu_next) return EM_STEP_MODULE;
    if (em_module_is_conv2d(mods[i]))
        return i + 2 < n && em_module_is_maxpool2x2(mods[i + 2]) ? EM_STEP_CONV_RELU_POOL
                                                                 : EM_STEP_CONV_RELU;
    return em_module_is_batchnorm(mods[i]) ? EM_STEP_BN_RELU : EM_STEP_MODULE;
}

int em_plan_build(em_module *const *mods, int n, em_plan_step *steps) {
    int k = 0;
    for (int i = 0; i < n; i += steps[k++].count) {
        em_step_kind kind = run_at(mods, n, i);
        int count = kind == EM_STEP_MODULE ? 1 : kind == EM_STEP_CONV_RELU_POOL ? 3 : 2;
        steps[k] = (em_plan_step){kind, i, count};
    }
    return k;
}

em_tensor *em_plan_run(const em_plan_step *step, em_module *const *mods, em_tape *tape,
                       em_tensor *x, bool fuse) {
    em_module *m = mods[step->first];
    if (fuse && tape->kernels->fuse) {
        switch (step->kind) {
        case EM_STEP_CONV_RELU: return em_conv2d_module_apply(m, tape, x, em_fast_conv2d_relu);
        case EM_STEP_CONV_RELU_POOL:
            return em_conv2d_module_apply(m, tape, x, em_fast_conv2d_relu_pool);
        case EM_STEP_BN_RELU: return em_batchnorm_module_apply(m, tape, x, em_fast_batchnorm_relu);
        case EM_STEP_MODULE: break;
        }
    }
    for (int i = 0; i < step->count && x; i++) x = em_module_forward(mods[step->first + i], tape, x);
    return x;
}

const char *em_plan_step_name(em_step_kind kind) {
    switch (kind) {
    case EM_STEP_CONV_RELU: return "conv2d_relu";
    case EM_STEP_CONV_RELU_POOL: return "conv2d_relu_pool";
    case EM_STEP_BN_RELU: return "batchnorm_relu";
    default: return NULL;
    }
}

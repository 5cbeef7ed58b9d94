/* examples/ablation/experiments.c — the experiment table, in the order `all` runs them. */
#include "ablate.h"

extern const ab_experiment ab_exp_lr_sweep, ab_exp_convergence, ab_exp_init_scale,
    ab_exp_activations, ab_exp_full_vs_frozen, ab_exp_distributions, ab_exp_batch_size, ab_exp_grad_flow,
    ab_exp_smoothness, ab_exp_noisy_bn, ab_exp_histograms;
/* the second edition: BatchNorm against its relatives, residual nets, train and eval */
extern const ab_experiment ab_exp_norm_batch, ab_exp_renorm, ab_exp_train_eval,
    ab_exp_residual_depth, ab_exp_init_gradients, ab_exp_placement;

const ab_experiment *const ab_experiments[] = {
    &ab_exp_lr_sweep, &ab_exp_convergence, &ab_exp_init_scale, &ab_exp_activations,
    &ab_exp_full_vs_frozen, &ab_exp_distributions, &ab_exp_batch_size, &ab_exp_grad_flow,
    &ab_exp_smoothness, &ab_exp_noisy_bn, &ab_exp_histograms,
    &ab_exp_norm_batch, &ab_exp_renorm, &ab_exp_train_eval, &ab_exp_residual_depth,
    &ab_exp_init_gradients, &ab_exp_placement,
};
const int ab_n_experiments = (int)(sizeof ab_experiments / sizeof ab_experiments[0]);

/* examples/ablation/experiments.c — the experiment table, in the order `all` runs them. */
#include "ablate.h"

extern const ab_experiment ab_exp_lr_sweep;

const ab_experiment *const ab_experiments[] = {
    &ab_exp_lr_sweep,
};
const int ab_n_experiments = (int)(sizeof ab_experiments / sizeof ab_experiments[0]);

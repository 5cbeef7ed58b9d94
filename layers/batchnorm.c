/* layers/batchnorm.c — BatchNorm1d and BatchNorm2d modules over the op em_batchnorm
 * (core/ops/batchnorm.c, derived in docs/batchnorm.md), with Batch Renorm as an option
 * whose limits warm up with num_batches_tracked. */
#include <stdlib.h>

#include "fusion.h"
#include "layers.h"

typedef struct batchnorm {
    em_module base;
    int channels;
    int ndim;                       /* 2: BatchNorm1d (N, C); 4: BatchNorm2d (N, C, H, W) */
    em_bn_opts opts;
    em_tensor gamma, beta;          /* (C) parameters "weight" and "bias"                 */
    em_tensor running_mean;         /* (C) buffer, starts at 0                            */
    em_tensor running_var;          /* (C) buffer, starts at 1                            */
    em_real *buffers;               /* the block behind running_mean and running_var      */
    int64_t num_batches_tracked;    /* training forwards so far                           */
} batchnorm;

em_bn_opts em_bn_defaults(void) {
    return (em_bn_opts){.momentum = 0.9, .eps = 1e-5, .no_affine = false, .frozen_stats = false,
                        .renorm = false, .rmax = 3, .dmax = 5, .renorm_warmup = 1000};
}

void em_bn_renorm_limits(const em_bn_opts *o, int64_t batches, double *rmax, double *dmax) {
    double f = o->renorm_warmup > 0 && batches < o->renorm_warmup
                   ? (double)batches / (double)o->renorm_warmup : 1;
    *rmax = 1 + (o->rmax - 1) * f;
    *dmax = o->dmax * f;
}

static void check_opts(const em_bn_opts *o) {
    EM_ASSERT_MSG(o->momentum >= 0 && o->momentum <= 1, "momentum in [0, 1]");
    EM_ASSERT_MSG(o->eps >= 0, "eps >= 0");
    EM_ASSERT_MSG(!o->renorm || (o->rmax >= 1 && o->dmax >= 0 && o->renorm_warmup >= 0),
                  "Batch Renorm: rmax >= 1, dmax >= 0, renorm_warmup >= 0");
}

/* what em_batchnorm is called with in the module's current mode */
static em_bn_args bn_args(batchnorm *b) {
    em_bn_args a = em_bn_args_default();
    bool affine = !b->opts.no_affine;
    a.gamma = affine ? &b->gamma : NULL;
    a.beta = affine ? &b->beta : NULL;
    a.running_mean = b->running_mean.data;
    a.running_var = b->running_var.data;
    a.momentum = b->opts.momentum;
    a.eps = b->opts.eps;
    a.mode = !b->base.training ? EM_BN_EVAL
             : b->opts.frozen_stats ? EM_BN_FROZEN_STATS : EM_BN_TRAIN;
    a.sync = b->opts.sync;
    a.renorm = b->opts.renorm;
    em_bn_renorm_limits(&b->opts, b->num_batches_tracked, &a.rmax, &a.dmax);
    return a;
}

em_tensor *em_batchnorm_module_apply(em_module *m, em_tape *tape, em_tensor *x, em_bn_op op) {
    batchnorm *b = (batchnorm *)m;
    EM_ASSERT_MSG(x->ndim == b->ndim, b->ndim == 2 ? "BatchNorm1d takes (N, C)"
                                                   : "BatchNorm2d takes (N, C, H, W)");
    EM_ASSERT_MSG(x->shape[1] == b->channels, "BatchNorm: channel count differs from the layer's");
    em_bn_args a = bn_args(b);
    em_tensor *y = op(tape, x, &a);
    if (y && m->training) b->num_batches_tracked++;
    return y;
}

static em_tensor *bn_forward(em_module *m, em_tape *tape, em_tensor *x) {
    return em_batchnorm_module_apply(m, tape, x, em_batchnorm);
}

static void bn_free(em_module *m) {
    free(((batchnorm *)m)->buffers);
    free(m);
}

static int bn_entries(em_module *m, em_entry *e) {
    batchnorm *b = (batchnorm *)m;
    int n = 0;
    if (!b->opts.no_affine) {
        e[n++] = (em_entry){"weight", EM_ENTRY_PARAM, &b->gamma, NULL};
        e[n++] = (em_entry){"bias", EM_ENTRY_PARAM, &b->beta, NULL};
    }
    e[n++] = (em_entry){"running_mean", EM_ENTRY_BUFFER, &b->running_mean, NULL};
    e[n++] = (em_entry){"running_var", EM_ENTRY_BUFFER, &b->running_var, NULL};
    e[n++] = (em_entry){"num_batches_tracked", EM_ENTRY_COUNTER, NULL, &b->num_batches_tracked};
    return n;
}

/* gamma = 1, beta = 0, running mean 0, running variance 1, no batches seen */
static void bn_init(em_module *m, em_rng *rng, const em_init *init) {
    (void)rng;
    (void)init;
    batchnorm *b = (batchnorm *)m;
    if (!b->opts.no_affine) {
        em_tensor_fill(&b->gamma, 1);
        em_tensor_fill(&b->beta, 0);
    }
    em_tensor_fill(&b->running_mean, 0);
    em_tensor_fill(&b->running_var, 1);
    b->num_batches_tracked = 0;
}

static void bn_describe(const em_module *m, char *buf, size_t len) {
    const batchnorm *b = (const batchnorm *)m;
    const em_bn_opts *o = &b->opts;
    char renorm[128] = "", warmup[64] = "";
    if (o->renorm_warmup > 0)
        snprintf(warmup, sizeof warmup, " (from 1, 0 over %lld batches)",
                 (long long)o->renorm_warmup);
    if (o->renorm)
        snprintf(renorm, sizeof renorm, ", renorm: rmax=%g, dmax=%g%s", o->rmax, o->dmax, warmup);
    snprintf(buf, len, "BatchNorm%dd(%d, momentum=%g (history kept), eps=%g, affine=%s%s%s)",
             b->ndim == 2 ? 1 : 2, b->channels, o->momentum, o->eps,
             o->no_affine ? "false" : "true", o->frozen_stats ? ", backward=frozen-stats" : "",
             renorm);
}

static const em_module_ops bn_ops = {
    .kind = "BatchNorm",
    .forward = bn_forward,
    .free = bn_free,
    .entries = bn_entries,
    .init = bn_init,
    .describe = bn_describe,
};

static em_module *bn_new(int channels, int ndim, const em_bn_opts *opts) {
    EM_ASSERT(channels > 0);
    batchnorm *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->base.ops = &bn_ops;
    b->base.training = true;
    b->channels = channels;
    b->ndim = ndim;
    b->opts = opts ? *opts : em_bn_defaults();
    check_opts(&b->opts);
    b->buffers = malloc(2 * (size_t)channels * sizeof(em_real));
    const int shapes[2][EM_MAX_DIMS] = {{channels}, {channels}};
    if (!b->buffers || (!b->opts.no_affine &&
                        !em_module_alloc_params(&b->base, 2, (em_tensor *[]){&b->gamma, &b->beta},
                                                (int[]){1, 1}, shapes))) {
        free(b->buffers);
        free(b);
        return NULL;
    }
    em_tensor_wrap(&b->running_mean, b->buffers, NULL, 1, (int[]){channels});
    em_tensor_wrap(&b->running_var, b->buffers + channels, NULL, 1, (int[]){channels});
    bn_init(&b->base, NULL, NULL);
    return &b->base;
}

em_module *em_batchnorm1d_new(int channels, const em_bn_opts *opts) {
    return bn_new(channels, 2, opts);
}

em_module *em_batchnorm2d_new(int channels, const em_bn_opts *opts) {
    return bn_new(channels, 4, opts);
}

bool em_module_is_batchnorm(const em_module *m) { return m && m->ops == &bn_ops; }

bool em_batchnorm_get_opts(const em_module *m, em_bn_opts *out) {
    if (m->ops != &bn_ops) return false;
    *out = ((const batchnorm *)m)->opts;
    return true;
}

bool em_batchnorm_set_opts(em_module *m, const em_bn_opts *opts) {
    if (m->ops != &bn_ops) return false;
    batchnorm *b = (batchnorm *)m;
    EM_ASSERT_MSG(opts->no_affine == b->opts.no_affine, "BatchNorm: affine is fixed at construction");
    check_opts(opts);
    b->opts = *opts;
    return true;
}

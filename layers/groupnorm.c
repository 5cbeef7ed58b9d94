/* layers/groupnorm.c — GroupNorm, LayerNorm and InstanceNorm modules over the one op
 * em_groupnorm (core/ops/groupnorm.c, derived in docs/batchnorm.md): G groups, 1 group,
 * C groups. PyTorch's state-dict names ("weight", "bias") and defaults (eps 1e-5, affine),
 * except that InstanceNorm is affine by default here (PyTorch's is not). No running
 * statistics: training and evaluation compute the same function. */
#include <stdlib.h>

#include "layers.h"

/* which of the three a module is: what it accepts and how it describes itself */
typedef enum gn_kind { GN_GROUP, GN_LAYER, GN_INSTANCE } gn_kind;

typedef struct groupnorm {
    em_module base;
    gn_kind kind;
    int groups, channels;
    em_gn_opts opts;
    em_tensor gamma, beta;  /* (C) parameters "weight" and "bias" */
} groupnorm;

em_gn_opts em_gn_defaults(void) { return (em_gn_opts){.eps = 1e-5, .no_affine = false}; }

static em_tensor *gn_forward(em_module *m, em_tape *tape, em_tensor *x) {
    groupnorm *g = (groupnorm *)m;
    if (g->kind == GN_INSTANCE)
        EM_ASSERT_MSG(x->ndim == 4, "InstanceNorm2d takes (N, C, H, W)");
    else
        EM_ASSERT_MSG(x->ndim == 2 || x->ndim == 4,
                      g->kind == GN_LAYER ? "LayerNorm takes (N, C) or (N, C, H, W)"
                                          : "GroupNorm takes (N, C) or (N, C, H, W)");
    EM_ASSERT_MSG(x->shape[1] == g->channels, "GroupNorm: channel count differs from the layer's");
    bool affine = !g->opts.no_affine;
    em_gn_args a = {.gamma = affine ? &g->gamma : NULL, .beta = affine ? &g->beta : NULL,
                    .groups = g->groups, .eps = g->opts.eps};
    return em_groupnorm(tape, x, &a);
}

static void gn_free(em_module *m) { free(m); }

static int gn_entries(em_module *m, em_entry *e) {
    groupnorm *g = (groupnorm *)m;
    if (g->opts.no_affine) return 0;
    e[0] = (em_entry){"weight", EM_ENTRY_PARAM, &g->gamma, NULL};
    e[1] = (em_entry){"bias", EM_ENTRY_PARAM, &g->beta, NULL};
    return 2;
}

/* weight 1, bias 0: PyTorch's reset_parameters */
static void gn_init(em_module *m, em_rng *rng, const em_init *init) {
    (void)rng;
    (void)init;
    groupnorm *g = (groupnorm *)m;
    if (g->opts.no_affine) return;
    em_tensor_fill(&g->gamma, 1);
    em_tensor_fill(&g->beta, 0);
}

static void gn_describe(const em_module *m, char *buf, size_t len) {
    const groupnorm *g = (const groupnorm *)m;
    const char *affine = g->opts.no_affine ? "false" : "true";
    switch (g->kind) {
    case GN_GROUP:
        snprintf(buf, len, "GroupNorm(%d, %d, eps=%g, affine=%s)", g->groups, g->channels,
                 g->opts.eps, affine);
        break;
    case GN_LAYER:
        snprintf(buf, len, "LayerNorm(%d, eps=%g, elementwise_affine=%s)", g->channels,
                 g->opts.eps, affine);
        break;
    case GN_INSTANCE:
        snprintf(buf, len, "InstanceNorm2d(%d, eps=%g, affine=%s, track_running_stats=false)",
                 g->channels, g->opts.eps, affine);
        break;
    }
}

static const em_module_ops group_ops = {
    .kind = "GroupNorm", .forward = gn_forward, .free = gn_free, .entries = gn_entries,
    .init = gn_init, .describe = gn_describe,
};
static const em_module_ops layer_ops = {
    .kind = "LayerNorm", .forward = gn_forward, .free = gn_free, .entries = gn_entries,
    .init = gn_init, .describe = gn_describe,
};
static const em_module_ops instance_ops = {
    .kind = "InstanceNorm2d", .forward = gn_forward, .free = gn_free, .entries = gn_entries,
    .init = gn_init, .describe = gn_describe,
};

static em_module *gn_new(gn_kind kind, int groups, int channels, const em_gn_opts *opts) {
    EM_ASSERT(channels > 0);
    EM_ASSERT_MSG(groups > 0 && channels % groups == 0,
                  "GroupNorm: the channels must be a multiple of the groups");
    groupnorm *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->base.ops = kind == GN_GROUP ? &group_ops : kind == GN_LAYER ? &layer_ops : &instance_ops;
    g->base.training = true;
    g->kind = kind;
    g->groups = groups;
    g->channels = channels;
    g->opts = opts ? *opts : em_gn_defaults();
    EM_ASSERT_MSG(g->opts.eps >= 0, "eps >= 0");
    const int shapes[2][EM_MAX_DIMS] = {{channels}, {channels}};
    if (!g->opts.no_affine &&
        !em_module_alloc_params(&g->base, 2, (em_tensor *[]){&g->gamma, &g->beta},
                                (int[]){1, 1}, shapes)) {
        free(g);
        return NULL;
    }
    gn_init(&g->base, NULL, NULL);
    return &g->base;
}

em_module *em_groupnorm_new(int groups, int channels, const em_gn_opts *opts) {
    return gn_new(GN_GROUP, groups, channels, opts);
}

em_module *em_layernorm_new(int channels, const em_gn_opts *opts) {
    return gn_new(GN_LAYER, 1, channels, opts);
}

em_module *em_instancenorm_new(int channels, const em_gn_opts *opts) {
    return gn_new(GN_INSTANCE, channels, channels, opts);
}

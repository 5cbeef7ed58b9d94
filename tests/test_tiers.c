/* tests/test_tiers.c — every fast kernel held to its reference (core/kernels.h). Each test
 * runs the same op on a tape of each tier, from the same inputs and upstream gradient, on a
 * grid of at least 20 shapes — the reference models' and many that none has (odd sizes,
 * 1x1 and 5x5 kernels, stride 2, one channel, 37 channels, a batch of 1) — and compares the
 * outputs, the gradients and the running statistics. The suite runs in float and in
 * double (the double build's fast kernels are the plain baseline code, EM_PORTABLE).
 *
 * Tolerances are relative to the largest value of the array compared: the tiers sum in
 * other orders (and Winograd's transforms round differently), so an element that cancels
 * to near 0 is off by the rounding of its terms, not of itself. */
#include "helpers.h"

#include <stdlib.h>
#include <string.h>

#include "core/fast/gemm.h"
#include "core/parallel.h"

#ifdef EM_DOUBLE
#define TIER_TOL 1e-11
#else
#define TIER_TOL 2e-5
#endif

/* |got - want| <= tol * max(floor, max |want|) elementwise; floor: the size of the terms
 * that sum to these values, where they may cancel to nothing (BatchNorm's dx at a batch of
 * two is exactly 0, computed as a difference of O(1) terms) */
static void assert_agree_floor(const em_real *got, const em_real *want, size_t n, double tol,
                               double floor, const char *what) {
    double scale = floor > 1e-30 ? floor : 1e-30;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs((double)want[i]));
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        cr_assert(d <= tol * scale, "%s[%zu]: fast %.9g, reference %.9g (scale %.3g)", what, i,
                  (double)got[i], (double)want[i], scale);
    }
}

static void assert_tiers_agree(const em_real *got, const em_real *want, size_t n, double tol,
                               const char *what) {
    assert_agree_floor(got, want, n, tol, 0, what);
}

/* a heap copy of t (values and, when it has one, the gradient zeroed), for a second run */
static em_tensor *clone(const em_tensor *t) {
    em_tensor *c = em_tensor_new(t->ndim, t->shape, t->grad ? EM_REQUIRES_GRAD : 0);
    cr_assert_not_null(c);
    memcpy(c->data, t->data, t->size * sizeof *c->data);
    return c;
}

/* What one run of an op on one tier left: y, and the gradients of up to three inputs. */
typedef struct run {
    em_real *y, *g[3];
    size_t ny, ng[3];
} run;

static void run_free(run *r) {
    free(r->y);
    for (int i = 0; i < 3; i++) free(r->g[i]);
}

static em_real *copy_of(const em_real *p, size_t n) {
    em_real *c = malloc((n ? n : 1) * sizeof *c);
    cr_assert_not_null(c);
    if (p) memcpy(c, p, n * sizeof *c);
    else memset(c, 0, n * sizeof *c);
    return c;
}

typedef em_tensor *(*graph_fn)(em_tape *tape, em_tensor *const *in, void *ctx);

/* f(in) on a tape of tier k, from copies of in; backward from dy (seed) */
static run run_on(const em_kernels *k, graph_fn f, void *ctx, int n, em_tensor *const *in,
                  uint64_t seed) {
    em_tensor *c[3] = {NULL, NULL, NULL};
    for (int i = 0; i < n; i++) c[i] = in[i] ? clone(in[i]) : NULL;
    em_tape *tape = tape_on(k);
    em_tensor *y = f(tape, c, ctx);
    cr_assert_not_null(y, "%s tier: the op failed: %s", k->name, tape->err.msg);
    run r = {.y = copy_of(y->data, y->size), .ny = y->size};
    if (em_requires_grad(y)) {
        em_rng rng;
        em_rng_seed(&rng, seed);
        em_real *dy = malloc(y->size * sizeof *dy);
        for (size_t i = 0; i < y->size; i++) dy[i] = (em_real)em_rng_normal(&rng, 0, 1);
        cr_assert_eq(em_backward_from(tape, y, dy), EM_OK, "%s", tape->err.msg);
        free(dy);
    }
    for (int i = 0; i < n; i++) {
        r.ng[i] = c[i] ? c[i]->size : 0;
        r.g[i] = c[i] && c[i]->grad ? copy_of(c[i]->grad, c[i]->size) : NULL;
        em_tensor_free(c[i]);
    }
    em_tape_free(tape);
    return r;
}

/* the op on both tiers; every output and gradient compared */
static void compare_tiers(graph_fn fast_f, graph_fn ref_f, void *ctx, int n,
                          em_tensor *const *in, const char *what) {
    run a = run_on(em_kernels_fast(), fast_f, ctx, n, in, 99);
    run b = run_on(em_kernels_reference(), ref_f, ctx, n, in, 99);
    char name[200];
    cr_assert_eq(a.ny, b.ny);
    snprintf(name, sizeof name, "%s: y", what);
    assert_tiers_agree(a.y, b.y, a.ny, TIER_TOL, name);
    for (int i = 0; i < n; i++) {
        cr_assert_eq(!a.g[i], !b.g[i], "%s: input %d has a gradient on one tier only", what, i);
        if (!a.g[i]) continue;
        snprintf(name, sizeof name, "%s: d(input %d)", what, i);
        assert_tiers_agree(a.g[i], b.g[i], a.ng[i], TIER_TOL, name);
    }
    run_free(&a);
    run_free(&b);
}

/* ---- convolution ---------------------------------------------------------------------- */

typedef struct conv_case { int N, C, H, W, O, k, s, pad; bool bias; } conv_case;

static const conv_case conv_grid[] = {
    {4, 1, 28, 28, 16, 3, 1, 1, false},   /* mnist-cnn conv1 */
    {5, 16, 14, 14, 32, 3, 1, 1, false},  /* mnist-cnn conv2 (Winograd, groups of images) */
    {3, 32, 16, 16, 64, 3, 1, 1, true},   /* cifar-cnn conv3 (Winograd) */
    {2, 64, 8, 8, 128, 3, 1, 1, false},   /* cifar-cnn conv5 (Winograd, 8 wide) */
    {3, 48, 14, 14, 96, 3, 1, 1, false},  /* mnist-cnn at width 3 */
    {2, 16, 10, 10, 16, 3, 1, 1, true},   /* 5 tiles a row */
    {2, 20, 12, 18, 24, 3, 1, 1, false},  /* 6 and 9 tiles a row, not square */
    {3, 17, 7, 7, 19, 3, 1, 1, true},     /* odd side, odd channel counts */
    {2, 16, 15, 13, 16, 3, 1, 1, false},  /* odd sides on a Winograd-sized layer */
    {1, 3, 32, 32, 16, 3, 1, 1, false},   /* resnet20's stem, a batch of one */
    {4, 16, 32, 32, 32, 3, 2, 1, false},  /* stride 2 down-sampling */
    {4, 16, 16, 16, 32, 1, 2, 0, false},  /* 1x1 stride-2 shortcut */
    {3, 24, 9, 9, 40, 1, 1, 0, true},     /* 1x1 */
    {2, 3, 28, 28, 12, 5, 2, 2, true},    /* 5x5 stride 2 */
    {3, 6, 13, 11, 10, 5, 1, 0, false},   /* 5x5 valid on odd sides */
    {2, 8, 9, 9, 8, 3, 1, 0, true},       /* 3x3 without padding */
    {9, 2, 6, 6, 3, 3, 1, 1, true},       /* many images, tiny layers (8 backward blocks) */
    {2, 37, 8, 8, 5, 3, 1, 1, false},     /* many in, few out */
    {2, 5, 8, 8, 37, 3, 1, 1, false},     /* few in, many out */
    {3, 16, 8, 10, 16, 3, 3, 2, true},    /* stride 3, wide padding */
    {1, 1, 5, 5, 1, 5, 1, 2, false},      /* one channel, kernel as large as the image */
    {2, 16, 16, 16, 16, 7, 1, 3, false},  /* 7x7 */
    {4, 32, 2, 2, 32, 3, 1, 1, true},     /* a 2x2 image */
    {2, 16, 32, 32, 16, 3, 1, 1, false},  /* resnet20's first stage: F(4x4, 3x3) */
    {2, 24, 8, 64, 20, 3, 1, 1, true},    /* F(4x4): 16 tiles a row (two vectors), 2 rows */
    {3, 16, 4, 32, 17, 3, 1, 1, false},   /* F(4x4): one tile row, images in groups */
    {2, 16, 24, 16, 20, 3, 1, 1, true},   /* F(4x4), 16 wide: two tile rows a vector */
};

static em_tensor *conv_graph(em_tape *tape, em_tensor *const *in, void *ctx) {
    const conv_case *c = ctx;
    return em_conv2d(tape, in[0], in[1], in[2], c->s, c->pad);
}

/* the fused ops against the composed reference */
static em_tensor *conv_relu_fast(em_tape *tape, em_tensor *const *in, void *ctx) {
    const conv_case *c = ctx;
    return em_fast_conv2d_relu(tape, in[0], in[1], in[2], c->s, c->pad);
}
static em_tensor *conv_relu_ref(em_tape *tape, em_tensor *const *in, void *ctx) {
    return em_relu(tape, conv_graph(tape, in, ctx));
}
static em_tensor *conv_relu_pool_fast(em_tape *tape, em_tensor *const *in, void *ctx) {
    const conv_case *c = ctx;
    return em_fast_conv2d_relu_pool(tape, in[0], in[1], in[2], c->s, c->pad);
}
static em_tensor *conv_relu_pool_ref(em_tape *tape, em_tensor *const *in, void *ctx) {
    return em_maxpool2d(tape, conv_relu_ref(tape, in, ctx), 2, 2);
}

/* the inputs of a case: x requires a gradient too, so dx is compared */
static void conv_inputs(const conv_case *c, em_rng *rng, em_tensor **in) {
    in[0] = tensor_randn(rng, 4, (int[]){c->N, c->C, c->H, c->W}, 0.1, 1, EM_REQUIRES_GRAD);
    in[1] = tensor_randn(rng, 4, (int[]){c->O, c->C, c->k, c->k}, 0, 0.3, EM_REQUIRES_GRAD);
    in[2] = c->bias ? tensor_randn(rng, 1, (int[]){c->O}, 0, 0.5, EM_REQUIRES_GRAD) : NULL;
}

static void conv_name(char *buf, size_t len, const char *op, const conv_case *c) {
    snprintf(buf, len, "%s x (%d, %d, %d, %d) w (%d, %d, %d, %d) stride %d pad %d%s", op, c->N,
             c->C, c->H, c->W, c->O, c->C, c->k, c->k, c->s, c->pad, c->bias ? " bias" : "");
}

static void conv_cases(graph_fn fast_f, graph_fn ref_f, const char *op, bool pool) {
    int tested = 0;
    for (size_t i = 0; i < sizeof conv_grid / sizeof conv_grid[0]; i++) {
        const conv_case *c = &conv_grid[i];
        int Ho = (c->H + 2 * c->pad - c->k) / c->s + 1;
        if (pool && Ho < 2) continue;
        em_rng rng;
        em_rng_seed(&rng, 1000 + i);
        em_tensor *in[3];
        conv_inputs(c, &rng, in);
        char name[160];
        conv_name(name, sizeof name, op, c);
        compare_tiers(fast_f, ref_f, (void *)c, 3, in, name);
        for (int k = 0; k < 3; k++) em_tensor_free(in[k]);
        tested++;
    }
    cr_assert_geq(tested, 20);
}

/* Every entry of every table is set (a new entry left out of one table is a NULL call). */
Test(tiers, every_table_entry_is_set) {
    const em_kernels *tables[2] = {em_kernels_reference(), em_kernels_fast()};
    for (int t = 0; t < 2; t++) {
        const em_kernels *k = tables[t];
        const void *entries[] = {
            (void *)k->gemm, (void *)k->relu, (void *)k->relu_backward, (void *)k->sigmoid,
            (void *)k->sigmoid_backward, (void *)k->tanh, (void *)k->tanh_backward,
            (void *)k->add, (void *)k->add_backward,
            (void *)k->maxpool, (void *)k->maxpool_backward, (void *)k->bn_train,
            (void *)k->bn_normalize, (void *)k->bn_backward, (void *)k->gn_forward,
            (void *)k->gn_backward, (void *)k->conv2d, (void *)k->conv2d_backward,
            (void *)k->cross_entropy, (void *)k->cross_entropy_backward, (void *)k->sgd,
            (void *)k->adam};
        cr_assert_not_null(k->name);
        for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++)
            cr_assert_not_null(entries[i], "%s: entry %zu is NULL", k->name, i);
    }
    /* the list above is the whole table: its size is the name, the flag and 22 entries */
    cr_assert_eq(sizeof(em_kernels), 2 * sizeof(void *) + 22 * sizeof(void (*)(void)));
}

Test(tiers, conv2d_fast_equals_reference) { conv_cases(conv_graph, conv_graph, "conv2d", false); }
Test(tiers, conv2d_fast_equals_reference_on_two_threads) {
    em_set_threads(2);
    conv_cases(conv_graph, conv_graph, "conv2d, 2 threads", false);
    em_set_threads(1);
}
Test(tiers, fused_conv2d_relu_equals_reference_ops) {
    conv_cases(conv_relu_fast, conv_relu_ref, "conv2d_relu", false);
}
Test(tiers, fused_conv2d_relu_pool_equals_reference_ops) {
    conv_cases(conv_relu_pool_fast, conv_relu_pool_ref, "conv2d_relu_pool", true);
}

/* ---- BatchNorm ------------------------------------------------------------------------ */

typedef struct bn_case { int ndim, N, C, H, W; em_bn_mode mode; bool affine; } bn_case;

static const bn_case bn_grid[] = {
    {4, 64, 16, 28, 28, EM_BN_TRAIN, true},  /* mnist-cnn's first BatchNorm */
    {4, 8, 32, 14, 14, EM_BN_TRAIN, true},
    {2, 64, 128, 1, 1, EM_BN_TRAIN, true},   /* BatchNorm1d after fc1 */
    {2, 2, 3, 1, 1, EM_BN_TRAIN, true},      /* a batch of two */
    {2, 37, 1, 1, 1, EM_BN_TRAIN, true},     /* one channel */
    {2, 5, 300, 1, 1, EM_BN_TRAIN, false},   /* wide, no affine */
    {4, 2, 3, 1, 1, EM_BN_TRAIN, true},      /* 1x1 planes */
    {4, 3, 7, 5, 3, EM_BN_TRAIN, true},      /* odd planes */
    {4, 1, 4, 4, 4, EM_BN_TRAIN, true},      /* one image */
    {4, 7, 37, 3, 11, EM_BN_TRAIN, false},
    {4, 4, 16, 17, 1, EM_BN_TRAIN, true},    /* a column */
    {4, 16, 64, 8, 8, EM_BN_TRAIN, true},    /* wide enough for threads */
    {4, 3, 5, 6, 6, EM_BN_FROZEN_STATS, true},
    {2, 9, 10, 1, 1, EM_BN_FROZEN_STATS, true},
    {4, 2, 6, 9, 9, EM_BN_FROZEN_STATS, false},
    {4, 3, 5, 6, 6, EM_BN_EVAL, true},
    {2, 9, 10, 1, 1, EM_BN_EVAL, true},
    {4, 1, 3, 5, 7, EM_BN_EVAL, false},      /* evaluation with one image */
    {2, 1, 17, 1, 1, EM_BN_EVAL, true},      /* evaluation of one sample */
    {4, 32, 64, 16, 16, EM_BN_EVAL, true},
    {4, 5, 24, 2, 3, EM_BN_TRAIN, true},
};

typedef struct bn_ctx {
    const bn_case *c;
    em_real rm[512], rv[512];  /* the running statistics, one copy per run */
    bool relu;
} bn_ctx;

static em_tensor *bn_graph(em_tape *tape, em_tensor *const *in, void *ctx) {
    bn_ctx *b = ctx;
    const em_bn_args *a = BN_ARGS(in[1], in[2], b->rm, b->rv, 0.9, 1e-5, b->c->mode);
    return em_batchnorm(tape, in[0], a);
}
static em_tensor *bn_relu_fast(em_tape *tape, em_tensor *const *in, void *ctx) {
    bn_ctx *b = ctx;
    return em_fast_batchnorm_relu(tape, in[0], BN_ARGS(in[1], in[2], b->rm, b->rv, 0.9, 1e-5,
                                                        b->c->mode));
}
static em_tensor *bn_relu_ref(em_tape *tape, em_tensor *const *in, void *ctx) {
    return em_relu(tape, bn_graph(tape, in, ctx));
}

/* bn on both tiers, from the same running statistics; y, the gradients and the running
 * statistics after the step compared */
static void bn_cases(graph_fn fast_f, graph_fn ref_f, const char *op) {
    int tested = 0;
    for (size_t i = 0; i < sizeof bn_grid / sizeof bn_grid[0]; i++) {
        const bn_case *c = &bn_grid[i];
        em_rng rng;
        em_rng_seed(&rng, 2000 + i);
        int shape[4] = {c->N, c->C, c->H, c->W};
        em_tensor *in[3] = {tensor_randn(&rng, c->ndim, shape, 3, 2, EM_REQUIRES_GRAD),
                            c->affine ? tensor_randn(&rng, 1, &c->C, 1, 0.5, EM_REQUIRES_GRAD) : NULL,
                            c->affine ? tensor_randn(&rng, 1, &c->C, 0, 0.5, EM_REQUIRES_GRAD) : NULL};
        bn_ctx fa = {.c = c}, re = {.c = c};
        for (int k = 0; k < c->C; k++) {
            fa.rm[k] = re.rm[k] = (em_real)em_rng_normal(&rng, 3, 1);
            fa.rv[k] = re.rv[k] = (em_real)(4 + em_rng_uniform(&rng));
        }
        char name[100];
        snprintf(name, sizeof name, "%s %s (%d, %d, %d, %d) mode %d%s", op,
                 c->ndim == 2 ? "1d" : "2d", c->N, c->C, c->H, c->W, c->mode,
                 c->affine ? "" : " no affine");
        run a = run_on(em_kernels_fast(), fast_f, &fa, 3, in, 7);
        run b = run_on(em_kernels_reference(), ref_f, &re, 3, in, 7);
        char what[200];
        snprintf(what, sizeof what, "%s: y", name);
        assert_tiers_agree(a.y, b.y, a.ny, TIER_TOL, what);
        for (int k = 0; k < 3; k++) {  /* dy, gamma, x - mean and rstd are O(1) here */
            if (!a.g[k]) continue;
            snprintf(what, sizeof what, "%s: d(input %d)", name, k);
            assert_agree_floor(a.g[k], b.g[k], a.ng[k], TIER_TOL, 1, what);
        }
        snprintf(what, sizeof what, "%s: running mean", name);
        assert_tiers_agree(fa.rm, re.rm, (size_t)c->C, TIER_TOL, what);
        snprintf(what, sizeof what, "%s: running var", name);
        assert_tiers_agree(fa.rv, re.rv, (size_t)c->C, TIER_TOL, what);
        run_free(&a);
        run_free(&b);
        for (int k = 0; k < 3; k++) em_tensor_free(in[k]);
        tested++;
    }
    cr_assert_geq(tested, 20);
}

Test(tiers, batchnorm_fast_equals_reference) { bn_cases(bn_graph, bn_graph, "batchnorm"); }
Test(tiers, batchnorm_fast_equals_reference_on_two_threads) {
    em_set_threads(2);
    bn_cases(bn_graph, bn_graph, "batchnorm, 2 threads");
    em_set_threads(1);
}
Test(tiers, fused_batchnorm_relu_equals_reference_ops) {
    bn_cases(bn_relu_fast, bn_relu_ref, "batchnorm_relu");
}

/* ---- GroupNorm (and so LayerNorm and InstanceNorm) ------------------------------------ */

typedef struct gn_case { int ndim, N, C, H, W, G; bool affine, shared_x; } gn_case;

static const gn_case gn_grid[] = {
    {4, 64, 16, 28, 28, 4, true, false},   /* mnist-cnn --norm gn:4, first layer */
    {4, 64, 32, 14, 14, 4, true, false},
    {4, 8, 16, 8, 8, 1, true, false},      /* LayerNorm on images (G = 1) */
    {4, 8, 16, 8, 8, 16, true, false},     /* InstanceNorm (G = C) */
    {2, 64, 128, 1, 1, 1, true, false},    /* LayerNorm after fc1: (N, C) */
    {2, 5, 300, 1, 1, 1, false, false},    /* wide, no affine */
    {2, 7, 12, 1, 1, 3, true, false},      /* GroupNorm on features */
    {2, 1, 2, 1, 1, 1, true, false},       /* the smallest: two values per group */
    {4, 1, 4, 4, 4, 2, true, false},       /* one image (GroupNorm's case) */
    {4, 2, 3, 1, 1, 1, true, false},       /* 1x1 planes */
    {4, 3, 7, 5, 3, 7, true, false},       /* odd planes, InstanceNorm */
    {4, 3, 6, 5, 3, 3, false, false},
    {4, 7, 36, 3, 11, 6, true, false},
    {4, 4, 16, 17, 1, 8, true, false},     /* a column */
    {4, 2, 64, 16, 16, 32, true, false},   /* wide enough for threads */
    {4, 16, 64, 8, 8, 2, true, false},
    {4, 5, 24, 2, 3, 4, true, true},       /* x read twice: dx accumulates */
    {2, 9, 10, 1, 1, 5, false, true},
    {4, 2, 8, 9, 9, 1, true, true},
    {4, 1, 1, 2, 2, 1, true, false},       /* one channel, one group */
    {4, 3, 32, 1, 1, 16, true, false},     /* two channels a group on 1x1 planes */
};

typedef struct gn_ctx { const gn_case *c; } gn_ctx;

/* gn(x), or gn(x) + relu(x): relu's backward writes dx first, GroupNorm's adds to it */
static em_tensor *gn_graph(em_tape *tape, em_tensor *const *in, void *ctx) {
    const gn_case *c = ((gn_ctx *)ctx)->c;
    em_gn_args a = {.gamma = in[1], .beta = in[2], .groups = c->G, .eps = 1e-5};
    em_tensor *y = em_groupnorm(tape, in[0], &a);
    return c->shared_x ? em_add(tape, y, em_relu(tape, in[0])) : y;
}

static void gn_cases(const char *op) {
    int tested = 0;
    for (size_t i = 0; i < sizeof gn_grid / sizeof gn_grid[0]; i++) {
        const gn_case *c = &gn_grid[i];
        if ((size_t)(c->C / c->G) * c->H * c->W < 2) continue;  /* refused by em_groupnorm */
        em_rng rng;
        em_rng_seed(&rng, 3000 + i);
        int shape[4] = {c->N, c->C, c->H, c->W};
        em_tensor *in[3] = {tensor_randn(&rng, c->ndim, shape, 3, 2, EM_REQUIRES_GRAD),
                            c->affine ? tensor_randn(&rng, 1, &c->C, 1, 0.5, EM_REQUIRES_GRAD) : NULL,
                            c->affine ? tensor_randn(&rng, 1, &c->C, 0, 0.5, EM_REQUIRES_GRAD) : NULL};
        gn_ctx ctx = {.c = c};
        char name[100];
        snprintf(name, sizeof name, "%s (%d, %d, %d, %d) G %d%s%s", op, c->N, c->C, c->H, c->W,
                 c->G, c->affine ? "" : " no affine", c->shared_x ? " + relu(x)" : "");
        run a = run_on(em_kernels_fast(), gn_graph, &ctx, 3, in, 11);
        run b = run_on(em_kernels_reference(), gn_graph, &ctx, 3, in, 11);
        char what[200];
        snprintf(what, sizeof what, "%s: y", name);
        assert_tiers_agree(a.y, b.y, a.ny, TIER_TOL, what);
        for (int k = 0; k < 3; k++) {  /* dy, gamma, x - mean and rstd are O(1) here */
            cr_assert_eq(!a.g[k], !b.g[k], "%s: input %d has a gradient on one tier only",
                         name, k);
            if (!a.g[k]) continue;
            snprintf(what, sizeof what, "%s: d(input %d)", name, k);
            assert_agree_floor(a.g[k], b.g[k], a.ng[k], TIER_TOL, 1, what);
        }
        run_free(&a);
        run_free(&b);
        for (int k = 0; k < 3; k++) em_tensor_free(in[k]);
        tested++;
    }
    cr_assert_geq(tested, 20);
}

Test(tiers, groupnorm_fast_equals_reference) { gn_cases("groupnorm"); }
Test(tiers, groupnorm_fast_equals_reference_on_two_threads) {
    em_set_threads(2);
    gn_cases("groupnorm, 2 threads");
    em_set_threads(1);
}

/* ---- max-pool ------------------------------------------------------------------------- */

typedef struct pool_case { int N, C, H, W, k, s; } pool_case;

static const pool_case pool_grid[] = {
    {4, 16, 28, 28, 2, 2}, {4, 32, 14, 14, 2, 2}, {3, 64, 8, 8, 2, 2},  /* the models' */
    {2, 3, 7, 7, 2, 2},    {2, 3, 15, 9, 2, 2},   {1, 1, 2, 2, 2, 2},
    {5, 2, 6, 4, 2, 2},    {2, 5, 30, 2, 2, 2},   {1, 3, 2, 40, 2, 2},
    {2, 4, 9, 9, 3, 2},    {2, 4, 10, 10, 3, 3},  {2, 3, 8, 8, 2, 1},
    {3, 2, 5, 5, 5, 1},    {2, 6, 12, 12, 4, 4},  {1, 37, 6, 6, 2, 2},
    {2, 2, 2048, 2, 2, 2}, {2, 2, 2, 1030, 2, 2}, {2, 3, 11, 12, 2, 2},
    {8, 8, 32, 32, 2, 2},  {3, 3, 16, 16, 3, 1},  {2, 2, 4, 6, 2, 2},
};

static em_tensor *pool_graph(em_tape *tape, em_tensor *const *in, void *ctx) {
    const pool_case *c = ctx;
    return em_maxpool2d(tape, in[0], c->k, c->s);
}

Test(tiers, maxpool_fast_equals_reference_exactly) {
    for (size_t i = 0; i < sizeof pool_grid / sizeof pool_grid[0]; i++) {
        const pool_case *c = &pool_grid[i];
        em_rng rng;
        em_rng_seed(&rng, 3000 + i);
        em_tensor *x = tensor_randn(&rng, 4, (int[]){c->N, c->C, c->H, c->W}, 0, 1,
                                    EM_REQUIRES_GRAD);
        /* values on a grid of 1/2, so that many windows hold ties, and a NaN or two */
        for (size_t j = 0; j < x->size; j++) x->data[j] = (em_real)(floor(x->data[j] * 2) / 2);
        x->data[x->size / 3] = NAN;
        run a = run_on(em_kernels_fast(), pool_graph, (void *)c, 1, &x, 5);
        run b = run_on(em_kernels_reference(), pool_graph, (void *)c, 1, &x, 5);
        cr_assert(memcmp(a.y, b.y, a.ny * sizeof *a.y) == 0, "maxpool case %zu: y", i);
        cr_assert(memcmp(a.g[0], b.g[0], a.ng[0] * sizeof *a.g[0]) == 0, "maxpool case %zu: dx", i);
        run_free(&a);
        run_free(&b);
        em_tensor_free(x);
    }
    cr_assert_geq(sizeof pool_grid / sizeof pool_grid[0], 20);
}

/* ---- activations ---------------------------------------------------------------------- */

static em_tensor *act_graph(em_tape *tape, em_tensor *const *in, void *ctx) {
    em_op op = *(const em_op *)ctx;
    return op == EM_OP_RELU ? em_relu(tape, in[0])
           : op == EM_OP_SIGMOID ? em_sigmoid(tape, in[0]) : em_tanh(tape, in[0]);
}

/* elementwise ops: each value within a few units in the last place of the reference's
 * (the fast sigmoid's e^x is a polynomial, good to about one); below 1e-30 (a sigmoid's
 * far tail, which the fast tier flushes to 0) anything that small agrees */
#ifdef EM_DOUBLE
#define ULPS_TOL 1e-14
#else
#define ULPS_TOL 5e-7
#endif
static void assert_elementwise_agree(const em_real *got, const em_real *want, size_t n,
                                     const char *what) {
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        cr_assert(d <= ULPS_TOL * fabs((double)want[i]) + 1e-30,
                  "%s[%zu]: fast %.9g, reference %.9g", what, i, (double)got[i], (double)want[i]);
    }
}

Test(tiers, activations_fast_equal_reference) {
    const int sizes[] = {1, 2, 7, 15, 16, 17, 31, 33, 100, 255, 256, 257, 784, 1000, 4095,
                         4096, 4097, 65536, 65537, 200003};
    const em_op ops[] = {EM_OP_RELU, EM_OP_SIGMOID, EM_OP_TANH};
    em_set_threads(2);
    for (int o = 0; o < 3; o++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            em_rng rng;
            em_rng_seed(&rng, 4000 + i);
            em_tensor *x = tensor_randn(&rng, 1, &sizes[i], 0, 4, EM_REQUIRES_GRAD);
            x->data[0] = (em_real)(o == 1 ? -100 : 0);  /* the tails, the kink */
            em_op op = ops[o];
            run a = run_on(em_kernels_fast(), act_graph, &op, 1, &x, 11);
            run b = run_on(em_kernels_reference(), act_graph, &op, 1, &x, 11);
            char name[64];
            snprintf(name, sizeof name, "%s on %d values: y", em_op_name(op), sizes[i]);
            assert_elementwise_agree(a.y, b.y, a.ny, name);
            /* dx = dy f'(y): sigmoid's y (1 - y) near y = 1 turns y's last bit into a
             * relative error of 1 - y's size, so dx is compared at the scale of dy */
            snprintf(name, sizeof name, "%s on %d values: dx", em_op_name(op), sizes[i]);
            assert_agree_floor(a.g[0], b.g[0], a.ng[0], ULPS_TOL, 1, name);
            run_free(&a);
            run_free(&b);
            em_tensor_free(x);
        }
    em_set_threads(1);
}

/* ---- addition ---------------------------------------------------------------------------- */

typedef struct add_case { int n1, n2; bool same_input; } add_case;

/* a + b (or x + x), then relu(a) joins the sum: a's gradient gets written by one
 * consumer and added to by the other, in both orders of the backward */
static em_tensor *add_graph(em_tape *tape, em_tensor *const *in, void *ctx) {
    const add_case *c = ctx;
    em_tensor *s = em_add(tape, in[0], c->same_input ? in[0] : in[1]);
    return em_add(tape, s, em_relu(tape, in[0]));
}

/* one shape (the table's entries) on many sizes, both tiers the same to the last bit
 * (an addition rounds the same wherever it runs); a broadcast operand (the walks, on
 * both tiers) and x + x among them */
Test(tiers, add_fast_equals_reference_exactly) {
    const add_case grid[] = {{1, 1, false},    {1, 7, false},    {2, 8, false},
                             {3, 33, false},   {4, 255, false},  {64, 1024, false},
                             {16, 4097, false}, {1, 200003, false}, {5, 17, true},
                             {64, 1024, true}, {2, 1, false},    {7, 1, false},
                             {9, 100, false},  {128, 16, false}, {3, 65537, false},
                             {1, 256, true},   {31, 31, false},  {6, 1000, false},
                             {64, 4096, false}, {1, 3, true}};
    em_set_threads(2);
    for (size_t i = 0; i < sizeof grid / sizeof grid[0]; i++) {
        const add_case *c = &grid[i];
        em_rng rng;
        em_rng_seed(&rng, 5000 + i);
        em_tensor *in[2];
        in[0] = tensor_randn(&rng, 2, (int[]){c->n1, c->n2}, 0, 1, EM_REQUIRES_GRAD);
        /* every fourth case adds a (1, n2) row: broadcast, the walks */
        int rows = i % 4 == 3 ? 1 : c->n1;
        in[1] = tensor_randn(&rng, 2, (int[]){rows, c->n2}, 0, 1, EM_REQUIRES_GRAD);
        run a = run_on(em_kernels_fast(), add_graph, (void *)c, 2, in, 13);
        run b = run_on(em_kernels_reference(), add_graph, (void *)c, 2, in, 13);
        cr_assert_eq(a.ny, b.ny);
        cr_assert(!memcmp(a.y, b.y, a.ny * sizeof *a.y), "add %dx%d: y differs", c->n1, c->n2);
        for (int g = 0; g < 2; g++)
            cr_assert(!memcmp(a.g[g], b.g[g], a.ng[g] * sizeof *a.g[g]),
                      "add %dx%d%s: the gradient of input %d differs", c->n1, c->n2,
                      c->same_input ? " (x + x)" : "", g);
        run_free(&a);
        run_free(&b);
        em_tensor_free(in[0]);
        em_tensor_free(in[1]);
    }
    em_set_threads(1);
}

/* ---- GEMM and the updates --------------------------------------------------------------- */

Test(tiers, gemm_fast_equals_reference_tier) {
    const int shapes[][3] = {{1, 1, 1}, {2, 3, 4}, {7, 5, 3}, {16, 9, 784}, {32, 196, 144},
                             {64, 128, 1568}, {64, 10, 128}, {33, 65, 17}, {100, 1, 50},
                             {1, 100, 50}, {5, 7, 512}, {300, 50, 200}, {20, 40, 1100},
                             {128, 128, 128}, {3, 1000, 3}, {257, 31, 9}, {64, 256, 2048},
                             {96, 96, 192}, {6, 32, 193}, {13, 600, 5}};
    em_rng rng;
    em_rng_seed(&rng, 5);
    em_set_threads(2);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
            bool ta = t & 1, tb = t & 2;
            em_real *A = malloc((size_t)M * K * sizeof *A), *B = malloc((size_t)K * N * sizeof *B);
            em_real *C1 = malloc((size_t)M * N * sizeof *C1), *C2 = malloc((size_t)M * N * sizeof *C2);
            for (int i = 0; i < M * K; i++) A[i] = (em_real)em_rng_normal(&rng, 0, 1);
            for (int i = 0; i < K * N; i++) B[i] = (em_real)em_rng_normal(&rng, 0, 1);
            em_kernels_fast()->gemm(ta, tb, M, N, K, 1, A, ta ? M : K, B, tb ? K : N, 0, C1, N);
            em_kernels_reference()->gemm(ta, tb, M, N, K, 1, A, ta ? M : K, B, tb ? K : N, 0, C2,
                                         N);
            char name[64];
            snprintf(name, sizeof name, "gemm %dx%dx%d ta=%d tb=%d", M, N, K, ta, tb);
            assert_tiers_agree(C1, C2, (size_t)M * N, TIER_TOL * sqrt((double)K), name);
            free(A); free(B); free(C1); free(C2);
        }
    em_set_threads(1);
}

Test(tiers, sgd_fast_equals_reference) {
    const size_t sizes[] = {1, 3, 16, 17, 100, 1000, 65537, 200000};
    em_set_threads(2);
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (int v = 0; v < 16; v++) {  /* momentum, Nesterov, first step, dampening */
            size_t n = sizes[i];
            bool mom = v & 1, nesterov = mom && (v & 2);
            em_sgd_hyper h = {0.05, mom ? 0.9 : 0, !nesterov && (v & 8) ? 0.1 : 0, 5e-4,
                              nesterov, v & 4};
            em_rng rng;
            em_rng_seed(&rng, 6000 + i * 16 + (size_t)v);
            em_real *p1 = malloc(n * sizeof *p1), *p2 = malloc(n * sizeof *p2);
            em_real *v1 = malloc(n * sizeof *v1), *v2 = malloc(n * sizeof *v2);
            em_real *g = malloc(n * sizeof *g);
            for (size_t k = 0; k < n; k++) {
                p1[k] = p2[k] = (em_real)em_rng_normal(&rng, 0, 1);
                v1[k] = v2[k] = (em_real)em_rng_normal(&rng, 0, 1);
                g[k] = (em_real)em_rng_normal(&rng, 0, 1);
            }
            em_kernels_fast()->sgd(p1, mom ? v1 : NULL, g, n, &h);
            em_kernels_reference()->sgd(p2, mom ? v2 : NULL, g, n, &h);
            char name[64];
            snprintf(name, sizeof name, "sgd p, n %zu case %d", n, v);
            assert_agree_floor(p1, p2, n, ULPS_TOL, 1, name);  /* O(1) values; v = mu v + g */
            snprintf(name, sizeof name, "sgd v, n %zu case %d", n, v);  /* may cancel */
            if (mom) assert_agree_floor(v1, v2, n, ULPS_TOL, 1, name);
            free(p1); free(p2); free(v1); free(v2); free(g);
        }
    em_set_threads(1);
}

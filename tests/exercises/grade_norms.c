/* tests/exercises/grade_norms.c — exercises 12 (LayerNorm) and 13 (GroupNorm): BatchNorm's
 * relatives, the same normalization over another set of values (docs/batchnorm.md §6).
 *
 * Both are one reference here, GroupNorm over (N, C, S) with G groups in double (LayerNorm
 * on (N, D) is G = 1 with C = D, S = 1), and the usual mistakes as variants of it: gamma
 * pulled out of the sums as if it were constant over the normalized values (it is in
 * BatchNorm, not here), LayerNorm normalizing each feature over the batch (BatchNorm's
 * axis), the unbiased variance, GroupNorm's groups taken as every G-th channel, its (N, G)
 * statistics indexed as (G, N). Exercise 12: its functions called directly against the
 * reference, as a tape op under em_gradcheck, and on PyTorch's nn.LayerNorm(5). Exercise
 * 13: directly, then em_groupnorm — which runs it (exercises/tier.c) — under em_gradcheck
 * and on PyTorch's nn.GroupNorm(G, 6) for G = 1, 2, 6 and nn.InstanceNorm2d(3). */
#include "grade.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "exercises/exercises.h"

enum norm_variant { NV_RIGHT, NV_GAMMA_OUT, NV_BATCH_AXIS, NV_UNBIASED, NV_STRIDED, NV_GN };

/* the group of channel c: consecutive channels (right) or every G-th (the mistake) */
static int group_of(int c, int C, int G, enum norm_variant v) {
    return v == NV_STRIDED ? c % G : c / (C / G);
}

/* y, mean, rstd (N, G) and, with dy, dx, dgamma, dbeta: GroupNorm in double */
static void ref_gn(double *y, double *mean, double *rstd, double *dx, double *dgamma,
                   double *dbeta, const em_real *x, const em_real *dy, const em_real *gamma,
                   const em_real *beta, int N, int C, int S, int G, double eps,
                   enum norm_variant v) {
    if (v == NV_BATCH_AXIS) {  /* LayerNorm's (N, D) normalized per feature over the batch */
        for (int c = 0; c < C; c++) {
            double s = 0, q = 0;
            for (int n = 0; n < N; n++) s += x[(size_t)n * C + c];
            for (int n = 0; n < N; n++) q += pow(x[(size_t)n * C + c] - s / N, 2);
            for (int n = 0; n < N; n++)
                y[(size_t)n * C + c] = gamma[c] * (x[(size_t)n * C + c] - s / N) /
                                       sqrt(q / N + eps) + beta[c];
        }
        return;
    }
    const double K = (double)C / G * S;
    for (int n = 0; n < N; n++)
        for (int g = 0; g < G; g++) {
            double s = 0, q = 0, sg = 0, sgx = 0;
            for (int c = 0; c < C; c++)
                for (int k = 0; k < S && group_of(c, C, G, v) == g; k++)
                    s += x[((size_t)n * C + c) * S + k];
            double mu = s / K;
            for (int c = 0; c < C; c++)
                for (int k = 0; k < S && group_of(c, C, G, v) == g; k++)
                    q += pow(x[((size_t)n * C + c) * S + k] - mu, 2);
            double r = 1 / sqrt(q / (v == NV_UNBIASED ? K - 1 : K) + eps);
            mean[n * G + g] = mu, rstd[n * G + g] = r;
            for (int c = 0; c < C; c++)
                for (int k = 0; k < S && group_of(c, C, G, v) == g; k++) {
                    size_t i = ((size_t)n * C + c) * S + k;
                    y[i] = gamma[c] * (x[i] - mu) * r + beta[c];
                    if (!dy) continue;
                    double gx = (v == NV_GAMMA_OUT ? 1 : gamma[c]) * dy[i];
                    sg += gx, sgx += gx * (x[i] - mu) * r;
                }
            for (int c = 0; c < C && dy; c++)
                for (int k = 0; k < S && group_of(c, C, G, v) == g; k++) {
                    size_t i = ((size_t)n * C + c) * S + k;
                    double gx = (v == NV_GAMMA_OUT ? 1 : gamma[c]) * dy[i];
                    double xhat = (x[i] - mu) * r, outside = v == NV_GAMMA_OUT ? gamma[c] : 1;
                    dx[i] = outside * r * (gx - sg / K - xhat * sgx / K);
                }
        }
    for (int c = 0; c < C && dy; c++) {
        dgamma[c] = dbeta[c] = 0;
        for (int n = 0; n < N; n++)
            for (int k = 0; k < S; k++) {
                size_t i = ((size_t)n * C + c) * S + k;
                int g = group_of(c, C, G, v);
                dbeta[c] += dy[i];
                dgamma[c] += dy[i] * (x[i] - mean[n * G + g]) * rstd[n * G + g];
            }
    }
}

typedef struct norm_case {
    int N, C, S, G;
    double xmean, xstd;
} norm_case;

/* the inputs of a case: x, dy, gamma, beta */
typedef struct norm_in {
    em_real *x, *dy, *gamma, *beta;
    size_t n;
} norm_in;

static norm_in make_in(const norm_case *k, em_rng *rng) {
    norm_in in;
    in.n = (size_t)k->N * k->C * k->S;
    in.x = grade_alloc(in.n, sizeof *in.x), in.dy = grade_alloc(in.n, sizeof *in.dy);
    in.gamma = grade_alloc((size_t)k->C, sizeof *in.gamma);
    in.beta = grade_alloc((size_t)k->C, sizeof *in.beta);
    for (size_t i = 0; i < in.n; i++) {
        in.x[i] = (em_real)em_rng_normal(rng, k->xmean, k->xstd);
        in.dy[i] = (em_real)em_rng_normal(rng, 0, 1);
    }
    for (int c = 0; c < k->C; c++) {
        in.gamma[c] = (em_real)em_rng_normal(rng, 1, 0.5);
        in.beta[c] = (em_real)em_rng_normal(rng, 0, 0.5);
    }
    return in;
}

static void free_in(norm_in *in) { free(in->x), free(in->dy), free(in->gamma), free(in->beta); }

static void student_fwd(bool ln, em_real *y, em_real *mean, em_real *rstd, const norm_in *in,
                        const norm_case *k) {
    if (ln) ex_layernorm_forward(y, mean, rstd, in->x, in->gamma, in->beta, k->N, k->C, 1e-5);
    else ex_groupnorm_forward(y, mean, rstd, in->x, in->gamma, in->beta, k->N, k->C, k->S,
                              k->G, 1e-5);
}

static void student_bwd(bool ln, em_real *dx, em_real *dg, em_real *db, const norm_in *in,
                        const em_real *mean, const em_real *rstd, const norm_case *k) {
    if (ln) ex_layernorm_backward(dx, dg, db, in->dy, in->x, mean, rstd, in->gamma, k->N, k->C);
    else ex_groupnorm_backward(dx, dg, db, in->dy, in->x, mean, rstd, in->gamma, k->N, k->C,
                               k->S, k->G);
}

/* the forward and (from the reference's statistics) the backward of one case, called
 * directly; the usual mistakes named when the numbers match one */
static void norm_direct(grade *g, bool ln, const norm_case *k, em_rng *rng, bool *hinted) {
    norm_in in = make_in(k, rng);
    size_t n = in.n, ns = (size_t)k->N * k->G, C = (size_t)k->C;
    double *w = grade_alloc(2 * n + 2 * ns + 2 * C, sizeof *w);
    double *wy = w, *wmean = w + n, *wrstd = wmean + ns, *wdx = wrstd + ns, *wdg = wdx + n;
    double *wdb = wdg + C;
    em_real *got = grade_alloc(2 * n + 4 * ns + 2 * C, sizeof *got);
    em_real *y = got, *mean = got + n, *rstd = mean + ns, *dx = rstd + ns, *dg = dx + n;
    em_real *db = dg + C, *rmean = db + C, *rrstd = rmean + ns;
    ref_gn(wy, wmean, wrstd, wdx, wdg, wdb, in.x, in.dy, in.gamma, in.beta, k->N, k->C, k->S,
           k->G, 1e-5, NV_RIGHT);
    student_fwd(ln, y, mean, rstd, &in, k);
    for (size_t i = 0; i < ns; i++) rmean[i] = (em_real)wmean[i], rrstd[i] = (em_real)wrstd[i];
    student_bwd(ln, dx, dg, db, &in, rmean, rrstd, k);
    int shape[3] = {k->N, k->C, k->S}, sst[2] = {k->N, k->G}, cs = k->C;
    if (ln) grade_situation(g, "x (%d, %d) (mean %g, std %g)", k->N, k->C, k->xmean, k->xstd);
    else grade_situation(g, "x (%d, %d, %d), G %d (mean %g, std %g)", k->N, k->C, k->S, k->G,
                         k->xmean, k->xstd);
    bool ok_y = grade_compare(g, "y", y, wy, n, ln ? 2 : 3, shape, GRADE_REF_TOL);
    grade_compare(g, "mean", mean, wmean, ns, ln ? 1 : 2, sst, GRADE_REF_TOL);
    grade_compare(g, "rstd", rstd, wrstd, ns, ln ? 1 : 2, sst, GRADE_REF_TOL);
    bool ok_dx = grade_compare(g, "dx", dx, wdx, n, ln ? 2 : 3, shape, GRADE_REF_TOL);
    grade_compare(g, "dgamma", dg, wdg, C, 1, &cs, GRADE_REF_TOL);
    grade_compare(g, "dbeta", db, wdb, C, 1, &cs, GRADE_REF_TOL);
    grade_done(g);
    static const struct { enum norm_variant v; bool fwd, ln_only, gn_only; const char *hint; }
    mistakes[] = {
        {NV_BATCH_AXIS, true, true, false, "your y normalizes each feature over the batch: "
         "that is BatchNorm's axis. LayerNorm takes one sample's D features"},
        {NV_UNBIASED, true, false, false, "your rstd uses the unbiased variance (divided by "
         "the count - 1); normalize with the biased one"},
        {NV_STRIDED, true, false, true, "your groups take every G-th channel; group g is the "
         "Cg = C/G consecutive channels g*Cg .. g*Cg + Cg - 1"},
        {NV_GAMMA_OUT, false, false, false, "your dx takes gamma out of the sums, as "
         "BatchNorm's closed form may: here gamma changes within the normalized values, so "
         "the sums are over gamma * dy"},
    };
    double *alt = grade_alloc(2 * n + 2 * ns + 2 * C, sizeof *alt);
    for (size_t m = 0; !*hinted && m < sizeof mistakes / sizeof mistakes[0]; m++) {
        if ((mistakes[m].ln_only && !ln) || (mistakes[m].gn_only && ln)) continue;
        if ((mistakes[m].fwd && ok_y) || (!mistakes[m].fwd && ok_dx)) continue;
        ref_gn(alt, alt + n, alt + n + ns, alt + n + 2 * ns, alt + 2 * n + 2 * ns,
               alt + 2 * n + 2 * ns + C, in.x, in.dy, in.gamma, in.beta, k->N, k->C, k->S, k->G,
               1e-5, mistakes[m].v);
        if (grade_rel_err(mistakes[m].fwd ? y : dx, mistakes[m].fwd ? alt : alt + n + 2 * ns,
                          n) <= GRADE_REF_TOL) {
            grade_hint(g, "%s", mistakes[m].hint);
            *hinted = true;
        }
    }
    if (!*hinted && !ln) {  /* the (N, G) statistics written as (G, N) */
        bool transposed = ns > 1 && k->N > 1 && k->G > 1;
        for (int a = 0; a < k->N && transposed; a++)
            for (int b = 0; b < k->G && transposed; b++)
                transposed = fabs(mean[(size_t)b * k->N + a] - wmean[(size_t)a * k->G + b]) <=
                             1e-9 * (fabs(wmean[(size_t)a * k->G + b]) + 1);
        if (transposed) {
            grade_hint(g, "your mean and rstd are stored as (G, N): element n*G + g belongs "
                       "to sample n, group g");
            *hinted = true;
        }
    }
    free(w), free(got), free(alt);
    free_in(&in);
}

/* exercise 12 as a tape op: the student's forward and backward; in: x (N, D), gamma, beta */
typedef struct ln_saved {
    em_real *mean, *rstd;
} ln_saved;

static void ln_node_backward(em_tape *tape, em_node *node) {
    em_tensor *x = node->inputs[0];
    int N = x->shape[0], D = x->shape[1];
    const ln_saved *sv = node->saved;
    em_real *d = em_tape_alloc(tape, (x->size + 2 * (size_t)D) * sizeof *d);
    if (!d) return;
    memset(d, 0, (x->size + 2 * (size_t)D) * sizeof *d);
    ex_layernorm_backward(d, d + x->size, d + x->size + D, node->output->grad, x->data,
                          sv->mean, sv->rstd, node->inputs[1]->data, N, D);
    for (int i = 0; i < 3; i++) {
        em_real *gi = em_node_grad(tape, node, i);
        size_t len = i ? (size_t)D : x->size, off = i == 0 ? 0 : i == 1 ? x->size : x->size + D;
        for (size_t j = 0; gi && j < len; j++) gi[j] += d[off + j];
    }
}

static em_tensor *ln_op(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    em_tensor *x = in[0];
    int N = x->shape[0], D = x->shape[1];
    em_tensor *y = em_tape_tensor_like(tape, x);
    ln_saved *sv = em_tape_alloc(tape, sizeof *sv);
    em_real *st = em_tape_alloc(tape, 2 * (size_t)N * sizeof *st);
    if (!y || !sv || !st) return NULL;
    memset(y->data, 0, x->size * sizeof *y->data);
    memset(st, 0, 2 * (size_t)N * sizeof *st);
    sv->mean = st, sv->rstd = st + N;
    ex_layernorm_forward(y->data, sv->mean, sv->rstd, x->data, in[1]->data, in[2]->data, N, D,
                         1e-5);
    em_node *node = em_tape_record(tape, EM_OP_CUSTOM, y, ln_node_backward, 3, x, in[1], in[2]);
    if (node) node->saved = sv;
    return y;
}

typedef struct gn_ctx {
    int G;
} gn_ctx;

static em_tensor *gn_op(em_tape *tape, em_tensor *const *in, void *ctx) {
    em_gn_args a = {.gamma = in[1], .beta = in[2], .groups = ((gn_ctx *)ctx)->G, .eps = 1e-5};
    return em_groupnorm(tape, in[0], &a);
}

static const char *const norm_grads[3] = {"dx", "dgamma", "dbeta"};

static void norm_gradcheck(grade *g, bool ln, int ndim, const int *shape, int G, em_rng *rng) {
    int C = shape[1];
    em_tensor *in[3] = {grade_randn(rng, ndim, shape, 2, 3, EM_REQUIRES_GRAD),
                        grade_randn(rng, 1, &C, 1, 0.5, EM_REQUIRES_GRAD),
                        grade_randn(rng, 1, &C, 0, 0.5, EM_REQUIRES_GRAD)};
    gn_ctx ctx = {G};
    char sh[48];
    if (ln) grade_situation(g, "gradcheck of your forward and backward as a tape op, x %s",
                            em_shape_str(in[0], sh, sizeof sh));
    else grade_situation(g, "gradcheck of em_groupnorm, x %s, G %d",
                         em_shape_str(in[0], sh, sizeof sh), G);
    grade_gradcheck(g, ln ? ln_op : gn_op, &ctx, 3, in, norm_grads);
    grade_done(g);
    for (int i = 0; i < 3; i++) em_tensor_free(in[i]);
}

/* PyTorch's two training steps of a fixture: LayerNorm by direct calls, GroupNorm (and
 * InstanceNorm, G = C) through em_groupnorm */
static void norm_golden(grade *g, bool ln, const char *file, int G, const char *what) {
    fixture *fx = fixture_load(file);
    em_tensor *gm = fixture_tensor(fixture_get(fx, "gamma"), EM_REQUIRES_GRAD);
    em_tensor *bt = fixture_tensor(fixture_get(fx, "beta"), EM_REQUIRES_GRAD);
    char key[32], sh[48];
    for (int k = 0; k < 2; k++) {
        snprintf(key, sizeof key, "x%d", k);
        em_tensor *x = fixture_tensor(fixture_get(fx, key), EM_REQUIRES_GRAD);
        snprintf(key, sizeof key, "dy%d", k);
        em_real *dy = grade_fx_values(fixture_get(fx, key));
        em_tape *tape = em_tape_new(0);
        em_tensor_zero_grad(gm), em_tensor_zero_grad(bt);
        em_tensor *in[3] = {x, gm, bt};
        gn_ctx ctx = {G};
        em_tensor *y = ln ? ln_op(tape, in, NULL) : gn_op(tape, in, &ctx);
        if (!y || em_backward_from(tape, y, dy) != EM_OK) grade_fatal("%s failed", what);
        grade_situation(g, "PyTorch's %s, x %s, step %d", what, em_shape_str(x, sh, sizeof sh),
                        k + 1);
        const char *names[4] = {"y", "dx", "dgamma", "dbeta"}, *keys[4] = {"y%d", "dx%d",
                                                                            "dgamma%d", "dbeta%d"};
        const em_tensor *ts[4] = {y, x, gm, bt};
        const em_real *got[4] = {y->data, x->grad, gm->grad, bt->grad};
        for (int q = 0; q < 4; q++) {
            snprintf(key, sizeof key, keys[q], k);
            grade_compare(g, names[q], got[q], fixture_get(fx, key)->data, ts[q]->size,
                          ts[q]->ndim, ts[q]->shape, GRADE_GOLDEN_TOL);
        }
        grade_done(g);
        em_tape_free(tape);
        em_tensor_free(x);
        free(dy);
    }
    em_tensor_free(gm), em_tensor_free(bt);
    fixture_free(fx);
}

/* did the functions write anything? */
static bool norm_writes(bool ln, bool fwd) {
    norm_case k = {2, 4, 1, ln ? 1 : 2, 0, 1};
    em_rng rng;
    em_rng_seed(&rng, 12);
    norm_in in = make_in(&k, &rng);
    em_real out[8 + 8], st[2 * 4] = {0}, par[8] = {0};
    memset(out, 0, sizeof out);
    for (int i = 0; i < 8; i++) st[i] = (em_real)(0.5 + i);
    if (fwd) student_fwd(ln, out, st, st + 4, &in, &k);
    else student_bwd(ln, out, par, par + 4, &in, st, st + 4, &k);
    bool wrote = grade_nonzero(out, 8) || (fwd ? st[0] != 0.5 : grade_nonzero(par, 8));
    free_in(&in);
    return wrote;
}

void grade_ex12_layernorm(grade *g) {
    grade_probe(g, "ex_layernorm_forward", norm_writes(true, true));
    grade_probe(g, "ex_layernorm_backward", norm_writes(true, false));
    if (!grade_probe_done(g)) return;
    em_rng rng;
    em_rng_seed(&rng, 1212);
    bool hinted = false;
    static const norm_case cases[] = {{8, 5, 1, 1, 3, 2}, {1, 7, 1, 1, 0, 1},
                                      {4, 64, 1, 1, -2, 0.5}, {3, 6, 1, 1, 1e4, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        norm_direct(g, true, &cases[i], &rng, &hinted);
    norm_gradcheck(g, true, 2, (int[]){4, 6}, 1, &rng);
    norm_gradcheck(g, true, 2, (int[]){2, 9}, 1, &rng);
    norm_golden(g, true, "layernorm.emfx", 1, "nn.LayerNorm(5)");
}

void grade_ex13_groupnorm(grade *g) {
    grade_probe(g, "ex_groupnorm_forward", norm_writes(false, true));
    grade_probe(g, "ex_groupnorm_backward", norm_writes(false, false));
    if (!grade_probe_done(g)) return;
    em_rng rng;
    em_rng_seed(&rng, 1313);
    bool hinted = false;
    static const norm_case cases[] = {{2, 6, 5, 2, 3, 2}, {3, 4, 6, 1, 0, 1},
                                      {2, 3, 4, 3, 1, 2}, {8, 6, 1, 2, -1, 1},
                                      {2, 8, 3, 4, 1e4, 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        norm_direct(g, false, &cases[i], &rng, &hinted);
    norm_gradcheck(g, false, 4, (int[]){2, 6, 2, 3}, 3, &rng);
    norm_gradcheck(g, false, 2, (int[]){4, 4}, 2, &rng);
    norm_golden(g, false, "groupnorm_g2.emfx", 2, "nn.GroupNorm(2, 6)");
    norm_golden(g, false, "groupnorm_g1.emfx", 1, "nn.GroupNorm(1, 6)");
    norm_golden(g, false, "groupnorm_gc.emfx", 6, "nn.GroupNorm(6, 6)");
    norm_golden(g, false, "groupnorm_g2_flat.emfx", 2, "nn.GroupNorm(2, 6) on (8, 6)");
    norm_golden(g, false, "instancenorm.emfx", 3, "nn.InstanceNorm2d(3, affine=True)");
}

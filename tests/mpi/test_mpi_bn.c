/* tests/mpi/test_mpi_bn.c — SyncBatchNorm over real MPI processes (`mpirun -np P`), in
 * double precision:
 *   1. gradient check across the processes: L = sum over all processes of sum(u_r * y_r),
 *      y = BatchNorm of the global batch with statistics summed over the processes
 *      (em_dist_bn_sync). Every process perturbs x element by element in turn (central
 *      differences, all processes recomputing L), and gamma and beta, shared, on all at
 *      once; the numeric derivative must match the analytic one: dx of the owning process,
 *      dgamma and dbeta summed over the processes.
 *   2. the same batch gathered on every process and normalized by one em_batchnorm: the
 *      processes' outputs and input gradients are its rows.
 * Shapes: BatchNorm1d and 2d, uneven parts (3 + 4 rows), one example per process. And a
 * control that must fail: a sync that leaves out the backward's sums (dx from this process's
 * sums only). Prints one line per case on process 0; exit 0 when all pass, 1 otherwise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ember.h"
#include "tests/bn_args.h"
#include "examples/common/dist.h"

#ifndef EM_DOUBLE
#error "built against ember_f64: finite differences need double precision"
#endif

typedef struct bn_case {
    const char *name;
    int ndim;
    int C, H, W;
    int rows[4];            /* rows of process r (r < 4; more processes reuse the last) */
    bool broken;            /* the control: the backward's sums are not synchronized    */
} bn_case;

typedef struct setup {
    const em_dist *d;
    const bn_case *k;
    int rows, first, total;     /* this process's rows, its first global row, all rows   */
    size_t per;                 /* values per row                                        */
    em_tensor *x, *g, *b;       /* this process's part and the shared parameters         */
    em_real *u;                 /* upstream gradient of this part                         */
    em_bn_sync sync;
} setup;

static int rows_of(const bn_case *k, int r) { return k->rows[r < 4 ? r : 3]; }

/* em_dist_sum for the forward's buffers (C + 1, then C values), nothing for the
 * backward's (2C) */
typedef struct broken_ctx { const em_dist *d; int C; } broken_ctx;
static void sum_forward_only(double *buf, int n, void *ctx) {
    broken_ctx *b = ctx;
    if (n != 2 * b->C) em_dist_sum(b->d, buf, n);
}

/* the value of global row n, value j: the same function on every process */
static double x_at(int n, size_t j) { return 3 + 2 * sin(1.7 * n + 0.37 * (double)j) + 0.1 * n; }
static double u_at(int n, size_t j) { return cos(0.9 * n - 1.3 * (double)j) + 0.2; }

static em_tensor *shaped(const bn_case *k, int rows, unsigned flags) {
    int shape[4] = {rows, k->C, k->H, k->W};
    return em_tensor_new(k->ndim, shape, flags);
}

/* L summed over all processes */
static double loss(setup *s) {
    em_tape *tape = em_tape_new(0);
    em_tape_set_recording(tape, false);
    em_tensor *y = em_batchnorm(tape, s->x, BN_SYNC(s->g, s->b, NULL, NULL, 0.9, 1e-5, EM_BN_TRAIN, &s->sync));
    double l = 0;
    for (size_t i = 0; y && i < y->size; i++) l += s->u[i] * y->data[i];
    em_tape_free(tape);
    em_dist_sum(s->d, &l, 1);
    return l;
}

/* |a - n| within 1e-6 relative plus the rounding floor of L over h */
static bool close_enough(double a, double n, double floor) {
    return fabs(a - n) <= 1e-6 * fmax(fabs(a), fabs(n)) + 1e-9 + floor;
}

static int run_case(const em_dist *d, const bn_case *k) {
    setup s = {.d = d, .k = k, .sync = em_dist_bn_sync(d)};
    broken_ctx bc = {d, k->C};
    if (k->broken) s.sync = (em_bn_sync){sum_forward_only, &bc};
    int P = d->size;
    for (int r = 0; r < P; r++) {
        if (r < d->rank) s.first += rows_of(k, r);
        s.total += rows_of(k, r);
    }
    s.rows = rows_of(k, d->rank);
    s.per = (size_t)k->C * (k->ndim == 4 ? (size_t)k->H * k->W : 1);
    s.x = shaped(k, s.rows, EM_REQUIRES_GRAD);
    s.g = em_tensor_new(1, (int[]){k->C}, EM_REQUIRES_GRAD);
    s.b = em_tensor_new(1, (int[]){k->C}, EM_REQUIRES_GRAD);
    s.u = malloc(s.x->size * sizeof *s.u);
    for (int n = 0; n < s.rows; n++)
        for (size_t j = 0; j < s.per; j++) {
            s.x->data[n * s.per + j] = x_at(s.first + n, j);
            s.u[n * s.per + j] = u_at(s.first + n, j);
        }
    for (int c = 0; c < k->C; c++) {
        s.g->data[c] = 1 + 0.3 * c;
        s.b->data[c] = 0.5 - 0.2 * c;
    }

    /* analytic: one synchronized forward and backward */
    em_tape *tape = em_tape_new(0);
    em_tensor *y = em_batchnorm(tape, s.x, BN_SYNC(s.g, s.b, NULL, NULL, 0.9, 1e-5, EM_BN_TRAIN, &s.sync));
    em_backward_from(tape, y, s.u);
    double *dg = calloc((size_t)2 * k->C, sizeof *dg), *db = dg + k->C;
    for (int c = 0; c < k->C; c++) {
        dg[c] = s.g->grad[c];
        db[c] = s.b->grad[c];
    }
    em_dist_sum(d, dg, 2 * k->C);   /* the parameter gradients of the global batch */
    double S = 0;                   /* sum |u y|: the rounding floor of L */
    for (size_t i = 0; i < y->size; i++) S += fabs(s.u[i] * y->data[i]);
    em_dist_sum(d, &S, 1);
    double h = 1e-6, floor = 4 * 2.2e-16 * S / h, worst = 0;
    int bad = 0;

    /* 1. central differences: x of process q element by element, then gamma and beta */
    for (int q = 0; q < P; q++) {
        size_t nq = (size_t)rows_of(k, q) * s.per;
        for (size_t i = 0; i < nq; i++) {
            em_real *xi = d->rank == q ? &s.x->data[i] : NULL;
            em_real keep = xi ? *xi : 0;
            if (xi) *xi = keep + h;
            double lp = loss(&s);
            if (xi) *xi = keep - h;
            double lm = loss(&s);
            if (xi) *xi = keep;
            if (d->rank == q) {
                double num = (lp - lm) / (2 * h), ana = s.x->grad[i];
                worst = fmax(worst, fabs(num - ana));
                if (!close_enough(ana, num, floor)) {
                    if (bad++ < 5 && !k->broken) fprintf(stderr, "%s: dx of process %d [%zu]: analytic %.12g, "
                                           "numeric %.12g\n", k->name, q, i, ana, num);
                }
            }
        }
    }
    for (int which = 0; which < 2; which++)
        for (int c = 0; c < k->C; c++) {
            em_real *p = (which ? s.b : s.g)->data + c, keep = *p;
            *p = keep + h;
            double lp = loss(&s);
            *p = keep - h;
            double lm = loss(&s);
            *p = keep;
            double num = (lp - lm) / (2 * h), ana = which ? db[c] : dg[c];
            worst = fmax(worst, fabs(num - ana));
            if (!close_enough(ana, num, floor) && bad++ < 5 && !k->broken)
                fprintf(stderr, "%s: d%s[%d]: analytic %.12g, numeric %.12g\n", k->name,
                        which ? "beta" : "gamma", c, ana, num);
        }

    /* 2. the whole batch on every process, one em_batchnorm */
    em_tensor *xa = shaped(k, s.total, EM_REQUIRES_GRAD);
    double *all = calloc(2 * xa->size, sizeof *all);   /* x and u of every row */
    for (int n = 0; n < s.rows; n++)
        for (size_t j = 0; j < s.per; j++) {
            all[(s.first + n) * s.per + j] = s.x->data[n * s.per + j];
            all[xa->size + (s.first + n) * s.per + j] = s.u[n * s.per + j];
        }
    em_dist_sum(d, all, (int)(2 * xa->size));   /* each value comes from one process */
    for (size_t i = 0; i < xa->size; i++) xa->data[i] = all[i];
    em_tensor *ga = em_tensor_new(1, (int[]){k->C}, EM_REQUIRES_GRAD);
    em_tensor *ba = em_tensor_new(1, (int[]){k->C}, EM_REQUIRES_GRAD);
    memcpy(ga->data, s.g->data, (size_t)k->C * sizeof *ga->data);
    memcpy(ba->data, s.b->data, (size_t)k->C * sizeof *ba->data);
    em_tape *ta = em_tape_new(0);
    em_tensor *ya = em_batchnorm(ta, xa, BN_ARGS(ga, ba, NULL, NULL, 0.9, 1e-5, EM_BN_TRAIN));
    em_real *ua = malloc(xa->size * sizeof *ua);
    for (size_t i = 0; i < xa->size; i++) ua[i] = all[xa->size + i];
    em_backward_from(ta, ya, ua);
    double worst_ref = 0;
    for (size_t i = 0; i < y->size; i++) {
        size_t at = (size_t)s.first * s.per + i;
        worst_ref = fmax(worst_ref, fabs(y->data[i] - ya->data[at]));
        worst_ref = fmax(worst_ref, fabs(s.x->grad[i] - xa->grad[at]));
    }
    for (int c = 0; c < k->C; c++)
        worst_ref = fmax(worst_ref, fmax(fabs(dg[c] - ga->grad[c]), fabs(db[c] - ba->grad[c])));
    if (worst_ref > 1e-12 && bad++ < 5 && !k->broken) {
        fprintf(stderr, "%s: process %d differs from one BatchNorm over the whole batch by "
                "%.3g\n", k->name, d->rank, worst_ref);
    }

    int failed = em_dist_max(d, bad > 0);
    double w[2] = {worst, worst_ref};
    em_dist_sum(d, w, 2);   /* for the report: summed over processes, an upper bound */
    if (d->rank == 0)
        printf("%s %s: %d processes, %d rows; gradient vs finite differences within %.2g "
               "(rounding floor %.2g), vs one BatchNorm over the whole batch within %.2g%s\n",
               failed == k->broken ? "ok  " : "FAIL", k->name, P, s.total, w[0], floor, w[1],
               k->broken ? (failed ? " (rejected, as it must be)" : " (NOT rejected)") : "");
    failed = failed != k->broken;
    em_tape_free(tape);
    em_tape_free(ta);
    em_tensor_free(s.x);
    em_tensor_free(s.g);
    em_tensor_free(s.b);
    em_tensor_free(xa);
    em_tensor_free(ga);
    em_tensor_free(ba);
    free(s.u);
    free(ua);
    free(all);
    free(dg);
    return failed;
}

int main(int argc, char **argv) {
    em_dist d;
    em_error err;
    if (em_dist_init(&d, &argc, &argv, &err) != EM_OK) {
        fprintf(stderr, "test_mpi_bn: %s\n", err.msg);
        return 2;
    }
    if (d.size < 2) {
        fprintf(stderr, "test_mpi_bn: run me under mpirun -np 2 (or more)\n");
        em_dist_finalize(&d);
        return 2;
    }
    static const bn_case cases[] = {
        {"BatchNorm1d (N, 4), 3 + 4 rows", 2, 4, 1, 1, {3, 4, 4, 4}, false},
        {"BatchNorm1d (N, 3), one row per process", 2, 3, 1, 1, {1, 1, 1, 1}, false},
        {"BatchNorm2d (N, 3, 3, 2), 2 + 1 rows", 4, 3, 3, 2, {2, 1, 1, 1}, false},
        {"control: backward sums left unsynchronized", 2, 4, 1, 1, {3, 4, 4, 4}, true},
    };
    int failed = 0, n = (int)(sizeof cases / sizeof cases[0]);
    for (int i = 0; i < n; i++) failed += run_case(&d, &cases[i]);
    if (d.rank == 0) printf("%d passed, %d failed\n", n - failed, failed);
    em_dist_finalize(&d);
    return failed ? 1 : 0;
}

/* tests/test_bn_sync.c — SyncBatchNorm (em_batchnorm_sync, core/ops.h) without MPI: two
 * threads stand for two processes, each holding part of a batch, and their `sum` is an
 * exchange through a barrier. Against one BatchNorm over the whole batch: the same output
 * and running statistics, and the gradients the data-parallel trainer relies on —
 *   with the same upstream gradient, each part's dx equals the whole batch's dx rows and
 *   the parts' dgamma, dbeta add up to the whole batch's;
 *   with each part's loss a mean over its own rows (dy_r = P u_r), dx_r = P dx, and the
 *   parameter gradients averaged over the parts are the whole batch's (core/ops.h's note).
 * The same with Batch Renorm, whose r and d come from the global statistics. The gradient
 * of the synchronized op is itself checked by finite differences across real processes in
 * tests/mpi/test_mpi_bn.c. */
#include <pthread.h>
#include <string.h>

#include "helpers.h"

#define MAXC 64   /* the longest buffer a sum exchanges is 2C (C + 1 in the forward) */

/* The two "processes": each publishes its buffer, both add the two in the same order
 * (so both get the same bits, as MPI_Allreduce gives), then each writes its own back. */
typedef struct exchange {
    pthread_barrier_t published, read;
    const double *slot[2];
} exchange;

typedef struct member {
    exchange *ex;
    int id;
    int calls;
} member;

static void sum_pair(double *buf, int n, void *ctx) {
    member *m = ctx;
    exchange *ex = m->ex;
    cr_assert(n <= 2 * MAXC + 1);
    m->calls++;
    ex->slot[m->id] = buf;
    pthread_barrier_wait(&ex->published);
    double s[2 * MAXC + 1];
    for (int i = 0; i < n; i++) s[i] = ex->slot[0][i] + ex->slot[1][i];
    pthread_barrier_wait(&ex->read);   /* nobody overwrites a buffer the other still reads */
    memcpy(buf, s, (size_t)n * sizeof *buf);
}

/* One part of the batch: rows [lo, hi) of x and u, its own parameters' gradients and
 * running statistics, as a process would hold them. */
typedef struct part {
    member m;
    em_bn_mode mode;
    bool renorm;                  /* Batch Renorm (rmax 2, dmax 3) */
    double dy_scale;              /* P for the local-mean convention, else 1 */
    int ndim, shape[4];           /* this part's shape */
    const em_real *x, *u;         /* this part's rows */
    const em_real *gamma, *beta;  /* (C) shared values */
    em_real y[4096], dx[4096], dgamma[MAXC], dbeta[MAXC], rm[MAXC], rv[MAXC];
} part;

static void *run_part(void *arg) {
    part *p = arg;
    int C = p->shape[1];
    em_bn_sync sync = {sum_pair, &p->m};
    em_tape *tape = em_tape_new(0);
    em_tensor *x = em_tensor_new(p->ndim, p->shape, EM_REQUIRES_GRAD);
    em_tensor *g = em_tensor_new(1, (int[]){C}, EM_REQUIRES_GRAD);
    em_tensor *b = em_tensor_new(1, (int[]){C}, EM_REQUIRES_GRAD);
    memcpy(x->data, p->x, x->size * sizeof *x->data);
    memcpy(g->data, p->gamma, (size_t)C * sizeof *g->data);
    memcpy(b->data, p->beta, (size_t)C * sizeof *b->data);
    for (int c = 0; c < C; c++) {
        p->rm[c] = 0;
        p->rv[c] = 1;
    }
    em_bn_args a = *BN_SYNC(g, b, p->rm, p->rv, 0.9, 1e-5, p->mode, &sync);
    a.renorm = p->renorm, a.rmax = 2, a.dmax = 3;
    em_tensor *y = em_batchnorm(tape, x, &a);
    cr_assert_not_null(y);
    memcpy(p->y, y->data, y->size * sizeof *y->data);
    if (p->mode != EM_BN_EVAL) {
        em_real dy[4096];
        for (size_t i = 0; i < y->size; i++) dy[i] = (em_real)(p->dy_scale * p->u[i]);
        cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
        memcpy(p->dx, x->grad, x->size * sizeof *x->grad);
        memcpy(p->dgamma, g->grad, (size_t)C * sizeof *g->grad);
        memcpy(p->dbeta, b->grad, (size_t)C * sizeof *b->grad);
    }
    em_tensor_free(x);
    em_tensor_free(g);
    em_tensor_free(b);
    em_tape_free(tape);
    return NULL;
}

/* The batch (ndim, shape) split after row n0 between two threads, against one BatchNorm
 * over all of it; P = dy_scale (1: the same upstream gradient; 2: local means); renorm:
 * Batch Renorm on both sides (r and d from the global statistics). */
static void check_split_rn(int ndim, const int *shape, int n0, em_bn_mode mode,
                           double dy_scale, bool renorm, uint64_t seed) {
    em_rng rng;
    em_rng_seed(&rng, seed);
    int N = shape[0], C = shape[1];
    cr_assert(C <= MAXC);
    em_tensor *x = tensor_randn(&rng, ndim, shape, 3, 2, EM_REQUIRES_GRAD);
    em_tensor *g = tensor_randn(&rng, 1, (int[]){C}, 1, 0.5, EM_REQUIRES_GRAD);
    em_tensor *b = tensor_randn(&rng, 1, (int[]){C}, 0, 0.5, EM_REQUIRES_GRAD);
    em_tensor *u = tensor_randn(&rng, ndim, shape, 0, 1, 0);   /* non-uniform upstream */
    cr_assert(x->size <= 4096);
    em_real rm[MAXC], rv[MAXC];
    for (int c = 0; c < C; c++) {
        rm[c] = 0;
        rv[c] = 1;
    }
    /* the whole batch, one BatchNorm */
    em_tape *tape = em_tape_new(0);
    em_bn_args a = *BN_ARGS(g, b, rm, rv, 0.9, 1e-5, mode);
    a.renorm = renorm, a.rmax = 2, a.dmax = 3;
    em_tensor *y = em_batchnorm(tape, x, &a);
    cr_assert_not_null(y);
    if (mode != EM_BN_EVAL) cr_assert_eq(em_backward_from(tape, y, u->data), EM_OK);

    /* the same batch in two threads */
    exchange ex;
    pthread_barrier_init(&ex.published, NULL, 2);
    pthread_barrier_init(&ex.read, NULL, 2);
    size_t row = x->size / (size_t)N;
    static part parts[2];   /* large; one test at a time per process */
    pthread_t th[2];
    for (int k = 0; k < 2; k++) {
        part *p = &parts[k];
        memset(p, 0, sizeof *p);
        int lo = k ? n0 : 0, hi = k ? N : n0;
        p->m = (member){&ex, k, 0};
        p->mode = mode;
        p->renorm = renorm;
        p->dy_scale = dy_scale;
        p->ndim = ndim;
        memcpy(p->shape, shape, (size_t)ndim * sizeof *shape);
        p->shape[0] = hi - lo;
        p->x = x->data + lo * row;
        p->u = u->data + lo * row;
        p->gamma = g->data;
        p->beta = b->data;
        cr_assert_eq(pthread_create(&th[k], NULL, run_part, p), 0);
    }
    for (int k = 0; k < 2; k++) pthread_join(th[k], NULL);
    pthread_barrier_destroy(&ex.published);
    pthread_barrier_destroy(&ex.read);

    /* forward: 2 sums (mean and M, then the variance); backward: 1 (the two reductions) */
    int want_calls = mode == EM_BN_EVAL ? 0 : mode == EM_BN_TRAIN ? 3 : 2;
    em_real dg_sum[MAXC], db_sum[MAXC], want[4096];
    for (int k = 0; k < 2; k++) {
        part *p = &parts[k];
        size_t lo = k ? (size_t)n0 * row : 0, n = (k ? (size_t)(N - n0) : (size_t)n0) * row;
        cr_assert_eq(p->m.calls, want_calls, "part %d made %d sums, want %d", k, p->m.calls,
                     want_calls);
        assert_close_real(p->y, y->data + lo, n, TOL, "y (part vs whole batch)");
        assert_close_real(p->rm, rm, (size_t)C, TOL, "running_mean");
        assert_close_real(p->rv, rv, (size_t)C, TOL, "running_var");
        if (mode == EM_BN_EVAL) continue;
        for (size_t i = 0; i < n; i++) want[i] = (em_real)(dy_scale * x->grad[lo + i]);
        assert_close_real(p->dx, want, n, TOL, "dx (part vs P x whole batch)");
    }
    if (mode != EM_BN_EVAL) {
        /* the parameter gradients, averaged over the P parts as the trainer's allreduce
         * (with seeds 1/P) does */
        for (int c = 0; c < C; c++) {
            dg_sum[c] = (em_real)((parts[0].dgamma[c] + parts[1].dgamma[c]) / dy_scale);
            db_sum[c] = (em_real)((parts[0].dbeta[c] + parts[1].dbeta[c]) / dy_scale);
        }
        assert_close_real(dg_sum, g->grad, (size_t)C, TOL, "dgamma summed over the parts");
        assert_close_real(db_sum, b->grad, (size_t)C, TOL, "dbeta summed over the parts");
    }
    em_tape_free(tape);
    em_tensor_free(x);
    em_tensor_free(g);
    em_tensor_free(b);
    em_tensor_free(u);
}

static void check_split(int ndim, const int *shape, int n0, em_bn_mode mode, double dy_scale,
                        uint64_t seed) {
    check_split_rn(ndim, shape, n0, mode, dy_scale, false, seed);
}

Test(bn_sync, batchnorm1d_two_parts_equal_the_whole_batch) {
    check_split(2, (int[]){8, 5}, 4, EM_BN_TRAIN, 1, 1);
    check_split(2, (int[]){64, 7}, 32, EM_BN_TRAIN, 1, 2);
}

Test(bn_sync, batchnorm2d_two_parts_equal_the_whole_batch) {
    check_split(4, (int[]){4, 3, 5, 5}, 2, EM_BN_TRAIN, 1, 3);
    check_split(4, (int[]){6, 4, 4, 3}, 3, EM_BN_TRAIN, 1, 4);
}

Test(bn_sync, uneven_parts_and_one_row_per_part) {
    check_split(2, (int[]){5, 3}, 2, EM_BN_TRAIN, 1, 5);    /* 2 + 3 rows */
    check_split(4, (int[]){7, 2, 3, 3}, 3, EM_BN_TRAIN, 1, 6);
    /* one example per process: meaningless alone (one value per channel), fine together */
    check_split(2, (int[]){2, 4}, 1, EM_BN_TRAIN, 1, 7);
}

Test(bn_sync, local_mean_losses_scale_dx_by_P_and_averaging_restores_the_gradient) {
    check_split(2, (int[]){16, 6}, 8, EM_BN_TRAIN, 2, 8);
    check_split(4, (int[]){4, 3, 4, 4}, 2, EM_BN_TRAIN, 2, 9);
}

/* inputs of std ~2 and mean ~3 against running statistics (0, 1): r ~2 and d ~3, at and
 * around their limits 2 and 3, the same on every part */
Test(bn_sync, batch_renorm_two_parts_equal_the_whole_batch) {
    check_split_rn(2, (int[]){8, 5}, 4, EM_BN_TRAIN, 1, true, 14);
    check_split_rn(4, (int[]){4, 3, 5, 5}, 2, EM_BN_TRAIN, 2, true, 15);
    check_split_rn(4, (int[]){6, 4, 4, 3}, 3, EM_BN_FROZEN_STATS, 1, true, 16);
}

Test(bn_sync, frozen_statistics_sync_the_forward_only) {
    check_split(2, (int[]){8, 5}, 4, EM_BN_FROZEN_STATS, 1, 10);
    check_split(4, (int[]){4, 3, 2, 2}, 2, EM_BN_FROZEN_STATS, 1, 11);
}

Test(bn_sync, evaluation_does_not_sync) {
    /* running statistics (0, 1) on both sides; no sum may be called: a process in
     * evaluation must never wait for the others */
    check_split(2, (int[]){6, 3}, 3, EM_BN_EVAL, 1, 12);
}

/* Without sync, the two parts normalize with their own statistics: a different output
 * (ghost batches) — the check above can tell. */
Test(bn_sync, without_sync_the_parts_differ_from_the_whole_batch) {
    em_rng rng;
    em_rng_seed(&rng, 13);
    em_tensor *x = tensor_randn(&rng, 2, (int[]){8, 3}, 3, 2, 0);
    em_tape *tape = em_tape_new(0);
    em_tensor *whole = em_batchnorm(tape, x, BN_ARGS(NULL, NULL, NULL, NULL, 0.9, 1e-5, EM_BN_TRAIN));
    em_tensor half;
    em_tensor_wrap(&half, x->data, NULL, 2, (int[]){4, 3});
    em_tensor *own = em_batchnorm(tape, &half, BN_ARGS(NULL, NULL, NULL, NULL, 0.9, 1e-5, EM_BN_TRAIN));
    double diff = 0;
    for (size_t i = 0; i < own->size; i++) diff = fmax(diff, fabs((double)own->data[i] - whole->data[i]));
    cr_assert_gt(diff, 1e-2, "half-batch statistics should differ from the whole batch's");
    em_tape_free(tape);
    em_tensor_free(x);
}

/* ---- one process: a sync that changes nothing changes nothing -------------------------
 * With a sync over one process (its sum leaves the buffer as it is) the synchronized op
 * takes its own code path (the sums exchanged between the passes, the backward's sums
 * copied before the exchange) and must give the unsynchronized op's bits: y, the running
 * statistics and all three gradients, in training and with frozen statistics, with and
 * without the fused ReLU, into fresh gradient buffers and into ones that already hold
 * something. */
static void sum_alone(double *buf, int n, void *ctx) {
    (void)buf, (void)n;
    ++*(int *)ctx;
}

typedef struct one_run {
    em_real y[4096], dx[4096], dg[MAXC], db[MAXC], rm[MAXC], rv[MAXC];
} one_run;

static void run_one(one_run *o, bool synced, bool relu, bool chained, em_bn_mode mode,
                    const em_tensor *x0, const em_tensor *g0, const em_tensor *b0,
                    const em_tensor *u) {
    int calls = 0, C = x0->shape[1];
    em_bn_sync sync = {sum_alone, &calls};
    em_tape *tape = em_tape_new(0);
    em_tensor *x = em_tensor_new(x0->ndim, x0->shape, EM_REQUIRES_GRAD);
    em_tensor *g = em_tensor_new(1, (int[]){C}, EM_REQUIRES_GRAD);
    em_tensor *b = em_tensor_new(1, (int[]){C}, EM_REQUIRES_GRAD);
    memcpy(x->data, x0->data, x->size * sizeof *x->data);
    memcpy(g->data, g0->data, (size_t)C * sizeof *g->data);
    memcpy(b->data, b0->data, (size_t)C * sizeof *b->data);
    for (int c = 0; c < C; c++) o->rm[c] = 0.5f, o->rv[c] = 2;
    /* chained: x passes through a scale first, so BatchNorm's dx lands in a buffer the
     * tape made fresh; else it adds into x->grad, which holds u already */
    em_tensor *in = x;
    if (chained) in = em_mul_scalar(tape, x, 1.5f);
    else memcpy(x->grad, u->data, x->size * sizeof *x->grad);
    const em_bn_args *a = BN_SYNC(g, b, o->rm, o->rv, 0.9, 1e-5, mode, synced ? &sync : NULL);
    em_tensor *y = relu ? em_fast_batchnorm_relu(tape, in, a) : em_batchnorm(tape, in, a);
    cr_assert_not_null(y);
    cr_assert(!synced || calls > 0, "the sync was called");
    cr_assert_eq(em_backward_from(tape, y, u->data), EM_OK);
    memcpy(o->y, y->data, y->size * sizeof *y->data);
    memcpy(o->dx, x->grad, x->size * sizeof *x->grad);
    memcpy(o->dg, g->grad, (size_t)C * sizeof *g->grad);
    memcpy(o->db, b->grad, (size_t)C * sizeof *b->grad);
    em_tensor_free(x); em_tensor_free(g); em_tensor_free(b);
    em_tape_free(tape);
}

Test(bn_sync, one_process_sync_equals_no_sync_bit_for_bit) {
    const int shapes[][4] = {{5, 3, 4, 5}, {2, 4, 8, 8}, {3, 2, 1, 7}};  /* S = 20, 64, 7 */
    const em_bn_mode modes[] = {EM_BN_TRAIN, EM_BN_FROZEN_STATS};
    static one_run a, b;
    for (int k = 0; k < 3; k++)
        for (int m = 0; m < 2; m++)
            for (int v = 0; v < 4; v++) {
                bool relu = v & 1, chained = v & 2;
                em_rng rng;
                em_rng_seed(&rng, 300 + (uint64_t)(k * 8 + m * 4 + v));
                int C = shapes[k][1];
                em_tensor *x = tensor_randn(&rng, 4, shapes[k], 3, 2, 0);
                em_tensor *g = tensor_randn(&rng, 1, (int[]){C}, 1, 0.5, 0);
                em_tensor *bt = tensor_randn(&rng, 1, (int[]){C}, 0, 0.5, 0);
                em_tensor *u = tensor_randn(&rng, 4, shapes[k], 0, 1, 0);
                run_one(&a, true, relu, chained, modes[m], x, g, bt, u);
                run_one(&b, false, relu, chained, modes[m], x, g, bt, u);
                size_t n = x->size;
                cr_assert(memcmp(a.y, b.y, n * sizeof *a.y) == 0, "y (case %d %d %d)", k, m, v);
                cr_assert(memcmp(a.dx, b.dx, n * sizeof *a.dx) == 0, "dx (case %d %d %d)", k, m, v);
                cr_assert(memcmp(a.dg, b.dg, C * sizeof *a.dg) == 0, "dgamma (case %d %d %d)", k, m, v);
                cr_assert(memcmp(a.db, b.db, C * sizeof *a.db) == 0, "dbeta (case %d %d %d)", k, m, v);
                cr_assert(memcmp(a.rm, b.rm, C * sizeof *a.rm) == 0, "running mean (case %d %d %d)", k, m, v);
                cr_assert(memcmp(a.rv, b.rv, C * sizeof *a.rv) == 0, "running var (case %d %d %d)", k, m, v);
                em_tensor_free(x); em_tensor_free(g); em_tensor_free(bt); em_tensor_free(u);
            }
}

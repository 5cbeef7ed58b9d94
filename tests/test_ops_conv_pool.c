/* tests/test_ops_conv_pool.c — em_fast_conv2d_relu_pool: convolution, ReLU and a 2x2 max-pool
 * as one op. Its result and gradients must equal the three ops' (em_maxpool2d of em_relu
 * of em_conv2d) bit for bit, on shapes that take the fused path and on shapes it hands
 * back to the three ops, and its backward must be its forward's derivative. */
#include "helpers.h"
#include "core/parallel.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* x (N, C, H, W), w (O, C, kh, kw), stride, pad, bias or not */
typedef struct cp_case {
    int N, C, H, W, O, kh, kw, s, pad;
    bool bias;
} cp_case;

static int out_size(int len, int k, int s, int pad) { return (len + 2 * pad - k) / s + 1; }

/* The convolution outputs (Ho x Wo): 8x6 (rows shorter than the pool kernels' 8-lane
 * chunks: their plain loops), 12x10 (a chunk overlapping the one before it), 6x6 from a
 * 2x2 kernel without padding (im2col's row loops), 8x8 at stride 2, 5x5 and 7x6 (odd: the
 * op is the three ops), and two large enough for the images to be split across threads:
 * mnist-cnn's two layers, 28x28 -> 14x14 and 14x14 -> 7x7 (the Winograd path, images in
 * groups of up to 4: the backward's blocks of 2 and 3 images are one group each). */
static const cp_case cases[] = {
    {3, 2, 8, 6, 4, 3, 3, 1, 1, true},
    {2, 3, 12, 10, 5, 3, 3, 1, 1, false},
    {2, 1, 7, 7, 3, 2, 2, 1, 0, true},
    {2, 2, 16, 16, 3, 3, 3, 2, 1, true},
    {2, 2, 9, 9, 3, 3, 3, 2, 1, true},
    {2, 2, 7, 6, 3, 3, 3, 1, 1, false},
    {5, 1, 28, 28, 16, 3, 3, 1, 1, true},
    {21, 16, 14, 14, 32, 3, 3, 1, 1, false},
};
#define N_CASES (sizeof cases / sizeof cases[0])
#define FIRST_THREADED 6

static bool fused_path(const cp_case *c) {
    return out_size(c->H, c->kh, c->s, c->pad) % 2 == 0 &&
           out_size(c->W, c->kw, c->s, c->pad) % 2 == 0;
}

static void case_name(char *buf, size_t len, const cp_case *c) {
    snprintf(buf, len, "x(%d,%d,%d,%d) w(%d,%d,%d,%d) s=%d pad=%d %s", c->N, c->C, c->H,
             c->W, c->O, c->C, c->kh, c->kw, c->s, c->pad, c->bias ? "bias" : "no bias");
}

static em_real *copy_buf(const em_real *src, size_t n) {
    em_real *p = malloc(n * sizeof *p);
    cr_assert_not_null(p);
    memcpy(p, src, n * sizeof *p);
    return p;
}

/* One run, fused or composed, from the same x, w, b, dy and gradients already held
 * (backward adds): y and the three gradients. chained: x is scaled by 1.5 first, so the
 * convolution's dx goes to a buffer the tape made fresh. */
typedef struct cprun {
    em_real *y, *dx, *dw, *db;
    size_t ny;
    int nodes;
} cprun;

static void cprun_once(cprun *out, bool fused, bool chained, const cp_case *c,
                       const em_real *xv, const em_real *wv, const em_real *bv,
                       const em_real *g0) {
    em_tape *tape = tape_on(em_kernels_fast());  /* the fused ops are the fast tier's */
    em_tensor *x = tensor_of(4, (int[]){c->N, c->C, c->H, c->W}, NULL, EM_REQUIRES_GRAD);
    em_tensor *w = tensor_of(4, (int[]){c->O, c->C, c->kh, c->kw}, NULL, EM_REQUIRES_GRAD);
    em_tensor *b = tensor_of(1, (int[]){c->O}, NULL, EM_REQUIRES_GRAD);
    memcpy(x->data, xv, x->size * sizeof *xv);
    memcpy(w->data, wv, w->size * sizeof *wv);
    memcpy(b->data, bv, b->size * sizeof *bv);
    memcpy(x->grad, g0, x->size * sizeof *g0);
    memcpy(w->grad, g0, w->size * sizeof *g0);
    memcpy(b->grad, g0, b->size * sizeof *g0);
    em_tensor *bb = c->bias ? b : NULL, *in = chained ? em_mul_scalar(tape, x, 1.5f) : x;
    em_tensor *y = fused ? em_fast_conv2d_relu_pool(tape, in, w, bb, c->s, c->pad)
                         : em_maxpool2d(tape, em_relu(tape, em_conv2d(tape, in, w, bb, c->s,
                                                                      c->pad)), 2, 2);
    cr_assert_not_null(y);
    assert_last_op_fused(tape, fused_path(c) ? "conv2d_relu_pool" : "maxpool2d",
                         "maxpool2d", fused);
    cr_assert_eq(y->shape[2], out_size(c->H, c->kh, c->s, c->pad) / 2);
    cr_assert_eq(y->shape[3], out_size(c->W, c->kw, c->s, c->pad) / 2);
    out->nodes = tape->n_nodes;
    out->ny = y->size;
    em_real *dy = malloc(y->size * sizeof *dy);
    cr_assert_not_null(dy);
    for (size_t i = 0; i < y->size; i++) dy[i] = (em_real)(((i * 7919) % 13) - 6) / 4;
    cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
    out->y = copy_buf(y->data, y->size);
    out->dx = copy_buf(x->grad, x->size);
    out->dw = copy_buf(w->grad, w->size);
    out->db = copy_buf(b->grad, b->size);
    free(dy);
    em_tensor_free(x); em_tensor_free(w); em_tensor_free(b);
    em_tape_free(tape);
}

static void cprun_free(cprun *r) { free(r->y); free(r->dx); free(r->dw); free(r->db); }

/* Every case, dx added to or fresh, with a NaN in x (it wins its windows and passes
 * through; no gradient flows through it) and with images of zeros (every window a tie of
 * zeros: the first one wins, and the ReLU's kink passes no gradient) in a small case and
 * in the first threaded one. */
static void check_equal(void) {
    em_rng rng;
    em_rng_seed(&rng, 31);
    for (size_t k = 0; k < N_CASES; k++) {
        const cp_case *c = &cases[k];
        char name[96];
        case_name(name, sizeof name, c);
        size_t nx = (size_t)c->N * c->C * c->H * c->W, nw = (size_t)c->O * c->C * c->kh * c->kw;
        em_real *xv = malloc(nx * sizeof *xv), *wv = malloc(nw * sizeof *wv);
        em_real *g0 = malloc((nx + nw + c->O) * sizeof *g0), bv[64];
        cr_assert(xv && wv && g0 && c->O <= 64);
        for (size_t i = 0; i < nx; i++) xv[i] = (em_real)em_rng_normal(&rng, 0, 1);
        for (size_t i = 0; i < nw; i++) wv[i] = (em_real)em_rng_normal(&rng, 0, 0.5);
        for (int o = 0; o < c->O; o++) bv[o] = (em_real)em_rng_normal(&rng, 0, 0.5);
        for (size_t i = 0; i < nx + nw + c->O; i++) g0[i] = (em_real)em_rng_normal(&rng, 0, 1);
        bool nan_case = k == 0 || k == FIRST_THREADED;
        if (nan_case) xv[nx / 2 + 3] = NAN;
        if (k == 1 || k == FIRST_THREADED)  /* the first image all zeros */
            for (size_t i = 0; i < nx / c->N; i++) xv[i] = 0;
        cprun a, f;
        cprun_once(&a, false, k % 2, c, xv, wv, bv, g0);
        cprun_once(&f, true, k % 2, c, xv, wv, bv, g0);
        cr_assert_eq(f.nodes, a.nodes - (fused_path(c) ? 2 : 1), "%s: %d nodes, composed %d",
                     name, f.nodes, a.nodes);
        size_t zeros = 0, nans = 0;
        for (size_t i = 0; i < f.ny; i++) zeros += f.y[i] == 0, nans += f.y[i] != f.y[i];
        cr_assert(zeros > 0 && zeros + nans < f.ny, "%s: the ReLU cuts some and keeps others",
                  name);
        cr_assert(!nan_case || nans > 0, "%s: the NaN passes through", name);
        cr_assert(memcmp(a.y, f.y, f.ny * sizeof *a.y) == 0, "%s: y differs", name);
        cr_assert(memcmp(a.dx, f.dx, nx * sizeof *a.dx) == 0, "%s: dx differs", name);
        cr_assert(memcmp(a.dw, f.dw, nw * sizeof *a.dw) == 0, "%s: dw differs", name);
        cr_assert(memcmp(a.db, f.db, c->O * sizeof *a.db) == 0, "%s: db differs", name);
        cprun_free(&a); cprun_free(&f);
        free(xv); free(wv); free(g0);
    }
}

Test(conv2d_relu_pool, equals_maxpool_of_relu_of_conv2d_exactly) {
    check_equal();
    em_set_threads(2);
    check_equal();
    em_set_threads(1);
}

/* The same on one threaded case with 1 and with 2 threads: the result does not depend on
 * how the images were shared out. */
Test(conv2d_relu_pool, same_result_on_one_and_two_threads) {
    const cp_case *c = &cases[FIRST_THREADED + 1];
    em_rng rng;
    em_rng_seed(&rng, 32);
    size_t nx = (size_t)c->N * c->C * c->H * c->W, nw = (size_t)c->O * c->C * c->kh * c->kw;
    em_real *xv = malloc(nx * sizeof *xv), *wv = malloc(nw * sizeof *wv);
    em_real *g0 = calloc(nx + nw + c->O, sizeof *g0), bv[64] = {0};
    cr_assert(xv && wv && g0);
    for (size_t i = 0; i < nx; i++) xv[i] = (em_real)em_rng_normal(&rng, 0, 1);
    for (size_t i = 0; i < nw; i++) wv[i] = (em_real)em_rng_normal(&rng, 0, 0.5);
    cprun one, two;
    cprun_once(&one, true, false, c, xv, wv, bv, g0);
    em_set_threads(2);
    cprun_once(&two, true, false, c, xv, wv, bv, g0);
    em_set_threads(1);
    cr_assert(memcmp(one.y, two.y, one.ny * sizeof *one.y) == 0, "y differs");
    cr_assert(memcmp(one.dx, two.dx, nx * sizeof *one.dx) == 0, "dx differs");
    cr_assert(memcmp(one.dw, two.dw, nw * sizeof *one.dw) == 0, "dw differs");
    cprun_free(&one); cprun_free(&two);
    free(xv); free(wv); free(g0);
}

static em_tensor *conv_relu_pool_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    const cp_case *c = ctx;
    return em_fast_conv2d_relu_pool(tape, in[0], in[1], c->bias ? in[2] : NULL, c->s, c->pad);
}

/* v: the convolution's output (N, O, Ho, Wo). Finite differences of step ~1e-3 (float)
 * must neither cross the ReLU's kink nor hand a window to another winner: every value at
 * least `gap` from 0, and in every window the largest at least `gap` above the next. */
static bool clear_of_kinks(const em_tensor *v, double gap) {
    int Ho = v->shape[2], Wo = v->shape[3];
    size_t planes = (size_t)v->shape[0] * v->shape[1], pos = 0;
    for (size_t i = 0; i < v->size; i++) {
        if (fabs((double)v->data[i]) < gap) return false;
        pos += v->data[i] > 0;
    }
    if (pos == 0 || pos == v->size) return false;  /* the ReLU must both cut and keep */
    for (size_t p = 0; p < planes; p++)
        for (int i = 0; i + 1 < Ho; i += 2)
            for (int j = 0; j + 1 < Wo; j += 2) {
                const em_real *r = v->data + (p * Ho + i) * Wo + j;
                double a[4] = {r[0], r[1], r[Wo], r[Wo + 1]}, m1 = -1e300, m2 = -1e300;
                for (int t = 0; t < 4; t++) {
                    if (a[t] > m1) m2 = m1, m1 = a[t];
                    else if (a[t] > m2) m2 = a[t];
                }
                if (m1 > 0 && m1 - m2 < gap) return false;
            }
    return true;
}

/* its backward is the derivative of its forward (the first seed from 300 up whose
 * convolution output is clear of every kink), on a fused shape and a stride-2 one */
Test(conv2d_relu_pool, gradcheck) {
    const cp_case cs[] = {{2, 2, 4, 6, 2, 3, 3, 1, 1, true}, {1, 2, 8, 8, 2, 3, 3, 2, 1, false}};
    for (int k = 0; k < 2; k++) {
        const cp_case *c = &cs[k];
        cr_assert(fused_path(c));
        for (uint64_t seed = 300;; seed++) {
            cr_assert(seed < 5300, "no input clear of the kinks in 5000 seeds");
            em_rng rng;
            em_rng_seed(&rng, seed);
            em_tensor *x = tensor_randn(&rng, 4, (int[]){c->N, c->C, c->H, c->W}, 0, 1,
                                        EM_REQUIRES_GRAD);
            em_tensor *w = tensor_randn(&rng, 4, (int[]){c->O, c->C, c->kh, c->kw}, 0, 1,
                                        EM_REQUIRES_GRAD);
            em_tensor *b = tensor_randn(&rng, 1, (int[]){c->O}, 0, 1, EM_REQUIRES_GRAD);
            em_tape *tape = em_tape_new(0);
            em_tensor *v = em_conv2d(tape, x, w, c->bias ? b : NULL, c->s, c->pad);
            bool clear = clear_of_kinks(v, 0.05);
            em_tape_free(tape);
            char what[128];
            case_name(what, sizeof what, c);
            if (clear)
                assert_gradcheck(conv_relu_pool_fn, (void *)c, c->bias ? 3 : 2,
                                 (em_tensor *[]){x, w, b}, what);
            em_tensor_free(x); em_tensor_free(w); em_tensor_free(b);
            if (clear) break;
        }
    }
}

/* a wrong shape aborts, as em_conv2d's does */
Test(conv2d_relu_pool, channel_mismatch_aborts, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(4, (int[]){1, 2, 6, 6}, NULL, 0);
    em_tensor *w = tensor_of(4, (int[]){1, 3, 3, 3}, NULL, 0);
    em_fast_conv2d_relu_pool(tape, x, w, NULL, 1, 1);
}

/* tests/test_ops_conv.c — conv2d: known values, im2col path against the direct reference
 * (forward and all three gradients), finite differences, bad shapes. */
#include "helpers.h"
#include "core/fast/winograd.h"
#include "core/parallel.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One convolution problem: x (N, C, H, W), w (O, C, kh, kw), stride, pad, bias or not. */
typedef struct conv_case {
    int N, C, H, W, O, kh, kw, s, pad;
    bool bias;
} conv_case;

static int out_size(int len, int k, int s, int pad) { return (len + 2 * pad - k) / s + 1; }

/* Shapes that exercise every edge of im2col/col2im: odd sizes, stride 1/2/3, padding
 * 0/1/2/3 (3 > kernel: whole rows of padding), 1x1 kernels, Cin = 1, non-square kernels,
 * a kernel larger than the unpadded image, with and without bias. The stride-1 shapes
 * with Wo == W (3x3 pad 1, 1x1 pad 0, 2x3 pad 1, 3x3 on a 2x2 image) take im2col and
 * col2im's flat "same convolution" shortcut, the others the row-by-row loops. */
static const conv_case cases[] = {
    {3, 2, 7, 5, 4, 3, 3, 1, 1, true},
    {3, 2, 7, 5, 4, 3, 3, 2, 0, false},
    {3, 2, 7, 5, 4, 3, 3, 2, 1, true},
    {2, 3, 6, 6, 5, 3, 3, 2, 1, false},
    {2, 1, 5, 5, 3, 3, 3, 1, 2, true},
    {2, 1, 6, 5, 2, 3, 3, 2, 2, false},
    {2, 4, 5, 6, 3, 1, 1, 1, 0, true},
    {2, 4, 5, 6, 3, 1, 1, 2, 0, false},
    {2, 3, 4, 4, 2, 1, 1, 1, 1, true},
    {1, 1, 4, 4, 1, 2, 2, 2, 0, true},
    {2, 2, 5, 7, 3, 2, 3, 1, 1, true},
    {2, 2, 7, 5, 3, 3, 3, 3, 1, true},
    {1, 2, 3, 3, 2, 3, 3, 1, 2, false},
    {1, 1, 2, 2, 1, 3, 3, 1, 1, true},
    {1, 1, 3, 3, 2, 2, 2, 1, 3, true},
    {2, 3, 8, 8, 4, 5, 5, 2, 2, true},
    /* large enough that the images are split across threads (core/ops/conv.c) */
    {7, 16, 14, 12, 32, 3, 3, 1, 1, true},
    {5, 3, 17, 15, 8, 3, 3, 2, 1, false},
    /* the Winograd path (16+ channels in and out, 16 x 16 or more, or 14 or 8 wide):
     * O != C (the backward filters are transposed); a width of 9 tiles (one tile at a
     * time; blocks of 7 tile rows, then 1) and of 16 (8 at a time, twice; blocks of 4, 4,
     * 2); mnist-cnn's conv2, 14 x 14: rows of 7 tiles (one vector and its spare lane),
     * images in groups of 4 (f64: 2; forward: 9 groups of 4, then 1; backward: blocks of
     * 4 or 5 images, so groups of 4 and of 4 + 1); an 8 x 8 image, rows of 4 tiles, images
     * in groups of 12 (f64: 10; forward 12, 12, 12, 4; backward: blocks of 5) */
    {2, 32, 16, 18, 48, 3, 3, 1, 1, false},
    {3, 48, 20, 32, 32, 3, 3, 1, 1, true},
    {37, 16, 14, 14, 32, 3, 3, 1, 1, true},
    {40, 16, 8, 8, 24, 3, 3, 1, 1, true},
    /* F(4x4, 3x3) (core/fast/winograd4.c) takes x(3,48,20,32) above and this one, 16 wide:
     * two tile rows a vector */
    {2, 24, 16, 16, 16, 3, 3, 1, 1, false},
};
#define N_CASES (sizeof cases / sizeof cases[0])
/* the last seven cases are too large for finite differences (one forward per input) */
#define N_SMALL_CASES (N_CASES - 7)

static void case_name(char *buf, size_t len, const conv_case *c) {
    snprintf(buf, len, "x(%d,%d,%d,%d) w(%d,%d,%d,%d) s=%d pad=%d %s", c->N, c->C, c->H,
             c->W, c->O, c->C, c->kh, c->kw, c->s, c->pad, c->bias ? "bias" : "no bias");
}

/* ---- known values ------------------------------------------------------------------------
 * x = [[1 2 3], [4 5 6], [7 8 9]], w = [[1 2], [3 4]], one image, one channel. */

static const float X33[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
static const float W22[4] = {1, 2, 3, 4};

static em_tensor *known_conv(em_tape *tape, em_tensor *x, em_tensor *w, em_tensor *b, int s,
                             int pad, int want_h) {
    em_tensor *y = em_conv2d(tape, x, w, b, s, pad);
    cr_assert_not_null(y);
    cr_assert_eq(y->ndim, 4);
    cr_assert(y->shape[0] == 1 && y->shape[1] == 1, "y (1, 1, ., .)");
    cr_assert(y->shape[2] == want_h && y->shape[3] == want_h, "s=%d pad=%d: Ho %d, want %d",
              s, pad, y->shape[2], want_h);
    return y;
}

Test(conv2d, forward_known_values) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(4, (int[]){1, 1, 3, 3}, X33, 0);
    em_tensor *w = tensor_of(4, (int[]){1, 1, 2, 2}, W22, 0);
    em_tensor *b = tensor_of(1, (int[]){1}, (float[]){10}, 0);

    /* pad 0, stride 1: y[i][j] = 1 x[i][j] + 2 x[i][j+1] + 3 x[i+1][j] + 4 x[i+1][j+1] */
    em_tensor *y = known_conv(tape, x, w, NULL, 1, 0, 2);
    assert_close(y->data, (float[]){37, 47, 67, 77}, 4, TOL, "pad 0");
    y = known_conv(tape, x, w, b, 1, 0, 2);
    assert_close(y->data, (float[]){47, 57, 77, 87}, 4, TOL, "pad 0, bias 10");

    /* pad 1, stride 1: a 4x4 output; corners see one tap, edges two */
    y = known_conv(tape, x, w, NULL, 1, 1, 4);
    assert_close(y->data,
                 (float[]){4, 11, 18, 9, 18, 37, 47, 21, 36, 67, 77, 33, 14, 23, 26, 9}, 16,
                 TOL, "pad 1");
    y = known_conv(tape, x, w, b, 1, 1, 4);
    assert_close(y->data,
                 (float[]){14, 21, 28, 19, 28, 47, 57, 31, 46, 77, 87, 43, 24, 33, 36, 19}, 16,
                 TOL, "pad 1, bias 10");

    /* pad 1, stride 2: every other output of the pad-1 result */
    y = known_conv(tape, x, w, NULL, 2, 1, 2);
    assert_close(y->data, (float[]){4, 18, 36, 77}, 4, TOL, "pad 1 stride 2");
    y = known_conv(tape, x, w, b, 2, 1, 2);
    assert_close(y->data, (float[]){14, 28, 46, 87}, 4, TOL, "pad 1 stride 2, bias 10");

    /* pad 0, stride 2: (3 - 2) / 2 + 1 = 1 output, the top-left window */
    y = known_conv(tape, x, w, b, 2, 0, 1);
    assert_close(y->data, (float[]){47}, 1, TOL, "pad 0 stride 2, bias 10");

    em_tensor_free(x); em_tensor_free(w); em_tensor_free(b);
    em_tape_free(tape);
}

/* Two channels in, two filters out: y[o] = sum_c w[o,c] * x[c] with 1x1 kernels. */
Test(conv2d, forward_known_values_channels) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(4, (int[]){2, 2, 1, 2}, (float[]){1, 2, 3, 4, 5, 6, 7, 8}, 0);
    em_tensor *w = tensor_of(4, (int[]){2, 2, 1, 1}, (float[]){1, 10, -1, 1}, 0);
    em_tensor *b = tensor_of(1, (int[]){2}, (float[]){0.5f, -0.5f}, 0);
    em_tensor *y = em_conv2d(tape, x, w, b, 1, 0);
    /* image 0: x[0] = (1 2), x[1] = (3 4) -> o0 = (31 42) + .5, o1 = (2 2) - .5 */
    /* image 1: x[0] = (5 6), x[1] = (7 8) -> o0 = (75 86) + .5, o1 = (2 2) - .5 */
    assert_close(y->data, (float[]){31.5f, 42.5f, 1.5f, 1.5f, 75.5f, 86.5f, 1.5f, 1.5f}, 8,
                 TOL, "y");
    em_tensor_free(x); em_tensor_free(w); em_tensor_free(b);
    em_tape_free(tape);
}

/* dy = 1 on the 2x2 output of the 3x3 (*) 2x2 problem:
 *   dw[p][q] = sum of the 2x2 block of x at (p, q),  dx = how much w covers each pixel,
 *   db = number of outputs. */
Test(conv2d, backward_known_values) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(4, (int[]){1, 1, 3, 3}, X33, EM_REQUIRES_GRAD);
    em_tensor *w = tensor_of(4, (int[]){1, 1, 2, 2}, W22, EM_REQUIRES_GRAD);
    em_tensor *b = tensor_of(1, (int[]){1}, (float[]){10}, EM_REQUIRES_GRAD);
    em_tensor *y = em_conv2d(tape, x, w, b, 1, 0);
    cr_assert_not_null(y->node);
    cr_assert_eq(y->node->op, EM_OP_CONV2D);
    em_real ones[4] = {1, 1, 1, 1};
    cr_assert_eq(em_backward_from(tape, y, ones), EM_OK);
    assert_close(w->grad, (float[]){12, 16, 24, 28}, 4, TOL, "dw");
    assert_close(x->grad, (float[]){1, 3, 2, 4, 10, 6, 3, 7, 4}, 9, TOL, "dx");
    assert_close(b->grad, (float[]){4}, 1, TOL, "db");
    em_tensor_free(x); em_tensor_free(w); em_tensor_free(b);
    em_tape_free(tape);
}

/* ---- im2col + GEMM against the direct reference -------------------------------------- */

static em_real *copy_buf(const em_real *src, size_t n) {
    em_real *p = malloc(n * sizeof *p);
    cr_assert_not_null(p);
    memcpy(p, src, n * sizeof *p);
    return p;
}

/* tolerance for sums of `terms` products of O(1) numbers */
static double sum_tol(int terms) {
    return sizeof(em_real) == 8 ? 1e-12 * sqrt((double)terms) : 2e-6 * sqrt((double)terms);
}

/* The fast tier's F(4x4, 3x3) (core/fast/winograd4.c: 3x3, stride 1, pad 1, 16+ channels
 * in and out, a width of 32, 64, ... and a height of 4, 8, ..., or 16 wide and 8, 16, ...
 * high) rounds more than a sum of products: its transforms multiply by up to 8 and add six terms, so a transformed value
 * is up to about 100 times the size of one input, and the rounding of the 36 products
 * with it. Its y, dx and dW get WINO4_TOL times the bound of a plain sum (measured on
 * x(3,48,20,32): 8 to 10 times for y and dx, 4 to 5 for dW). */
#define WINO4_TOL 16.0
static double path_tol(const conv_case *c) {
    bool wino4 = c->kh == 3 && c->kw == 3 && c->s == 1 && c->pad == 1 && c->C >= 16 &&
                 c->O >= 16 && em_wino4_applies(c->H, c->W);
    return wino4 ? WINO4_TOL : 1.0;
}

static void check_against_reference(void);

Test(conv2d, im2col_equals_reference_forward_and_gradients) { check_against_reference(); }

/* the same with the images split across 2 and 3 threads (an odd split too) */
Test(conv2d, threaded_equals_reference_forward_and_gradients) {
    for (int nt = 2; nt <= 3; nt++) {
        em_set_threads(nt);
        check_against_reference();
    }
    em_set_threads(1);
}

static void check_against_reference(void) {
    em_rng rng;
    em_rng_seed(&rng, 11);
    for (size_t k = 0; k < N_CASES; k++) {
        const conv_case *c = &cases[k];
        char what[128], name[96];
        case_name(name, sizeof name, c);
        int Ho = out_size(c->H, c->kh, c->s, c->pad), Wo = out_size(c->W, c->kw, c->s, c->pad);
        int K = c->C * c->kh * c->kw, P = c->N * Ho * Wo;
        em_tape *tape = em_tape_new(0);
        em_tensor *x = tensor_randn(&rng, 4, (int[]){c->N, c->C, c->H, c->W}, 0, 1,
                                    EM_REQUIRES_GRAD);
        em_tensor *w = tensor_randn(&rng, 4, (int[]){c->O, c->C, c->kh, c->kw}, 0, 1,
                                    EM_REQUIRES_GRAD);
        em_tensor *b = tensor_randn(&rng, 1, (int[]){c->O}, 0, 1, EM_REQUIRES_GRAD);
        em_tensor *bb = c->bias ? b : NULL;
        /* gradients that already hold something: backward must add, not overwrite */
        for (size_t i = 0; i < x->size; i++) x->grad[i] = (em_real)em_rng_normal(&rng, 0, 1);
        for (size_t i = 0; i < w->size; i++) w->grad[i] = (em_real)em_rng_normal(&rng, 0, 1);
        for (size_t i = 0; i < b->size; i++) b->grad[i] = (em_real)em_rng_normal(&rng, 0, 1);
        em_real *rdx = copy_buf(x->grad, x->size), *rdw = copy_buf(w->grad, w->size);
        em_real *rdb = copy_buf(b->grad, b->size);

        em_tensor *y = em_conv2d(tape, x, w, bb, c->s, c->pad);
        cr_assert_not_null(y);
        cr_assert(y->shape[0] == c->N && y->shape[1] == c->O && y->shape[2] == Ho &&
                  y->shape[3] == Wo, "%s: output shape", name);
        em_real *ry = malloc(y->size * sizeof *ry);
        cr_assert_not_null(ry);
        em_conv2d_direct_forward(ry, x->data, w->data, bb ? b->data : NULL, c->N, c->C, c->H,
                              c->W, c->O, c->kh, c->kw, c->s, c->pad);
        snprintf(what, sizeof what, "%s: y", name);
        assert_close_real(y->data, ry, y->size, path_tol(c) * sum_tol(K), what);

        em_real *dy = malloc(y->size * sizeof *dy);
        cr_assert_not_null(dy);
        for (size_t i = 0; i < y->size; i++) dy[i] = (em_real)em_rng_normal(&rng, 0, 1);
        cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
        em_conv2d_direct_backward(rdx, rdw, bb ? rdb : NULL, dy, x->data, w->data, c->N, c->C,
                               c->H, c->W, c->O, c->kh, c->kw, c->s, c->pad);
        snprintf(what, sizeof what, "%s: dx", name);
        assert_close_real(x->grad, rdx, x->size, path_tol(c) * sum_tol(c->O * c->kh * c->kw),
                          what);
        snprintf(what, sizeof what, "%s: dw", name);
        assert_close_real(w->grad, rdw, w->size, path_tol(c) * sum_tol(P), what);
        snprintf(what, sizeof what, "%s: db", name);
        assert_close_real(b->grad, rdb, b->size, sum_tol(P), what);  /* unchanged if no bias */

        free(ry); free(dy); free(rdx); free(rdw); free(rdb);
        em_tensor_free(x); em_tensor_free(w); em_tensor_free(b);
        em_tape_free(tape);
    }
}

/* The reference is itself checked: its forward against a hand value above (through the
 * fast path), and here its backward is the adjoint of its forward:
 *   <dy, conv(x, w)> = <x, dx(dy)> = <w, dw(dy)>  (bias 0), both bilinear identities. */
Test(conv2d, reference_backward_is_adjoint_of_reference_forward) {
    em_rng rng;
    em_rng_seed(&rng, 12);
    for (size_t k = 0; k < N_SMALL_CASES; k++) {
        const conv_case *c = &cases[k];
        int Ho = out_size(c->H, c->kh, c->s, c->pad), Wo = out_size(c->W, c->kw, c->s, c->pad);
        size_t nx = (size_t)c->N * c->C * c->H * c->W;
        size_t nw = (size_t)c->O * c->C * c->kh * c->kw;
        size_t ny = (size_t)c->N * c->O * Ho * Wo;
        em_real *x = calloc(nx, sizeof *x), *w = calloc(nw, sizeof *w);
        em_real *y = calloc(ny, sizeof *y), *dy = calloc(ny, sizeof *dy);
        em_real *dx = calloc(nx, sizeof *dx), *dw = calloc(nw, sizeof *dw);
        cr_assert(x && w && y && dy && dx && dw);
        for (size_t i = 0; i < nx; i++) x[i] = (em_real)em_rng_normal(&rng, 0, 1);
        for (size_t i = 0; i < nw; i++) w[i] = (em_real)em_rng_normal(&rng, 0, 1);
        for (size_t i = 0; i < ny; i++) dy[i] = (em_real)em_rng_normal(&rng, 0, 1);
        em_conv2d_direct_forward(y, x, w, NULL, c->N, c->C, c->H, c->W, c->O, c->kh, c->kw, c->s,
                              c->pad);
        em_conv2d_direct_backward(dx, dw, NULL, dy, x, w, c->N, c->C, c->H, c->W, c->O, c->kh,
                               c->kw, c->s, c->pad);
        double l = 0, lx = 0, lw = 0;
        for (size_t i = 0; i < ny; i++) l += (double)dy[i] * y[i];
        for (size_t i = 0; i < nx; i++) lx += (double)x[i] * dx[i];
        for (size_t i = 0; i < nw; i++) lw += (double)w[i] * dw[i];
        double tol = (sizeof(em_real) == 8 ? 1e-10 : 1e-4) * fmax(1.0, fabs(l));
        char name[96];
        case_name(name, sizeof name, c);
        cr_assert(fabs(l - lx) <= tol, "%s: <dy, y> = %.10g, <x, dx> = %.10g", name, l, lx);
        cr_assert(fabs(l - lw) <= tol, "%s: <dy, y> = %.10g, <w, dw> = %.10g", name, l, lw);
        free(x); free(w); free(y); free(dy); free(dx); free(dw);
    }
}

/* ---- finite differences -------------------------------------------------------------- */

static em_tensor *conv_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    const conv_case *c = ctx;
    return em_conv2d(tape, in[0], in[1], c->bias ? in[2] : NULL, c->s, c->pad);
}

Test(conv2d, gradcheck_x_w_b) {
    em_rng rng;
    em_rng_seed(&rng, 13);
    for (size_t k = 0; k < N_SMALL_CASES; k++) {
        conv_case c = cases[k];
        if (c.H * c.W > 40) c.N = 1;  /* keep the double-build gradcheck quick */
        em_tensor *x = tensor_randn(&rng, 4, (int[]){c.N, c.C, c.H, c.W}, 0, 1,
                                    EM_REQUIRES_GRAD);
        em_tensor *w = tensor_randn(&rng, 4, (int[]){c.O, c.C, c.kh, c.kw}, 0, 1,
                                    EM_REQUIRES_GRAD);
        em_tensor *b = tensor_randn(&rng, 1, (int[]){c.O}, 0, 1, EM_REQUIRES_GRAD);
        char what[128];
        case_name(what, sizeof what, &c);
        assert_gradcheck(conv_fn, &c, c.bias ? 3 : 2, (em_tensor *[]){x, w, b}, what);
        em_tensor_free(x); em_tensor_free(w); em_tensor_free(b);
    }
}

/* Two convolutions in a row: the first one's output is an intermediate whose gradient
 * the tape allocates; the second one has stride 2 and no bias. */
static em_tensor *conv_chain_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    (void)ctx;
    em_tensor *h = em_conv2d(tape, in[0], in[1], in[2], 1, 1);
    return em_conv2d(tape, h, in[3], NULL, 2, 0);
}

Test(conv2d, gradcheck_two_layers) {
    em_rng rng;
    em_rng_seed(&rng, 14);
    em_tensor *x = tensor_randn(&rng, 4, (int[]){2, 2, 5, 5}, 0, 1, EM_REQUIRES_GRAD);
    em_tensor *w1 = tensor_randn(&rng, 4, (int[]){3, 2, 3, 3}, 0, 0.5, EM_REQUIRES_GRAD);
    em_tensor *b1 = tensor_randn(&rng, 1, (int[]){3}, 0, 1, EM_REQUIRES_GRAD);
    em_tensor *w2 = tensor_randn(&rng, 4, (int[]){2, 3, 2, 2}, 0, 0.5, EM_REQUIRES_GRAD);
    assert_gradcheck(conv_chain_fn, NULL, 4, (em_tensor *[]){x, w1, b1, w2}, "conv -> conv");
    em_tensor_free(x); em_tensor_free(w1); em_tensor_free(b1); em_tensor_free(w2);
}

/* ---- who gets a gradient ------------------------------------------------------------- */

/* x is data: it gets no gradient, w and b get theirs (and match the reference). */
Test(conv2d, no_grad_for_data_input) {
    em_rng rng;
    em_rng_seed(&rng, 15);
    const conv_case c = {2, 2, 5, 4, 3, 3, 3, 1, 1, true};
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_randn(&rng, 4, (int[]){c.N, c.C, c.H, c.W}, 0, 1, 0);
    em_tensor *w = tensor_randn(&rng, 4, (int[]){c.O, c.C, c.kh, c.kw}, 0, 1,
                                EM_REQUIRES_GRAD);
    em_tensor *b = tensor_randn(&rng, 1, (int[]){c.O}, 0, 1, EM_REQUIRES_GRAD);
    em_tensor *y = em_conv2d(tape, x, w, b, c.s, c.pad);
    cr_assert(em_requires_grad(y));
    em_real *dy = malloc(y->size * sizeof *dy);
    cr_assert_not_null(dy);
    for (size_t i = 0; i < y->size; i++) dy[i] = (em_real)em_rng_normal(&rng, 0, 1);
    cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
    cr_assert_null(x->grad);
    em_real rdw[54] = {0}, rdb[3] = {0};
    em_conv2d_direct_backward(NULL, rdw, rdb, dy, x->data, w->data, c.N, c.C, c.H, c.W, c.O,
                           c.kh, c.kw, c.s, c.pad);
    assert_close_real(w->grad, rdw, w->size, sum_tol(40), "dw");
    assert_close_real(b->grad, rdb, b->size, sum_tol(40), "db");
    free(dy);
    em_tensor_free(x); em_tensor_free(w); em_tensor_free(b);
    em_tape_free(tape);
}

/* Frozen filters: only x gets a gradient; w's stays what it was. */
Test(conv2d, no_grad_for_frozen_weights) {
    em_rng rng;
    em_rng_seed(&rng, 16);
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_randn(&rng, 4, (int[]){1, 2, 4, 4}, 0, 1, EM_REQUIRES_GRAD);
    em_tensor *w = tensor_randn(&rng, 4, (int[]){2, 2, 3, 3}, 0, 1, 0);
    em_tensor *y = em_conv2d(tape, x, w, NULL, 1, 1);
    em_real dy[32];
    for (int i = 0; i < 32; i++) dy[i] = (em_real)em_rng_normal(&rng, 0, 1);
    cr_assert_eq(em_backward_from(tape, y, dy), EM_OK);
    cr_assert_null(w->grad);
    em_real rdx[32] = {0};
    em_conv2d_direct_backward(rdx, NULL, NULL, dy, x->data, w->data, 1, 2, 4, 4, 2, 3, 3, 1, 1);
    assert_close_real(x->grad, rdx, x->size, sum_tol(18), "dx");
    em_tensor_free(x); em_tensor_free(w);
    em_tape_free(tape);
}

/* Nothing requires a gradient (inference): the op computes and records nothing. */
Test(conv2d, inference_records_no_node) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(4, (int[]){1, 1, 3, 3}, X33, 0);
    em_tensor *w = tensor_of(4, (int[]){1, 1, 2, 2}, W22, 0);
    em_tensor *y = em_conv2d(tape, x, w, NULL, 1, 0);
    cr_assert_eq(tape->n_nodes, 0);
    cr_assert_null(y->node);
    cr_assert_not(em_requires_grad(y));
    assert_close(y->data, (float[]){37, 47, 67, 77}, 4, TOL, "y");
    em_tensor_free(x); em_tensor_free(w);
    em_tape_free(tape);
}

/* Out of memory: NULL and a failed tape, not a crash; ops on a failed tape return NULL. */
Test(conv2d, out_of_memory_returns_null) {
    em_tape *tape = em_tape_new(4096);
    em_tensor *x = tensor_of(4, (int[]){4, 8, 16, 16}, NULL, EM_REQUIRES_GRAD);
    em_tensor *w = tensor_of(4, (int[]){8, 8, 3, 3}, NULL, EM_REQUIRES_GRAD);
    tape->arena->fail_after = tape->arena->chunk_allocs + 1;
    cr_assert_null(em_conv2d(tape, x, w, NULL, 1, 1));
    cr_assert_not(em_tape_ok(tape));
    tape->arena->fail_after = 0;
    cr_assert_null(em_conv2d(tape, x, w, NULL, 1, 1));
    em_tape_reset(tape);
    cr_assert_not_null(em_conv2d(tape, x, w, NULL, 1, 1));
    em_tensor_free(x); em_tensor_free(w);
    em_tape_free(tape);
}

/* ---- bad shapes abort ---------------------------------------------------------------- */

static void conv_shapes(const int *xs, const int *ws, int nb, int s, int pad) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(4, xs, NULL, 0);
    em_tensor *w = tensor_of(4, ws, NULL, 0);
    em_tensor *b = nb ? tensor_of(1, (int[]){nb}, NULL, 0) : NULL;
    em_conv2d(tape, x, w, b, s, pad);
}

Test(conv2d, channel_mismatch_aborts, .signal = SIGABRT) {
    conv_shapes((int[]){1, 3, 5, 5}, (int[]){4, 2, 3, 3}, 0, 1, 0);
}

Test(conv2d, bias_size_mismatch_aborts, .signal = SIGABRT) {
    conv_shapes((int[]){1, 3, 5, 5}, (int[]){4, 3, 3, 3}, 3, 1, 0);
}

Test(conv2d, kernel_larger_than_padded_input_aborts, .signal = SIGABRT) {
    conv_shapes((int[]){1, 1, 4, 4}, (int[]){1, 1, 7, 7}, 0, 1, 1);
}

Test(conv2d, zero_stride_aborts, .signal = SIGABRT) {
    conv_shapes((int[]){1, 1, 4, 4}, (int[]){1, 1, 3, 3}, 0, 0, 0);
}

Test(conv2d, negative_padding_aborts, .signal = SIGABRT) {
    conv_shapes((int[]){1, 1, 4, 4}, (int[]){1, 1, 3, 3}, 0, 1, -1);
}

Test(conv2d, input_not_4d_aborts, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(3, (int[]){1, 5, 5}, NULL, 0);
    em_tensor *w = tensor_of(4, (int[]){1, 1, 3, 3}, NULL, 0);
    em_conv2d(tape, x, w, NULL, 1, 0);
}

/* ---- em_fast_conv2d_relu: convolution and ReLU as one op ---------------------------------- */

/* One run of relu(conv(x)), fused or composed of the two ops, from the same x, w, b, dy and
 * the same gradients already held (backward adds): y and the three gradients. chained: x
 * is scaled by 1.5 first, so the convolution's dx goes to a buffer the tape made fresh
 * (written, not added to). */
typedef struct crun {
    em_real *y, *dx, *dw, *db;
    int nodes;
} crun;

static void crun_once(crun *out, bool fused, bool chained, const conv_case *c,
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
    em_tensor *y = fused ? em_fast_conv2d_relu(tape, in, w, bb, c->s, c->pad)
                         : em_relu(tape, em_conv2d(tape, in, w, bb, c->s, c->pad));
    cr_assert_not_null(y);
    assert_last_op_fused(tape, "conv2d_relu", "relu", fused);
    out->nodes = tape->n_nodes;
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

static void crun_free(crun *r) { free(r->y); free(r->dx); free(r->dw); free(r->db); }

/* The fused op equals em_relu(em_conv2d(...)) bit for bit, on every shape of the table
 * (with and without bias, images split across threads or not, dx added to or fresh),
 * including a NaN input (passed through, no gradient) and outputs exactly 0 (the kink: no
 * gradient), in a small case and in the first one large enough for the threads. */
static void check_conv_relu_equal(void) {
    em_rng rng;
    em_rng_seed(&rng, 21);
    for (size_t k = 0; k < N_CASES; k++) {
        const conv_case *c = &cases[k];
        char name[96];
        case_name(name, sizeof name, c);
        size_t nx = (size_t)c->N * c->C * c->H * c->W, nw = (size_t)c->O * c->C * c->kh * c->kw;
        em_real *xv = malloc(nx * sizeof *xv), *wv = malloc(nw * sizeof *wv);
        em_real *g0 = malloc((nx + nw + c->O) * sizeof *g0), bv[64];
        cr_assert(xv && wv && g0 && c->O <= 64);
        for (size_t i = 0; i < nx; i++) xv[i] = (em_real)em_rng_normal(&rng, 0, 1);
        for (size_t i = 0; i < nw; i++) wv[i] = (em_real)em_rng_normal(&rng, 0, 1);
        for (int o = 0; o < c->O; o++) bv[o] = (em_real)em_rng_normal(&rng, 0, 1);
        for (size_t i = 0; i < nx + nw + c->O; i++) g0[i] = (em_real)em_rng_normal(&rng, 0, 1);
        bool nan_case = k == 0 || k == N_SMALL_CASES;
        if (nan_case) xv[nx / 2 + 3] = NAN;
        if (k == 1 || k == N_SMALL_CASES)  /* images of zeros: outputs of exactly 0 */
            for (size_t i = 0; i < nx / c->N; i++) xv[i] = 0;
        crun a, f;
        crun_once(&a, false, k % 2, c, xv, wv, bv, g0);
        crun_once(&f, true, k % 2, c, xv, wv, bv, g0);
        cr_assert_eq(f.nodes, a.nodes - 1, "%s: one node fewer", name);
        size_t ny = (size_t)c->N * c->O * out_size(c->H, c->kh, c->s, c->pad) *
                    out_size(c->W, c->kw, c->s, c->pad);
        size_t zeros = 0, nans = 0;
        for (size_t i = 0; i < ny; i++) zeros += f.y[i] == 0, nans += f.y[i] != f.y[i];
        cr_assert(zeros > 0 && zeros + nans < ny, "%s: the ReLU cuts some and keeps others",
                  name);
        cr_assert(!nan_case || nans > 0, "%s: the NaN passes through", name);
        cr_assert(memcmp(a.y, f.y, ny * sizeof *a.y) == 0, "%s: y differs", name);
        cr_assert(memcmp(a.dx, f.dx, nx * sizeof *a.dx) == 0, "%s: dx differs", name);
        cr_assert(memcmp(a.dw, f.dw, nw * sizeof *a.dw) == 0, "%s: dw differs", name);
        cr_assert(memcmp(a.db, f.db, c->O * sizeof *a.db) == 0, "%s: db differs", name);
        crun_free(&a); crun_free(&f);
        free(xv); free(wv); free(g0);
    }
}

Test(conv2d_relu, equals_relu_of_conv2d_exactly) {
    check_conv_relu_equal();
    em_set_threads(2);
    check_conv_relu_equal();
    em_set_threads(1);
}

static em_tensor *conv_relu_fn(em_tape *tape, em_tensor *const *in, void *ctx) {
    const conv_case *c = ctx;
    return em_fast_conv2d_relu(tape, in[0], in[1], c->bias ? in[2] : NULL, c->s, c->pad);
}

/* and its backward is the derivative of its forward, on inputs whose convolution outputs
 * all lie at least 0.05 from the ReLU's kink (the first such seed from 200 up): the float
 * build's finite differences must not cross it */
Test(conv2d_relu, gradcheck) {
    const conv_case cs[] = {{2, 2, 4, 5, 3, 3, 3, 1, 1, true}, {2, 2, 5, 5, 3, 3, 3, 2, 0, false}};
    for (int k = 0; k < 2; k++) {
        const conv_case *c = &cs[k];
        for (uint64_t seed = 200;; seed++) {
            cr_assert(seed < 1200, "no input away from the kink in 1000 seeds");
            em_rng rng;
            em_rng_seed(&rng, seed);
            em_tensor *x = tensor_randn(&rng, 4, (int[]){c->N, c->C, c->H, c->W}, 0, 1,
                                        EM_REQUIRES_GRAD);
            em_tensor *w = tensor_randn(&rng, 4, (int[]){c->O, c->C, c->kh, c->kw}, 0, 1,
                                        EM_REQUIRES_GRAD);
            em_tensor *b = tensor_randn(&rng, 1, (int[]){c->O}, 0, 1, EM_REQUIRES_GRAD);
            em_tape *tape = em_tape_new(0);
            em_tensor *v = em_conv2d(tape, x, w, c->bias ? b : NULL, c->s, c->pad);
            bool clear = true;
            size_t pos = 0;
            for (size_t i = 0; i < v->size; i++) {
                clear = clear && fabs((double)v->data[i]) >= 0.05;
                pos += v->data[i] > 0;
            }
            clear = clear && pos > 0 && pos < v->size;
            em_tape_free(tape);
            char what[128];
            case_name(what, sizeof what, c);
            if (clear)
                assert_gradcheck(conv_relu_fn, (void *)c, c->bias ? 3 : 2,
                                 (em_tensor *[]){x, w, b}, what);
            em_tensor_free(x); em_tensor_free(w); em_tensor_free(b);
            if (clear) break;
        }
    }
}

/* core/ops/matmul.c — matrix product and the fully connected layer's op.
 * Every product is one GEMM over the whole batch: the tape's table has it (core/kernels.h:
 * OpenBLAS in the reference tier, ember's own threaded kernel in the fast tier). */
#include "../kernels.h"
#include "../ops.h"

typedef void (*gemm_fn)(bool, bool, int, int, int, em_real, const em_real *, int,
                        const em_real *, int, em_real, em_real *, int);

/* ---- matmul: y = op(a) op(b) -------------------------------------------------------
 * a: (M, K), or (K, M) when trans_a;  b: (K, N), or (N, K) when trans_b;  y: (M, N). */

static void matmul_forward(gemm_fn gemm, em_real *y, const em_real *a, const em_real *b,
                           bool ta, bool tb, int M, int N, int K) {
    gemm(ta, tb, M, N, K, 1, a, ta ? M : K, b, tb ? K : N, 0, y, N);
}

/* With A = op(a), B = op(b), y = A B:  dA = dy B^T,  dB = A^T dy.
 * Stored the other way round when transposed: da = (dA)^T = B dy^T, db = (dB)^T = dy^T A. */
static void matmul_backward(gemm_fn gemm, em_real *da, em_real *db, const em_real *dy,
                            const em_real *a, const em_real *b, bool ta, bool tb, int M, int N,
                            int K) {
    int lda = ta ? M : K, ldb = tb ? K : N;
    if (da) {
        if (!ta) gemm(false, !tb, M, K, N, 1, dy, N, b, ldb, 1, da, K);  /* (M,K) */
        else     gemm(tb, true, K, M, N, 1, b, ldb, dy, N, 1, da, M);    /* (K,M) */
    }
    if (db) {
        if (!tb) gemm(!ta, false, K, N, M, 1, a, lda, dy, N, 1, db, N);  /* (K,N) */
        else     gemm(true, ta, N, K, M, 1, dy, N, a, lda, 1, db, K);    /* (N,K) */
    }
}

static void matmul_node_backward(em_tape *tape, em_node *node) {
    em_tensor *a = node->inputs[0], *b = node->inputs[1], *y = node->output;
    bool ta = node->args[0], tb = node->args[1];
    int M = y->shape[0], N = y->shape[1], K = ta ? a->shape[0] : a->shape[1];
    matmul_backward(tape->kernels->gemm, em_node_grad(tape, node, 0), em_node_grad(tape, node, 1), y->grad,
                    a->data, b->data, ta, tb, M, N, K);
}

em_tensor *em_matmul(em_tape *tape, em_tensor *a, em_tensor *b, bool trans_a, bool trans_b) {
    if (!em_tape_ok(tape)) return NULL;
    EM_ASSERT_MSG(a->ndim == 2 && b->ndim == 2, "em_matmul takes 2-D tensors");
    int M = trans_a ? a->shape[1] : a->shape[0], K = trans_a ? a->shape[0] : a->shape[1];
    int Kb = trans_b ? b->shape[1] : b->shape[0], N = trans_b ? b->shape[0] : b->shape[1];
    EM_ASSERT_MSG(K == Kb, "em_matmul: inner dimensions differ");
    em_tensor *y = em_tape_tensor(tape, 2, (int[]){M, N});
    if (!y) return NULL;
    matmul_forward(tape->kernels->gemm, y->data, a->data, b->data, trans_a, trans_b, M, N, K);
    em_node *node = em_tape_record(tape, EM_OP_MATMUL, y, matmul_node_backward, 2, a, b);
    if (node) {
        node->args[0] = trans_a;
        node->args[1] = trans_b;
    }
    return y;
}

/* ---- linear: y = x w^T + b -----------------------------------------------------------
 * x: (N, in), w: (out, in), b: (out) or NULL, y: (N, out). */

static void linear_forward(gemm_fn gemm, em_real *y, const em_real *x, const em_real *w,
                           const em_real *b, int N, int in, int out) {
    if (b) {
        for (int n = 0; n < N; n++)
            for (int o = 0; o < out; o++) y[(size_t)n * out + o] = b[o];
    }
    gemm(false, true, N, out, in, 1, x, in, w, in, b ? 1 : 0, y, out);
}

/* dx += dy w,   dw += dy^T x,   db += sum_n dy[n];  dx = dy w when dx_fresh (a new,
 * unzeroed buffer: em_node_grad_fresh) */
static void linear_backward(gemm_fn gemm, em_real *dx, bool dx_fresh, em_real *dw,
                            em_real *db, const em_real *dy, const em_real *x, const em_real *w,
                            int N, int in, int out) {
    if (dx) gemm(false, false, N, in, out, 1, dy, out, w, in, dx_fresh ? 0 : 1, dx, in);
    if (dw) gemm(true, false, out, in, N, 1, dy, out, x, in, 1, dw, in);
    if (db) {
        for (int n = 0; n < N; n++)
            for (int o = 0; o < out; o++) db[o] += dy[(size_t)n * out + o];
    }
}

static void linear_node_backward(em_tape *tape, em_node *node) {
    em_tensor *x = node->inputs[0], *w = node->inputs[1], *y = node->output;
    em_real *db = node->inputs[2] ? em_node_grad(tape, node, 2) : NULL;
    bool fresh;
    em_real *dx = em_node_grad_fresh(tape, node, 0, &fresh);
    linear_backward(tape->kernels->gemm, dx, fresh, em_node_grad(tape, node, 1), db, y->grad, x->data, w->data,
                    x->shape[0], x->shape[1], w->shape[0]);
}

em_tensor *em_linear(em_tape *tape, em_tensor *x, em_tensor *w, em_tensor *b) {
    if (!em_tape_ok(tape)) return NULL;
    EM_ASSERT_MSG(x->ndim == 2 && w->ndim == 2, "em_linear: x (N, in), w (out, in)");
    EM_ASSERT_MSG(x->shape[1] == w->shape[1], "em_linear: x and w disagree on `in`");
    EM_ASSERT_MSG(!b || (b->ndim == 1 && b->shape[0] == w->shape[0]), "em_linear: b (out)");
    int N = x->shape[0], in = x->shape[1], out = w->shape[0];
    em_tensor *y = em_tape_tensor(tape, 2, (int[]){N, out});
    if (!y) return NULL;
    linear_forward(tape->kernels->gemm, y->data, x->data, w->data, b ? b->data : NULL, N, in, out);
    em_tape_record(tape, EM_OP_LINEAR, y, linear_node_backward, 3, x, w, b);
    return y;
}

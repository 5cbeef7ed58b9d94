/* core/ops/shape.c — reshape and flatten (views), transpose (a copy).
 *
 * A view is a new tensor header over its source's data (em_tape_view): no element is
 * copied and the view owns nothing. Its gradient is NOT shared: the tape gives the view
 * its own gradient buffer on first use, and the view's backward adds it into the
 * source's gradient. Both buffers have the same memory order, so element i of the view
 * is element i of the source and the backward is one elementwise add. */
#include <limits.h>

#include <string.h>

#include "../ops.h"

/* ---- views: y = x with another shape -----------------------------------------------
 * x: any shape of n elements; y: another shape of the same n elements, the same data. */

/* dx += dy   (elementwise: the view and its source agree on memory order); a fresh dx
 * (em_node_grad_fresh) is a copy */
static void view_backward(em_real *dx, const em_real *dy, size_t n, bool add) {
    if (!add) {
        memcpy(dx, dy, n * sizeof *dx);
        return;
    }
    for (size_t i = 0; i < n; i++) dx[i] += dy[i];
}

static void view_node_backward(em_tape *tape, em_node *node) {
    bool fresh;
    em_real *dx = em_node_grad_fresh(tape, node, 0, &fresh);
    if (!dx) return;
    em_tensor *y = node->output;
    view_backward(dx, y->grad, y->size, !fresh);
}

/* The view of x with shape dims (whose size the caller checked), recorded on the tape. */
static em_tensor *view_record(em_tape *tape, em_tensor *x, int ndim, const int *dims) {
    em_tensor *y = em_tape_view(tape, x, ndim, dims);
    if (!y) return NULL;
    em_tape_record(tape, EM_OP_RESHAPE, y, view_node_backward, 1, x);
    return y;
}

/* ---- reshape: y = x viewed as shape[0] x ... x shape[ndim-1] ----------------------
 * dims = shape with its one -1 (if any) replaced by size / (product of the others). */
static void reshape_infer(int *dims, const int *shape, int ndim, size_t size) {
    int infer = -1;
    size_t known = 1;  /* product of the given dimensions */
    for (int i = 0; i < ndim; i++) {
        dims[i] = shape[i];
        if (shape[i] == -1) {
            EM_ASSERT_MSG(infer < 0, "em_reshape: at most one dimension may be -1");
            infer = i;
        } else {
            EM_ASSERT_MSG(shape[i] >= 0, "em_reshape: a dimension is negative (and not -1)");
            known *= (size_t)shape[i];
        }
    }
    if (infer < 0) {
        EM_ASSERT_MSG(known == size, "em_reshape: the new shape has another number of "
                                     "elements than the tensor");
        return;
    }
    EM_ASSERT_MSG(known > 0 && size % known == 0,
                  "em_reshape: the other dimensions do not divide the size, -1 cannot be "
                  "inferred");
    EM_ASSERT_MSG(size / known <= INT_MAX, "em_reshape: the inferred dimension is too large");
    dims[infer] = (int)(size / known);
}

em_tensor *em_reshape(em_tape *tape, em_tensor *x, int ndim, const int *shape) {
    if (!em_tape_ok(tape)) return NULL;
    EM_ASSERT_MSG(ndim >= 0 && ndim <= EM_MAX_DIMS, "em_reshape: ndim out of range");
    EM_ASSERT_MSG(ndim == 0 || shape, "em_reshape: shape is NULL");
    int dims[EM_MAX_DIMS];
    reshape_infer(dims, shape, ndim, x->size);
    return view_record(tape, x, ndim, dims);
}

/* ---- flatten: (N, d1, d2, ...) -> (N, d1 d2 ...) -------------------------------------
 * A 1-D (N) becomes (N, 1): the product of no dimensions is 1. */
em_tensor *em_flatten(em_tape *tape, em_tensor *x) {
    if (!em_tape_ok(tape)) return NULL;
    EM_ASSERT_MSG(x->ndim >= 1, "em_flatten: needs a batch dimension, x has none");
    size_t rest = em_shape_size(x->ndim - 1, x->shape + 1);
    EM_ASSERT_MSG(rest <= INT_MAX, "em_flatten: the flattened dimension is too large");
    int dims[2] = {x->shape[0], (int)rest};
    return view_record(tape, x, 2, dims);
}

/* ---- transpose: y = x^T, a copy ------------------------------------------------------
 * x: (M, N), y: (N, M). */

static void transpose_forward(em_real *y, const em_real *x, int M, int N) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) y[(size_t)j * M + i] = x[(size_t)i * N + j];
}

/* dx += dy^T   (dx: (M, N), dy: (N, M)) */
static void transpose_backward(em_real *dx, const em_real *dy, int M, int N) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) dx[(size_t)i * N + j] += dy[(size_t)j * M + i];
}

static void transpose_node_backward(em_tape *tape, em_node *node) {
    em_real *dx = em_node_grad(tape, node, 0);
    if (!dx) return;
    em_tensor *x = node->inputs[0], *y = node->output;
    transpose_backward(dx, y->grad, x->shape[0], x->shape[1]);
}

em_tensor *em_transpose(em_tape *tape, em_tensor *x) {
    if (!em_tape_ok(tape)) return NULL;
    EM_ASSERT_MSG(x->ndim == 2, "em_transpose takes a 2-D tensor");
    int M = x->shape[0], N = x->shape[1];
    em_tensor *y = em_tape_tensor(tape, 2, (int[]){N, M});
    if (!y) return NULL;
    transpose_forward(y->data, x->data, M, N);
    em_tape_record(tape, EM_OP_TRANSPOSE, y, transpose_node_backward, 1, x);
    return y;
}

/* core/ops/reduce.c — sum, mean and variance over a set of axes.
 *
 * Axes. `axes` is a bit mask over x's dims, EM_AXIS(d) for dim d. Bits at or above
 * x->ndim are ignored, so EM_ALL_AXES reduces every dim. No bit set below x->ndim reduces
 * nothing: y is a copy of x (NumPy's axis=(); note PyTorch's dim=[] reduces everything).
 *
 * Output shape. keepdim keeps every reduced dim as size 1, so y broadcasts back against
 * x (em_sub(x, em_mean(x, axes, true))). Without keepdim the reduced dims vanish. When
 * no dim is left (all reduced without keepdim, or x of ndim 0) y has shape (1): ndim 1,
 * one element — never ndim 0, so every result prints, indexes and broadcasts like any
 * other tensor and can be passed to em_backward as a loss.
 *   x (N, C, H, W), axes EM_AXIS(0) | EM_AXIS(2) | EM_AXIS(3): y (1, C, 1, 1) with
 *   keepdim, (C) without — the per-channel statistics of BatchNorm2d.
 *
 * M is the number of x elements reduced into each y element (the product of the reduced
 * dims). All sums are accumulated in double: the error of a float running sum grows
 * with the count (bound: n 2^-24), and over 10^5 activations reaches the third digit.
 *
 * How the loops are organised. x is walked once, in memory order, as rows along its last
 * dim, after dropping dims of size 1 and merging neighbours that are both reduced or both
 * kept ((N, C, H, W) over N, H, W becomes (N | C | HW) with rows of HW). A row along a
 * kept dim sends its elements to consecutive y elements; a row along a reduced dim sends
 * all of them to one. An odometer over the other dims tracks where each row's outputs
 * start in y. This is broadcasting read backwards: a reduction's backward spreads dy over
 * x the way em_add spreads a (1, C, 1, 1) operand over (N, C, H, W).
 */
#include "../ops.h"

/* ---- the layout and the row walks ---------------------------------------------------- */

typedef struct reduce_layout {
    unsigned axes;                    /* the reduced dims of x (bits below x->ndim)       */
    int ndim;                         /* x's dims, size-1 dims dropped, neighbours merged */
    int shape[EM_MAX_DIMS];
    bool reduced[EM_MAX_DIMS];        /* merged dim d is reduced                          */
    size_t ystride[EM_MAX_DIMS];      /* y's step per step along kept dim d (0: reduced)  */
    size_t n;                         /* x's elements                                     */
    size_t n_out;                     /* y's elements                                     */
    size_t m;                         /* M: x elements per y element                      */
    size_t row;                       /* row length: the last merged dim                  */
    bool row_kept;                    /* rows run along a kept dim                        */
    int y_ndim, y_shape[EM_MAX_DIMS]; /* y's shape, keepdim applied                       */
} reduce_layout;

static reduce_layout reduce_layout_of(const em_tensor *x, unsigned axes, bool keepdim) {
    reduce_layout L = {0};
    L.axes = axes & ((1u << x->ndim) - 1);
    L.n = x->size;
    L.n_out = L.m = 1;
    size_t k = 1;                     /* y's contiguous stride, right to left */
    size_t stride[EM_MAX_DIMS];       /* y's step per step along x's dim d    */
    for (int d = x->ndim - 1; d >= 0; d--) {
        bool red = (L.axes >> d) & 1u;
        stride[d] = red ? 0 : k;
        if (red) L.m *= (size_t)x->shape[d];
        else k *= (size_t)x->shape[d];
    }
    L.n_out = k;
    for (int d = 0; d < x->ndim; d++) {
        bool red = (L.axes >> d) & 1u;
        if (!red || keepdim) L.y_shape[L.y_ndim++] = red ? 1 : x->shape[d];
        if (x->shape[d] == 1) continue;          /* its index is always 0 */
        int last = L.ndim - 1;
        if (last >= 0 && L.reduced[last] == red) {  /* same kind: merge into the last */
            L.shape[last] *= x->shape[d];
            L.ystride[last] = stride[d];
        } else {
            L.shape[L.ndim] = x->shape[d];
            L.reduced[L.ndim] = red;
            L.ystride[L.ndim] = stride[d];
            L.ndim++;
        }
    }
    if (L.y_ndim == 0) L.y_shape[L.y_ndim++] = 1;
    L.row = L.ndim ? (size_t)L.shape[L.ndim - 1] : 1;
    L.row_kept = L.ndim == 0 || !L.reduced[L.ndim - 1];
    return L;
}

/* The next row: count idx (over merged dims 0 .. ndim-2) up by one, carrying to the left;
 * returns where that row's outputs start in y, given yo for the current row. */
static size_t next_row(const reduce_layout *L, int *idx, size_t yo) {
    for (int d = L->ndim - 2; d >= 0; d--) {
        yo += L->ystride[d];
        if (++idx[d] < L->shape[d]) return yo;
        yo -= L->ystride[d] * (size_t)L->shape[d];
        idx[d] = 0;
    }
    return yo;
}

/* acc[o] = sum of the x elements that reduce into o.   x (n), acc (n_out) */
static void sum_rows(double *acc, const em_real *x, const reduce_layout *L) {
    for (size_t o = 0; o < L->n_out; o++) acc[o] = 0;
    int idx[EM_MAX_DIMS] = {0};
    size_t yo = 0, n = L->row;
    for (size_t xo = 0; xo < L->n; xo += n, yo = next_row(L, idx, yo)) {
        const em_real *xr = x + xo;                  /* (n) */
        if (L->row_kept) {
            for (size_t i = 0; i < n; i++) acc[yo + i] += xr[i];
        } else {
            double s = 0;
            for (size_t i = 0; i < n; i++) s += xr[i];
            acc[yo] += s;
        }
    }
}

/* acc[o] = sum of (x - mean[o])^2 over the x elements that reduce into o.
 * x (n), mean (n_out), acc (n_out) */
static void sq_dev_rows(double *acc, const em_real *x, const double *mean,
                        const reduce_layout *L) {
    for (size_t o = 0; o < L->n_out; o++) acc[o] = 0;
    int idx[EM_MAX_DIMS] = {0};
    size_t yo = 0, n = L->row;
    for (size_t xo = 0; xo < L->n; xo += n, yo = next_row(L, idx, yo)) {
        const em_real *xr = x + xo;                  /* (n) */
        if (L->row_kept) {
            for (size_t i = 0; i < n; i++) {
                double dev = xr[i] - mean[yo + i];
                acc[yo + i] += dev * dev;
            }
        } else {
            double s = 0, mu = mean[yo];
            for (size_t i = 0; i < n; i++) s += (xr[i] - mu) * (xr[i] - mu);
            acc[yo] += s;
        }
    }
}

/* dx[i] += k dy[o(i)], o(i) the y element x element i reduces into.   dx (n), dy (n_out) */
static void spread_rows(em_real *dx, const em_real *dy, em_real k, const reduce_layout *L) {
    int idx[EM_MAX_DIMS] = {0};
    size_t yo = 0, n = L->row;
    for (size_t xo = 0; xo < L->n; xo += n, yo = next_row(L, idx, yo)) {
        em_real *dxr = dx + xo;                      /* (n) */
        if (L->row_kept) {
            for (size_t i = 0; i < n; i++) dxr[i] += k * dy[yo + i];
        } else {
            const em_real g = k * dy[yo];
            for (size_t i = 0; i < n; i++) dxr[i] += g;
        }
    }
}

/* ---- sum and mean: y = sum_R x / d,  d = 1 (sum) or M (mean) --------------------------
 * One kernel pair for both: a mean is a sum divided by the number of values summed.
 * x (n), y (n_out), acc (n_out) scratch; R: the reduced dims. */

static void sum_forward(em_real *y, double *acc, const em_real *x, double d,
                        const reduce_layout *L) {
    sum_rows(acc, x, L);
    for (size_t o = 0; o < L->n_out; o++) y[o] = (em_real)(d == 1 ? acc[o] : acc[o] / d);
}

/* dx += dy / d   (each x element gets the gradient of the sum it went into, scaled) */
static void sum_backward(em_real *dx, const em_real *dy, double d, const reduce_layout *L) {
    spread_rows(dx, dy, (em_real)(1.0 / d), L);
}

static void sum_node_backward(em_tape *tape, em_node *node) {
    em_tensor *x = node->inputs[0];
    reduce_layout L = reduce_layout_of(x, (unsigned)node->args[0], node->args[1]);
    em_real *dx = em_node_grad(tape, node, 0);
    if (dx) sum_backward(dx, node->output->grad, node->scalar, &L);
}

static em_tensor *sum_op(em_tape *tape, em_tensor *x, unsigned axes, bool keepdim, bool mean) {
    if (!em_tape_ok(tape)) return NULL;
    reduce_layout L = reduce_layout_of(x, axes, keepdim);
    if (mean) EM_ASSERT_MSG(L.m > 0, "em_mean: a reduced dim has size 0, the mean of nothing");
    double d = mean ? (double)L.m : 1.0;
    em_tensor *y = em_tape_tensor(tape, L.y_ndim, L.y_shape);
    double *acc = em_tape_alloc(tape, L.n_out * sizeof *acc);     /* (n_out) */
    if (!y || !acc) return NULL;
    sum_forward(y->data, acc, x->data, d, &L);
    em_node *node = em_tape_record(tape, mean ? EM_OP_MEAN : EM_OP_SUM, y, sum_node_backward,
                                   1, x);
    if (node) {
        node->args[0] = (int)L.axes;
        node->args[1] = keepdim;
        node->scalar = d;
    }
    return y;
}

em_tensor *em_sum(em_tape *tape, em_tensor *x, unsigned axes, bool keepdim) {
    return sum_op(tape, x, axes, keepdim, false);
}

em_tensor *em_mean(em_tape *tape, em_tensor *x, unsigned axes, bool keepdim) {
    return sum_op(tape, x, axes, keepdim, true);
}

/* ---- var: y = sum_R (x - mean)^2 / (M - correction),  mean = sum_R x / M --------------
 * correction 0: the biased (population) variance, what BatchNorm normalizes with;
 * 1: the unbiased (sample) variance, what its running estimate is fed.
 * Two passes (mean, then squared deviations): no cancellation when |mean| >> std.
 * x (n), y (n_out), mean (n_out) saved for backward, acc (n_out) scratch. */

static void var_forward(em_real *y, double *mean, double *acc, const em_real *x,
                        int correction, const reduce_layout *L) {
    sum_rows(mean, x, L);
    for (size_t o = 0; o < L->n_out; o++) mean[o] /= (double)L->m;
    sq_dev_rows(acc, x, mean, L);
    double denom = (double)L->m - correction;
    for (size_t o = 0; o < L->n_out; o++) y[o] = (em_real)(acc[o] / denom);
}

/* dx += dy * 2 (x - mean) / (M - correction)
 * (mean depends on x too, but that term is -2/(M - c) sum_R (x - mean) dmean/dx = 0.)
 * dx (n), dy (n_out), x (n), mean (n_out) */
static void var_backward(em_real *dx, const em_real *dy, const em_real *x, const double *mean,
                         int correction, const reduce_layout *L) {
    const double k = 2.0 / ((double)L->m - correction);
    int idx[EM_MAX_DIMS] = {0};
    size_t yo = 0, n = L->row;
    for (size_t xo = 0; xo < L->n; xo += n, yo = next_row(L, idx, yo)) {
        em_real *dxr = dx + xo;                      /* (n) */
        const em_real *xr = x + xo;                  /* (n) */
        if (L->row_kept) {
            for (size_t i = 0; i < n; i++)
                dxr[i] += (em_real)(k * dy[yo + i] * (xr[i] - mean[yo + i]));
        } else {
            const em_real g = (em_real)(k * dy[yo]), mu = (em_real)mean[yo];
            for (size_t i = 0; i < n; i++) dxr[i] += g * (xr[i] - mu);
        }
    }
}

static void var_node_backward(em_tape *tape, em_node *node) {
    em_tensor *x = node->inputs[0];
    reduce_layout L = reduce_layout_of(x, (unsigned)node->args[0], node->args[1]);
    em_real *dx = em_node_grad(tape, node, 0);
    if (dx) var_backward(dx, node->output->grad, x->data, node->saved, node->args[2], &L);
}

em_tensor *em_var(em_tape *tape, em_tensor *x, unsigned axes, bool keepdim, int correction) {
    if (!em_tape_ok(tape)) return NULL;
    reduce_layout L = reduce_layout_of(x, axes, keepdim);
    EM_ASSERT_MSG(L.m > 0 && (double)L.m - correction > 0,
                  "em_var: M - correction <= 0 (too few elements per variance, e.g. the "
                  "unbiased variance of one value)");
    em_tensor *y = em_tape_tensor(tape, L.y_ndim, L.y_shape);
    double *mean = em_tape_alloc(tape, 2 * L.n_out * sizeof *mean); /* (n_out) + (n_out) */
    if (!y || !mean) return NULL;
    double *acc = mean + L.n_out;                                   /* (n_out) */
    var_forward(y->data, mean, acc, x->data, correction, &L);
    em_node *node = em_tape_record(tape, EM_OP_VAR, y, var_node_backward, 1, x);
    if (node) {
        node->saved = mean;
        node->args[0] = (int)L.axes;
        node->args[1] = keepdim;
        node->args[2] = correction;
    }
    return y;
}

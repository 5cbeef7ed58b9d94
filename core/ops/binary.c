/* core/ops/binary.c — y = a + b, a - b, a * b, a / b with NumPy broadcasting.
 *
 * Broadcasting. The shapes are aligned at the right; in every dim the two sizes are
 * equal, or one of them is 1 (or missing) and is repeated to the other's size:
 *   (N, C, H, W) + (1, C, 1, 1) -> (N, C, H, W)   a per-channel value
 *   (N, C)       * (C)          -> (N, C)         a per-feature value
 *   (3, 1)       * (1, 4)       -> (3, 4)         an outer product
 * Any other pair is a bug in the caller and aborts. The backward of an operand that was
 * repeated sums the output gradient over the dims where it was repeated.
 *
 * How the loops are organised. y is contiguous and is walked as rows. Along one row each
 * operand either steps with y (step 1) or stays on one element (step 0, broadcast), so
 * (sa, sb) is (1, 1), (1, 0) or (0, 1): a row always steps through at least one
 * operand (a row of one element counts as stepping through both). The kernels of each
 * op below work on one such row; three walks cut y into rows:
 *   same     both operands have y's size: one row, a flat loop over y;
 *   channel  one operand has y's shape, the other is 1 outside one block of dims where it
 *            matches y ((1, C, 1, 1) vs (N, C, H, W), (C) vs (N, C), (1) vs anything).
 *            Seen as y (outer, C, inner), the small one is (C): rows of `inner` with the
 *            small one fixed, or, when inner == 1, rows of C stepping through both;
 *   general  any broadcast: rows along y's last dim, an odometer over the other dims.
 * The general walk handles every case and is the reference; the tests check all three
 * against an independent element-by-element computation.
 */
#include <stdio.h>

#include "../kernels.h"
#include "../ops.h"
#include "reference.h"

/* ---- the broadcast layout and the walks ----------------------------------------- */

typedef enum { WALK_SAME, WALK_CHANNEL, WALK_GENERAL } walk_kind;

typedef struct bcast {
    walk_kind walk;
    int ndim;                          /* y's ndim = the larger of a's and b's          */
    int shape[EM_MAX_DIMS];            /* y's shape                                     */
    size_t size;                       /* y's elements                                  */
    size_t sa[EM_MAX_DIMS];            /* a's step per step along y's dim d; 0: repeated */
    size_t sb[EM_MAX_DIMS];            /* the same for b                                */
    size_t outer, C, inner;            /* WALK_CHANNEL: y seen as (outer, C, inner)     */
    bool small_is_a;                   /* WALK_CHANNEL: a is the (C) operand            */
} bcast;

/* x's shape as ndim dims, padded with 1 on the left. */
static void padded_shape(const em_tensor *x, int ndim, int *shape) {
    int pad = ndim - x->ndim;
    for (int d = 0; d < ndim; d++) shape[d] = d < pad ? 1 : x->shape[d - pad];
}

static size_t dims_size(const int *shape, int from, int to) {
    size_t n = 1;
    for (int d = from; d < to; d++) n *= (size_t)shape[d];
    return n;
}

/* Is `small` (padded to y's ndim) 1 outside one block of dims [lo, hi) and equal to y
 * inside it? Then y is (outer, C, inner) and small is (C). All ones: C = 1, and the
 * whole of y is one row (outer = 1, inner = y's size). */
static bool channel_layout(bcast *L, const em_tensor *small) {
    int s[EM_MAX_DIMS], lo = L->ndim, hi = 0;
    padded_shape(small, L->ndim, s);
    for (int d = 0; d < L->ndim; d++) {
        if (s[d] == 1) continue;
        if (d < lo) lo = d;
        hi = d + 1;
    }
    if (lo >= hi) lo = hi = 0;
    for (int d = lo; d < hi; d++)
        if (s[d] != L->shape[d]) return false;
    L->outer = dims_size(L->shape, 0, lo);
    L->C = dims_size(L->shape, lo, hi);
    L->inner = dims_size(L->shape, hi, L->ndim);
    return true;
}

/* The layout of y = a op b; aborts, naming both shapes, when they do not broadcast. */
static bcast bcast_of(const em_tensor *a, const em_tensor *b, const char *who) {
    bcast L = {0};
    L.ndim = a->ndim > b->ndim ? a->ndim : b->ndim;
    int pa[EM_MAX_DIMS], pb[EM_MAX_DIMS];  /* a's and b's shapes, padded to ndim dims */
    padded_shape(a, L.ndim, pa);
    padded_shape(b, L.ndim, pb);
    size_t ka = 1, kb = 1;                 /* a's and b's contiguous strides, right to left */
    for (int d = L.ndim - 1; d >= 0; d--) {
        bool broadcastable = pa[d] == pb[d] || pa[d] == 1 || pb[d] == 1;
        if (!broadcastable) {
            char sa[64], sb[64], why[200];
            snprintf(why, sizeof why, "%s: shapes %s and %s do not broadcast", who,
                     em_shape_str(a, sa, sizeof sa), em_shape_str(b, sb, sizeof sb));
            EM_ASSERT_MSG(broadcastable, why);
        }
        L.shape[d] = pa[d] == 1 ? pb[d] : pa[d];
        L.sa[d] = pa[d] == 1 ? 0 : ka;
        L.sb[d] = pb[d] == 1 ? 0 : kb;
        ka *= (size_t)pa[d];
        kb *= (size_t)pb[d];
    }
    L.size = dims_size(L.shape, 0, L.ndim);
    if (a->size == L.size && b->size == L.size) L.walk = WALK_SAME;
    else if (a->size == L.size && channel_layout(&L, b)) L.walk = WALK_CHANNEL;
    else if (b->size == L.size && channel_layout(&L, a)) L.walk = WALK_CHANNEL;
    else L.walk = WALK_GENERAL;
    L.small_is_a = L.walk == WALK_CHANNEL && b->size == L.size;
    return L;
}

/* Row kernels, the per-op code below. Forward: y[i] = a[i sa] op b[i sb] for i < n.
 * Backward: the gradients of one row, added into da, db (NULL: no gradient wanted).
 * Shapes: y, dy (n); a, da (n) when sa, else (1); b, db (n) when sb, else (1). */
typedef void (*row_forward_fn)(em_real *y, const em_real *a, const em_real *b, size_t n,
                               int sa, int sb);
typedef void (*row_backward_fn)(em_real *da, em_real *db, const em_real *dy,
                                const em_real *a, const em_real *b, size_t n, int sa, int sb);

/* What a walk applies to every row: a forward (y from a, b) or a backward kernel. */
typedef struct binary_job {
    row_forward_fn forward;            /* exactly one of forward, backward is set */
    row_backward_fn backward;
    em_real *y;                        /* y's shape                                */
    const em_real *a, *b;              /* a's and b's shapes                       */
    em_real *da, *db;                  /* a's and b's shapes, or NULL              */
    const em_real *dy;                 /* y's shape                                */
} binary_job;

/* One row: y from offset yo, a from ao, b from bo (the gradients at the same offsets). */
static void do_row(const binary_job *job, size_t yo, size_t ao, size_t bo, size_t n, int sa,
                   int sb) {
    const em_real *a = job->a + ao, *b = job->b + bo;
    if (job->forward) {
        job->forward(job->y + yo, a, b, n, sa, sb);
        return;
    }
    job->backward(job->da ? job->da + ao : NULL, job->db ? job->db + bo : NULL, job->dy + yo,
                  a, b, n, sa, sb);
}

static void walk_channel(const bcast *L, const binary_job *job) {
    size_t C = L->C, inner = L->inner;
    bool sma = L->small_is_a;
    if (inner > 1) {                   /* rows (inner) with the small operand fixed at c */
        for (size_t o = 0; o < L->outer; o++)
            for (size_t c = 0; c < C; c++) {
                size_t yo = (o * C + c) * inner;  /* the big operand sits where y does */
                do_row(job, yo, sma ? c : yo, sma ? yo : c, inner, !sma, sma);
            }
    } else {                           /* rows (C), the small operand read whole each time */
        for (size_t o = 0; o < L->outer; o++) {
            size_t yo = o * C;
            do_row(job, yo, sma ? 0 : yo, sma ? yo : 0, C, 1, 1);
        }
    }
}

static void walk_general(const bcast *L, const binary_job *job) {
    int nd = L->ndim, last = nd > 0 ? nd - 1 : 0;
    size_t n = nd > 0 ? (size_t)L->shape[last] : 1;  /* row length: y's last dim */
    int sa = n == 1 || L->sa[last] != 0, sb = n == 1 || L->sb[last] != 0;
    int idx[EM_MAX_DIMS] = {0};        /* the current row's index over dims 0 .. nd-2 */
    size_t ao = 0, bo = 0;             /* where the current row starts in a and b     */
    for (size_t yo = 0; yo < L->size; yo += n) {
        do_row(job, yo, ao, bo, n, sa, sb);
        for (int d = nd - 2; d >= 0; d--) {  /* next row: count up, carrying to the left */
            ao += L->sa[d];
            bo += L->sb[d];
            if (++idx[d] < L->shape[d]) break;
            ao -= L->sa[d] * (size_t)L->shape[d];
            bo -= L->sb[d] * (size_t)L->shape[d];
            idx[d] = 0;
        }
    }
}

static void binary_walk(const bcast *L, const binary_job *job) {
    if (L->size == 0) return;
    switch (L->walk) {
    case WALK_SAME: do_row(job, 0, 0, 0, L->size, 1, 1); break;
    case WALK_CHANNEL: walk_channel(L, job); break;
    case WALK_GENERAL: walk_general(L, job); break;
    }
}

/* ---- shared by the four tape wrappers ------------------------------------------- */

/* y = a op b over the broadcast layout L */
static void binary_forward(const bcast *L, row_forward_fn forward, em_real *y,
                           const em_tensor *a, const em_tensor *b) {
    binary_walk(L, &(binary_job){.forward = forward, .y = y, .a = a->data, .b = b->data});
}

/* da, db from dy over the layout, recomputed from the input shapes (cheap: nothing to
 * save). An input that needs no gradient gets none. */
static void binary_node_backward(em_tape *tape, em_node *node, row_backward_fn backward) {
    em_tensor *a = node->inputs[0], *b = node->inputs[1], *y = node->output;
    bcast L = bcast_of(a, b, em_op_name(node->op));
    binary_job job = {.backward = backward, .a = a->data, .b = b->data, .dy = y->grad,
                      .da = em_node_grad(tape, node, 0), .db = em_node_grad(tape, node, 1)};
    if (job.da || job.db) binary_walk(&L, &job);
}

/* ---- gradient helpers for one row (dy, the output gradient, always steps) ---------- */

/* d[i sd] += k dy[i]; a fixed d (sd = 0) receives k times the row's sum */
static void acc_scaled(em_real *d, int sd, const em_real *dy, em_real k, size_t n) {
    if (!d) return;
    if (sd) {
        for (size_t i = 0; i < n; i++) d[i] += k * dy[i];
    } else {
        double s = 0;
        for (size_t i = 0; i < n; i++) s += dy[i];
        d[0] += (em_real)(k * s);
    }
}

/* d[i sd] += dy[i] v[i sv]   (sd = 0 implies sv = 1: the row steps through one of them) */
static void acc_times(em_real *d, int sd, const em_real *dy, const em_real *v, int sv,
                      size_t n) {
    if (!d) return;
    if (!sd) {
        double s = 0;
        for (size_t i = 0; i < n; i++) s += (double)dy[i] * v[i];
        d[0] += (em_real)s;
    } else if (sv) {
        for (size_t i = 0; i < n; i++) d[i] += dy[i] * v[i];
    } else {
        const em_real v0 = v[0];
        for (size_t i = 0; i < n; i++) d[i] += dy[i] * v0;
    }
}

/* ---- add: y = a + b --------------------------------------------------------------- */

static void add_forward(em_real *y, const em_real *a, const em_real *b, size_t n, int sa,
                        int sb) {
    if (sa && sb) {
        for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
    } else if (sa) {
        const em_real b0 = b[0];
        for (size_t i = 0; i < n; i++) y[i] = a[i] + b0;
    } else {
        const em_real a0 = a[0];
        for (size_t i = 0; i < n; i++) y[i] = a0 + b[i];
    }
}

/* da += dy,   db += dy */
static void add_backward(em_real *da, em_real *db, const em_real *dy, const em_real *a,
                         const em_real *b, size_t n, int sa, int sb) {
    (void)a, (void)b;
    acc_scaled(da, sa, dy, 1, n);
    acc_scaled(db, sb, dy, 1, n);
}

/* The table's entries (core/kernels.h) for two operands of one shape, a residual block's
 * sum: y = a + b, and d = dy or d += dy for each input. The broadcasting cases stay on the
 * walks above, on every tier. */
void em_ref_add(em_real *y, const em_real *a, const em_real *b, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void em_ref_add_backward(em_real *d, bool add, const em_real *dy, size_t n) {
    for (size_t i = 0; i < n; i++) d[i] = add ? d[i] + dy[i] : dy[i];
}

static void add_node_backward(em_tape *tape, em_node *node) {
    em_tensor *a = node->inputs[0], *b = node->inputs[1], *y = node->output;
    if (!em_shape_equal(a, b)) {
        binary_node_backward(tape, node, add_backward);
        return;
    }
    for (int i = 0; i < 2; i++) {  /* x + x: the second finds the first's gradient, adds */
        bool fresh;
        em_real *d = em_node_grad_fresh(tape, node, i, &fresh);
        if (d) tape->kernels->add_backward(d, !fresh, y->grad, y->size);
    }
}

em_tensor *em_add(em_tape *tape, em_tensor *a, em_tensor *b) {
    if (!em_tape_ok(tape)) return NULL;
    bcast L = bcast_of(a, b, "em_add");
    em_tensor *y = em_tape_tensor(tape, L.ndim, L.shape);  /* the broadcast shape */
    if (!y) return NULL;
    if (em_shape_equal(a, b)) tape->kernels->add(y->data, a->data, b->data, y->size);
    else binary_forward(&L, add_forward, y->data, a, b);
    em_tape_record(tape, EM_OP_ADD, y, add_node_backward, 2, a, b);
    return y;
}

/* ---- sub: y = a - b --------------------------------------------------------------- */

static void sub_forward(em_real *y, const em_real *a, const em_real *b, size_t n, int sa,
                        int sb) {
    if (sa && sb) {
        for (size_t i = 0; i < n; i++) y[i] = a[i] - b[i];
    } else if (sa) {
        const em_real b0 = b[0];
        for (size_t i = 0; i < n; i++) y[i] = a[i] - b0;
    } else {
        const em_real a0 = a[0];
        for (size_t i = 0; i < n; i++) y[i] = a0 - b[i];
    }
}

/* da += dy,   db -= dy */
static void sub_backward(em_real *da, em_real *db, const em_real *dy, const em_real *a,
                         const em_real *b, size_t n, int sa, int sb) {
    (void)a, (void)b;
    acc_scaled(da, sa, dy, 1, n);
    acc_scaled(db, sb, dy, -1, n);
}

static void sub_node_backward(em_tape *tape, em_node *node) {
    binary_node_backward(tape, node, sub_backward);
}

em_tensor *em_sub(em_tape *tape, em_tensor *a, em_tensor *b) {
    if (!em_tape_ok(tape)) return NULL;
    bcast L = bcast_of(a, b, "em_sub");
    em_tensor *y = em_tape_tensor(tape, L.ndim, L.shape);  /* the broadcast shape */
    if (!y) return NULL;
    binary_forward(&L, sub_forward, y->data, a, b);
    em_tape_record(tape, EM_OP_SUB, y, sub_node_backward, 2, a, b);
    return y;
}

/* ---- mul: y = a * b --------------------------------------------------------------- */

static void mul_forward(em_real *y, const em_real *a, const em_real *b, size_t n, int sa,
                        int sb) {
    if (sa && sb) {
        for (size_t i = 0; i < n; i++) y[i] = a[i] * b[i];
    } else if (sa) {
        const em_real b0 = b[0];
        for (size_t i = 0; i < n; i++) y[i] = a[i] * b0;
    } else {
        const em_real a0 = a[0];
        for (size_t i = 0; i < n; i++) y[i] = a0 * b[i];
    }
}

/* da += dy * b,   db += dy * a */
static void mul_backward(em_real *da, em_real *db, const em_real *dy, const em_real *a,
                         const em_real *b, size_t n, int sa, int sb) {
    acc_times(da, sa, dy, b, sb, n);
    acc_times(db, sb, dy, a, sa, n);
}

static void mul_node_backward(em_tape *tape, em_node *node) {
    binary_node_backward(tape, node, mul_backward);
}

em_tensor *em_mul(em_tape *tape, em_tensor *a, em_tensor *b) {
    if (!em_tape_ok(tape)) return NULL;
    bcast L = bcast_of(a, b, "em_mul");
    em_tensor *y = em_tape_tensor(tape, L.ndim, L.shape);  /* the broadcast shape */
    if (!y) return NULL;
    binary_forward(&L, mul_forward, y->data, a, b);
    em_tape_record(tape, EM_OP_MUL, y, mul_node_backward, 2, a, b);
    return y;
}

/* ---- div: y = a / b --------------------------------------------------------------- */

static void div_forward(em_real *y, const em_real *a, const em_real *b, size_t n, int sa,
                        int sb) {
    if (sa && sb) {
        for (size_t i = 0; i < n; i++) y[i] = a[i] / b[i];
    } else if (sa) {
        const em_real b0 = b[0];
        for (size_t i = 0; i < n; i++) y[i] = a[i] / b0;
    } else {
        const em_real a0 = a[0];
        for (size_t i = 0; i < n; i++) y[i] = a0 / b[i];
    }
}

/* da += dy / b,   db -= dy * a / b^2 */
static void div_backward(em_real *da, em_real *db, const em_real *dy, const em_real *a,
                         const em_real *b, size_t n, int sa, int sb) {
    if (da) {
        if (!sa) {                             /* a fixed, b steps */
            double s = 0;
            for (size_t i = 0; i < n; i++) s += (double)dy[i] / b[i];
            da[0] += (em_real)s;
        } else if (sb) {
            for (size_t i = 0; i < n; i++) da[i] += dy[i] / b[i];
        } else {
            const em_real b0 = b[0];
            for (size_t i = 0; i < n; i++) da[i] += dy[i] / b0;
        }
    }
    if (db) {
        if (!sb) {                             /* b fixed, a steps: -sum(dy a) / b^2 */
            double s = 0, b0 = b[0];
            for (size_t i = 0; i < n; i++) s += (double)dy[i] * a[i];
            db[0] -= (em_real)(s / (b0 * b0));
        } else if (sa) {
            for (size_t i = 0; i < n; i++) db[i] -= dy[i] * a[i] / (b[i] * b[i]);
        } else {
            const em_real a0 = a[0];
            for (size_t i = 0; i < n; i++) db[i] -= dy[i] * a0 / (b[i] * b[i]);
        }
    }
}

static void div_node_backward(em_tape *tape, em_node *node) {
    binary_node_backward(tape, node, div_backward);
}

em_tensor *em_div(em_tape *tape, em_tensor *a, em_tensor *b) {
    if (!em_tape_ok(tape)) return NULL;
    bcast L = bcast_of(a, b, "em_div");
    em_tensor *y = em_tape_tensor(tape, L.ndim, L.shape);  /* the broadcast shape */
    if (!y) return NULL;
    binary_forward(&L, div_forward, y->data, a, b);
    em_tape_record(tape, EM_OP_DIV, y, div_node_backward, 2, a, b);
    return y;
}

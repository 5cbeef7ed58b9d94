/* core/ops/loss.c — softmax cross-entropy for classification.
 *
 * Log-sum-exp. With m = max_c z_c,
 *   log sum_c e^(z_c) = m + log sum_c e^(z_c - m),
 * and every e^(z_c - m) is in (0, 1] with at least one term equal to 1: nothing
 * overflows (e^1000 = inf in any precision) and the log never sees 0 (e^-1000 = 0). */
#include <math.h>
#include <string.h>

#include "../kernels.h"
#include "reference.h"

/* ---- cross_entropy: y = -(1/N) sum_n log softmax(z_n)[label_n] -----------------------
 * z: logits (N, C), labels (N) in [0, C), y: (1). Per row,
 *   -log softmax(z)[k] = log sum_c e^(z_c) - z_k = m + log sum_c e^(z_c - m) - z_k. */

/* What forward keeps for backward, in the arena. */
typedef struct ce_saved {
    em_real *probs;  /* (N, C) softmax of each row of z                        */
    int *labels;     /* (N) a copy: the caller may reuse its array before backward */
} ce_saved;

/* probs may be NULL (nothing to save when no gradient is wanted). */
void em_ref_cross_entropy(em_real *y, em_real *probs, const em_real *z, const int *labels,
                          int N, int C) {
    double total = 0;  /* sum over rows of -log softmax(z_n)[label_n] */
    for (int n = 0; n < N; n++) {
        const em_real *zn = z + (size_t)n * C;  /* (C) */
        double m = zn[0];
        for (int c = 1; c < C; c++)
            if (zn[c] > m) m = zn[c];
        double s = 0;  /* sum_c e^(z_c - m), in [1, C] */
        for (int c = 0; c < C; c++) s += exp(zn[c] - m);
        total += m + log(s) - zn[labels[n]];
        if (probs) {
            em_real *pn = probs + (size_t)n * C;  /* (C) */
            for (int c = 0; c < C; c++) pn[c] = (em_real)(exp(zn[c] - m) / s);
        }
    }
    y[0] = (em_real)(total / N);
}

/* dz_nc (+)= dy (softmax(z_n)_c - [c = label_n]) / N */
void em_ref_cross_entropy_backward(em_real *dz, bool add, const em_real *dy,
                                   const em_real *probs, const int *labels, int N, int C) {
    double g = (double)dy[0] / N;  /* the upstream gradient, shared by the N rows */
    for (int n = 0; n < N; n++) {
        em_real *dzn = dz + (size_t)n * C;            /* (C) */
        const em_real *pn = probs + (size_t)n * C;    /* (C) */
        for (int c = 0; c < C; c++)
            dzn[c] = (add ? dzn[c] : 0) + (em_real)(g * ((double)pn[c] - (c == labels[n])));
    }
}

static void cross_entropy_node_backward(em_tape *tape, em_node *node) {
    bool fresh;
    em_real *dz = em_node_grad_fresh(tape, node, 0, &fresh);
    if (!dz) return;
    em_tensor *z = node->inputs[0], *y = node->output;
    const ce_saved *saved = node->saved;
    tape->kernels->cross_entropy_backward(dz, !fresh, y->grad, saved->probs, saved->labels,
                                          z->shape[0], z->shape[1]);
}

em_tensor *em_cross_entropy(em_tape *tape, em_tensor *logits, const int *labels) {
    if (!em_tape_ok(tape)) return NULL;
    EM_ASSERT_MSG(logits->ndim == 2, "em_cross_entropy: logits must be (N, C)");
    EM_ASSERT_MSG(labels != NULL, "em_cross_entropy: labels is NULL");
    int N = logits->shape[0], C = logits->shape[1];
    EM_ASSERT_MSG(N > 0 && C > 0, "em_cross_entropy: empty batch or no classes");
    for (int n = 0; n < N; n++)
        EM_ASSERT_MSG(labels[n] >= 0 && labels[n] < C,
                      "em_cross_entropy: a label is outside [0, C)");
    em_tensor *y = em_tape_tensor(tape, 1, (int[]){1});
    if (!y) return NULL;
    /* Record first: whether a node exists decides whether forward saves the softmax. */
    em_node *node = em_tape_record(tape, EM_OP_CROSS_ENTROPY, y, cross_entropy_node_backward,
                                   1, logits);
    em_real *probs = NULL;
    if (node) {
        ce_saved *saved = em_tape_alloc(tape, sizeof *saved);
        if (!saved) return NULL;
        saved->probs = em_tape_alloc(tape, logits->size * sizeof(em_real));
        saved->labels = em_tape_alloc(tape, (size_t)N * sizeof(int));
        if (!saved->probs || !saved->labels) return NULL;
        memcpy(saved->labels, labels, (size_t)N * sizeof(int));
        node->saved = saved;
        probs = saved->probs;
    }
    tape->kernels->cross_entropy(y->data, probs, logits->data, labels, N, C);
    return y;
}

/* core/ops/dropout.c — inverted dropout.
 *
 * In training each element is kept with probability 1 - p and the kept ones are scaled
 * by 1/(1 - p), so E[y] = x and evaluation needs no rescaling: there dropout is the
 * identity. The mask is drawn from the caller's em_rng, so a run is reproducible from its
 * seed, and saved as the scale factors themselves (0 or 1/(1 - p)) so that backward is
 * one multiply. Shapes: x, y, mask, dx, dy are any shape of n elements.
 */
#include <stdint.h>

#include "../ops_image.h"

/* mask[i] = 1/(1 - p) with probability 1 - p, else 0. One 32-bit draw per element:
 * u < p 2^32 (probability p, to within 2^-32) drops the element. */
static void dropout_mask(em_real *mask, em_rng *rng, double p, size_t n) {
    const uint64_t drop_below = (uint64_t)(p * 4294967296.0);  /* p 2^32 < 2^32 */
    const em_real scale = (em_real)(1.0 / (1.0 - p));
    for (size_t i = 0; i < n; i++) mask[i] = em_rng_u32(rng) < drop_below ? 0 : scale;
}

/* y = x * mask */
static void dropout_forward(em_real *y, const em_real *mask, const em_real *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] * mask[i];
}

/* dx += dy * mask */
static void dropout_backward(em_real *dx, const em_real *dy, const em_real *mask, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * mask[i];
}

static void dropout_node_backward(em_tape *tape, em_node *node) {
    em_tensor *y = node->output;
    em_real *dx = em_node_grad(tape, node, 0);
    if (!dx) return;  /* out of memory: the tape is marked failed */
    dropout_backward(dx, y->grad, node->saved, y->size);
}

em_tensor *em_dropout(em_tape *tape, em_tensor *x, em_real p, bool training, em_rng *rng) {
    if (!em_tape_ok(tape)) return NULL;
    EM_ASSERT_MSG(p >= 0 && p < 1, "em_dropout: p must be in [0, 1)");
    if (!training || p == 0) return x;
    EM_ASSERT_MSG(rng != NULL, "em_dropout: training needs an rng");
    em_tensor *y = em_tape_tensor_like(tape, x);
    if (!y) return NULL;
    em_real *mask = em_tape_alloc(tape, x->size * sizeof *mask);  /* shape of x */
    if (!mask) return NULL;
    dropout_mask(mask, rng, p, x->size);
    dropout_forward(y->data, mask, x->data, x->size);
    em_node *node = em_tape_record(tape, EM_OP_DROPOUT, y, dropout_node_backward, 1, x);
    if (node) {
        node->saved = mask;
        node->scalar = p;
    }
    return y;
}

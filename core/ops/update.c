/* core/ops/update.c — the optimizers' parameter updates, the reference: one plain loop over
 * the model's flat parameter block each (optim/ keeps the optimizers' state and options and
 * calls these through the table of core/kernels.h; core/fast/update.c is the fast SGD).
 * p, g, and every state buffer (v, m) are (n), element i belonging to parameter i. */
#include <math.h>

#include "../kernels.h"
#include "reference.h"

/* SGD as PyTorch's torch.optim.SGD, with mu = momentum, d = dampening:
 *   g' = g + weight_decay p                       (L2, added to the gradient)
 *   v  = g'                     on the first step (no dampening on it)
 *   v  = mu v + (1 - d) g'      on every later step
 *   u  = g' + mu v (Nesterov), else u = v         (no momentum: v is NULL and u = g')
 *   p  = p - lr u */
void em_ref_sgd(em_real *p, em_real *v, const em_real *g, size_t n, const em_sgd_hyper *h) {
    const em_real lr = (em_real)h->lr, wd = (em_real)h->weight_decay;
    const em_real mu = (em_real)h->momentum, keep = (em_real)(1.0 - h->dampening);
    for (size_t i = 0; i < n; i++) {
        em_real gi = g[i] + wd * p[i];
        if (!v) {
            p[i] -= lr * gi;
            continue;
        }
        v[i] = h->first ? gi : mu * v[i] + keep * gi;
        p[i] -= lr * (h->nesterov ? gi + mu * v[i] : v[i]);
    }
}

/* Adam and AdamW as PyTorch's, at step t (bias1 = 1 - beta1^t, bias2 = 1 - beta2^t):
 *   AdamW:  p = p (1 - lr weight_decay)           (decoupled decay, before the update)
 *   Adam:   g' = g + weight_decay p               (L2); AdamW: g' = g
 *   m = beta1 m + (1 - beta1) g'                  exp_avg
 *   v = beta2 v + (1 - beta2) g'^2                exp_avg_sq
 *   p = p - (lr / bias1) m / (sqrt(v) / sqrt(bias2) + eps) */
void em_ref_adam(em_real *p, em_real *m, em_real *v, const em_real *g, size_t n,
                 const em_adam_hyper *h) {
    const em_real b1 = (em_real)h->beta1, b2 = (em_real)h->beta2;
    const em_real c1 = (em_real)(1 - h->beta1), c2 = (em_real)(1 - h->beta2);
    const em_real step_size = (em_real)(h->lr / h->bias1), bc2_sqrt = (em_real)sqrt(h->bias2);
    const em_real eps = (em_real)h->eps;
    const em_real l2 = h->decoupled ? 0 : (em_real)h->weight_decay;
    const em_real shrink = (em_real)(1 - h->lr * h->weight_decay);
    for (size_t i = 0; i < n; i++) {
        if (h->decoupled) p[i] *= shrink;
        em_real gi = g[i] + l2 * p[i];
        m[i] = b1 * m[i] + c1 * gi;
        v[i] = b2 * v[i] + c2 * gi * gi;
        em_real denom = sqrt(v[i]) / bc2_sqrt + eps;
        p[i] -= step_size * (m[i] / denom);
    }
}

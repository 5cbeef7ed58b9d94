/* examples/common/landscape.h — Santurkar et al.'s loss-landscape probe (§3.2, App. A.2.2;
 * docs/experiment-protocols.md, E5): at the current parameters theta and a fixed batch, with
 * g = grad L(theta), evaluate theta - eta g for every eta:
 *   loss band            min / max over eta of L(theta - eta g)
 *   gradient predictiveness   min / max over eta of |grad L(theta - eta g) - g|
 *   effective beta       max over eta of |grad L(theta - eta g) - g| / (eta |g|)
 * BatchNorm runs in training mode (the batch's own statistics); the probe restores the
 * parameters, running statistics and counters bit-exactly and leaves the gradients zero.
 * It never touches an optimizer. */
#ifndef EM_LANDSCAPE_H
#define EM_LANDSCAPE_H

#include "layers/module.h"

/* The loss on the fixed batch, recorded on tape (forward through net, then the loss). */
typedef em_tensor *(*em_loss_fn)(void *ctx, em_module *net, em_tape *tape);

typedef struct em_landscape {
    double loss0, gnorm;                /* L(theta), |g|                               */
    double loss_min, loss_max;
    double gp_min, gp_max;              /* |g_eta - g|                                 */
    double gp_rel_max;                  /* max |g_eta - g| / |g| (guards against scale) */
    double beta_eff;
} em_landscape;

/* Fills out; loss_eta/gp_eta (n each) may be NULL. Non-finite losses count as +inf. */
em_code em_landscape_probe(em_module *net, em_tape *tape, em_loss_fn loss, void *ctx,
                           const double *etas, int n, em_landscape *out, double *loss_eta,
                           double *gp_eta, em_error *err);

#endif

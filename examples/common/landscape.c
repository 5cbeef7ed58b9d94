/* examples/common/landscape.c — see landscape.h. */
#include "landscape.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "examples/common/snapshot.h"

/* L and its gradient (into the parameter block's grad, zeroed first) at the current theta */
static em_code loss_and_grad(em_module *net, em_tape *tape, em_loss_fn fn, void *ctx,
                             double *loss, em_error *err) {
    em_module_zero_grad(net);
    em_tensor *l = fn(ctx, net, tape);
    em_code code = l ? em_backward(tape, l) : tape->status;
    if (code != EM_OK) {
        em_error_set(err, code, "landscape probe: %s", tape->err.msg);
        em_tape_reset(tape);
        return code;
    }
    *loss = l->data[0];
    em_tape_reset(tape);
    return EM_OK;
}

em_code em_landscape_probe(em_module *net, em_tape *tape, em_loss_fn fn, void *ctx,
                           const double *etas, int n, em_landscape *out, double *loss_eta,
                           double *gp_eta, em_error *err) {
    em_params p = em_module_params(net);
    em_snapshot snap;
    em_real *theta = malloc(p.n * sizeof *theta), *g = malloc(p.n * sizeof *g);
    if (!theta || !g || !em_snapshot_take(&snap, net)) {
        free(theta);
        free(g);
        return em_error_set(err, EM_ERR_NOMEM, "landscape probe: out of memory");
    }
    memcpy(theta, p.data, p.n * sizeof *theta);
    double l0;
    em_code code = loss_and_grad(net, tape, fn, ctx, &l0, err);
    em_snapshot_restore(&snap, net);            /* the forward updated running statistics */
    if (code == EM_OK) {
        memcpy(g, p.grad, p.n * sizeof *g);
        double gn = 0;
        for (size_t i = 0; i < p.n; i++) gn += (double)g[i] * g[i];
        gn = sqrt(gn);
        *out = (em_landscape){.loss0 = l0, .gnorm = gn, .loss_min = INFINITY, .loss_max = -INFINITY,
                              .gp_min = INFINITY, .gp_max = -INFINITY, .gp_rel_max = 0, .beta_eff = 0};
        for (int k = 0; k < n && code == EM_OK; k++) {
            /* theta' = theta - eta g */
            for (size_t i = 0; i < p.n; i++) p.data[i] = (em_real)(theta[i] - etas[k] * g[i]);
            double l = NAN;
            code = loss_and_grad(net, tape, fn, ctx, &l, err);
            double d = 0;
            for (size_t i = 0; i < p.n; i++) {
                double e = (double)p.grad[i] - g[i];
                d += e * e;
            }
            d = sqrt(d);
            em_snapshot_restore(&snap, net);
            if (!isfinite(l)) l = INFINITY;
            if (!isfinite(d)) d = INFINITY;
            if (loss_eta) loss_eta[k] = l;
            if (gp_eta) gp_eta[k] = d;
            out->loss_min = fmin(out->loss_min, l);
            out->loss_max = fmax(out->loss_max, l);
            out->gp_min = fmin(out->gp_min, d);
            out->gp_max = fmax(out->gp_max, d);
            if (gn > 0) {
                out->gp_rel_max = fmax(out->gp_rel_max, d / gn);
                out->beta_eff = fmax(out->beta_eff, d / (etas[k] * gn));
            }
        }
    }
    em_module_zero_grad(net);
    em_snapshot_restore(&snap, net);
    em_snapshot_free(&snap);
    free(theta);
    free(g);
    return code;
}

/* examples/ablation/exp_noisybn.c — E6 (optional), Santurkar et al.'s "noisy BN" (§2.1,
 * Algorithm 1; docs/experiment-protocols.md E6): after a layer's (batch-normalized) pre-activation a,
 * at every training step and for every unit j,
 *     mu_j ~ U(-n_mu, n_mu),  sigma_j ~ U(1, n_sigma)                 (per step, per unit)
 *     m_ij ~ U(mu_j - r_mu, mu_j + r_mu),  s_ij ~ N(sigma_j, r_sigma)  (per example)
 *     a_ij <- s_ij a_ij + m_ij           n_mu = 0.5, n_sigma = 1.25, r_mu = r_sigma = 0.1
 * — a time-varying distribution shift that BatchNorm does not undo. Four variants of one
 * deep MLP: standard, BN, noisy BN (the noise after every BN) and standard + noise (the
 * same noise after every linear layer). The noise is a module of this file, built from
 * em_mul and em_add with constant tensors (so the backward is the tape's), identity in
 * evaluation mode. It also measures what Santurkar's Fig. 8 plots: the per-step change
 * of one unit's batch mean, |mu_{t+1} - mu_t|, of the activation it outputs (a module with
 * the noise off does only that, for the variants without noise). Two networks: E3a's deep
 * ReLU MLP 784-[100x6]-10 (He init) and E7's deep sigmoid MLP 784-[100x8]-10 (Xavier),
 * both at plain-SGD lr 0.1 (the protocol's example), 2500 steps. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ablate.h"
#include "examples/common/train.h"
#include "layers/layers.h"

#define N_MU 0.5
#define N_SIGMA 1.25
#define R_MU 0.1
#define R_SIGMA 0.1
#define TRACK_LAYER 3      /* Fig. 8's |dmu| is reported for this hidden layer (1-based) */

/* ---- the noise module ------------------------------------------------------------------ */

typedef struct noise {
    em_module base;
    bool on;               /* false: the identity (it only measures)                   */
    em_rng rng;
    /* |mu_{t+1} - mu_t| of unit 0's batch mean over the training forwards */
    double prev_mean, sum_dmu;
    long n_means;
} noise;

static em_tensor *noise_fwd(em_module *m, em_tape *tape, em_tensor *x) {
    noise *z = (noise *)m;
    if (!m->training || !x) return x;
    EM_ASSERT_MSG(x->ndim == 2, "noise: (N, C) activations");
    int N = x->shape[0], C = x->shape[1];
    em_tensor *y = x;
    if (z->on) {
        em_tensor *s = em_tape_tensor_like(tape, x), *a = em_tape_tensor_like(tape, x);
        if (!s || !a) return NULL;
        for (int j = 0; j < C; j++) {
            double mu = em_rng_uniform_range(&z->rng, -N_MU, N_MU);
            double sigma = em_rng_uniform_range(&z->rng, 1, N_SIGMA);
            for (int i = 0; i < N; i++) {
                a->data[(size_t)i * C + j] = (em_real)em_rng_uniform_range(&z->rng, mu - R_MU, mu + R_MU);
                s->data[(size_t)i * C + j] = (em_real)em_rng_normal(&z->rng, sigma, R_SIGMA);
            }
        }
        y = em_add(tape, em_mul(tape, x, s), a);
        if (!y) return NULL;
    }
    double mean = 0;
    for (int i = 0; i < N; i++) mean += y->data[(size_t)i * C];
    mean /= N;
    if (z->n_means++) z->sum_dmu += fabs(mean - z->prev_mean);
    z->prev_mean = mean;
    return y;
}

static void noise_free(em_module *m) { free(m); }

/* the noise stream is split off the init rng: the run's seed fixes it */
static void noise_init(em_module *m, em_rng *rng, const em_init *init) {
    (void)init;
    ((noise *)m)->rng = em_rng_split(rng, 0x6e01);
}

static void noise_describe(const em_module *m, char *buf, size_t len) {
    snprintf(buf, len, ((const noise *)m)->on ? "Noise(n_mu=%g, n_sigma=%g, r=%g)" : "Track()",
             N_MU, N_SIGMA, R_MU);
}

static em_rng *noise_rng(em_module *m) { return &((noise *)m)->rng; }

static const em_module_ops noise_ops = {.kind = "Noise", .forward = noise_fwd,
                                        .free = noise_free, .init = noise_init,
                                        .describe = noise_describe, .rng = noise_rng};

static em_module *noise_new(bool on) {
    noise *z = calloc(1, sizeof *z);
    if (!z) return NULL;
    z->base.ops = &noise_ops;
    z->base.training = true;
    z->on = on;
    return &z->base;
}

/* ---- the networks ---------------------------------------------------------------------- */

/* flatten, then per hidden layer: linear [BN] (noise | track) act; then linear -> 10.
 * cfg.bn says BN; the noise is on in the variants named "...noise..." */
static em_module *noisy_mlp(const ab_run *run, const int chw[3]) {
    em_model_opts mo = em_config_model_opts(&run->cfg);
    bool on = strstr(run->variant, "nois") != NULL;
    int width = run->width;
    em_module *m[64];
    int n = 0, in = chw[0] * chw[1] * chw[2];
    m[n++] = em_flatten_new();
    for (int l = 0; l < run->n_hidden && n < 58; l++) {
        m[n++] = em_linear_new(l ? width : in, width, !mo.bn);
        if (mo.bn) m[n++] = em_batchnorm1d_new(width, &mo.bn_opts);
        m[n++] = noise_new(on);
        m[n++] = !strcmp(run->act, "sigmoid") ? em_sigmoid_new() : em_relu_new();
    }
    m[n++] = em_linear_new(width, 10, true);
    for (int i = 0; i < n; i++)
        if (!m[i]) {
            for (int j = 0; j < n; j++) em_module_free(m[j]);
            return NULL;
        }
    return em_sequential_new(n, m);
}

/* at the end of a run: mean |dmu| per step of each hidden layer's tracked unit */
static void record_dmu(const ab_run *run, int index, em_trainer *t, long step, FILE *out, void **state) {
    (void)run;
    (void)state;
    if (step >= 0) return;
    int layer = 0;
    for (int i = 0; i < em_sequential_len(t->net); i++) {
        em_module *m = em_sequential_at(t->net, i);
        if (m->ops != &noise_ops) continue;
        noise *z = (noise *)m;
        char name[32];
        snprintf(name, sizeof name, "mean_abs_dmu.L%d", ++layer);
        ab_curve(out, index, t->step, name, z->n_means > 1 ? z->sum_dmu / (double)(z->n_means - 1) : NAN);
    }
}

/* ---- the experiment -------------------------------------------------------------------- */

static const char *const variant_names[4] = {"standard", "bn", "noisy-bn", "standard-noise"};

static bool expand(const ab_ctx *ctx, ab_run *runs, int *n) {
    const ab_opts *o = ctx->o;
    for (int net = 0; net < (o->quick ? 1 : 2); net++)
        for (int v = 0; v < 4; v++) {
            ab_run *r = ab_run_add(ctx, runs, n, "noisy-bn");
            if (!r) return false;
            snprintf(r->variant, sizeof r->variant, "%s-%s", net ? "sigmoid" : "relu", variant_names[v]);
            r->model = noisy_mlp;
            r->n_hidden = net ? 8 : 6;
            r->width = 100;
            snprintf(r->act, sizeof r->act, "%s", net ? "sigmoid" : "relu");
            snprintf(r->cfg.init, sizeof r->cfg.init, "%s", net ? "xavier" : "kaiming-normal");
            r->cfg.bn = v == 1 || v == 2;
            r->cfg.lr = o->n_lrs ? o->lrs[0] : 0.1;
            r->cfg.batch = o->batch ? o->batch : 64;
            r->cfg.seed = 1;
            r->cfg.train_limit = o->train_limit ? o->train_limit : o->quick ? 10000 : 0;
            r->cfg.epochs = 1000;
            r->cfg.steps = o->steps ? o->steps : o->quick ? 400 : 2500;
            r->curve_every = o->quick ? 10 : 25;
            r->probe = record_dmu;
            r->probe_every = 0;
        }
    return true;
}

static void report(ab_report *rep) {
    FILE *f = rep->md;
    const ab_ctx *ctx = rep->ctx;
    fprintf(f, "Noise after every hidden layer's (batch-normalized) pre-activation, at every "
               "training step: per unit mu ~ U(-%g, %g), sigma ~ U(1, %g); per example shift "
               "U(mu - %g, mu + %g) and scale N(sigma, %g) (Santurkar Algorithm 1). Plain SGD "
               "lr %g, batch 64, %s, seed 1. Train accuracy: the mean batch accuracy of the "
               "last (partial) epoch (0.1, chance, for a run stopped as diverged). abs(dmu): the mean over steps of the change of hidden layer "
               "%d's unit 0 batch mean (after the noise), Santurkar's Fig. 8.\n\n",
            N_MU, N_MU, N_SIGMA, R_MU, R_MU, R_SIGMA,
            rep->n_runs ? rep->runs[ab_find(rep, "noisy-bn", "relu-standard") >= 0
                                        ? ab_find(rep, "noisy-bn", "relu-standard") : 0].cfg.lr : 0.1,
            ctx->o->quick ? "400 steps on 10k images (quick)" : "2500 steps", TRACK_LAYER);
    ab_runs_table(rep, "noisy-bn", NULL);
    static const char *const nets[2] = {"relu", "sigmoid"};
    static const char *const titles[2] = {"deep ReLU MLP 784-[100x6]-10", "deep sigmoid MLP 784-[100x8]-10"};
    for (int net = 0; net < 2; net++) {
        int r[4];
        double acc[4], dmu[4];
        bool ok = true;
        for (int v = 0; v < 4; v++) {
            char name[48], key[32];
            snprintf(name, sizeof name, "%s-%s", nets[net], variant_names[v]);
            r[v] = ab_find(rep, "noisy-bn", name);
            if (r[v] < 0) {
                ok = false;
                break;
            }
            const ab_result *s = &rep->res[r[v]];
            acc[v] = NAN;
            ab_result_extra(s, "final_train_acc", &acc[v]);
            if (s->diverged_step > 0 || !isfinite(acc[v])) acc[v] = 0.1;   /* stopped: chance */
            snprintf(key, sizeof key, "mean_abs_dmu.L%d", TRACK_LAYER);
            dmu[v] = ab_value_at(rep, r[v], key, rep->res[r[v]].steps);
        }
        if (!ok) continue;
        fprintf(f, "#### %s\n\n| variant | train acc | test acc | outcome | mean abs(dmu), layer %d |\n"
                   "|---|---|---|---|---|\n", titles[net], TRACK_LAYER);
        for (int v = 0; v < 4; v++)
            fprintf(f, "| %s | %.4f | %.4f | %s | %.4g |\n", variant_names[v], acc[v],
                    rep->res[r[v]].final_test_acc, rep->res[r[v]].outcome, dmu[v]);
        fprintf(f, "\n| criterion | what | measured | result |\n|---|---|---|---|\n");
        char s[200], id[32];
        snprintf(id, sizeof id, "E6 (%s)", nets[net]);
        snprintf(s, sizeof s, "train acc: noisy BN %.4f, BN %.4f, standard %.4f", acc[2], acc[1], acc[0]);
        ab_criterion(rep, id, "noisy BN's train accuracy >= BN - 3 pp and >= standard + 5 pp", s,
                     acc[2] >= acc[1] - 0.03 && acc[2] >= acc[0] + 0.05);
        snprintf(s, sizeof s, "standard + noise: train acc %.4f", acc[3]);
        ab_criterion(rep, id, "standard + noise ends at <= 20% train accuracy", s, acc[3] <= 0.20);
        snprintf(s, sizeof s, "mean abs(dmu): noisy BN %.4g, standard %.4g (BN %.4g)", dmu[2], dmu[0], dmu[1]);
        ab_criterion(rep, id, "mean abs(dmu) of a unit: noisy BN >= 2x standard", s, dmu[2] >= 2 * dmu[0]);
        ab_plot p;
        char fig[48], title[160];
        snprintf(fig, sizeof fig, "noisy_bn_%s", nets[net]);
        int len = snprintf(title, sizeof title, "E6: noisy BN, deep %s MLP", nets[net]);
        for (int v = 0; v < 4; v++)   /* a run stopped early may have no curve point at all */
            if (rep->res[r[v]].diverged_step > 0 && len < (int)sizeof title)
                len += snprintf(title + len, sizeof title - (size_t)len, "; %s diverged at step %ld",
                                variant_names[v], rep->res[r[v]].diverged_step);
        if (ab_plot_begin(rep, &p, fig, title, "training step", "training loss", false, true)) {
            for (int v = 0; v < 4; v++) ab_plot_metric(rep, &p, r[v], "train_loss", variant_names[v], "lines lw 2");
            ab_plot_end(rep, &p, "E6 (Santurkar Fig. 2 style): training loss of standard, BN, noisy BN "
                                 "and standard + noise");
        }
    }
}

const ab_experiment ab_exp_noisy_bn = {"noisy-bn", "E6: noisy BN (Santurkar's distribution-shift "
                                       "noise after BN)", expand, report};

/* examples/ablation/exp_initgrad.c — gradient explosion in deep BatchNorm networks at
 * initialization (Yang et al. 2019, "A Mean Field Theory of Batch Normalization"). No
 * training: plain (no skip connections) ReLU MLPs of D hidden layers of width WIDTH, He
 * init, with BatchNorm before every ReLU and without; one forward and backward of the
 * cross-entropy on each of N_BATCHES training batches of BATCH images; the Frobenius norm
 * of each hidden layer's weight gradient, averaged over the batches. Yang et al.: with
 * BatchNorm the gradient grows towards the input by a factor per layer that no choice of
 * initial weight variance removes, about sqrt(pi / (pi - 1)) = 1.21 for ReLU in the limit
 * of wide layers and large batches (larger for small batches); without BatchNorm, at He
 * init, it stays level. curves.csv: metric grad_norm, "step" = the layer (1 = input side). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ablate.h"
#include "examples/common/train.h"

static const int depths[] = {8, 16, 32, 64};
static const int quick_depths[] = {4, 16};
#define N_D 4
#define N_QD 2
#define N_BATCHES 4
#define MAX_LAYERS 128
#define THEORY 1.2113   /* sqrt(pi / (pi - 1)) */

static int n_depths(const ab_ctx *ctx) { return ctx->o->quick ? N_QD : N_D; }
static int depth_at(const ab_ctx *ctx, int i) { return ctx->o->quick ? quick_depths[i] : depths[i]; }
static int width_of(const ab_opts *o) { return o->quick ? 128 : 256; }

typedef struct grads {
    em_tensor *w[MAX_LAYERS];
    int n;
} grads;

static bool collect(void *ctx, const char *name, const em_entry *e) {
    (void)name;
    grads *g = ctx;
    if (e->kind == EM_ENTRY_PARAM && e->tensor->ndim == 2 && g->n < MAX_LAYERS) g->w[g->n++] = e->tensor;
    return true;
}

static int measure(const ab_ctx *ctx, int index, const ab_run *run, ab_result *res, FILE *out) {
    em_trainer t;
    em_error err;
    if (ab_trainer_new(ctx, run, &t, &err) != EM_OK) {
        fprintf(stderr, "ember-ablate: %s/%s: %s\n", run->experiment, run->variant, err.msg);
        em_trainer_free(&t);
        return 1;
    }
    grads g = {.n = 0};
    em_module_visit(t.net, collect, &g);
    int hidden = g.n - 1;   /* the last weight matrix is the classifier's */
    double sum[MAX_LAYERS] = {0};
    em_module_train(t.net, true);
    em_loader_begin_epoch(t.train, 0);
    int n, status = 0;
    for (int b = 0; b < N_BATCHES && !status; b++) {
        if (!em_loader_next(t.train, t.x, t.labels, &n)) break;
        em_optimizer_zero_grad(&t.opt);
        em_tensor *logits = em_module_forward(t.net, t.tape, t.x);
        em_tensor *loss = em_cross_entropy(t.tape, logits, t.labels);
        if (em_backward(t.tape, loss) != EM_OK) {
            fprintf(stderr, "ember-ablate: %s/%s: %s\n", run->experiment, run->variant,
                    t.tape->err.msg);
            status = 1;
        }
        for (int k = 0; k < g.n && !status; k++) {
            double s = 0;
            for (size_t i = 0; i < g.w[k]->size; i++) s += (double)g.w[k]->grad[i] * g.w[k]->grad[i];
            sum[k] += sqrt(s) / N_BATCHES;
        }
        em_tape_reset(t.tape);
    }
    if (!status) {
        for (int k = 0; k < hidden; k++) ab_curve(out, index, k + 1, "grad_norm", sum[k]);
        /* the geometric growth per layer from the last hidden layer to the second (the
         * first one's input is the image, not a hidden layer's output: its norm differs) */
        double growth = hidden > 2 && sum[hidden - 1] > 0
                            ? pow(sum[1] / sum[hidden - 1], 1.0 / (hidden - 2)) : NAN;
        ab_extra(res, out, "growth_per_layer", growth);
        ab_extra(res, out, "grad_norm_first", sum[0]);
        ab_extra(res, out, "grad_norm_last", sum[hidden - 1]);
        res->steps = 0;
        res->final_train_loss = res->final_test_acc = res->best_test_acc = NAN;
        snprintf(res->outcome, sizeof res->outcome, "measured");
    }
    em_trainer_free(&t);
    return status;
}

static bool expand(const ab_ctx *ctx, ab_run *runs, int *n) {
    const ab_opts *o = ctx->o;
    for (int bn = 0; bn < 2; bn++)
        for (int i = 0; i < n_depths(ctx); i++) {
            ab_run *r = ab_run_add(ctx, runs, n, "init-gradients");
            if (!r) return false;
            int d = depth_at(ctx, i);
            snprintf(r->variant, sizeof r->variant, "%s-d%d", bn ? "bn" : "nobn", d);
            r->model = ab_arch_model;
            snprintf(r->arch, sizeof r->arch, "flatten %d*(fc%d bn relu) fc10", d, width_of(o));
            snprintf(r->norm, sizeof r->norm, "%s", bn ? "bn" : "none");
            r->cfg.bn = bn;
            snprintf(r->cfg.init, sizeof r->cfg.init, "kaiming-normal");
            r->cfg.batch = o->batch ? o->batch : 128;
            r->cfg.lr = 0.01;     /* no step is taken */
            r->cfg.seed = 1;
            r->cfg.train_limit = (long)r->cfg.batch * N_BATCHES;
            r->fn = measure;
        }
    return true;
}

static double extra(const ab_report *rep, int i, const char *key) {
    double v;
    return i >= 0 && strcmp(rep->res[i].outcome, "failed") &&
                   ab_result_extra(&rep->res[i], key, &v) ? v : NAN;
}

static void report(ab_report *rep) {
    FILE *f = rep->md;
    const ab_ctx *ctx = rep->ctx;
    const ab_opts *o = ctx->o;
    int nd = n_depths(ctx);
    fprintf(f, "Plain ReLU MLPs `flatten D*(fc%d bn relu) fc10` (no BatchNorm: `fc%d relu`, "
               "with biases), He init, no training: the norm of each hidden layer's weight "
               "gradient of the mean cross-entropy, averaged over %d batches of %d training "
               "images in training mode. Growth per layer = (g_2 / g_D)^(1 / (D - 2)), g_k the norm of layer k, with "
               "layer 1 at the input (whose own input, the image, has another scale).\n\n",
            width_of(o), width_of(o), N_BATCHES, o->batch ? o->batch : 128);
    fprintf(f, "Published (Yang et al. 2019, A Mean Field Theory of Batch Normalization, "
               "ICLR): in a batch-normalized network without skip connections the "
               "gradient norm grows exponentially with depth at initialization, for every "
               "initial weight variance; for ReLU the squared norm grows by pi / (pi - 1) = "
               "1.47 per layer for wide layers and large batches, the norm by 1.21; vanilla "
               "deep BatchNorm networks cannot be trained at large depths.\n\n"
               "| depth D | BN: growth per layer | BN: g_2 / g_D | no BN: growth per "
               "layer | no BN: g_2 / g_D |\n|---|---|---|---|---|\n");
    double growth[2][N_D], first[2][N_D];
    for (int i = 0; i < nd; i++) {
        for (int bn = 0; bn < 2; bn++) {
            char v[32];
            snprintf(v, sizeof v, "%s-d%d", bn ? "bn" : "nobn", depth_at(ctx, i));
            int r = ab_find(rep, "init-gradients", v);
            growth[bn][i] = extra(rep, r, "growth_per_layer");
            first[bn][i] = extra(rep, r, "grad_norm_first");
        }
        double ratio[2];
        for (int bn = 0; bn < 2; bn++)
            ratio[bn] = pow(growth[bn][i], depth_at(ctx, i) - 2);
        fprintf(f, "| %d | %.3f | %.3g | %.3f | %.3g |\n", depth_at(ctx, i), growth[1][i], ratio[1],
                growth[0][i], ratio[0]);
    }
    fprintf(f, "\n| criterion | what | measured | result |\n|---|---|---|---|\n");
    double bn_min = INFINITY, nobn_max = 0;
    bool data = true;
    for (int i = 0; i < nd; i++) {
        data &= !isnan(growth[1][i]) && !isnan(growth[0][i]);
        if (growth[1][i] < bn_min) bn_min = growth[1][i];
        if (growth[0][i] > nobn_max) nobn_max = growth[0][i];
    }
    char s[200];
    snprintf(s, sizeof s, "smallest BN growth over the depths %.3f (theory %.2f)", bn_min, THEORY);
    ab_criterion_data(rep, "init-gradients (a)", "with BN the gradient norm grows towards the "
                      "input by at least 1.1 per layer at every depth", s, data, bn_min >= 1.1);
    snprintf(s, sizeof s, "largest growth without BN %.3f", nobn_max);
    ab_criterion_data(rep, "init-gradients (b)", "without BN (He init) the gradient does not "
                      "grow towards the input: at most 1.05 per layer at every depth", s, data,
                      nobn_max <= 1.05);
    double up_bn = first[1][nd - 1] / first[1][0], up_nobn = first[0][nd - 1] / first[0][0];
    int extra_layers = depth_at(ctx, nd - 1) - depth_at(ctx, 0);
    double need = pow(1.1, extra_layers);   /* (a)'s 1.1 per layer over the added layers */
    snprintf(s, sizeof s, "g_1 at %d layers / at %d layers: BN %.3g (1.1^%d = %.3g), no BN %.3g",
             depth_at(ctx, nd - 1), depth_at(ctx, 0), up_bn, extra_layers, need, up_nobn);
    ab_criterion_data(rep, "init-gradients (c)", "with BN the first layer's gradient grows with "
                      "depth (at least 1.1x per added layer from the shallowest to the deepest "
                      "net), without BN less than 10x", s, !isnan(up_bn) && !isnan(up_nobn),
                      up_bn >= need && up_nobn < 10);
    ab_plot p;
    if (ab_plot_begin(rep, &p, "init_gradients", "gradient norm per layer at initialization",
                      "hidden layer (1 = input side)", "weight gradient norm", false, true)) {
        for (int bn = 1; bn >= 0; bn--)
            for (int i = 0; i < nd; i++) {
                char v[32], title[48];
                snprintf(v, sizeof v, "%s-d%d", bn ? "bn" : "nobn", depth_at(ctx, i));
                snprintf(title, sizeof title, "%s, %d layers", bn ? "BN" : "no BN", depth_at(ctx, i));
                int r = ab_find(rep, "init-gradients", v);
                if (r >= 0)
                    ab_plot_metric(rep, &p, r, "grad_norm", title,
                                   bn ? "linespoints lw 2 pt 7 ps 0.5" : "lines lw 2 dt 2");
            }
        ab_plot_end(rep, &p, "init-gradients: the weight gradient's norm per layer at "
                             "initialization, one curve per depth (solid: BatchNorm, dashed: "
                             "none)");
    }
}

const ab_experiment ab_exp_init_gradients = {"init-gradients", "gradient norm per layer at "
                                             "initialization in deep plain nets with and "
                                             "without BatchNorm (Yang et al. 2019)", expand,
                                             report};

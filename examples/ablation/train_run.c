/* examples/ablation/train_run.c — one classification run on the shared trainer
 * (examples/common/train.c) with a step hook that records the curves the experiments need:
 * the training loss, test accuracy every K steps, per-layer weight norms, and gradient
 * norms and update/weight ratios. No second training loop: the hook only observes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ablate.h"
#include "examples/common/models.h"
#include "examples/common/testfault.h"
#include "examples/common/train.h"

#define RING 100   /* final_train_loss = mean of the last RING batch losses (E3a) */
#define MAX_LAYERS 64

ab_run *ab_run_add(const ab_ctx *ctx, ab_run *runs, int *n, const char *experiment) {
    if (*n >= AB_MAX_RUNS) return NULL;
    ab_run *r = &runs[(*n)++];
    memset(r, 0, sizeof *r);
    r->experiment = experiment;
    em_config_defaults(&r->cfg, EM_PROGRAM_MNIST);
    em_config *c = &r->cfg;
    c->quiet = true;
    snprintf(c->dataset, sizeof c->dataset, "%s", ctx->o->dataset);
    snprintf(c->optim, sizeof c->optim, "sgd");
    c->momentum = 0;                  /* plain SGD unless an experiment says otherwise */
    c->weight_decay = 0;
    snprintf(c->schedule, sizeof c->schedule, "const");
    c->augment = false;
    c->test_limit = ctx->o->quick ? 2000 : 0;
    c->threads = ctx->o->threads;
    if (ctx->o->kernels[0]) snprintf(c->kernels, sizeof c->kernels, "%s", ctx->o->kernels);
    r->n_hidden = -1;
    r->norm_after = -1;
    snprintf(r->act, sizeof r->act, "relu");
    return r;
}

int ab_seeds(const ab_ctx *ctx, int full_default) {
    return ctx->o->seeds > 0 ? ctx->o->seeds : ctx->o->quick ? 1 : full_default;
}

/* Ioffe & Szegedy's MNIST network as E1 trains it (docs/experiment-protocols.md, E1): 784-100-100-100-10
 * sigmoid, N(0, 0.01^2) init, plain SGD lr 0.5, batch 60, 50000 steps (the paper's; 1500
 * quick), a fixed 2k test subset. Shared
 * by the convergence and distributions experiments, which must train the same runs. */
void ab_ioffe_mlp(const ab_ctx *ctx, ab_run *r, bool bn, int seed) {
    const ab_opts *o = ctx->o;
    r->n_hidden = 3;
    r->width = 100;
    snprintf(r->act, sizeof r->act, "sigmoid");
    r->cfg.bn = bn;
    r->cfg.lr = o->n_lrs ? o->lrs[0] : 0.5;
    r->cfg.batch = o->batch ? o->batch : 60;
    snprintf(r->cfg.init, sizeof r->cfg.init, "normal");
    r->cfg.init_scale = 0.01;
    r->cfg.seed = (uint64_t)seed;
    r->cfg.train_limit = o->train_limit;
    r->cfg.test_limit = 2000;
    r->cfg.epochs = 1000;
    r->cfg.steps = o->steps ? o->steps : o->quick ? 1500 : 50000;   /* full: the paper's 50k */
    r->curve_every = o->quick ? 20 : 100;
}

void ab_curve(FILE *out, int run, long step, const char *metric, double value) {
    fprintf(out, "C,%d,%ld,%s,%.6g\n", run, step, metric, value);
}

void ab_extra(ab_result *res, FILE *out, const char *key, double value) {
    if (res->n_extra < AB_MAX_EXTRA) {
        snprintf(res->extra_key[res->n_extra], sizeof res->extra_key[0], "%s", key);
        res->extra_val[res->n_extra++] = value;
    }
    fprintf(out, "X,%s,%.6g\n", key, value);
}

const char *ab_outcome(const ab_ctx *ctx, bool diverged, double final_loss) {
    if (diverged || !isfinite(final_loss) || final_loss > 2.2) return "diverged";
    return final_loss < (ctx->fashion ? 0.8 : 0.5) ? "trained" : "slow";
}

/* A weight matrix of the model: its place in the parameter block. */
typedef struct layer_ref {
    size_t offset, size;
} layer_ref;

typedef struct hook_ctx {
    const ab_run *run;
    int index;
    FILE *out;
    ab_result *res;
    em_params params;
    double ring[RING];
    long ring_n;
    double interval_loss;
    long interval_n;
    int epoch;
    double epoch_acc, epoch_loss;   /* sums of the batch accuracies and losses of this epoch */
    long epoch_n;
    double best_train_acc;
    double best_eval;           /* best test accuracy of the every-K-steps evaluations    */
    layer_ref layers[MAX_LAYERS];
    int n_layers;
    em_real *prev;              /* the parameters before this step (grad-flow)            */
    void *probe_state;
} hook_ctx;

static bool collect_weights(void *vctx, const char *name, const em_entry *e) {
    (void)name;
    hook_ctx *h = vctx;
    /* the weight matrices of Linear layers: 2-d parameters */
    if (e->kind == EM_ENTRY_PARAM && e->tensor->ndim == 2 && h->n_layers < MAX_LAYERS)
        h->layers[h->n_layers++] = (layer_ref){(size_t)(e->tensor->data - h->params.data),
                                               e->tensor->size};
    return true;
}

static double norm2(const em_real *a, const em_real *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = b ? (double)a[i] - (double)b[i] : (double)a[i];
        s += d * d;
    }
    return sqrt(s);
}

/* the mean batch loss and accuracy of the epoch that ended with step `step` */
static void epoch_curves(hook_ctx *h, long step) {
    if (!h->epoch_n) return;
    ab_curve(h->out, h->index, step, "epoch_train_loss", h->epoch_loss / h->epoch_n);
    ab_curve(h->out, h->index, step, "epoch_train_acc", h->epoch_acc / h->epoch_n);
}

/* after each completed epoch's evaluation: its test accuracy */
static int on_epoch(void *vctx, em_trainer *t, em_run_result *r) {
    hook_ctx *h = vctx;
    ab_curve(h->out, h->index, t->step, "epoch_test_acc", r->final_test_acc);
    return 0;
}

static void on_step(void *vctx, em_trainer *t, const em_step_info *s) {
    hook_ctx *h = vctx;
    const ab_run *run = h->run;
    h->ring[h->ring_n++ % RING] = s->loss;
    h->interval_loss += s->loss;
    h->interval_n++;
    if (s->epoch != h->epoch) {          /* best per-epoch training accuracy (E4) */
        if (h->epoch_n && h->epoch_acc / h->epoch_n > h->best_train_acc)
            h->best_train_acc = h->epoch_acc / h->epoch_n;
        if (run->epoch_curves) epoch_curves(h, s->step - 1);
        h->epoch = s->epoch;
        h->epoch_acc = 0;
        h->epoch_loss = 0;
        h->epoch_n = 0;
    }
    h->epoch_acc += s->acc;
    h->epoch_loss += s->loss;
    h->epoch_n++;
    long every = run->curve_every > 0 ? run->curve_every : 10;
    if (s->step % every == 0) {
        ab_curve(h->out, h->index, s->step, "train_loss", h->interval_loss / h->interval_n);
        h->interval_loss = 0;
        h->interval_n = 0;
        char m[32];
        for (int k = 0; k < h->n_layers && (run->weight_norms || run->grad_flow); k++) {
            const em_real *w = h->params.data + h->layers[k].offset;
            double wn = norm2(w, NULL, h->layers[k].size);
            if (run->weight_norms) {
                snprintf(m, sizeof m, "wnorm.L%d", k + 1);
                ab_curve(h->out, h->index, s->step, m, wn);
            }
            if (run->grad_flow && h->prev) {
                /* plain SGD: theta' = theta - lr g, so |g| = |theta - theta'| / lr and the
                 * update/weight ratio is |theta - theta'| / |theta| */
                const em_real *p = h->prev + h->layers[k].offset;
                double up = norm2(p, w, h->layers[k].size), pn = norm2(p, NULL, h->layers[k].size);
                snprintf(m, sizeof m, "gnorm.L%d", k + 1);
                ab_curve(h->out, h->index, s->step, m, s->lr > 0 ? up / s->lr : NAN);
                snprintf(m, sizeof m, "update_ratio.L%d", k + 1);
                ab_curve(h->out, h->index, s->step, m, pn > 0 ? up / pn : NAN);
            }
        }
    }
    if (run->eval_every && s->step % run->eval_every == 0) {
        double loss, acc;
        em_error err;
        if (em_trainer_evaluate(t, &loss, &acc, NULL, &err) == EM_OK) {
            ab_curve(h->out, h->index, s->step, "test_acc", acc);
            if (!(acc <= h->best_eval)) h->best_eval = acc;
            if (run->target > 0 && acc >= run->target && h->res->steps_to_target < 0)
                h->res->steps_to_target = s->step;
        }
    }
    if (run->probe && run->probe_every && s->step % run->probe_every == 0)
        run->probe(run, h->index, t, s->step, h->out, &h->probe_state);
    if (h->prev) memcpy(h->prev, h->params.data, h->params.n * sizeof *h->prev);
}

/* Builds the run's model: the experiment's own (an architecture-language network when
 * run->arch is set), the generic MLP of models.c, or the zoo model cfg.model. */
static em_code trainer_for(const ab_ctx *ctx, const ab_run *run, em_trainer *t, em_error *err) {
    int chw[3] = {ctx->train->c, ctx->train->h, ctx->train->w};
    if (run->model) {
        em_code code = em_trainer_init_net(t, &run->cfg, ctx->train, ctx->test,
                                           run->model(run, chw), chw, run->variant, NULL, err);
        if (code == EM_OK && run->arch[0]) ab_arch_after_init(run, t->net);
        return code;
    }
    if (run->n_hidden < 0) return em_trainer_init(t, &run->cfg, ctx->train, ctx->test, NULL, err);
    em_model_opts mo = em_config_model_opts(&run->cfg);
    em_module *net = em_model_mlp_new(chw, run->n_hidden, run->width, ctx->train->n_classes,
                                      run->act, &mo);
    return em_trainer_init_net(t, &run->cfg, ctx->train, ctx->test, net, chw, "mlp", NULL, err);
}

em_code ab_trainer_new(const ab_ctx *ctx, const ab_run *run, em_trainer *t, em_error *err) {
    em_code code = trainer_for(ctx, run, t, err);
    t->silent = true;
    t->quiet = true;
    return code;
}

int ab_train(const ab_ctx *ctx, int index, const ab_run *run, ab_result *res, FILE *out) {
    return ab_train_on(ctx, ctx->train, index, run, res, out);
}

int ab_train_on(const ab_ctx *base, const em_dataset *train, int index, const ab_run *run,
                ab_result *res, FILE *out) {
    ab_ctx own = *base;
    own.train = train;
    const ab_ctx *ctx = &own;
    em_trainer t;
    em_error err;
    if (ab_trainer_new(ctx, run, &t, &err) != EM_OK) {
        fprintf(stderr, "ember-ablate: %s/%s: %s\n", run->experiment, run->variant, err.msg);
        em_trainer_free(&t);
        return 1;
    }
    hook_ctx h = {.run = run, .index = index, .out = out, .res = res,
                  .params = em_module_params(t.net), .best_eval = -1};
    em_module_visit(t.net, collect_weights, &h);
    if (run->grad_flow) {
        h.prev = malloc(h.params.n * sizeof *h.prev);
        if (h.prev) memcpy(h.prev, h.params.data, h.params.n * sizeof *h.prev);
    }
    res->steps_to_target = -1;
    t.hook = on_step;
    t.hook_ctx = &h;
    if (run->epoch_curves) {
        t.epoch_hook = on_epoch;
        t.epoch_ctx = &h;
    }
    em_test_fault fault;   /* EMBER_TEST_FAULT: tests of a run that fails */
    if (em_test_fault_from_env(&fault)) {
        t.batch_hook = em_test_fault_hook;
        t.batch_ctx = &fault;
    }
    if (run->probe) run->probe(run, index, &t, 0, out, &h.probe_state);
    em_run_result r;
    em_trainer_run(&t, &r);
    if (run->probe) run->probe(run, index, &t, -1, out, &h.probe_state);
    free(h.prev);
    if (r.status == 1) {
        fprintf(stderr, "ember-ablate: %s/%s: %s\n", run->experiment, run->variant, r.error);
        em_trainer_free(&t);
        return 1;
    }
    if (h.epoch_n && h.epoch_acc / h.epoch_n > h.best_train_acc)
        h.best_train_acc = h.epoch_acc / h.epoch_n;
    if (run->epoch_curves) epoch_curves(&h, r.steps);
    long k = h.ring_n < RING ? h.ring_n : RING;
    double sum = 0;
    for (long i = 0; i < k; i++) sum += h.ring[i];
    bool diverged = r.status == 3;
    res->final_train_loss = diverged ? r.diverged_loss : k ? sum / (double)k : NAN;
    res->final_test_acc = r.final_test_acc;
    res->best_test_acc = r.best_test_acc;
    if (h.best_eval > 0 && !(h.best_eval <= res->best_test_acc)) res->best_test_acc = h.best_eval;
    res->steps = r.steps;
    res->diverged_step = r.diverged_step;
    snprintf(res->outcome, sizeof res->outcome, "%s", ab_outcome(ctx, diverged, res->final_train_loss));
    if (isfinite(r.final_test_acc)) ab_curve(out, index, r.steps, "test_acc_final", r.final_test_acc);
    ab_extra(res, out, "best_train_acc", h.best_train_acc);
    ab_extra(res, out, "final_train_acc", r.final_train_acc);
    int status = run->finish ? run->finish(run, index, &t, res, out) : 0;
    em_trainer_free(&t);
    return status;
}

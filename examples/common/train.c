/* examples/common/train.c — the training loop. Read em_trainer_run first: it is the whole
 * story (forward, loss, backward, step, reset); the rest of the file builds what it uses.
 * The test pass it runs after every epoch is in evaluate.c. */
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "examples/common/models.h"
#include "examples/common/progress.h"
#include "examples/common/rows.h"
#include "examples/common/snapshot.h"

/* ---- the optimizer, SGD or Adam(W) ------------------------------------------------------ */

void em_optimizer_step(em_optimizer *o, double lr) {
    if (o->sgd) em_sgd_step(o->sgd, lr);
    else em_adam_step(o->adam, lr);
}

void em_optimizer_zero_grad(em_optimizer *o) {
    if (o->sgd) em_sgd_zero_grad(o->sgd);
    else em_adam_zero_grad(o->adam);
}

int64_t em_optimizer_steps(const em_optimizer *o) { return o->sgd ? o->sgd->step : o->adam->step; }

void em_optimizer_set_steps(em_optimizer *o, int64_t steps) {
    if (o->sgd) o->sgd->step = steps;
    else o->adam->step = steps;
}

int em_optimizer_buffers(em_optimizer *o, em_optim_buf *out) {
    return o->sgd ? em_sgd_buffers(o->sgd, out) : em_adam_buffers(o->adam, out);
}

static em_code optimizer_new(em_optimizer *o, const em_config *c, em_params p, em_error *err) {
    memset(o, 0, sizeof *o);
    if (!strcmp(c->optim, "sgd")) {
        em_sgd_opts so = em_sgd_defaults();
        so.kernels = em_kernels_by_name(c->kernels);
        so.momentum = c->momentum;
        so.nesterov = c->nesterov;
        so.weight_decay = c->weight_decay;
        o->sgd = em_sgd_new(p, &so, err);
        return o->sgd ? EM_OK : err->code;
    }
    bool w = !strcmp(c->optim, "adamw");
    em_adam_opts ao = w ? em_adamw_defaults() : em_adam_defaults();
    ao.kernels = em_kernels_by_name(c->kernels);
    ao.weight_decay = c->weight_decay;   /* the command line's value, 0 included */
    o->adam = em_adam_new(p, &ao, err);
    return o->adam ? EM_OK : err->code;
}

/* ---- setup --------------------------------------------------------------------------------- */

static em_init init_of(const em_config *c) {
    em_init init = {(em_init_kind)em_init_parse(c->init), 0, c->init_scale};
    if (init.kind == EM_INIT_NORMAL) {
        init.std = c->init_scale;   /* --init normal --init-scale w: N(0, w^2) */
        init.scale = 1;
    }
    return init;
}

static em_schedule schedule_of(const em_config *c, long steps_per_epoch, long total_steps) {
    em_schedule s;
    if (!strcmp(c->schedule, "step")) {
        /* x0.1 after 1/3 and after 2/3 of the run's epochs (counted from --steps if given) */
        int64_t E = (total_steps + steps_per_epoch - 1) / steps_per_epoch;
        int64_t m1 = (E + 2) / 3, m2 = (2 * E + 2) / 3;
        if (m2 <= m1) m2 = m1 + 1;
        s = em_schedule_multistep(c->lr, steps_per_epoch, 2, (int64_t[]){m1, m2}, 0.1);
    } else if (!strcmp(c->schedule, "cosine")) {
        s = em_schedule_cosine(c->lr, 1, total_steps, 0.0);  /* annealed over all steps */
    } else {
        s = em_schedule_constant(c->lr);
    }
    if (c->warmup > 0) s = em_schedule_with_warmup(s, c->warmup, 0.1);  /* from lr/10 */
    return s;
}

/* Normalization: --mean/--std, else the training set's own per-channel statistics. */
static void normalization_of(const em_config *c, const em_dataset *train, double *mean,
                             double *std) {
    double m[EM_DATA_MAX_CHANNELS], s[EM_DATA_MAX_CHANNELS];
    em_dataset_channel_stats(train, 0, m, s);
    for (int ch = 0; ch < train->c && ch < 3; ch++) {
        mean[ch] = c->n_mean ? c->mean[c->n_mean == 1 ? 0 : ch] : m[ch];
        std[ch] = c->n_std ? c->std[c->n_std == 1 ? 0 : ch] : s[ch];
    }
}

static em_loader *loader_of(const em_dataset *ds, const em_config *c, const double *mean,
                            const double *std, bool training, bool drop_last, em_error *err) {
    em_loader_opts o = em_loader_defaults();
    o.batch = c->batch;
    o.seed = c->seed;
    o.shuffle = training && c->shuffle;
    o.augment = training && c->augment;
    o.prefetch = training && c->prefetch;
    o.normalize = true;
    for (int ch = 0; ch < ds->c && ch < 3; ch++) {
        o.mean[ch] = mean[ch];
        o.std[ch] = std[ch];
    }
    o.subset = (size_t)(training ? c->train_limit : c->test_limit);
    o.drop_last = drop_last;
    return em_loader_new(ds, &o, err);
}

/* ---- shards and passes: who computes which rows of a batch ----------------------------- */

/* (which rows a process takes, and a view of them: shard_of and rows_of, rows.h) */

/* Forward/backward passes per process for a batch of n: the largest shard in groups of at
 * most --ghost-batch examples; the same count on every process (a synchronized BatchNorm
 * forward is collective). */
static int passes_of(const em_config *c, int n, int P) {
    int biggest = (n + P - 1) / P;
    return c->ghost_batch > 0 ? (biggest + c->ghost_batch - 1) / c->ghost_batch : 1;
}

/* The rows of a batch of n examples that BatchNorm normalizes together in the smallest
 * pass of any process: it needs 2 (1 per process with --bn-sync over several processes). */
static int smallest_pass(const em_config *c, int n, int P) {
    return n / P / passes_of(c, n, P);
}

static int pass_needs(const em_config *c, int P) {
    return !c->bn ? 1 : c->bn_sync && P > 1 ? 1 : 2;
}

/* The BatchNorm layers of the tree get --bn-sync's em_bn_sync. */
static void set_bn_sync(em_module *m, const em_bn_sync *sync) {
    em_bn_opts o;
    if (em_batchnorm_get_opts(m, &o)) {
        o.sync = sync;
        em_batchnorm_set_opts(m, &o);
    }
    for (int i = 0; m->ops->child && m->ops->child(m, i); i++) set_bn_sync(m->ops->child(m, i), sync);
}

/* A forward or backward that failed on this process (what says why) with --bn-sync over
 * several processes: the others are inside a BatchNorm sum it will not make (an op on a
 * failed tape returns NULL without computing), so only ending the job frees them
 * (em_dist_abort). Returns otherwise: one process, or BatchNorm per process, where the
 * failure goes round in the step's sums and everyone stops together. */
static void failed_alone(const em_trainer *t, const char *what) {
    if (t->bn_sync.sum) em_dist_abort(t->dist, t->cfg->program, what, 1);
}

em_model_opts em_config_model_opts(const em_config *c) {
    em_model_opts mo = em_model_defaults();
    mo.bn = c->bn;
    mo.act = c->act;
    mo.bn_opts.momentum = c->bn_momentum;
    mo.bn_opts.eps = c->bn_eps;
    mo.bn_opts.frozen_stats = c->bn_frozen;
    return mo;
}

em_code em_trainer_init(em_trainer *t, const em_config *c, const em_dataset *train,
                        const em_dataset *test, const em_dist *dist, em_error *err) {
    em_model_opts mo = em_config_model_opts(c);
    int chw[3] = {0, 0, 0};
    const char *name = c->which == EM_PROGRAM_CIFAR ? "cifar-cnn"
                       : !strcmp(c->model, "mlp") ? "mlp" : "mnist-cnn";
    em_module *net = em_model_new(name, &mo, chw);
    if (!net) {
        memset(t, 0, sizeof *t);
        return em_error_set(err, EM_ERR_NOMEM, "out of memory building %s", name);
    }
    return em_trainer_init_net(t, c, train, test, net, chw, name, dist, err);
}

em_code em_trainer_init_net(em_trainer *t, const em_config *c, const em_dataset *train,
                            const em_dataset *test, em_module *net, const int input_chw[3],
                            const char *name, const em_dist *dist, em_error *err) {
    memset(t, 0, sizeof *t);
    t->cfg = c;
    t->dist = dist;
    t->train_set = train;
    t->test_set = test;
    t->quiet = c->quiet;
    t->net = net;
    if (!t->net) return em_error_set(err, EM_ERR_NOMEM, "out of memory building %s", name);
    memcpy(t->input_chw, input_chw, sizeof t->input_chw);
    /* both splits: test images of another size would fail the first evaluation, or, if
     * they pool to the same shape, be evaluated as if they fitted */
    const int *in = t->input_chw;
    for (int k = 0; k < 2; k++) {
        const em_dataset *ds = k ? test : train;
        if (ds->c != in[0] || ds->h != in[1] || ds->w != in[2])
            return em_error_set(err, EM_ERR_ARG, "%s takes %dx%dx%d images; the training split "
                                "has %dx%dx%d, the test split %dx%dx%d", name, in[0], in[1],
                                in[2], train->c, train->h, train->w, test->c, test->h, test->w);
    }
    em_rng_seed(&t->init_rng, c->seed);
    em_init init = init_of(c);
    em_module_init(t->net, &t->init_rng, &init);

    normalization_of(c, train, t->mean, t->std);
    int P = em_dist_size(dist), need = pass_needs(c, P);
    if (smallest_pass(c, c->batch, P) < need) {
        if (P == 1 && !c->ghost_batch)
            return em_error_set(err, EM_ERR_ARG, "--batch %d: BatchNorm needs at least 2 "
                                "examples per batch (or --no-bn)", c->batch);
        return em_error_set(err, EM_ERR_ARG, "--batch %d over %d process(es)%s leaves %d "
                            "example(s) to a pass; %s needs at least %d: a larger --batch%s",
                            c->batch, P, c->ghost_batch ? " in ghost batches" : "",
                            smallest_pass(c, c->batch, P), c->bn ? "BatchNorm" : "a pass",
                            need, c->bn && P > 1 ? ", or --bn-sync" : "");
    }
    /* a last training batch too small to split (one example: to batch-normalize) is dropped */
    size_t n = c->train_limit && (size_t)c->train_limit < train->n ? (size_t)c->train_limit : train->n;
    int last = (int)(n % (size_t)c->batch);
    bool drop = last == 1 || (last > 0 && smallest_pass(c, last, P) < need);
    t->train = loader_of(train, c, t->mean, t->std, true, drop, err);
    if (!t->train) return err->code;
    t->test = loader_of(test, c, t->mean, t->std, false, false, err);
    if (!t->test) return err->code;
    t->x = em_loader_batch_tensor(t->train);
    t->x_test = em_loader_batch_tensor(t->test);
    t->labels = calloc((size_t)c->batch, sizeof *t->labels);
    t->tape = em_tape_new(0);
    if (!t->x || !t->x_test || !t->labels || !t->tape)
        return em_error_set(err, EM_ERR_NOMEM, "out of memory for a batch of %d", c->batch);
    t->kernels = em_kernels_by_name(c->kernels);   /* the options checked the name */
    if (!t->kernels) t->kernels = em_kernels_default();
    em_tape_set_kernels(t->tape, t->kernels);

    if (c->bn_sync && P > 1) {
        t->bn_sync = em_dist_bn_sync(dist);
        set_bn_sync(t->net, &t->bn_sync);
    }
    t->steps_per_epoch = (long)em_loader_n_batches(t->train);
    if (t->steps_per_epoch == 0)
        return em_error_set(err, EM_ERR_ARG, "the training set has %zu example(s): too few "
                            "for one batch of BatchNorm statistics", em_loader_size(t->train));
    t->total_steps = c->steps > 0 ? c->steps : t->steps_per_epoch * c->epochs;
    em_code code = optimizer_new(&t->opt, c, em_module_params(t->net), err);
    if (code != EM_OK) return code;
    t->sched = schedule_of(c, t->steps_per_epoch, t->total_steps);
    if ((code = em_schedule_check(&t->sched, err)) != EM_OK) return code;
    t->divergence_bound = 10 * log((double)train->n_classes);
    t->stats.best_test_acc = NAN;
    return EM_OK;
}

void em_trainer_free(em_trainer *t) {
    em_module_free(t->net);
    if (t->opt.sgd) em_sgd_free(t->opt.sgd);
    if (t->opt.adam) em_adam_free(t->opt.adam);
    em_loader_free(t->train);
    em_loader_free(t->test);
    em_tensor_free(t->x);
    em_tensor_free(t->x_test);
    free(t->labels);
    em_tape_free(t->tape);
    memset(t, 0, sizeof *t);
}

/* ---- memory -------------------------------------------------------------------------------- */

/* The arena's high-water mark after one training forward + backward of n zero images on a
 * fresh tape (0 when the step failed). */
static size_t probe_step(em_trainer *t, int n, int *labels) {
    int shape[4] = {n, t->input_chw[0], t->input_chw[1], t->input_chw[2]};
    em_tensor *x = em_tensor_new(4, shape, 0);
    em_tape *tape = em_tape_new(0);
    size_t hw = 0;
    if (tape) em_tape_set_kernels(tape, t->kernels);
    if (x && tape) {
        em_tensor *logits = em_module_forward(t->net, tape, x);
        em_tensor *loss = logits ? em_cross_entropy(tape, logits, labels) : NULL;
        if (loss && em_backward(tape, loss) == EM_OK) hw = tape->arena->high_water;
    }
    if (!hw) {
        char what[EM_ERROR_MSG_MAX + 64];
        snprintf(what, sizeof what, "measuring the step on a batch of %d failed: %s", n,
                 tape && !em_tape_ok(tape) ? tape->err.msg : "out of memory");
        failed_alone(t, what);
    }
    em_tensor_free(x);
    em_tape_free(tape);
    return hw;
}

em_code em_trainer_step_bytes(em_trainer *t, size_t batch, size_t *bytes, em_error *err) {
    em_snapshot snap;
    em_rng *rngs[16], saved[16];
    int n_rngs = em_module_rngs(t->net, rngs, 16);
    int labels[16] = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1};
    if (n_rngs > 16 || !em_snapshot_take(&snap, t->net)) {
        em_code code = em_error_set(err, EM_ERR_NOMEM, "out of memory measuring the step");
        failed_alone(t, err->msg);   /* the others go on into the probes' BatchNorm sums */
        return code;
    }
    for (int i = 0; i < n_rngs; i++) saved[i] = *rngs[i];
    em_module_train(t->net, true);
    size_t hw8 = probe_step(t, 8, labels), hw16 = probe_step(t, 16, labels);
    /* the probes leave nothing behind: gradients, statistics, counters, random streams */
    em_optimizer_zero_grad(&t->opt);
    em_snapshot_restore(&snap, t->net);
    em_snapshot_free(&snap);
    for (int i = 0; i < n_rngs; i++) *rngs[i] = saved[i];
    if (!hw8 || !hw16)
        return em_error_set(err, EM_ERR_NOMEM, "out of memory measuring the step on a batch of 16");
    size_t per = hw16 > hw8 ? (hw16 - hw8 + 7) / 8 : 0, fixed = hw8 > 8 * per ? hw8 - 8 * per : 0;
    /* a step never sees more examples than the larger split has */
    size_t most = em_loader_size(t->train) > em_loader_size(t->test) ? em_loader_size(t->train)
                                                                     : em_loader_size(t->test);
    if (batch > most) batch = most;
    *bytes = fixed + per * batch;
    return EM_OK;
}

/* ---- the loop ------------------------------------------------------------------------------- */

/* true when every value is finite: v * 0 is 0 for a finite v and NaN for NaN or Inf, so the
 * sums stay 0 exactly when all are finite. 16 independent sums, so the compiler may run
 * them as vectors: one sum would be a chain of dependent adds (the compiler must keep a
 * float sum's order), and over the parameters and gradients (2 x 207k values for
 * mnist-cnn) that chain cost 0.6 ms a step while the other thread waited. */
static bool all_finite(const em_real *v, size_t n) {
    em_real acc[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) acc[j] += v[i + j] * 0;
    for (; i < n; i++) acc[0] += v[i] * 0;
    em_real all = 0;
    for (int j = 0; j < 16; j++) all += acc[j];
    return all == 0;
}

/* stop the run at the step being taken: status 3, what went non-finite (or too large) */
static void diverge(em_trainer *t, em_run_result *r, double loss, const char *what) {
    r->status = 3;
    r->diverged_step = t->step + 1;
    r->diverged_loss = loss;
    r->diverged_what = what;
    em_tape_reset(t->tape);
}

static void write_row(em_trainer *t, em_run_result *r, int epoch, double lr, double tl,
                      double ta, double vl, double va, double secs, double ips, bool diverged) {
    if (!t->metrics) return;
    em_metrics_row row = {epoch, t->step, lr, tl, ta, vl, va, secs, ips, diverged};
    em_error err;
    if (em_metrics_write(t->metrics, &row, &err) != EM_OK && !r->error[0]) {
        snprintf(r->error, sizeof r->error, "%s", err.msg);
        r->status = 1;
    }
}

/* What the passes of one step produced, summed over the processes. */
typedef struct step_sums {
    double loss;          /* sum over the batch's examples of their loss           */
    double correct;
    double failed;        /* processes whose passes failed (r->error says why)     */
    double interrupted;   /* processes that saw Ctrl-C (data parallel only)        */
    double bad_input;     /* processes whose batch held a NaN/Inf (data parallel)  */
} step_sums;

/* Forward and backward over this process's rows of the batch of n in t->x: the gradient
 * of its share of the batch's mean loss lands in the parameter block. Then the sums go
 * round, so every process knows the batch's loss and whether to go on. */
static void step_passes(em_trainer *t, int n, step_sums *s, char *error, size_t len) {
    int P = em_dist_size(t->dist), lo, hi;
    shard_of(n, P, P > 1 ? t->dist->rank : 0, &lo, &hi);
    int G = passes_of(t->cfg, n, P), m = hi - lo;
    *s = (step_sums){0, 0, 0, 0, 0};
    for (int k = 0; k < G; k++) {
        int a = lo + (int)((long)m * k / G), b = lo + (int)((long)m * (k + 1) / G);
        em_tensor rows = rows_of(t->x, a, b);
        /* forward: every op records itself on the tape */
        em_tensor *logits = em_module_forward(t->net, t->tape, &rows);
        em_tensor *loss = em_cross_entropy(t->tape, logits, t->labels + a);
        /* backward: the tape in reverse; gradients land in the parameter block. The seed
         * (b - a) / n makes this pass's mean loss count as its share of the batch's mean
         * (1 for a single pass) */
        em_real seed = (em_real)((double)(b - a) / n);
        if (em_backward_from(t->tape, loss, &seed) != EM_OK) {
            snprintf(error, len, "step %ld failed: %s", t->step + 1, t->tape->err.msg);
            failed_alone(t, error);
            s->failed = 1;
            em_tape_reset(t->tape);
            break;
        }
        int K = logits->shape[1];
        for (int i = 0; i < b - a; i++)
            s->correct += argmax(logits->data + (size_t)i * K, K) == t->labels[a + i];
        s->loss += (double)loss->data[0] * (b - a);
        em_tape_reset(t->tape);
    }
    if (P > 1) {
        double v[5] = {s->loss, s->correct, s->failed, t->interrupted && *t->interrupted,
                       !all_finite(t->x->data, t->x->size)};
        em_dist_sum(t->dist, v, 5);
        *s = (step_sums){v[0], v[1], v[2], v[3], v[4]};
    }
}

/* Data parallel: every process leaves the loop, evaluates and stops together, so a status
 * one of them met alone at the end of an epoch (a metrics write or a --save-every
 * checkpoint on the root) becomes everyone's. */
static void agree(em_trainer *t, em_run_result *r) {
    if (em_dist_size(t->dist) == 1) return;
    int s = em_dist_max(t->dist, r->status);
    if (s != r->status && !r->error[0] && s == 1)
        snprintf(r->error, sizeof r->error, "another process failed");
    r->status = s;
}

/* FNV-1a over the parameter bytes: equal on every process, or the replicas drifted. */
static uint64_t params_hash(em_params p) {
    const unsigned char *b = (const unsigned char *)p.data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < p.n * sizeof *p.data; i++) h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

void em_trainer_run(em_trainer *t, em_run_result *r) {
    const em_config *c = t->cfg;
    em_epoch_stats *st = &t->stats;
    memset(r, 0, sizeof *r);
    r->diverged_step = -1;
    r->final_test_acc = r->final_test_loss = NAN;
    r->best_test_acc = st->best_test_acc;
    double run_start = em_now();
    em_module_train(t->net, true);
    int P = em_dist_size(t->dist);
    em_params params = em_module_params(t->net);

    while (t->step < t->total_steps && r->status == 0) {
        em_error err;
        if (em_loader_seek(t->train, t->epoch, t->batch, &err) != EM_OK) {
            snprintf(r->error, sizeof r->error, "%s", err.msg);
            r->status = 1;
            break;
        }
        em_progress bar;
        char label[48];
        long epochs = (t->total_steps + t->steps_per_epoch - 1) / t->steps_per_epoch;
        snprintf(label, sizeof label, "epoch %d/%ld", t->epoch + 1, epochs);
        em_progress_begin(&bar, stderr, label, t->steps_per_epoch, t->quiet);
        double epoch_start = em_now(), lr = em_schedule_lr(&t->sched, t->step);
        double log_start = epoch_start, images_now = 0;
        int n;

        while (t->step < t->total_steps) {
            /* Ctrl-C: no new step (data parallel: the processes agree on it in the step) */
            if (P == 1 && t->interrupted && *t->interrupted) {
                r->status = 130;
                break;
            }
            if (!em_loader_next(t->train, t->x, t->labels, &n)) break;
            lr = em_schedule_lr(&t->sched, t->step);
            if (t->batch_hook) t->batch_hook(t->batch_ctx, t, n);
            /* every value that enters or leaves a step is checked where it appears: the
             * input here, the loss and the gradients after backward, the weights after
             * the update; the first NaN/Inf stops the run at this step, before it spreads
             * (data parallel: the input's check goes round in the step's sums, so that a
             * process never stops alone while the others are in a collective) */
            if (P == 1 && !all_finite(t->x->data, t->x->size)) {
                diverge(t, r, NAN, "a NaN/Inf in the input batch");
                break;
            }

            step_sums sums;
            step_passes(t, n, &sums, r->error, sizeof r->error);
            if (sums.bad_input) {
                em_optimizer_zero_grad(&t->opt);
                diverge(t, r, NAN, "a NaN/Inf in the input batch");
                break;
            }
            if (sums.failed) {
                if (!r->error[0]) snprintf(r->error, sizeof r->error, "step %ld failed on "
                                           "another process", t->step + 1);
                r->status = 1;
                em_optimizer_zero_grad(&t->opt);   /* nothing of the failed step stays */
                em_tape_reset(t->tape);
                break;
            }
            double l = sums.loss / n;   /* the batch's mean loss (one pass: exactly its own) */
            if (!isfinite(l) || l > t->divergence_bound) {   /* stop before the update */
                diverge(t, r, l, isfinite(l) ? "the loss exploded" : "a NaN/Inf loss");
                break;
            }
            /* the processes' gradients summed: the gradient of the global batch, everywhere
             * (a NaN on one process is then a NaN on all, and all stop together) */
            em_dist_sum_real(t->dist, params.grad, params.n);
            if (!all_finite(params.grad, params.n)) {
                diverge(t, r, l, "a NaN/Inf gradient");
                break;
            }
            /* update, then clear the gradients (the passes recycled the step's memory) */
            em_optimizer_step(&t->opt, lr);
            em_optimizer_zero_grad(&t->opt);
            if (!all_finite(params.data, params.n)) {   /* the update overflowed (a huge lr) */
                diverge(t, r, l, "a NaN/Inf weight after the update");
                break;
            }
            int ok = (int)sums.correct;

            t->step++;
            t->batch++;
            st->loss_sum += l * n;
            st->correct += ok;
            st->seen += n;
            st->log_loss_sum += l * n;
            st->log_correct += ok;
            st->log_seen += n;
            images_now += n;
            if (t->hook) {
                em_step_info info = {t->step, t->epoch, lr, l, (double)ok / n};
                t->hook(t->hook_ctx, t, &info);
            }
            em_progress_step(&bar, (long)t->batch, st->loss_sum / st->seen,
                             st->correct / st->seen, (long)images_now);
            if (c->log_every && t->step % c->log_every == 0) {
                double now = em_now();
                write_row(t, r, t->epoch + 1, lr, st->log_loss_sum / st->log_seen,
                          st->log_correct / st->log_seen, NAN, NAN, now - log_start,
                          st->log_seen / (now - log_start), false);
                st->log_loss_sum = st->log_correct = st->log_seen = 0;
                log_start = now;
                if (r->status) {   /* the metrics row could not be written */
                    /* data parallel: the root alone writes; unless the epoch ends here, the
                     * others go on into the next step's collectives */
                    if (t->step < t->total_steps && t->batch < (size_t)t->steps_per_epoch &&
                        !sums.interrupted)
                        em_dist_abort(t->dist, c->program, r->error, 1);
                    break;
                }
            }
            if (sums.interrupted) {   /* data parallel Ctrl-C: this step was the last */
                r->status = 130;
                break;
            }
        }
        em_progress_end(&bar);
        agree(t, r);
        double secs = em_now() - epoch_start, ips = images_now / secs;
        double tl = st->seen ? st->loss_sum / st->seen : NAN;
        double ta = st->seen ? st->correct / st->seen : NAN;
        bool epoch_done = t->batch >= (size_t)t->steps_per_epoch;
        bool run_done = t->step >= t->total_steps;

        if (r->status == 1) break;
        if (r->status == 3 || (r->status == 130 && !epoch_done && !run_done)) {
            /* stopped inside the epoch: the row says how far it got, without a test pass */
            if (images_now > 0 || r->status == 3)
                write_row(t, r, t->epoch + 1, lr, tl, ta, NAN, NAN, secs, ips, r->status == 3);
            r->final_train_loss = tl;
            r->final_train_acc = ta;
            break;
        }
        /* the epoch (or the run) is complete, also when Ctrl-C came on its last step */
        double vl = NAN, va = NAN;
        if (em_trainer_evaluate(t, &vl, &va, NULL, &err) != EM_OK) {
            snprintf(r->error, sizeof r->error, "%s", err.msg);
            r->status = 1;
            break;
        }
        r->final_train_loss = tl;
        r->final_train_acc = ta;
        r->final_test_loss = vl;
        r->final_test_acc = va;
        if (isnan(st->best_test_acc) || va > st->best_test_acc) st->best_test_acc = va;
        r->best_test_acc = st->best_test_acc;
        write_row(t, r, t->epoch + 1, lr, tl, ta, vl, va, secs, ips, false);
        if (!t->silent) printf("epoch %3d  step %7ld  train loss %.4f acc %6.2f%%  test loss %.4f acc %6.2f%%  "
               "lr %.4g  %6.1fs  %6.0f img/s\n", t->epoch + 1, t->step, tl, 100 * ta, vl,
               100 * va, lr, secs, ips);
        fflush(stdout);
        if (epoch_done) {
            t->epoch++;
            t->batch = 0;
            st->loss_sum = st->correct = st->seen = 0;
            if (t->epoch_hook) {
                int s2 = t->epoch_hook(t->epoch_ctx, t, r);
                if (r->status == 0) r->status = s2;
            }
        }
        agree(t, r);
    }
    /* data parallel: the replicas must still be one model */
    if (P > 1 && !em_dist_same(t->dist, params_hash(params)) && r->status != 1) {
        snprintf(r->error, sizeof r->error, "after step %ld the processes hold different "
                 "weights (the MPI sums were not the same on every process)", t->step);
        r->status = 1;
    }
    r->steps = t->step;
    r->seconds = em_now() - run_start;
}

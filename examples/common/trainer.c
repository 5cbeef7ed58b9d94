/* examples/common/trainer.c — a trainer built from a configuration (the model, the
 * optimizer and its schedule, the loaders, the tape), freed, and the memory of its step
 * measured. The loop that runs it is train.c. */
#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "examples/common/models.h"
#include "examples/common/network.h"
#include "examples/common/rows.h"
#include "examples/common/snapshot.h"

/* ---- the optimizer, SGD or Adam(W) (optim/optimizer.h) ----------------------------------- */

static em_code optimizer_new(em_optimizer *o, const em_config *c, em_params p, em_error *err) {
    if (!strcmp(c->optim, "sgd")) {
        em_sgd_opts so = em_sgd_defaults();
        so.kernels = em_kernels_by_name(c->kernels);
        so.momentum = c->momentum;
        so.nesterov = c->nesterov;
        so.weight_decay = c->weight_decay;
        return em_optimizer_sgd(o, p, &so, err);
    }
    bool w = !strcmp(c->optim, "adamw");
    em_adam_opts ao = w ? em_adamw_defaults() : em_adam_defaults();
    ao.kernels = em_kernels_by_name(c->kernels);
    ao.weight_decay = c->weight_decay;   /* the command line's value, 0 included */
    return em_optimizer_adam(o, p, &ao, err);
}

/* ---- setup --------------------------------------------------------------------------------- */

/* --init and --init-scale; fixup starts from He's normal rule (em_config_network_init then
 * scales the residual branches) */
static em_init init_of(const em_config *c) {
    int kind = strcmp(c->init, "fixup") ? em_init_parse(c->init) : EM_INIT_KAIMING_NORMAL;
    em_init init = {(em_init_kind)kind, 0, c->init_scale};
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

/* The rows of a batch of n examples that BatchNorm normalizes together in the smallest
 * pass of any process: it needs 2 (1 per process with --bn-sync over several processes). */
static int smallest_pass(const em_config *c, int n, int P) {
    return n / P / em_passes_of(c->ghost_batch, n, P);
}

static int pass_needs(const em_trainer *t, int P) {
    return !t->batch_stats ? 1 : t->cfg->bn_sync && P > 1 ? 1 : 2;
}

/* Whether the tree holds a BatchNorm (or Batch Renorm) layer: one that normalizes with the
 * statistics of the batch, so a pass needs 2 examples at least. */
static bool has_batch_stats(em_module *m) {
    em_bn_opts o;
    if (em_batchnorm_get_opts(m, &o)) return true;
    for (int i = 0; m->ops->child && m->ops->child(m, i); i++)
        if (has_batch_stats(m->ops->child(m, i))) return true;
    return false;
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
void em_trainer_fail_alone(const em_trainer *t, const char *what) {
    if (t->bn_sync.sum) em_dist_abort(t->dist, t->cfg->program, what, 1);
}

em_code em_trainer_init(em_trainer *t, const em_config *c, const em_dataset *train,
                        const em_dataset *test, const em_dist *dist, em_error *err) {
    int chw[3];
    em_config_input(c, chw);
    int classes = 0;
    em_module *net = em_config_network(c, &classes, err);
    if (!net) {
        memset(t, 0, sizeof *t);
        return err->code;
    }
    if (classes != train->n_classes) {
        em_module_free(net);
        memset(t, 0, sizeof *t);
        return em_error_set(err, EM_ERR_ARG, "%s gives %d class scores, the data has %d "
                            "classes: end it with fc%d", em_config_model_name(c), classes,
                            train->n_classes, train->n_classes);
    }
    return em_trainer_init_net(t, c, train, test, net, chw, em_config_model_name(c), dist, err);
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
        if (ds->n == 0)   /* (the loader would say only "the dataset is empty") */
            return em_error_set(err, EM_ERR_FORMAT, "the %s split has no examples (%.*s)",
                                k ? "test" : "training",
                                ds->files ? (int)strcspn(ds->files, "\n") : 9,
                                ds->files ? ds->files : "generated");
        if (ds->c != in[0] || ds->h != in[1] || ds->w != in[2])
            return em_error_set(err, EM_ERR_ARG, "%s takes %dx%dx%d images; the training split "
                                "has %dx%dx%d, the test split %dx%dx%d", name, in[0], in[1],
                                in[2], train->c, train->h, train->w, test->c, test->h, test->w);
    }
    em_rng_seed(&t->init_rng, c->seed);
    em_init init = init_of(c);
    em_module_init(t->net, &t->init_rng, &init);
    em_code code = em_config_network_init(c, t->net, err);
    if (code != EM_OK) return code;
    t->batch_stats = has_batch_stats(t->net);

    normalization_of(c, train, t->mean, t->std);
    /* (--eval: no training pass; the test passes normalize with running statistics) */
    int P = em_dist_size(dist), need = c->eval_only ? 1 : pass_needs(t, P);
    if (smallest_pass(c, c->batch, P) < need) {
        if (P == 1 && !c->ghost_batch)
            return em_error_set(err, EM_ERR_ARG, "--batch %d: BatchNorm needs at least 2 "
                                "examples per batch (or --no-bn, or --norm gn:G)", c->batch);
        /* ghost batches smaller than a pass needs: no --batch helps */
        char fix[64];
        if (c->ghost_batch && c->ghost_batch < need)
            snprintf(fix, sizeof fix, "a --ghost-batch of at least %d", need);
        else
            snprintf(fix, sizeof fix, "a larger --batch%s",
                     c->ghost_batch ? " or --ghost-batch" : "");
        return em_error_set(err, EM_ERR_ARG, "--batch %d over %d process(es)%s leaves %d "
                            "example(s) to a pass; %s needs at least %d: %s%s",
                            c->batch, P, c->ghost_batch ? " in ghost batches" : "",
                            smallest_pass(c, c->batch, P), t->batch_stats ? "BatchNorm" : "a pass",
                            need, fix, t->batch_stats && P > 1 ? ", or --bn-sync" : "");
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
    if (t->steps_per_epoch == 0 && t->batch_stats)
        return em_error_set(err, EM_ERR_ARG, "the training set has %zu example(s): too few "
                            "for one batch of BatchNorm statistics", em_loader_size(t->train));
    if (t->steps_per_epoch == 0)   /* the one batch, of one example, was dropped */
        return em_error_set(err, EM_ERR_ARG, "the training set has %zu example(s): a last batch "
                            "of one example is dropped, which leaves no batch (--batch 1 trains "
                            "on it)", em_loader_size(t->train));
    t->total_steps = c->steps > 0 ? c->steps : t->steps_per_epoch * c->epochs;
    code = optimizer_new(&t->opt, c, em_module_params(t->net), err);
    if (code != EM_OK) return code;
    t->sched = schedule_of(c, t->steps_per_epoch, t->total_steps);
    if ((code = em_schedule_check(&t->sched, err)) != EM_OK) return code;
    t->divergence_bound = 10 * log((double)train->n_classes);
    t->stats.best_test_acc = NAN;
    return EM_OK;
}

void em_trainer_free(em_trainer *t) {
    em_module_free(t->net);
    em_optimizer_free(&t->opt);
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
        em_trainer_fail_alone(t, what);
    }
    em_tensor_free(x);
    em_tape_free(tape);
    return hw;
}

em_code em_trainer_step_bytes(em_trainer *t, size_t batch, size_t *bytes, em_error *err) {
    em_snapshot snap;
    /* a network may have any number of dropouts, each with its stream */
    int n_rngs = em_module_rngs(t->net, NULL, 0);
    em_rng **rngs = malloc((size_t)(n_rngs + 1) * sizeof *rngs);
    em_rng *saved = malloc((size_t)(n_rngs + 1) * sizeof *saved);
    int labels[16] = {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1};
    if (rngs) em_module_rngs(t->net, rngs, n_rngs);
    if (!rngs || !saved || !em_snapshot_take(&snap, t->net)) {
        free(rngs);
        free(saved);
        em_code code = em_error_set(err, EM_ERR_NOMEM, "out of memory measuring the step");
        em_trainer_fail_alone(t, err->msg);   /* the others go on into the probes' BatchNorm sums */
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
    free(rngs);
    free(saved);
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

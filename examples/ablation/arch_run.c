/* examples/ablation/arch_run.c — the networks of the second edition's experiments, written
 * in the architecture language (examples/common/arch.h) and built with the run's norm, its
 * placement and BatchNorm options; the residual initializations (zero-gamma, Fixup) after
 * the trainer's; and two ways to evaluate a BatchNorm network other than with its running
 * statistics: with the statistics of each test batch (training mode), and after the
 * running statistics are recomputed as a plain average over training batches (what
 * PyTorch's torch.optim.swa_utils.update_bn does with momentum None). */
#include <stdlib.h>
#include <string.h>

#include "ablate.h"
#include "examples/common/snapshot.h"
#include "examples/common/train.h"

em_module *ab_arch_model(const ab_run *run, const int input_chw[3]) {
    em_arch *a;
    em_error err;
    if (em_arch_parse(run->arch, run->variant, &a, &err) != EM_OK) {
        fprintf(stderr, "ember-ablate: %s\n", err.msg);
        return NULL;
    }
    em_arch_opts o = em_arch_defaults();
    o.norm = run->norm[0] ? run->norm : NULL;
    o.norm_after = run->norm_after;
    o.bn.momentum = run->cfg.bn_momentum;
    o.bn.eps = run->cfg.bn_eps;
    o.bn.frozen_stats = run->cfg.bn_frozen;
    if (run->renorm_warmup > 0) o.bn.renorm_warmup = run->renorm_warmup;
    o.gn.eps = run->cfg.bn_eps;
    em_module *net = em_arch_build(a, input_chw, &o, &err);
    if (!net) fprintf(stderr, "ember-ablate: %s/%s: %s\n", run->experiment, run->variant, err.msg);
    em_arch_free(a);
    return net;
}

void ab_arch_after_init(const ab_run *run, em_module *net) {
    if (run->res_init == AB_INIT_ZERO_GAMMA) em_model_zero_gamma(net);
    else if (run->res_init == AB_INIT_FIXUP) em_model_fixup(net);
}

int ab_batchnorms(em_module *m, em_module **out, int max, int n) {
    em_bn_opts o;
    if (em_batchnorm_get_opts(m, &o) && n < max) out[n++] = m;
    for (int i = 0; m->ops->child && m->ops->child(m, i); i++)
        n = ab_batchnorms(m->ops->child(m, i), out, max, n);
    return n;
}

/* a loader over ds with the trainer's normalization: batches of `batch`, the first
 * `limit` examples (0: all), shuffled with seed when shuffle; a last batch of one example
 * dropped (BatchNorm1d cannot normalize it) */
static em_loader *loader_like(const em_trainer *t, const em_dataset *ds, int batch, long limit,
                              bool shuffle, em_error *err) {
    em_loader_opts o = em_loader_defaults();
    o.batch = batch;
    o.shuffle = shuffle;
    o.seed = t->cfg->seed;
    o.normalize = true;
    for (int c = 0; c < ds->c && c < 3; c++) {
        o.mean[c] = t->mean[c];
        o.std[c] = t->std[c];
    }
    o.subset = (size_t)limit;
    size_t n = limit > 0 && (size_t)limit < ds->n ? (size_t)limit : ds->n;
    o.drop_last = n % (size_t)batch == 1;
    return em_loader_new(ds, &o, err);
}

/* Forward passes in training mode over `batches` batches of l (0: an epoch), without
 * recording; with test, the share of correct predictions into *acc; before batch k,
 * with cumulative, every BatchNorm keeps k / (k + 1) of its history. */
static em_code forward_pass(em_trainer *t, em_loader *l, long batches, bool cumulative,
                            double *acc, em_error *err) {
    em_module *bn[256];
    int nbn = ab_batchnorms(t->net, bn, 256, 0);
    em_tensor *x = em_loader_batch_tensor(l);
    int *labels = malloc(sizeof *labels * (size_t)(x ? x->shape[0] : 1));
    if (!x || !labels) {
        em_tensor_free(x);
        free(labels);
        return em_error_set(err, EM_ERR_NOMEM, "out of memory for a batch");
    }
    em_module_train(t->net, true);
    em_tape_set_recording(t->tape, false);
    double correct = 0, seen = 0;
    em_code code = EM_OK;
    int n;
    long k = 0;
    em_loader_begin_epoch(l, 0);
    while ((batches <= 0 || k < batches) && em_loader_next(l, x, labels, &n)) {
        for (int i = 0; cumulative && i < nbn; i++) {
            em_bn_opts o;
            em_batchnorm_get_opts(bn[i], &o);
            o.momentum = (double)k / (double)(k + 1);
            em_batchnorm_set_opts(bn[i], &o);
        }
        em_tensor *logits = em_module_forward(t->net, t->tape, x);
        if (!logits) {
            code = em_error_set(err, t->tape->status, "a forward pass failed: %s", t->tape->err.msg);
            break;
        }
        int K = logits->shape[1];
        for (int i = 0; i < n; i++) {
            const em_real *row = logits->data + (size_t)i * K;
            int best = 0;
            for (int j = 1; j < K; j++)
                if (row[j] > row[best]) best = j;
            correct += best == labels[i];
        }
        seen += n;
        k++;
        em_tape_reset(t->tape);
    }
    em_tape_reset(t->tape);
    em_tape_set_recording(t->tape, true);
    em_tensor_free(x);
    free(labels);
    if (acc) *acc = seen > 0 ? correct / seen : 0;
    return code;
}

em_code ab_eval_batch_stats(em_trainer *t, int batch, double *acc, em_error *err) {
    em_snapshot snap;
    if (!em_snapshot_take(&snap, t->net))
        return em_error_set(err, EM_ERR_NOMEM, "out of memory saving the model");
    em_loader *l = loader_like(t, t->test_set, batch, t->cfg->test_limit, false, err);
    em_code code = l ? forward_pass(t, l, 0, false, acc, err) : err->code;
    em_loader_free(l);
    em_snapshot_restore(&snap, t->net);   /* the running statistics and counters as they were */
    em_snapshot_free(&snap);
    return code;
}

em_code ab_recompute_stats(em_trainer *t, long batches, em_error *err) {
    em_module *bn[256];
    em_bn_opts saved[256];
    int nbn = ab_batchnorms(t->net, bn, 256, 0);
    for (int i = 0; i < nbn; i++) em_batchnorm_get_opts(bn[i], &saved[i]);
    em_loader *l = loader_like(t, t->train_set, t->cfg->batch, t->cfg->train_limit, true, err);
    em_code code = l ? forward_pass(t, l, batches, true, NULL, err) : err->code;
    em_loader_free(l);
    for (int i = 0; i < nbn; i++) em_batchnorm_set_opts(bn[i], &saved[i]);
    return code;
}

/* examples/ablation/exp_renorm.c — Batch Renormalization (Ioffe 2017) against BatchNorm
 * where BatchNorm's batch statistics are poor estimates of the population's:
 *   micro     batches of 32 whose BatchNorm layers normalize groups of 4 (ghost batches,
 *             the gradient over all 32), as Ioffe's microbatches of 4
 *   non-iid   batches of 32 drawn from only NONIID_CLASSES = 2 classes, NONIID_PER = 16
 *             images of each (Ioffe: 16 classes x 2 images out of ImageNet's 1000)
 * against BatchNorm on ordinary i.i.d. batches of 32 (the reference). Every model is
 * tested with its running statistics, the way it would be deployed. Batch Renorm corrects
 * each batch's statistics towards the running averages by r and d (clipped to rmax 3,
 * dmax 5, the limits widening linearly from BatchNorm's r = 1, d = 0 over the first
 * quarter of training), so training already sees the statistics inference uses.
 *
 * The non-i.i.d. batches are made by the run itself: a copy of the training images in
 * the order of the batches (each batch's classes and images drawn with the run's seed),
 * read in order by the shared trainer (shuffle off), normalized with the statistics of
 * the whole training set like every other run. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ablate.h"
#include "core/rng.h"
#include "examples/common/train.h"

#define NONIID_CLASSES 2
#define NONIID_PER 16
#define BATCH (NONIID_CLASSES * NONIID_PER)
#define MICRO 4

static const char spec[] = "conv16 bn relu pool2 conv32 bn relu pool2 flatten fc128 bn relu fc10";

static const struct {
    const char *name, *label;
    bool renorm;
    int ghost;          /* normalization groups (0: the batch)  */
    bool noniid;
} kinds[] = {
    {"bn-iid", "BatchNorm, i.i.d. batches of 32 (reference)", false, 0, false},
    {"bn-micro", "BatchNorm, normalizing groups of 4", false, MICRO, false},
    {"brn-micro", "Batch Renorm, normalizing groups of 4", true, MICRO, false},
    {"bn-noniid", "BatchNorm, batches from 2 classes", false, 0, true},
    {"brn-noniid", "Batch Renorm, batches from 2 classes", true, 0, true},
};
#define N_KINDS 5

/* the running averages' share of history: 0.99 over the full protocol's 937 steps; the
 * quick one's 125 would leave 0.99^125 = 28% of the initial (0, 1) in them */
static double momentum_of(const ab_opts *o) { return o->quick ? 0.9 : 0.99; }

static long limit(const ab_opts *o) {
    return o->train_limit ? o->train_limit : o->quick ? 4000 : 30000;
}

/* The non-i.i.d. training set: `steps` batches, each of NONIID_PER images of each of
 * NONIID_CLASSES distinct classes, drawn from the first n images of src. */
static em_code noniid_set(const em_dataset *src, size_t n, long steps, uint64_t seed,
                          em_dataset *out, em_error *err) {
    int K = src->n_classes;
    if (K < NONIID_CLASSES)
        return em_error_set(err, EM_ERR_ARG, "%d classes: too few for batches of %d classes",
                            K, NONIID_CLASSES);
    size_t *count = calloc((size_t)K, sizeof *count), *start = calloc((size_t)K + 1, sizeof *start);
    size_t *by_class = malloc(n * sizeof *by_class);
    em_code code = EM_OK;
    if (!count || !start || !by_class) {
        code = em_error_set(err, EM_ERR_NOMEM, "out of memory for the non-i.i.d. batches");
        goto out;
    }
    for (size_t i = 0; i < n; i++) count[src->labels[i]]++;
    for (int c = 0; c < K; c++) {
        start[c + 1] = start[c] + count[c];
        if (count[c] == 0) {
            code = em_error_set(err, EM_ERR_ARG, "class %d has no image among the first %zu", c, n);
            goto out;
        }
        count[c] = 0;
    }
    for (size_t i = 0; i < n; i++) by_class[start[src->labels[i]] + count[src->labels[i]]++] = i;
    size_t total = (size_t)steps * BATCH, sz = em_dataset_example_size(src);
    if ((code = em_dataset_alloc(out, "non-i.i.d.", total, src->c, src->h, src->w, err)) != EM_OK)
        goto out;
    out->n_classes = K;
    out->class_names = NULL;
    em_rng rng;
    em_rng_seed(&rng, seed ^ 0x6e6f6e696964ULL);
    for (long b = 0; b < steps; b++) {
        int chosen[NONIID_CLASSES];
        for (int j = 0; j < NONIID_CLASSES; j++) {
            bool again;
            do {   /* distinct classes */
                chosen[j] = (int)em_rng_below(&rng, (uint32_t)K);
                again = false;
                for (int q = 0; q < j; q++) again |= chosen[q] == chosen[j];
            } while (again);
            for (int e = 0; e < NONIID_PER; e++) {
                int c = chosen[j];
                size_t pick = by_class[start[c] + em_rng_below(&rng, (uint32_t)(start[c + 1] - start[c]))];
                size_t at = (size_t)b * BATCH + (size_t)j * NONIID_PER + (size_t)e;
                memcpy(out->pixels + at * sz, src->pixels + pick * sz, sz);
                out->labels[at] = src->labels[pick];
            }
        }
    }
out:
    free(count);
    free(start);
    free(by_class);
    return code;
}

static int run_noniid(const ab_ctx *ctx, int index, const ab_run *run, ab_result *res, FILE *out) {
    size_t n = (size_t)run->cfg.train_limit < ctx->train->n ? (size_t)run->cfg.train_limit
                                                            : ctx->train->n;
    long steps = run->cfg.steps > 0 ? run->cfg.steps : (long)(n / BATCH);
    em_dataset set = {0};
    em_error err;
    if (noniid_set(ctx->train, n, steps, run->cfg.seed, &set, &err) != EM_OK) {
        fprintf(stderr, "ember-ablate: %s/%s: %s\n", run->experiment, run->variant, err.msg);
        return 1;
    }
    ab_run r = *run;
    r.cfg.shuffle = false;            /* the batches as made */
    r.cfg.train_limit = 0;
    r.cfg.steps = 0;
    r.cfg.epochs = 1;
    double mean[EM_DATA_MAX_CHANNELS], std[EM_DATA_MAX_CHANNELS];
    em_dataset_channel_stats(ctx->train, 0, mean, std);   /* as every other run */
    r.cfg.n_mean = r.cfg.n_std = 1;
    r.cfg.mean[0] = mean[0];
    r.cfg.std[0] = std[0];
    int status = ab_train_on(ctx, &set, index, &r, res, out);
    em_dataset_free(&set);
    return status;
}

static bool expand(const ab_ctx *ctx, ab_run *runs, int *n) {
    const ab_opts *o = ctx->o;
    int seeds = ab_seeds(ctx, 3);
    for (int k = 0; k < N_KINDS; k++)
        for (int s = 1; s <= seeds; s++) {
            ab_run *r = ab_run_add(ctx, runs, n, "renorm");
            if (!r) return false;
            snprintf(r->variant, sizeof r->variant, "%s-s%d", kinds[k].name, s);
            r->model = ab_arch_model;
            snprintf(r->arch, sizeof r->arch, "%s", spec);
            snprintf(r->norm, sizeof r->norm, "%s", kinds[k].renorm ? "brn" : "bn");
            r->cfg.bn = true;
            r->cfg.bn_momentum = momentum_of(o);
            r->cfg.batch = BATCH;
            r->cfg.ghost_batch = kinds[k].ghost;
            r->cfg.lr = o->n_lrs ? o->lrs[0] : 0.02;
            r->cfg.momentum = 0.9;
            r->cfg.seed = (uint64_t)s;
            r->cfg.train_limit = limit(o);
            r->cfg.epochs = 1;
            r->cfg.steps = o->steps;
            long steps = o->steps ? o->steps : limit(o) / BATCH;
            /* the limits widen over the first quarter of the normalizations */
            r->renorm_warmup = steps * (kinds[k].ghost ? BATCH / kinds[k].ghost : 1) / 4;
            r->curve_every = steps >= 400 ? steps / 100 : 4;
            if (kinds[k].noniid) r->fn = run_noniid;
        }
    return true;
}

static double acc_of(const ab_report *rep, int i) { return 1 - ab_run_error(rep, i); }

static double train_acc(const ab_report *rep, int i) {
    double v;
    return strcmp(rep->res[i].outcome, "failed") &&
                   ab_result_extra(&rep->res[i], "final_train_acc", &v) ? v : NAN;
}

static void report(ab_report *rep) {
    FILE *f = rep->md;
    const ab_opts *o = rep->ctx->o;
    fprintf(f, "mnist-cnn (`%s`), PyTorch's default init, SGD momentum 0.9, lr 0.02, batches "
               "of 32 (non-i.i.d.: %d classes x %d images each), one pass over %ld training "
               "images; running averages keep %g of "
               "their history; Batch Renorm's limits rmax 3, dmax 5, reached after a quarter "
               "of training. Test accuracy with the running statistics on %s; training "
               "accuracy in training mode over the last epoch's batches; medians over %d "
               "seed(s).\n\n",
            spec, NONIID_CLASSES, NONIID_PER, limit(o), momentum_of(o),
            o->quick ? "2000 test images" : "the 10000 test images", ab_seeds(rep->ctx, 3));
    fprintf(f, "Published (Ioffe 2017, §4.2-4.3, Inception-v3 on ImageNet, top-1 validation "
               "accuracy): BatchNorm on batches of 32: 78.3%%. Normalizing microbatches of 4: "
               "BatchNorm 74.2%%, Batch Renorm 76.5%% (it closes 2.3 of the 4.1 points). "
               "Non-i.i.d. batches (16 classes x 2 images): BatchNorm about 67%% with its "
               "moving averages, Batch Renorm about 78.5%%, the i.i.d. level.\n\n"
               "| configuration | test accuracy (running statistics) | training accuracy "
               "(training mode) |\n|---|---|---|\n");
    double acc[N_KINDS];
    for (int k = 0; k < N_KINDS; k++) {
        acc[k] = ab_seed_median(rep, "renorm", kinds[k].name, acc_of, NULL);
        fprintf(f, "| %s | %.4f | %.4f |\n", kinds[k].label, acc[k],
                ab_seed_median(rep, "renorm", kinds[k].name, train_acc, NULL));
    }
    fprintf(f, "\n");
    ab_runs_table(rep, "renorm", NULL);
    fprintf(f, "| criterion | what | measured | result |\n|---|---|---|---|\n");
    for (int c = 0; c < 2; c++) {
        double ref = acc[0], bn = acc[1 + 2 * c], brn = acc[2 + 2 * c];
        double gap_bn = ref - bn, gap_brn = ref - brn;
        char s[200], id[40], what[200];
        snprintf(s, sizeof s, "reference %.4f; BN %.4f (gap %.2f pp), Batch Renorm %.4f (gap "
                 "%.2f pp)", ref, bn, 100 * gap_bn, brn, 100 * gap_brn);
        snprintf(id, sizeof id, "renorm (%c)", 'a' + c);
        snprintf(what, sizeof what, "%s: BatchNorm falls at least 1 pp below the reference, "
                 "and Batch Renorm closes at least half of that gap",
                 c ? "non-i.i.d. batches" : "groups of 4");
        ab_criterion_data(rep, id, what, s, !isnan(ref) && !isnan(bn) && !isnan(brn),
                          gap_bn >= 0.01 && gap_brn <= 0.5 * gap_bn);
    }
    ab_plot p;
    if (ab_plot_begin(rep, &p, "renorm", "test accuracy with running statistics",
                      "configuration", "test accuracy", false, false)) {
        fprintf(p.gp, "set style fill solid 0.6\nset boxwidth 0.6\nset xtics ('reference' 0, "
                      "'BN, 4' 1, 'BRN, 4' 2, 'BN, 2 classes' 3, 'BRN, 2 classes' 4)\n"
                      "set xrange [-0.7:4.7]\n");
        double x[N_KINDS];
        for (int k = 0; k < N_KINDS; k++) x[k] = k;
        ab_plot_series(&p, "median over seeds", "boxes", x, acc, N_KINDS);
        ab_plot_end(rep, &p, "renorm: BatchNorm and Batch Renorm with poor batch statistics, "
                             "tested with running statistics");
    }
}

const ab_experiment ab_exp_renorm = {"renorm", "Batch Renorm against BatchNorm on groups of "
                                     "4 and on non-i.i.d. batches (Ioffe 2017)", expand, report};

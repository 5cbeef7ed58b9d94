/* examples/common/evaluate.c — the test pass: loss, accuracy and the confusion matrix of the
 * model in evaluation mode (em_trainer_evaluate), sharded over the processes of a
 * data-parallel run, and the averaging of BatchNorm's running statistics over them that
 * comes first (em_trainer_sync_buffers). The training loop (train.c) calls it after every
 * epoch. */
#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "examples/common/confusion.h"
#include "examples/common/progress.h"
#include "examples/common/rows.h"

/* The running statistics (every BUFFER entry) as doubles, to average them. */
typedef struct buffers_ctx {
    double *vals;
    size_t n;
    bool store;   /* false: collect into vals; true: write vals back */
} buffers_ctx;

static bool visit_buffers(void *vctx, const char *name, const em_entry *e) {
    (void)name;
    buffers_ctx *b = vctx;
    if (e->kind != EM_ENTRY_BUFFER) return true;
    for (size_t i = 0; i < e->tensor->size; i++, b->n++) {
        if (b->store) e->tensor->data[i] = (em_real)b->vals[b->n];
        else if (b->vals) b->vals[b->n] = (double)e->tensor->data[i];
    }
    return true;
}

em_code em_trainer_sync_buffers(em_trainer *t, em_error *err) {
    int P = em_dist_size(t->dist);
    if (P == 1 || t->cfg->bn_sync) return EM_OK;
    buffers_ctx b = {NULL, 0, false};
    em_module_visit(t->net, visit_buffers, &b);   /* count */
    if (b.n == 0) return EM_OK;
    /* the count is the same everywhere; whether every process has its buffer is agreed
     * before the sum, so a failed malloc cannot leave the others waiting in it */
    double *vals = calloc(b.n, sizeof *vals);
    b = (buffers_ctx){vals, 0, false};
    if (vals) em_module_visit(t->net, visit_buffers, &b);
    int bad = em_dist_max(t->dist, vals == NULL);
    if (!bad) {
        em_dist_sum(t->dist, vals, (int)b.n);
        for (size_t i = 0; i < b.n; i++) vals[i] /= P;
        b = (buffers_ctx){vals, 0, true};
        em_module_visit(t->net, visit_buffers, &b);
    }
    free(vals);
    return bad ? em_error_set(err, EM_ERR_NOMEM, "out of memory averaging the running "
                              "statistics") : EM_OK;
}

em_code em_trainer_evaluate(em_trainer *t, double *loss, double *acc, FILE *pred,
                            em_error *err) {
    int P = em_dist_size(t->dist);
    bool sharded = P > 1 && !pred;
    em_code code = sharded ? em_trainer_sync_buffers(t, err) : EM_OK;
    if (code != EM_OK) return code;
    em_module_train(t->net, false);     /* BatchNorm: running statistics; dropout off */
    em_tape_set_recording(t->tape, false);
    double sum[3] = {0, 0, 0};          /* loss sum, correct, seen */
    int n, failed = 0;
    em_code mine = EM_OK;               /* this process's failure (err filled) */
    em_confusion *cm = t->confusion;
    if (cm) em_confusion_clear(cm);
    em_progress bar;
    long images = 0;
    em_progress_begin(&bar, stderr, "test", (long)em_loader_size(t->test), t->quiet);
    em_loader_begin_epoch(t->test, 0);
    while (em_loader_next(t->test, t->x_test, t->labels, &n)) {
        int lo = 0, hi = n;
        if (sharded) shard_of(n, P, t->dist->rank, &lo, &hi);
        if (hi == lo) continue;
        em_tensor rows = rows_of(t->x_test, lo, hi);
        em_tensor *logits = em_module_forward(t->net, t->tape, &rows);
        em_tensor *l = em_cross_entropy(t->tape, logits, t->labels + lo);
        if (!l) {
            mine = em_error_set(err, t->tape->status, "evaluation failed: %s", t->tape->err.msg);
            failed = 1;
            break;
        }
        int K = logits->shape[1];
        for (int i = 0; i < hi - lo && !failed; i++) {
            int p = argmax(logits->data + (size_t)i * K, K), y = t->labels[lo + i];
            sum[1] += p == y;
            if (cm && y < cm->k && p < cm->k) cm->counts[(size_t)y * cm->k + p] += 1;
            if (pred) {
                bool ok = fprintf(pred, "%.0f,%d,%d", sum[2] + i, t->labels[lo + i], p) >= 0;
                for (int k = 0; k < K && ok; k++)
                    ok = fprintf(pred, ",%.6g", (double)logits->data[(size_t)i * K + k]) >= 0;
                if (!ok || fputc('\n', pred) == EOF) {
                    mine = em_error_set(err, EM_ERR_IO, "writing the predictions failed: %s",
                                        strerror(errno));
                    failed = 1;
                }
            }
        }
        if (failed) break;   /* only with predictions: one process, nothing collective */
        sum[0] += (double)l->data[0] * (hi - lo);
        sum[2] += hi - lo;
        em_tape_reset(t->tape);
        images += n;   /* of the global batch: the bar of a data-parallel run */
        em_progress_step(&bar, images, sum[0] / sum[2], sum[1] / sum[2], images);
    }
    em_progress_end(&bar);
    em_tape_reset(t->tape);
    em_tape_set_recording(t->tape, true);
    em_module_train(t->net, true);
    if (sharded && (failed = em_dist_max(t->dist, failed)) == 0) {
        em_dist_sum(t->dist, sum, 3);
        if (cm) em_dist_sum(t->dist, cm->counts, cm->k * cm->k);
    }
    if (failed)
        return mine != EM_OK ? mine : em_error_set(err, EM_ERR_STATE, "evaluation failed on "
                                                   "another process");
    *loss = sum[2] ? sum[0] / sum[2] : NAN;
    *acc = sum[2] ? sum[1] / sum[2] : NAN;
    return EM_OK;
}

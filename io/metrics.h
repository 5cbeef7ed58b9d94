/* io/metrics.h — the metrics CSV that training runs write as they go.
 *
 *     em_metrics *m;
 *     if (em_metrics_open(&m, "run.csv", false, &err) != EM_OK) ...
 *     em_metrics_row row = {.epoch = 1, .step = 938, .lr = 0.05, .train_loss = 0.41, ...};
 *     if (em_metrics_write(m, &row, &err) != EM_OK) ...   // flushed: a crash keeps it
 *     em_metrics_close(m, &err);
 *
 * Columns: epoch,step,lr,train_loss,train_acc,test_loss,test_acc,seconds,images_per_s,
 * diverged. A value that was not measured (no test pass on a step row) is written as an
 * empty field, so a reader can tell "not measured" from 0. Every row goes to the file in
 * one write(2) before the call returns; a failed write (disk full, EIO, the file-size
 * limit) is an EM_ERR_IO naming the file, the part of the row that got out is cut off
 * again, and the rows already written stay: the file never ends in half a row.
 */
#ifndef EM_METRICS_H
#define EM_METRICS_H

#include <stdbool.h>
#include <stdio.h>

#include "../core/errors.h"

typedef struct em_metrics em_metrics;

typedef struct em_metrics_row {
    int epoch;
    long step;
    double lr;
    double train_loss, train_acc;   /* NAN: not measured */
    double test_loss, test_acc;     /* NAN: not measured */
    double seconds;                 /* wall time of the epoch (or since the last row) */
    double images_per_s;
    bool diverged;
} em_metrics_row;

/* append: keep an existing file's rows and add to them (a resumed run); otherwise the
 * file is created or truncated and gets the header. */
em_code em_metrics_open(em_metrics **m, const char *path, bool append, em_error *err);
/* For a resumed run: keep the header and the rows with step <= last_step (what the
 * checkpoint had seen; rows written after it would be written again), rewriting the file
 * atomically, then append. Only complete rows are kept (ten fields, ending in a newline):
 * a half-written last line left by a crash or anything that is no row is dropped. A
 * missing file is created. */
em_code em_metrics_open_resume(em_metrics **m, const char *path, long last_step, em_error *err);
em_code em_metrics_write(em_metrics *m, const em_metrics_row *row, em_error *err);
em_code em_metrics_close(em_metrics *m, em_error *err);

#endif

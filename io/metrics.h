/** io/metrics.h — the metrics CSV that training runs write as they go.
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
 *
 * A new file, and the file a resume rewrites, is written like a checkpoint (core/wfile.h:
 * a temporary file created exclusively, fsynced, renamed into place, the directory
 * fsynced) and the rows are appended to it from then on. The path must be a regular file
 * or not exist: a FIFO, a device, a directory or a symbolic link there is an EM_ERR_IO
 * (never a write through a link, never a wait on a FIFO).
 *
 * @file
 */
#ifndef EM_METRICS_H
#define EM_METRICS_H

#include <stdbool.h>
#include <stdio.h>

#include "../core/errors.h"

/** An open metrics file. */
typedef struct em_metrics em_metrics;

/** One row of the CSV. */
typedef struct em_metrics_row {
    int epoch;                    /**< 1, 2, ...                                      */
    long step;                    /**< optimizer steps taken so far                   */
    double lr;                    /**< the learning rate of the last step             */
    double train_loss, train_acc; /**< NAN: not measured */
    double test_loss, test_acc;   /**< NAN: not measured */
    double seconds;               /**< wall time of the epoch (or since the last row) */
    double images_per_s;          /**< training throughput over those seconds        */
    bool diverged;                /**< the run stopped: loss NaN/Inf or too large     */
} em_metrics_row;
/** @var em_metrics_row::train_loss
 * mean training loss over the epoch (or since the last row); NAN: not measured
 * @var em_metrics_row::test_loss
 * mean test loss; NAN: not measured */

/** append: keep an existing file's rows and add to them (a resumed run); otherwise the
 * file is created or truncated and gets the header. In append mode a last line without its
 * newline (a row cut short by kill -9 or a crash) is cut off before anything is added, so
 * the next row starts a line of its own and the file stays a CSV of whole rows; a file that
 * is left empty that way (half a header) gets the header. Other lines are kept as they
 * are: em_metrics_open_resume() also drops lines that are no rows.
 * @param m       receives the open file
 * @param path    the CSV file
 * @param append  true: add to an existing file
 * @param err     filled on failure
 * @return EM_OK, EM_ERR_IO (cannot open or write, naming the file) or EM_ERR_NOMEM */
em_code em_metrics_open(em_metrics **m, const char *path, bool append, em_error *err);
/** For a resumed run: keep the header and the rows with step <= last_step (what the
 * checkpoint had seen; rows written after it would be written again), rewriting the file
 * atomically, then append. Only complete rows are kept (ten fields, ending in a newline):
 * a half-written last line left by a crash or anything that is no row is dropped. A
 * missing file is created.
 * @param m          receives the open file
 * @param path       the CSV file
 * @param last_step  the checkpoint's step
 * @param err        filled on failure
 * @return EM_OK, EM_ERR_IO or EM_ERR_NOMEM */
em_code em_metrics_open_resume(em_metrics **m, const char *path, long last_step, em_error *err);
/** Append one row and flush it to the file.
 * @param m    the open file
 * @param row  the values
 * @param err  filled on failure
 * @return EM_OK or EM_ERR_IO (the rows written before stay) */
em_code em_metrics_write(em_metrics *m, const em_metrics_row *row, em_error *err);
/** Close the file and free m (also on failure).
 * @param m    the open file; NULL is allowed and does nothing
 * @param err  filled on failure
 * @return EM_OK or EM_ERR_IO */
em_code em_metrics_close(em_metrics *m, em_error *err);

#endif

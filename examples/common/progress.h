/* examples/common/progress.h — the live progress line of a training epoch, and of the other
 * waits: making a dataset, loading one, the test pass, ember-ablate's runs.
 *
 *     em_progress p;
 *     em_progress_begin(&p, stderr, "epoch 1/2", total_steps, quiet);
 *     ... each step: em_progress_step(&p, step, running_loss, running_acc, images_seen);
 *     em_progress_end(&p);                       // clears the line
 *
 * em_progress_count draws the bar with a count, a rate and the ETA and no loss (a dataset
 * being made); em_progress_note one line of text with the time so far (a file being read,
 * of which nothing says how far it got). *
 * Drawn only when the stream is a terminal and not quiet: a pipe or a log file gets
 * nothing (the per-epoch summary on stdout is what scripts read). Redrawn at most ten
 * times a second. */
#ifndef EM_PROGRESS_H
#define EM_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

typedef struct em_progress {
    FILE *out;
    bool active;            /* a terminal and not quiet */
    char label[48];
    long total;
    double start, last_draw;
} em_progress;

double em_now(void);        /* monotonic seconds */
void em_progress_begin(em_progress *p, FILE *out, const char *label, long total, bool quiet);
void em_progress_step(em_progress *p, long done, double loss, double acc, long images);
/* the bar, done/total, `unit`/s and ETA; note (may be NULL) after them */
void em_progress_count(em_progress *p, long done, const char *unit, const char *note);
/* em_shapes_progress-shaped: ctx is an em_progress, counted in images */
void em_progress_images(void *ctx, size_t done, size_t total);
/* "label: text" on its own line, erased by the next draw or em_progress_end */
void em_progress_note(em_progress *p, const char *text);
void em_progress_end(em_progress *p);

#endif

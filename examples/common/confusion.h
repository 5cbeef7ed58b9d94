/* examples/common/confusion.h — the confusion matrix of a test pass: per-class accuracy,
 * the most frequent confusions, and the matrix as a CSV file (and back, for ember-plot).
 *
 *     em_confusion c;
 *     em_confusion_init(&c, test.n_classes, test.class_names, &err);
 *     t.confusion = &c;                      // em_trainer_evaluate counts into it
 *     ... train or evaluate ...
 *     em_confusion_print(&c, stdout);        // the table
 *     em_confusion_save(&c, "confusion.csv", &err);
 *     em_confusion_free(&c);
 *
 * The file: a header `true\predicted,NAME0,...,NAMEk-1`, then one row per true class,
 * `NAMEi,COUNT0,...,COUNTk-1`: row i column j counts the test images of class i the model
 * called j. Names with a comma or a quote are quoted (csv.h).
 */
#ifndef EM_CONFUSION_H
#define EM_CONFUSION_H

#include <stdio.h>

#include "core/errors.h"
#include "examples/common/options.h"

#define EM_CONFUSION_MAX_CLASSES 1000

typedef struct em_confusion {
    int k;             /* classes                                                      */
    char **names;      /* k names, owned                                               */
    double *counts;    /* (k, k): counts[true * k + predicted]; doubles, so the processes
                          of a data-parallel run sum them with em_dist_sum                */
} em_confusion;

/* k classes named names[0..k) (NULL: "0", "1", ...), every count 0 */
em_code em_confusion_init(em_confusion *c, int k, const char *const *names, em_error *err);
void em_confusion_free(em_confusion *c);
void em_confusion_clear(em_confusion *c);
/* every image counted */
double em_confusion_total(const em_confusion *c);
/* the per-class table (all classes up to 20, else the 10 with the lowest accuracy) and
 * the five most frequent confusions */
void em_confusion_print(const em_confusion *c, FILE *out);
/* the CSV file (outfile.h: crash-safe); EM_ERR_IO naming it */
em_code em_confusion_save(const em_confusion *c, const char *path, em_error *err);
/* a file em_confusion_save wrote (or one like it); EM_ERR_IO, or EM_ERR_FORMAT naming the
 * file and the line */
em_code em_confusion_load(em_confusion *c, const char *path, em_error *err);
/* The end of ember-mnist's/-cifar's evaluation: the table on stdout unless --quiet, and
 * --confusion FILE. Returns 0, or 1 with the message printed when the file cannot be
 * written. */
int em_confusion_finish(const em_confusion *c, const em_config *cfg);

#endif

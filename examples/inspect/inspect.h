/* examples/inspect/inspect.h — ember-inspect: what is inside a file ember writes or reads.
 *
 * main.c tells the format from the first bytes (and, for files whose content says nothing,
 * from the name) and calls one of the printers below. Each reads the file through the
 * library's own reader where there is one — safetensors (io/safetensors.h), .npy
 * (io/npy.h), idx (data/mnist.h), CIFAR (data/cifar10.h) — so a bad file gets the message
 * the loaders give; each returns EM_OK or the code with err naming the file.
 */
#ifndef EM_INSPECT_H
#define EM_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/errors.h"

/* min, max, mean, std (population) of the finite values, and how many are not finite */
typedef struct in_stats {
    size_t n, nonfinite;
    double min, max, mean, m2;    /* m2: Welford's sum of squared deviations */
} in_stats;

void in_stats_init(in_stats *s);
void in_stats_add(in_stats *s, double v);
/* "min max mean std non-finite" columns, or "(no finite value)" */
void in_stats_print(const in_stats *s, FILE *out);
/* "16x1x3x3"; "()" for a scalar */
void in_shape(char *out, size_t len, int ndim, const int64_t *shape);

/* tensors.c: files of tensors */
em_code in_safetensors(const char *path, FILE *out, em_error *err);
/* 0 the same (within tol), 1 they differ, 2 a file could not be read (err) */
int in_diff(const char *a, const char *b, double tol, FILE *out, em_error *err);
em_code in_npy(const char *path, FILE *out, em_error *err);
em_code in_emfx(const char *path, FILE *out, em_error *err);

/* data.c: data sets, CSV files, the state-dict names fixture */
em_code in_idx(const char *path, FILE *out, em_error *err);
em_code in_cifar(const char *path, FILE *out, em_error *err);
em_code in_data_dir(const char *path, FILE *out, em_error *err);
em_code in_csv(const char *path, FILE *out, em_error *err);
/* tests/fixtures/state_dict_names.txt: "MODEL BN NAME DTYPE SHAPE" lines */
bool in_is_names(const char *first_line);
em_code in_names(const char *path, FILE *out, em_error *err);

#endif

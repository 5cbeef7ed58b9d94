/* tests/mpi/ckpt_diff.c — how far apart two checkpoints are, for the data-parallel tests.
 *
 *   ckpt_diff A.st B.st [--weights] [--max X | --min X]
 *
 * Both files must hold the same tensors with the same shapes and dtypes; integer tensors
 * (num_batches_tracked, optim.step, train.position) must be equal. For every float tensor
 * t, d(t) = max_i |a_i - b_i| / max_i |a_i| (a difference relative to the tensor's scale, so
 * one number fits weights, running variances and momentum buffers). Prints the largest
 * d and its tensor, and the largest absolute difference of the weights. Exit 0 when d <= X
 * (--max) or d >= X (--min, for a run that must differ), 1 otherwise, 2 on unreadable or
 * mismatched files. --weights leaves out the BatchNorm buffers (running_mean, running_var,
 * num_batches_tracked): ghost batches in one process update them once per ghost batch,
 * processes once per step; train.epoch_stats holds the best test accuracy, measured with
 * them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

static double value(const em_st_tensor *t, size_t i) {
    return t->dtype == EM_ST_F32 ? (double)((const float *)t->data)[i]
                                 : ((const double *)t->data)[i];
}

int main(int argc, char **argv) {
    bool weights_only = false;
    const char *bound = NULL;
    double x = 0;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--weights")) weights_only = true;
        else if (i + 1 < argc && (!strcmp(argv[i], "--max") || !strcmp(argv[i], "--min"))) {
            bound = argv[i];
            x = strtod(argv[++i], NULL);
        } else {
            argc = 0;
        }
    }
    if (argc < 3) {
        fprintf(stderr, "usage: ckpt_diff A.st B.st [--weights] [--max X | --min X]\n");
        return 2;
    }
    em_st *a, *b;
    em_error err;
    if (em_st_read(&a, argv[1], &err) != EM_OK || em_st_read(&b, argv[2], &err) != EM_OK) {
        fprintf(stderr, "ckpt_diff: %s\n", err.msg);
        return 2;
    }
    if (a->n != b->n) {
        fprintf(stderr, "ckpt_diff: %d tensors against %d\n", a->n, b->n);
        return 2;
    }
    double worst = 0, worst_abs = 0;
    const char *worst_name = "-";
    for (int k = 0; k < a->n; k++) {
        const em_st_tensor *ta = &a->tensors[k], *tb = em_st_find(b, ta->name);
        if (weights_only && (strstr(ta->name, ".running_") || strstr(ta->name, ".num_batches") ||
                             !strcmp(ta->name, "train.epoch_stats")))
            continue;
        if (!tb || tb->dtype != ta->dtype || tb->numel != ta->numel) {
            fprintf(stderr, "ckpt_diff: %s differs in name, dtype or size\n", ta->name);
            return 2;
        }
        if (ta->dtype != EM_ST_F32 && ta->dtype != EM_ST_F64) {
            if (memcmp(ta->data, tb->data, ta->numel * em_st_dtype_size(ta->dtype))) {
                fprintf(stderr, "ckpt_diff: %s: the integers differ\n", ta->name);
                return 1;
            }
            continue;
        }
        double diff = 0, scale = 0;
        for (size_t i = 0; i < ta->numel; i++) {
            double x = value(ta, i), y = value(tb, i);
            diff = fmax(diff, fabs(x - y));
            scale = fmax(scale, fabs(x));
            if (isnan(x) != isnan(y)) diff = INFINITY;
        }
        double d = scale > 0 ? diff / scale : diff;
        bool weight = strncmp(ta->name, "optim.", 6) && strncmp(ta->name, "train.", 6);
        if (weight) worst_abs = fmax(worst_abs, diff);
        if (d > worst) {
            worst = d;
            worst_name = ta->name;
        }
    }
    printf("largest relative difference %.3g (%s), largest weight difference %.3g\n", worst,
           worst_name, worst_abs);
    int status = !bound ? 0 : !strcmp(bound, "--max") ? worst > x : worst < x;
    em_st_free(a);
    em_st_free(b);
    return status;
}

/* tests/exercises/grade.h — the exercise grader's checks and its feedback lines.
 *
 * The grader (ember-grade) is a plain program, not a Criterion suite, so that what it
 * prints is only feedback. It runs in the double build (ember_f64), where the gradient
 * checks have the precision to catch an O(1/N) mistake. Each exercise is a sequence of
 * checks; a check compares one quantity (y, dx, dgamma, ...) in one situation (a shape,
 * a PyTorch fixture step) and prints either nothing (it passed: the situation's line lists
 * it as ok) or one line that names the exercise, the quantity and where it is worst:
 *
 *   exercise 2 (batchnorm backward): dgamma wrong — gradcheck, x (4, 5): ...
 */
#ifndef EM_GRADE_H
#define EM_GRADE_H

#include <stdbool.h>
#include <stdio.h>

#include "ember.h"

_Noreturn void grade_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define FX_FAIL(...) grade_fatal(__VA_ARGS__)
#include "../fixture.h"

/* Tolerances, normwise relative (max |got - want| / max |want|): against the grader's own
 * double-precision reference, and against PyTorch's float64 numbers (the library's
 * tests/test_batchnorm_ref.c uses the same 1e-9 in its double build). */
#define GRADE_REF_TOL 1e-9
#define GRADE_GOLDEN_TOL 1e-9

typedef struct grade {
    int number;              /* 1..4; 0: the checks of all four together */
    const char *title;       /* "batchnorm backward" */
    int checks, failed;
    char wrong[160];         /* the quantities found wrong, each once: "dx, dgamma" */
    char ok[160];            /* the quantities that passed in the current situation */
    char context[200];       /* the current situation */
    char brief[160];         /* its wrong quantities, when they are not shown in detail */
    bool situation_failed;   /* a check of the current situation failed */
    int failed_situations;   /* situations with a failed check so far */
} grade;

/* Situations whose failures are shown in detail, one line per quantity; later failing
 * situations get one line naming the wrong quantities (so a skeleton is not a wall). */
#define GRADE_DETAILED 3

void grade_begin(grade *g, int number, const char *title);
/* prints the verdict line; true when every check passed */
bool grade_end(grade *g);

/* a situation: its checks follow; grade_done() prints the ok line for those that passed */
void grade_situation(grade *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void grade_done(grade *g);

/* Compare got[0..n) with want[0..n): passes when the normwise relative error is at most
 * tol (NaN never passes). name is the quantity ("dx"), shape/ndim its shape for naming
 * the worst element. */
bool grade_compare(grade *g, const char *name, const em_real *got, const double *want,
                   size_t n, int ndim, const int *shape, double tol);

/* Report an em_gradcheck over inputs[0..n) whose gradients are called names[k]; inputs
 * without EM_REQUIRES_GRAD are skipped. */
bool grade_gradcheck(grade *g, em_code status, const em_gradcheck_result *r, int n,
                     em_tensor *const *inputs, const char *const *names);

/* a hint under the checks: "exercise 2 (batchnorm backward): hint: ..." */
void grade_hint(const grade *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* normwise relative error of got against want, as grade_compare measures it */
double grade_rel_err(const em_real *got, const double *want, size_t n);

/* "(4, 3, 5, 6)" into buf, returned */
char *grade_shape_str(char *buf, size_t len, int ndim, const int *shape);
/* a heap tensor of N(mean, std^2) values */
em_tensor *grade_randn(em_rng *rng, int ndim, const int *shape, double mean, double std,
                       unsigned flags);
/* a malloc'd copy of a fixture tensor's values as em_real */
em_real *grade_fx_values(const fx_tensor *t);

/* the exercises; each returns true when all its checks pass */
bool grade_ex1_batchnorm_forward(void);
bool grade_ex2_batchnorm_backward(void);
bool grade_ex3_conv2d_backward(void);
bool grade_ex4_sgd_momentum(void);
bool grade_all_together(void);

#endif

/* tests/exercises/grade.h — the exercise grader's checks and its feedback lines.
 *
 * The grader (ember-grade) is a plain program, not a Criterion suite, so that what it
 * prints is only feedback. It runs in the double build (ember_f64), where the gradient
 * checks have the precision to catch an O(1/N) mistake. Each exercise runs in a process of
 * its own (grade.c: a crash or an endless loop costs that exercise only) and is a probe —
 * did the student's functions write anything at all? — then a sequence of checks. A check
 * compares one quantity (y, dx, dgamma, ...) in one situation (a shape, a PyTorch fixture
 * step) and prints either nothing (it passed: the situation's line lists it as ok) or one
 * line that names the exercise, the quantity and where it is worst:
 *
 *   exercise 2 (batchnorm backward): dgamma wrong — gradcheck, x (4, 5): ...
 *
 * Every check is also recorded for the --json report, with its points: an exercise is
 * worth GRADE_POINTS, shared evenly among the checks a right solution passes.
 */
#ifndef EM_GRADE_H
#define EM_GRADE_H

#include <stdbool.h>
#include <stdio.h>

#include "ember.h"

_Noreturn void grade_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define FX_FAIL(...) grade_fatal(__VA_ARGS__)
/* the fixtures' folder: --fixtures, else the source tree's (meson.build) */
const char *grade_fixtures_dir(void);
#define EM_FIXTURES_DIR grade_fixtures_dir()
#include "../fixture.h"

/* Tolerances, normwise relative (max |got - want| / max |want|): against the grader's own
 * double-precision reference, and against PyTorch's float64 numbers (the library's
 * tests/test_batchnorm_ref.c uses the same 1e-9 in its double build). */
#define GRADE_REF_TOL 1e-9
#define GRADE_GOLDEN_TOL 1e-9

/* what one exercise is worth */
#define GRADE_POINTS 10.0

/* one check, for the --json report */
typedef struct grade_record {
    char situation[200];
    char name[48];
    bool passed;
    char detail[512];  /* the feedback line's text after the dash, when it failed */
} grade_record;

typedef struct grade {
    int number;              /* 1..13; 0: the checks of all exercises together */
    const char *title;       /* "batchnorm backward" */
    bool quiet;              /* --json: record, print nothing */
    int checks, failed;
    char wrong[200];         /* the quantities found wrong, each once: "dx, dgamma" */
    char ok[200];            /* the quantities that passed in the current situation */
    char context[200];       /* the current situation */
    char brief[200];         /* its wrong quantities, when they are not shown in detail */
    bool situation_failed;   /* a check of the current situation failed */
    int failed_situations;   /* situations with a failed check so far */
    char idle[300];          /* the probe: the functions that wrote nothing */
    int n_idle, n_probed;
    grade_record *log;       /* every check, in order */
    int n_log, cap_log;
    char hints[6][400];
    int n_hints;
} grade;

/* Situations whose failures are shown in detail, one line per quantity; later failing
 * situations get one line naming the wrong quantities (so a skeleton is not a wall). */
#define GRADE_DETAILED 3

void grade_begin(grade *g, int number, const char *title, bool quiet);
void grade_free(grade *g);
/* a feedback line: "exercise 2 (batchnorm backward): " and the text (not in --json) */
void grade_say(const grade *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The probe, before any check: fn is one of the exercise's functions, wrote whether it
 * wrote anything into outputs that arrived zeroed (or changed what it reads and writes).
 * An exercise none of whose functions wrote is "not attempted" and is not checked. */
void grade_probe(grade *g, const char *fn, bool wrote);
/* any element of p[0..n) not 0 (a NaN counts: something was written) */
bool grade_nonzero(const em_real *p, size_t n);
/* true when a probed function wrote something */
bool grade_attempted(const grade *g);
/* after the probes: false when nothing was written (skip the checks); else true, with a
 * line naming the functions that wrote nothing, if any */
bool grade_probe_done(grade *g);

/* a situation: its checks follow; grade_done() prints the ok line for those that passed */
void grade_situation(grade *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void grade_done(grade *g);

/* Compare got[0..n) with want[0..n): passes when the normwise relative error is at most
 * tol (NaN never passes). name is the quantity ("dx"), shape/ndim its shape for naming
 * the worst element. */
bool grade_compare(grade *g, const char *name, const em_real *got, const double *want,
                   size_t n, int ndim, const int *shape, double tol);
/* a check of a yes/no property: fails with the message why (printf format) */
bool grade_expect(grade *g, const char *name, bool passed, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* em_gradcheck of f over inputs[0..n) whose gradients are called names[k] (inputs without
 * EM_REQUIRES_GRAD are skipped), reported as checks. A check that could prove nothing is a
 * failure, "not attempted": f's output all zero (an empty forward), or a gradient that is
 * zero everywhere, as is the finite difference (an empty backward of a function that does
 * not depend on the input). */
bool grade_gradcheck(grade *g, em_gradcheck_fn f, void *ctx, int n, em_tensor *const *inputs,
                     const char *const *names);

/* a hint under the checks: "exercise 2 (batchnorm backward): hint: ..." */
void grade_hint(grade *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* normwise relative error of got against want, as grade_compare measures it */
double grade_rel_err(const em_real *got, const double *want, size_t n);

/* "(4, 3, 5, 6)" into buf, returned */
char *grade_shape_str(char *buf, size_t len, int ndim, const int *shape);
/* a heap tensor of N(mean, std^2) values */
em_tensor *grade_randn(em_rng *rng, int ndim, const int *shape, double mean, double std,
                       unsigned flags);
/* a malloc'd copy of a fixture tensor's values as em_real */
em_real *grade_fx_values(const fx_tensor *t);
/* malloc that stops the grader when there is no memory */
void *grade_alloc(size_t n, size_t size);

/* the exercises: each probes its functions, then runs its checks into g */
void grade_ex1_batchnorm_forward(grade *g);
void grade_ex2_batchnorm_backward(grade *g);
void grade_ex3_conv2d_backward(grade *g);
void grade_ex4_sgd_momentum(grade *g);
void grade_ex5_batchnorm_graph(grade *g);
void grade_ex6_batchnorm_inference(grade *g);
void grade_ex7_maxpool(grade *g);
void grade_ex8_softmax_cross_entropy(grade *g);
void grade_ex9_adam(grade *g);
void grade_ex10_kaiming_init(grade *g);
void grade_ex11_backward_loop(grade *g);
void grade_ex12_layernorm(grade *g);
void grade_ex13_groupnorm(grade *g);
void grade_all_together(grade *g);

#endif

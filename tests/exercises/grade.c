/* tests/exercises/grade.c — ember-grade: grades the exercises of exercises/ (docs/exercises.md).
 *
 *     ember-grade            every exercise, then the score line
 *     ember-grade 2          exercise 2 only (what `meson test --suite exercises` runs)
 *     ember-grade together   the library with all four functions in place
 *
 * Exit status 0 when every graded check passed, 1 when one failed, 2 on a usage error or
 * an unreadable fixture. */
#include "grade.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void grade_fatal(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ember-grade: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (a problem of the grader's files, not of your code)\n");
    va_end(ap);
    exit(2);
}

/* "exercise 2 (batchnorm backward)" or, for the combined checks, "all together" */
static void label(const grade *g, char *buf, size_t len) {
    if (g->number > 0) snprintf(buf, len, "exercise %d (%s)", g->number, g->title);
    else snprintf(buf, len, "%s", g->title);
}

/* append name to a ", "-separated list unless it is there already */
static void list_add(char *list, size_t len, const char *name) {
    size_t nl = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += nl)
        if ((p == list || p[-1] == ' ') && (p[nl] == ',' || p[nl] == '\0')) return;
    size_t at = strlen(list);
    snprintf(list + at, len - at, "%s%s", at ? ", " : "", name);
}

void grade_begin(grade *g, int number, const char *title) {
    memset(g, 0, sizeof *g);
    g->number = number;
    g->title = title;
}

bool grade_end(grade *g) {
    char lb[96];
    label(g, lb, sizeof lb);
    if (g->failed)
        printf("%s: FAILED — %d of %d checks failed; wrong: %s\n", lb, g->failed, g->checks,
               g->wrong);
    else printf("%s: PASSED — all %d checks\n", lb, g->checks);
    fflush(stdout);
    return g->failed == 0;
}

void grade_situation(grade *g, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->context, sizeof g->context, fmt, ap);
    va_end(ap);
    g->ok[0] = g->brief[0] = '\0';
    g->situation_failed = false;
}

void grade_done(grade *g) {
    char lb[96];
    label(g, lb, sizeof lb);
    if (g->brief[0]) printf("%s: %s wrong — %s\n", lb, g->brief, g->context);
    if (g->ok[0]) printf("%s: ok — %s: %s\n", lb, g->context, g->ok);
    g->ok[0] = g->brief[0] = '\0';
}

void grade_hint(const grade *g, const char *fmt, ...) {
    char lb[96];
    label(g, lb, sizeof lb);
    printf("%s: hint: ", lb);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

/* "y[1, 3]": the flat index i of an array of the given shape, as coordinates */
static void element_name(char *buf, size_t len, const char *name, int ndim, const int *shape,
                         size_t i) {
    int coord[8];
    for (int d = ndim - 1; d >= 0; d--) {
        coord[d] = shape[d] ? (int)(i % (size_t)shape[d]) : 0;
        i = shape[d] ? i / (size_t)shape[d] : 0;
    }
    size_t at = (size_t)snprintf(buf, len, "%s[", name);
    for (int d = 0; d < ndim && at < len; d++)
        at += (size_t)snprintf(buf + at, len - at, "%s%d", d ? ", " : "", coord[d]);
    if (at < len) snprintf(buf + at, len - at, "]");
}

/* count a failed check of quantity name; false when it is not to be shown in detail
 * (it then goes to the situation's one-line summary) */
static bool fail(grade *g, const char *name) {
    g->failed++;
    list_add(g->wrong, sizeof g->wrong, name);
    if (!g->situation_failed) {
        g->situation_failed = true;
        g->failed_situations++;
    }
    if (g->failed_situations <= GRADE_DETAILED) return true;
    list_add(g->brief, sizeof g->brief, name);
    return false;
}

double grade_rel_err(const em_real *got, const double *want, size_t n) {
    double scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++) {
        scale = fmax(scale, fabs(want[i]));
        double e = fabs(got[i] - want[i]);
        if (isnan(e)) return NAN;
        worst = fmax(worst, e);
    }
    return scale > 0 ? worst / scale : worst;
}

bool grade_compare(grade *g, const char *name, const em_real *got, const double *want,
                   size_t n, int ndim, const int *shape, double tol) {
    g->checks++;
    double rel = grade_rel_err(got, want, n);
    if (rel <= tol) {
        list_add(g->ok, sizeof g->ok, name);
        return true;
    }
    if (!fail(g, name)) return false;
    size_t worst = 0;
    double max_err = -1;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]);
        if (isnan(e)) e = INFINITY;
        if (e > max_err) max_err = e, worst = i;
    }
    char lb[96], el[64];
    label(g, lb, sizeof lb);
    element_name(el, sizeof el, name, ndim, shape, worst);
    printf("%s: %s wrong — %s: max abs error %.2g at %s (want %.6g, got %.6g); relative "
           "error %.2g, tolerance %.0e\n", lb, name, g->context, max_err, el, want[worst],
           (double)got[worst], rel, tol);
    return false;
}

bool grade_gradcheck(grade *g, em_code status, const em_gradcheck_result *r, int n,
                     em_tensor *const *inputs, const char *const *names) {
    char lb[96];
    label(g, lb, sizeof lb);
    if (status != EM_OK) {
        g->checks++;
        if (fail(g, "gradcheck"))
            printf("%s: gradcheck could not run — %s: %s\n", lb, g->context,
                   em_code_name(status));
        return false;
    }
    bool all = true;
    for (int k = 0; k < n; k++) {
        if (!r->checked[k]) continue;
        g->checks++;
        if (!r->failures[k]) {
            list_add(g->ok, sizeof g->ok, names[k]);
            continue;
        }
        all = false;
        if (!fail(g, names[k])) continue;
        char el[64];
        element_name(el, sizeof el, names[k], inputs[k]->ndim, inputs[k]->shape, r->worst[k]);
        /* a NaN never raises the checker's max abs error: report it as such */
        double mae = isnan(r->worst_analytic[k]) || isnan(r->worst_numeric[k])
                         ? NAN : r->max_abs_err[k];
        printf("%s: %s wrong — %s: %zu of %zu elements off, max abs error %.2g; worst at %s "
               "(want %.6g from finite differences, got %.6g)\n", lb, names[k], g->context,
               r->failures[k], r->checked[k], mae, el, r->worst_numeric[k],
               r->worst_analytic[k]);
    }
    return all;
}

char *grade_shape_str(char *buf, size_t len, int ndim, const int *shape) {
    size_t at = (size_t)snprintf(buf, len, "(");
    for (int d = 0; d < ndim && at < len; d++)
        at += (size_t)snprintf(buf + at, len - at, "%s%d", d ? ", " : "", shape[d]);
    if (at < len) snprintf(buf + at, len - at, ")");
    return buf;
}

em_tensor *grade_randn(em_rng *rng, int ndim, const int *shape, double mean, double std,
                       unsigned flags) {
    em_tensor *t = em_tensor_new(ndim, shape, flags);
    if (!t) grade_fatal("no memory");
    for (size_t i = 0; i < t->size; i++) t->data[i] = (em_real)em_rng_normal(rng, mean, std);
    return t;
}

em_real *grade_fx_values(const fx_tensor *t) {
    em_real *p = malloc((t->size ? t->size : 1) * sizeof *p);
    if (!p) grade_fatal("no memory");
    for (size_t i = 0; i < t->size; i++) p[i] = (em_real)t->data[i];
    return p;
}

typedef struct exercise {
    const char *arg;
    bool (*run)(void);
} exercise;

static const exercise exercises[] = {
    {"1", grade_ex1_batchnorm_forward}, {"2", grade_ex2_batchnorm_backward},
    {"3", grade_ex3_conv2d_backward},   {"4", grade_ex4_sgd_momentum},
    {"together", grade_all_together},
};
#define N_EXERCISES 4  /* the first four are scored; "together" is reported beside them */

int main(int argc, char **argv) {
    if (argc > 2) {
        fprintf(stderr, "usage: ember-grade [1|2|3|4|together]\n");
        return 2;
    }
    if (argc == 2) {
        for (size_t i = 0; i < sizeof exercises / sizeof exercises[0]; i++)
            if (!strcmp(argv[1], exercises[i].arg)) return exercises[i].run() ? 0 : 1;
        fprintf(stderr, "ember-grade: no exercise '%s' (1, 2, 3, 4 or together)\n", argv[1]);
        return 2;
    }
    int passed = 0;
    for (int i = 0; i < N_EXERCISES; i++) {
        passed += exercises[i].run();
        printf("\n");
    }
    bool together = grade_all_together();
    printf("\nscore: %d of %d exercises pass; all together in ember: %s\n", passed,
           N_EXERCISES, together ? "passed" : "FAILED");
    return passed == N_EXERCISES && together ? 0 : 1;
}

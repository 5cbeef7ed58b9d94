/* tests/exercises/check.c — the grader's checks and feedback lines (grade.h): comparisons
 * against references, gradient checks, the probe that tells an empty exercise from a wrong
 * one, hints; each check printed (unless --json) and recorded for the report. */
#include "grade.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void *grade_alloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) grade_fatal("no memory");
    return p;
}

/* "exercise 2 (batchnorm backward)" or, for the combined checks, "all together" */
static void label(const grade *g, char *buf, size_t len) {
    if (g->number > 0) snprintf(buf, len, "exercise %d (%s)", g->number, g->title);
    else snprintf(buf, len, "%s", g->title);
}

void grade_say(const grade *g, const char *fmt, ...) {
    if (g->quiet) return;
    char lb[96];
    label(g, lb, sizeof lb);
    printf("%s: ", lb);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

/* append name to a ", "-separated list unless it is there already */
static void list_add(char *list, size_t len, const char *name) {
    size_t nl = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += nl)
        if ((p == list || p[-1] == ' ') && (p[nl] == ',' || p[nl] == '\0')) return;
    size_t at = strlen(list);
    snprintf(list + at, len - at, "%s%s", at ? ", " : "", name);
}

void grade_begin(grade *g, int number, const char *title, bool quiet) {
    memset(g, 0, sizeof *g);
    g->number = number;
    g->title = title;
    g->quiet = quiet;
}

void grade_free(grade *g) {
    free(g->log);
    g->log = NULL;
}

bool grade_nonzero(const em_real *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0) return true;  /* a NaN compares unequal: written */
    return false;
}

void grade_probe(grade *g, const char *fn, bool wrote) {
    g->n_probed++;
    if (wrote) return;
    g->n_idle++;
    list_add(g->idle, sizeof g->idle, fn);
}

bool grade_attempted(const grade *g) { return g->n_probed == 0 || g->n_idle < g->n_probed; }

bool grade_probe_done(grade *g) {
    if (!grade_attempted(g)) return false;
    if (g->n_idle) grade_say(g, "not attempted yet: %s (wrote nothing)", g->idle);
    return true;
}

static void record(grade *g, const char *name, bool passed, const char *detail) {
    if (g->n_log == g->cap_log) {
        g->cap_log = g->cap_log ? 2 * g->cap_log : 64;
        g->log = realloc(g->log, (size_t)g->cap_log * sizeof *g->log);
        if (!g->log) grade_fatal("no memory");
    }
    grade_record *r = &g->log[g->n_log++];
    snprintf(r->situation, sizeof r->situation, "%s", g->context);
    snprintf(r->name, sizeof r->name, "%s", name);
    r->passed = passed;
    snprintf(r->detail, sizeof r->detail, "%s", detail ? detail : "");
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
    if (g->brief[0]) grade_say(g, "%s wrong — %s", g->brief, g->context);
    if (g->ok[0]) grade_say(g, "ok — %s: %s", g->context, g->ok);
    g->ok[0] = g->brief[0] = '\0';
}

void grade_hint(grade *g, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char text[400];
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (g->n_hints < (int)(sizeof g->hints / sizeof g->hints[0]))
        snprintf(g->hints[g->n_hints++], sizeof g->hints[0], "%s", text);
    grade_say(g, "hint: %s", text);
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

/* count a failed check of quantity name with its detail; false when it is not to be shown
 * in detail (it then goes to the situation's one-line summary) */
static bool fail(grade *g, const char *name, const char *detail) {
    g->failed++;
    record(g, name, false, detail);
    list_add(g->wrong, sizeof g->wrong, name);
    if (!g->situation_failed) {
        g->situation_failed = true;
        g->failed_situations++;
    }
    if (g->failed_situations <= GRADE_DETAILED) return true;
    list_add(g->brief, sizeof g->brief, name);
    return false;
}

static void pass(grade *g, const char *name) {
    record(g, name, true, NULL);
    list_add(g->ok, sizeof g->ok, name);
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
        pass(g, name);
        return true;
    }
    size_t worst = 0;
    double max_err = -1;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(got[i] - want[i]);
        if (isnan(e)) e = INFINITY;
        if (e > max_err) max_err = e, worst = i;
    }
    char el[64], detail[512];
    element_name(el, sizeof el, name, ndim, shape, worst);
    snprintf(detail, sizeof detail, "%s: max abs error %.2g at %s (want %.6g, got %.6g); "
             "relative error %.2g, tolerance %.0e", g->context, max_err, el, want[worst],
             (double)got[worst], rel, tol);
    if (fail(g, name, detail)) grade_say(g, "%s wrong — %s", name, detail);
    return false;
}

bool grade_expect(grade *g, const char *name, bool passed, const char *fmt, ...) {
    g->checks++;
    if (passed) {
        pass(g, name);
        return true;
    }
    char why[240], detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    snprintf(detail, sizeof detail, "%s: %s", g->context, why);
    if (fail(g, name, detail)) grade_say(g, "%s wrong — %s", name, detail);
    return false;
}

/* f's output on the inputs as they are, all zero? (an empty forward: nothing to check) */
static bool output_all_zero(em_gradcheck_fn f, void *ctx, em_tensor *const *inputs) {
    em_tape *tape = em_tape_new(0);
    if (!tape) grade_fatal("no memory");
    em_tape_set_recording(tape, false);
    em_tensor *y = f(tape, inputs, ctx);
    bool zero = y && !grade_nonzero(y->data, y->size);
    em_tape_free(tape);
    return zero;
}

bool grade_gradcheck(grade *g, em_gradcheck_fn f, void *ctx, int n, em_tensor *const *inputs,
                     const char *const *names) {
    char detail[512];
    if (output_all_zero(f, ctx, inputs)) {
        bool any = false;
        for (int k = 0; k < n; k++) {
            if (!em_requires_grad(inputs[k])) continue;
            g->checks++;
            snprintf(detail, sizeof detail, "%s: not attempted — the output is all zero, so "
                     "the finite differences are 0 and the check would prove nothing",
                     g->context);
            if (fail(g, names[k], detail) && !any) grade_say(g, "%s: %s", names[k], detail);
            any = true;
        }
        return false;
    }
    em_gradcheck_result r;
    em_code status = em_gradcheck(f, ctx, n, inputs, NULL, &r);
    if (status != EM_OK) {
        g->checks++;
        snprintf(detail, sizeof detail, "%s: %s", g->context, em_code_name(status));
        if (fail(g, "gradcheck", detail)) grade_say(g, "gradcheck could not run — %s", detail);
        return false;
    }
    bool all = true;
    for (int k = 0; k < n; k++) {
        if (!r.checked[k]) continue;
        g->checks++;
        if (!r.failures[k]) {
            if (grade_nonzero(inputs[k]->grad, inputs[k]->size)) {
                pass(g, names[k]);
                continue;
            }
            all = false;
            snprintf(detail, sizeof detail, "%s: not attempted — %s is 0 everywhere and so "
                     "are the finite differences: the check proves nothing", g->context,
                     names[k]);
            if (fail(g, names[k], detail)) grade_say(g, "%s: %s", names[k], detail);
            continue;
        }
        all = false;
        char el[64];
        element_name(el, sizeof el, names[k], inputs[k]->ndim, inputs[k]->shape, r.worst[k]);
        /* a NaN never raises the checker's max abs error: report it as such */
        double mae = isnan(r.worst_analytic[k]) || isnan(r.worst_numeric[k])
                         ? NAN : r.max_abs_err[k];
        snprintf(detail, sizeof detail, "%s: %zu of %zu elements off, max abs error %.2g; "
                 "worst at %s (want %.6g from finite differences, got %.6g)", g->context,
                 r.failures[k], r.checked[k], mae, el, r.worst_numeric[k],
                 r.worst_analytic[k]);
        if (fail(g, names[k], detail)) grade_say(g, "%s wrong — %s", names[k], detail);
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
    em_real *p = grade_alloc(t->size, sizeof *p);
    for (size_t i = 0; i < t->size; i++) p[i] = (em_real)t->data[i];
    return p;
}

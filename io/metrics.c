/* io/metrics.c — metrics CSV, one flushed row at a time. */
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct em_metrics {
    FILE *f;
    char path[1024];
};

static const char header[] =
    "epoch,step,lr,train_loss,train_acc,test_loss,test_acc,seconds,images_per_s,diverged\n";

em_code em_metrics_open(em_metrics **out, const char *path, bool append, em_error *err) {
    *out = NULL;
    em_metrics *m = calloc(1, sizeof *m);
    if (!m) return em_error_set(err, EM_ERR_NOMEM, "out of memory opening %s", path);
    snprintf(m->path, sizeof m->path, "%s", path);
    bool has_rows = false;
    if (append) {
        FILE *probe = fopen(path, "r");
        if (probe) {
            has_rows = fgetc(probe) != EOF;
            fclose(probe);
        }
    }
    m->f = fopen(path, append ? "a" : "w");
    if (!m->f) {
        em_code c = em_error_set(err, EM_ERR_IO, "cannot write metrics file %s: %s", path,
                                 strerror(errno));
        free(m);
        return c;
    }
    if (!has_rows && (fputs(header, m->f) == EOF || fflush(m->f) != 0)) {
        em_code c = em_error_set(err, EM_ERR_IO, "writing %s failed: %s", path, strerror(errno));
        fclose(m->f);
        free(m);
        return c;
    }
    *out = m;
    return EM_OK;
}

em_code em_metrics_open_resume(em_metrics **out, const char *path, long last_step,
                               em_error *err) {
    *out = NULL;
    FILE *in = fopen(path, "r");
    if (!in) return em_metrics_open(out, path, false, err);
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fclose(in);
        return em_error_set(err, EM_ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
    }
    char line[1024];
    bool ok = fputs(header, f) != EOF;
    while (ok && fgets(line, sizeof line, in)) {
        if (!strncmp(line, "epoch,", 6)) continue;           /* the header */
        long epoch, step;
        if (sscanf(line, "%ld,%ld,", &epoch, &step) != 2) continue;   /* not a row */
        if (step <= last_step) ok = fputs(line, f) != EOF;
    }
    fclose(in);
    if (fclose(f) != 0 || !ok || rename(tmp, path) != 0) {
        em_code c = em_error_set(err, EM_ERR_IO, "rewriting %s for the resumed run failed: %s",
                                 path, strerror(errno));
        remove(tmp);
        return c;
    }
    return em_metrics_open(out, path, true, err);
}

/* a measured value, or nothing between the commas */
static void field(char *buf, size_t len, const char *fmt, double v) {
    if (isnan(v)) buf[0] = '\0';
    else snprintf(buf, len, fmt, v);
}

em_code em_metrics_write(em_metrics *m, const em_metrics_row *r, em_error *err) {
    char lr[32], tl[32], ta[32], vl[32], va[32], sec[32], ips[32];
    field(lr, sizeof lr, "%.6g", r->lr);
    field(tl, sizeof tl, "%.6f", r->train_loss);
    field(ta, sizeof ta, "%.6f", r->train_acc);
    field(vl, sizeof vl, "%.6f", r->test_loss);
    field(va, sizeof va, "%.6f", r->test_acc);
    field(sec, sizeof sec, "%.3f", r->seconds);
    field(ips, sizeof ips, "%.1f", r->images_per_s);
    if (fprintf(m->f, "%d,%ld,%s,%s,%s,%s,%s,%s,%s,%d\n", r->epoch, r->step, lr, tl, ta, vl, va,
                sec, ips, r->diverged ? 1 : 0) < 0 ||
        fflush(m->f) != 0)
        return em_error_set(err, EM_ERR_IO, "writing metrics to %s failed: %s (rows written "
                            "before are kept)", m->path, strerror(errno));
    return EM_OK;
}

em_code em_metrics_close(em_metrics *m, em_error *err) {
    if (!m) return EM_OK;
    em_code c = EM_OK;
    if (fclose(m->f) != 0)
        c = em_error_set(err, EM_ERR_IO, "closing %s failed: %s", m->path, strerror(errno));
    free(m);
    return c;
}

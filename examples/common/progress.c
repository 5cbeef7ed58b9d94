/* examples/common/progress.c — bar, step/total, loss, accuracy, images/s, ETA: on a
 * terminal only (progress.h). */
#include "progress.h"

#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double em_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void em_progress_begin(em_progress *p, FILE *out, const char *label, long total, bool quiet) {
    memset(p, 0, sizeof *p);
    p->out = out;
    p->active = !quiet && isatty(fileno(out));
    snprintf(p->label, sizeof p->label, "%s", label);
    p->total = total > 0 ? total : 1;
    p->start = em_now();
}

enum { WIDTH = 24 };

/* false when the line was drawn less than 0.1 s ago (and the work is not done); else the
 * bar for done of total into bar, the seconds since the start and the ETA */
static bool due(em_progress *p, long done, char *bar, double *elapsed, double *eta) {
    double t = em_now();
    if (done < p->total && t - p->last_draw < 0.1) return false;
    p->last_draw = t;
    double frac = (double)done / (double)p->total;
    if (frac > 1) frac = 1;
    *elapsed = t - p->start;
    *eta = done > 0 ? *elapsed * (1 - frac) / frac : 0;
    int fill = (int)(frac * WIDTH + 0.5);
    for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = '\0';
    return true;
}

void em_progress_step(em_progress *p, long done, double loss, double acc, long images) {
    char bar[WIDTH + 1];
    double elapsed, eta;
    if (!p->active || !due(p, done, bar, &elapsed, &eta)) return;
    fprintf(p->out, "\r%s [%s] %ld/%ld  loss %.4f  acc %5.1f%%  %6.0f img/s  ETA %3.0fs \033[K",
            p->label, bar, done, p->total, loss, 100 * acc, elapsed > 0 ? images / elapsed : 0,
            eta);
    fflush(p->out);
}

void em_progress_count(em_progress *p, long done, const char *unit, const char *note) {
    char bar[WIDTH + 1];
    double elapsed, eta;
    if (!p->active || !due(p, done, bar, &elapsed, &eta)) return;
    fprintf(p->out, "\r%s [%s] %ld/%ld  %6.0f %s/s  ETA %3.0fs%s%s \033[K", p->label, bar, done,
            p->total, elapsed > 0 ? done / elapsed : 0, unit, eta, note ? "  " : "",
            note ? note : "");
    fflush(p->out);
}

void em_progress_images(void *ctx, size_t done, size_t total) {
    em_progress *p = ctx;
    p->total = total > 0 ? (long)total : 1;
    em_progress_count(p, (long)done, "images", NULL);
}

void em_progress_note(em_progress *p, const char *text) {
    if (!p->active) return;
    fprintf(p->out, "\r%s: %s\033[K", p->label, text);
    fflush(p->out);
}

void em_progress_end(em_progress *p) {
    if (!p->active) return;
    fprintf(p->out, "\r\033[K");
    fflush(p->out);
}

/* examples/common/progress.c — bar, step/total, loss, accuracy, images/s, ETA. */
#include "progress.h"

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

void em_progress_step(em_progress *p, long done, double loss, double acc, long images) {
    if (!p->active) return;
    double t = em_now();
    if (done < p->total && t - p->last_draw < 0.1) return;
    p->last_draw = t;
    double elapsed = t - p->start, frac = (double)done / (double)p->total;
    double eta = done > 0 ? elapsed * (1 - frac) / frac : 0;
    enum { WIDTH = 24 };
    char bar[WIDTH + 1];
    int fill = (int)(frac * WIDTH + 0.5);
    for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = '\0';
    fprintf(p->out, "\r%s [%s] %ld/%ld  loss %.4f  acc %5.1f%%  %6.0f img/s  ETA %3.0fs \033[K",
            p->label, bar, done, p->total, loss, 100 * acc, elapsed > 0 ? images / elapsed : 0,
            eta);
    fflush(p->out);
}

void em_progress_end(em_progress *p) {
    if (!p->active) return;
    fprintf(p->out, "\r\033[K");
    fflush(p->out);
}

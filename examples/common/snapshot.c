/* examples/common/snapshot.c — see snapshot.h. Two walks of the state dict: one counts,
 * one copies (or restores) in the same order. */
#include "snapshot.h"

#include <stdlib.h>
#include <string.h>

typedef struct walk {
    em_snapshot *s;
    size_t v, c;          /* positions in values and counters */
    int mode;             /* 0 count, 1 copy out, 2 copy back */
} walk;

static bool visit(void *ctx, const char *name, const em_entry *e) {
    (void)name;
    walk *w = ctx;
    if (e->kind == EM_ENTRY_COUNTER) {
        if (w->mode == 1) w->s->counters[w->c] = *e->counter;
        if (w->mode == 2) *e->counter = w->s->counters[w->c];
        w->c++;
        return true;
    }
    size_t n = e->tensor->size;
    if (w->mode == 1) memcpy(w->s->values + w->v, e->tensor->data, n * sizeof(em_real));
    if (w->mode == 2) memcpy(e->tensor->data, w->s->values + w->v, n * sizeof(em_real));
    w->v += n;
    return true;
}

bool em_snapshot_take(em_snapshot *s, em_module *m) {
    memset(s, 0, sizeof *s);
    walk w = {s, 0, 0, 0};
    em_module_visit(m, visit, &w);
    s->values = malloc((w.v ? w.v : 1) * sizeof *s->values);
    s->counters = malloc((w.c ? w.c : 1) * sizeof *s->counters);
    if (!s->values || !s->counters) {
        em_snapshot_free(s);
        return false;
    }
    s->n_values = w.v;
    s->n_counters = w.c;
    w = (walk){s, 0, 0, 1};
    em_module_visit(m, visit, &w);
    return true;
}

void em_snapshot_restore(const em_snapshot *s, em_module *m) {
    if (!s->values) return;
    walk w = {(em_snapshot *)s, 0, 0, 2};
    em_module_visit(m, visit, &w);
}

void em_snapshot_free(em_snapshot *s) {
    free(s->values);
    free(s->counters);
    memset(s, 0, sizeof *s);
}

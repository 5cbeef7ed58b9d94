/* examples/common/dot.c — the graph of one training step as a DOT file (dot.h). */
#include "dot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "examples/common/outfile.h"
#include "examples/common/snapshot.h"

/* the parameters named by their state-dict names ("0.weight") for the picture: each
 * tensor's name points into names[] until the names are put back */
#define MAX_NAMED 256
typedef struct naming {
    em_tensor *tensor[MAX_NAMED];
    const char *before[MAX_NAMED];
    char names[MAX_NAMED][64];
    int n;
} naming;

static bool name_one(void *ctx, const char *name, const em_entry *e) {
    naming *nm = ctx;
    if (e->kind != EM_ENTRY_PARAM || !e->tensor || nm->n == MAX_NAMED) return true;
    nm->tensor[nm->n] = e->tensor;
    nm->before[nm->n] = e->tensor->name;
    snprintf(nm->names[nm->n], sizeof nm->names[0], "%s", name);
    e->tensor->name = nm->names[nm->n++];
    return true;
}

em_code em_write_step_dot(em_trainer *t, const char *path, em_error *err) {
    em_snapshot snap;
    if (!em_snapshot_take(&snap, t->net))
        return em_error_set(err, EM_ERR_NOMEM, "--dot %s: no memory for a snapshot", path);
    int *labels = calloc((size_t)t->x->shape[0], sizeof *labels);
    em_real *zeros = calloc(t->x->size, sizeof *zeros);
    char *text = NULL;
    size_t len = 0;
    em_code code = EM_OK;
    if (!labels || !zeros) {
        code = em_error_set(err, EM_ERR_NOMEM, "--dot %s: no memory", path);
        goto out;
    }
    em_tensor x;
    em_tensor_wrap(&x, zeros, NULL, t->x->ndim, t->x->shape);
    em_tape_reset(t->tape);
    em_tensor *loss = em_cross_entropy(t->tape, em_module_forward(t->net, t->tape, &x), labels);
    FILE *m = open_memstream(&text, &len);
    if (!loss || !m) {
        code = em_error_set(err, loss ? EM_ERR_NOMEM : t->tape->status, "--dot %s: %s", path,
                            loss ? "no memory" : t->tape->err.msg);
        if (m) fclose(m);
        goto out;
    }
    naming *nm = calloc(1, sizeof *nm);
    if (nm) em_module_visit(t->net, name_one, nm);
    code = em_tape_dot(t->tape, m);
    for (int i = 0; nm && i < nm->n; i++) nm->tensor[i]->name = nm->before[i];
    free(nm);
    if (fclose(m) || code != EM_OK) {
        code = em_error_set(err, EM_ERR_NOMEM, "--dot %s: no memory for the graph", path);
        goto out;
    }
    code = em_outfile_write(path, text, len, err);
out:
    em_tape_reset(t->tape);
    em_snapshot_restore(&snap, t->net);
    em_snapshot_free(&snap);
    free(text), free(labels), free(zeros);
    return code;
}

/* core/tape.c — the tape: node recording, the reverse walk, graph printing. */
#include "tape.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

static const char *const op_names[] = {
    [EM_OP_ADD] = "add", [EM_OP_SUB] = "sub", [EM_OP_MUL] = "mul", [EM_OP_DIV] = "div",
    [EM_OP_ADD_SCALAR] = "add_scalar", [EM_OP_MUL_SCALAR] = "mul_scalar",
    [EM_OP_NEG] = "neg", [EM_OP_EXP] = "exp", [EM_OP_LOG] = "log", [EM_OP_SQRT] = "sqrt",
    [EM_OP_RSQRT] = "rsqrt", [EM_OP_POW] = "pow",
    [EM_OP_RELU] = "relu", [EM_OP_SIGMOID] = "sigmoid", [EM_OP_TANH] = "tanh",
    [EM_OP_MATMUL] = "matmul", [EM_OP_LINEAR] = "linear",
    [EM_OP_SUM] = "sum", [EM_OP_MEAN] = "mean", [EM_OP_VAR] = "var",
    [EM_OP_RESHAPE] = "reshape", [EM_OP_TRANSPOSE] = "transpose",
    [EM_OP_CROSS_ENTROPY] = "cross_entropy",
    [EM_OP_CONV2D] = "conv2d", [EM_OP_CONV2D_RELU] = "conv2d_relu",
    [EM_OP_CONV2D_RELU_POOL] = "conv2d_relu_pool",
    [EM_OP_MAXPOOL2D] = "maxpool2d",
    [EM_OP_AVGPOOL2D] = "avgpool2d", [EM_OP_GLOBAL_AVGPOOL] = "global_avgpool",
    [EM_OP_DROPOUT] = "dropout", [EM_OP_BATCHNORM] = "batchnorm",
    [EM_OP_BATCHNORM_RELU] = "batchnorm_relu", [EM_OP_GROUPNORM] = "groupnorm",
    [EM_OP_CUSTOM] = "custom",
};
_Static_assert(sizeof op_names / sizeof op_names[0] == EM_OP_COUNT,
               "every op id needs a name");

const char *em_op_name(em_op op) {
    return (unsigned)op < EM_OP_COUNT && op_names[op] ? op_names[op] : "?";
}

/* the ops a fused op of the fast tier stands for (em_tape_print), or NULL */
static const char *fused_parts(em_op op) {
    switch (op) {
    case EM_OP_CONV2D_RELU: return "conv2d + relu";
    case EM_OP_CONV2D_RELU_POOL: return "conv2d + relu + maxpool2d";
    case EM_OP_BATCHNORM_RELU: return "batchnorm + relu";
    default: return NULL;
    }
}

em_tape *em_tape_new(size_t chunk_bytes) {
    em_tape *tape = calloc(1, sizeof *tape);
    if (!tape) return NULL;
    tape->arena = em_arena_new(chunk_bytes);
    if (!tape->arena) {
        free(tape);
        return NULL;
    }
    tape->recording = true;
    tape->kernels = em_kernels_default();
    return tape;
}

void em_tape_set_kernels(em_tape *tape, const em_kernels *kernels) {
    EM_ASSERT_MSG(kernels != NULL, "em_tape_set_kernels: NULL table");
    EM_ASSERT_MSG(tape->n_nodes == 0, "em_tape_set_kernels: between steps only (reset first)");
    tape->kernels = kernels;
}

void em_tape_free(em_tape *tape) {
    if (!tape) return;
    em_arena_free(tape->arena);
    free(tape);
}

void em_tape_reset(em_tape *tape) {
    em_arena_reset(tape->arena);
    tape->last = NULL;
    tape->n_nodes = 0;
    tape->backward_done = false;
    tape->status = EM_OK;
    tape->err.code = EM_OK;
    tape->err.msg[0] = '\0';
}

void em_tape_set_recording(em_tape *tape, bool on) { tape->recording = on; }

em_tensor *em_tape_fail(em_tape *tape, em_code code, const char *fmt, ...) {
    if (tape->status == EM_OK) {
        tape->status = code;
        tape->err.code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(tape->err.msg, sizeof tape->err.msg, fmt, ap);
        va_end(ap);
    }
    return NULL;
}

void *em_tape_alloc(em_tape *tape, size_t bytes) {
    if (tape->status != EM_OK) return NULL;
    void *p = em_arena_alloc(tape->arena, bytes);
    if (!p)
        em_tape_fail(tape, EM_ERR_NOMEM, "out of memory: the step needed %zu more bytes of "
                     "arena memory (%zu in use); try a smaller batch", bytes, tape->arena->used);
    return p;
}

em_tensor *em_tape_view(em_tape *tape, em_tensor *x, int ndim, const int *shape) {
    em_tensor *t = em_tape_alloc(tape, sizeof *t);
    if (!t) return NULL;
    em_tensor_wrap(t, x->data, NULL, ndim, shape);
    EM_ASSERT_MSG(t->size == x->size, "a view must keep the number of elements");
    return t;
}

em_tensor *em_tape_tensor(em_tape *tape, int ndim, const int *shape) {
    em_tensor *t = em_tape_alloc(tape, sizeof *t);
    if (!t) return NULL;
    em_tensor_wrap(t, NULL, NULL, ndim, shape);
    if (t->size > SIZE_MAX / sizeof(em_real))
        return em_tape_fail(tape, EM_ERR_NOMEM, "a tensor of %zu elements does not fit in memory",
                            t->size);
    t->data = em_tape_alloc(tape, t->size * sizeof(em_real));
    return t->data ? t : NULL;
}

em_tensor *em_tape_tensor_like(em_tape *tape, const em_tensor *x) {
    return em_tape_tensor(tape, x->ndim, x->shape);
}

em_node *em_tape_record(em_tape *tape, em_op op, em_tensor *out, em_backward_fn backward,
                        int n_inputs, ...) {
    EM_ASSERT(n_inputs >= 0 && n_inputs <= EM_MAX_INPUTS);
    em_tensor *inputs[EM_MAX_INPUTS] = {0};
    bool any_grad = false;
    va_list ap;
    va_start(ap, n_inputs);
    for (int i = 0; i < n_inputs; i++) {
        inputs[i] = va_arg(ap, em_tensor *);
        if (inputs[i] && em_requires_grad(inputs[i])) any_grad = true;
    }
    va_end(ap);
    if (!tape->recording || !any_grad || tape->status != EM_OK) return NULL;

    em_node *node = em_tape_alloc(tape, sizeof *node);
    if (!node) return NULL;
    memset(node, 0, sizeof *node);
    node->op = op;
    node->index = tape->n_nodes++;
    node->n_inputs = n_inputs;
    memcpy(node->inputs, inputs, sizeof inputs);
    node->output = out;
    node->backward = backward;
    node->prev = tape->last;
    tape->last = node;
    out->node = node;
    out->flags |= EM_REQUIRES_GRAD;
    return node;
}

/* The gradient buffer of t: a leaf that requires a gradient must own one; an
 * intermediate gets one from the arena on first use, zeroed unless the caller is going
 * to overwrite all of it (*fresh set to true: see em_node_grad_fresh). */
static em_real *grad_of(em_tape *tape, em_tensor *t, bool *fresh) {
    if (fresh) *fresh = false;
    if (!em_requires_grad(t)) return NULL;
    if (!t->grad) {
        EM_ASSERT_MSG(t->node != NULL, "a leaf tensor that requires grad has no grad buffer");
        t->grad = em_tape_alloc(tape, t->size * sizeof(em_real));
        if (!t->grad) return NULL;
        if (fresh) *fresh = true;
        else memset(t->grad, 0, t->size * sizeof(em_real));
    }
    return t->grad;
}

em_real *em_node_grad(em_tape *tape, em_node *node, int i) {
    EM_ASSERT(i >= 0 && i < node->n_inputs);
    return node->inputs[i] ? grad_of(tape, node->inputs[i], NULL) : NULL;
}

em_real *em_node_grad_fresh(em_tape *tape, em_node *node, int i, bool *fresh) {
    EM_ASSERT(i >= 0 && i < node->n_inputs);
    *fresh = false;
    return node->inputs[i] ? grad_of(tape, node->inputs[i], fresh) : NULL;
}

em_code em_backward_from(em_tape *tape, em_tensor *y, const em_real *dy) {
    if (tape->status != EM_OK) return tape->status;
    if (!y) return em_tape_fail(tape, EM_ERR_STATE, "backward from a NULL tensor"), EM_ERR_STATE;
    /* ops may reuse what forward saved as scratch in backward (conv2d does): one
     * backward per recorded graph */
    EM_ASSERT_MSG(!tape->backward_done, "a second backward on the same tape; reset it first");
    tape->backward_done = true;
    if (!em_requires_grad(y))
        return em_tape_fail(tape, EM_ERR_STATE, "backward: the output does not depend on any "
                            "tensor that requires a gradient (is the tape recording?)"),
               EM_ERR_STATE;
    em_real *g = grad_of(tape, y, NULL);
    if (!g) return tape->status;
    for (size_t i = 0; i < y->size; i++) g[i] += dy[i];
    for (em_node *node = tape->last; node; node = node->prev) {
        /* a node whose output received no gradient does not lead to y */
        if (!node->output->grad) continue;
        node->backward(tape, node);
        if (tape->status != EM_OK) return tape->status;
    }
    return EM_OK;
}

em_code em_backward(em_tape *tape, em_tensor *loss) {
    if (tape->status != EM_OK) return tape->status;
    if (!loss) return em_backward_from(tape, loss, NULL);
    EM_ASSERT_MSG(loss->size == 1, "em_backward needs a scalar loss");
    const em_real one = 1;
    return em_backward_from(tape, loss, &one);
}

static void print_tensor_ref(FILE *out, const em_tensor *t) {
    char shape[64];
    if (!t) {  /* an optional input left out, e.g. a bias */
        fputs("none", out);
        return;
    }
    em_shape_str(t, shape, sizeof shape);
    if (t->node) fprintf(out, "#%d %s", t->node->index, shape);
    else fprintf(out, "%s %s", t->name ? t->name : "input", shape);
}

void em_tape_print(const em_tape *tape, FILE *out) {
    /* the list is linked backwards; collect it to print first to last */
    int n = tape->n_nodes;
    fprintf(out, "tape: %d node%s, %zu bytes of step memory\n", n, n == 1 ? "" : "s",
            tape->arena->used);
    for (int k = 0; k < n; k++) {
        const em_node *node = tape->last;
        while (node && node->index != k) node = node->prev;
        if (!node) continue;
        char shape[64];
        fprintf(out, "  #%-3d %-14s %-18s <-", node->index, em_op_name(node->op),
                em_shape_str(node->output, shape, sizeof shape));
        for (int i = 0; i < node->n_inputs; i++) {
            fputs(i ? ", " : " ", out);
            print_tensor_ref(out, node->inputs[i]);
        }
        if (fused_parts(node->op)) fprintf(out, "  [fused: %s]", fused_parts(node->op));
        fputc('\n', out);
    }
}

/* ---- em_tape_dot ------------------------------------------------------------------------ */

/* the leaf's number: its first reader's position among all node inputs read so far, so
 * the same graph always gets the same numbers */
static int leaf_id(em_node *const *nodes, int upto, int input, const em_tensor *t) {
    for (int k = 0; k <= upto; k++)
        for (int i = 0; i < nodes[k]->n_inputs && (k < upto || i < input); i++)
            if (nodes[k]->inputs[i] == t) return k * EM_MAX_INPUTS + i;
    return upto * EM_MAX_INPUTS + input;
}

/* a name inside a quoted DOT string: quotes and backslashes escaped */
static void dot_escaped(FILE *out, const char *s) {
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', out);
        fputc(*s, out);
    }
}

em_code em_tape_dot(const em_tape *tape, FILE *out) {
    int n = tape->n_nodes;
    em_node **nodes = malloc((n ? (size_t)n : 1) * sizeof *nodes);
    if (!nodes) return EM_ERR_NOMEM;
    for (em_node *node = tape->last; node; node = node->prev)
        if (node->index >= 0 && node->index < n) nodes[node->index] = node;
    fprintf(out, "digraph tape {\n  rankdir=TB;\n"
                 "  node [fontname=\"monospace\", fontsize=10];\n");
    char shape[64];
    for (int k = 0; k < n; k++) {
        const em_node *node = nodes[k];
        fprintf(out, "  n%d [shape=box, label=\"#%d %s%s%s\\n%s\"];\n", k, k,
                em_op_name(node->op), fused_parts(node->op) ? " = " : "",
                fused_parts(node->op) ? fused_parts(node->op) : "",
                em_shape_str(node->output, shape, sizeof shape));
        for (int i = 0; i < node->n_inputs; i++) {
            const em_tensor *t = node->inputs[i];
            if (!t) continue;  /* an optional input left out */
            if (t->node) {
                fprintf(out, "  n%d -> n%d;\n", t->node->index, k);
                continue;
            }
            int id = leaf_id(nodes, k, i, t);
            if (id == k * EM_MAX_INPUTS + i) {  /* first read: declare the leaf */
                fprintf(out, "  t%d [shape=ellipse, label=\"", id);
                dot_escaped(out, t->name ? t->name : "input");
                fprintf(out, "\\n%s\"];\n", em_shape_str(t, shape, sizeof shape));
            }
            fprintf(out, "  t%d -> n%d;\n", id, k);
        }
    }
    fprintf(out, "}\n");
    free(nodes);
    return ferror(out) ? EM_ERR_IO : EM_OK;
}

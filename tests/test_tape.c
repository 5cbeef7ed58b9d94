/* tests/test_tape.c — recording, the reverse walk, accumulation, printing, failure. */
#include "helpers.h"

#include <stdlib.h>
#include <string.h>

Test(tape, op_names_are_complete) {
    for (int op = 0; op < EM_OP_COUNT; op++) cr_assert_str_neq(em_op_name(op), "?");
    cr_assert_str_eq(em_op_name(EM_OP_MATMUL), "matmul");
    cr_assert_str_eq(em_op_name(EM_OP_COUNT), "?");
}

Test(tape, records_only_when_a_gradient_is_wanted) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, (int[]){1, 2}, (float[]){1, 2}, 0);
    em_tensor *w = tensor_of(2, (int[]){2, 2}, (float[]){1, 0, 0, 1}, EM_REQUIRES_GRAD);
    em_tensor *y = em_matmul(tape, x, x, false, true);  /* no input requires grad */
    cr_assert_eq(tape->n_nodes, 0);
    cr_assert_null(y->node);
    cr_assert_not(em_requires_grad(y));
    em_tensor *z = em_matmul(tape, x, w, false, false);
    cr_assert_eq(tape->n_nodes, 1);
    cr_assert(em_requires_grad(z));
    em_tape_set_recording(tape, false);
    em_tensor *z2 = em_matmul(tape, x, w, false, false);
    cr_assert_eq(tape->n_nodes, 1, "a tape that is not recording recorded");
    cr_assert_not(em_requires_grad(z2));
    assert_close_real(z2->data, z->data, 2, 0, "z2");
    em_tensor_free(x); em_tensor_free(w);
    em_tape_free(tape);
}

/* loss = sum over a chain of two matmuls; checks the reverse walk reaches the first
 * parameter through an intermediate, and that backward accumulates across calls. */
Test(tape, backward_through_a_chain_and_accumulation) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, (int[]){1, 2}, (float[]){1, 2}, 0);
    em_tensor *w1 = tensor_of(2, (int[]){2, 2}, (float[]){1, 2, 3, 4}, EM_REQUIRES_GRAD);
    em_tensor *w2 = tensor_of(2, (int[]){2, 1}, (float[]){1, -1}, EM_REQUIRES_GRAD);
    for (int pass = 1; pass <= 2; pass++) {
        em_tensor *h = em_matmul(tape, x, w1, false, false);  /* (1,2) = [7, 10] */
        em_tensor *y = em_matmul(tape, h, w2, false, false);  /* (1,1) = -3      */
        cr_assert_eq(y->data[0], -3);
        cr_assert_eq(em_backward(tape, y), EM_OK);
        /* dy/dw2 = h^T = [7, 10]; dy/dw1 = x^T w2^T = [[1, -1], [2, -2]] */
        assert_close(w2->grad, (float[]){7.f * pass, 10.f * pass}, 2, 0, "w2 grad");
        assert_close(w1->grad, (float[]){1.f * pass, -1.f * pass, 2.f * pass, -2.f * pass}, 4,
                     0, "w1 grad");
        em_tape_reset(tape);
        cr_assert_eq(tape->n_nodes, 0);
    }
    em_tensor_free(x); em_tensor_free(w1); em_tensor_free(w2);
    em_tape_free(tape);
}

/* A branch that does not lead to the loss is skipped, and does not crash. */
Test(tape, unused_branch_is_skipped) {
    em_tape *tape = em_tape_new(0);
    em_tensor *w = tensor_of(2, (int[]){1, 1}, (float[]){2}, EM_REQUIRES_GRAD);
    em_tensor *unused = em_matmul(tape, w, w, false, false);
    em_tensor *y = em_matmul(tape, w, w, false, true);
    (void)unused;
    cr_assert_eq(em_backward(tape, y), EM_OK);
    cr_assert_eq(w->grad[0], 4);  /* d(w^2)/dw */
    cr_assert_null(unused->grad);
    em_tensor_free(w);
    em_tape_free(tape);
}

Test(tape, print_lists_nodes_by_name) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, (int[]){3, 4}, NULL, 0);
    em_tensor *w = tensor_of(2, (int[]){5, 4}, NULL, EM_REQUIRES_GRAD);
    w->name = "w";
    em_tensor *h = em_linear(tape, x, w, NULL);
    em_matmul(tape, h, h, true, false);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    em_tape_print(tape, f);
    fclose(f);
    cr_assert(strstr(buf, "2 nodes"), "%s", buf);
    cr_assert(strstr(buf, "#0   linear"), "%s", buf);
    cr_assert(strstr(buf, "w (5, 4)"), "%s", buf);
    cr_assert(strstr(buf, "#1   matmul         (5, 5)"), "%s", buf);
    cr_assert(strstr(buf, "#0 (3, 5), #0 (3, 5)"), "%s", buf);
    free(buf);
    em_tensor_free(x); em_tensor_free(w);
    em_tape_free(tape);
}

/* The DOT export: a box per node with its op and shape, an ellipse per leaf (its name, read
 * twice but declared once), an arrow per input, in the same order every time; graphviz's
 * dot accepts it where installed. */
Test(tape, dot_lists_nodes_leaves_and_edges) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, (int[]){3, 4}, NULL, 0);
    em_tensor *w = tensor_of(2, (int[]){5, 4}, NULL, EM_REQUIRES_GRAD);
    w->name = "fc\"1";
    em_tensor *h = em_linear(tape, x, w, NULL);
    em_tensor *hh = em_matmul(tape, h, h, true, false);
    em_tensor *ww = em_matmul(tape, w, w, false, true);
    em_tensor *y = em_add(tape, hh, ww);
    cr_assert_not_null(y);
    char *buf = NULL, *again = NULL;
    size_t len = 0, len2 = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_eq(em_tape_dot(tape, f), EM_OK);
    fclose(f);
    f = open_memstream(&again, &len2);
    cr_assert_eq(em_tape_dot(tape, f), EM_OK);
    fclose(f);
    cr_assert_str_eq(buf, again);
    cr_assert(strncmp(buf, "digraph tape {", 14) == 0, "%s", buf);
    cr_assert(strstr(buf, "n0 [shape=box, label=\"#0 linear\\n(3, 5)\"];"), "%s", buf);
    cr_assert(strstr(buf, "n3 [shape=box, label=\"#3 add\\n(5, 5)\"];"), "%s", buf);
    cr_assert(strstr(buf, "t0 [shape=ellipse, label=\"input\\n(3, 4)\"];"), "%s", buf);
    cr_assert(strstr(buf, "t1 [shape=ellipse, label=\"fc\\\"1\\n(5, 4)\"];"), "%s", buf);
    cr_assert(strstr(buf, "t0 -> n0;\n  t1 [shape"), "%s", buf);
    cr_assert(strstr(buf, "(5, 4)\"];\n  t1 -> n0;\n"), "%s", buf);
    cr_assert(strstr(buf, "n0 -> n1;\n  n0 -> n1;\n"), "%s", buf);
    cr_assert(strstr(buf, "t1 -> n2;\n  t1 -> n2;\n"), "%s", buf);
    cr_assert(strstr(buf, "n1 -> n3;\n  n2 -> n3;\n}\n"), "%s", buf);
    /* w is declared once, x once: two ellipses */
    int ellipses = 0;
    for (const char *p = buf; (p = strstr(p, "shape=ellipse")); p++) ellipses++;
    cr_assert_eq(ellipses, 2, "%s", buf);
    /* graphviz parses it, where installed */
    if (system("command -v dot >/dev/null 2>&1") == 0) {
        FILE *dot = popen("dot -Tsvg -o /dev/null", "w");   /* the text on its stdin */
        cr_assert_not_null(dot);
        cr_assert_eq(fwrite(buf, 1, len, dot), len);
        cr_assert_eq(pclose(dot), 0, "dot rejected:\n%s", buf);
    }
    free(buf);
    free(again);
    em_tensor_free(x); em_tensor_free(w);
    em_tape_free(tape);
}

/* A write that fails is reported. */
Test(tape, dot_reports_a_failed_write) {
    em_tape *tape = em_tape_new(0);
    em_tensor *w = tensor_of(2, (int[]){2, 2}, NULL, EM_REQUIRES_GRAD);
    em_matmul(tape, w, w, false, false);
    FILE *f = fopen("/dev/full", "w");
    cr_assert_not_null(f);
    setvbuf(f, NULL, _IONBF, 0);
    cr_assert_eq(em_tape_dot(tape, f), EM_ERR_IO);
    fclose(f);
    em_tensor_free(w);
    em_tape_free(tape);
}

/* Out of memory inside a step: ops return NULL from then on, backward says NOMEM,
 * and after a reset the tape works again. */
Test(tape, out_of_memory_is_an_error_not_a_crash) {
    em_tape *tape = em_tape_new(4096);
    em_tensor *w = tensor_of(2, (int[]){64, 64}, NULL, EM_REQUIRES_GRAD);
    tape->arena->fail_after = tape->arena->chunk_allocs + 1;  /* no new chunk */
    em_tensor *y = w;
    for (int i = 0; i < 10 && y; i++) y = em_matmul(tape, y, w, false, false);
    cr_assert_null(y);
    cr_assert_not(em_tape_ok(tape));
    cr_assert_null(em_matmul(tape, w, w, false, false));
    cr_assert_eq(em_backward(tape, y), EM_ERR_NOMEM);
    tape->arena->fail_after = 0;
    em_tape_reset(tape);
    cr_assert(em_tape_ok(tape));
    cr_assert_not_null(em_matmul(tape, w, w, false, false));
    em_tensor_free(w);
    em_tape_free(tape);
}

Test(tape, backward_needs_scalar_loss, .signal = SIGABRT) {
    em_tape *tape = em_tape_new(0);
    em_tensor *w = tensor_of(2, (int[]){2, 2}, NULL, EM_REQUIRES_GRAD);
    em_backward(tape, em_matmul(tape, w, w, false, false));
}

/* backward from something that needs no gradient is an error with a message */
Test(tape, backward_on_a_constant_is_a_clear_error) {
    em_tape *tape = em_tape_new(0);
    em_tensor *x = tensor_of(2, (int[]){1, 1}, (float[]){2}, 0);
    em_tensor *y = em_matmul(tape, x, x, false, false);
    cr_assert_eq(em_backward(tape, y), EM_ERR_STATE);
    cr_assert_eq(tape->status, EM_ERR_STATE);
    cr_assert(strstr(tape->err.msg, "requires a gradient"), "%s", tape->err.msg);
    em_tensor_free(x);
    em_tape_free(tape);
}

/* Out of memory in the middle of backward: every op's backward copes (no crash), and
 * em_backward reports it. The forward fits in the arena; the backward's gradient buffers
 * do not, wherever the failure lands. */
#include "core/ops_image.h"
Test(tape, out_of_memory_during_backward_is_reported) {
    em_rng rng;
    em_rng_seed(&rng, 1);
    int failed = 0, passed = 0;
    for (size_t extra = 0; extra < 24; extra++) {
        em_tape *tape = em_tape_new(1 << 20);
        em_tensor *x = tensor_randn(&rng, 4, (int[]){2, 2, 8, 8}, 0, 1, EM_REQUIRES_GRAD);
        em_tensor *h = em_maxpool2d(tape, em_relu(tape, x), 2, 2);
        h = em_avgpool2d(tape, h, 2, 2);
        h = em_dropout(tape, h, 0.5f, true, &rng);
        h = em_global_avgpool(tape, em_sigmoid(tape, h));
        em_tensor *loss = em_sum(tape, em_mul(tape, h, h), EM_ALL_AXES, false);
        cr_assert_not_null(loss);
        /* forbid new chunks, then use up the current one but for `extra` small buffers */
        tape->arena->fail_after = tape->arena->chunk_allocs + 1;
        size_t left = tape->arena->capacity - tape->arena->used;
        size_t keep = extra * 512;
        if (left > keep + 64) em_arena_alloc(tape->arena, left - keep - 64);
        em_code c = em_backward(tape, loss);
        if (c != EM_OK) {
            cr_assert_eq(c, EM_ERR_NOMEM);
            cr_assert(strstr(tape->err.msg, "out of memory"), "%s", tape->err.msg);
            failed++;
        } else {
            passed++;
        }
        em_tensor_free(x);
        em_tape_free(tape);
    }
    /* the sweep must have failed at several points, and succeeded with enough room */
    cr_assert_gt(failed, 3, "%d failures", failed);
    cr_assert_gt(passed, 0);
}

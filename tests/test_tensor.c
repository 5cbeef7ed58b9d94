/* tests/test_tensor.c — heap tensors, wrapping, shapes. */
#include "helpers.h"

Test(tensor, new_is_zeroed_with_grad_when_asked) {
    em_tensor *t = em_tensor_new(3, (int[]){2, 3, 4}, EM_REQUIRES_GRAD);
    cr_assert_eq(t->size, 24);
    cr_assert_eq(t->ndim, 3);
    cr_assert_not_null(t->grad);
    for (size_t i = 0; i < t->size; i++) cr_assert(t->data[i] == 0 && t->grad[i] == 0);
    cr_assert(em_requires_grad(t));
    em_tensor *u = em_tensor_new(1, (int[]){5}, 0);
    cr_assert_null(u->grad);
    cr_assert_not(em_requires_grad(u));
    em_tensor_free(t);
    em_tensor_free(u);
}

Test(tensor, fill_set_zero_grad) {
    em_tensor *t = em_tensor_new(2, (int[]){2, 2}, EM_REQUIRES_GRAD);
    em_tensor_fill(t, 3);
    for (int i = 0; i < 4; i++) cr_assert_eq(t->data[i], 3);
    em_tensor_set(t, (float[]){1, 2, 3, 4});
    cr_assert_eq(t->data[3], 4);
    t->grad[1] = 5;
    em_tensor_zero_grad(t);
    cr_assert_eq(t->grad[1], 0);
    em_tensor_free(t);
}

Test(tensor, wrap_does_not_own) {
    em_real data[6] = {0}, grad[6] = {0};
    em_tensor t;
    em_tensor_wrap(&t, data, grad, 2, (int[]){3, 2});
    cr_assert_eq(t.size, 6);
    cr_assert(em_requires_grad(&t));
    cr_assert_not(t.flags & EM_OWNS_DATA);
}

Test(tensor, shape_string_and_equality) {
    em_tensor *a = em_tensor_new(4, (int[]){64, 16, 28, 28}, 0);
    em_tensor *b = em_tensor_new(4, (int[]){64, 16, 28, 28}, 0);
    em_tensor *c = em_tensor_new(3, (int[]){64, 16, 784}, 0);
    char buf[64];
    cr_assert_str_eq(em_shape_str(a, buf, sizeof buf), "(64, 16, 28, 28)");
    cr_assert(em_shape_equal(a, b));
    cr_assert_not(em_shape_equal(a, c));
    em_tensor_free(a); em_tensor_free(b); em_tensor_free(c);
}

Test(tensor, negative_dimension_aborts, .signal = SIGABRT) {
    em_tensor_new(2, (int[]){2, -1}, 0);
}

Test(errors, messages_and_codes) {
    em_error err;
    cr_assert_eq(em_error_set(&err, EM_ERR_IO, "cannot open %s", "x.bin"), EM_ERR_IO);
    cr_assert_str_eq(err.msg, "cannot open x.bin");
    cr_assert_eq(err.code, EM_ERR_IO);
    cr_assert_eq(em_error_set(NULL, EM_ERR_ARG, "ignored"), EM_ERR_ARG);
    for (int c = 0; c < EM_CODE_COUNT; c++) cr_assert_str_neq(em_code_name(c), "unknown error");
}

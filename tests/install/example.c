/* A program built against an installed ember: fit y = 3x - 1 with one linear layer. */
#include <ember.h>
#include <math.h>
#include <stdio.h>

int main(void) {
    em_tensor *x = em_tensor_new(2, (int[]){8, 1}, 0), *t = em_tensor_new(2, (int[]){8, 1}, 0);
    em_tensor *w = em_tensor_new(2, (int[]){1, 1}, EM_REQUIRES_GRAD);
    em_tensor *b = em_tensor_new(1, (int[]){1}, EM_REQUIRES_GRAD);
    for (int i = 0; i < 8; i++) x->data[i] = i / 4.0f - 1, t->data[i] = 3 * x->data[i] - 1;
    em_tape *tape = em_tape_new(0);
    for (int step = 0; step < 300; step++) {
        em_tensor *d = em_sub(tape, em_linear(tape, x, w, b), t);
        em_backward(tape, em_mean(tape, em_mul(tape, d, d), EM_ALL_AXES, false));
        w->data[0] -= 0.1f * w->grad[0], b->data[0] -= 0.1f * b->grad[0];
        em_tensor_zero_grad(w), em_tensor_zero_grad(b), em_tape_reset(tape);
    }
    printf("w = %.4f, b = %.4f\n", w->data[0], b->data[0]);
    return !(fabsf(w->data[0] - 3) < 1e-3f && fabsf(b->data[0] + 1) < 1e-3f);
}

/* A WRONG solution of exercise 7, on purpose (../README.md): a tie keeps the last of the
 * equal values. */
#include "exercises.h"

void ex_maxpool_forward(em_real *y, int32_t *argmax, const em_real *x, int P, int H, int W,
                        int k, int stride) {
    const int Ho = (H - k) / stride + 1, Wo = (W - k) / stride + 1;
    for (int p = 0; p < P; p++) {
        const em_real *xp = x + (size_t)p * H * W;
        for (int i = 0; i < Ho; i++)
            for (int j = 0; j < Wo; j++) {
                int32_t best = (i * stride) * W + j * stride;
                for (int a = 0; a < k; a++)
                    for (int b = 0; b < k; b++) {
                        int32_t at = (i * stride + a) * W + (j * stride + b);
                        /* the mistake: >= keeps the last of equal values */
                        if (xp[at] >= xp[best] || (xp[at] != xp[at] && xp[best] == xp[best]))
                            best = at;
                    }
                size_t o = ((size_t)p * Ho + i) * Wo + j;
                y[o] = xp[best];
                argmax[o] = best;
            }
    }
}

void ex_maxpool_backward(em_real *dx, const em_real *dy, const int32_t *argmax, int P, int H,
                         int W, int k, int stride) {
    const int Ho = (H - k) / stride + 1, Wo = (W - k) / stride + 1;
    for (int p = 0; p < P; p++)
        for (int t = 0; t < Ho * Wo; t++) {
            size_t o = (size_t)p * Ho * Wo + t;
            dx[(size_t)p * H * W + argmax[o]] += dy[o];  /* add: windows may share a winner */
        }
}

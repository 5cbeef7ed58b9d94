/* A WRONG solution of exercise 3, on purpose (../README.md): dw is stored with the kernel
 * flipped, as if the forward were a convolution rather than a cross-correlation. dx and db
 * are right. */
#include "exercises.h"

void ex_conv2d_backward(em_real *dx, em_real *dw, em_real *db, const em_real *dy,
                        const em_real *x, const em_real *w, int N, int C, int H, int W, int O,
                        int kh, int kw, int stride, int pad) {
    const int Ho = (H + 2 * pad - kh) / stride + 1, Wo = (W + 2 * pad - kw) / stride + 1;
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++)
            for (int i = 0; i < Ho; i++)
                for (int j = 0; j < Wo; j++) {
                    em_real g = dy[(((size_t)n * O + o) * Ho + i) * Wo + j];
                    db[o] += g;
                    for (int c = 0; c < C; c++)
                        for (int p = 0; p < kh; p++)
                            for (int q = 0; q < kw; q++) {
                                int h = i * stride + p - pad, v = j * stride + q - pad;
                                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                                size_t xi = (((size_t)n * C + c) * H + h) * W + v;
                                size_t wi = (((size_t)o * C + c) * kh + p) * kw + q;
                                /* the mistake: tap (p, q) stored at (kh-1-p, kw-1-q) */
                                size_t fi = (((size_t)o * C + c) * kh + (kh - 1 - p)) * kw +
                                            (kw - 1 - q);
                                dw[fi] += g * x[xi];
                                dx[xi] += g * w[wi];
                            }
                }
}

/* Exercise 3, solution — conv2d backward (exercises.h), on the formulas:
 *   db and dw are sums over the batch and the output positions (N Ho Wo terms each), taken
 *   one element at a time in a double;
 *   dx is scattered: walking the forward's loops, the term w[o,c,p,q] x[n,c,h,v] of
 *   y[n,o,i,j] sends dy[n,o,i,j] w[o,c,p,q] to dx[n,c,h,v] (at most O kh kw terms land on
 *   one element).
 * (ember's own backward is im2col + GEMM, and its test reference em_conv2d_direct_backward
 * gathers dx per input pixel: this is a third way, sharing no code with either.) */
#include "exercises.h"

void ex_conv2d_backward(em_real *dx, em_real *dw, em_real *db, const em_real *dy,
                        const em_real *x, const em_real *w, int N, int C, int H, int W, int O,
                        int kh, int kw, int stride, int pad) {
    const int Ho = (H + 2 * pad - kh) / stride + 1, Wo = (W + 2 * pad - kw) / stride + 1;
#define X(n, c, h, v) x[(((size_t)(n) * C + (c)) * H + (h)) * W + (v)]
#define DX(n, c, h, v) dx[(((size_t)(n) * C + (c)) * H + (h)) * W + (v)]
#define DY(n, o, i, j) dy[(((size_t)(n) * O + (o)) * Ho + (i)) * Wo + (j)]
#define WI(o, c, p, q) ((((size_t)(o) * C + (c)) * kh + (p)) * kw + (q))

    /* db[o] = sum_{n,i,j} dy[n,o,i,j] */
    for (int o = 0; o < O; o++) {
        double acc = 0.0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < Ho; i++)
                for (int j = 0; j < Wo; j++) acc += DY(n, o, i, j);
        db[o] = (em_real)acc;
    }

    /* dw[o,c,p,q] = sum_{n,i,j} dy[n,o,i,j] x[n, c, i s + p - pad, j s + q - pad] */
    for (int o = 0; o < O; o++)
        for (int c = 0; c < C; c++)
            for (int p = 0; p < kh; p++)
                for (int q = 0; q < kw; q++) {
                    double acc = 0.0;
                    for (int n = 0; n < N; n++)
                        for (int i = 0; i < Ho; i++)
                            for (int j = 0; j < Wo; j++) {
                                int h = i * stride + p - pad, v = j * stride + q - pad;
                                if (h < 0 || h >= H || v < 0 || v >= W) continue;  /* padding */
                                acc += (double)DY(n, o, i, j) * X(n, c, h, v);
                            }
                    dw[WI(o, c, p, q)] = (em_real)acc;
                }

    /* dx[n,c,h,v] += dy[n,o,i,j] w[o,c,p,q] for every tap that read x[n,c,h,v] */
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++)
            for (int i = 0; i < Ho; i++)
                for (int j = 0; j < Wo; j++) {
                    em_real g = DY(n, o, i, j);
                    for (int c = 0; c < C; c++)
                        for (int p = 0; p < kh; p++)
                            for (int q = 0; q < kw; q++) {
                                int h = i * stride + p - pad, v = j * stride + q - pad;
                                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                                DX(n, c, h, v) += g * w[WI(o, c, p, q)];
                            }
                }
#undef X
#undef DX
#undef DY
#undef WI
}

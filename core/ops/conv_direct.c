/* core/ops/conv_direct.c — conv2d as seven plain loops on its definition (core/ops_image.h):
 * no im2col, no GEMM, nothing shared with either tier's kernels, which the tests hold to
 * it (the reference tier's im2col lowering in core/ops/conv.c, the fast tier's paths in
 * core/fast/conv.c and winograd.c).
 * y: (N, O, Ho, Wo)  x: (N, C, H, W)  w: (O, C, kh, kw)  b: (O) or NULL */
#include <stddef.h>

#include "../ops_image.h"

void em_conv2d_direct_forward(em_real *y, const em_real *x, const em_real *w,
                              const em_real *b, int N, int C, int H, int W, int O, int kh,
                              int kw, int s, int pad) {
    int Ho = (H + 2 * pad - kh) / s + 1, Wo = (W + 2 * pad - kw) / s + 1;
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++)
            for (int i = 0; i < Ho; i++)
                for (int j = 0; j < Wo; j++) {
                    double acc = b ? b[o] : 0.0;
                    for (int c = 0; c < C; c++)
                        for (int p = 0; p < kh; p++)
                            for (int q = 0; q < kw; q++) {
                                int h = i * s + p - pad, v = j * s + q - pad;
                                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                                acc += (double)w[(((size_t)o * C + c) * kh + p) * kw + q] *
                                       x[(((size_t)n * C + c) * H + h) * W + v];
                            }
                    y[(((size_t)n * O + o) * Ho + i) * Wo + j] = (em_real)acc;
                }
}

/* db[o]       += sum_{n,i,j} dy[n,o,i,j]
 * dw[o,c,p,q] += sum_{n,i,j} dy[n,o,i,j] x[n,c, i*s+p-pad, j*s+q-pad]
 * dx[n,c,h,v] += sum_{o,p,q} w[o,c,p,q] dy[n,o,i,j]  where i*s+p-pad = h, j*s+q-pad = v
 * Each is gathered per output element (a transposed convolution for dx), so no formula
 * shares code with col2im. */
void em_conv2d_direct_backward(em_real *dx, em_real *dw, em_real *db, const em_real *dy,
                               const em_real *x, const em_real *w, int N, int C, int H,
                               int W, int O, int kh, int kw, int s, int pad) {
    int Ho = (H + 2 * pad - kh) / s + 1, Wo = (W + 2 * pad - kw) / s + 1;
#define DY(n, o, i, j) dy[(((size_t)(n) * O + (o)) * Ho + (i)) * Wo + (j)]
    for (int o = 0; db && o < O; o++) {
        double acc = 0.0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < Ho; i++)
                for (int j = 0; j < Wo; j++) acc += DY(n, o, i, j);
        db[o] += (em_real)acc;
    }
    for (int o = 0; dw && o < O; o++)
        for (int c = 0; c < C; c++)
            for (int p = 0; p < kh; p++)
                for (int q = 0; q < kw; q++) {
                    double acc = 0.0;
                    for (int n = 0; n < N; n++)
                        for (int i = 0; i < Ho; i++)
                            for (int j = 0; j < Wo; j++) {
                                int h = i * s + p - pad, v = j * s + q - pad;
                                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                                acc += (double)DY(n, o, i, j) *
                                       x[(((size_t)n * C + c) * H + h) * W + v];
                            }
                    dw[(((size_t)o * C + c) * kh + p) * kw + q] += (em_real)acc;
                }
    for (int n = 0; dx && n < N; n++)
        for (int c = 0; c < C; c++)
            for (int h = 0; h < H; h++)
                for (int v = 0; v < W; v++) {
                    double acc = 0.0;
                    for (int o = 0; o < O; o++)
                        for (int p = 0; p < kh; p++)
                            for (int q = 0; q < kw; q++) {
                                int hi = h + pad - p, vj = v + pad - q;  /* = i*s, j*s */
                                if (hi < 0 || vj < 0 || hi % s || vj % s) continue;
                                int i = hi / s, j = vj / s;
                                if (i >= Ho || j >= Wo) continue;
                                acc += (double)w[(((size_t)o * C + c) * kh + p) * kw + q] *
                                       DY(n, o, i, j);
                            }
                    dx[(((size_t)n * C + c) * H + h) * W + v] += (em_real)acc;
                }
#undef DY
}

/* A WRONG solution of exercise 5, on purpose (../README.md): the rsqrt derivative with r^2
 * instead of r^3. */
#include "exercises.h"

/* mu[c] = (1/M) sum x[n,c,s]: every x of the channel gets dmu[c] / M */
void ex_channel_mean_backward(em_real *dx, const em_real *dmu, int N, int C, int S) {
    const double M = (double)N * S;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int s = 0; s < S; s++) dx[((size_t)n * C + c) * S + s] += (em_real)(dmu[c] / M);
}

/* xc = x - mu[c]: x gets dxc as it is, mu[c] minus the channel's sum of dxc */
void ex_center_backward(em_real *dx, em_real *dmu, const em_real *dxc, int N, int C, int S) {
    for (int c = 0; c < C; c++) {
        double sum = 0.0;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                size_t i = ((size_t)n * C + c) * S + s;
                dx[i] += dxc[i];
                sum += dxc[i];
            }
        dmu[c] -= (em_real)sum;
    }
}

/* sq = x^2: d sq / dx = 2 x */
void ex_square_backward(em_real *dx, const em_real *dsq, const em_real *x, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] += 2 * x[i] * dsq[i];
}

/* r = (var + eps)^(-1/2): dr / dvar = -1/2 (var + eps)^(-3/2) = -r^3 / 2 */
void ex_rsqrt_backward(em_real *dvar, const em_real *dr, const em_real *var, const em_real *r,
                       double eps, int C) {
    (void)var, (void)eps;
    for (int c = 0; c < C; c++) {
        double rc = r[c];
        dvar[c] += (em_real)(-0.5 * rc * rc * dr[c]);  /* the mistake */
    }
}

/* y = x s[c]: x gets dy s[c], s[c] the channel's sum of dy x */
void ex_scale_backward(em_real *dx, em_real *ds, const em_real *dy, const em_real *x,
                       const em_real *s, int N, int C, int S) {
    for (int c = 0; c < C; c++) {
        double sum = 0.0;
        for (int n = 0; n < N; n++)
            for (int k = 0; k < S; k++) {
                size_t i = ((size_t)n * C + c) * S + k;
                dx[i] += dy[i] * s[c];
                sum += (double)dy[i] * x[i];
            }
        ds[c] += (em_real)sum;
    }
}

/* y = x + b[c]: x gets dy, b[c] the channel's sum of dy */
void ex_shift_backward(em_real *dx, em_real *db, const em_real *dy, int N, int C, int S) {
    for (int c = 0; c < C; c++) {
        double sum = 0.0;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                size_t i = ((size_t)n * C + c) * S + s;
                dx[i] += dy[i];
                sum += dy[i];
            }
        db[c] += (em_real)sum;
    }
}

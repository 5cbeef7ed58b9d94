/* Exercise 8, solution — softmax cross-entropy (exercises.h).
 *
 * Forward, per row, with m = max_c z_c: softmax is unchanged by subtracting m, and then
 * every exp(z_c - m) lies in (0, 1] and one of them is 1, so nothing overflows and the log
 * never sees 0: -log p_k = m + log sum_c exp(z_c - m) - z_k.
 * Backward: d(-log p_k)/dz_c = p_c - [c = k], each row divided by N for the mean. */
#include "exercises.h"

#include <math.h>

double ex_cross_entropy_forward(em_real *probs, const em_real *z, const int *labels, int N,
                                int C) {
    double total = 0.0;
    for (int n = 0; n < N; n++) {
        const em_real *zn = z + (size_t)n * C;
        double m = zn[0];
        for (int c = 1; c < C; c++)
            if (zn[c] > m) m = zn[c];
        double sum = 0.0;
        for (int c = 0; c < C; c++) sum += exp(zn[c] - m);
        for (int c = 0; c < C; c++) probs[(size_t)n * C + c] = (em_real)(exp(zn[c] - m) / sum);
        total += m + log(sum) - zn[labels[n]];
    }
    return total / N;
}

void ex_cross_entropy_backward(em_real *dz, const em_real *probs, const int *labels,
                               double dloss, int N, int C) {
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++) {
            size_t i = (size_t)n * C + c;
            dz[i] = (em_real)(dloss * (probs[i] - (c == labels[n])) / N);
        }
}

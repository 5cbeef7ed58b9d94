/* A WRONG solution of exercise 8, on purpose (../README.md): the backward ignores dloss. */
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
            dz[i] = (em_real)((probs[i] - (c == labels[n])) / N);  /* the mistake */
            (void)dloss;
        }
}

/* core/fast/maxpool2x2.h — pool.c's 2x2, stride-2 max-pool kernels, for an op that folds
 * the pool into its own per-image pass (em_fast_conv2d_relu_pool in conv.c). Not part of
 * the API: the winner of every window, and so every value, is the fast tier's maxpool
 * kernel's exactly because both call these same functions.
 *
 * The kernels see an (R, 2, W) stack of row pairs: R = N C Ho for a whole batch, O Ho for
 * one image of O channels (H = 2 Ho). y and sel are (R, W / 2): the pooled values and the
 * winner's place in its window (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right).
 */
#ifndef EM_OPS_MAXPOOL2X2_H
#define EM_OPS_MAXPOOL2X2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../tensor.h"

/* whether the two-stage kernels take a 2x2, stride-2 pool of an (H, W) plane: H and W even
 * and W small enough for their stack buffer */
bool em_mp2_applies(int H, int W);

/* y, sel for the row pairs [lo, hi) of x */
void em_mp2_forward_rows(em_real *y, int32_t *sel, const em_real *x, int W, size_t lo,
                         size_t hi);

/* the adjoint for the row pairs [lo, hi): each dy goes to its window's winner in dx, the
 * other three get 0 (add: added into dx instead, the others kept) */
void em_mp2_backward_rows(em_real *dx, bool add, const em_real *dy, const int32_t *sel,
                          int W, size_t lo, size_t hi);

#endif

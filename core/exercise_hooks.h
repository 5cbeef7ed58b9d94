/* core/exercise_hooks.h — exercise mode only (meson -Dexercises=student|solutions, which
 * defines EM_EXERCISES): the glue between the tape and the plain-array functions of
 * exercises/exercises.h. Not installed, not part of the API.
 *
 * Each hook is called from one place in an op's tape wrapper (under #ifdef EM_EXERCISES)
 * and does what the exercise functions leave out, so that they can stay plain arrays:
 *   - a NULL gamma / beta (BatchNorm without affine) becomes ones / zeros, a NULL running
 *     statistic (em_batchnorm without them) a scratch pair (0, 1);
 *   - every output is zeroed before the student's function runs (so a missing element
 *     shows as 0, never as stale memory);
 *   - gradients are computed into zeroed scratch and then ADDED into the tape's buffers
 *     (or stored into a fresh one), ember's accumulate-into-gradients rule, and a NULL
 *     gradient (an input that needs none) is computed into scratch and dropped.
 * Memory is the tape's arena. */
#ifndef EM_EXERCISE_HOOKS_H
#define EM_EXERCISE_HOOKS_H

#include <stdbool.h>

#include "tape.h"

/* Exercise 1 in em_batchnorm's training forward: y, mean, rstd (C each, arena) and the
 * running statistics. False when the arena is out of memory (the tape has failed). */
bool em_ex_batchnorm_forward(em_tape *tape, em_tensor *y, em_real *mean, em_real *rstd,
                             em_real *running_mean, em_real *running_var, const em_tensor *x,
                             const em_tensor *gamma, const em_tensor *beta, double momentum,
                             double eps);

/* Exercise 2 in BatchNorm's node backward (node inputs x, gamma, beta): dx (fresh: store,
 * else add), dgamma, dbeta (add; each may be NULL), from the saved mean and rstd. */
void em_ex_batchnorm_backward(em_tape *tape, em_node *node, em_real *dx, bool dx_fresh,
                              em_real *dgamma, em_real *dbeta, const em_real *mean,
                              const em_real *rstd);

/* Exercise 3 in conv2d's node backward (node inputs x, w, b; args stride, pad): dx (fresh:
 * store, else add), dw, db (add; each may be NULL). */
void em_ex_conv2d_backward(em_tape *tape, em_node *node, em_real *dx, bool dx_fresh,
                           em_real *dw, em_real *db);

#endif

/* tests/bn_args.h — em_batchnorm's arguments in one line, for the tests:
 *
 *     em_batchnorm(tape, x, BN_ARGS(gamma, beta, running_mean, running_var, 0.9, 1e-5, EM_BN_TRAIN))
 *
 * a pointer to a compound literal em_bn_args (core/ops.h) that lives to the end of the
 * enclosing block; BN_SYNC adds the em_bn_sync. */
#ifndef EM_TEST_BN_ARGS_H
#define EM_TEST_BN_ARGS_H

#include "core/ops.h"

#define BN_SYNC(g, b, rm, rv, m, e, md, s)                                                  \
    (&(em_bn_args){.gamma = (g), .beta = (b), .running_mean = (rm), .running_var = (rv),   \
                   .momentum = (m), .eps = (e), .mode = (md), .sync = (s)})
#define BN_ARGS(g, b, rm, rv, m, e, md) BN_SYNC(g, b, rm, rv, m, e, md, NULL)

#endif

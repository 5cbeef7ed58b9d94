/** ember.h — everything a program needs, in one include.
 *
 * A two-layer network learning y = 1 if x0 * x1 > 0 (the XOR of signs), from C:
 *
 *     #include <ember.h>
 *
 *     em_rng rng; em_rng_seed(&rng, 1);
 *     em_tensor *w1 = em_tensor_new(2, (int[]){16, 2}, EM_REQUIRES_GRAD);
 *     em_tensor *w2 = em_tensor_new(2, (int[]){2, 16}, EM_REQUIRES_GRAD);
 *     ...fill w1, w2 with em_rng_normal...
 *     em_tape *tape = em_tape_new(0);
 *     for (int step = 0; step < 500; step++) {
 *         ...fill x (64, 2) and labels[64]...
 *         em_tensor *h = em_tanh(tape, em_matmul(tape, x, w1, false, true));
 *         em_tensor *loss = em_cross_entropy(tape, em_matmul(tape, h, w2, false, true), labels);
 *         em_backward(tape, loss);
 *         ...w -= lr * w->grad; zero the grads...
 *         em_tape_reset(tape);
 *     }
 *
 * examples/demo/demo.c is this program in full.
 *
 * @file
 */
#ifndef EMBER_H
#define EMBER_H

#include "core/arena.h"
#include "core/errors.h"
#include "core/gemm.h"
#include "core/gradcheck.h"
#include "core/kernels.h"
#include "core/ops.h"
#include "core/ops_image.h"
#include "core/rng.h"
#include "core/tape.h"
#include "core/tensor.h"
#include "data/cifar10.h"
#include "data/dataset.h"
#include "data/imagefolder.h"
#include "data/loader.h"
#include "data/mnist.h"
#include "data/synthetic.h"
#include "layers/init.h"
#include "layers/layers.h"
#include "layers/module.h"
#include "optim/optim.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "io/checkpoint.h"
#include "io/metrics.h"
#include "io/npy.h"
#include "io/safetensors.h"

#endif

/** data/synthetic.h — "shapes": a generated 10-class 32x32 colour dataset, the stand-in
 * for CIFAR-10 on a machine without it.
 *
 *     em_dataset train, test;
 *     em_shapes_load(&train, EM_SPLIT_TRAIN, 50000, 1, &err);   // seed 1
 *     em_shapes_load(&test, EM_SPLIT_TEST, 10000, 1, &err);
 *     // (3, 32, 32) uint8 images, labels i % 10, names em_shapes_class_names
 *
 * Each image: a textured background (two random colours mixed by a sinusoidal pattern of
 * random frequency, direction and phase, or by a linear gradient), one shape of the class
 * drawn in a random colour at a random position (centre in [9, 23]^2), size (radius
 * 5..11 px) and orientation (fully random for the triangles and stripes, a +-12 degree
 * jitter where orientation tells classes apart: square/diamond, plus/cross), edges
 * anti-aliased by 4 samples per pixel, then Gaussian pixel noise of std 4..16.
 * Shape classes come in filled/outlined pairs and rotated pairs, so position, colour or a
 * single pixel do not give the label away: a linear classifier stays far from a CNN.
 *
 * Example i of a split is a pure function of (seed, split, i): its own em_rng stream, so
 * any subset or order of examples can be generated alone. Train and test differ.
 *
 * @file
 */
#ifndef EM_SYNTHETIC_H
#define EM_SYNTHETIC_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"

#define EM_SHAPES_CLASSES 10   /**< the number of classes                   */
#define EM_SHAPES_SIZE 32      /**< images are EM_SHAPES_SIZE x EM_SHAPES_SIZE */

/** "disk", "ring", "square", ...: the class names in label order. */
extern const char *const em_shapes_class_names[EM_SHAPES_CLASSES];

/** n examples of the split into ds (name "shapes").
 * @param ds     filled on success, zeroed on failure
 * @param split  EM_SPLIT_TRAIN or EM_SPLIT_TEST (different images)
 * @param n      how many examples
 * @param seed   the seed every image is a function of
 * @param err    filled on failure
 * @return EM_OK or EM_ERR_NOMEM */
em_code em_shapes_load(em_dataset *ds, em_split split, size_t n, uint64_t seed, em_error *err);

/** What em_shapes_load_progress() calls as it goes (about every 1% and at the end).
 * @param ctx    the caller's pointer
 * @param done   examples made so far
 * @param total  examples to make */
typedef void (*em_shapes_progress)(void *ctx, size_t done, size_t total);

/** em_shapes_load() with a progress callback, for a program that shows how far it got
 * (50000 images take seconds); the same dataset, byte for byte.
 * @param ds        filled on success, zeroed on failure
 * @param split     EM_SPLIT_TRAIN or EM_SPLIT_TEST
 * @param n         how many examples
 * @param seed      the seed
 * @param progress  called with (ctx, done, n) as the examples are made; NULL: none
 * @param ctx       passed to progress
 * @param err       filled on failure
 * @return EM_OK or EM_ERR_NOMEM */
em_code em_shapes_load_progress(em_dataset *ds, em_split split, size_t n, uint64_t seed,
                                em_shapes_progress progress, void *ctx, em_error *err);

/** Example `index` alone: out (3, 32, 32); returns its label (index % 10).
 * @param out    receives 3 * 32 * 32 bytes
 * @param seed   the seed
 * @param split  the split
 * @param index  the example
 * @return its label */
int em_shapes_example(uint8_t *out, uint64_t seed, em_split split, size_t index);

#endif

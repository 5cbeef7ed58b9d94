/* core/fast/wino_vec.h — the 8-lane loads, stores and shuffles both Winograd algorithms
 * (winograd.c, winograd4.c) take a tile row apart and put it together with: lanes of a
 * (0-7) and b (8-15), __builtin_shufflevector (GCC 12 and clang alike). Not installed. */
#ifndef EM_WINO_VEC_H
#define EM_WINO_VEC_H

#include "simd.h"

#define LOADV(p) (*(const em_uvec8 *)(p))
#define STOREV(p, v) (*(em_uvec8 *)(p) = (v))
#define EVEN(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14)
#define ODD(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15)
#define LOW(a, b) __builtin_shufflevector(a, b, 0, 8, 1, 9, 2, 10, 3, 11)    /* interleave */
#define HIGH(a, b) __builtin_shufflevector(a, b, 4, 12, 5, 13, 6, 14, 7, 15)
#define AFTER(a, b) __builtin_shufflevector(a, b, 1, 2, 3, 4, 5, 6, 7, 8)  /* a's last 7, b's first */

#endif

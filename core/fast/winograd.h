/* core/fast/winograd.h — the 3x3, stride-1, pad-1 convolution of an image (or of a few
 * small ones at once) by Winograd's F(2x2, 3x3) algorithm (F(4x4, 3x3) for widths of 16,
 * 32, 64, ...: em_wino4_applies), for core/fast/conv.c (not part of the API).
 *
 * Each 2x2 block of outputs comes from a 4x4 tile of the input: with d the tile, g a 3x3
 * filter and the constant matrices B, G, A (winograd.c), the block is
 *     A^T [ (G g G^T) .* (B^T d B) ] A
 * Over all channels the elementwise products become 16 matrix products, one per position
 * xi of the 4x4 transformed tile: M[xi] (O, T) = U[xi] (O, C) V[xi] (C, T), T tiles.
 * That is 16 multiplications per 4 outputs and input channel, against 36 for the direct
 * sum: 2.25 times fewer. The weight gradient is the same algorithm run backwards
 * (em_wino_dw_images, em_wino_dw_finish). The price is rounding: the transforms add and subtract values,
 * so the result differs from the direct sum in the last bits (tests/test_ops_conv.c holds
 * it to the plain-loop reference like the im2col path).
 */
#ifndef EM_OPS_WINOGRAD_H
#define EM_OPS_WINOGRAD_H

#include <stdbool.h>
#include <stddef.h>

#include "../tensor.h"

/* whether conv.c takes the Winograd path for x (C, H, W) -> y (O, H, W), 3x3, stride 1,
 * pad 1: the layer wide and large enough that its 16 products pay for the transforms (16+
 * channels in and out, 4 x 4 or larger); any height and width, odd ones too */
bool em_wino_applies(int C, int O, int H, int W);

/* the most images one call of em_wino_images or em_wino_dw_images takes: 1, or for small
 * images (fewer than 64 tiles, 16 x 16 outputs) as many as make at most 196 tiles side by
 * side and at most 800 KiB of transformed input and products (C + O channels) */
int em_wino_group(int C, int O, int H, int W);

/* Images H high and W wide, W a multiple of 32 and H of 4 (or W 16 and H a multiple of
 * 8), go by F(4x4, 3x3) instead (winograd4.c): 36 products per 4 x 4 outputs, so 2.25
 * values of V and M per output instead of 4, at a larger rounding error. Their filters are U (36, O, C). The weight
 * gradient of these images too (Mw 36 x O x C). */
bool em_wino4_applies(int H, int W);

/* how many values em_wino_filters writes for images of H x W: 16 or 36 times O C */
size_t em_wino_filters_len(int O, int C, int H, int W);

/* U (16, O, C) = G g G^T for every filter g = w[o][c] of w (O, C, 3, 3) (for images of H x
 * W that em_wino4_applies to, U (36, O, C) of F(4x4, 3x3)'s G). adjoint: the filters of
 * the backward-data convolution instead, dx = conv(dy) with g'[c][o] = w[o][c] turned by
 * 180 degrees: U (16 or 36, C, O). */
void em_wino_filters(em_real *U, const em_real *w, int O, int C, int H, int W, bool adjoint);

/* scratch values one call of em_wino_images or em_wino_dw_images needs */
size_t em_wino_scratch(int C, int O, int H, int W);

/* y (nimg, O, H, W) = (add: +=) the 3x3, pad-1 convolution of x (nimg, C, H, W) with the
 * filters U made by em_wino_filters for the same H, W; no bias. 1 <= nimg <= em_wino_group(C, O,
 * H, W) (the same for O, C: the backward's dx takes as many).
 * Each image's result is the same whatever nimg. scratch: em_wino_scratch(C, O, H, W). */
void em_wino_images(em_real *y, bool add, const em_real *x, const em_real *U, int C, int O,
                    int H, int W, int nimg, em_real *scratch);

/* Mw (16, O, C) (36 for the images of em_wino4_applies, the same sum with F(4x4, 3x3)'s
 * matrices) += the transformed weight gradient of nimg images: over their tiles t,
 * (A dy_t A^T)[xi] (B^T d_t B)[xi]^T, with dy_t the tile's 2x2 block of dy (O, H, W) and d_t
 * its 4x4 input tile of x (C, H, W). It is the adjoint of the forward: y = A^T [U .* V] A
 * with U = G g G^T gives dL/dg = G^T [(A dy A^T) .* V] G, summed over the tiles (in an
 * order that depends on nimg). x (nimg, C, H, W), dy (nimg, O, H, W), nimg as above;
 * scratch: em_wino_scratch(C, O, H, W) values. */
void em_wino_dw_images(em_real *Mw, const em_real *x, const em_real *dy, int C, int O, int H,
                       int W, int nimg, em_real *scratch);

/* dw (O, C, 3, 3) += G^T Mw[.][o][c] G for every o, c: the weight gradient from its
 * transformed sum, Mw as em_wino_dw_images made it for images of H x W */
void em_wino_dw_finish(em_real *dw, const em_real *Mw, int O, int C, int H, int W);

/* winograd4.c, for em_wino_filters, em_wino_scratch and em_wino_images */
void em_wino4_filters(em_real *U, const em_real *w, int O, int C, bool adjoint);
size_t em_wino4_scratch(int C, int O, int H, int W);
void em_wino4_images(em_real *y, bool add, const em_real *x, const em_real *U, int C, int O,
                     int H, int W, int nimg, em_real *scratch);
void em_wino4_dw_images(em_real *Mw, const em_real *x, const em_real *dy, int C, int O, int H,
                        int W, int nimg, em_real *scratch);
void em_wino4_dw_finish(em_real *dw, const em_real *Mw, int O, int C);

#endif

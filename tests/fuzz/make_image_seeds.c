/* tests/fuzz/make_image_seeds.c — writes the hand-made seeds of corpus/image in the layout
 * fuzz_image.c describes: small PNG, JPEG and BMP files made by stb_image_write (Debian's
 * libstb), one per format and channel count, plus a truncated PNG.
 *
 *   cc -I/usr/include/stb tests/fuzz/make_image_seeds.c -lstb -o /tmp/seeds
 *   /tmp/seeds tests/fuzz/corpus/image
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image_write.h>

typedef struct { uint8_t b[65536]; size_t n; } membuf;

static void to_mem(void *ctx, void *data, int size) {
    membuf *m = ctx;
    if (m->n + (size_t)size > sizeof m->b) abort();
    memcpy(m->b + m->n, data, (size_t)size);
    m->n += (size_t)size;
}

/* mode, split = len(first image), first image, second image */
static void seed(const char *dir, const char *name, uint8_t mode, const membuf *a,
                 const membuf *b) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f) abort();
    uint8_t head[3] = {mode, (uint8_t)(a->n & 255), (uint8_t)(a->n >> 8)};
    fwrite(head, 1, 3, f);
    fwrite(a->b, 1, a->n, f);
    fwrite(b->b, 1, b->n, f);
    fclose(f);
}

static void image(uint8_t *img, int h, int w, int c, int k) {
    for (int i = 0; i < h * w * c; i++) img[i] = (uint8_t)(i * 7 + k * 50);
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    static membuf a, b;
    uint8_t img[16 * 16 * 4];
    /* mode bits: 0-1 ext (png jpg bmp jpeg), 2 channels 3, 3-4 size (8x8 5x13 32x32 1x1),
     * 5 skip_bad, 6 README instead of the second image */
    a.n = b.n = 0;
    image(img, 8, 8, 3, 1);
    stbi_write_png_to_func(to_mem, &a, 8, 8, 3, img, 8 * 3);
    image(img, 8, 8, 3, 2);
    stbi_write_png_to_func(to_mem, &b, 8, 8, 3, img, 8 * 3);
    seed(argv[1], "png-rgb-8x8", 0 | 4 | 0 << 3, &a, &b);
    seed(argv[1], "png-gray-resized", 0 | 1 << 3, &a, &b);
    seed(argv[1], "png-readme", 0 | 4 | 64, &a, &b);
    membuf cut = a;
    cut.n = a.n / 2;
    seed(argv[1], "png-truncated-skip", 0 | 4 | 32, &cut, &b);

    a.n = b.n = 0;
    image(img, 16, 16, 3, 3);
    stbi_write_jpg_to_func(to_mem, &a, 16, 16, 3, img, 90);
    image(img, 13, 5, 1, 4);
    stbi_write_jpg_to_func(to_mem, &b, 5, 13, 1, img, 90);
    seed(argv[1], "jpg-rgb-and-gray", 1 | 4 | 1 << 3, &a, &b);
    seed(argv[1], "jpeg-32x32", 3 | 4 | 2 << 3, &a, &b);

    a.n = b.n = 0;
    image(img, 4, 4, 3, 5);
    stbi_write_bmp_to_func(to_mem, &a, 4, 4, 3, img);
    image(img, 4, 4, 4, 6);
    stbi_write_bmp_to_func(to_mem, &b, 4, 4, 4, img);
    seed(argv[1], "bmp-rgb-rgba", 2 | 4 | 3 << 3, &a, &b);
    seed(argv[1], "bmp-gray", 2 | 0 << 3, &a, &b);
    return 0;
}

/* tests/test_data_imagefolder.c — root/<class>/<image> with generated PNG, JPEG and BMP
 * files: class order, pixel layout, resizing, channels, and bad folders. */
#include "data_helpers.h"

#include <stb_image.h>
#include <stb_image_write.h>

/* (h, w, 3) interleaved test image: pixel (y, x) = (seed + x * 8, y * 8, seed * 3) */
static void make_rgb(uint8_t *img, int h, int w, int seed) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img + ((size_t)y * w + x) * 3;
            p[0] = (uint8_t)(seed + x * 8);
            p[1] = (uint8_t)(y * 8);
            p[2] = (uint8_t)(seed * 3);
        }
}

static void mkdir_in(const char *dir, const char *name) {
    char p[512];
    cr_assert_eq(mkdir(path_in(p, sizeof p, dir, name), 0700), 0);
}

static void write_png(const char *dir, const char *name, int h, int w, int seed) {
    uint8_t img[32 * 32 * 3];
    char p[512];
    make_rgb(img, h, w, seed);
    cr_assert(stbi_write_png(path_in(p, sizeof p, dir, name), w, h, 3, img, w * 3));
}

/* classes in byte order ("Dogs" < "birds" < "cats"), files in name order, extensions in
 * any case, other files and hidden entries ignored */
Test(imagefolder, png_class_order_and_exact_pixels) {
    char root[256];
    make_tmpdir(root, sizeof root);
    mkdir_in(root, "cats");
    mkdir_in(root, "Dogs");
    mkdir_in(root, "birds");
    mkdir_in(root, ".hidden");
    write_png(root, "cats/b.png", 8, 8, 1);
    write_png(root, "cats/a.PNG", 8, 8, 2);
    write_png(root, "Dogs/z.png", 8, 8, 3);
    write_png(root, "birds/only.png", 8, 8, 4);
    write_png(root, ".hidden/x.png", 8, 8, 5);
    char p[512];
    write_bytes(path_in(p, sizeof p, root, "cats/README.txt"), "not an image", 12);
    write_bytes(path_in(p, sizeof p, root, "cats/._a.png"), "resource fork", 13);
    em_imagefolder_opts o = {.h = 8, .w = 8, .channels = 3};
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_imagefolder_load(&ds, root, &o, NULL, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(ds.n_classes, 3);
    cr_assert_str_eq(ds.class_names[0], "Dogs");
    cr_assert_str_eq(ds.class_names[1], "birds");
    cr_assert_str_eq(ds.class_names[2], "cats");
    cr_assert_eq(ds.n, 4);
    const int want_label[4] = {0, 1, 2, 2}, want_seed[4] = {3, 4, 2, 1};  /* a.PNG < b.png */
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(ds.labels[i], want_label[i], "label of example %d", i);
        uint8_t img[8 * 8 * 3];
        make_rgb(img, 8, 8, want_seed[i]);
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < 64; k++)  /* planar (C, H, W) from interleaved (H, W, C) */
                cr_assert_eq(ds.pixels[(size_t)i * 192 + c * 64 + k], img[k * 3 + c],
                             "example %d channel %d pixel %d", i, c, k);
    }
    em_dataset_free(&ds);
    rm_tree(root);
}

Test(imagefolder, jpeg_bmp_resize_and_grayscale) {
    char root[256], p[512];
    make_tmpdir(root, sizeof root);
    mkdir_in(root, "a");
    mkdir_in(root, "b");
    static uint8_t flat[64 * 48 * 3];
    for (size_t k = 0; k < sizeof flat; k += 3) flat[k] = 200, flat[k + 1] = 100, flat[k + 2] = 50;
    cr_assert(stbi_write_jpg(path_in(p, sizeof p, root, "a/one.jpg"), 48, 64, 3, flat, 95));
    cr_assert(stbi_write_bmp(path_in(p, sizeof p, root, "b/two.bmp"), 48, 64, 3, flat));
    cr_assert(stbi_write_jpg(path_in(p, sizeof p, root, "b/three.jpeg"), 48, 64, 3, flat, 95));
    em_imagefolder_opts o = {.h = 16, .w = 20, .channels = 3};
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_imagefolder_load(&ds, root, &o, NULL, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(ds.n, 3);
    cr_assert_eq(ds.h, 16);
    cr_assert_eq(ds.w, 20);
    cr_assert_eq(ds.c, 3);
    const int rgb[3] = {200, 100, 50};
    for (size_t i = 0; i < 3; i++)
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < 16 * 20; k++) {
                int v = ds.pixels[i * 3 * 320 + (size_t)c * 320 + k];
                cr_assert(abs(v - rgb[c]) <= 4, "example %zu channel %d: %d, want ~%d", i, c, v, rgb[c]);
            }
    cr_assert_eq(ds.labels[0], 0);
    cr_assert_eq(ds.labels[1], 1);  /* b/three.jpeg */
    cr_assert_eq(ds.labels[2], 1);  /* b/two.bmp */
    em_dataset_free(&ds);
    /* one channel: stb's luminance (77 r + 150 g + 29 b) >> 8 = 124 */
    o.channels = 1;
    cr_assert_eq(em_imagefolder_load(&ds, root, &o, NULL, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(ds.c, 1);
    for (size_t k = 0; k < ds.n * 320; k++)
        cr_assert(abs(ds.pixels[k] - 124) <= 4, "gray pixel %zu: %d", k, ds.pixels[k]);
    em_dataset_free(&ds);
    rm_tree(root);
}

/* ---- bad input -------------------------------------------------------------------------- */

Test(imagefolder_bad, corrupt_image_rejected_or_skipped) {
    char root[256], p[512];
    make_tmpdir(root, sizeof root);
    mkdir_in(root, "a");
    mkdir_in(root, "b");
    write_png(root, "a/good.png", 8, 8, 1);
    write_png(root, "b/good.png", 8, 8, 2);
    write_bytes(path_in(p, sizeof p, root, "b/bad.png"), "\x89PNG\r\n\x1a\ngarbage", 15);
    em_imagefolder_opts o = {.h = 8, .w = 8, .channels = 3};
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_imagefolder_load(&ds, root, &o, NULL, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, p);
    assert_msg_has(&err, "not a readable image");
    cr_assert_null(ds.pixels);
    o.skip_bad = true;
    em_imagefolder_report rep;
    cr_assert_eq(em_imagefolder_load(&ds, root, &o, &rep, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(ds.n, 2);
    cr_assert_eq(rep.n_skipped, 1);
    cr_assert(strstr(rep.first_skipped, "bad.png"), "%s", rep.first_skipped);
    em_dataset_free(&ds);
    /* a class whose every image is bad is an error even when skipping */
    remove(path_in(p, sizeof p, root, "b/good.png"));
    cr_assert_eq(em_imagefolder_load(&ds, root, &o, &rep, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "/b");
    rm_tree(root);
}

/* a 45-byte PNG whose header claims 16000 x 16000 pixels: refused from the header, before
 * stb_image allocates 768 MB for it (stb itself refuses only above 1 GB) */
Test(imagefolder_bad, huge_image_header_refused_before_decoding) {
    char root[256], p[512];
    make_tmpdir(root, sizeof root);
    mkdir_in(root, "a");
    uint8_t png[8 + 25 + 12] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
                                0, 0, 0, 13, 'I', 'H', 'D', 'R',
                                0, 0, 0x3e, 0x80, 0, 0, 0x3e, 0x80,   /* 16000 x 16000 */
                                8, 2, 0, 0, 0};                       /* 8-bit RGB */
    uLong crc = crc32(0, png + 12, 17);
    for (int i = 0; i < 4; i++) png[29 + i] = (uint8_t)(crc >> (24 - 8 * i));
    const uint8_t iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
    memcpy(png + 33, iend, 12);
    write_bytes(path_in(p, sizeof p, root, "a/bomb.png"), png, sizeof png);
    em_imagefolder_opts o = {.h = 8, .w = 8, .channels = 3};
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_imagefolder_load(&ds, root, &o, NULL, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "bomb.png");
    assert_msg_has(&err, "16000x16000");
    cr_assert_null(ds.pixels);
    rm_tree(root);
}

/* stb_image would decode a GIF (or PSD, TGA, ...) named x.png: the loader passes on only
 * files with a PNG, JPEG or BMP signature */
Test(imagefolder_bad, other_formats_under_an_image_name_refused) {
    char root[256], p[512];
    make_tmpdir(root, sizeof root);
    mkdir_in(root, "a");
    /* a valid 1x1 GIF */
    static const uint8_t gif[] = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0, 0,
                                  0, 0, 0, 255, 255, 255, ',', 0, 0, 0, 0, 1, 0, 1, 0, 0,
                                  2, 2, 'D', 1, 0, ';'};
    write_bytes(path_in(p, sizeof p, root, "a/x.png"), gif, sizeof gif);
    int w, h, comp;
    cr_assert(stbi_info(p, &w, &h, &comp) && w == 1 && h == 1, "stb_image reads the GIF");
    em_imagefolder_opts o = {.h = 8, .w = 8, .channels = 3};
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_imagefolder_load(&ds, root, &o, NULL, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "x.png");
    assert_msg_has(&err, "not a PNG, JPEG or BMP file");
    cr_assert_null(ds.pixels);
    rm_tree(root);
}

/* Debian's stb_image writes past its Huffman table when a JPEG's DHT segment has more
 * than 256 codes (fuzz_image found it): such a file is refused before it reaches stb */
typedef struct jpeg_buf { uint8_t b[8192]; size_t n; } jpeg_buf;

static void jpeg_to_mem(void *ctx, void *data, int size) {
    jpeg_buf *j = ctx;
    cr_assert(j->n + (size_t)size <= sizeof j->b);
    memcpy(j->b + j->n, data, (size_t)size);
    j->n += (size_t)size;
}

Test(imagefolder_bad, jpeg_huffman_table_of_more_than_256_codes_refused) {
    char root[256], p[512];
    make_tmpdir(root, sizeof root);
    mkdir_in(root, "a");
    uint8_t img[16 * 16 * 3];
    make_rgb(img, 16, 16, 7);
    static jpeg_buf j;
    cr_assert(stbi_write_jpg_to_func(jpeg_to_mem, &j, 16, 16, 3, img, 90));
    write_bytes(path_in(p, sizeof p, root, "a/good.jpg"), j.b, j.n);
    em_imagefolder_opts o = {.h = 16, .w = 16, .channels = 3};
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_imagefolder_load(&ds, root, &o, NULL, &err), EM_OK, "%s", err.msg);
    em_dataset_free(&ds);
    /* the first DHT: FF C4, length, class/id, 16 counts; make the counts sum to 16 * 20 */
    size_t at = 0;
    while (at + 1 < j.n && !(j.b[at] == 0xff && j.b[at + 1] == 0xc4)) at++;
    cr_assert(at + 21 < j.n, "no DHT segment in stb's JPEG");
    for (int k = 0; k < 16; k++) j.b[at + 5 + k] = 20;
    write_bytes(p, j.b, j.n);
    cr_assert_eq(em_imagefolder_load(&ds, root, &o, NULL, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "good.jpg");
    assert_msg_has(&err, "Huffman table of more than 256 codes");
    cr_assert_null(ds.pixels);
    rm_tree(root);
}

/* stb_image reads the missing rows of a cut BMP as zeros (fuzz_image: a 102-byte file
 * decoded as 1024 x 1024), and decodes a BMP of height 0: the loader refuses both */
Test(imagefolder_bad, truncated_or_empty_bmp_refused) {
    char root[256], p[512];
    make_tmpdir(root, sizeof root);
    mkdir_in(root, "a");
    uint8_t img[32 * 32 * 3];
    make_rgb(img, 32, 32, 3);
    cr_assert(stbi_write_bmp(path_in(p, sizeof p, root, "a/x.bmp"), 32, 32, 3, img));
    em_imagefolder_opts o = {.h = 32, .w = 32, .channels = 3};
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_imagefolder_load(&ds, root, &o, NULL, &err), EM_OK, "%s", err.msg);
    em_dataset_free(&ds);
    size_t len;
    uint8_t *bmp = read_bytes(p, &len);
    write_bytes(p, bmp, len - 1);   /* one byte short */
    free(bmp);
    int w, h, comp;
    cr_assert(stbi_info(p, &w, &h, &comp), "stb_image would still take it");
    cr_assert_eq(em_imagefolder_load(&ds, root, &o, NULL, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "x.bmp");
    assert_msg_has(&err, "truncated BMP");
    /* a BMP of height 0, which stb_image decodes (fuzz_image found it) */
    bmp = read_bytes(p, &len);
    memset(bmp + 22, 0, 4);
    write_bytes(p, bmp, 54);
    free(bmp);
    cr_assert_eq(em_imagefolder_load(&ds, root, &o, NULL, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "x.bmp");
    assert_msg_has(&err, "32x0");
    rm_tree(root);
}

/* root/a/x.png, an 8x8 PNG written by stb, read back: its bytes (len), the offset of its
 * first IDAT chunk (at), and its path in p */
static uint8_t *png_at_first_idat(char *root, size_t root_size, char *p, size_t p_size,
                                  size_t *len, size_t *at) {
    make_tmpdir(root, root_size);
    mkdir_in(root, "a");
    write_png(root, "a/x.png", 8, 8, 1);
    uint8_t *png = read_bytes(path_in(p, p_size, root, "a/x.png"), len);
    *at = 8;
    while (*at + 8 <= *len && memcmp(png + *at + 4, "IDAT", 4))
        *at += 12 + ((size_t)png[*at] << 24 | (size_t)png[*at + 1] << 16 |
                     (size_t)png[*at + 2] << 8 | png[*at + 3]);
    cr_assert(*at + 8 <= *len, "no IDAT in stb's PNG");
    return png;
}

/* stb_image 2.27 copies an empty first IDAT chunk to a NULL buffer (undefined behaviour,
 * found by fuzz_image): such a PNG is refused before it reaches stb */
Test(imagefolder_bad, png_with_an_empty_first_idat_refused) {
    char root[256], p[512];
    size_t len, at;
    uint8_t *png = png_at_first_idat(root, sizeof root, p, sizeof p, &len, &at);
    uint8_t empty[12] = {0, 0, 0, 0, 'I', 'D', 'A', 'T'};
    uLong crc = crc32(0, empty + 4, 4);
    for (int i = 0; i < 4; i++) empty[8 + i] = (uint8_t)(crc >> (24 - 8 * i));
    uint8_t *bad = malloc(len + 12);
    memcpy(bad, png, at);
    memcpy(bad + at, empty, 12);
    memcpy(bad + at + 12, png + at, len - at);
    write_bytes(p, bad, len + 12);
    em_imagefolder_opts o = {.h = 8, .w = 8, .channels = 3};
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_imagefolder_load(&ds, root, &o, NULL, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "x.png");
    assert_msg_has(&err, "empty IDAT");
    free(bad);
    free(png);
    rm_tree(root);
}

/* an IDAT chunk whose length claims far more than the file holds: stb_image would allocate
 * what the chunk claims (2 GiB for this 100-byte file, found by fuzz_image) before reading */
Test(imagefolder_bad, png_chunk_longer_than_the_file_refused) {
    char root[256], p[512];
    size_t len, at;
    uint8_t *png = png_at_first_idat(root, sizeof root, p, sizeof p, &len, &at);
    png[at] = 0x40;   /* 1 GiB + the real length */
    write_bytes(p, png, len);
    em_imagefolder_opts o = {.h = 8, .w = 8, .channels = 3};
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_imagefolder_load(&ds, root, &o, NULL, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "x.png");
    assert_msg_has(&err, "corrupt PNG (a chunk claims 10737");
    cr_assert_null(ds.pixels);
    free(png);
    rm_tree(root);
}

Test(imagefolder_bad, unreadable_file_is_io_error) {
    if (geteuid() == 0) {
        /* root reads everything; a directory named like an image is still skipped, and a
         * dangling link is not a file */
        cr_log_info("running as root: permission test replaced by a dangling link");
    }
    char root[256], p[512];
    make_tmpdir(root, sizeof root);
    mkdir_in(root, "a");
    write_png(root, "a/good.png", 8, 8, 1);
    cr_assert_eq(symlink("/nonexistent/x.png", path_in(p, sizeof p, root, "a/link.png")), 0);
    mkdir_in(root, "a/dir.png");
    em_imagefolder_opts o = {.h = 8, .w = 8, .channels = 3};
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_imagefolder_load(&ds, root, &o, NULL, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(ds.n, 1);
    em_dataset_free(&ds);
    if (geteuid() != 0) {
        write_png(root, "a/locked.png", 8, 8, 2);
        chmod(path_in(p, sizeof p, root, "a/locked.png"), 0);
        cr_assert_eq(em_imagefolder_load(&ds, root, &o, NULL, &err), EM_ERR_IO);
        assert_msg_has(&err, "locked.png");
    }
    rm_tree(root);
}

Test(imagefolder_bad, empty_class_folder) {
    char root[256];
    make_tmpdir(root, sizeof root);
    mkdir_in(root, "a");
    mkdir_in(root, "empty");
    write_png(root, "a/good.png", 8, 8, 1);
    char p[512];
    write_bytes(path_in(p, sizeof p, root, "empty/notes.txt"), "x", 1);
    em_imagefolder_opts o = {.h = 8, .w = 8, .channels = 3};
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_imagefolder_load(&ds, root, &o, NULL, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "empty");
    assert_msg_has(&err, "empty class folder");
    rm_tree(root);
}

Test(imagefolder_bad, missing_root_no_classes_bad_options) {
    em_imagefolder_opts o = {.h = 8, .w = 8, .channels = 3};
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_imagefolder_load(&ds, "/nonexistent/images", &o, NULL, &err), EM_ERR_IO);
    assert_msg_has(&err, "/nonexistent/images");
    char root[256];
    make_tmpdir(root, sizeof root);
    cr_assert_eq(em_imagefolder_load(&ds, root, &o, NULL, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "no class folders");
    o.channels = 2;
    cr_assert_eq(em_imagefolder_load(&ds, root, &o, NULL, &err), EM_ERR_ARG);
    rm_tree(root);
}

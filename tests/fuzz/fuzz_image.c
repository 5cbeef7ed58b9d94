/* tests/fuzz/fuzz_image.c — libFuzzer harness for image files read through the image-folder
 * loader (em_imagefolder_load: directory scan, stb_image decode, resize, layout).
 *
 * Input layout: byte 0 = mode, bytes 1..2 = split point s (little-endian, modulo the rest's
 * length + 1), then the rest: rest[0, s) is root/a/x.EXT and rest[s, end) is root/b/y.EXT.
 *   mode bits 0-1: extension .png, .jpg, .bmp, .jpeg ·  bit 2: channels 1 or 3
 *   bits 3-4: the size asked for, 8x8, 5x13, 32x32, 1x1 ·  bit 5: skip_bad
 *   bit 6: the second class folder holds a README.txt instead (the file must be ignored,
 *   and the class is then empty, which is an error)
 * The loader must return a code, never crash, leak or read out of bounds; on success the
 * dataset has the asked-for shape, labels within the classes, every class present.
 * Images above 256 x 256 are refused (opts.max_pixels) to keep each run fast. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_files.h"

#include "data/imagefolder.h"

static char image_dir[64];  /* made on first use, removed by the replay test */

int em_fuzz_image(const uint8_t *data, size_t size) {
    if (size < 3) return 0;
    static const char *const exts[4] = {"png", "jpg", "bmp", "jpeg"};
    static const int sizes[4][2] = {{8, 8}, {5, 13}, {32, 32}, {1, 1}};
    uint8_t mode = data[0];
    size_t len = size - 3, split = ((size_t)data[1] | (size_t)data[2] << 8) % (len + 1);
    const uint8_t *rest = data + 3;
    const char *ext = exts[mode & 3];
    bool readme = mode & 64;
    em_imagefolder_opts o = {.h = sizes[(mode >> 3) & 3][0], .w = sizes[(mode >> 3) & 3][1],
                             .channels = mode & 4 ? 3 : 1, .skip_bad = mode & 32,
                             /* 256 x 256: decoding and resizing larger images only takes
                              * longer (seconds under ASan + UBSan), through the same code */
                             .max_pixels = 1 << 16};
    if (!image_dir[0]) {
        if (!em_test_mkdtemp_shm(image_dir, sizeof image_dir, "fuzz-image")) abort();
        char p[128];
        snprintf(p, sizeof p, "%s/a", image_dir);
        if (mkdir(p, 0700)) abort();
        snprintf(p, sizeof p, "%s/b", image_dir);
        if (mkdir(p, 0700)) abort();
    }
    /* the class folders hold exactly this input's files */
    char p[160];
    for (int k = 0; k < 4; k++) {
        snprintf(p, sizeof p, "%s/a/x.%s", image_dir, exts[k]);
        remove(p);
        snprintf(p, sizeof p, "%s/b/y.%s", image_dir, exts[k]);
        remove(p);
    }
    snprintf(p, sizeof p, "%s/b/README.txt", image_dir);
    remove(p);
    snprintf(p, sizeof p, "%s/a/x.%s", image_dir, ext);
    fuzz_write_file(p, rest, split);
    if (readme) snprintf(p, sizeof p, "%s/b/README.txt", image_dir);
    else snprintf(p, sizeof p, "%s/b/y.%s", image_dir, ext);
    fuzz_write_file(p, rest + split, len - split);

    em_dataset ds;
    em_imagefolder_report rep;
    em_error err = {0};
    em_code c = em_imagefolder_load(&ds, image_dir, &o, &rep, &err);
    if (c == EM_OK) {
        if (readme) abort();   /* class b is empty: must be an error */
        if (ds.c != o.channels || ds.h != o.h || ds.w != o.w || ds.n != 2 || ds.n_classes != 2)
            abort();
        if (ds.labels[0] != 0 || ds.labels[1] != 1 || rep.n_skipped != 0) abort();
        volatile uint8_t sink = 0;
        for (size_t i = 0; i < ds.n * (size_t)ds.c * (size_t)ds.h * (size_t)ds.w; i++)
            sink ^= ds.pixels[i];
        if (strcmp(ds.class_names[0], "a") || strcmp(ds.class_names[1], "b")) abort();
    } else if (ds.pixels || ds.labels || err.code != c || !err.msg[0] ||
               !memchr(err.msg, 0, sizeof err.msg)) {
        abort();
    }
    em_dataset_free(&ds);
    return 0;
}

#ifndef EM_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return em_fuzz_image(data, size); }
#endif

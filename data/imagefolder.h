/** data/imagefolder.h — a folder of class folders of images, as torchvision's ImageFolder.
 *
 *     flowers/daisy/001.jpg, flowers/daisy/002.png, flowers/rose/a.bmp, ...
 *
 *     em_imagefolder_opts o = {.h = 32, .w = 32, .channels = 3};
 *     em_dataset ds;
 *     em_error err;
 *     if (em_imagefolder_load(&ds, "flowers", &o, NULL, &err) != EM_OK) ...
 *     // ds.class_names = {"daisy", "rose"}; label 0 = daisy; every image (3, 32, 32)
 *
 * Classes are the subfolders of root, sorted by name (byte order, as Python's sorted()),
 * label k for the k-th; images in a class are taken in name order too. Image files are
 * those ending in .png, .jpg, .jpeg or .bmp (any case); every other file (README.txt,
 * .DS_Store) is ignored, as ImageFolder does. Each image is decoded by stb_image,
 * converted to `channels` (1: luminance, 3: RGB; alpha dropped), and resized to h x w by
 * stb_image_resize (its default filter, Mitchell for down-sampling) when its size
 * differs.
 *
 * A file is decoded only if it starts with a PNG, JPEG or BMP signature (stb_image, which
 * recognises files by content, would also read GIF, PSD, TGA, ... under any name). An
 * image whose header claims more than opts.max_pixels pixels (by default
 * EM_IMAGEFOLDER_MAX_PIXELS, 64 Mpixel, 8192 x 8192) is refused before decoding, so a small
 * corrupt file cannot make the loader allocate gigabytes, and so is an uncompressed BMP
 * shorter than its rows (stb_image would read the missing bytes as zeros); both count as
 * images that cannot be decoded.
 * An image file that cannot be read or decoded is an error naming the file (EM_ERR_FORMAT,
 * or EM_ERR_IO when it cannot be opened) unless opts.skip_bad is set: then it is skipped
 * and counted in the report, which a program prints as a warning. A class folder with no
 * image is an error (as in ImageFolder); so is a root with no class folder.
 *
 * @file
 */
#ifndef EM_IMAGEFOLDER_H
#define EM_IMAGEFOLDER_H

#include <stdbool.h>
#include <stddef.h>

#include "dataset.h"

/** Largest image (pixels) read by default; larger files are refused. */
#define EM_IMAGEFOLDER_MAX_PIXELS (1 << 26)

/** How to read an image folder. */
typedef struct em_imagefolder_opts {
    int h, w;          /**< every image is resized to h x w                */
    int channels;      /**< 1 or 3                                         */
    bool skip_bad;     /**< skip undecodable images instead of failing     */
    size_t max_pixels; /**< refuse larger images (0: EM_IMAGEFOLDER_MAX_PIXELS) */
} em_imagefolder_opts;
/** @var em_imagefolder_opts::h
 * the height every image is resized to (see w) */

/** What em_imagefolder_load() skipped. */
typedef struct em_imagefolder_report {
    size_t n_skipped;          /**< images skipped under skip_bad            */
    char first_skipped[512];   /**< "path: reason" of the first one           */
} em_imagefolder_report;

/** Read every image of root's class folders. report may be NULL. At most
 * EM_DATA_MAX_CLASSES classes.
 * @param ds      filled on success, zeroed on failure
 * @param root    the folder of class folders
 * @param opts    size, channels, skip_bad
 * @param report  receives what was skipped; may be NULL
 * @param err     filled on failure, naming the file
 * @return EM_OK; EM_ERR_IO (a folder or file cannot be opened); EM_ERR_FORMAT (an
 *         undecodable image without skip_bad, no class folder, too many classes, a class
 *         with no image); EM_ERR_ARG (bad options, a path too long); EM_ERR_NOMEM */
em_code em_imagefolder_load(em_dataset *ds, const char *root, const em_imagefolder_opts *opts,
                            em_imagefolder_report *report, em_error *err);

#endif

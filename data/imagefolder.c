/* data/imagefolder.c — root/<class>/<image> through stb_image and stb_image_resize.
 *
 * Debian's libstb-dev ships the implementations compiled in libstb.so, so this file only
 * includes the headers (no STB_IMAGE_IMPLEMENTATION). */
#include "imagefolder.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <stb_image.h>
#include <stb_image_resize.h>

/* a growable list of malloc'd strings */
typedef struct strlist {
    char **s;
    size_t n, cap;
} strlist;

static void strlist_free(strlist *l) {
    for (size_t i = 0; i < l->n; i++) free(l->s[i]);
    free(l->s);
    memset(l, 0, sizeof *l);
}

static bool strlist_push(strlist *l, const char *s) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **grown = realloc(l->s, cap * sizeof *grown);
        if (!grown) return false;
        l->s = grown;
        l->cap = cap;
    }
    size_t len = strlen(s) + 1;
    char *copy = malloc(len);
    if (!copy) return false;
    memcpy(copy, s, len);
    l->s[l->n++] = copy;
    return true;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_image_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot) return false;
    return !strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") ||
           !strcasecmp(dot, ".bmp");
}

/* Names in dir (not starting with '.') that are directories (dirs) or image files,
 * sorted. */
static em_code list_dir(const char *dir, bool dirs, strlist *out, em_error *err) {
    DIR *d = opendir(dir);
    if (!d) return em_error_set(err, EM_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    em_code c = EM_OK;
    char path[4096];
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.') continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) {
            c = em_error_set(err, EM_ERR_ARG, "%s/%s: path too long", dir, e->d_name);
            break;
        }
        struct stat st;
        if (stat(path, &st) != 0) continue;   /* a dangling link: nothing to read */
        bool want = dirs ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode) && has_image_ext(e->d_name);
        if (want && !strlist_push(out, e->d_name)) {
            c = em_error_set(err, EM_ERR_NOMEM, "%s: out of memory listing the directory", dir);
            break;
        }
    }
    closedir(d);
    if (c == EM_OK && out->n) qsort(out->s, out->n, sizeof *out->s, cmp_str);
    return c;
}

/* The whole file in memory (images are small; a file above 1 GiB is refused). */
static em_code read_file(const char *path, uint8_t **buf, size_t *len, em_error *err) {
    *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return em_error_set(err, EM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    em_code c = EM_OK;
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0)
        c = em_error_set(err, EM_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    else if (n > (1L << 30))
        c = em_error_set(err, EM_ERR_FORMAT, "%s: %ld bytes, more than the 1 GiB an image file "
                         "may have", path, n);
    else if (!(*buf = malloc(n ? (size_t)n : 1)))
        c = em_error_set(err, EM_ERR_NOMEM, "%s: out of memory reading %ld bytes", path, n);
    else if (fread(*buf, 1, (size_t)n, f) != (size_t)n)
        c = em_error_set(err, EM_ERR_IO, "%s: reading failed", path);
    fclose(f);
    if (c != EM_OK) {
        free(*buf);
        *buf = NULL;
    }
    *len = (size_t)n;
    return c;
}

/* Debian's stb_image (2.27) builds a JPEG Huffman table from the 16 code counts of a DHT
 * segment without checking that they sum to at most 256, and writes past its table when
 * they do (found by tests/fuzz/fuzz_image.c). Every FF C4 in the file — a superset of the
 * DHT markers stb_image can meet, before, between or after scans (entropy-coded data never
 * holds FF C4: an FF there is followed by 00 or a restart marker) — is checked the way
 * stb_image reads it: tables of 1 + 16 + sum bytes while the segment length lasts, bytes
 * past the end read as 0 as stb_image does. */
static bool jpeg_huffman_tables_ok(const uint8_t *b, size_t n) {
    for (size_t i = 0; i + 1 < n; i++) {
        if (b[i] != 0xff || b[i + 1] != 0xc4) continue;
        size_t at = i + 2;
        long left = at + 1 < n ? ((long)b[at] << 8 | b[at + 1]) - 2 : 0;
        at += 2;
        while (left > 0) {
            size_t sum = 0;
            for (int k = 1; k <= 16; k++) sum += at + k < n ? b[at + k] : 0;
            if (sum > 256) return false;
            at += 17 + sum;
            left -= 17 + (long)sum;
        }
    }
    return true;
}

static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* An uncompressed BMP must hold the rows its header claims: stb_image reads missing bytes
 * as zeros, so a 100-byte file would otherwise decode as a 1024 x 1024 image. */
static bool bmp_complete(const uint8_t *b, size_t n) {
    if (n < 30) return true;   /* stb_image rejects the header itself */
    uint32_t header = le32(b + 14);
    int64_t w, h, bpp;
    if (header == 12) {        /* OS/2: 16-bit sizes, never compressed */
        w = b[18] | b[19] << 8, h = b[20] | b[21] << 8, bpp = b[24] | b[25] << 8;
    } else {
        if (n < 34) return true;
        uint32_t compression = le32(b + 30);
        if (compression != 0 && compression != 3) return true;   /* stb_image rejects RLE */
        w = (int32_t)le32(b + 18), h = (int32_t)le32(b + 22), bpp = b[28] | b[29] << 8;
    }
    if (h < 0) h = -h;
    if (w <= 0 || bpp <= 0 || bpp > 32) return true;            /* stb_image rejects these */
    int64_t row = (w * bpp + 31) / 32 * 4, offset = le32(b + 10);   /* row < 2^34 */
    /* offset + row * h <= n, without the product (it can pass 2^63) */
    return offset <= (int64_t)n && (h == 0 || row <= ((int64_t)n - offset) / h);
}

/* The PNG chunk walk (length, type, data, CRC) that stb_image 2.27 needs done first:
 * - an IDAT chunk of length 0 before any image data is copied to a NULL buffer
 *   (memcpy(NULL, p, 0): undefined behaviour, found by fuzz_image); encoders never write one;
 * - an IDAT chunk's length is believed before its bytes are read: a 100-byte file whose
 *   chunk claims 1 GiB made stb_image ask for 2 GiB (found by fuzz_image).
 * Returns NULL if the chunks are sound, else what is wrong (why holds the text). */
static const char *png_chunks_bad(const uint8_t *b, size_t n, char *why, size_t why_size) {
    size_t at = 8;
    bool seen_data = false;
    while (at + 8 <= n) {
        uint32_t len = (uint32_t)b[at] << 24 | (uint32_t)b[at + 1] << 16 |
                       (uint32_t)b[at + 2] << 8 | b[at + 3];
        bool idat = !memcmp(b + at + 4, "IDAT", 4);
        if (len > n - at - 8) {
            snprintf(why, why_size, "a chunk claims %lu bytes, the file has %zu after it",
                     (unsigned long)len, n - at - 8);
            return why;
        }
        if (idat && len == 0 && !seen_data) {
            snprintf(why, why_size, "an empty IDAT chunk before the image data");
            return why;
        }
        if (idat) seen_data = true;
        if (!memcmp(b + at + 4, "IEND", 4)) return NULL;
        at += 12 + (size_t)len;
    }
    return NULL;
}

/* Decode path into out (channels, h, w). On failure: a message in why. */
static em_code decode(const char *path, const em_imagefolder_opts *o, uint8_t *out,
                      uint8_t *hwc, em_error *err) {
    uint8_t *file;
    size_t len = 0;
    em_code c = read_file(path, &file, &len, err);
    if (c != EM_OK) return c;
    /* stb_image recognises a file by its content, and reads GIF, PSD, PIC, PNM, HDR and
     * TGA as well; only the three formats the loader takes reach it */
    size_t max_pixels = o->max_pixels ? o->max_pixels : (size_t)EM_IMAGEFOLDER_MAX_PIXELS;
    bool png = len >= 8 && !memcmp(file, "\x89PNG\r\n\x1a\n", 8);
    bool jpeg = len >= 3 && file[0] == 0xff && file[1] == 0xd8 && file[2] == 0xff;
    bool bmp = len >= 2 && file[0] == 'B' && file[1] == 'M';
    int w, h, comp;
    char why[96];
    if (!png && !jpeg && !bmp)
        c = em_error_set(err, EM_ERR_FORMAT, "%s: not a PNG, JPEG or BMP file (its first bytes "
                         "are no such signature)", path);
    else if (png && png_chunks_bad(file, len, why, sizeof why))
        c = em_error_set(err, EM_ERR_FORMAT, "%s: corrupt PNG (%s)", path, why);
    else if (bmp && !bmp_complete(file, len))
        c = em_error_set(err, EM_ERR_FORMAT, "%s: truncated BMP (%zu bytes, fewer than its "
                         "header's rows need)", path, len);
    else if (jpeg && !jpeg_huffman_tables_ok(file, len))
        c = em_error_set(err, EM_ERR_FORMAT, "%s: corrupt JPEG (a Huffman table of more than "
                         "256 codes)", path);
    /* the header first: a few bytes can claim 16000 x 16000 pixels, which stb_image would
     * try to allocate before it finds the data missing */
    else if (stbi_info_from_memory(file, (int)len, &w, &h, &comp) &&
             (size_t)w * (size_t)h > max_pixels)
        c = em_error_set(err, EM_ERR_FORMAT, "%s: a %dx%d image, more than the %zu pixels "
                         "the loader decodes (shrink it first)", path, w, h, max_pixels);
    uint8_t *img = NULL;
    if (c == EM_OK) img = stbi_load_from_memory(file, (int)len, &w, &h, &comp, o->channels);
    free(file);
    if (c != EM_OK) return c;
    if (!img)
        return em_error_set(err, EM_ERR_FORMAT, "%s: not a readable image (stb_image: %s)", path,
                            stbi_failure_reason() ? stbi_failure_reason() : "unknown");
    /* stb_image 2.27 returns a BMP with a height of 0 (fuzz_image found it); resizing
     * that divides by zero */
    if (w < 1 || h < 1) {
        stbi_image_free(img);
        return em_error_set(err, EM_ERR_FORMAT, "%s: an image of %dx%d pixels", path, w, h);
    }
    const uint8_t *src = img;
    if (w != o->w || h != o->h) {
        if (!stbir_resize_uint8(img, w, h, 0, hwc, o->w, o->h, 0, o->channels)) {
            stbi_image_free(img);
            return em_error_set(err, EM_ERR_FORMAT, "%s: cannot resize %dx%d to %dx%d", path, w,
                                h, o->w, o->h);
        }
        src = hwc;
    }
    /* (h, w, c) interleaved -> (c, h, w) planar */
    size_t hw = (size_t)o->h * (size_t)o->w;
    for (size_t p = 0; p < hw; p++)
        for (int c = 0; c < o->channels; c++) out[(size_t)c * hw + p] = src[p * (size_t)o->channels + c];
    stbi_image_free(img);
    return EM_OK;
}

static em_code check_opts(const char *root, const em_imagefolder_opts *o, em_error *err) {
    if (!o || (o->channels != 1 && o->channels != 3) || o->h <= 0 || o->w <= 0 ||
        o->h > 4096 || o->w > 4096)
        return em_error_set(err, EM_ERR_ARG,
                            "%s: image folder options need channels 1 or 3 and 1 <= h, w <= 4096",
                            root);
    return EM_OK;
}

/* Gather class names and (label, path) of every image file. */
static em_code scan(const char *root, strlist *classes, strlist *files, uint8_t **labels,
                    em_error *err) {
    em_code c = list_dir(root, true, classes, err);
    if (c != EM_OK) return c;
    if (classes->n == 0)
        return em_error_set(err, EM_ERR_FORMAT, "%s: no class folders (expected root/<class>/<image>)", root);
    if (classes->n > EM_DATA_MAX_CLASSES)
        return em_error_set(err, EM_ERR_FORMAT, "%s: %zu class folders, at most %d supported",
                            root, classes->n, EM_DATA_MAX_CLASSES);
    size_t cap = 0;
    char dir[4096], path[4096];
    for (size_t k = 0; k < classes->n; k++) {
        snprintf(dir, sizeof dir, "%s/%s", root, classes->s[k]);
        strlist names = {0};
        if ((c = list_dir(dir, false, &names, err)) != EM_OK) return c;
        if (names.n == 0) {
            strlist_free(&names);
            return em_error_set(err, EM_ERR_FORMAT,
                                "%s: empty class folder (no .png, .jpg, .jpeg or .bmp file)", dir);
        }
        for (size_t i = 0; i < names.n; i++) {
            if (snprintf(path, sizeof path, "%s/%s", dir, names.s[i]) >= (int)sizeof path)
                c = em_error_set(err, EM_ERR_ARG, "%s/%s: path too long", dir, names.s[i]);
            else if (!strlist_push(files, path))
                c = em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", root);
            if (c == EM_OK && files->n > cap) {
                cap = files->cap;
                uint8_t *grown = realloc(*labels, cap);
                if (!grown) c = em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", root);
                else *labels = grown;
            }
            if (c != EM_OK) break;
            (*labels)[files->n - 1] = (uint8_t)k;
        }
        strlist_free(&names);
        if (c != EM_OK) return c;
    }
    return EM_OK;
}

em_code em_imagefolder_load(em_dataset *ds, const char *root, const em_imagefolder_opts *o,
                            em_imagefolder_report *report, em_error *err) {
    memset(ds, 0, sizeof *ds);
    if (report) memset(report, 0, sizeof *report);
    em_code c = check_opts(root, o, err);
    if (c != EM_OK) return c;
    strlist classes = {0}, files = {0};
    uint8_t *labels = NULL, *hwc = NULL;
    c = scan(root, &classes, &files, &labels, err);
    const char *base = strrchr(root, '/');
    base = base && base[1] ? base + 1 : root;
    if (c == EM_OK) c = em_dataset_alloc(ds, base, files.n, o->channels, o->h, o->w, err);
    if (c == EM_OK && !(hwc = malloc(em_dataset_example_size(ds))))
        c = em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", root);
    size_t n = 0, per = c == EM_OK ? em_dataset_example_size(ds) : 0;
    for (size_t i = 0; c == EM_OK && i < files.n; i++) {
        em_error why;
        em_code d = decode(files.s[i], o, ds->pixels + n * per, hwc, &why);
        if (d == EM_OK) {
            ds->labels[n++] = labels[i];
        } else if (o->skip_bad) {
            if (report && report->n_skipped++ == 0)
                snprintf(report->first_skipped, sizeof report->first_skipped, "%s", why.msg);
        } else {
            c = em_error_set(err, d, "%s", why.msg);
        }
    }
    if (c == EM_OK && n == 0)
        c = em_error_set(err, EM_ERR_FORMAT, "%s: no image could be read", root);
    if (c == EM_OK) {
        ds->n = n;
        c = em_dataset_copy_names(ds, (const char *const *)classes.s, (int)classes.n, err);
    }
    if (c == EM_OK) {
        /* every class must still have an image after skipping */
        size_t hist[EM_DATA_MAX_CLASSES];
        em_dataset_histogram(ds, hist);
        for (int k = 0; k < ds->n_classes && c == EM_OK; k++)
            if (hist[k] == 0)
                c = em_error_set(err, EM_ERR_FORMAT, "%s/%s: no image of this class could be read",
                                 root, ds->class_names[k]);
    }
    if (c != EM_OK) em_dataset_free(ds);
    free(hwc);
    free(labels);
    strlist_free(&classes);
    strlist_free(&files);
    return c;
}

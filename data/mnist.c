/* data/mnist.c — idx files (MNIST family), raw or gzip-compressed. */
#include "mnist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "reader.h"

#define MNIST_HINT                                                                       \
    "hint: install Debian's Fashion-MNIST (apt-get install dataset-fashion-mnist), "     \
    "download MNIST with tools/fetch-mnist.sh, or point EMBER_MNIST_DIR at a directory " \
    "of idx files"

/* More examples than any idx dataset has (EMNIST byclass: 814255); bounds allocation. */
#define IDX_MAX_N (1u << 26)

typedef struct idx_header {
    uint32_t n, rows, cols;
} idx_header;

/* kind: 1 images, 0 labels, -1 either (then *images says which the magic names) */
static em_code read_header_of(em_reader *r, int kind, bool *images_out, idx_header *h,
                              em_error *err) {
    uint8_t b[16];
    const char *what = kind < 0 ? "the idx header" : kind ? "the idx image header"
                                                          : "the idx label header";
    /* the magic first, so a wrong file is called that even when it is short */
    em_code c = em_reader_read(r, b, 4, what, err);
    if (c != EM_OK) return c;
    uint32_t magic = em_read_be32(b);
    if (kind < 0 && (magic == EM_IDX_IMAGES_MAGIC || magic == EM_IDX_LABELS_MAGIC))
        kind = magic == EM_IDX_IMAGES_MAGIC;
    if (kind < 0)
        return em_error_set(err, EM_ERR_FORMAT, "%s: not an idx file of unsigned bytes: magic "
                            "number 0x%08x, expected 0x%08x (images) or 0x%08x (labels)",
                            r->name, magic, EM_IDX_IMAGES_MAGIC, EM_IDX_LABELS_MAGIC);
    bool images = kind == 1;
    *images_out = images;
    uint32_t want = images ? EM_IDX_IMAGES_MAGIC : EM_IDX_LABELS_MAGIC;
    if (magic != want)
        return em_error_set(err, EM_ERR_FORMAT,
                            "%s: not an idx %s file: magic number 0x%08x, expected 0x%08x (%u)",
                            r->name, images ? "image" : "label", magic, want, want);
    if ((c = em_reader_read(r, b + 4, images ? 12 : 4, what, err)) != EM_OK) return c;
    h->n = em_read_be32(b + 4);
    h->rows = images ? em_read_be32(b + 8) : 1;
    h->cols = images ? em_read_be32(b + 12) : 1;
    if (h->n > IDX_MAX_N)
        return em_error_set(err, EM_ERR_FORMAT, "%s: header claims %u items (more than %u)",
                            r->name, h->n, IDX_MAX_N);
    if (h->rows == 0 || h->cols == 0 || h->rows > 4096 || h->cols > 4096 ||
        (uint64_t)h->rows * h->cols > (1u << 22))
        return em_error_set(err, EM_ERR_FORMAT, "%s: bad image size %u x %u in the header",
                            r->name, h->rows, h->cols);
    return EM_OK;
}

static em_code read_header(em_reader *r, bool images, idx_header *h, em_error *err) {
    bool is_images;
    return read_header_of(r, images ? 1 : 0, &is_images, h, err);
}

/* Both headers first (so a count mismatch is found before any payload is read), then
 * the payloads, then the label range. */
static em_code load_pair(em_dataset *ds, em_reader *ri, em_reader *rl, int n_classes,
                         const char *name, em_error *err) {
    idx_header hi = {0}, hl = {0};
    em_code c;
    memset(ds, 0, sizeof *ds);
    if ((c = read_header(ri, true, &hi, err)) != EM_OK) return c;
    if ((c = read_header(rl, false, &hl, err)) != EM_OK) return c;
    if (hi.n != hl.n)
        return em_error_set(err, EM_ERR_FORMAT,
                            "%s holds %u images but %s holds %u labels: the files do not belong "
                            "together",
                            ri->name, hi.n, rl->name, hl.n);
    size_t n = hi.n, per = (size_t)hi.rows * hi.cols;
    uint8_t *pixels = NULL, *labels = NULL;
    if ((c = em_reader_read_alloc(ri, n * per, &pixels, "the pixels", err)) != EM_OK) return c;
    if ((c = em_reader_expect_end(ri, "the pixels", err)) != EM_OK ||
        (c = em_reader_read_alloc(rl, n, &labels, "the labels", err)) != EM_OK ||
        (c = em_reader_expect_end(rl, "the labels", err)) != EM_OK) {
        free(pixels);
        free(labels);
        return c;
    }
    int max_label = -1;
    for (size_t i = 0; i < n; i++) {
        if (n_classes > 0 && labels[i] >= n_classes) {
            c = em_error_set(err, EM_ERR_FORMAT,
                             "%s: label %u of example %zu is out of range (classes 0..%d)",
                             rl->name, labels[i], i, n_classes - 1);
            free(pixels);
            free(labels);
            return c;
        }
        if (labels[i] > max_label) max_label = labels[i];
    }
    if (n_classes <= 0) n_classes = max_label + 1 > 0 ? max_label + 1 : 1;
    ds->pixels = pixels;
    ds->labels = labels;
    ds->n = n;
    ds->c = 1;
    ds->h = (int)hi.rows;
    ds->w = (int)hi.cols;
    snprintf(ds->name, sizeof ds->name, "%s", name);
    c = em_dataset_number_names(ds, n_classes, err);
    if (c != EM_OK) em_dataset_free(ds);
    return c;
}

em_code em_idx_load(em_dataset *ds, const char *images_path, const char *labels_path,
                    int n_classes, const char *name, em_error *err) {
    em_reader ri, rl;
    em_code c;
    memset(ds, 0, sizeof *ds);
    if ((c = em_reader_open(&ri, images_path, err)) != EM_OK) return c;
    if ((c = em_reader_open(&rl, labels_path, err)) != EM_OK) {
        em_reader_close(&ri);
        return c;
    }
    c = load_pair(ds, &ri, &rl, n_classes, name, err);
    em_reader_close(&ri);
    em_reader_close(&rl);
    if (c == EM_OK && ((c = em_dataset_add_file(ds, images_path, err)) != EM_OK ||
                       (c = em_dataset_add_file(ds, labels_path, err)) != EM_OK))
        em_dataset_free(ds);
    return c;
}

em_code em_idx_load_mem(em_dataset *ds, const void *images, size_t images_len,
                        const void *labels, size_t labels_len, int n_classes, em_error *err) {
    em_reader ri, rl;
    em_reader_mem(&ri, images, images_len, "<images in memory>");
    em_reader_mem(&rl, labels, labels_len, "<labels in memory>");
    return load_pair(ds, &ri, &rl, n_classes, "idx", err);
}

em_code em_idx_read(em_idx_file *f, const char *path, em_error *err) {
    memset(f, 0, sizeof *f);
    em_reader r;
    em_code c = em_reader_open(&r, path, err);
    if (c != EM_OK) return c;
    idx_header h = {0};
    bool images = false;
    uint8_t *data = NULL;
    size_t n = 0;
    if ((c = read_header_of(&r, -1, &images, &h, err)) == EM_OK) {
        n = (size_t)h.n * h.rows * h.cols;
        c = em_reader_read_alloc(&r, n, &data, images ? "the pixels" : "the labels", err);
    }
    if (c == EM_OK && (c = em_reader_expect_end(&r, images ? "the pixels" : "the labels",
                                                err)) != EM_OK) {
        free(data);
        data = NULL;
    }
    em_reader_close(&r);
    if (c != EM_OK) return c;
    f->images = images;
    f->n = h.n;
    f->rows = (int)h.rows;
    f->cols = (int)h.cols;
    f->data = data;
    return EM_OK;
}

void em_idx_file_free(em_idx_file *f) {
    free(f->data);
    memset(f, 0, sizeof *f);
}

static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* dir/<prefix>-<kind>-idx<d>-ubyte, dir/<prefix>-<kind>.idx<d>-ubyte, each then with .gz */
static em_code find_file(char *out, size_t len, const char *dir, const char *prefix,
                         const char *kind, int dims, em_error *err) {
    const char *const forms[] = {"%s/%s-%s-idx%d-ubyte", "%s/%s-%s-idx%d-ubyte.gz",
                                 "%s/%s-%s.idx%d-ubyte", "%s/%s-%s.idx%d-ubyte.gz"};
    char other[4096] = "";   /* the first name there that is no regular file (a FIFO, a dir) */
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
        int k = snprintf(out, len, forms[f], dir, prefix, kind, dims);
        if (k < 0 || (size_t)k >= len)
            return em_error_set(err, EM_ERR_ARG, "%s: directory path too long", dir);
        if (is_file(out)) return EM_OK;
        if (!other[0] && access(out, F_OK) == 0) snprintf(other, sizeof other, "%s", out);
    }
    if (other[0]) return em_error_set(err, EM_ERR_IO, "%s: not a regular file", other);
    return em_error_set(err, EM_ERR_IO,
                        "%s: no %s-%s-idx%d-ubyte or %s-%s-idx%d-ubyte.gz in this directory; "
                        MNIST_HINT,
                        dir, prefix, kind, dims, prefix, kind, dims);
}

static bool contains_fashion(const char *s) {
    for (; *s; s++)
        if ((s[0] | 32) == 'f' && strncmp(s + 1, "ashion", 6) == 0) return true;
    return false;
}

em_code em_mnist_load(em_dataset *ds, const char *dir, em_split split, em_error *err) {
    memset(ds, 0, sizeof *ds);
    struct stat st;
    if (!dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return em_error_set(err, EM_ERR_IO, "%s: no such directory (MNIST-format data); " MNIST_HINT,
                            dir ? dir : "(null)");
    const char *prefix = split == EM_SPLIT_TRAIN ? "train" : "t10k";
    char images[4096], labels[4096];
    em_code c;
    if ((c = find_file(images, sizeof images, dir, prefix, "images", 3, err)) != EM_OK ||
        (c = find_file(labels, sizeof labels, dir, prefix, "labels", 1, err)) != EM_OK)
        return c;
    bool fashion = contains_fashion(dir);
    if ((c = em_idx_load(ds, images, labels, 10, fashion ? "fashion-mnist" : "mnist", err)) !=
        EM_OK)
        return c;
    c = em_dataset_static_names(ds, fashion ? em_fashion_mnist_class_names
                                            : em_mnist_class_names, 10, err);
    if (c != EM_OK) em_dataset_free(ds);
    return c;
}

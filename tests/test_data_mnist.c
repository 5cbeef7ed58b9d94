/* tests/test_data_mnist.c — idx files (raw and gzip): round trips, every kind of bad input,
 * and Debian's Fashion-MNIST when it is installed. */
#include "data_helpers.h"

/* Write train-{images,labels} for n examples of rows x cols into dir, raw or .gz. */
static void write_idx_pair(const char *dir, const char *prefix, uint32_t n, uint32_t rows,
                           uint32_t cols, bool gz) {
    size_t li, ll;
    uint8_t *img = make_idx_images(n, rows, cols, &li), *lab = make_idx_labels(n, 10, &ll);
    char p[512], name[128];
    snprintf(name, sizeof name, "%s-images-idx3-ubyte%s", prefix, gz ? ".gz" : "");
    (gz ? write_gz : write_bytes)(path_in(p, sizeof p, dir, name), img, li);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte%s", prefix, gz ? ".gz" : "");
    (gz ? write_gz : write_bytes)(path_in(p, sizeof p, dir, name), lab, ll);
    free(img);
    free(lab);
}

static void assert_idx_content(const em_dataset *ds, uint32_t n, uint32_t rows, uint32_t cols) {
    cr_assert_eq(ds->n, n);
    cr_assert_eq(ds->c, 1);
    cr_assert_eq(ds->h, (int)rows);
    cr_assert_eq(ds->w, (int)cols);
    cr_assert_eq(ds->n_classes, 10);
    for (uint32_t i = 0; i < n; i++) {
        cr_assert_eq(ds->labels[i], idx_label(i, 10), "label %u", i);
        for (uint32_t k = 0; k < rows * cols; k++)
            cr_assert_eq(ds->pixels[(size_t)i * rows * cols + k], idx_pixel(i, k), "pixel %u,%u", i, k);
    }
}

Test(mnist, raw_round_trip_exact) {
    char dir[256];
    make_tmpdir(dir, sizeof dir);
    write_idx_pair(dir, "train", 37, 28, 28, false);
    write_idx_pair(dir, "t10k", 5, 28, 28, false);
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_mnist_load(&ds, dir, EM_SPLIT_TRAIN, &err), EM_OK, "%s", err.msg);
    assert_idx_content(&ds, 37, 28, 28);
    cr_assert_str_eq(ds.name, "mnist");
    cr_assert_str_eq(ds.class_names[7], "7");
    em_dataset_free(&ds);
    cr_assert_eq(em_mnist_load(&ds, dir, EM_SPLIT_TEST, &err), EM_OK, "%s", err.msg);
    assert_idx_content(&ds, 5, 28, 28);
    em_dataset_free(&ds);
    cr_assert_null(ds.pixels, "free zeroes the struct");
    rm_tree(dir);
}

Test(mnist, gzip_round_trip_exact_and_fashion_names) {
    char dir[256], sub[300];
    make_tmpdir(dir, sizeof dir);
    snprintf(sub, sizeof sub, "%s/my-fashion-set", dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    write_idx_pair(sub, "train", 64, 7, 5, true);
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_mnist_load(&ds, sub, EM_SPLIT_TRAIN, &err), EM_OK, "%s", err.msg);
    assert_idx_content(&ds, 64, 7, 5);
    cr_assert_str_eq(ds.name, "fashion-mnist");
    cr_assert_str_eq(ds.class_names[0], "t-shirt/top");
    cr_assert_str_eq(ds.class_names[9], "ankle boot");
    em_dataset_free(&ds);
    rm_tree(dir);
}

/* the "train-images.idx3-ubyte" spelling of some distributions */
/* what a checkpoint records of its data: the files read, and a hash of the content that
 * is the same raw or gzipped, anywhere, and changes with one pixel or one label */
Test(mnist, files_read_and_content_hash) {
    char raw[256], gz[256];
    make_tmpdir(raw, sizeof raw);
    make_tmpdir(gz, sizeof gz);
    write_idx_pair(raw, "train", 16, 28, 28, false);
    write_idx_pair(gz, "train", 16, 28, 28, true);
    em_dataset a, b;
    em_error err;
    cr_assert_eq(em_mnist_load(&a, raw, EM_SPLIT_TRAIN, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(em_mnist_load(&b, gz, EM_SPLIT_TRAIN, &err), EM_OK, "%s", err.msg);
    char want[600];
    snprintf(want, sizeof want, "%s/train-images-idx3-ubyte\n%s/train-labels-idx1-ubyte\n", raw,
             raw);
    cr_assert_str_eq(a.files, want);
    cr_assert(strstr(b.files, "train-images-idx3-ubyte.gz\n"), "%s", b.files);
    uint64_t h = em_dataset_hash(&a);
    cr_assert_eq(em_dataset_hash(&b), h, "raw and gzipped differ");
    b.pixels[16 * 784 - 1] ^= 1;
    cr_assert_neq(em_dataset_hash(&b), h, "a pixel changed, the hash did not");
    b.pixels[16 * 784 - 1] ^= 1;
    b.labels[3] = (uint8_t)((b.labels[3] + 1) % 10);
    cr_assert_neq(em_dataset_hash(&b), h, "a label changed, the hash did not");
    em_dataset_free(&a);
    em_dataset_free(&b);
    cr_assert_null(a.files, "free zeroes the struct");
    rm_tree(raw);
    rm_tree(gz);
}

Test(mnist, dotted_file_names) {
    char dir[256], p[512];
    make_tmpdir(dir, sizeof dir);
    size_t li, ll;
    uint8_t *img = make_idx_images(3, 4, 4, &li), *lab = make_idx_labels(3, 10, &ll);
    write_bytes(path_in(p, sizeof p, dir, "train-images.idx3-ubyte"), img, li);
    write_gz(path_in(p, sizeof p, dir, "train-labels.idx1-ubyte.gz"), lab, ll);
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_mnist_load(&ds, dir, EM_SPLIT_TRAIN, &err), EM_OK, "%s", err.msg);
    assert_idx_content(&ds, 3, 4, 4);
    em_dataset_free(&ds);
    free(img);
    free(lab);
    rm_tree(dir);
}

Test(mnist, zero_examples_is_a_valid_empty_set) {
    em_dataset ds;
    em_error err;
    size_t li, ll;
    uint8_t *img = make_idx_images(0, 28, 28, &li), *lab = make_idx_labels(0, 10, &ll);
    cr_assert_eq(em_idx_load_mem(&ds, img, li, lab, ll, 10, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(ds.n, 0);
    em_dataset_free(&ds);
    free(img);
    free(lab);
}

Test(mnist, n_classes_zero_infers_from_labels) {
    size_t li, ll;
    uint8_t *img = make_idx_images(30, 2, 2, &li), *lab = make_idx_labels(30, 10, &ll);
    lab[8 + 4] = 46;  /* EMNIST balanced has 47 classes */
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_idx_load_mem(&ds, img, li, lab, ll, 0, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(ds.n_classes, 47);
    cr_assert_str_eq(ds.class_names[46], "46");
    em_dataset_free(&ds);
    free(img);
    free(lab);
}

/* ---- bad input: each one a status code and a message naming the file and the problem */

Test(mnist_bad, missing_directory_has_package_hint) {
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_mnist_load(&ds, "/nonexistent/ember-test", EM_SPLIT_TRAIN, &err), EM_ERR_IO);
    assert_msg_has(&err, "/nonexistent/ember-test");
    assert_msg_has(&err, "no such directory");
    assert_msg_has(&err, "apt-get install dataset-fashion-mnist");
    assert_msg_has(&err, "tools/fetch-mnist.sh");
    cr_assert_null(ds.pixels);
}

Test(mnist_bad, missing_label_file_named_with_hint) {
    char dir[256], p[512];
    make_tmpdir(dir, sizeof dir);
    size_t li;
    uint8_t *img = make_idx_images(3, 4, 4, &li);
    write_bytes(path_in(p, sizeof p, dir, "train-images-idx3-ubyte"), img, li);
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_mnist_load(&ds, dir, EM_SPLIT_TRAIN, &err), EM_ERR_IO);
    assert_msg_has(&err, "train-labels-idx1-ubyte");
    assert_msg_has(&err, dir);
    assert_msg_has(&err, "dataset-fashion-mnist");
    cr_assert_eq(em_mnist_load(&ds, dir, EM_SPLIT_TEST, &err), EM_ERR_IO);
    assert_msg_has(&err, "t10k-images-idx3-ubyte");
    free(img);
    rm_tree(dir);
}

/* Write images/labels files (raw or gz) and load them; return the code, fill err. */
static em_code load_files(const uint8_t *img, size_t li, const uint8_t *lab, size_t ll, bool gz,
                          em_error *err, char *img_path, char *lab_path) {
    char dir[256];
    make_tmpdir(dir, sizeof dir);
    sprintf(img_path, "%s/images%s", dir, gz ? ".gz" : "");
    sprintf(lab_path, "%s/labels%s", dir, gz ? ".gz" : "");
    (gz ? write_gz : write_bytes)(img_path, img, li);
    (gz ? write_gz : write_bytes)(lab_path, lab, ll);
    em_dataset ds;
    em_code c = em_idx_load(&ds, img_path, lab_path, 10, "t", err);
    cr_assert(c != EM_OK || ds.pixels, "success fills the dataset");
    if (c != EM_OK) cr_assert_null(ds.pixels, "failure leaves the dataset empty");
    em_dataset_free(&ds);
    rm_tree(dir);
    return c;
}

Test(mnist_bad, truncated_image_file) {
    for (int gz = 0; gz < 2; gz++) {
        size_t li, ll;
        uint8_t *img = make_idx_images(10, 28, 28, &li), *lab = make_idx_labels(10, 10, &ll);
        char pi[512], pl[512];
        em_error err;
        cr_assert_eq(load_files(img, li - 100, lab, ll, gz, &err, pi, pl), EM_ERR_FORMAT);
        assert_msg_has(&err, pi);
        assert_msg_has(&err, "truncated");
        /* cut inside the header */
        cr_assert_eq(load_files(img, 10, lab, ll, gz, &err, pi, pl), EM_ERR_FORMAT);
        assert_msg_has(&err, pi);
        assert_msg_has(&err, "header");
        free(img);
        free(lab);
    }
}

Test(mnist_bad, truncated_label_file) {
    size_t li, ll;
    uint8_t *img = make_idx_images(10, 28, 28, &li), *lab = make_idx_labels(10, 10, &ll);
    char pi[512], pl[512];
    em_error err;
    cr_assert_eq(load_files(img, li, lab, ll - 1, false, &err, pi, pl), EM_ERR_FORMAT);
    assert_msg_has(&err, pl);
    assert_msg_has(&err, "truncated");
    free(img);
    free(lab);
}

Test(mnist_bad, trailing_bytes_rejected) {
    size_t li, ll;
    uint8_t *img = make_idx_images(10, 4, 4, &li), *lab = make_idx_labels(11, 10, &ll);
    put_be32(lab + 4, 10);  /* 11 labels in a file that says 10 */
    char pi[512], pl[512];
    em_error err;
    cr_assert_eq(load_files(img, li, lab, ll, true, &err, pi, pl), EM_ERR_FORMAT);
    assert_msg_has(&err, pl);
    assert_msg_has(&err, "unexpected bytes");
    free(img);
    free(lab);
}

Test(mnist_bad, wrong_magic) {
    size_t li, ll;
    uint8_t *img = make_idx_images(4, 4, 4, &li), *lab = make_idx_labels(4, 10, &ll);
    char pi[512], pl[512];
    em_error err;
    /* images and labels swapped: each has the other's magic */
    cr_assert_eq(load_files(lab, ll, img, li, false, &err, pi, pl), EM_ERR_FORMAT);
    assert_msg_has(&err, pi);
    assert_msg_has(&err, "magic number 0x00000801");
    img[3] = 0x04;  /* a 4-d idx file */
    cr_assert_eq(load_files(img, li, lab, ll, false, &err, pi, pl), EM_ERR_FORMAT);
    assert_msg_has(&err, "magic");
    img[3] = 0x03;
    lab[2] = 0x0d;  /* float labels */
    cr_assert_eq(load_files(img, li, lab, ll, false, &err, pi, pl), EM_ERR_FORMAT);
    assert_msg_has(&err, pl);
    assert_msg_has(&err, "not an idx label file");
    free(img);
    free(lab);
}

Test(mnist_bad, counts_differ) {
    size_t li, ll;
    uint8_t *img = make_idx_images(10, 4, 4, &li), *lab = make_idx_labels(9, 10, &ll);
    char pi[512], pl[512];
    em_error err;
    cr_assert_eq(load_files(img, li, lab, ll, false, &err, pi, pl), EM_ERR_FORMAT);
    assert_msg_has(&err, pi);
    assert_msg_has(&err, pl);
    assert_msg_has(&err, "10 images");
    assert_msg_has(&err, "9 labels");
    free(img);
    free(lab);
}

Test(mnist_bad, label_out_of_range) {
    size_t li, ll;
    uint8_t *img = make_idx_images(10, 4, 4, &li), *lab = make_idx_labels(10, 10, &ll);
    lab[8 + 6] = 10;
    char pi[512], pl[512];
    em_error err;
    cr_assert_eq(load_files(img, li, lab, ll, true, &err, pi, pl), EM_ERR_FORMAT);
    assert_msg_has(&err, pl);
    assert_msg_has(&err, "label 10 of example 6 is out of range");
    free(img);
    free(lab);
}

Test(mnist_bad, header_claims_huge_size) {
    size_t li, ll;
    uint8_t *img = make_idx_images(2, 4, 4, &li), *lab = make_idx_labels(2, 10, &ll);
    put_be32(img + 8, 0); /* zero rows */
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_idx_load_mem(&ds, img, li, lab, ll, 10, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "bad image size");
    /* 2^26 images of 2048x2048 claimed, 32 bytes present: fails at the end of the data
     * without allocating the claimed 2^48 bytes */
    put_be32(img + 4, 1u << 26); put_be32(img + 8, 2048); put_be32(img + 12, 2048);
    put_be32(lab + 4, 1u << 26);
    cr_assert_eq(em_idx_load_mem(&ds, img, li, lab, ll, 10, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "truncated");
    put_be32(img + 4, 0xffffffffu);
    cr_assert_eq(em_idx_load_mem(&ds, img, li, lab, ll, 10, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "items");
    free(img);
    free(lab);
}

Test(mnist_bad, corrupt_gzip_stream) {
    char dir[256], p[512], pl[512];
    make_tmpdir(dir, sizeof dir);
    size_t li, ll, glen;
    uint8_t *img = make_idx_images(50, 28, 28, &li), *lab = make_idx_labels(50, 10, &ll);
    path_in(p, sizeof p, dir, "images.gz");
    write_gz(p, img, li);
    write_gz(path_in(pl, sizeof pl, dir, "labels.gz"), lab, ll);
    uint8_t *gz = read_bytes(p, &glen);
    em_dataset ds;
    em_error err;
    /* garbage in the middle of the deflate stream */
    uint8_t *bad = malloc(glen);
    memcpy(bad, gz, glen);
    for (size_t k = glen / 3; k < glen / 3 + 40; k++) bad[k] ^= 0x5a;
    write_bytes(p, bad, glen);
    cr_assert_eq(em_idx_load(&ds, p, pl, 10, "t", &err), EM_ERR_FORMAT);
    assert_msg_has(&err, p);
    cr_assert(strstr(err.msg, "corrupt gzip") || strstr(err.msg, "truncated"), "%s", err.msg);
    /* a wrong CRC in the trailer: all data decodes, the check at the end fails */
    memcpy(bad, gz, glen);
    bad[glen - 8] ^= 0xff;
    write_bytes(p, bad, glen);
    cr_assert_eq(em_idx_load(&ds, p, pl, 10, "t", &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "corrupt gzip");
    /* the gzip stream cut in half */
    write_bytes(p, gz, glen / 2);
    cr_assert_eq(em_idx_load(&ds, p, pl, 10, "t", &err), EM_ERR_FORMAT);
    assert_msg_has(&err, p);
    assert_msg_has(&err, "truncated");
    free(bad);
    free(gz);
    free(img);
    free(lab);
    rm_tree(dir);
}

Test(mnist_bad, empty_file_and_directory_as_file) {
    char dir[256], p[512], pl[512];
    make_tmpdir(dir, sizeof dir);
    write_bytes(path_in(p, sizeof p, dir, "empty"), "", 0);
    size_t ll;
    uint8_t *lab = make_idx_labels(1, 10, &ll);
    write_bytes(path_in(pl, sizeof pl, dir, "labels"), lab, ll);
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_idx_load(&ds, p, pl, 10, "t", &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "truncated");
    cr_assert_neq(em_idx_load(&ds, "/nonexistent/x", pl, 10, "t", &err), EM_OK);
    assert_msg_has(&err, "/nonexistent/x");
    free(lab);
    rm_tree(dir);
}

/* ---- one idx file on its own (em_idx_read, for ember-inspect) -------------------------------- */

Test(idx_file, images_and_labels_raw_and_gzip) {
    char dir[256], p[512];
    make_tmpdir(dir, sizeof dir);
    size_t li, ll;
    uint8_t *img = make_idx_images(9, 4, 3, &li), *lab = make_idx_labels(9, 10, &ll);
    write_gz(path_in(p, sizeof p, dir, "img.gz"), img, li);
    em_idx_file f;
    em_error err;
    cr_assert_eq(em_idx_read(&f, p, &err), EM_OK, "%s", err.msg);
    cr_assert(f.images && f.n == 9 && f.rows == 4 && f.cols == 3);
    for (uint32_t i = 0; i < 9; i++)
        for (uint32_t k = 0; k < 12; k++) cr_assert_eq(f.data[i * 12 + k], idx_pixel(i, k));
    em_idx_file_free(&f);
    cr_assert_null(f.data);
    write_bytes(path_in(p, sizeof p, dir, "lab"), lab, ll);
    cr_assert_eq(em_idx_read(&f, p, &err), EM_OK, "%s", err.msg);
    cr_assert(!f.images && f.n == 9 && f.rows == 1 && f.cols == 1);
    for (uint32_t i = 0; i < 9; i++) cr_assert_eq(f.data[i], idx_label(i, 10));
    em_idx_file_free(&f);
    free(img);
    free(lab);
    rm_tree(dir);
}

Test(idx_file, bad_files_named_as_the_pair_loader_names_them) {
    char dir[256], p[512];
    make_tmpdir(dir, sizeof dir);
    size_t li;
    uint8_t *img = make_idx_images(3, 2, 2, &li);
    em_idx_file f;
    em_error err;
    write_bytes(path_in(p, sizeof p, dir, "short"), img, li - 1);
    cr_assert_eq(em_idx_read(&f, p, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "short");
    assert_msg_has(&err, "truncated");
    cr_assert_null(f.data);
    uint8_t *longer = malloc(li + 1);
    memcpy(longer, img, li);
    longer[li] = 0;
    write_bytes(path_in(p, sizeof p, dir, "long"), longer, li + 1);
    cr_assert_eq(em_idx_read(&f, p, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "unexpected bytes");
    put_be32(longer, 0x00000c03);   /* an idx of 4-byte ints: neither images nor labels */
    write_bytes(path_in(p, sizeof p, dir, "ints"), longer, li);
    cr_assert_eq(em_idx_read(&f, p, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "ints");
    assert_msg_has(&err, "0x00000c03");
    write_gz(path_in(p, sizeof p, dir, "cut.gz"), img, li);
    size_t gl;
    uint8_t *gz = read_bytes(p, &gl);
    write_bytes(p, gz, gl / 2);
    cr_assert_eq(em_idx_read(&f, p, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "cut.gz");
    cr_assert_eq(em_idx_read(&f, path_in(p, sizeof p, dir, "missing"), &err), EM_ERR_IO);
    assert_msg_has(&err, "missing");
    free(gz);
    free(longer);
    free(img);
    rm_tree(dir);
}

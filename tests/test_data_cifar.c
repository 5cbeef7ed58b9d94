/* tests/test_data_cifar.c — CIFAR-10/100 binary files: round trips, the writer, bad input. */
#include "data_helpers.h"

static const int ten[1] = {10};

/* data_batch_1..5 with sizes[b] records each (global record numbers continue across
 * files), test_batch with n_test records */
static void write_cifar10_dir(const char *dir, const uint32_t *sizes, uint32_t n_test) {
    char p[512], name[64];
    uint32_t first = 0;
    for (int b = 0; b < 5; b++) {
        size_t len;
        uint8_t *buf = make_cifar(sizes[b], 1, ten, first, &len);
        snprintf(name, sizeof name, "data_batch_%d.bin", b + 1);
        write_bytes(path_in(p, sizeof p, dir, name), buf, len);
        free(buf);
        first += sizes[b];
    }
    size_t len;
    uint8_t *buf = make_cifar(n_test, 1, ten, 1000, &len);
    write_bytes(path_in(p, sizeof p, dir, "test_batch.bin"), buf, len);
    free(buf);
}

static void assert_cifar_content(const em_dataset *ds, uint32_t n, uint32_t first) {
    cr_assert_eq(ds->n, n);
    cr_assert_eq(ds->c, 3);
    cr_assert_eq(ds->h, 32);
    cr_assert_eq(ds->w, 32);
    for (uint32_t i = 0; i < n; i++) {
        cr_assert_eq(ds->labels[i], (first + i) % 10, "label %u", i);
        for (uint32_t k = 0; k < 3072; k++)
            cr_assert_eq(ds->pixels[(size_t)i * 3072 + k], cifar_pixel(first + i, k), "pixel %u,%u", i, k);
    }
}

Test(cifar, round_trip_exact_train_and_test) {
    char dir[256];
    make_tmpdir(dir, sizeof dir);
    write_cifar10_dir(dir, (uint32_t[]){3, 1, 4, 1, 5}, 7);
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_cifar10_load(&ds, dir, EM_SPLIT_TRAIN, &err), EM_OK, "%s", err.msg);
    assert_cifar_content(&ds, 14, 0);
    cr_assert_str_eq(ds.name, "cifar-10");
    cr_assert_eq(ds.n_classes, 10);
    cr_assert_str_eq(ds.class_names[0], "airplane");  /* no batches.meta.txt: built-in names */
    cr_assert_str_eq(ds.class_names[9], "truck");
    char want[1600] = "", p[512];   /* the files read, in order (a checkpoint records them) */
    for (int b = 1; b <= 5; b++) {
        char name[32];
        snprintf(name, sizeof name, "data_batch_%d.bin", b);
        strcat(want, path_in(p, sizeof p, dir, name));
        strcat(want, "\n");
    }
    cr_assert_str_eq(ds.files, want);
    em_dataset_free(&ds);
    cr_assert_eq(em_cifar10_load(&ds, dir, EM_SPLIT_TEST, &err), EM_OK, "%s", err.msg);
    assert_cifar_content(&ds, 7, 1000);
    cr_assert(strstr(ds.files, "/test_batch.bin\n"), "%s", ds.files);
    em_dataset_free(&ds);
    rm_tree(dir);
}

Test(cifar, class_names_from_meta_file) {
    char dir[256], p[512];
    make_tmpdir(dir, sizeof dir);
    write_cifar10_dir(dir, (uint32_t[]){1, 1, 1, 1, 1}, 1);
    const char *meta = "a0\nb1\nc2\nd3\ne4\nf5\ng6\nh7\ni8\nj9 \r\n\n\n";  /* trailing blanks as in the real file */
    write_bytes(path_in(p, sizeof p, dir, "batches.meta.txt"), meta, strlen(meta));
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_cifar10_load(&ds, dir, EM_SPLIT_TEST, &err), EM_OK, "%s", err.msg);
    cr_assert_str_eq(ds.class_names[0], "a0");
    cr_assert_str_eq(ds.class_names[9], "j9");
    em_dataset_free(&ds);
    write_bytes(p, "x\ny\n", 4);
    cr_assert_eq(em_cifar10_load(&ds, dir, EM_SPLIT_TEST, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "batches.meta.txt");
    assert_msg_has(&err, "class names");
    rm_tree(dir);
}

/* what the writer writes, the reader reads back, byte for byte */
Test(cifar, writer_round_trip) {
    char dir[256], p[512];
    make_tmpdir(dir, sizeof dir);
    em_dataset ds, back;
    em_error err;
    cr_assert_eq(em_shapes_load(&ds, EM_SPLIT_TRAIN, 25, 3, &err), EM_OK, "%s", err.msg);
    uint32_t cut[6] = {0, 5, 10, 15, 20, 25};
    for (int b = 0; b < 5; b++) {
        char name[64];
        snprintf(name, sizeof name, "data_batch_%d.bin", b + 1);
        cr_assert_eq(em_cifar10_write(&ds, cut[b], cut[b + 1] - cut[b], path_in(p, sizeof p, dir, name), &err), EM_OK, "%s", err.msg);
    }
    cr_assert_eq(em_cifar10_write_meta(&ds, path_in(p, sizeof p, dir, "batches.meta.txt"), &err), EM_OK);
    cr_assert_eq(access(path_in(p, sizeof p, dir, "data_batch_1.bin.tmp"), F_OK), -1, "no temporary left");
    cr_assert_eq(em_cifar10_load(&back, dir, EM_SPLIT_TRAIN, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(back.n, 25);
    cr_assert_eq(memcmp(back.pixels, ds.pixels, 25 * 3072), 0);
    cr_assert_eq(memcmp(back.labels, ds.labels, 25), 0);
    cr_assert_str_eq(back.class_names[8], "stripes");
    em_dataset_free(&back);
    /* out of range and wrong shapes are argument errors */
    cr_assert_eq(em_cifar10_write(&ds, 20, 6, p, &err), EM_ERR_ARG);
    em_dataset_free(&ds);
    cr_assert_eq(em_shapes_load(&ds, EM_SPLIT_TRAIN, 1, 3, &err), EM_OK);
    ds.c = 1;
    cr_assert_eq(em_cifar10_write(&ds, 0, 1, p, &err), EM_ERR_ARG);
    assert_msg_has(&err, "(3, 32, 32)");
    ds.c = 3;
    em_dataset_free(&ds);
    rm_tree(dir);
}

Test(cifar, cifar100_fine_and_coarse) {
    char dir[256], p[512];
    make_tmpdir(dir, sizeof dir);
    const int classes[2] = {20, 100};
    size_t len;
    uint8_t *buf = make_cifar(30, 2, classes, 0, &len);
    write_bytes(path_in(p, sizeof p, dir, "train.bin"), buf, len);
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_cifar100_load(&ds, dir, EM_SPLIT_TRAIN, false, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(ds.n, 30);
    cr_assert_eq(ds.n_classes, 100);
    for (uint32_t i = 0; i < 30; i++) {
        cr_assert_eq(ds.labels[i], (i + 3) % 100);
        cr_assert_eq(ds.pixels[i * 3072 + 5], cifar_pixel(i, 5));
    }
    cr_assert_str_eq(ds.class_names[42], "42");
    em_dataset_free(&ds);
    cr_assert_eq(em_cifar100_load(&ds, dir, EM_SPLIT_TRAIN, true, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(ds.n_classes, 20);
    for (uint32_t i = 0; i < 30; i++) cr_assert_eq(ds.labels[i], i % 20);
    em_dataset_free(&ds);
    cr_assert_eq(em_cifar100_load(&ds, dir, EM_SPLIT_TEST, false, &err), EM_ERR_IO);
    assert_msg_has(&err, "test.bin");
    free(buf);
    rm_tree(dir);
}

/* ---- bad input -------------------------------------------------------------------------- */

Test(cifar_bad, missing_directory_has_hint) {
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_cifar10_load(&ds, "/nonexistent/cifar", EM_SPLIT_TRAIN, &err), EM_ERR_IO);
    assert_msg_has(&err, "/nonexistent/cifar");
    assert_msg_has(&err, "tools/fetch-cifar10.sh");
    assert_msg_has(&err, "--synthetic");
    cr_assert_null(ds.pixels);
}

Test(cifar_bad, missing_batch_file_named) {
    char dir[256], p[512];
    make_tmpdir(dir, sizeof dir);
    write_cifar10_dir(dir, (uint32_t[]){1, 1, 1, 1, 1}, 1);
    remove(path_in(p, sizeof p, dir, "data_batch_4.bin"));
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_cifar10_load(&ds, dir, EM_SPLIT_TRAIN, &err), EM_ERR_IO);
    assert_msg_has(&err, p);
    assert_msg_has(&err, "missing");
    assert_msg_has(&err, "tools/fetch-cifar10.sh");
    cr_assert_null(ds.pixels, "no half-loaded set");
    rm_tree(dir);
}

Test(cifar_bad, size_not_a_multiple_of_3073) {
    char dir[256], p[512];
    make_tmpdir(dir, sizeof dir);
    write_cifar10_dir(dir, (uint32_t[]){2, 2, 2, 2, 2}, 2);
    size_t len;
    uint8_t *buf = make_cifar(2, 1, ten, 0, &len);
    write_bytes(path_in(p, sizeof p, dir, "test_batch.bin"), buf, len - 1);
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_cifar10_load(&ds, dir, EM_SPLIT_TEST, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, p);
    assert_msg_has(&err, "not a multiple of the 3073-byte record");
    write_bytes(p, buf, 0);
    cr_assert_eq(em_cifar10_load(&ds, dir, EM_SPLIT_TEST, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "empty");
    /* a CIFAR-100 file read as CIFAR-10 (2 records of 3074 = 6148 = 2 * 3073 + 2) */
    const int classes[2] = {20, 100};
    free(buf);
    buf = make_cifar(2, 2, classes, 0, &len);
    write_bytes(p, buf, len);
    cr_assert_eq(em_cifar10_load(&ds, dir, EM_SPLIT_TEST, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "not a multiple");
    free(buf);
    rm_tree(dir);
}

Test(cifar_bad, label_out_of_range) {
    size_t len;
    uint8_t *buf = make_cifar(4, 1, ten, 0, &len);
    buf[2 * 3073] = 10;
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_cifar_load_mem(&ds, buf, len, 1, 0, 10, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "label 10 of record 2 is out of range");
    cr_assert_null(ds.pixels);
    buf[2 * 3073] = 9;
    cr_assert_eq(em_cifar_load_mem(&ds, buf, len, 1, 0, 10, &err), EM_OK);
    cr_assert_eq(ds.labels[2], 9);
    em_dataset_free(&ds);
    free(buf);
}

/* ---- one CIFAR file on its own (em_cifar_load_file, for ember-inspect) ------------------------ */

Test(cifar_file, one_batch_file_with_the_names_beside_it_or_cifar10s) {
    char dir[256], p[512], meta[512];
    make_tmpdir(dir, sizeof dir);
    size_t len;
    uint8_t *buf = make_cifar(12, 1, ten, 40, &len);
    write_bytes(path_in(p, sizeof p, dir, "some_batch.bin"), buf, len);
    em_dataset ds;
    em_error err;
    cr_assert_eq(em_cifar_load_file(&ds, p, 1, 0, 10, &err), EM_OK, "%s", err.msg);
    assert_cifar_content(&ds, 12, 40);
    cr_assert_str_eq(ds.name, "some_batch.bin");
    cr_assert_str_eq(ds.class_names[1], "automobile");
    em_dataset_free(&ds);
    const char *names = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
    write_bytes(path_in(meta, sizeof meta, dir, "batches.meta.txt"), names, strlen(names));
    cr_assert_eq(em_cifar_load_file(&ds, p, 1, 0, 10, &err), EM_OK, "%s", err.msg);
    cr_assert_str_eq(ds.class_names[1], "b");
    em_dataset_free(&ds);
    write_bytes(p, buf, len - 5);
    cr_assert_eq(em_cifar_load_file(&ds, p, 1, 0, 10, &err), EM_ERR_FORMAT);
    assert_msg_has(&err, "some_batch.bin");
    assert_msg_has(&err, "3073");
    cr_assert_null(ds.pixels);
    free(buf);
    static const int hundred[2] = {20, 100};
    buf = make_cifar(5, 2, hundred, 0, &len);
    write_bytes(path_in(p, sizeof p, dir, "train.bin"), buf, len);
    cr_assert_eq(em_cifar_load_file(&ds, p, 2, 1, 100, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(ds.n, 5);
    cr_assert_eq(ds.labels[4], (4 + 3) % 100);
    cr_assert_str_eq(ds.class_names[7], "7");
    em_dataset_free(&ds);
    cr_assert_eq(em_cifar_load_file(&ds, path_in(p, sizeof p, dir, "none.bin"), 1, 0, 10, &err),
                 EM_ERR_IO);
    assert_msg_has(&err, "none.bin");
    free(buf);
    rm_tree(dir);
}

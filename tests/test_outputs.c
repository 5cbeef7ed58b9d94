/* tests/test_outputs.c — every writer of the library against what another user of a shared
 * machine can plant where it writes (docs/robustness.md §9): a symbolic link or a FIFO at
 * <path>.tmp, a FIFO, a link or a directory at <path> itself. A link is never followed (the
 * file it points to stays as it was), a FIFO never blocks a writer, and nothing but a
 * regular file is ever replaced. Public API only: checkpoints, .npy, metrics (new, appended
 * and rewritten by a resume), CIFAR-format records. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "tempdir.h"

static const char victim_text[] = "the victim's file\n";

static void make_victim(void) {
    FILE *f = fopen(in_dir("victim"), "w");
    cr_assert_not_null(f);
    fputs(victim_text, f);
    fclose(f);
}

static void assert_victim_intact(const char *what) {
    char buf[64] = "";
    FILE *f = fopen(in_dir("victim"), "r");
    cr_assert_not_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    cr_assert_str_eq(buf, victim_text, "%s wrote through a planted link", what);
}

static bool is_regular(const char *path) {
    struct stat st;
    return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static em_module *small(void) {
    em_module *m = em_sequential_new(2, (em_module *[]){em_linear_new(3, 4, true),
                                                        em_batchnorm1d_new(4, NULL)});
    cr_assert_not_null(m);
    em_rng rng;
    em_rng_seed(&rng, 1);
    em_module_init(m, &rng, NULL);
    return m;
}

/* what each writer writes to path */
static em_code write_checkpoint(const char *path, em_error *err) {
    em_module *m = small();
    em_code c = em_checkpoint_save(path, m, NULL, err);
    em_module_free(m);
    return c;
}

static em_code write_npy(const char *path, em_error *err) {
    em_real v[6] = {1, 2, 3, 4, 5, 6};
    return em_npy_save_data(path, 2, (int[]){2, 3}, v, err);
}

static em_code write_metrics(const char *path, em_error *err) {
    em_metrics *m;
    em_code c = em_metrics_open(&m, path, false, err);
    em_metrics_row r = {1, 10, 0.1, 0.5, 0.5, NAN, NAN, 1, 1, false};
    if (c == EM_OK) c = em_metrics_write(m, &r, err);
    if (c == EM_OK) c = em_metrics_close(m, err);
    return c;
}

static em_code resume_metrics(const char *path, em_error *err) {
    em_metrics *m;
    em_code c = em_metrics_open_resume(&m, path, 100, err);
    if (c == EM_OK) c = em_metrics_close(m, err);
    return c;
}

static em_code write_cifar(const char *path, em_error *err) {
    em_dataset ds;
    em_code c = em_shapes_load(&ds, EM_SPLIT_TEST, 4, 1, err);
    if (c == EM_OK) c = em_cifar10_write(&ds, 0, 4, path, err);
    em_dataset_free(&ds);
    return c;
}

typedef struct writer {
    const char *name;
    em_code (*write)(const char *path, em_error *err);
} writer;

static const writer writers[] = {{"checkpoint", write_checkpoint}, {"npy", write_npy},
                                 {"metrics", write_metrics}, {"cifar records", write_cifar}};
enum { N_WRITERS = sizeof writers / sizeof writers[0] };

Test(outputs, a_link_planted_at_the_temporary_file_is_never_followed, .init = make_dir,
     .fini = remove_dir) {
    make_victim();
    for (int i = 0; i < N_WRITERS; i++) {
        cr_assert_eq(symlink(in_dir("victim"), in_dir("out.tmp")), 0);
        em_error err;
        cr_assert_eq(writers[i].write(in_dir("out"), &err), EM_OK, "%s: %s", writers[i].name,
                     err.msg);
        assert_victim_intact(writers[i].name);
        cr_assert(is_regular(in_dir("out")), "%s: out is no regular file", writers[i].name);
        cr_assert(access(in_dir("out.tmp"), F_OK) != 0, "%s left out.tmp", writers[i].name);
        unlink(in_dir("out"));
    }
    /* a resume rewrites the metrics file through a temporary file too */
    em_error err;
    cr_assert_eq(write_metrics(in_dir("m.csv"), &err), EM_OK, "%s", err.msg);
    cr_assert_eq(symlink(in_dir("victim"), in_dir("m.csv.tmp")), 0);
    cr_assert_eq(resume_metrics(in_dir("m.csv"), &err), EM_OK, "%s", err.msg);
    assert_victim_intact("the metrics rewrite of a resume");
    cr_assert(is_regular(in_dir("m.csv")));
}

Test(outputs, a_fifo_planted_at_the_temporary_file_never_blocks, .init = make_dir,
     .fini = remove_dir, .timeout = 30) {
    for (int i = 0; i < N_WRITERS; i++) {
        cr_assert_eq(mkfifo(in_dir("out.tmp"), 0644), 0);
        em_error err;
        cr_assert_eq(writers[i].write(in_dir("out"), &err), EM_OK, "%s: %s", writers[i].name,
                     err.msg);
        cr_assert(is_regular(in_dir("out")) && access(in_dir("out.tmp"), F_OK) != 0);
        unlink(in_dir("out"));
    }
}

/* a FIFO, a link or a directory at the output path itself: refused (EM_ERR_IO naming what
 * it is), left as it was; the metrics writer, which opens the file in place to append, must
 * not block on the FIFO either */
Test(outputs, only_regular_files_are_replaced, .init = make_dir, .fini = remove_dir,
     .timeout = 30) {
    make_victim();
    cr_assert_eq(mkfifo(in_dir("fifo"), 0644), 0);
    cr_assert_eq(symlink(in_dir("victim"), in_dir("link")), 0);
    cr_assert_eq(mkdir(in_dir("dir"), 0755), 0);
    const char *targets[3][2] = {{"fifo", "is a FIFO"}, {"link", "is a symbolic link"},
                                 {"dir", "is a directory"}};
    for (int i = 0; i < N_WRITERS; i++)
        for (int k = 0; k < 3; k++) {
            em_error err = {0};
            cr_assert_eq(writers[i].write(in_dir(targets[k][0]), &err), EM_ERR_IO,
                         "%s replaced %s", writers[i].name, targets[k][0]);
            cr_assert(strstr(err.msg, targets[k][1]) && strstr(err.msg, targets[k][0]),
                      "%s: %s", writers[i].name, err.msg);
        }
    struct stat st;
    cr_assert(lstat(in_dir("fifo"), &st) == 0 && S_ISFIFO(st.st_mode));
    cr_assert(lstat(in_dir("link"), &st) == 0 && S_ISLNK(st.st_mode));
    cr_assert(lstat(in_dir("dir"), &st) == 0 && S_ISDIR(st.st_mode));
    assert_victim_intact("a refused writer");
    for (int k = 0; k < 2; k++) {   /* a resume's metrics, and an append */
        em_metrics *m;
        em_error err;
        cr_assert_eq(em_metrics_open_resume(&m, in_dir(targets[k][0]), 5, &err), EM_ERR_IO);
        cr_assert(strstr(err.msg, targets[k][1]), "%s", err.msg);
        cr_assert_eq(em_metrics_open(&m, in_dir(targets[k][0]), true, &err), EM_ERR_IO);
        cr_assert(strstr(err.msg, targets[k][1]), "%s", err.msg);
    }
    assert_victim_intact("a refused metrics writer");
}

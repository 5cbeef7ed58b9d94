/* tools/make_shapes.c — write the synthetic "shapes" set (data/synthetic.h) in the
 * CIFAR-10 binary format, so every CIFAR program can read it from a directory.
 *
 *   usage: make-shapes [--seed S] [--train N] [--test N] DIR
 *          (defaults: seed 1, 50000 train, 10000 test, as CIFAR-10)
 *
 * DIR gets data_batch_1.bin .. data_batch_5.bin (the training examples in 5 consecutive
 * parts), test_batch.bin and batches.meta.txt; DIR and its missing parents are created
 * (as mkdir -p does). --help prints the usage to stdout and exits 0; bad arguments exit 2.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ember.h"

static const char usage_line[] = "usage: make-shapes [--seed S] [--train N] [--test N] DIR\n";

static int usage(void) {
    fputs(usage_line, stderr);
    return 2;
}

static int help(void) {
    fputs(usage_line, stdout);
    printf("\nWrite the synthetic 10-class shapes set as CIFAR-10 binary files into DIR\n"
           "(created with its missing parents): data_batch_1.bin .. data_batch_5.bin,\n"
           "test_batch.bin, batches.meta.txt.\n\n"
           "  --seed S    generator seed (1)\n"
           "  --train N   training examples, at least 5 (50000)\n"
           "  --test N    test examples, at least 1 (10000)\n"
           "  --help      this text\n");
    return 0;
}

/* mkdir -p: every missing directory of path, parents first. On failure, prints which
 * directory could not be made and returns false. */
static bool make_dirs(const char *path) {
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) {
        fprintf(stderr, "make-shapes: the directory name is empty or too long\n");
        return false;
    }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        if (buf[i - 1] == '/') continue;   /* "a//b", "a/" */
        char c = buf[i];
        buf[i] = '\0';
        struct stat st;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "make-shapes: cannot create directory %s: %s\n", buf, strerror(errno));
            return false;
        }
        if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "make-shapes: %s exists and is not a directory\n", buf);
            return false;
        }
        buf[i] = c;
    }
    return true;
}

static bool parse_size(const char *s, unsigned long long *out) {
    char *end;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno == 0 && end != s && *end == '\0' && s[0] != '-';
}

int main(int argc, char **argv) {
    unsigned long long seed = 1, n_train = 50000, n_test = 10000;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        unsigned long long *target = !strcmp(argv[i], "--seed")    ? &seed
                                     : !strcmp(argv[i], "--train") ? &n_train
                                     : !strcmp(argv[i], "--test")  ? &n_test
                                                                   : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return help();
        if (target) {
            if (i + 1 >= argc || !parse_size(argv[++i], target)) return usage();
        } else if (!dir && argv[i][0] != '-') {
            dir = argv[i];
        } else {
            return usage();
        }
    }
    if (!dir || n_train < 5 || n_test < 1) return usage();
    if (!make_dirs(dir)) return 1;
    em_error err;
    em_dataset train, test;
    if (em_shapes_load(&train, EM_SPLIT_TRAIN, n_train, seed, &err) != EM_OK ||
        em_shapes_load(&test, EM_SPLIT_TEST, n_test, seed, &err) != EM_OK) {
        fprintf(stderr, "make-shapes: %s\n", err.msg);
        return 1;
    }
    char path[4096];
    em_code c = EM_OK;
    for (int b = 0; b < 5 && c == EM_OK; b++) {
        size_t first = n_train * (size_t)b / 5, last = n_train * (size_t)(b + 1) / 5;
        snprintf(path, sizeof path, "%s/data_batch_%d.bin", dir, b + 1);
        c = em_cifar10_write(&train, first, last - first, path, &err);
    }
    if (c == EM_OK) {
        snprintf(path, sizeof path, "%s/test_batch.bin", dir);
        c = em_cifar10_write(&test, 0, test.n, path, &err);
    }
    if (c == EM_OK) {
        snprintf(path, sizeof path, "%s/batches.meta.txt", dir);
        c = em_cifar10_write_meta(&train, path, &err);
    }
    em_dataset_free(&train);
    em_dataset_free(&test);
    if (c != EM_OK) {
        fprintf(stderr, "make-shapes: %s\n", err.msg);
        return 1;
    }
    printf("make-shapes: wrote %llu train + %llu test examples (seed %llu) to %s\n", n_train,
           n_test, seed, dir);
    return 0;
}

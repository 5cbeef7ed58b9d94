/* ember-inspect FILE... — what is inside a file ember writes or reads: a safetensors
 * checkpoint, a .npy file, an idx file (raw or gzip), a CIFAR binary file, a directory of
 * either data set, a metrics / curves / runs / predictions / confusion CSV, a test fixture.
 * ember-inspect --diff A B — two checkpoints tensor by tensor.
 * Exit status: 0 read (--diff: the same tensors); 1 --diff: they differ, or stdout failed;
 * 2 bad arguments, or a file missing, unreadable or not what it should be (the message
 * names it). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "inspect.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: ember-inspect [options] FILE...\n"
            "       ember-inspect --diff A B [--tolerance X]\n\n"
            "What is inside a file ember writes or reads, told apart by its content:\n"
            "  safetensors checkpoints  metadata (model, configuration, progress), and per\n"
            "                           tensor: name, dtype, shape, min, max, mean, std and\n"
            "                           the count of NaN/Inf values\n"
            "  .npy files               dtype, shape, the same statistics\n"
            "  idx files (raw or .gz)   images: count and size; labels: count per class\n"
            "  CIFAR .bin files         count, shape, images per class, channel means\n"
            "  a directory              MNIST-format or CIFAR-10 data: both splits\n"
            "  CSV files                metrics (--metrics), ember-ablate curves and runs,\n"
            "                           --predictions: rows, columns, the last row;\n"
            "                           --confusion: the per-class table\n"
            "  test fixtures            EMFX golden values, the state-dict names list\n\n"
            "options:\n"
            "  --diff           compare two checkpoints: which tensors differ, by how much\n"
            "                   (max |a-b| and max |a-b| / max |a|), and the metadata\n"
            "  --tolerance X    with --diff: differences up to X count as none (0)\n"
            "  --help           this text\n\n"
            "Exit status: 0 read (with --diff: the same tensors), 1 with --diff: they differ,\n"
            "or the report could not be written; 2 bad arguments or a file missing,\n"
            "unreadable or damaged.\n");
}

typedef em_code (*printer)(const char *path, FILE *out, em_error *err);

static bool ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && !strcmp(s + n - m, tail);
}

/* the printer for path: by its first bytes, else by its name; NULL when neither says */
static printer format_of(const char *path, const unsigned char *b, size_t n) {
    uint64_t hlen = 0;
    for (int i = 7; n >= 8 && i >= 0; i--) hlen = hlen << 8 | b[i];
    if (n >= 6 && !memcmp(b, "\x93NUMPY", 6)) return in_npy;
    if (n >= 4 && !memcmp(b, "EMFX", 4)) return in_emfx;
    if (n >= 9 && b[8] == '{' && hlen > 1 && hlen < ((uint64_t)100 << 20)) return in_safetensors;
    if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b) return in_idx;          /* gzip: idx.gz */
    if (n >= 4 && !b[0] && !b[1] && b[2] >= 0x08 && b[2] <= 0x0e && b[3] >= 1 && b[3] <= 4)
        return in_idx;                                                  /* any idx magic */
    if (ends_with(path, ".safetensors") || ends_with(path, ".st") || ends_with(path, ".ckpt"))
        return in_safetensors;
    if (ends_with(path, ".npy")) return in_npy;
    if (ends_with(path, ".bin")) return in_cifar;
    if (ends_with(path, "-ubyte") || ends_with(path, ".gz")) return in_idx;
    if (ends_with(path, ".emfx")) return in_emfx;
    if (ends_with(path, ".csv")) return in_csv;
    bool text = n > 0, comma = false;
    size_t len = 0;
    for (; len < n && b[len] != '\n'; len++) {
        text &= b[len] >= 0x20 || b[len] == '\t' || b[len] == '\r';
        comma |= b[len] == ',';
    }
    char first[512];
    snprintf(first, sizeof first, "%.*s", (int)len, (const char *)b);
    return text && comma ? in_csv : text && in_is_names(first) ? in_names : NULL;
}

static int inspect(const char *path) {
    em_error err = {0};
    struct stat st;
    em_code c;
    if (stat(path, &st) != 0) {
        c = em_error_set(&err, EM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        c = in_data_dir(path, stdout, &err);
    } else if (!S_ISREG(st.st_mode)) {   /* a FIFO would block the open; a device, a read */
        c = em_error_set(&err, EM_ERR_IO, "%s: not a regular file", path);
    } else {
        unsigned char b[512];
        size_t n = 0;
        FILE *f = fopen(path, "rb");
        if (f) {
            n = fread(b, 1, sizeof b, f);
            fclose(f);
        }
        printer p = f ? format_of(path, b, n) : NULL;
        if (!f) c = em_error_set(&err, EM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        else if (!p)
            c = em_error_set(&err, EM_ERR_FORMAT, "%s: not a file ember writes or reads "
                             "(safetensors, .npy, idx, CIFAR .bin, CSV, a test fixture)%s", path,
                             n ? "" : ": it is empty");
        else c = p(path, stdout, &err);
    }
    fflush(stdout);
    if (c == EM_OK) return 0;
    fprintf(stderr, "ember-inspect: %s\n", err.msg);
    return c == EM_ERR_NOMEM ? 1 : 2;
}

/* The report is the product: one that could not be written (a full disk, a closed
 * stdout) is a failure, said on stderr, not an exit 0 with nothing in the file. */
static bool stdout_failed(void) {
    if (fflush(stdout) == 0 && !ferror(stdout)) return false;
    fprintf(stderr, "ember-inspect: writing to standard output failed: %s\n", strerror(errno));
    return true;
}

int main(int argc, char **argv) {
    static const struct option longs[] = {{"diff", 0, 0, 'd'}, {"tolerance", 1, 0, 't'},
                                          {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    bool diff = false;
    double tol = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'd': diff = true; break;
        case 't':
            errno = 0;
            tol = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(tol >= 0) || tol > 1e300) {
                fprintf(stderr, "ember-inspect: --tolerance: '%s' is not a number >= 0\n", optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        case ':': fprintf(stderr, "ember-inspect: option '%s' needs a value\n", argv[optind - 1]); return 2;
        default:
            fprintf(stderr, "ember-inspect: unknown option '%s'\nTry 'ember-inspect --help'.\n",
                    argv[optind - 1]);
            return 2;
        }
    }
    int files = argc - optind;
    const char *bad = diff && files != 2 ? "--diff compares two checkpoints: --diff A B"
                      : !files ? "which file? (ember-inspect FILE...)"
                      : tol > 0 && !diff ? "--tolerance goes with --diff" : NULL;
    if (bad) {
        fprintf(stderr, "ember-inspect: %s\nTry 'ember-inspect --help'.\n", bad);
        return 2;
    }
    if (diff) {
        em_error err = {0};
        int status = in_diff(argv[optind], argv[optind + 1], tol, stdout, &err);
        fflush(stdout);
        if (status == 2) fprintf(stderr, "ember-inspect: %s\n", err.msg);
        return stdout_failed() && status == 0 ? 1 : status;
    }
    int status = 0;
    for (int i = optind; i < argc; i++) {
        if (i > optind) putchar('\n');
        int s = inspect(argv[i]);
        status = s > status ? s : status;
    }
    return stdout_failed() && status == 0 ? 1 : status;
}

/* tests/test_data_fuzz_replay.c — every input in tests/fuzz/corpus/{idx,cifar,safetensors,
 * image,options,metrics,npy,arch} run through
 * the fuzz harnesses (tests/fuzz/fuzz_*.c, compiled in here without libFuzzer). The corpus
 * holds the hand-made seeds and the inputs the fuzzers found that reach new code; a crash
 * input found by a fuzzer is added there (and so becomes a regression test of this suite).
 * A harness aborts on any inconsistency, which Criterion reports as a crash. */
#define EM_FUZZ_NO_ENTRY 1
#include "data_helpers.h"

#include <dirent.h>

int em_fuzz_idx(const uint8_t *data, size_t size);
int em_fuzz_cifar(const uint8_t *data, size_t size);
int em_fuzz_safetensors(const uint8_t *data, size_t size);
int em_fuzz_image(const uint8_t *data, size_t size);
int em_fuzz_options(const uint8_t *data, size_t size);
int em_fuzz_metrics(const uint8_t *data, size_t size);
int em_fuzz_npy(const uint8_t *data, size_t size);
int em_fuzz_arch(const uint8_t *data, size_t size);

#include "fuzz/fuzz_arch.c"
#include "fuzz/fuzz_cifar.c"
#include "fuzz/fuzz_idx.c"
#include "fuzz/fuzz_image.c"
#include "fuzz/fuzz_metrics.c"
#include "fuzz/fuzz_npy.c"
#include "fuzz/fuzz_options.c"
#include "fuzz/fuzz_safetensors.c"

static size_t replay(const char *sub, int (*one)(const uint8_t *, size_t)) {
    char dir[512], p[1024];
    snprintf(dir, sizeof dir, "%s/%s", EM_FUZZ_CORPUS_DIR, sub);
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "no corpus at %s", dir);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.') continue;
        size_t len;
        uint8_t *buf = read_bytes(path_in(p, sizeof p, dir, e->d_name), &len);
        one(buf, len);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

Test(fuzz_replay, idx_corpus) {
    size_t n = replay("idx", em_fuzz_idx);
    cr_assert(n >= 6, "only %zu inputs", n);
    if (idx_dir[0]) rm_tree(idx_dir);
}

Test(fuzz_replay, cifar_corpus) {
    size_t n = replay("cifar", em_fuzz_cifar);
    cr_assert(n >= 5, "only %zu inputs", n);
    if (cifar_dir[0]) rm_tree(cifar_dir);
}

Test(fuzz_replay, safetensors_corpus) {
    size_t n = replay("safetensors", em_fuzz_safetensors);
    cr_assert(n >= 6, "only %zu inputs", n);
    if (safetensors_dir[0]) rm_tree(safetensors_dir);
}

Test(fuzz_replay, image_corpus) {
    size_t n = replay("image", em_fuzz_image);
    cr_assert(n >= 8, "only %zu inputs", n);
    if (image_dir[0]) rm_tree(image_dir);
}

Test(fuzz_replay, options_corpus) {
    size_t n = replay("options", em_fuzz_options);
    cr_assert(n >= 16, "only %zu inputs", n);
}

Test(fuzz_replay, metrics_corpus) {
    size_t n = replay("metrics", em_fuzz_metrics);
    cr_assert(n >= 7, "only %zu inputs", n);
    if (metrics_dir[0]) rm_tree(metrics_dir);
}

Test(fuzz_replay, npy_corpus) {
    size_t n = replay("npy", em_fuzz_npy);
    cr_assert(n >= 10, "only %zu inputs", n);
}

Test(fuzz_replay, arch_corpus) {
    size_t n = replay("arch", em_fuzz_arch);
    cr_assert(n >= 10, "only %zu inputs", n);
}

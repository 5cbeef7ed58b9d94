/* tests/fuzz/fuzz_files.h — what the harnesses that go through files share: their
 * directory (em_test_mkdtemp_shm, made on first use) and writing an input's bytes to a
 * file. A failure here is the harness's, not the parser's: abort. */
#ifndef EM_FUZZ_FILES_H
#define EM_FUZZ_FILES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../tmpname.h"

/* path = the n bytes at p */
static inline void fuzz_write_file(const char *path, const uint8_t *p, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n && fwrite(p, 1, n, f) != n) abort();
    fclose(f);
}

#endif

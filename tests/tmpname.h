/* tests/tmpname.h — a fresh directory BASE/ember-NAME-?????? made by mkdtemp: the one place
 * the test suites and the fuzz harnesses spell mkdtemp's template (its last six characters
 * must be X; mkdtemp replaces them). Plain C, no Criterion: the fuzz harnesses include it. */
#ifndef EM_TEST_TMPNAME_H
#define EM_TEST_TMPNAME_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* base NULL: $TMPDIR, else /tmp. Returns out, or NULL when mkdtemp fails (errno set). */
static inline char *em_test_mkdtemp(char *out, size_t n, const char *base, const char *name) {
    if (!base) {
        base = getenv("TMPDIR");
        if (!base || !*base) base = "/tmp";
    }
    snprintf(out, n, "%s/ember-%s-XXXXXX", base, name);
    return mkdtemp(out);
}

/* the fuzz harnesses' files: in memory (/dev/shm) when it is writable, else /tmp */
static inline char *em_test_mkdtemp_shm(char *out, size_t n, const char *name) {
    return em_test_mkdtemp(out, n, access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", name);
}

#endif

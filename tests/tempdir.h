/* tests/tempdir.h — a fresh temporary directory per test, for suites that write files.
 *
 *     Test(suite, name, .init = make_dir, .fini = remove_dir) { ... fopen(dir/...) ... }
 */
#ifndef EM_TEST_TEMPDIR_H
#define EM_TEST_TEMPDIR_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "tmpname.h"

static char dir[64];

static void make_dir(void) {
    cr_assert_not_null(em_test_mkdtemp(dir, sizeof dir, NULL, "test"));
}

/* DIR/NAME, in one of four rotating buffers (so a call can take two or three of them) */
static inline const char *in_dir(const char *name) {
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static void remove_dir(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

#endif

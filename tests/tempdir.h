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

static void remove_dir(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

#endif

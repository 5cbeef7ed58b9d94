/* tests/test_metrics.c — the metrics CSV: header, rows, empty fields for "not measured",
 * append on resume, and a full disk reported without losing earlier rows. */
#include "helpers.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

Test(metrics, rows_header_and_append) {
    char dir[] = "/tmp/ember-metrics-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/m.csv", dir);
    em_metrics *m;
    em_error err;
    cr_assert_eq(em_metrics_open(&m, path, false, &err), EM_OK);
    em_metrics_row r = {1, 938, 0.05, 0.41, 0.85, 0.38, 0.86, 12.5, 4800, false};
    cr_assert_eq(em_metrics_write(m, &r, &err), EM_OK);
    /* the row is on disk before close */
    cr_assert(strstr(slurp(path), "1,938,0.05,0.410000,0.850000,0.380000,0.860000,12.500,4800.0,0\n"),
              "%s", slurp(path));
    em_metrics_row s = {1, 1000, 0.05, 0.4, 0.9, NAN, NAN, 1, 100, true};
    cr_assert_eq(em_metrics_write(m, &s, &err), EM_OK);
    cr_assert_eq(em_metrics_close(m, &err), EM_OK);
    cr_assert(strstr(slurp(path), "1,1000,0.05,0.400000,0.900000,,,1.000,100.0,1\n"));
    /* a resumed run appends without a second header */
    cr_assert_eq(em_metrics_open(&m, path, true, &err), EM_OK);
    r.epoch = 2;
    cr_assert_eq(em_metrics_write(m, &r, &err), EM_OK);
    em_metrics_close(m, &err);
    char *text = slurp(path);
    cr_assert_eq(strncmp(text, "epoch,step,lr,", 14), 0);
    cr_assert_null(strstr(text + 1, "epoch,step"), "second header:\n%s", text);
    cr_assert(strstr(text, "\n2,938,"));
    unlink(path);
    rmdir(dir);
}

Test(metrics, full_disk_is_an_error_naming_the_file) {
    em_metrics *m;
    em_error err;
    /* /dev/full accepts the open and fails every write with ENOSPC */
    cr_assert_eq(em_metrics_open(&m, "/dev/full", false, &err), EM_ERR_IO);
    cr_assert(strstr(err.msg, "/dev/full"), "%s", err.msg);
    cr_assert_eq(em_metrics_open(&m, "/nonexistent-dir/m.csv", false, &err), EM_ERR_IO);
    cr_assert(strstr(err.msg, "/nonexistent-dir/m.csv"), "%s", err.msg);
}

Test(metrics, resume_drops_rows_after_the_checkpoint) {
    char dir[] = "/tmp/ember-metrics-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/m.csv", dir);
    em_metrics *m;
    em_error err;
    cr_assert_eq(em_metrics_open(&m, path, false, &err), EM_OK);
    for (long step = 100; step <= 400; step += 100) {
        em_metrics_row r = {(int)(step / 200) + 1, step, 0.1, 1, 0.5, NAN, NAN, 1, 1, false};
        em_metrics_write(m, &r, &err);
    }
    em_metrics_close(m, &err);
    /* the checkpoint was at step 200: rows 300 and 400 will be written again */
    cr_assert_eq(em_metrics_open_resume(&m, path, 200, &err), EM_OK, "%s", err.msg);
    em_metrics_row r = {2, 300, 0.1, 1, 0.5, NAN, NAN, 1, 1, false};
    em_metrics_write(m, &r, &err);
    em_metrics_close(m, &err);
    char *text = slurp(path);
    cr_assert(strstr(text, "\n1,100,") && strstr(text, "\n2,200,") && strstr(text, "\n2,300,"), "%s", text);
    cr_assert_null(strstr(text, ",400,"), "%s", text);
    cr_assert_null(strstr(strstr(text, ",300,") + 1, ",300,"), "row 300 twice:\n%s", text);
    unlink(path);
    rmdir(dir);
}

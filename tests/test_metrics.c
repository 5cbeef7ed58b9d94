/* tests/test_metrics.c — the metrics CSV: header, rows, empty fields for "not measured",
 * append on resume (cutting a half-written last line), and a full disk reported without
 * losing earlier rows (nor leaving half a row), and a resume that keeps only complete rows. */
#include "helpers.h"
#include "tmpname.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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
    char dir[128];
    cr_assert_not_null(em_test_mkdtemp(dir, sizeof dir, NULL, "metrics"));
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

/* append after a crash mid-row (kill -9): the half row is cut off, not glued to the next */
Test(metrics, append_cuts_a_half_written_last_line) {
    char dir[128];
    cr_assert_not_null(em_test_mkdtemp(dir, sizeof dir, NULL, "metrics"));
    char path[256];
    snprintf(path, sizeof path, "%s/m.csv", dir);
    const char *head =
        "epoch,step,lr,train_loss,train_acc,test_loss,test_acc,seconds,images_per_s,diverged\n";
    struct { const char *before, *after; } cases[] = {
        /* a row cut short: the rows before it stay */
        {"1,100,0.1,1,0.5,,,1,1,0\n2,250,0.1,1,0.5,,,1,", "1,100,0.1,1,0.5,,,1,1,0\n"},
        /* whole rows: nothing to cut */
        {"1,100,0.1,1,0.5,,,1,1,0\n", "1,100,0.1,1,0.5,,,1,1,0\n"},
    };
    em_metrics_row r = {2, 300, 0.1, 1, 0.5, NAN, NAN, 1, 1, false};
    const char *row = "2,300,0.1,1.000000,0.500000,,,1.000,1.0,0\n";
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f);
        fprintf(f, "%s%s", head, cases[i].before);
        fclose(f);
        em_metrics *m;
        em_error err;
        cr_assert_eq(em_metrics_open(&m, path, true, &err), EM_OK, "%s", err.msg);
        cr_assert_eq(em_metrics_write(m, &r, &err), EM_OK);
        cr_assert_eq(em_metrics_close(m, &err), EM_OK);
        char want[512];
        snprintf(want, sizeof want, "%s%s%s", head, cases[i].after, row);
        cr_assert_str_eq(slurp(path), want, "case %zu", i);
    }
    /* half a header and nothing else: the file starts over with the header */
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("epoch,st", f);
    fclose(f);
    em_metrics *m;
    em_error err;
    cr_assert_eq(em_metrics_open(&m, path, true, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(em_metrics_write(m, &r, &err), EM_OK);
    em_metrics_close(m, &err);
    char want[512];
    snprintf(want, sizeof want, "%s%s", head, row);
    cr_assert_str_eq(slurp(path), want);
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
    char dir[128];
    cr_assert_not_null(em_test_mkdtemp(dir, sizeof dir, NULL, "metrics"));
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

/* every line of text is a complete metrics row (or the header): ten fields and a newline */
static void assert_whole_rows(const char *text) {
    cr_assert_eq(strncmp(text, "epoch,step,", 11), 0, "no header:\n%s", text);
    size_t len = strlen(text);
    cr_assert(len > 0 && text[len - 1] == '\n', "ends in half a row:\n%s", text);
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        int commas = 0;
        for (const char *p = line; p < nl; p++) commas += *p == ',';
        cr_assert_eq(commas, 9, "not a whole row: %.*s", (int)(nl - line), line);
        line = nl + 1;
    }
}

Test(metrics, failing_disk_keeps_every_written_row_and_no_half_row) {
    char dir[128];
    cr_assert_not_null(em_test_mkdtemp(dir, sizeof dir, NULL, "metrics"));
    char path[256];
    snprintf(path, sizeof path, "%s/m.csv", dir);
    /* the kernel's file-size limit: a write that would pass 600 bytes is cut short there
     * and the next one fails with EFBIG, as a disk that fills up mid-row */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {600, 600};
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    em_metrics *m;
    em_error err = {0};
    cr_assert_eq(em_metrics_open(&m, path, false, &err), EM_OK, "%s", err.msg);
    long written = 0;
    em_code c = EM_OK;
    for (long step = 1; step <= 100 && c == EM_OK; step++) {
        em_metrics_row r = {1, step, 0.05, 0.41, 0.85, NAN, NAN, 1.5, 4800, false};
        c = em_metrics_write(m, &r, &err);
        if (c == EM_OK) written = step;
    }
    cr_assert_eq(c, EM_ERR_IO, "100 rows fit in 600 bytes?");
    cr_assert(strstr(err.msg, path) && strstr(err.msg, "rows written before are kept"), "%s",
              err.msg);
    cr_assert(written >= 5, "only %ld rows before the failure", written);
    em_metrics_close(m, &err);
    char *text = slurp(path);
    assert_whole_rows(text);
    /* every row that was reported written is there, the failed one is not */
    char want[64];
    for (long step = 1; step <= written; step++) {
        snprintf(want, sizeof want, "\n1,%ld,0.05,", step);
        cr_assert(strstr(text, want), "row %ld lost:\n%s", step, text);
    }
    snprintf(want, sizeof want, "\n1,%ld,", written + 1);
    cr_assert_null(strstr(text, want), "the failed row is in the file:\n%s", text);
    unlink(path);
    rmdir(dir);
}

Test(metrics, resume_keeps_only_complete_rows) {
    char dir[128];
    cr_assert_not_null(em_test_mkdtemp(dir, sizeof dir, NULL, "metrics"));
    char path[256];
    snprintf(path, sizeof path, "%s/m.csv", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("epoch,step,lr,train_loss,train_acc,test_loss,test_acc,seconds,images_per_s,diverged\n"
          "1,100,0.1,1,0.5,,,1,1,0\n"
          "not,a,row\n"
          "1,150,0.1,1,0.5\n"                          /* too few fields */
          "x,160,0.1,1,0.5,,,1,1,0\n", f);             /* the epoch is no number */
    for (int i = 0; i < 3000; i++) fputc(i % 10 == 0 ? ',' : '7', f);   /* one long line */
    fputs("\n1,200,0.1,1,0.5,,,1,1,0\n"
          "2,250,0.1,1,0.5,,,1,", f);                  /* a crash in the middle of a row */
    fclose(f);
    em_metrics *m;
    em_error err;
    cr_assert_eq(em_metrics_open_resume(&m, path, 1000, &err), EM_OK, "%s", err.msg);
    em_metrics_row r = {2, 300, 0.1, 1, 0.5, NAN, NAN, 1, 1, false};
    cr_assert_eq(em_metrics_write(m, &r, &err), EM_OK);
    em_metrics_close(m, &err);
    char *text = slurp(path);
    cr_assert_str_eq(text,
                     "epoch,step,lr,train_loss,train_acc,test_loss,test_acc,seconds,images_per_s,diverged\n"
                     "1,100,0.1,1,0.5,,,1,1,0\n"
                     "1,200,0.1,1,0.5,,,1,1,0\n"
                     "2,300,0.1,1.000000,0.500000,,,1.000,1.0,0\n");
    unlink(path);
    rmdir(dir);
}

/* tests/test_wfile.c — core/wfile.c, the one routine every output of ember goes through:
 * what em_output_check says of each kind of bad path, em_same_file, a temporary name that
 * is a directory, a target replaced by a directory between open and commit, and the file
 * a metrics writer keeps appending to after commit. (What it does against planted links
 * and FIFOs, through each writer: tests/test_outputs.c.) */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/wfile.h"
#include "helpers.h"
#include "tempdir.h"

static void touch(const char *path) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("x\n", f);
    fclose(f);
}

static void says(const char *path, em_code want, const char *what) {
    em_error err = {0};
    cr_assert_eq(em_output_check(path, &err), want, "%s: %s", path, err.msg);
    cr_assert(strstr(err.msg, what), "%s: '%s' lacks '%s'", path, err.msg, what);
}

Test(wfile, output_check_names_the_problem, .init = make_dir, .fini = remove_dir) {
    touch(in_dir("file"));
    cr_assert_eq(mkfifo(in_dir("fifo"), 0644), 0);
    cr_assert_eq(symlink(in_dir("file"), in_dir("link")), 0);
    says(in_dir("nodir/x"), EM_ERR_IO, "nodir does not exist");
    says(in_dir("file/x"), EM_ERR_IO, "file is a regular file, not a directory");
    says(in_dir("fifo"), EM_ERR_IO, "is a FIFO, not a regular file");
    says(in_dir("link"), EM_ERR_IO, "is a symbolic link");
    says(dir, EM_ERR_IO, "is a directory, not a regular file");
    says("/dev/null", EM_ERR_IO, "is a character device");
    says("", EM_ERR_ARG, "an empty path");
    em_error err;
    cr_assert_eq(em_output_check(in_dir("file"), &err), EM_OK, "%s", err.msg);
    cr_assert_eq(em_output_check(in_dir("new"), &err), EM_OK, "%s", err.msg);
    cr_assert_eq(em_output_check("relative-name", &err), EM_OK, "%s", err.msg);
}

Test(wfile, same_file_by_device_and_inode, .init = make_dir, .fini = remove_dir) {
    touch(in_dir("a"));
    touch(in_dir("b"));
    cr_assert_eq(link(in_dir("a"), in_dir("hard")), 0);
    cr_assert_eq(symlink(in_dir("a"), in_dir("soft")), 0);
    cr_assert(em_same_file(in_dir("a"), in_dir("hard")));
    cr_assert(em_same_file(in_dir("soft"), in_dir("a")));
    char dotted[300];
    snprintf(dotted, sizeof dotted, "%s/./a", dir);
    cr_assert(em_same_file(dotted, in_dir("a")));
    cr_assert(!em_same_file(in_dir("a"), in_dir("b")));
    cr_assert(!em_same_file(in_dir("a"), in_dir("missing")));
    cr_assert(!em_same_file(in_dir("missing"), in_dir("missing")));
}

Test(wfile, a_directory_at_the_temporary_name_is_an_error, .init = make_dir,
     .fini = remove_dir) {
    cr_assert_eq(mkdir(in_dir("out.tmp"), 0755), 0);
    em_wfile w;
    em_error err;
    cr_assert_eq(em_wfile_open(&w, in_dir("out"), 0, &err), EM_ERR_IO);
    cr_assert(strstr(err.msg, "out.tmp: it is a directory"), "%s", err.msg);
    struct stat st;
    cr_assert(stat(in_dir("out.tmp"), &st) == 0 && S_ISDIR(st.st_mode), "the directory went");
}

/* between open and commit another process puts a directory where the file goes: the
 * commit refuses (rename would fail anyway; a FIFO or link would be replaced) */
Test(wfile, commit_checks_the_target_again, .init = make_dir, .fini = remove_dir) {
    em_wfile w;
    em_error err;
    cr_assert_eq(em_wfile_open(&w, in_dir("out"), 0, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(em_wfile_write(&w, "abc", 3, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(mkfifo(in_dir("out"), 0644), 0);
    cr_assert_eq(em_wfile_commit(&w, &err), EM_ERR_IO);
    cr_assert(strstr(err.msg, "is a FIFO"), "%s", err.msg);
    cr_assert(access(in_dir("out.tmp"), F_OK) != 0, "the .tmp was left");
    struct stat st;
    cr_assert(lstat(in_dir("out"), &st) == 0 && S_ISFIFO(st.st_mode), "the FIFO was replaced");
}

/* commit_fd: the file is in place and the descriptor goes on appending to it */
Test(wfile, commit_fd_keeps_appending_to_the_file_in_place, .init = make_dir,
     .fini = remove_dir) {
    touch(in_dir("out"));
    em_wfile w;
    em_error err;
    cr_assert_eq(em_wfile_open(&w, in_dir("out"), 0, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(em_wfile_write(&w, "head\n", 5, &err), EM_OK, "%s", err.msg);
    int fd = -1;
    cr_assert_eq(em_wfile_commit_fd(&w, &fd, &err), EM_OK, "%s", err.msg);
    cr_assert(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC) && (fcntl(fd, F_GETFL) & O_APPEND));
    cr_assert_eq(ftruncate(fd, 2), 0);   /* what a metrics writer does after a failed row */
    cr_assert_eq(write(fd, "ad\n", 3), 3);
    close(fd);
    char buf[16] = "";
    FILE *f = fopen(in_dir("out"), "r");
    cr_assert_not_null(f);
    buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
    fclose(f);
    cr_assert_str_eq(buf, "head\n", "after a cut to 2 bytes and an append: %s", buf);
}

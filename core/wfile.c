/* core/wfile.c — write to <path>.tmp, created exclusively, fsync, rename into place (see
 * wfile.h). */
#include "wfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *em_file_kind(unsigned mode) {
    if (S_ISREG(mode)) return "a regular file";
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISLNK(mode)) return "a symbolic link";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

/* the directory that holds path ("." or "/" when it has no other), malloc'd */
static char *parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    while (slash && slash > path && slash[1] == '\0') {   /* "dir/" names dir itself */
        const char *p = slash - 1;
        while (p > path && *p != '/') p--;
        slash = *p == '/' ? p : NULL;
    }
    size_t n = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (!dir) return NULL;
    if (!slash) memcpy(dir, ".", 2);
    else if (slash == path) memcpy(dir, "/", 2);
    else {
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    return dir;
}

/* what is at path, if anything, may be replaced: a regular file */
static em_code check_target(const char *path, em_error *err) {
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) return EM_OK;
        return em_error_set(err, EM_ERR_IO, "%s: cannot check the path: %s", path,
                            strerror(errno));
    }
    if (S_ISREG(st.st_mode)) return EM_OK;
    if (S_ISLNK(st.st_mode))
        return em_error_set(err, EM_ERR_IO, "%s: is a symbolic link; ember does not write "
                            "through links (give the path of the file itself)", path);
    return em_error_set(err, EM_ERR_IO, "%s: is %s, not a regular file; ember writes its "
                        "outputs only to regular files", path, em_file_kind(st.st_mode));
}

em_code em_output_check(const char *path, em_error *err) {
    if (!path || !path[0]) return em_error_set(err, EM_ERR_ARG, "an empty path");
    char *dir = parent_dir(path);
    if (!dir) return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", path);
    struct stat st;
    em_code c = EM_OK;
    if (stat(dir, &st) != 0)
        c = em_error_set(err, EM_ERR_IO, "%s: the directory %s %s", path, dir,
                         errno == ENOENT ? "does not exist" : strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        c = em_error_set(err, EM_ERR_IO, "%s: %s is %s, not a directory", path, dir,
                         em_file_kind(st.st_mode));
    else if (access(dir, W_OK | X_OK) != 0)
        c = em_error_set(err, EM_ERR_IO, "%s: cannot write in the directory %s: %s", path, dir,
                         strerror(errno));
    free(dir);
    return c ? c : check_target(path, err);
}

bool em_same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return a && b && a[0] && b[0] && stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
           sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* <path>.tmp, created by this call and by nobody else: O_EXCL fails on anything already
 * there, link or not, and never follows it. What is in the way is unlinked (a crash's
 * leftover, a planted link or FIFO: unlink removes the name, never what a link points to)
 * and the create tried again; a directory, or a name that comes back each time, is an
 * error. */
static int create_tmp(const char *tmp, em_error *err, const char *path) {
    for (int attempt = 0; attempt < 3; attempt++) {
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd >= 0) return fd;
        struct stat st;
        if (errno != EEXIST || lstat(tmp, &st) != 0 || S_ISDIR(st.st_mode) ||
            unlink(tmp) != 0) {
            em_error_set(err, EM_ERR_IO, "%s: cannot create %s: %s (is the directory there and "
                         "writable?)", path, tmp, errno == EEXIST ? "it is a directory"
                         : strerror(errno));
            return -1;
        }
    }
    em_error_set(err, EM_ERR_IO, "%s: cannot create %s: something else keeps creating it",
                 path, tmp);
    return -1;
}

em_code em_wfile_open(em_wfile *w, const char *path, size_t fail_after, em_error *err) {
    memset(w, 0, sizeof *w);
    em_code c = em_output_check(path, err);
    if (c) return c;
    size_t len = strlen(path);
    w->path = malloc(len + 1);
    w->tmp = malloc(len + 5);
    if (!w->path || !w->tmp) {
        em_wfile_abort(w);
        return em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(w->path, path, len + 1);
    memcpy(w->tmp, path, len);
    memcpy(w->tmp + len, ".tmp", 5);
    w->fail_after = fail_after;
    int fd = create_tmp(w->tmp, err, path);
    if (fd >= 0 && !(w->f = fdopen(fd, "wb"))) {
        em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", path);
        close(fd);
        unlink(w->tmp);
    }
    if (!w->f) {
        free(w->path);
        free(w->tmp);
        w->path = w->tmp = NULL;
        return err ? err->code : EM_ERR_IO;
    }
    return EM_OK;
}

em_code em_wfile_write(em_wfile *w, const void *p, size_t n, em_error *err) {
    size_t allowed = n;
    bool injected = false;
    if (w->fail_after && w->written + n > w->fail_after) {
        allowed = w->fail_after > w->written ? w->fail_after - w->written : 0;
        injected = true;
    }
    if (allowed && fwrite(p, 1, allowed, w->f) != allowed) {
        em_code c = em_error_set(err, EM_ERR_IO, "%s: writing %s failed after %zu bytes: %s; "
                                 "the previous file, if any, is unchanged", w->path, w->tmp,
                                 w->written, strerror(errno));
        em_wfile_abort(w);
        return c;
    }
    w->written += allowed;
    if (injected) {
        em_code c = em_error_set(err, EM_ERR_IO, "%s: writing %s failed after %zu bytes "
                                 "(injected failure: disk full); the previous file, if any, is "
                                 "unchanged", w->path, w->tmp, w->written);
        em_wfile_abort(w);
        return c;
    }
    return EM_OK;
}

/* fsync the directory that holds path, so the rename itself is durable (best effort: some
 * file systems refuse to open or sync directories, and the data is safe either way) */
static void sync_dir(const char *path) {
    char *dir = parent_dir(path);
    int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

static em_code commit(em_wfile *w, int *keep, em_error *err) {
    bool bad = ferror(w->f) != 0;
    if (bad || fflush(w->f) != 0 || fsync(fileno(w->f)) != 0) {
        em_code c = em_error_set(err, EM_ERR_IO, "%s: writing %s failed: %s; the previous "
                                 "file, if any, is unchanged", w->path, w->tmp,
                                 bad ? "a write error" : strerror(errno));
        em_wfile_abort(w);
        return c;
    }
    /* what is at path now (not at open: it may have changed since) must be a file */
    em_code c = check_target(w->path, err);
    if (c) {
        em_wfile_abort(w);
        return c;
    }
    int fd = keep ? fcntl(fileno(w->f), F_DUPFD_CLOEXEC, 0) : -1;
    if (keep && (fd < 0 || fcntl(fd, F_SETFL, O_APPEND) != 0)) {
        c = em_error_set(err, EM_ERR_IO, "%s: %s", w->path, strerror(errno));
        if (fd >= 0) close(fd);
        em_wfile_abort(w);
        return c;
    }
    int rc = fclose(w->f);
    w->f = NULL;
    if (rc != 0 || rename(w->tmp, w->path) != 0) {
        c = em_error_set(err, EM_ERR_IO, "%s: %s failed: %s; the previous file, if any, is "
                         "unchanged", w->path, rc ? "closing the temporary file"
                         : "renaming it into place", strerror(errno));
        if (fd >= 0) close(fd);
        em_wfile_abort(w);
        return c;
    }
    sync_dir(w->path);
    free(w->path);
    free(w->tmp);
    w->path = w->tmp = NULL;
    if (keep) *keep = fd;
    return EM_OK;
}

em_code em_wfile_commit(em_wfile *w, em_error *err) { return commit(w, NULL, err); }

em_code em_wfile_commit_fd(em_wfile *w, int *fd, em_error *err) { return commit(w, fd, err); }

void em_wfile_abort(em_wfile *w) {
    if (w->f) fclose(w->f);
    if (w->tmp) unlink(w->tmp);
    free(w->path);
    free(w->tmp);
    w->f = NULL;
    w->path = w->tmp = NULL;
}

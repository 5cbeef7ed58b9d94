/* io/wfile.c — write to <path>.tmp, fsync, rename into place (see wfile.h). */
#include "wfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

em_code em_wfile_open(em_wfile *w, const char *path, size_t fail_after, em_error *err) {
    memset(w, 0, sizeof *w);
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
    w->f = fopen(w->tmp, "wb");
    if (!w->f) {
        em_code c = em_error_set(err, EM_ERR_IO, "%s: cannot create %s: %s (is the directory "
                                 "there and writable?)", path, w->tmp, strerror(errno));
        free(w->path);
        free(w->tmp);
        w->path = w->tmp = NULL;
        return c;
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
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

em_code em_wfile_commit(em_wfile *w, em_error *err) {
    if (fflush(w->f) != 0 || fsync(fileno(w->f)) != 0) {
        em_code c = em_error_set(err, EM_ERR_IO, "%s: flushing %s failed: %s; the previous "
                                 "file, if any, is unchanged", w->path, w->tmp, strerror(errno));
        em_wfile_abort(w);
        return c;
    }
    int rc = fclose(w->f);
    w->f = NULL;
    if (rc != 0 || rename(w->tmp, w->path) != 0) {
        em_code c = em_error_set(err, EM_ERR_IO, "%s: %s failed: %s; the previous file, if "
                                 "any, is unchanged", w->path,
                                 rc ? "closing the temporary file" : "renaming it into place",
                                 strerror(errno));
        em_wfile_abort(w);
        return c;
    }
    sync_dir(w->path);
    free(w->path);
    free(w->tmp);
    w->path = w->tmp = NULL;
    return EM_OK;
}

void em_wfile_abort(em_wfile *w) {
    if (w->f) fclose(w->f);
    if (w->tmp) remove(w->tmp);
    free(w->path);
    free(w->tmp);
    w->f = NULL;
    w->path = w->tmp = NULL;
}

/* io/metrics.c — metrics CSV, one row per write(2), so a row is either on disk whole or
 * (after a failed write, which is undone) not at all. */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/wfile.h"

struct em_metrics {
    int fd;
    off_t good;          /* file length after the last complete row: a failed write is cut
                            back to it, so the file never ends in half a row            */
    char path[1024];
};

static const char header[] =
    "epoch,step,lr,train_loss,train_acc,test_loss,test_acc,seconds,images_per_s,diverged\n";
enum { METRICS_FIELDS = 10 };

/* all of buf at the end of the file, or an error with the file cut back to m->good */
static em_code append_line(em_metrics *m, const char *buf, size_t len, em_error *err) {
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(m->fd, buf + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC;
            /* undo the part of the row that got out; best effort (a pipe or /dev/full
             * cannot be truncated, and then there is nothing to undo either) */
            if (done && ftruncate(m->fd, m->good) != 0) (void)0;
            return em_error_set(err, EM_ERR_IO, "writing metrics to %s failed: %s (rows "
                                "written before are kept)", m->path, strerror(e));
        }
        done += (size_t)w;
    }
    m->good += (off_t)len;
    return EM_OK;
}

/* The length of the first `size` bytes of fd up to and including the last '\n' (0: none):
 * where the next row may start. -1 on a read error. */
static off_t whole_lines(int fd, off_t size) {
    char buf[4096];
    for (off_t end = size; end > 0;) {
        off_t start = end > (off_t)sizeof buf ? end - (off_t)sizeof buf : 0;
        size_t n = (size_t)(end - start);
        if (pread(fd, buf, n, start) != (ssize_t)n) return -1;
        for (size_t i = n; i-- > 0;)
            if (buf[i] == '\n') return start + (off_t)i + 1;
        end = start;
    }
    return 0;
}

/* The existing file at path, opened without following a link (O_NOFOLLOW) and without
 * blocking on a FIFO (O_NONBLOCK, cleared again), for flags; anything but a regular file
 * is refused. -1 with err set on failure. */
static int open_existing(const char *path, int flags, em_error *err) {
    int fd = open(path, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st = {0};
    if (fd < 0) {
        em_error_set(err, EM_ERR_IO, "cannot open metrics file %s: %s", path,
                     errno == ELOOP ? "it is a symbolic link (ember does not write through "
                                      "links)" : strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || fcntl(fd, F_SETFL, flags) != 0) {
        em_error_set(err, EM_ERR_IO, "cannot write metrics file %s: is %s, not a regular file",
                     path, em_file_kind(st.st_mode));
        close(fd);
        return -1;
    }
    return fd;
}

/* the new file in w (the header, and the rows a resume keeps), written like a checkpoint
 * (core/wfile.h), put in place and left open for the rows to come */
static em_code commit_open(em_metrics *m, em_wfile *w, em_error *err) {
    size_t written = w->written;
    em_code c = em_wfile_commit_fd(w, &m->fd, err);
    if (c == EM_OK) m->good = (off_t)written;
    return c;
}

/* em_output_check's refusal of path, said of the metrics file */
static em_code refused(em_code c, em_error *err) {
    if (!err) return c;
    char msg[EM_ERROR_MSG_MAX];
    snprintf(msg, sizeof msg, "%s", err->msg);
    return em_error_set(err, c, "cannot write metrics file %s", msg);
}

em_code em_metrics_open(em_metrics **out, const char *path, bool append, em_error *err) {
    *out = NULL;
    em_code c = em_output_check(path, err);
    if (c != EM_OK) return refused(c, err);
    em_metrics *m = calloc(1, sizeof *m);
    if (!m) return em_error_set(err, EM_ERR_NOMEM, "out of memory opening %s", path);
    snprintf(m->path, sizeof m->path, "%s", path);
    struct stat st;
    if (!append || lstat(path, &st) != 0) {   /* a new file: the header, then the rows */
        em_wfile w;
        c = em_wfile_open(&w, path, 0, err);
        if (c == EM_OK) c = em_wfile_write(&w, header, sizeof header - 1, err);
        if (c == EM_OK) c = commit_open(m, &w, err);
        if (c != EM_OK) {
            free(m);
            return c;
        }
        *out = m;
        return EM_OK;
    }
    /* append reads too: the end of the file, to find a half-written last line */
    m->fd = open_existing(path, O_RDWR | O_APPEND, err);
    if (m->fd < 0) {
        free(m);
        return err ? err->code : EM_ERR_IO;
    }
    m->good = fstat(m->fd, &st) == 0 ? st.st_size : 0;
    if (m->good > 0) {   /* cut a last line without its '\n' (a crash mid-row) */
        off_t whole = whole_lines(m->fd, m->good);
        if (whole < 0 || (whole < m->good && ftruncate(m->fd, whole) != 0))
            c = em_error_set(err, EM_ERR_IO, "cannot cut the half-written last line of %s: "
                             "%s", path, strerror(errno));
        else
            m->good = whole;
    }
    if (c == EM_OK && m->good == 0) c = append_line(m, header, sizeof header - 1, err);
    if (c != EM_OK) {
        close(m->fd);
        free(m);
        return c;
    }
    *out = m;
    return EM_OK;
}

/* A complete row of a metrics file: ends in '\n', has the ten fields, and starts with
 * the epoch and step as whole numbers. Returns the step, or -1 for anything else (the
 * header, a half-written last line left by a crash, text that is no row). */
static long row_step(const char *line, size_t len) {
    if (len == 0 || line[len - 1] != '\n' || memchr(line, '\0', len)) return -1;
    size_t commas = 0;
    for (size_t i = 0; i < len; i++) commas += line[i] == ',';
    if (commas != METRICS_FIELDS - 1) return -1;
    char *end;
    errno = 0;
    long epoch = strtol(line, &end, 10);
    if (errno || end == line || *end != ',' || epoch < 0) return -1;
    const char *s = end + 1;
    long step = strtol(s, &end, 10);
    if (errno || end == s || *end != ',' || step < 0) return -1;
    return step;
}

em_code em_metrics_open_resume(em_metrics **out, const char *path, long last_step,
                               em_error *err) {
    *out = NULL;
    em_code c = em_output_check(path, err);
    if (c != EM_OK) return refused(c, err);
    struct stat st;
    if (lstat(path, &st) != 0) return em_metrics_open(out, path, false, err);
    int in_fd = open_existing(path, O_RDONLY, err);
    FILE *in = in_fd >= 0 ? fdopen(in_fd, "r") : NULL;
    if (!in) {
        if (in_fd >= 0) close(in_fd);
        return in_fd >= 0 ? em_error_set(err, EM_ERR_NOMEM, "out of memory reading %s", path)
                          : err ? err->code : EM_ERR_IO;
    }
    em_metrics *m = calloc(1, sizeof *m);
    em_wfile w;
    c = m ? em_wfile_open(&w, path, 0, err)
          : em_error_set(err, EM_ERR_NOMEM, "out of memory opening %s", path);
    if (c == EM_OK) c = em_wfile_write(&w, header, sizeof header - 1, err);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while (c == EM_OK && (len = getline(&line, &cap, in)) > 0) {
        long step = row_step(line, (size_t)len);
        if (step >= 0 && step <= last_step) c = em_wfile_write(&w, line, (size_t)len, err);
    }
    if (c == EM_OK && ferror(in)) {
        c = em_error_set(err, EM_ERR_IO, "rewriting %s for the resumed run failed: read "
                         "error", path);
        em_wfile_abort(&w);
    }
    free(line);
    fclose(in);
    if (c == EM_OK) {
        snprintf(m->path, sizeof m->path, "%s", path);
        c = commit_open(m, &w, err);
    }
    if (c != EM_OK) {
        free(m);
        return c;
    }
    *out = m;
    return EM_OK;
}

/* a measured value, or nothing between the commas */
static void field(char *buf, size_t len, const char *fmt, double v) {
    if (isnan(v)) buf[0] = '\0';
    else snprintf(buf, len, fmt, v);
}

em_code em_metrics_write(em_metrics *m, const em_metrics_row *r, em_error *err) {
    char lr[32], tl[32], ta[32], vl[32], va[32], sec[32], ips[32], row[512];
    field(lr, sizeof lr, "%.6g", r->lr);
    field(tl, sizeof tl, "%.6f", r->train_loss);
    field(ta, sizeof ta, "%.6f", r->train_acc);
    field(vl, sizeof vl, "%.6f", r->test_loss);
    field(va, sizeof va, "%.6f", r->test_acc);
    field(sec, sizeof sec, "%.3f", r->seconds);
    field(ips, sizeof ips, "%.1f", r->images_per_s);
    int n = snprintf(row, sizeof row, "%d,%ld,%s,%s,%s,%s,%s,%s,%s,%d\n", r->epoch, r->step,
                     lr, tl, ta, vl, va, sec, ips, r->diverged ? 1 : 0);
    if (n < 0 || (size_t)n >= sizeof row)
        return em_error_set(err, EM_ERR_ARG, "%s: a metrics row does not fit %zu characters",
                            m->path, sizeof row);
    return append_line(m, row, (size_t)n, err);
}

em_code em_metrics_close(em_metrics *m, em_error *err) {
    if (!m) return EM_OK;
    em_code c = EM_OK;
    if (close(m->fd) != 0)
        c = em_error_set(err, EM_ERR_IO, "closing %s failed: %s", m->path, strerror(errno));
    free(m);
    return c;
}

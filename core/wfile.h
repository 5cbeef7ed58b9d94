/* core/wfile.h — the one way ember writes a file: checkpoints, .npy arrays, metrics CSVs,
 * predictions, ember-ablate's tables, reports and figure scripts, CIFAR-format datasets
 * (internal: not installed).
 *
 *     em_wfile w;
 *     if (em_wfile_open(&w, "model.safetensors", 0, &err) != EM_OK) return err.code;
 *     if (em_wfile_write(&w, header, len, &err) != EM_OK) return err.code;  // aborted
 *     return em_wfile_commit(&w, &err);          // fsync, rename into place
 *
 * Everything goes to "<path>.tmp", created exclusively (O_CREAT | O_EXCL | O_NOFOLLOW): a
 * symbolic link planted there by another user is never followed and a FIFO never opened
 * (what is in the way is removed first: a file left by a crash, or a link, which unlink
 * removes without touching what it points to; if it cannot be removed, the write fails).
 * commit checks the stream for errors, flushes it, fsyncs it, renames it over <path>
 * (atomic on POSIX) and fsyncs the directory, so at any instant <path> is either the old
 * file or the complete new one. A failed write or commit removes the .tmp file; a crash
 * leaves it behind, and the next write removes it.
 *
 * <path> itself must be a regular file or not exist: a FIFO, a device, a directory, a
 * socket or a symbolic link there is refused (em_output_check), at open and again just
 * before the rename, so no write ever blocks on a FIFO or replaces something that is not a
 * file. Programs call em_output_check on every output path at start-up, before any work,
 * and em_same_file to refuse an output that is one of their inputs.
 *
 * fail_after (for tests, per call, 0 = never): the write that would pass this many bytes
 * writes up to the limit and then fails as a full disk would, with EM_ERR_IO.
 */
#ifndef EM_WFILE_H
#define EM_WFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "errors.h"

typedef struct em_wfile {
    FILE *f;             /* the temporary file; fprintf to it is fine (commit checks it) */
    char *path;          /* the final name                                               */
    char *tmp;           /* path + ".tmp"                                                */
    size_t written;      /* bytes written so far by em_wfile_write                       */
    size_t fail_after;   /* injected failure point (0: never)                            */
} em_wfile;

/* Can path be written as an output? It must be non-empty, its directory must exist and be
 * writable, and path itself must be a regular file or not exist (not a FIFO, device,
 * directory, socket or symbolic link). EM_ERR_IO (EM_ERR_ARG for an empty path) with a
 * message that starts with the path and says what is wrong. */
em_code em_output_check(const char *path, em_error *err);
/* true when a and b both exist and are the same file (st_dev and st_ino; links followed) */
bool em_same_file(const char *a, const char *b);
/* What a file type is called in messages: "a FIFO", "a directory", ... ("a regular file") */
const char *em_file_kind(unsigned mode);

em_code em_wfile_open(em_wfile *w, const char *path, size_t fail_after, em_error *err);
/* On failure the file is aborted (w is closed and the .tmp removed). */
em_code em_wfile_write(em_wfile *w, const void *p, size_t n, em_error *err);
/* Check, flush, fsync, close, rename into place, fsync the directory. Aborts on failure. */
em_code em_wfile_commit(em_wfile *w, em_error *err);
/* The same, but the file stays open: *fd (close-on-exec, O_APPEND) then writes to the end
 * of the file now at path (the metrics file goes on growing row by row). */
em_code em_wfile_commit_fd(em_wfile *w, int *fd, em_error *err);
/* Close and remove the .tmp file; safe to call twice. */
void em_wfile_abort(em_wfile *w);

#endif

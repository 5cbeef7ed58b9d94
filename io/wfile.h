/* io/wfile.h — crash-safe file writing, shared by the checkpoint and .npy writers
 * (internal: not installed).
 *
 *     em_wfile w;
 *     if (em_wfile_open(&w, "model.safetensors", 0, &err) != EM_OK) return err.code;
 *     if (em_wfile_write(&w, header, len, &err) != EM_OK) return err.code;  // aborted
 *     return em_wfile_commit(&w, &err);          // fsync, rename into place
 *
 * Everything goes to "<path>.tmp"; commit flushes it, fsyncs it, renames it over <path>
 * (atomic on POSIX) and fsyncs the directory, so at any instant <path> is either the old
 * file or the complete new one. A failed write or commit removes the .tmp file; a crash
 * leaves it behind, and the next save overwrites it.
 *
 * fail_after (for tests, per call, 0 = never): the write that would pass this many bytes
 * writes up to the limit and then fails as a full disk would, with EM_ERR_IO.
 */
#ifndef EM_WFILE_H
#define EM_WFILE_H

#include <stddef.h>
#include <stdio.h>

#include "../core/errors.h"

typedef struct em_wfile {
    FILE *f;
    char *path;          /* the final name                         */
    char *tmp;           /* path + ".tmp"                          */
    size_t written;      /* bytes written so far                   */
    size_t fail_after;   /* injected failure point (0: never)      */
} em_wfile;

em_code em_wfile_open(em_wfile *w, const char *path, size_t fail_after, em_error *err);
/* On failure the file is aborted (w is closed and the .tmp removed). */
em_code em_wfile_write(em_wfile *w, const void *p, size_t n, em_error *err);
/* Flush, fsync, close, rename into place, fsync the directory. Aborts on failure. */
em_code em_wfile_commit(em_wfile *w, em_error *err);
/* Close and remove the .tmp file; safe to call twice. */
void em_wfile_abort(em_wfile *w);

#endif

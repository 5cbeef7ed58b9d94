/* examples/common/outfile.c — whole files written crash-safely (outfile.h). */
#include "outfile.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "io/wfile.h"

em_code em_outfile_write(const char *path, const void *data, size_t len, em_error *err) {
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        FILE *f = fopen(path, "w");
        if (!f) return em_error_set(err, EM_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        bool ok = fwrite(data, 1, len, f) == len && fflush(f) == 0;
        int e = errno;
        if (fclose(f) != 0 && ok) ok = false, e = errno;
        return ok ? EM_OK : em_error_set(err, EM_ERR_IO, "writing %s failed: %s", path, strerror(e));
    }
    em_wfile w;
    em_code c = em_wfile_open(&w, path, 0, err);
    if (c == EM_OK) c = em_wfile_write(&w, data, len, err);
    if (c == EM_OK) c = em_wfile_commit(&w, err);
    return c;
}

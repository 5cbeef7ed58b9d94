/* examples/common/outfile.c — whole files written crash-safely (outfile.h). */
#include "outfile.h"

#include "core/wfile.h"

em_code em_outfile_write(const char *path, const void *data, size_t len, em_error *err) {
    em_wfile w;
    em_code c = em_wfile_open(&w, path, 0, err);
    if (c == EM_OK) c = em_wfile_write(&w, data, len, err);
    if (c == EM_OK) c = em_wfile_commit(&w, err);
    return c;
}

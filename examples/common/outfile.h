/* examples/common/outfile.h — a whole output file written at once, crash-safely: through
 * core/wfile.h (PATH.tmp, fsync, rename), so PATH is the old file or the whole new one; a
 * PATH that exists and is no regular file (/dev/stdout, a pipe, a device) is refused, as
 * for every output of ember (docs/robustness.md §9).
 *
 *     char *text; size_t len;
 *     FILE *m = open_memstream(&text, &len);  ... fprintf(m, ...) ...  fclose(m);
 *     if (em_outfile_write("confusion.csv", text, len, &err) != EM_OK) ...err.msg...
 */
#ifndef EM_OUTFILE_H
#define EM_OUTFILE_H

#include <stddef.h>

#include "core/errors.h"

/* EM_OK, or EM_ERR_IO naming the file (the previous file, if any, unchanged) */
em_code em_outfile_write(const char *path, const void *data, size_t len, em_error *err);

#endif

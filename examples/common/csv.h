/* examples/common/csv.h — the little CSV the programs read back: their own metrics,
 * curves, runs, predictions and confusion files (a field with a comma, a quote or a line
 * break is in double quotes, a quote in it doubled, as RFC 4180 has it).
 *
 *     char *f[16];
 *     int n = em_csv_split(line, f, 16);     // line is cut up in place; -1: malformed
 */
#ifndef EM_CSV_H
#define EM_CSV_H

#include <stddef.h>
#include <stdio.h>

#include "core/errors.h"

/* path opened to read, if it is a regular file; a FIFO or a device is refused at once
 * (EM_ERR_IO "PATH: not a regular file"), not waited on or read without end. NULL with
 * err set (EM_ERR_IO "PATH: cannot open: ..." when it cannot be opened). */
FILE *em_csv_open(const char *path, em_error *err);
/* The next line of f into *line (allocated and grown as getline(3) does, but to at most
 * max + 2 bytes, NUL-terminated): its length with the '\n', 0 at the end of the file, -1
 * on a read error or no memory, -2 when the line is longer than max bytes (read up to
 * there only: a file of one endless line costs no more memory than max). */
long em_csv_getline(char **line, size_t *cap, FILE *f, size_t max);
/* line (changed in place; a final "\n" or "\r\n" is dropped) into at most max fields at
 * its commas. Returns the number of fields, or -1 when there are more than max or a quoted
 * field is not closed. */
int em_csv_split(char *line, char **fields, int max);
/* s as one CSV field into out: quoted when it needs it. Returns what fprintf returns. */
int em_csv_put(FILE *out, const char *s);
/* strtod of the whole field (spaces before and after allowed, "nan" too); 0 for "",
 * text and an overflow, else 1 */
int em_csv_number(const char *field, double *value);

#endif

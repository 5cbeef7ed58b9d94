/* examples/common/gnuplot.h — gnuplot found on PATH and run on a script, without a shell
 * (fork and exec with an argument vector: no quoting of paths, nothing a file name could
 * inject).
 *
 *     char buf[1024], msg[512];
 *     const char *gp = em_gnuplot_find(buf, sizeof buf);       // NULL: not installed
 *     if (gp && em_gnuplot_run(gp, "results/main", "curves.gp", msg, sizeof msg) != 0)
 *         fprintf(stderr, "%s\n", msg);                       // what gnuplot said
 *
 * The script runs in its own directory, so the names of the files it writes are relative
 * to it: a .gp moved elsewhere together with nothing else still renders.
 */
#ifndef EM_GNUPLOT_H
#define EM_GNUPLOT_H

#include <stddef.h>

/* the first executable gnuplot on $PATH into buf; NULL when there is none */
const char *em_gnuplot_find(char *buf, size_t len);
/* `gnuplot SCRIPT` with DIR as the working directory, its standard output discarded and
 * its standard error kept. Returns 0 when gnuplot exited 0; otherwise -1 with msg saying
 * how it ended and the last line it printed (where gnuplot names the error). */
int em_gnuplot_run(const char *gnuplot, const char *dir, const char *script, char *msg,
                   size_t len);

#endif

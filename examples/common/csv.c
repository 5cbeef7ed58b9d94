/* examples/common/csv.c — splitting and quoting CSV fields (csv.h). */
#include "csv.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

FILE *em_csv_open(const char *path, em_error *err) {
    /* O_NONBLOCK: a FIFO without a writer opens at once and is refused below */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        em_error_set(err, EM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || fcntl(fd, F_SETFL, 0) != 0) {
        close(fd);
        em_error_set(err, EM_ERR_IO, "%s: not a regular file", path);
        return NULL;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        em_error_set(err, EM_ERR_NOMEM, "%s: out of memory", path);
    }
    return f;
}

long em_csv_getline(char **line, size_t *cap, FILE *f, size_t max) {
    size_t n = 0;
    for (int ch; (ch = getc(f)) != EOF;) {
        if (n == max) return -2;
        if (n + 2 > *cap) {
            size_t want = *cap < 128 ? 128 : 2 * *cap;
            if (want > max + 2) want = max + 2;
            char *bigger = realloc(*line, want);
            if (!bigger) return -1;
            *line = bigger;
            *cap = want;
        }
        (*line)[n++] = (char)ch;
        if (ch == '\n') break;
    }
    if (ferror(f)) return -1;
    if (n) (*line)[n] = '\0';
    return (long)n;
}

int em_csv_split(char *line, char **fields, int max) {
    size_t len = strlen(line);
    if (len && line[len - 1] == '\n') line[--len] = '\0';
    if (len && line[len - 1] == '\r') line[--len] = '\0';
    int n = 0;
    char *r = line;
    for (;;) {
        if (n == max) return -1;
        char *w = r;             /* the field is written over itself, unquoted */
        fields[n++] = w;
        if (*r == '"') {
            for (r++;; r++) {
                if (*r == '\0') return -1;                  /* no closing quote */
                if (*r == '"' && r[1] == '"') *w++ = '"', r++;
                else if (*r == '"') break;
                else *w++ = *r;
            }
            r++;
            if (*r != ',' && *r != '\0') return -1;         /* text after the quote */
        } else {
            while (*r && *r != ',') *w++ = *r++;
        }
        bool last = *r == '\0';
        *w = '\0';               /* w <= r: the comma (or the end) is read already */
        if (last) return n;
        r++;
    }
}

int em_csv_put(FILE *out, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) return fputs(s, out) == EOF ? -1 : (int)strlen(s);
    int n = 0;
    if (fputc('"', out) == EOF) return -1;
    for (; *s; s++, n++)
        if ((*s == '"' && fputc('"', out) == EOF) || fputc(*s, out) == EOF) return -1;
    return fputc('"', out) == EOF ? -1 : n + 2;
}

int em_csv_number(const char *field, double *value) {
    char *end;
    errno = 0;
    double v = strtod(field, &end);
    if (end == field || (errno == ERANGE && isinf(v))) return 0;
    while (*end == ' ') end++;
    if (*end) return 0;
    *value = v;
    return 1;
}

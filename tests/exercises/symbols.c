/* tests/exercises/symbols.c — what the student's object files call (grade_symbols.h).
 *
 * nm -P -A -u lists every undefined symbol of each object (of each member of an archive):
 * the functions the object calls and the data it reads from elsewhere. An exercise may use
 * the C library's math, memory and printing, its own functions and the helpers
 * exercises.h declares (all named ex_...), and what a sanitizer build adds; anything else —
 * ember's kernels above all — rejects the exercise, naming the symbol. */
#include "grade_symbols.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* libm (with its float and long double variants), memory, printing, and what compilers
 * emit on their own */
static const char *const allowed[] = {
    "acos", "asin", "atan", "atan2", "cos", "sin", "tan", "cosh", "sinh", "tanh", "acosh",
    "asinh", "atanh", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "pow", "sqrt",
    "cbrt", "hypot", "fabs", "fmax", "fmin", "fmod", "floor", "ceil", "round", "trunc",
    "lround", "llround", "rint", "lrint", "nearbyint", "erf", "erfc", "tgamma", "lgamma",
    "frexp", "ldexp", "modf", "copysign", "nan", "fdim", "fma", "remainder", "scalbn",
    "malloc", "calloc", "realloc", "free", "memset", "memcpy", "memmove", "memcmp",
    "printf", "fprintf", "puts", "putchar", "fputs", "fputc", "fflush", "stdout", "stderr",
    "__printf_chk", "__fprintf_chk", "__memcpy_chk", "__memset_chk", "__memmove_chk",
    "__stack_chk_fail", "__assert_fail", "abort", "_GLOBAL_OFFSET_TABLE_",
};
static const char *const allowed_prefix[] = {"ex_", "__asan_", "__ubsan_", "__sanitizer_",
                                             "__lsan_"};

bool grade_symbol_allowed(const char *sym) {
    for (size_t i = 0; i < sizeof allowed_prefix / sizeof allowed_prefix[0]; i++)
        if (!strncmp(sym, allowed_prefix[i], strlen(allowed_prefix[i]))) return true;
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        size_t n = strlen(allowed[i]);
        /* sqrt, sqrtf, sqrtl */
        if (!strncmp(sym, allowed[i], n) &&
            (sym[n] == '\0' || ((sym[n] == 'f' || sym[n] == 'l') && sym[n + 1] == '\0')))
            return true;
    }
    return false;
}

/* "libx.a[ex3_conv2d_backward.c.o]: em_foo U" -> member stem "ex3_conv2d_backward" and the
 * symbol; "dir/ex3_conv2d_backward.o: em_foo U" likewise. false for another line. */
static bool parse_line(char *line, char *stem, size_t stem_len, char *sym, size_t sym_len) {
    char *colon = strstr(line, ": ");
    if (!colon) return false;
    *colon = '\0';
    char *name = line, *open = strrchr(line, '[');
    if (open) {
        name = open + 1;
        char *close = strchr(name, ']');
        if (close) *close = '\0';
    } else if (strrchr(line, '/')) {
        name = strrchr(line, '/') + 1;
    }
    size_t k = strcspn(name, ".");
    snprintf(stem, stem_len, "%.*s", (int)k, name);
    char *s = colon + 2;
    size_t n = strcspn(s, " \t\n");
    if (!n) return false;
    snprintf(sym, sym_len, "%.*s", (int)n, s);
    return true;
}

int grade_symbols(char *const *objects, int n_objects, grade_rejection *out, int max_out,
                  char *err, size_t err_len) {
    int fd[2];
    if (pipe(fd)) {
        snprintf(err, err_len, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, err_len, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        char *argv[64] = {"nm", "-P", "-A", "-u"};
        int a = 4;
        for (int i = 0; i < n_objects && a < 63; i++) argv[a++] = objects[i];
        argv[a] = NULL;
        execvp("nm", argv);
        fprintf(stderr, "ember-grade: cannot run nm (binutils): %s\n", strerror(errno));
        _exit(127);
    }
    close(fd[1]);
    FILE *in = fdopen(fd[0], "r");
    int n = 0;
    char line[1024], stem[128], sym[256];
    while (in && fgets(line, sizeof line, in)) {
        if (!parse_line(line, stem, sizeof stem, sym, sizeof sym)) continue;
        if (grade_symbol_allowed(sym) || n >= max_out) continue;
        bool seen = false;
        for (int i = 0; i < n && !seen; i++)
            seen = !strcmp(out[i].stem, stem) && !strcmp(out[i].symbol, sym);
        if (seen) continue;
        snprintf(out[n].stem, sizeof out[n].stem, "%s", stem);
        snprintf(out[n].symbol, sizeof out[n].symbol, "%s", sym);
        n++;
    }
    if (in) fclose(in);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(err, err_len, "nm could not read the student's objects (%s%s): exit %d",
                 objects[0], n_objects > 1 ? ", ..." : "",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return -1;
    }
    return n;
}

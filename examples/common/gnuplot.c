/* examples/common/gnuplot.c — finding and running gnuplot (gnuplot.h). */
#include "gnuplot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *em_gnuplot_find(char *buf, size_t len) {
    const char *path = getenv("PATH");
    if (!path) return NULL;
    while (*path) {
        size_t n = strcspn(path, ":");
        int k = snprintf(buf, len, "%.*s/gnuplot", (int)n, path);
        if (n && k > 0 && (size_t)k < len && access(buf, X_OK) == 0) return buf;
        path += n + (path[n] == ':');
    }
    return NULL;
}

/* the child: into dir, stderr to the pipe, stdout away, then gnuplot; never returns */
static _Noreturn void child(const char *gnuplot, const char *dir, const char *script, int fd) {
    int null = open("/dev/null", O_WRONLY);
    if (fd != STDERR_FILENO && dup2(fd, STDERR_FILENO) < 0) _exit(127);
    if (null >= 0 && dup2(null, STDOUT_FILENO) < 0) _exit(127);
    if (chdir(dir) != 0) {
        dprintf(STDERR_FILENO, "cannot enter %s: %s", dir, strerror(errno));
        _exit(127);
    }
    char *const argv[] = {(char *)gnuplot, (char *)script, NULL};
    execv(gnuplot, argv);
    dprintf(STDERR_FILENO, "cannot run %s: %s", gnuplot, strerror(errno));
    _exit(127);
}

int em_gnuplot_run(const char *gnuplot, const char *dir, const char *script, char *msg,
                   size_t len) {
    char said[4096];
    size_t got = 0;
    int fds[2];
    msg[0] = '\0';
    if (pipe(fds) != 0) {
        snprintf(msg, len, "cannot run %s: pipe: %s", gnuplot, strerror(errno));
        return -1;
    }
    fflush(NULL);   /* nothing buffered is written twice by the child */
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(msg, len, "cannot run %s: fork: %s", gnuplot, strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return -1;
    }
    if (pid == 0) {
        close(fds[0]);
        child(gnuplot, dir, script, fds[1]);
    }
    close(fds[1]);
    /* keep the last 4 KiB of what it says: gnuplot names the error at the end */
    for (;;) {
        char chunk[1024];
        ssize_t n = read(fds[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        size_t k = (size_t)n;
        if (got + k > sizeof said - 1) {
            size_t drop = got + k - (sizeof said - 1);
            drop = drop > got ? got : drop;
            memmove(said, said + drop, got - drop);
            got -= drop;
            if (k > sizeof said - 1) k = sizeof said - 1;
        }
        memcpy(said + got, chunk + (size_t)n - k, k);
        got += k;
    }
    close(fds[0]);
    said[got] = '\0';
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            snprintf(msg, len, "waiting for %s: %s", gnuplot, strerror(errno));
            return -1;
        }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
    while (got && (said[got - 1] == '\n' || said[got - 1] == ' ')) said[--got] = '\0';
    /* gnuplot's last line names the error (the lines above it echo the script) */
    const char *last = strrchr(said, '\n');
    last = last ? last + 1 : said;
    char how[64];
    if (WIFEXITED(st)) snprintf(how, sizeof how, "exited with status %d", WEXITSTATUS(st));
    else snprintf(how, sizeof how, "was killed by signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    snprintf(msg, len, "gnuplot %s%s%s", how, *last ? ": " : "", last);
    return -1;
}

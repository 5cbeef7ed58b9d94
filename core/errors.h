/* core/errors.h — the two kinds of error in ember.
 *
 *   Programmer errors (a shape mismatch, a NULL where a tensor belongs) are bugs in the
 *   calling code: EM_ASSERT prints file:line and the failed expression, then aborts.
 *
 *   Recoverable errors (a missing or corrupt file, a bad argument, no memory) are facts
 *   about the world: the function returns an em_code and fills an em_error with a message
 *   that names the file and the problem and, where one exists, a hint how to fix it.
 *   Library code never prints and never exits; programs print err.msg and exit non-zero.
 *
 *     em_error err;
 *     if (em_mnist_load(&ds, dir, EM_SPLIT_TRAIN, &err) != EM_OK) {
 *         fprintf(stderr, "ember-mnist: %s\n", err.msg);
 *         return 2;
 *     }
 */
#ifndef EM_ERRORS_H
#define EM_ERRORS_H

#include <stdarg.h>

typedef enum em_code {
    EM_OK = 0,
    EM_ERR_IO,        /* a file is missing, unreadable or a write failed          */
    EM_ERR_FORMAT,    /* a file is there but its content is wrong or truncated    */
    EM_ERR_ARG,       /* a bad argument value from the user                       */
    EM_ERR_NOMEM,     /* an allocation failed                                     */
    EM_ERR_NUMERIC,   /* NaN/Inf or a value outside what the math allows          */
    EM_ERR_STATE,     /* the call does not fit the object's state (e.g. BN, N=1)  */
    EM_CODE_COUNT
} em_code;

#define EM_ERROR_MSG_MAX 512

typedef struct em_error {
    em_code code;
    char msg[EM_ERROR_MSG_MAX];
} em_error;

/* Fills err (if not NULL) with code and a printf-style message; returns code, so a
 * failing path reads `return em_error_set(err, EM_ERR_IO, "cannot open %s", path);`. */
em_code em_error_set(em_error *err, em_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A short name for a code: "io error", "bad format", ... */
const char *em_code_name(em_code code);

/* Programmer errors. Never compiled out: a wrong shape must not become silent garbage. */
_Noreturn void em_assert_fail(const char *file, int line, const char *expr, const char *why);

#define EM_ASSERT(expr) \
    ((expr) ? (void)0 : em_assert_fail(__FILE__, __LINE__, #expr, NULL))
#define EM_ASSERT_MSG(expr, why) \
    ((expr) ? (void)0 : em_assert_fail(__FILE__, __LINE__, #expr, (why)))

#endif

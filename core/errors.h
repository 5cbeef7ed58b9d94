/** core/errors.h — the two kinds of error in ember.
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
 *
 * @file
 */
#ifndef EM_ERRORS_H
#define EM_ERRORS_H

#include <stdarg.h>

/** What a function that can fail returns: EM_OK, or the kind of failure. */
typedef enum em_code {
    EM_OK = 0,        /**< success                                              */
    EM_ERR_IO,        /**< a file is missing, unreadable or a write failed      */
    EM_ERR_FORMAT,    /**< a file is there but its content is wrong or truncated */
    EM_ERR_ARG,       /**< a bad argument value from the user                   */
    EM_ERR_NOMEM,     /**< an allocation failed                                 */
    EM_ERR_NUMERIC,   /**< NaN/Inf or a value outside what the math allows      */
    EM_ERR_STATE,     /**< the call does not fit the object's state (e.g. BN, N=1) */
    EM_CODE_COUNT     /**< the number of codes (not a code)                      */
} em_code;

/** Size of em_error's message buffer, terminating zero included. */
#define EM_ERROR_MSG_MAX 512

/** A recoverable error: its code and a message for a person. */
typedef struct em_error {
    em_code code;                /**< the kind of failure (EM_OK: none)              */
    char msg[EM_ERROR_MSG_MAX];  /**< names the file and the problem, and a fix      */
} em_error;

/** Fills err (if not NULL) with code and a printf-style message; returns code, so a
 * failing path reads `return em_error_set(err, EM_ERR_IO, "cannot open %s", path);`.
 * @param err   the error to fill; may be NULL (then only the code is returned)
 * @param code  the kind of failure
 * @param fmt   printf format of the message, then its arguments
 * @param ...   the format's arguments
 * @return code */
em_code em_error_set(em_error *err, em_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** A short name for a code: "i/o error", "bad format", ...
 * @param code  any value, also one outside the enum
 * @return a static string ("unknown error" for a value outside the enum) */
const char *em_code_name(em_code code);

/** Programmer errors. Never compiled out: a wrong shape must not become silent garbage.
 * What EM_ASSERT calls: prints "ember: file:line: assertion failed: expr — why" to stderr
 * and aborts.
 * @param file  the source file of the failed assertion
 * @param line  its line
 * @param expr  the failed expression as text
 * @param why   an explanation for the reader, or NULL */
_Noreturn void em_assert_fail(const char *file, int line, const char *expr, const char *why);

/** Abort with file:line and the expression when expr is false (a programmer error).
 * @param expr  the condition that must hold */
#define EM_ASSERT(expr) \
    ((expr) ? (void)0 : em_assert_fail(__FILE__, __LINE__, #expr, NULL))
/** EM_ASSERT with an explanation printed after the expression.
 * @param expr  the condition that must hold
 * @param why   a string saying what the caller got wrong */
#define EM_ASSERT_MSG(expr, why) \
    ((expr) ? (void)0 : em_assert_fail(__FILE__, __LINE__, #expr, (why)))

#endif

/* core/errors.c — error messages and the assert handler. */
#include "errors.h"

#include <stdio.h>
#include <stdlib.h>

em_code em_error_set(em_error *err, em_code code, const char *fmt, ...) {
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *em_code_name(em_code code) {
    static const char *const names[] = {
        [EM_OK] = "ok",
        [EM_ERR_IO] = "i/o error",
        [EM_ERR_FORMAT] = "bad format",
        [EM_ERR_ARG] = "bad argument",
        [EM_ERR_NOMEM] = "out of memory",
        [EM_ERR_NUMERIC] = "numerical error",
        [EM_ERR_STATE] = "invalid state",
    };
    _Static_assert(sizeof names / sizeof names[0] == EM_CODE_COUNT, "one name per code");
    return (unsigned)code < EM_CODE_COUNT ? names[code] : "unknown error";
}

void em_assert_fail(const char *file, int line, const char *expr, const char *why) {
    fprintf(stderr, "ember: %s:%d: assertion failed: %s%s%s\n", file, line, expr,
            why ? " — " : "", why ? why : "");
    abort();
}

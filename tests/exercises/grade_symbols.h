/* tests/exercises/grade_symbols.h — the symbol check of ember-grade: which functions the
 * student's object files call that an exercise may not (symbols.c). */
#ifndef EM_GRADE_SYMBOLS_H
#define EM_GRADE_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>

/* a forbidden symbol and the object (its name up to the first '.', "ex3_conv2d_backward")
 * that uses it */
typedef struct grade_rejection {
    char stem[128];
    char symbol[256];
} grade_rejection;

/* whether an exercise may call sym: the C library's math (sqrt, sqrtf, ...), malloc and
 * friends, mem*, printing, ex_* (its own functions and exercises.h's helpers), sanitizer
 * and stack-protector hooks */
bool grade_symbol_allowed(const char *sym);

/* Run nm on the objects (object files or archives) and list each forbidden undefined
 * symbol once per object, at most max_out. Returns the count, or -1 with err set when nm
 * cannot run or read them. */
int grade_symbols(char *const *objects, int n_objects, grade_rejection *out, int max_out,
                  char *err, size_t err_len);

#endif

/* exercises/support.h — the other side of the helpers exercises/exercises.h declares, for
 * the grader (tests/exercises/): what an ex_rng is, and how a tape becomes an ex_tape.
 * The student's files see only exercises.h. */
#ifndef EM_EXERCISES_SUPPORT_H
#define EM_EXERCISES_SUPPORT_H

#include "../core/rng.h"
#include "../core/tape.h"
#include "exercises.h"

/* exercise 10's random numbers: ember's generator (core/rng.h) */
struct ex_rng {
    em_rng rng;
};

/* exercise 11's handles are ember's own objects, cast */
static inline ex_tape *ex_tape_of(em_tape *tape) { return (ex_tape *)tape; }
static inline ex_tensor *ex_tensor_of(em_tensor *t) { return (ex_tensor *)t; }

#endif

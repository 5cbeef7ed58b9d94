/* tests/exercises/grade_report.h — what ember-grade knows about one exercise after it ran
 * (grade.c), and the three ways it reports it (report.c): feedback lines, a JSON document
 * with the points of every check (--json), a gradebook row (--csv NAME). */
#ifndef EM_GRADE_REPORT_H
#define EM_GRADE_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "grade.h"

typedef struct exercise {
    int number;              /* 1..13; 0: all together (reported, not scored) */
    const char *stem;        /* the student's file without .c: "ex3_conv2d_backward" */
    const char *title;       /* "conv2d backward" */
    void (*run)(grade *g);
    int max_checks;          /* the checks a right solution passes */
} exercise;

typedef enum status {
    ST_PASSED, ST_FAILED, ST_NOT_ATTEMPTED, ST_REJECTED, ST_CRASHED, ST_TIMEOUT,
    ST_NOT_COMPILED, ST_ERROR
} status;

typedef struct result {
    const exercise *ex;
    status st;
    int checks, failed;
    char idle[300];          /* functions that wrote nothing */
    char wrong[200];         /* quantities found wrong */
    char note[800];          /* why it was rejected, crashed, timed out; the grader's error */
    grade_record *log;       /* every check (passed and failed), in order */
    int n_log;
    char hints[6][400];
    int n_hints;
    double points, max_points;
} result;

/* "passed", "failed", "not attempted", ... */
const char *status_name(status st);
/* the verdict line of an exercise in the feedback */
void report_verdict(const result *r);
/* the score line after all exercises */
void report_score(const result *rs, int n);
/* the whole report as JSON on out */
void report_json(FILE *out, const result *rs, int n);
/* the gradebook's header, and one row for a student */
void report_csv_header(FILE *out, const exercise *ex, int n_ex);
void report_csv_row(FILE *out, const char *student, const result *rs, int n);

#endif

/* tests/exercises/report.c — ember-grade's reports (grade_report.h): the verdict and score
 * lines of the feedback, the JSON document of --json, the gradebook rows of --csv. */
#include "grade_report.h"

#include <string.h>

const char *status_name(status st) {
    static const char *const names[] = {"passed", "failed", "not attempted", "rejected",
                                        "crashed", "timeout", "not compiled", "error"};
    return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "?";
}

static void label(const exercise *ex, char *buf, size_t len) {
    if (ex->number > 0) snprintf(buf, len, "exercise %d (%s)", ex->number, ex->title);
    else snprintf(buf, len, "%s", ex->title);
}

/* " (8.4 of 10 points)" for a scored exercise, "" for the together checks */
static void points_str(const result *r, char *buf, size_t len) {
    if (r->ex->number == 0) buf[0] = '\0';
    else snprintf(buf, len, ", %.4g of %.4g points", r->points, r->max_points);
}

void report_verdict(const result *r) {
    char lb[96], pts[64];
    label(r->ex, lb, sizeof lb);
    points_str(r, pts, sizeof pts);
    switch (r->st) {
    case ST_PASSED:
        printf("%s: PASSED — all %d checks%s\n", lb, r->checks, pts);
        break;
    case ST_FAILED:
        printf("%s: FAILED — %d of %d checks failed%s; wrong: %s\n", lb, r->failed, r->checks,
               pts, r->wrong);
        break;
    case ST_NOT_ATTEMPTED:
        if (r->ex->number)
            printf("%s: NOT ATTEMPTED — %s wrote nothing%s\n", lb, r->idle, pts);
        else
            printf("%s: NOT ATTEMPTED — none of the exercises it combines wrote anything\n", lb);
        break;
    case ST_REJECTED:
        printf("%s: REJECTED — %s%s\n", lb, r->note, pts);
        break;
    case ST_CRASHED:
        printf("%s: CRASHED — %s%s\n", lb, r->note, pts);
        break;
    case ST_TIMEOUT:
        printf("%s: TIMED OUT — %s%s\n", lb, r->note, pts);
        break;
    case ST_NOT_COMPILED:
        printf("%s: DOES NOT COMPILE — %s%s\n", lb, r->note, pts);
        break;
    case ST_ERROR:
        printf("%s: NOT GRADED — a problem of the grader's: %s\n", lb, r->note);
        break;
    }
    fflush(stdout);
}

void report_score(const result *rs, int n) {
    double points = 0, max = 0;
    int scored = 0, passed = 0;
    const result *together = NULL;
    for (int i = 0; i < n; i++) {
        if (rs[i].ex->number == 0) {
            together = &rs[i];
            continue;
        }
        scored++;
        passed += rs[i].st == ST_PASSED;
        points += rs[i].points;
        max += rs[i].max_points;
    }
    printf("score: %.4g of %.4g points, %d of %d exercises pass", points, max, passed, scored);
    if (together) printf("; all together in ember: %s", status_name(together->st));
    printf("\n");
}

/* s as a JSON string, quotes included */
static void json_str(FILE *out, const char *s) {
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(out, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", out);
        else if (*p == '\t') fputs("\\t", out);
        else if (*p < 0x20) fprintf(out, "\\u%04x", *p);
        else fputc(*p, out);
    }
    fputc('"', out);
}

/* a ", "-separated list as a JSON array of strings */
static void json_list(FILE *out, const char *list) {
    fputc('[', out);
    const char *p = list;
    bool first = true;
    while (*p) {
        size_t n = strcspn(p, ",");
        char item[200];
        snprintf(item, sizeof item, "%.*s", (int)n, p);
        if (!first) fputs(", ", out);
        json_str(out, item);
        first = false;
        p += n;
        while (*p == ',' || *p == ' ') p++;
    }
    fputc(']', out);
}

static void json_result(FILE *out, const result *r) {
    fprintf(out, "    {\"exercise\": %d, \"file\": ", r->ex->number);
    char file[160];
    snprintf(file, sizeof file, "%s%s", r->ex->stem, r->ex->number ? ".c" : "");
    json_str(out, file);
    fputs(", \"title\": ", out);
    json_str(out, r->ex->title);
    fputs(", \"status\": ", out);
    json_str(out, status_name(r->st));
    fprintf(out, ",\n     \"points\": %.10g, \"max_points\": %.10g, \"checks_run\": %d, "
            "\"checks_failed\": %d, \"checks_full_marks\": %d,\n     \"wrong\": ", r->points,
            r->max_points, r->checks, r->failed, r->ex->max_checks);
    json_list(out, r->wrong);
    fputs(", \"not_attempted\": ", out);
    json_list(out, r->idle);
    fputs(", \"note\": ", out);
    json_str(out, r->note);
    fputs(",\n     \"hints\": [", out);
    for (int h = 0; h < r->n_hints; h++) {
        fputs(h ? ", " : "", out);
        json_str(out, r->hints[h]);
    }
    fputs("],\n     \"checks\": [", out);
    double w = r->ex->number && r->ex->max_checks ? r->max_points / r->ex->max_checks : 0;
    for (int c = 0; c < r->n_log; c++) {
        const grade_record *k = &r->log[c];
        fprintf(out, "%s\n      {\"situation\": ", c ? "," : "");
        json_str(out, k->situation);
        fputs(", \"name\": ", out);
        json_str(out, k->name);
        fprintf(out, ", \"passed\": %s, \"points\": %.10g, \"max_points\": %.10g",
                k->passed ? "true" : "false", k->passed ? w : 0.0, w);
        if (!k->passed) {
            fputs(", \"detail\": ", out);
            json_str(out, k->detail);
        }
        fputc('}', out);
    }
    fputs(r->n_log ? "\n     ]}" : "]}", out);
}

void report_json(FILE *out, const result *rs, int n) {
    double points = 0, max = 0;
    int scored = 0, passed = 0;
    for (int i = 0; i < n; i++)
        if (rs[i].ex->number) {
            scored++;
            passed += rs[i].st == ST_PASSED;
            points += rs[i].points;
            max += rs[i].max_points;
        }
    fprintf(out, "{\n  \"grader\": \"ember-grade\",\n  \"points\": %.10g,\n  \"max_points\": "
            "%.10g,\n  \"exercises_passed\": %d,\n  \"exercises\": %d,\n  \"results\": [\n",
            points, max, passed, scored);
    for (int i = 0; i < n; i++) {
        json_result(out, &rs[i]);
        fputs(i + 1 < n ? ",\n" : "\n", out);
    }
    fputs("  ]\n}\n", out);
}

/* a CSV field, quoted when it holds a comma, a quote or a line break */
static void csv_field(FILE *out, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"') fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

void report_csv_header(FILE *out, const exercise *ex, int n_ex) {
    fputs("student", out);
    for (int i = 0; i < n_ex; i++)
        if (ex[i].number) fprintf(out, ",ex%d", ex[i].number);
    fputs(",points,max_points,exercises_passed,together,notes\n", out);
}

void report_csv_row(FILE *out, const char *student, const result *rs, int n) {
    double points = 0, max = 0;
    int passed = 0;
    const char *together = "";
    char notes[2000] = "";
    csv_field(out, student);
    for (int i = 0; i < n; i++) {
        const result *r = &rs[i];
        if (!r->ex->number) {
            together = status_name(r->st);
            continue;
        }
        fprintf(out, ",%.2f", r->points);
        points += r->points;
        max += r->max_points;
        passed += r->st == ST_PASSED;
        if (r->st != ST_PASSED) {
            size_t at = strlen(notes);
            snprintf(notes + at, sizeof notes - at, "%sex%d %s%s%s%s", at ? "; " : "",
                     r->ex->number, status_name(r->st),
                     r->st == ST_FAILED ? " (wrong: " : r->note[0] ? " (" : "",
                     r->st == ST_FAILED ? r->wrong : r->note,
                     r->st == ST_FAILED || r->note[0] ? ")" : "");
        }
    }
    fprintf(out, ",%.2f,%.2f,%d,", points, max, passed);
    csv_field(out, together);
    fputc(',', out);
    csv_field(out, notes);
    fputc('\n', out);
}

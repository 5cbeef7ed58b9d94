/* ember-plot [options] FILE.csv... — training curves of ember-mnist/-cifar metrics files
 * and ember-ablate curves.csv files, one line per run, loss and accuracy against the step
 * or the epoch; ember-plot --confusion FILE.csv — a confusion matrix as a heat map. Writes
 * PREFIX.gp (the gnuplot script, data included) and, through gnuplot, PREFIX.png and
 * PREFIX.svg. Exit status: 0 done (also without gnuplot: the script is written and the note
 * says how to render it), 1 a write or gnuplot failed, 2 bad arguments or an input file
 * missing or not what it should be. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "examples/common/confusion.h"
#include "examples/common/gnuplot.h"
#include "examples/common/outfile.h"
#include "plot.h"

#define MAX_LABELS 64

typedef struct pl_opts {
    const char *out;            /* --out PREFIX (NULL: the default)        */
    const char *labels[MAX_LABELS];
    int n_labels;
    const char *match;
    const char *title;
    const char *confusion;      /* --confusion FILE                        */
    bool by_epoch;
    int width, height;          /* 0: the default of the figure            */
} pl_opts;

static void usage(FILE *f) {
    fprintf(f,
            "usage: ember-plot [options] FILE.csv...\n"
            "       ember-plot --confusion FILE.csv [options]\n\n"
            "Training curves: loss and accuracy against the step or the epoch, one line per\n"
            "run, from metrics files of ember-mnist/ember-cifar (--metrics) and curves.csv\n"
            "files of ember-ablate. With --confusion, a confusion matrix (written by\n"
            "ember-mnist/ember-cifar --confusion) as a heat map. Writes PREFIX.gp, a gnuplot\n"
            "script that holds its data, and renders it to PREFIX.png and PREFIX.svg.\n"
            "The training curve of a metrics file is its --log-every rows when it has them,\n"
            "else its epoch rows.\n\n"
            "options:\n"
            "  --out PREFIX          output names without extension (default: curves beside the\n"
            "                        first FILE; with --confusion, FILE without .csv)\n"
            "  --label TEXT          the label of a run: the first --label names the first FILE,\n"
            "                        the second the second, ... (default: the file's name;\n"
            "                        ember-ablate runs: their variant from runs.csv)\n"
            "  --match TEXT          draw only the runs whose label contains TEXT\n"
            "  --x step|epoch        the x axis (step)\n"
            "  --title TEXT          a title over the figure\n"
            "  --size WxH            image size in pixels (curves 1000x450, taller for more\n"
            "                        than 6 runs; confusion 700x640)\n"
            "  --confusion FILE.csv  draw this confusion matrix instead of curves\n"
            "  --help                this text\n\n"
            "Without gnuplot on PATH, PREFIX.gp is written and the note says how to render it.\n");
}

static bool parse_size(const char *s, pl_opts *o) {
    char *end;
    errno = 0;
    long w = strtol(s, &end, 10);
    if (errno || end == s || *end != 'x') return false;
    const char *h_text = end + 1;
    long h = strtol(h_text, &end, 10);
    if (errno || end == h_text || *end || w < 100 || h < 100 || w > 10000 || h > 10000) return false;
    o->width = (int)w;
    o->height = (int)h;
    return true;
}

/* 0 go on, 1 --help, 2 an error (printed) */
static int parse(int argc, char **argv, pl_opts *o) {
    memset(o, 0, sizeof *o);
    static const struct option longs[] = {
        {"out", 1, 0, 'o'}, {"label", 1, 0, 'l'}, {"match", 1, 0, 'm'}, {"x", 1, 0, 'x'},
        {"title", 1, 0, 't'}, {"size", 1, 0, 's'}, {"confusion", 1, 0, 'c'},
        {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    opterr = 0;
    int c;
    const char *bad = NULL;
    while (!bad && (c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'o': if (!*optarg) bad = "--out: an empty prefix"; else o->out = optarg; break;
        case 'l':
            if (o->n_labels == MAX_LABELS) bad = "--label: more than 64";
            else o->labels[o->n_labels++] = optarg;
            break;
        case 'm': o->match = optarg; break;
        case 't': o->title = optarg; break;
        case 'c': o->confusion = optarg; break;
        case 'x':
            if (strcmp(optarg, "step") && strcmp(optarg, "epoch")) bad = "--x: step or epoch";
            o->by_epoch = !strcmp(optarg, "epoch");
            break;
        case 's': if (!parse_size(optarg, o)) bad = "--size: WxH, each from 100 to 10000"; break;
        case 'h': return 1;
        case ':': fprintf(stderr, "ember-plot: option '%s' needs a value\n", argv[optind - 1]); return 2;
        default: fprintf(stderr, "ember-plot: unknown option '%s'\n", argv[optind - 1]); return 2;
        }
    }
    int files = argc - optind;
    if (!bad && o->confusion && files) bad = "--confusion draws one matrix: no other FILE";
    if (!bad && !o->confusion && !files) bad = "which metrics files? (FILE.csv...)";
    if (!bad && o->n_labels > files && !o->confusion) bad = "more --label than files";
    if (bad) {
        fprintf(stderr, "ember-plot: %s\nTry 'ember-plot --help'.\n", bad);
        return 2;
    }
    return 0;
}

/* PREFIX into its folder and its name: "results/main/curves" -> "results/main", "curves" */
static void split_prefix(const char *prefix, char *dir, size_t dlen, char *name, size_t nlen) {
    const char *slash = strrchr(prefix, '/');
    snprintf(name, nlen, "%s", slash ? slash + 1 : prefix);
    if (!slash) snprintf(dir, dlen, ".");
    else if (slash == prefix) snprintf(dir, dlen, "/");
    else snprintf(dir, dlen, "%.*s", (int)(slash - prefix), prefix);
}

/* the default prefix: "curves" beside the first file, or the confusion file minus .csv */
static void default_prefix(const pl_opts *o, const char *first, char *out, size_t len) {
    if (o->confusion) {
        size_t n = strlen(o->confusion);
        bool csv = n > 4 && !strcmp(o->confusion + n - 4, ".csv");
        snprintf(out, len, "%.*s", (int)(csv ? n - 4 : n), o->confusion);
        return;
    }
    const char *slash = strrchr(first, '/');
    snprintf(out, len, "%.*scurves", slash ? (int)(slash - first + 1) : 0, first);
}

/* the script of the figure into memory: EM_OK, or the code with the message printed */
static em_code make_script(const pl_opts *o, char **files, int n_files, pl_figure *fig,
                           char **text, size_t *len) {
    em_error err = {0};
    em_code code = EM_OK;
    FILE *m = open_memstream(text, len);
    if (!m) return em_error_set(&err, EM_ERR_NOMEM, "out of memory");
    if (o->confusion) {
        em_confusion c;
        if ((code = em_confusion_load(&c, o->confusion, &err)) == EM_OK) {
            pl_confusion_script(m, &c, fig);
            em_confusion_free(&c);
        }
    } else {
        pl_runs runs = {0};
        for (int i = 0; i < n_files && code == EM_OK; i++) {
            char name[160];
            pl_default_label(name, sizeof name, files[i], files, n_files);
            code = pl_read(&runs, files[i], i < o->n_labels ? o->labels[i] : NULL, name,
                           o->match, stderr, &err);
        }
        if (code == EM_OK && runs.n == 0)
            code = em_error_set(&err, EM_ERR_ARG, "no run to draw%s", o->match ? " (--match "
                                "left none)" : "");
        if (code == EM_OK) code = pl_curves_script(m, &runs, fig, &err);
        pl_runs_free(&runs);
    }
    if (fclose(m) != 0 && code == EM_OK) code = em_error_set(&err, EM_ERR_NOMEM, "out of memory");
    if (code != EM_OK) fprintf(stderr, "ember-plot: %s\n", err.msg);
    return code;
}

int main(int argc, char **argv) {
    pl_opts o;
    switch (parse(argc, argv, &o)) {
    case 1: usage(stdout); return 0;
    case 2: return 2;
    default: break;
    }
    char **files = argv + optind;
    int n_files = argc - optind;
    char prefix[4096], dir[4096], name[4096], sources[1024] = "";
    default_prefix(&o, n_files ? files[0] : "", prefix, sizeof prefix);
    split_prefix(o.out ? o.out : prefix, dir, sizeof dir, name, sizeof name);
    for (int i = 0; i < (o.confusion ? 1 : n_files); i++) {
        size_t at = strlen(sources);
        snprintf(sources + at, sizeof sources - at, "%s%s", i ? " " : "",
                 o.confusion ? o.confusion : files[i]);
    }
    pl_figure fig = {.name = name, .title = o.title, .by_epoch = o.by_epoch,
                     .width = o.width ? o.width : o.confusion ? 700 : 1000,
                     .height = o.height ? o.height : o.confusion ? 640 : 450, .sources = sources,
                     .grow = !o.height};
    char *text = NULL;
    size_t len = 0;
    em_code code = make_script(&o, files, n_files, &fig, &text, &len);
    if (code != EM_OK) {
        free(text);
        return code == EM_ERR_NOMEM ? 1 : 2;
    }
    char gp_path[8200], gp_name[4100];
    snprintf(gp_path, sizeof gp_path, "%s/%s.gp", dir, name);
    snprintf(gp_name, sizeof gp_name, "%s.gp", name);
    em_error err;
    code = em_outfile_write(gp_path, text, len, &err);
    free(text);
    if (code != EM_OK) {
        fprintf(stderr, "ember-plot: %s\n", err.msg);
        return 1;
    }
    char buf[4096], msg[1024];
    const char *gnuplot = em_gnuplot_find(buf, sizeof buf);
    if (!gnuplot) {
        fprintf(stderr, "ember-plot: note: gnuplot is not on PATH, so only %s was written (the "
                "figure's script, its data included). To draw %s.png and %s.svg, install "
                "gnuplot (Debian: apt-get install gnuplot-nox) and run: cd %s && gnuplot %s\n",
                gp_path, name, name, dir, gp_name);
        return 0;
    }
    if (em_gnuplot_run(gnuplot, dir, gp_name, msg, sizeof msg) != 0) {
        fprintf(stderr, "ember-plot: %s (the script is %s)\n", msg, gp_path);
        return 1;
    }
    printf("ember-plot: wrote %s/%s.png, %s.svg and %s\n", dir, name, name, gp_name);
    return 0;
}

/* tests/fuzz/fuzz_metrics.c — libFuzzer harness for the metrics CSV reader: the resume
 * path (em_metrics_open_resume) reads a file a crashed or foreign run may have left.
 *
 * Input layout: bytes 0..3 = last_step (little-endian, as a signed 32-bit value), then the
 * file's content. The reader must return a code, never crash, leak or read out of bounds,
 * and the rewritten file must be the header, then only whole input lines that are rows
 * with step <= last_step, in input order, then the row appended after it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_files.h"

#include "io/metrics.h"

static char metrics_dir[64];  /* made on first use, removed by the replay test */

static char *metrics_read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) abort();
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap + 1);
    for (size_t got; buf && (got = fread(buf + len, 1, cap - len, f)) > 0;) {
        len += got;
        if (len == cap) buf = realloc(buf, (cap *= 2) + 1);
    }
    if (!buf) abort();
    fclose(f);
    buf[len] = '\0';
    *n = len;
    return buf;
}

/* the line of in starting at *at (with its '\n'); advances *at; NULL at the end */
static const char *next_line(const char *in, size_t n, size_t *at, size_t *len) {
    if (*at >= n) return NULL;
    const char *s = in + *at;
    const char *nl = memchr(s, '\n', n - *at);
    *len = nl ? (size_t)(nl - s) + 1 : n - *at;
    *at += *len;
    return s;
}

int em_fuzz_metrics(const uint8_t *data, size_t size) {
    if (size < 4) return 0;
    int32_t last = (int32_t)((uint32_t)data[0] | (uint32_t)data[1] << 8 |
                             (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24);
    if (!metrics_dir[0]) {
        if (!em_test_mkdtemp_shm(metrics_dir, sizeof metrics_dir, "fuzz-metrics")) abort();
    }
    char path[128];
    snprintf(path, sizeof path, "%s/m.csv", metrics_dir);
    fuzz_write_file(path, data + 4, size - 4);
    em_metrics *m;
    em_error err = {0};
    if (em_metrics_open_resume(&m, path, last, &err) != EM_OK) {
        if (err.code != EM_ERR_IO || !err.msg[0]) abort();
        return 0;
    }
    em_metrics_row r = {7, 123456789, 0.5, 1, 0.5, 2, 0.25, 1, 1, false};
    if (em_metrics_write(m, &r, &err) != EM_OK || em_metrics_close(m, &err) != EM_OK) abort();

    size_t out_n, in_n = size - 4;
    char *out = metrics_read_file(path, &out_n);
    const char *in = (const char *)data + 4;
    static const char header[] = "epoch,step,lr,train_loss,train_acc,test_loss,test_acc,"
                                 "seconds,images_per_s,diverged\n";
    static const char appended[] = "7,123456789,0.5,1.000000,0.500000,2.000000,0.250000,"
                                   "1.000,1.0,0\n";
    size_t hl = sizeof header - 1, al = sizeof appended - 1;
    if (out_n < hl + al || memcmp(out, header, hl) || memcmp(out + out_n - al, appended, al))
        abort();
    /* the kept rows: a subsequence of the input's whole lines, each a row within last */
    size_t at_in = 0, at_out = hl, len, in_len;
    const char *line;
    while (at_out < out_n - al && (line = next_line(out, out_n - al, &at_out, &len))) {
        if (line[len - 1] != '\n') abort();
        int commas = 0;
        for (size_t i = 0; i < len; i++) commas += line[i] == ',';
        if (commas != 9) abort();
        long step = strtol(strchr(line, ',') + 1, NULL, 10);
        if (step > last || step < 0) abort();
        const char *cand;
        do {
            cand = next_line(in, in_n, &at_in, &in_len);
            if (!cand) abort();   /* not a line of the input, or out of order */
        } while (in_len != len || memcmp(cand, line, len));
    }
    free(out);
    return 0;
}

#ifndef EM_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    return em_fuzz_metrics(data, size);
}
#endif

/* tests/test_ckvalues.c — what a checkpoint load checks beyond the format: the values
 * (NaN and Inf weights, negative running variances, counters out of range, the caller's
 * requirements on its extras), each refused with a message naming the tensor and the model
 * left exactly as it was; and the memory a load may take (a header length or a JSON header
 * far beyond any checkpoint, a 1 TiB file) bounded by the checks before anything is read
 * or parsed. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "tempdir.h"

/* Linear(3, 4) BatchNorm1d(4) Linear(4, 2): weights, a running variance and a counter */
static em_module *small(uint64_t seed) {
    em_module *m = em_sequential_new(3, (em_module *[]){em_linear_new(3, 4, false),
                                                        em_batchnorm1d_new(4, NULL),
                                                        em_linear_new(4, 2, true)});
    cr_assert_not_null(m);
    em_rng rng;
    em_rng_seed(&rng, seed);
    em_module_init(m, &rng, NULL);
    return m;
}

/* every parameter, buffer and counter of a and b bit-identical */
static void assert_same(em_module *a, em_module *b) {
    em_params pa = em_module_params(a), pb = em_module_params(b);
    cr_assert(pa.n == pb.n && !memcmp(pa.data, pb.data, pa.n * sizeof *pa.data),
              "the model changed");
    em_entry va, vb;
    cr_assert(em_module_find(a, "1.running_var", &va) && em_module_find(b, "1.running_var", &vb));
    cr_assert(!memcmp(va.tensor->data, vb.tensor->data, va.tensor->size * sizeof(em_real)),
              "the running variance changed");
}

/* the model's state dict as tensors of em_st_save, F64 when f64, with `name`[index]
 * replaced by value (a counter takes it as an integer) */
typedef struct dict {
    em_st_tensor t[8];
    char names[8][32];
    double vals[8][16];
    int64_t counter;
    int n;
} dict;

static bool collect(void *ctx, const char *name, const em_entry *e) {
    dict *d = ctx;
    em_st_tensor *t = &d->t[d->n];
    snprintf(d->names[d->n], sizeof d->names[0], "%s", name);
    t->name = d->names[d->n];
    if (e->kind == EM_ENTRY_COUNTER) {
        d->counter = *e->counter;
        t->dtype = EM_ST_I64;
        t->ndim = 0;
        t->data = &d->counter;
    } else {
        t->dtype = EM_ST_F64;
        t->ndim = e->tensor->ndim;
        for (int k = 0; k < t->ndim; k++) t->shape[k] = e->tensor->shape[k];
        cr_assert(e->tensor->size <= 16);
        for (size_t i = 0; i < e->tensor->size; i++) d->vals[d->n][i] = e->tensor->data[i];
        t->data = d->vals[d->n];
    }
    d->n++;
    return true;
}

static void save_with(em_module *m, const char *path, const char *name, size_t index,
                      double value) {
    dict d = {.n = 0};
    em_module_visit(m, collect, &d);
    for (int i = 0; i < d.n; i++) {
        if (strcmp(d.t[i].name, name)) continue;
        if (d.t[i].dtype == EM_ST_I64) d.counter = (int64_t)value;
        else d.vals[i][index] = value;
    }
    em_error err;
    cr_assert_eq(em_st_save(path, d.n, d.t, 0, NULL, 0, &err), EM_OK, "%s", err.msg);
}

/* loading path into a fresh model fails with EM_ERR_FORMAT saying want, model unchanged */
static void refused(const char *path, const char *want) {
    em_module *m = small(2), *ref = small(2);
    em_error err = {0};
    cr_assert_eq(em_checkpoint_load(path, m, NULL, &err), EM_ERR_FORMAT, "loaded: %s", want);
    cr_assert(strstr(err.msg, want) && strstr(err.msg, path), "%s", err.msg);
    assert_same(m, ref);
    em_module_free(m);
    em_module_free(ref);
}

Test(checkpoint_values, nan_and_inf_weights_refused_naming_the_tensor, .init = make_dir,
     .fini = remove_dir) {
    em_module *m = small(1);
    save_with(m, in_dir("nan.st"), "0.weight", 5, NAN);
    refused(in_dir("nan.st"), "tensor '0.weight' holds NaN at index 5");
    save_with(m, in_dir("inf.st"), "2.bias", 1, -INFINITY);
    refused(in_dir("inf.st"), "tensor '2.bias' holds Inf at index 1");
    save_with(m, in_dir("mean.st"), "1.running_mean", 0, NAN);
    refused(in_dir("mean.st"), "tensor '1.running_mean' holds NaN");
    save_with(m, in_dir("ok.st"), "0.weight", 5, 0.25);   /* the same file, finite: loads */
    em_error err;
    cr_assert_eq(em_checkpoint_load(in_dir("ok.st"), m, NULL, &err), EM_OK, "%s", err.msg);
    em_module_free(m);
}

Test(checkpoint_values, f64_value_beyond_float_is_inf_in_the_float_build, .init = make_dir,
     .fini = remove_dir) {
    em_module *m = small(1);
    save_with(m, in_dir("big.st"), "0.weight", 0, 1e300);
#ifdef EM_DOUBLE
    em_error err;   /* a double holds it: a valid load */
    cr_assert_eq(em_checkpoint_load(in_dir("big.st"), m, NULL, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(em_module_params(m).data[0], 1e300);
#else
    refused(in_dir("big.st"), "tensor '0.weight' holds Inf at index 0 (beyond the range of float)");
#endif
    em_module_free(m);
}

Test(checkpoint_values, negative_running_variance_refused, .init = make_dir,
     .fini = remove_dir) {
    em_module *m = small(1);
    save_with(m, in_dir("var.st"), "1.running_var", 3, -0.5);
    refused(in_dir("var.st"), "tensor '1.running_var' holds -0.5 at index 3: a running "
                              "variance cannot be negative");
    save_with(m, in_dir("zero.st"), "1.running_var", 3, 0.0);   /* 0 is a variance */
    em_error err;
    cr_assert_eq(em_checkpoint_load(in_dir("zero.st"), m, NULL, &err), EM_OK, "%s", err.msg);
    em_module_free(m);
}

Test(checkpoint_values, counters_out_of_range_refused, .init = make_dir, .fini = remove_dir) {
    em_module *m = small(1);
    save_with(m, in_dir("neg.st"), "1.num_batches_tracked", 0, -1);
    refused(in_dir("neg.st"), "'1.num_batches_tracked' is -1, outside [0, 9007199254740992]");
    save_with(m, in_dir("huge.st"), "1.num_batches_tracked", 0, 9007199254740994.0);
    refused(in_dir("huge.st"), "'1.num_batches_tracked' is 9007199254740994");
    save_with(m, in_dir("max.st"), "1.num_batches_tracked", 0, 9007199254740992.0);
    em_error err;
    cr_assert_eq(em_checkpoint_load(in_dir("max.st"), m, NULL, &err), EM_OK, "%s", err.msg);
    em_module_free(m);
}

/* the caller's requirements on its extras: finite buffers, a step in range; NaN allowed
 * where the caller says nothing */
Test(checkpoint_values, extras_checked_as_required, .init = make_dir, .fini = remove_dir) {
    em_module *m = small(1);
    em_real buf[3] = {1, NAN, 3};
    int64_t step = -5;
    double stats[2] = {NAN, 1};
    em_ck_entry extra[] = {{"optim.buf", EM_ST_REAL, buf, 3}, {"optim.step", EM_ST_I64, &step, 1},
                           {"stats", EM_ST_F64, stats, 2}};
    em_ck_save_opts so = {.n_extra = 3, .extra = extra};
    em_error err;
    cr_assert_eq(em_checkpoint_save(in_dir("x.st"), m, &so, &err), EM_OK, "%s", err.msg);
    em_ck_require req[3] = {{EM_CK_FINITE, 0, 0}, {EM_CK_RANGE, 0, EM_CK_COUNTER_MAX},
                            {EM_CK_ANY, 0, 0}};
    em_real buf2[3] = {7, 7, 7};
    int64_t step2 = 7;
    double stats2[2] = {7, 7};
    em_ck_entry into[] = {{"optim.buf", EM_ST_REAL, buf2, 3}, {"optim.step", EM_ST_I64, &step2, 1},
                          {"stats", EM_ST_F64, stats2, 2}};
    em_ck_load_opts lo = {.n_extra = 3, .extra = into, .require = req};
    cr_assert_eq(em_checkpoint_load(in_dir("x.st"), m, &lo, &err), EM_ERR_FORMAT);
    cr_assert(strstr(err.msg, "tensor 'optim.buf' holds NaN at index 1"), "%s", err.msg);
    cr_assert(buf2[0] == 7 && step2 == 7 && stats2[0] == 7, "an extra changed");
    buf[1] = 2;
    cr_assert_eq(em_checkpoint_save(in_dir("x.st"), m, &so, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(em_checkpoint_load(in_dir("x.st"), m, &lo, &err), EM_ERR_FORMAT);
    cr_assert(strstr(err.msg, "'optim.step' is -5, outside [0, 9007199254740992]"), "%s", err.msg);
    step = 12;
    cr_assert_eq(em_checkpoint_save(in_dir("x.st"), m, &so, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(em_checkpoint_load(in_dir("x.st"), m, &lo, &err), EM_OK, "%s", err.msg);
    cr_assert(buf2[1] == 2 && step2 == 12 && isnan(stats2[0]), "the NaN statistic is allowed");
    em_module_free(m);
}

/* ---- bounded memory -------------------------------------------------------------------- */

static void write_header(const char *path, uint64_t hlen, const char *text, off_t size) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, &hlen, 8), 8);
    size_t n = strlen(text);
    cr_assert_eq(write(fd, text, n), (ssize_t)n);
    if (size) cr_assert_eq(ftruncate(fd, size), 0, "a sparse file of %lld bytes",
                           (long long)size);
    close(fd);
}

/* a 1 TiB file (sparse: no disk used) whose length field claims a 1 TiB header */
Test(checkpoint_bounded, header_length_checked_against_the_limit_before_reading,
     .init = make_dir, .fini = remove_dir) {
    const off_t tib = (off_t)1 << 40;
    write_header(in_dir("huge.st"), (uint64_t)tib - 8, "{", tib);
    em_st *st;
    em_error err;
    cr_assert_eq(em_st_read(&st, in_dir("huge.st"), &err), EM_ERR_FORMAT, "%s", err.msg);
    cr_assert(strstr(err.msg, "exceeds the limit of 104857600 bytes"), "%s", err.msg);
    write_header(in_dir("long.st"), (uint64_t)tib, "{", 4096);   /* claims more than there is */
    cr_assert_eq(em_st_read(&st, in_dir("long.st"), &err), EM_ERR_FORMAT, "%s", err.msg);
    cr_assert(strstr(err.msg, "is larger than the file (4088 bytes after the length field)"),
              "%s", err.msg);
}

/* a valid header describing one tensor of 1 TiB in a 1 TiB sparse file: loading it into
 * the small model reads the header and stops at the tensor nobody asked for; the data
 * section is never read (em_st_read would need 1 TiB of memory) */
Test(checkpoint_bounded, a_load_reads_only_what_the_model_takes, .init = make_dir,
     .fini = remove_dir) {
    const char *h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[268435456,1024],"
                    "\"data_offsets\":[0,1099511627776]}}";
    write_header(in_dir("tib.st"), strlen(h), h, (off_t)(8 + strlen(h)) + ((off_t)1 << 40));
    em_module *m = small(1), *ref = small(1);
    em_error err;
    cr_assert_eq(em_checkpoint_load(in_dir("tib.st"), m, NULL, &err), EM_ERR_FORMAT, "%s",
                 err.msg);
    cr_assert(strstr(err.msg, "tensor '0.weight' is missing"), "%s", err.msg);
    assert_same(m, ref);
    em_st *st;   /* the header alone: the tensor is there, its bytes not read */
    cr_assert_eq(em_st_open(&st, in_dir("tib.st"), &err), EM_OK, "%s", err.msg);
    cr_assert(st->n == 1 && st->tensors[0].numel == ((size_t)1 << 38) && !st->tensors[0].data);
    em_st_free(st);
    em_module_free(m);
    em_module_free(ref);
}

static long max_rss_kib(void) {
    struct rusage ru;
    cr_assert_eq(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

/* a 4 MB header of 2 million JSON values (a tree of about 128 MB in cJSON) is refused
 * before it is parsed: the peak memory grows by the header's bytes, not by the tree */
Test(checkpoint_bounded, json_values_capped_before_parsing, .init = make_dir,
     .fini = remove_dir) {
    size_t n = 2000000, len = 8 + 2 * n + 16;
    char *text = malloc(len);
    cr_assert_not_null(text);
    size_t at = (size_t)snprintf(text, len, "{\"a\":[0");
    for (size_t i = 1; i < n; i++) text[at++] = ',', text[at++] = '0';
    at += (size_t)snprintf(text + at, len - at, "]}");
    write_header(in_dir("json.st"), at, text, 0);
    free(text);
    long before = max_rss_kib();
    em_st *st;
    em_error err;
    cr_assert_eq(em_st_read(&st, in_dir("json.st"), &err), EM_ERR_FORMAT, "%s", err.msg);
    cr_assert(strstr(err.msg, "JSON values, more than the limit of 1048576"), "%s", err.msg);
    long grew = max_rss_kib() - before;
    cr_assert(grew < 48 * 1024, "peak memory grew by %ld KiB for a 4 MB header", grew);
}

/* a FIFO named as a checkpoint: refused at once, not waited on */
Test(checkpoint_bounded, fifo_refused_without_blocking, .init = make_dir, .fini = remove_dir,
     .timeout = 20) {
    cr_assert_eq(mkfifo(in_dir("fifo.st"), 0644), 0);
    em_module *m = small(1);
    em_error err;
    cr_assert_eq(em_checkpoint_load(in_dir("fifo.st"), m, NULL, &err), EM_ERR_IO);
    cr_assert(strstr(err.msg, "not a regular file"), "%s", err.msg);
    em_module_free(m);
}

/* reading the tensors from the file as they are restored gives the model em_st_read's
 * whole-file load gives, bit for bit */
Test(checkpoint_bounded, reading_as_needed_equals_reading_everything, .init = make_dir,
     .fini = remove_dir) {
    em_module *m = small(1), *a = small(5), *b = small(6);
    em_module_train(m, true);
    em_error err;
    cr_assert_eq(em_checkpoint_save(in_dir("m.st"), m, NULL, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(em_checkpoint_load(in_dir("m.st"), a, NULL, &err), EM_OK, "%s", err.msg);
    em_st *st;
    cr_assert_eq(em_st_read(&st, in_dir("m.st"), &err), EM_OK, "%s", err.msg);
    cr_assert_eq(em_checkpoint_apply(st, b, NULL, &err), EM_OK, "%s", err.msg);
    em_st_free(st);
    assert_same(a, m);
    assert_same(b, m);
    em_module_free(m);
    em_module_free(a);
    em_module_free(b);
}

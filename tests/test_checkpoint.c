/* tests/test_checkpoint.c — safetensors checkpoints: exact round trips, the file layout,
 * training extras, and every kind of damaged file: each gives an error that names the file
 * and the problem, and leaves the model exactly as it was. A save that fails part-way
 * leaves the previous checkpoint byte-identical. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "examples/common/models.h"
#include "helpers.h"
#include "tempdir.h"

/* ---- helpers --------------------------------------------------------------------------------- */


static unsigned char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*len + 1);
    cr_assert_eq(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

static void write_all(const char *path, const void *b, size_t len) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(b, 1, len, f), len);
    fclose(f);
}

/* a model with non-default values everywhere: init from seed, then one training forward
 * so the running statistics and num_batches_tracked move */
static em_module *model(const char *name, uint64_t seed) {
    int in[3];
    em_module *m = em_model_new(name, NULL, in);
    cr_assert_not_null(m);
    em_rng rng;
    em_rng_seed(&rng, seed);
    em_module_init(m, &rng, NULL);
    em_tensor *x = tensor_randn(&rng, 4, (int[]){4, in[0], in[1], in[2]}, 0, 1, 0);
    em_tape *tape = em_tape_new(0);
    em_module_train(m, true);
    cr_assert_not_null(em_module_forward(m, tape, x));
    em_tape_free(tape);
    em_tensor_free(x);
    return m;
}

/* every value of every entry, as bytes */
typedef struct snap {
    unsigned char *b;
    size_t len, cap;
} snap;

static bool snap_fn(void *ctx, const char *name, const em_entry *e) {
    (void)name;
    snap *s = ctx;
    const void *p = e->kind == EM_ENTRY_COUNTER ? (const void *)e->counter : e->tensor->data;
    size_t n = e->kind == EM_ENTRY_COUNTER ? 8 : e->tensor->size * sizeof(em_real);
    if (s->len + n > s->cap) {
        s->cap = 2 * (s->len + n);
        s->b = realloc(s->b, s->cap);
    }
    memcpy(s->b + s->len, p, n);
    s->len += n;
    return true;
}

static snap snapshot(em_module *m) {
    snap s = {0};
    em_module_visit(m, snap_fn, &s);
    return s;
}

static void assert_same_state(em_module *a, em_module *b) {
    snap x = snapshot(a), y = snapshot(b);
    cr_assert_eq(x.len, y.len);
    cr_assert(!memcmp(x.b, y.b, x.len), "state differs");
    free(x.b);
    free(y.b);
}

/* Rewrite src's header through fn (cJSON), keep the data section, write dst. */
static void rewrite_header(const char *src, const char *dst, void (*fn)(cJSON *root)) {
    size_t len;
    unsigned char *b = read_all(src, &len);
    uint64_t hlen;
    memcpy(&hlen, b, 8);
    char *text = malloc(hlen + 1);
    memcpy(text, b + 8, hlen);
    text[hlen] = 0;
    cJSON *root = cJSON_Parse(text);
    cr_assert_not_null(root);
    fn(root);
    char *out = cJSON_PrintUnformatted(root);
    uint64_t nlen = (strlen(out) + 7) / 8 * 8;
    FILE *f = fopen(dst, "wb");
    fwrite(&nlen, 8, 1, f);
    fprintf(f, "%-*s", (int)nlen, out);
    fwrite(b + 8 + hlen, 1, len - 8 - hlen, f);
    fclose(f);
    cJSON_free(out);
    cJSON_Delete(root);
    free(text);
    free(b);
}

/* Loading `path` into a fresh mnist-cnn must fail with code, a message naming the file and
 * containing `what`, and change nothing. */
static void assert_load_fails(const char *path, em_code code, const char *what) {
    em_module *m = model("mnist-cnn", 99);
    snap before = snapshot(m);
    em_error err = {0};
    em_code c = em_checkpoint_load(path, m, NULL, &err);
    cr_assert_eq(c, code, "load of %s: got %s (%s), want %s", path, em_code_name(c), err.msg,
                 em_code_name(code));
    cr_assert(strstr(err.msg, path), "the message does not name the file: %s", err.msg);
    cr_assert(strstr(err.msg, what), "the message does not say '%s': %s", what, err.msg);
    snap after = snapshot(m);
    cr_assert_eq(before.len, after.len);
    cr_assert(!memcmp(before.b, after.b, before.len), "a failed load changed the model");
    printf("%-22s -> %s\n", what, err.msg);
    free(before.b);
    free(after.b);
    em_module_free(m);
}

/* a good mnist-cnn checkpoint in the test directory */
static const char *good(void) {
    em_module *m = model("mnist-cnn", 1);
    em_ck_save_opts o = {.model_name = "mnist-cnn", .config = "test", .progress = "step 1"};
    em_error err;
    cr_assert_eq(em_checkpoint_save(in_dir("good.safetensors"), m, &o, &err), EM_OK, "%s", err.msg);
    em_module_free(m);
    return in_dir("good.safetensors");
}

/* ---- round trips ------------------------------------------------------------------------------ */

Test(checkpoint, round_trip_is_exact_with_pytorch_names_and_metadata, .init = make_dir,
     .fini = remove_dir) {
    em_module *a = model("mnist-cnn", 1), *b = model("mnist-cnn", 2);
    em_ck_save_opts o = {.model_name = "mnist-cnn", .config = "lr=0.1 \"bs\"=8\nbn=1",
                         .progress = "epoch 1/3", .n_meta = 1,
                         .meta = (em_st_meta[]){{"note", "hello"}}};
    em_error err;
    const char *path = in_dir("a.safetensors");
    cr_assert_eq(em_checkpoint_save(path, a, &o, &err), EM_OK, "%s", err.msg);
    cr_assert_eq(access(in_dir("a.safetensors.tmp"), F_OK), -1, "the .tmp file was left behind");
    cr_assert_eq(em_checkpoint_load(path, b, NULL, &err), EM_OK, "%s", err.msg);
    assert_same_state(a, b);
    em_entry e;
    cr_assert(em_module_find(b, "1.num_batches_tracked", &e) && *e.counter == 1);

    em_st *st;
    cr_assert_eq(em_st_read(&st, path, &err), EM_OK, "%s", err.msg);
    cr_assert_str_eq(em_st_meta_get(st, "model"), "mnist-cnn");
    cr_assert_str_eq(em_st_meta_get(st, "config"), "lr=0.1 \"bs\"=8\nbn=1");
    cr_assert_str_eq(em_st_meta_get(st, "progress"), "epoch 1/3");
    cr_assert_str_eq(em_st_meta_get(st, "note"), "hello");
    cr_assert_str_eq(em_st_meta_get(st, "format"), "pt");
    const em_st_tensor *w = em_st_find(st, "0.weight");
    cr_assert_not_null(w);
    cr_assert_eq(w->dtype, EM_ST_REAL);
    cr_assert(w->ndim == 4 && w->shape[0] == 16 && w->shape[1] == 1 && w->shape[3] == 3);
    const em_st_tensor *c = em_st_find(st, "5.num_batches_tracked");
    cr_assert(c && c->dtype == EM_ST_I64 && c->ndim == 0 && c->numel == 1);
    cr_assert_null(em_st_find(st, "2.weight"), "ReLU has no state");
    int n_entries = 0;
    for (int i = 0; i < st->n; i++) n_entries++;
    cr_assert_eq(n_entries, 20, "mnist-cnn+BN has 20 state-dict entries, the file %d", n_entries);
    em_st_free(st);
    em_module_free(a);
    em_module_free(b);
}

Test(checkpoint, file_layout_is_safetensors, .init = make_dir, .fini = remove_dir) {
    size_t len;
    unsigned char *b = read_all(good(), &len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | b[i];      /* little-endian u64 */
    cr_assert_eq(hlen % 8, 0, "header padded to a multiple of 8");
    cr_assert_eq(b[8], '{');
    cr_assert(hlen < len);
    char *text = malloc(hlen + 1);
    memcpy(text, b + 8, hlen);
    text[hlen] = 0;
    cJSON *root = cJSON_Parse(text);
    cr_assert_not_null(root);
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    cr_assert(cJSON_IsObject(meta));
    for (cJSON *e = meta->child; e; e = e->next) cr_assert(cJSON_IsString(e), "%s", e->string);
    cJSON *w = cJSON_GetObjectItemCaseSensitive(root, "0.weight");
    cr_assert_str_eq(cJSON_GetObjectItemCaseSensitive(w, "dtype")->valuestring,
                     sizeof(em_real) == 4 ? "F32" : "F64");
    cJSON *off = cJSON_GetObjectItemCaseSensitive(w, "data_offsets");
    cr_assert_eq(off->child->valuedouble, 0, "the first tensor starts the data section");
    cr_assert_eq(off->child->next->valuedouble, 16 * 9 * sizeof(em_real));
    cJSON_Delete(root);
    free(text);
    free(b);
}

Test(checkpoint, training_extras_round_trip_and_strictness, .init = make_dir,
     .fini = remove_dir) {
    em_module *a = model("mlp", 1), *b = model("mlp", 2);
    em_real vel[5] = {1.5, -2, 3, 0, 1e-3}, vel2[5] = {0};
    int64_t step = 123456789012, step2 = 0;
    em_rng rng, rng2;
    em_rng_seed(&rng, 77);
    (void)em_rng_u32(&rng);
    memset(&rng2, 0, sizeof rng2);
    em_ck_entry save[] = {{"optim.momentum_buffer", EM_ST_REAL, vel, 5},
                          {"train.step", EM_ST_I64, &step, 1}, EM_CK_RNG("rng.data", &rng)};
    em_ck_entry load[] = {{"optim.momentum_buffer", EM_ST_REAL, vel2, 5},
                          {"train.step", EM_ST_I64, &step2, 1}, EM_CK_RNG("rng.data", &rng2)};
    em_ck_save_opts so = {.model_name = "mlp", .n_extra = 3, .extra = save};
    em_error err;
    const char *path = in_dir("train.safetensors");
    cr_assert_eq(em_checkpoint_save(path, a, &so, &err), EM_OK, "%s", err.msg);

    /* a model-only load of a training checkpoint: strict by default, fine when asked */
    cr_assert_eq(em_checkpoint_load(path, b, NULL, &err), EM_ERR_FORMAT);
    cr_assert(strstr(err.msg, "unexpected tensor 'optim.momentum_buffer'"), "%s", err.msg);
    em_ck_load_opts lo = {.allow_unused = true};
    cr_assert_eq(em_checkpoint_load(path, b, &lo, &err), EM_OK, "%s", err.msg);
    assert_same_state(a, b);

    em_module *c = model("mlp", 3);
    lo = (em_ck_load_opts){.n_extra = 3, .extra = load, .expect_model = "mlp"};
    cr_assert_eq(em_checkpoint_load(path, c, &lo, &err), EM_OK, "%s", err.msg);
    assert_same_state(a, c);
    cr_assert(!memcmp(vel, vel2, sizeof vel));
    cr_assert_eq(step2, step);
    cr_assert(rng2.state == rng.state && rng2.inc == rng.inc);
    cr_assert_eq(em_rng_u32(&rng2), em_rng_u32(&rng), "the restored rng continues the stream");

    /* an extra of the wrong length, and the wrong model */
    em_real small[4];
    em_ck_entry bad[] = {{"optim.momentum_buffer", EM_ST_REAL, small, 4}};
    lo = (em_ck_load_opts){.n_extra = 1, .extra = bad, .allow_unused = true};
    cr_assert_eq(em_checkpoint_load(path, c, &lo, &err), EM_ERR_FORMAT);
    cr_assert(strstr(err.msg, "shape (5,) in the file but (4,)"), "%s", err.msg);
    lo = (em_ck_load_opts){.expect_model = "mnist-cnn", .allow_unused = true};
    cr_assert_eq(em_checkpoint_load(path, c, &lo, &err), EM_ERR_FORMAT);
    cr_assert(strstr(err.msg, "a checkpoint of 'mlp', not of 'mnist-cnn'"), "%s", err.msg);
    em_module_free(a);
    em_module_free(b);
    em_module_free(c);
}

/* F32 files load into the double build and F64 files into the float build (PyTorch models
 * are float32; a float64 export is allowed) */
Test(checkpoint, loads_f32_and_f64_files_alike, .init = make_dir, .fini = remove_dir) {
    em_module *a = model("mlp", 1);
    em_st *st;
    em_error err;
    cr_assert_eq(em_st_read(&st, good(), &err), EM_OK);
    em_st_free(st);
    /* write a's state by hand in the other precision */
    em_ck_save_opts o = {0};
    cr_assert_eq(em_checkpoint_save(in_dir("native.safetensors"), a, &o, &err), EM_OK);
    cr_assert_eq(em_st_read(&st, in_dir("native.safetensors"), &err), EM_OK);
    em_st_tensor *t = calloc((size_t)st->n, sizeof *t);
    void **bufs = calloc((size_t)st->n, sizeof *bufs);
    for (int i = 0; i < st->n; i++) {
        t[i] = st->tensors[i];
        if (t[i].dtype != EM_ST_REAL) continue;
        bufs[i] = malloc(t[i].numel * 8);
        for (size_t k = 0; k < t[i].numel; k++) {
            em_real v;
            memcpy(&v, (const char *)t[i].data + k * sizeof v, sizeof v);
            if (sizeof(em_real) == 4) ((double *)bufs[i])[k] = v;
            else ((float *)bufs[i])[k] = (float)v;
        }
        t[i].dtype = sizeof(em_real) == 4 ? EM_ST_F64 : EM_ST_F32;
        t[i].data = bufs[i];
    }
    cr_assert_eq(em_st_save(in_dir("other.safetensors"), st->n, t, 0, NULL, 0, &err), EM_OK);
    em_module *b = model("mlp", 2);
    cr_assert_eq(em_checkpoint_load(in_dir("other.safetensors"), b, NULL, &err), EM_OK, "%s",
                 err.msg);
    em_entry ea, eb;
    cr_assert(em_module_find(a, "1.weight", &ea) && em_module_find(b, "1.weight", &eb));
    for (size_t k = 0; k < ea.tensor->size; k++)
        cr_assert_float_eq(eb.tensor->data[k], ea.tensor->data[k], 1e-7 * fabs(ea.tensor->data[k]));
    for (int i = 0; i < st->n; i++) free(bufs[i]);
    free(bufs);
    free(t);
    em_st_free(st);
    em_module_free(a);
    em_module_free(b);
}

/* ---- damaged files: each a clear error, the model unchanged ---------------------------------- */

Test(corrupt, truncated_file, .init = make_dir, .fini = remove_dir) {
    size_t len;
    unsigned char *b = read_all(good(), &len);
    write_all(in_dir("cut.safetensors"), b, len / 2);
    assert_load_fails(in_dir("cut.safetensors"), EM_ERR_FORMAT, "truncated");
    write_all(in_dir("tiny.safetensors"), b, 5);
    assert_load_fails(in_dir("tiny.safetensors"), EM_ERR_FORMAT, "truncated");
    write_all(in_dir("empty.safetensors"), b, 0);
    assert_load_fails(in_dir("empty.safetensors"), EM_ERR_FORMAT, "truncated");
    free(b);
}

Test(corrupt, header_length_larger_than_the_file, .init = make_dir, .fini = remove_dir) {
    size_t len;
    unsigned char *b = read_all(good(), &len);
    uint64_t big = len;
    memcpy(b, &big, 8);
    write_all(in_dir("long.safetensors"), b, len);
    assert_load_fails(in_dir("long.safetensors"), EM_ERR_FORMAT, "larger than the file");
    free(b);
}

Test(corrupt, invalid_json, .init = make_dir, .fini = remove_dir) {
    size_t len;
    unsigned char *b = read_all(good(), &len);
    uint64_t hlen;
    memcpy(&hlen, b, 8);
    size_t last = 8 + hlen - 1;                            /* drop the closing brace */
    while (b[last] != '}') last--;
    b[last] = ' ';
    write_all(in_dir("json.safetensors"), b, len);
    assert_load_fails(in_dir("json.safetensors"), EM_ERR_FORMAT, "not valid JSON");
    free(b);
}

static void set_dtype_f33(cJSON *root) {
    cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "4.weight");
    cJSON_ReplaceItemInObjectCaseSensitive(e, "dtype", cJSON_CreateString("F33"));
}

Test(corrupt, unknown_dtype, .init = make_dir, .fini = remove_dir) {
    rewrite_header(good(), in_dir("dtype.safetensors"), set_dtype_f33);
    assert_load_fails(in_dir("dtype.safetensors"), EM_ERR_FORMAT, "unknown dtype 'F33'");
}

/* move "1.bias" (16 values) to [begin, begin + 16 * size) */
static void move_bias(cJSON *root, double begin) {
    cJSON *off = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "1.bias"), "data_offsets");
    cJSON_SetNumberValue(off->child, begin);
    cJSON_SetNumberValue(off->child->next, begin + 16 * sizeof(em_real));
}

static void bias_past_the_end(cJSON *root) { move_bias(root, 1e9); }

static void bias_over_weight(cJSON *root) {
    cJSON *w = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "1.weight"), "data_offsets");
    move_bias(root, w->child->valuedouble + 8 * sizeof(em_real));
}

Test(corrupt, offsets_out_of_range, .init = make_dir, .fini = remove_dir) {
    rewrite_header(good(), in_dir("range.safetensors"), bias_past_the_end);
    assert_load_fails(in_dir("range.safetensors"), EM_ERR_FORMAT, "out of range");
}

Test(corrupt, overlapping_offsets, .init = make_dir, .fini = remove_dir) {
    rewrite_header(good(), in_dir("overlap.safetensors"), bias_over_weight);
    assert_load_fails(in_dir("overlap.safetensors"), EM_ERR_FORMAT, "overlap");
}

static void drop_gap(cJSON *root) {    /* remove 1.bias from the header: its bytes are a hole */
    cJSON_DeleteItemFromObjectCaseSensitive(root, "1.bias");
}

Test(corrupt, bytes_that_belong_to_no_tensor, .init = make_dir, .fini = remove_dir) {
    rewrite_header(good(), in_dir("gap.safetensors"), drop_gap);
    assert_load_fails(in_dir("gap.safetensors"), EM_ERR_FORMAT, "belong to no tensor");
}

Test(corrupt, missing_tensor, .init = make_dir, .fini = remove_dir) {
    em_st *st;
    em_error err;
    cr_assert_eq(em_st_read(&st, good(), &err), EM_OK);
    em_st_tensor *t = calloc((size_t)st->n, sizeof *t);
    int n = 0;
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->tensors[i].name, "5.running_var")) t[n++] = st->tensors[i];
    cr_assert_eq(n, st->n - 1);
    em_st_meta meta[] = {{"model", "mnist-cnn"}};
    cr_assert_eq(em_st_save(in_dir("missing.safetensors"), n, t, 1, meta, 0, &err), EM_OK);
    free(t);
    em_st_free(st);
    assert_load_fails(in_dir("missing.safetensors"), EM_ERR_FORMAT,
                      "tensor '5.running_var' is missing");
}

Test(corrupt, shape_mismatch_cifar_checkpoint_into_mnist_cnn, .init = make_dir,
     .fini = remove_dir) {
    em_module *c = model("cifar-cnn", 1);
    em_ck_save_opts o = {.model_name = "cifar-cnn"};
    em_error err;
    cr_assert_eq(em_checkpoint_save(in_dir("cifar.safetensors"), c, &o, &err), EM_OK);
    em_module_free(c);
    assert_load_fails(in_dir("cifar.safetensors"), EM_ERR_FORMAT,
                      "tensor '0.weight' has shape (32, 3, 3, 3) in the file but (16, 1, 3, 3) "
                      "in the model");
}

Test(corrupt, wrong_dtype_and_bad_metadata, .init = make_dir, .fini = remove_dir) {
    em_st *st;
    em_error err;
    cr_assert_eq(em_st_read(&st, good(), &err), EM_OK);
    em_st_tensor *t = calloc((size_t)st->n, sizeof *t);
    int64_t ints[16] = {0};
    for (int i = 0; i < st->n; i++) {
        t[i] = st->tensors[i];
        if (!strcmp(t[i].name, "1.running_mean")) t[i].dtype = EM_ST_I64, t[i].data = ints;
    }
    cr_assert_eq(em_st_save(in_dir("i64.safetensors"), st->n, t, 0, NULL, 0, &err), EM_OK);
    free(t);
    em_st_free(st);
    assert_load_fails(in_dir("i64.safetensors"), EM_ERR_FORMAT,
                      "tensor '1.running_mean' has dtype I64");
    const char bad[] = "{\"__metadata__\":{\"epoch\":3}}   ";
    unsigned char b[8 + sizeof bad];
    uint64_t hl = sizeof bad - 1;
    memcpy(b, &hl, 8);
    memcpy(b + 8, bad, hl);
    write_all(in_dir("meta.safetensors"), b, 8 + hl);
    assert_load_fails(in_dir("meta.safetensors"), EM_ERR_FORMAT, "is not a string");
}

Test(corrupt, missing_file_is_an_io_error) {
    assert_load_fails("/nonexistent/ember/x.safetensors", EM_ERR_IO, "cannot open");
}

/* ---- crash-safe saving ------------------------------------------------------------------------ */

Test(checkpoint, failed_save_leaves_the_previous_checkpoint_intact, .init = make_dir,
     .fini = remove_dir) {
    const char *path = good();
    size_t len;
    unsigned char *old = read_all(path, &len);
    em_module *m = model("mnist-cnn", 5);
    /* fail in the length field, in the header, in the data, and one byte before the end */
    size_t at[] = {3, 100, len / 2, len - 1};
    for (int i = 0; i < 4; i++) {
        em_ck_save_opts o = {.model_name = "mnist-cnn", .config = "test", .progress = "step 2",
                             .fail_after_bytes = at[i]};
        em_error err = {0};
        cr_assert_eq(em_checkpoint_save(path, m, &o, &err), EM_ERR_IO, "fail at %zu", at[i]);
        cr_assert(strstr(err.msg, path) && strstr(err.msg, "failed after"), "%s", err.msg);
        size_t now_len;
        unsigned char *now = read_all(path, &now_len);
        cr_assert(now_len == len && !memcmp(now, old, len),
                  "a save that failed after %zu bytes changed the old checkpoint", at[i]);
        cr_assert_eq(access(in_dir("good.safetensors.tmp"), F_OK), -1, ".tmp left behind");
        free(now);
        if (i == 2) printf("failed save: %s\n", err.msg);
    }
    /* and the next save goes through */
    em_error err;
    cr_assert_eq(em_checkpoint_save(path, m, NULL, &err), EM_OK, "%s", err.msg);
    em_module *n = model("mnist-cnn", 6);
    cr_assert_eq(em_checkpoint_load(path, n, NULL, &err), EM_OK, "%s", err.msg);
    assert_same_state(m, n);
    em_module_free(m);
    em_module_free(n);
    free(old);
}

Test(checkpoint, save_into_a_missing_directory_is_an_io_error) {
    em_module *m = model("mlp", 1);
    em_error err;
    cr_assert_eq(em_checkpoint_save("/nonexistent/ember/m.safetensors", m, NULL, &err), EM_ERR_IO);
    cr_assert(strstr(err.msg, "/nonexistent/ember/m.safetensors"), "%s", err.msg);
    em_module_free(m);
}

/* finite_only (what the programs use): a model holding NaN or Inf in a weight or a running
 * statistic is refused, by name, and the good checkpoint there stays byte-identical */
Test(checkpoint, finite_only_never_writes_nan_over_a_good_checkpoint, .init = make_dir,
     .fini = remove_dir) {
    const char *path = good();
    size_t len;
    unsigned char *old = read_all(path, &len);
    const char *where[] = {"4.weight", "1.running_var"};
    const float poison[] = {NAN, INFINITY};
    for (int i = 0; i < 2; i++) {
        em_module *m = model("mnist-cnn", 5);
        em_entry e;
        cr_assert(em_module_find(m, where[i], &e), "no entry %s", where[i]);
        e.tensor->data[e.tensor->size / 2] = (em_real)poison[i];
        em_ck_save_opts o = {.model_name = "mnist-cnn", .finite_only = true};
        em_error err = {0};
        cr_assert_eq(em_checkpoint_save(path, m, &o, &err), EM_ERR_NUMERIC, "%s", err.msg);
        cr_assert(strstr(err.msg, path) && strstr(err.msg, where[i]) &&
                  strstr(err.msg, "NaN or Inf"), "%s", err.msg);
        size_t now_len;
        unsigned char *now = read_all(path, &now_len);
        cr_assert(now_len == len && !memcmp(now, old, len), "the good checkpoint changed");
        free(now);
        /* without the option the same model saves (a user may want to inspect it) */
        o.finite_only = false;
        cr_assert_eq(em_checkpoint_save(in_dir("inspect.safetensors"), m, &o, &err), EM_OK,
                     "%s", err.msg);
        em_module_free(m);
    }
    free(old);
}

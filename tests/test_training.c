/* tests/test_training.c — a real training loop on the tape, on each kernel tier: the loss
 * falls, and the steady state takes no new arena chunk after the second step; on the fast
 * tier (outside sanitizer builds, whose allocator we must not replace) no malloc at all.
 *
 * The reference tier's matrix products are OpenBLAS calls (em_gemm), and OpenBLAS 0.3.21
 * (Debian 12) mallocs a buffer inside small sgemm calls: OpenBLAS's memory, not ember's,
 * but a malloc per step all the same, which is why the count is the fast tier's promise.
 * (ember-bench reports the per-step count.) */
#include "examples/common/models.h"
#include "helpers.h"

#include <stdlib.h>

#if !defined(__SANITIZE_ADDRESS__)
/* Count this thread's heap allocations by interposing malloc and friends in the test
 * binary; glibc's own functions do the work. */
#define COUNT_MALLOCS 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
static _Atomic size_t n_allocs;
void *malloc(size_t n) { n_allocs++; return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { n_allocs++; return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { n_allocs++; return __libc_realloc(p, n); }
void *aligned_alloc(size_t a, size_t n) { n_allocs++; return __libc_memalign(a, n); }
#endif


/* One SGD step with momentum on the flat parameter block (what optim/ will do). */
static void sgd_step(em_params p, em_real *vel, em_real lr, em_real mu) {
    for (size_t i = 0; i < p.n; i++) {
        vel[i] = mu * vel[i] + p.grad[i];
        p.data[i] -= lr * vel[i];
        p.grad[i] = 0;
    }
}

/* a learnable synthetic problem: x = prototype of its class + unit noise */
static void make_batch(em_rng *rng, const em_real *proto, em_tensor *x, int *labels, int N) {
    for (int n = 0; n < N; n++) {
        labels[n] = (int)em_rng_below(rng, 10);
        for (int i = 0; i < 784; i++)
            x->data[n * 784 + i] = proto[labels[n] * 784 + i] + (em_real)em_rng_normal(rng, 0, 1);
    }
}

static void train_mlp(const em_kernels *k) {
    enum { N = 32, STEPS = 60 };
    em_rng rng;
    em_rng_seed(&rng, 1);
    em_model_opts o = em_model_defaults();
    o.act = "relu";
    int in[3];
    em_module *net = em_model_new("mlp", &o, in);
    em_module_init(net, &rng, NULL);
    em_params p = em_module_params(net);
    em_real *vel = calloc(p.n, sizeof *vel);
    em_real *proto = malloc(10 * 784 * sizeof *proto);
    for (int i = 0; i < 10 * 784; i++) proto[i] = (em_real)em_rng_normal(&rng, 0, 1);
    em_tensor *x = em_tensor_new(4, (int[]){N, 1, 28, 28}, 0);
    int labels[N];
    em_tape *tape = em_tape_new(64 << 10);  /* small chunks: growth must happen, then stop */
    em_tape_set_kernels(tape, k);
    const bool fast = k == em_kernels_fast();
    double first_loss = 0, last_loss = 0;
    size_t chunks_after_2 = 0, capacity_after_2 = 0;
    size_t allocs_in_steady_state = 0;
    for (int step = 1; step <= STEPS; step++) {
        make_batch(&rng, proto, x, labels, N);
#ifdef COUNT_MALLOCS
        size_t before = n_allocs;
#endif
        em_tensor *loss = em_cross_entropy(tape, em_module_forward(net, tape, x), labels);
        cr_assert_eq(em_backward(tape, loss), EM_OK, "%s", tape->err.msg);
        double l = loss->data[0];
        sgd_step(p, vel, 0.05f, 0.9f);
        em_tape_reset(tape);
#ifdef COUNT_MALLOCS
        if (step > 2) allocs_in_steady_state += n_allocs - before;
#endif
        if (step <= 5) first_loss += l / 5;
        if (step > STEPS - 5) last_loss += l / 5;
        if (step == 2) {
            chunks_after_2 = tape->arena->chunk_allocs;
            capacity_after_2 = tape->arena->capacity;
        }
    }
    cr_assert_gt(chunks_after_2, 1, "the test should make the arena grow at first");
    cr_assert_eq(tape->arena->chunk_allocs, chunks_after_2, "new arena chunks after step 2");
    cr_assert_eq(tape->arena->capacity, capacity_after_2);
    cr_assert(!fast || allocs_in_steady_state == 0, "%zu mallocs after step 2",
              allocs_in_steady_state);
#ifdef COUNT_MALLOCS
    printf("%s tier, steady state: %zu mallocs, %zu arena chunks, high-water %zu bytes\n",
           k->name, allocs_in_steady_state, tape->arena->chunk_allocs, tape->arena->high_water);
#else
    printf("sanitizer build: malloc counting off (ASan owns malloc); arena counters checked\n");
#endif
    cr_assert_lt(last_loss, 0.6 * first_loss, "loss %.3f -> %.3f: not learning", first_loss, last_loss);
    em_tape_free(tape);
    em_tensor_free(x);
    free(proto);
    free(vel);
    em_module_free(net);
}

Test(training, mlp_with_bn_learns_and_steady_state_allocates_nothing) {
    train_mlp(em_kernels_fast());
}

Test(training, reference_tier_learns_and_takes_no_new_arena_chunk) {
    train_mlp(em_kernels_reference());
}

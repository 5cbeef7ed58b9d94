/* core/kernels.c — choosing a tier by name (core/kernels.h). The tables themselves are in
 * core/ops/table.c (reference) and core/fast/table.c (fast). */
#include "kernels.h"

#include <stdlib.h>
#include <string.h>

#include "ember_config.h"  /* EM_DEFAULT_KERNELS, from meson.build */

const em_kernels *em_kernels_by_name(const char *name) {
    if (!name) return NULL;
    if (!strcmp(name, "reference")) return em_kernels_reference();
    if (!strcmp(name, "fast")) return em_kernels_fast();
    return NULL;
}

const em_kernels *em_kernels_default(void) {
    const char *env = getenv("EMBER_KERNELS");
    const em_kernels *k = env && *env ? em_kernels_by_name(env) : NULL;
    return k ? k : em_kernels_by_name(EM_DEFAULT_KERNELS);
}

em_code em_kernels_from_env(const em_kernels **out, em_error *err) {
    const char *env = getenv("EMBER_KERNELS");
    *out = em_kernels_default();
    if (env && *env && !em_kernels_by_name(env))
        return em_error_set(err, EM_ERR_ARG, "EMBER_KERNELS=%s: the kernel tier is "
                            "'reference' or 'fast' (or unset: %s)", env, EM_DEFAULT_KERNELS);
    return EM_OK;
}

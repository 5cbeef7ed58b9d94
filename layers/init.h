/** layers/init.h — weight initialization, all from the library rng.
 *
 *     em_init init = {.kind = EM_INIT_NORMAL, .std = 0.01};   // N(0, 0.01^2)
 *     em_module_init(net, &rng, &init);
 *
 * For a weight with fan_in = in_features (Linear) or Cin*kh*kw (Conv2d) and fan_out =
 * out_features or Cout*kh*kw:
 *   EM_INIT_DEFAULT          PyTorch's default: kaiming-uniform with a = sqrt(5), which
 *                            is U(-1/sqrt(fan_in), 1/sqrt(fan_in)); bias likewise.
 *   EM_INIT_KAIMING_UNIFORM  U(-b, b), b = sqrt(6 / fan_in)  (gain sqrt(2), for ReLU)
 *   EM_INIT_KAIMING_NORMAL   N(0, 2 / fan_in)
 *   EM_INIT_XAVIER_UNIFORM   U(-b, b), b = sqrt(6 / (fan_in + fan_out))
 *   EM_INIT_XAVIER_NORMAL    N(0, 2 / (fan_in + fan_out))
 *   EM_INIT_NORMAL           N(0, std^2)   (the init-scale experiment's N(0, w^2))
 * Biases are zero except under EM_INIT_DEFAULT. After the rule, every weight is
 * multiplied by `scale` (0 means 1), the global factor of the init-sensitivity experiment.
 * BatchNorm always starts at gamma = 1, beta = 0, running mean 0, running variance 1.
 *
 * @file
 */
#ifndef EM_INIT_H
#define EM_INIT_H

#include "../core/rng.h"
#include "../core/tensor.h"

/** The initialization rules (the table above). */
typedef enum em_init_kind {
    EM_INIT_DEFAULT,          /**< PyTorch's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
    EM_INIT_KAIMING_UNIFORM,  /**< U(-b, b), b = sqrt(6 / fan_in)                        */
    EM_INIT_KAIMING_NORMAL,   /**< N(0, 2 / fan_in)                                      */
    EM_INIT_XAVIER_UNIFORM,   /**< U(-b, b), b = sqrt(6 / (fan_in + fan_out))            */
    EM_INIT_XAVIER_NORMAL,    /**< N(0, 2 / (fan_in + fan_out))                          */
    EM_INIT_NORMAL,           /**< N(0, std^2)                                           */
} em_init_kind;

/** An initialization: a rule and its numbers. */
typedef struct em_init {
    em_init_kind kind;  /**< the rule                                 */
    double std;         /**< EM_INIT_NORMAL only                       */
    double scale;       /**< multiplies every weight afterwards; 0 = 1 */
} em_init;

/** Fill a weight (and its bias, may be NULL) by the rule.
 * @param w        the weight, any shape
 * @param bias     its bias, or NULL
 * @param fan_in   inputs per output (in_features, or Cin*kh*kw)
 * @param fan_out  outputs per input (out_features, or Cout*kh*kw)
 * @param rng      the random stream, advanced
 * @param init     the rule */
void em_init_weight(em_tensor *w, em_tensor *bias, int fan_in, int fan_out, em_rng *rng,
                    const em_init *init);

/** "default", "kaiming-uniform", ... and back; -1 for an unknown name.
 * @param kind  a rule
 * @return its name: "default", "kaiming-uniform", "kaiming-normal", "xavier",
 *         "xavier-normal" or "normal"; "?" for a value outside the enum */
const char *em_init_name(em_init_kind kind);
/** The rule of a name (em_init_name()'s, or "xavier-uniform" for "xavier").
 * @param name  the name
 * @return an em_init_kind, or -1 for an unknown name */
int em_init_parse(const char *name);

#endif

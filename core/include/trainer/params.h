/* trainer/params.h - the parameter registry.
 *
 * Every parameter of a model lives in one contiguous float buffer and every
 * gradient in another with the same layout; a tensor is a named slice of it.
 * A plugin registers its tensors once, in create(), and keeps the offsets it
 * gets back; at train/predict time the core hands it the buffers' base
 * pointers. Initial values are drawn by the core from (seed, tensor name), so
 * they never depend on registration order, rank or thread. */
#ifndef TRAINER_PARAMS_H
#define TRAINER_PARAMS_H

#include <stddef.h>
#include <stdint.h>
#include "trainer/export.h"
#include "trainer/status.h"

TR_EXTERN_C_BEGIN

#define TR_MAX_DIMS 4
#define TR_MAX_NAME 64

/* Append-only. */
typedef enum tr_init_kind {
    TR_INIT_ZEROS = 0,
    TR_INIT_CONST = 1,          /* every value = a */
    TR_INIT_UNIFORM = 2,        /* U(a, b) */
    TR_INIT_NORMAL = 3,         /* N(a, b^2) */
    TR_INIT_GLOROT_UNIFORM = 4, /* U(-l, l), l = sqrt(6 / (fan_in + fan_out)) */
    TR_INIT_ORTHOGONAL = 5,     /* 2-D, rows or columns orthonormal (Keras 'orthogonal'), times a (0 means 1) */
    TR_INIT_LSTM_BIAS = 6,      /* [4H] in gate order i,f,c,o: zeros but the forget gate = 1 */
} tr_init_kind;

typedef struct tr_init {
    tr_init_kind kind;
    float a, b;
} tr_init;

/* fan_in / fan_out for Glorot: shape [fan_in, fan_out] for 2-D (Keras kernel
 * layout [inputs, outputs]); for 4-D conv kernels [out, in, kh, kw]:
 * fan_in = in*kh*kw, fan_out = out*kh*kw. */

typedef struct tr_registry tr_registry;

/* Registers tensor `name` of the given shape; *offset receives its position
 * (in floats) in the parameter and gradient buffers. Names must be unique. */
TR_API tr_status tr_param_add(tr_registry *reg, const char *name, int ndim,
                              const int *shape, tr_init init, size_t *offset,
                              tr_error *err);

/* Appended in ABI 1.2: registers a running statistic (e.g. batch norm's
 * running mean or variance). It lives in the parameter buffer, so predict()
 * reads it and checkpoints keep it, but the optimizer never touches it. In
 * train(), ADD n * (this call's statistic) to its slot of grads, n being the
 * call's samples; after each step the core sets
 *   value += momentum * (weighted mean over the step's calls - value),
 * the same on every rank and for every layout. */
TR_API tr_status tr_param_add_running(tr_registry *reg, const char *name,
                                      int ndim, const int *shape, tr_init init,
                                      float momentum, size_t *offset,
                                      tr_error *err);

/* Appended in ABI 1.4: registers a table whose gradient a step touches in
 * a few rows only, e.g. an embedding [vocabulary, dim] (shape[0] is the row
 * count). It behaves as tr_param_add in every way (values, checkpoints, the
 * optimizer's update of every row); only the gradient reduction differs: it
 * sums and sends the rows some sample of the step touched (a row whose
 * gradient is exactly 0 in every micro-shard is left out, its sum being 0),
 * which gives the same bits as the dense sum at a fraction of the cost. */
TR_API tr_status tr_param_add_rows(tr_registry *reg, const char *name,
                                   int ndim, const int *shape, tr_init init,
                                   size_t *offset, tr_error *err);

/* Appended in ABI 1.6: a tr_param_add_rows table looked up by the source
 * tokens, an embedding of tr_batch.src: the plugin promises that each
 * train() call's gradient is nonzero only in rows that are source tokens of
 * that call. The core then reads only those rows when it reduces (instead
 * of scanning the whole table for them); `trainer gradcheck` checks the
 * promise (a gradient in any other row fails, naming it). */
TR_API tr_status tr_param_add_lookup(tr_registry *reg, const char *name,
                                     int ndim, const int *shape, tr_init init,
                                     size_t *offset, tr_error *err);

/* Appended in ABI 1.5: a registry of one's own, for a plugin author's unit
 * tests (training makes its own): call the plugin's create() with it, give
 * it a parameter buffer of tr_registry_size() floats filled by
 * tr_registry_init_params() (the values training starts from with that
 * seed), and a gradient buffer of the same size, then call train() directly.
 * For a whole gradient check from a config use tr_gradcheck() (gradcheck.h). */
TR_API tr_registry *tr_registry_new(void);
TR_API void tr_registry_delete(tr_registry *reg);
/* floats in the parameter (and gradient) buffer, alignment padding included */
TR_API size_t tr_registry_size(const tr_registry *reg);
TR_API tr_status tr_registry_init_params(const tr_registry *reg, float *params, uint64_t seed, tr_error *err);
/* 1 and the tensor's place if `name` is registered, else 0 */
TR_API int tr_registry_lookup(const tr_registry *reg, const char *name, size_t *offset, size_t *count);

/* Appended in ABI 1.6: a dense layer's prefix.kernel [in, out] (Glorot
 * uniform) and prefix.bias [out] (zeros), in that order. */
TR_API tr_status tr_param_add_dense(tr_registry *reg, const char *prefix,
                                    int in, int out, size_t *kernel,
                                    size_t *bias, tr_error *err);

TR_EXTERN_C_END

#endif

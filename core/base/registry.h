/* core/base/registry.h - the core's side of the parameter registry (params.h). */
#ifndef TR_REGISTRY_H
#define TR_REGISTRY_H

#include "trainer/params.h"

typedef struct tr_tensor {
    char name[TR_MAX_NAME];
    int ndim;
    int shape[TR_MAX_DIMS];
    size_t offset; /* in floats, aligned to TR_PARAM_ALIGN */
    size_t count;  /* product of shape */
    tr_init init;
    int running;    /* a running statistic (tr_param_add_running), not trained */
    float momentum; /* its update rate */
    int rows;       /* tr_param_add_rows: shape[0], reduced row by row; 0 dense */
    size_t chunk;   /* values per reduction chunk: TR_CHUNK, or whole rows of it */
    size_t row_first; /* rows: its first row flag in the registry's flag list */
    int by_src;     /* tr_param_add_lookup: only the rows of the call's source tokens get a gradient */
} tr_tensor;

/* Tensors start on 16-float (64-byte) boundaries so kernels can vectorise. */
#define TR_PARAM_ALIGN 16

/* The reduction works in chunks of at most TR_CHUNK values of one tensor
 * (reduce.c), so that one large tensor is spread over the threads. */
#define TR_CHUNK 16384

struct tr_registry {
    tr_tensor *tensors;
    int n, cap;
    int *chunk_first;  /* [cap + 1]: tensor t's first chunk; [n] the number of chunks */
    size_t n_rows;     /* rows of the tr_param_add_rows tensors, all together */
    int n_by_src;      /* tables among them looked up by the source tokens (tr_param_add_lookup) */
    size_t total; /* floats in the buffer, padding included */
    int n_running; /* tensors that are running statistics */
};

void tr_registry_free(tr_registry *r);
const tr_tensor *tr_registry_find(const tr_registry *r, const char *name);
/* Fills params (r->total floats) with each tensor's initial values, drawn
 * from (seed, tensor name); padding is zero. */
tr_status tr_registry_init_values(const tr_registry *r, float *params,
                                  uint64_t seed, tr_error *err);
/* "[32, 128]" into buf. */
const char *tr_shape_str(char *buf, size_t len, int ndim, const int *shape);

#endif

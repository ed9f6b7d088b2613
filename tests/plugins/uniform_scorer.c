/* A library that exports only an attention scorer (no model): "uniform",
 * every source position gets the same energy. Built a second time with
 * -DSCORER_NAME='"dot"' as a scorer whose name is taken (scorer_clash.so). */
#include <string.h>
#include "trainer/attention.h"

#ifndef SCORER_NAME
#define SCORER_NAME "uniform"
#endif

static int token; /* a state pointer that is not NULL */

static tr_status create(void **state, tr_registry *reg, const char *prefix, int key_dim, int query_dim, int units,
                        tr_error *err)
{
    (void)reg; (void)prefix; (void)key_dim; (void)query_dim; (void)units; (void)err;
    *state = &token;
    return TR_OK;
}
static void destroy(void *state) { (void)state; }
static size_t scratch_floats(const void *state, int B, int Ty, int Tx)
{
    (void)state; (void)B; (void)Ty; (void)Tx;
    return 0;
}
static void forward(const void *state, const float *params, float *energy, float *scratch, const float *values,
                    const float *queries, int B, int Ty, int Tx)
{
    (void)state; (void)params; (void)scratch; (void)values; (void)queries;
    memset(energy, 0, (size_t)Ty * B * Tx * sizeof *energy);
}
static void backward(const void *state, const float *params, float *grads, float *dvalues, float *dqueries,
                     const float *denergy, float *scratch, const float *values, const float *queries, int B, int Ty,
                     int Tx)
{
    (void)state; (void)params; (void)grads; (void)dvalues; (void)dqueries; (void)denergy; (void)scratch;
    (void)values; (void)queries; (void)B; (void)Ty; (void)Tx;
}

static const tr_scorer uniform = {
    .size = sizeof(tr_scorer),
    .name = SCORER_NAME,
    .description = "every position the same energy (a test scorer)",
    .create = create,
    .destroy = destroy,
    .scratch_floats = scratch_floats,
    .forward = forward,
    .backward = backward,
};

TR_SCORERS_DEFINE(&uniform)

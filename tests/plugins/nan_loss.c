/* A plugin whose train() returns a NaN loss: the run stops at that step with
 * one line and a non-zero exit, and writes no checkpoint. */
#include <math.h>
#include <stdlib.h>
#include "trainer/plugin.h"

struct tr_model {
    size_t w;
};

static tr_status create(tr_model **out, tr_registry *reg, const tr_model_info *info, tr_error *err)
{
    (void)info;
    tr_model *m = calloc(1, sizeof *m);
    if (!m)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    tr_status st = tr_param_add(reg, "w", 1, (int[]){4}, (tr_init){TR_INIT_ZEROS, 0, 0}, &m->w, err);
    if (st) {
        free(m);
        return st;
    }
    *out = m;
    return TR_OK;
}
static void destroy(tr_model *m) { free(m); }
static size_t scratch_bytes(const tr_model *m, int n) { (void)m; (void)n; return 0; }
static tr_status train(const tr_model *m, const float *params, float *grads, void *scratch, const tr_batch *b,
                       double *loss, tr_error *err)
{
    (void)params; (void)scratch; (void)err;
    grads[m->w] += (float)b->n;
    *loss = NAN;
    return TR_OK;
}
static tr_status predict(const tr_model *m, const float *params, void *scratch, const tr_batch *b,
                         tr_prediction *out, tr_error *err)
{
    (void)m; (void)params; (void)scratch; (void)b; (void)out; (void)err;
    return TR_OK;
}

static const tr_plugin descriptor = {
    .size = sizeof(tr_plugin),
    .abi_version = TR_ABI_VERSION,
    .name = "nan_loss",
    .version = "0.0.1",
    .create = create,
    .destroy = destroy,
    .scratch_bytes = scratch_bytes,
    .train = train,
    .predict = predict,
};

TR_PLUGIN_DEFINE(descriptor)

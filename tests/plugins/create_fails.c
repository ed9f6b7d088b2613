/* A plugin whose create() fails (a runtime failure, not a bad option): the
 * trainer prints its error string in one line and exits 1. */
#include "trainer/plugin.h"

static tr_status create(tr_model **out, tr_registry *reg, const tr_model_info *info, tr_error *err)
{
    (void)out; (void)reg; (void)info;
    return tr_error_set(err, TR_ERR_MODEL, "cannot build the model: the flux capacitor is missing");
}
static void destroy(tr_model *m) { (void)m; }
static size_t scratch_bytes(const tr_model *m, int n) { (void)m; (void)n; return 0; }
static tr_status train(const tr_model *m, const float *params, float *grads, void *scratch, const tr_batch *b,
                       double *loss, tr_error *err)
{
    (void)m; (void)params; (void)grads; (void)scratch; (void)b; (void)loss;
    return tr_error_set(err, TR_ERR_INTERNAL, "train() must not be called");
}
static tr_status predict(const tr_model *m, const float *params, void *scratch, const tr_batch *b,
                         tr_prediction *out, tr_error *err)
{
    (void)m; (void)params; (void)scratch; (void)b; (void)out;
    return tr_error_set(err, TR_ERR_INTERNAL, "predict() must not be called");
}

static const tr_plugin descriptor = {
    .size = sizeof(tr_plugin),
    .abi_version = TR_ABI_VERSION,
    .name = "create_fails",
    .version = "0.0.1",
    .create = create,
    .destroy = destroy,
    .scratch_bytes = scratch_bytes,
    .train = train,
    .predict = predict,
};

TR_PLUGIN_DEFINE(descriptor)

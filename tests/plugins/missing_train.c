/* A plugin whose descriptor leaves a required function NULL (train): must be
 * refused with one line naming what is missing, never called. */
#include "trainer/plugin.h"

static tr_status create(tr_model **out, tr_registry *reg, const tr_model_info *info, tr_error *err)
{
    (void)out; (void)reg; (void)info;
    return tr_error_set(err, TR_ERR_INTERNAL, "create() must not be called");
}
static void destroy(tr_model *m) { (void)m; }
static size_t scratch_bytes(const tr_model *m, int n) { (void)m; (void)n; return 0; }
static tr_status predict(const tr_model *m, const float *params, void *scratch, const tr_batch *b,
                         tr_prediction *out, tr_error *err)
{
    (void)m; (void)params; (void)scratch; (void)b; (void)out; (void)err;
    return TR_OK;
}

static const tr_plugin descriptor = {
    .size = sizeof(tr_plugin),
    .abi_version = TR_ABI_VERSION,
    .name = "missing_train",
    .version = "0.0.1",
    .create = create,
    .destroy = destroy,
    .scratch_bytes = scratch_bytes,
    .train = NULL,
    .predict = predict,
};

TR_PLUGIN_DEFINE(descriptor)

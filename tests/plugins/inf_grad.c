/* A plugin that fits one number to the data, w ~ the mean first source
 * token / 10, and whose loss and gradient are +Inf on the samples whose
 * index (line in the dataset) is in [bad_from, bad_to): for
 * train.nonfinite (tests/cli/nonfinite.sh). `bad: loss` makes only the
 * loss Inf, `grad` only the gradient. */
#include <math.h>
#include <stdlib.h>
#include "trainer/plugin.h"

struct tr_model {
    size_t w;
    int src_len;
    long from, to, bad; /* bad: 0 both, 1 loss, 2 grad */
};

static const tr_option_spec options[] = {
    {"bad_from", TR_OPT_INT, "-1", NULL, "first sample index whose loss/gradient is Inf"},
    {"bad_to", TR_OPT_INT, "-1", NULL, "one past the last such index"},
    {"bad", TR_OPT_ENUM, "both", "both|loss|grad", "what is Inf on those samples"},
};

static tr_status create(tr_model **out, tr_registry *reg, const tr_model_info *info, tr_error *err)
{
    tr_model *m = calloc(1, sizeof *m);
    if (!m)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    *m = (tr_model){.src_len = info->src_len, .from = info->options[0].i, .to = info->options[1].i,
                    .bad = info->options[2].i};
    tr_status st = tr_param_add(reg, "w", 1, (int[]){1}, (tr_init){TR_INIT_ZEROS, 0, 0}, &m->w, err);
    if (st) {
        free(m);
        return st;
    }
    *out = m;
    return TR_OK;
}
static void destroy(tr_model *m) { free(m); }
static size_t scratch_bytes(const tr_model *m, int n) { (void)m; (void)n; return 0; }

/* loss = sum_i (w - x_i)^2, x_i = src[i][0] / 10 */
static tr_status train(const tr_model *m, const float *params, float *grads, void *scratch, const tr_batch *b,
                       double *loss, tr_error *err)
{
    (void)scratch; (void)err;
    const float w = params[m->w];
    double l = 0.0;
    for (int i = 0; i < b->n; i++) {
        const float x = (float)b->src[(size_t)i * m->src_len] / 10.0f;
        const int bad = b->index[i] >= m->from && b->index[i] < m->to;
        l += bad && m->bad != 2 ? INFINITY : (double)(w - x) * (w - x);
        grads[m->w] += bad && m->bad != 1 ? INFINITY : 2.0f * (w - x);
    }
    *loss = l;
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
    .name = "inf_grad",
    .version = "0.0.1",
    .options = options,
    .n_options = (int)(sizeof options / sizeof options[0]),
    .create = create,
    .destroy = destroy,
    .scratch_bytes = scratch_bytes,
    .train = train,
    .predict = predict,
};

TR_PLUGIN_DEFINE(descriptor)

/* tests/test_cnn_attn.c - the cnn_attn model: whole-model gradients against
 * finite differences for every attention and norm, the batch statistics it
 * hands the core for the running averages, and the maps predict() exports. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/session.h"
#include "tr_test.h"
#include "tr_model_check.h"
#include "tr_test_config.h"
#include "trainer/vision.h"

/* extra: one more override, or NULL */
static tr_session *open_small(const char *attention, const char *norm, const char *extra)
{
    char path[1024], att[64], nrm[64], *ov[8];
    int n = 0;
    snprintf(path, sizeof path, "%s/configs/cnn_cbam.yaml", TR_SOURCE_DIR);
    snprintf(att, sizeof att, "model.attention=%s", attention);
    snprintf(nrm, sizeof nrm, "model.norm=%s", norm);
    ov[n++] = att;
    ov[n++] = nrm;
    ov[n++] = "data.train=64";
    ov[n++] = "data.test=16";
    ov[n++] = "train.micro_batch=4";
    ov[n++] = "run.out=/tmp/trainer-test-cnn";
    if (extra)
        ov[n++] = (char *)extra;
    return tr_test_open(path, n, ov);
}

/* n images of the training split as floats, and their labels */
static tr_batch batch_of(tr_session *s, float *input, int n)
{
    for (size_t i = 0; i < (size_t)n * s->input_size; i++)
        input[i] = s->pairs.pixels[i] / 255.0f;
    tr_batch b = {.size = sizeof b, .n = n, .src = NULL, .tgt = s->pairs.tgt, .input = input};
    return b;
}

static void gradient(const char *attention, const char *norm, const char *extra)
{
    tr_session *s = open_small(attention, norm, extra);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    float *input = malloc(3 * s->input_size * sizeof *input);
    CU_ASSERT_PTR_NOT_NULL_FATAL(input);
    tr_batch b = batch_of(s, input, 3);
    /* Zero biases on a black background put every ReLU exactly on its kink,
     * where finite differences see half a slope: move them off it. */
    uint32_t r = 12345;
    for (int t = 0; t < s->reg.n; t++) {
        const tr_tensor *tt = &s->reg.tensors[t];
        if (tt->running || !strstr(tt->name, "bias"))
            continue;
        for (size_t i = 0; i < tt->count; i++) {
            r = r * 1664525u + 1013904223u;
            s->params[tt->offset + i] = 0.2f * ((float)(r >> 8) / 16777216.0f - 0.5f);
        }
    }
    int checked = 0;
    double worst = 0;
    int bad = tr_model_gradcheck_h(s, &b, 8, 1e-3, &checked, &worst);
    printf("\n  %-5s %-5s %s %d entries, %d above 2e-2, worst %.2e", attention, norm, extra ? extra : "", checked, bad, worst);
    /* Thousands of ReLU kinks in float leave a few entries (a batch-norm
     * gamma moves every unit of its channel) noisy at any step size; the
     * layers' own checks (unit_vision) are strict. A wrong gradient shows
     * up as many entries or large errors. */
    CU_ASSERT(bad <= checked / 50 + 1);
    CU_ASSERT(worst < 0.25);
    CU_ASSERT(checked > 50);
    free(input);
    tr_session_close(s);
}

static void grad_none(void) { gradient("none", "none", NULL); }
static void grad_se(void) { gradient("se", "none", NULL); }
static void grad_cbam(void) { gradient("cbam", "none", NULL); }
static void grad_se_bn(void) { gradient("se", "batch", NULL); }
static void grad_cbam_bn(void) { gradient("cbam", "batch", NULL); }
static void grad_cbam_bn_smooth(void) { gradient("cbam", "batch", "model.label_smoothing=0.1"); }

/* train() adds n * (block 1's batch mean, unbiased variance) into the
 * running statistics' slots: recompute them from the first convolution. */
static void running_statistics(void)
{
    tr_session *s = open_small("cbam", "batch", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const int n = 4, C = 32, HW = 28 * 28;
    float *input = malloc((size_t)n * s->input_size * sizeof *input);
    float *grad = calloc(s->reg.total, sizeof *grad);
    float *z = malloc((size_t)n * C * HW * sizeof *z);
    float *scr = malloc(tr_conv2d_scratch_floats(n, 1, 28, 28, C, 3, 1, 1) * sizeof *scr);
    CU_ASSERT_FATAL(input && grad && z && scr);
    tr_batch b = batch_of(s, input, n);
    double loss = 0;
    tr_error err = {0};
    CU_ASSERT_EQUAL_FATAL(s->plugin.desc->train(s->model, s->params, grad, s->scratch, &b, &loss, &err), TR_OK);
    const tr_tensor *w = tr_registry_find(&s->reg, "block1.conv.kernel"), *bias = tr_registry_find(&s->reg, "block1.conv.bias");
    const tr_tensor *rm = tr_registry_find(&s->reg, "block1.bn.running_mean"), *rv = tr_registry_find(&s->reg, "block1.bn.running_var");
    CU_ASSERT_FATAL(w && bias && rm && rv && rm->running && rv->running);
    CU_ASSERT_DOUBLE_EQUAL(rm->momentum, 0.1, 1e-7);
    tr_conv2d_forward(z, input, s->params + w->offset, s->params + bias->offset, scr, n, 1, 28, 28, C, 3, 1, 1);
    double worst = 0;
    for (int c = 0; c < C; c++) {
        double sum = 0, sq = 0, M = (double)n * HW;
        for (int i = 0; i < n; i++)
            for (int p = 0; p < HW; p++)
                sum += z[((size_t)i * C + c) * HW + p];
        double mean = sum / M;
        for (int i = 0; i < n; i++)
            for (int p = 0; p < HW; p++) {
                double d = z[((size_t)i * C + c) * HW + p] - mean;
                sq += d * d;
            }
        double e1 = fabs(grad[rm->offset + c] - n * mean) / (fabs(n * mean) + 1e-3);
        double e2 = fabs(grad[rv->offset + c] - n * sq / (M - 1)) / (n * sq / (M - 1) + 1e-3);
        worst = fmax(worst, fmax(e1, e2));
    }
    printf("\n  running statistics: worst rel err %.2e", worst);
    CU_ASSERT(worst < 1e-4);
    free(input); free(grad); free(z); free(scr);
    tr_session_close(s);
}

/* After one training step the core has moved the running mean by momentum
 * towards the step's mean; prediction uses it (changes the output). */
static void running_update(void)
{
    tr_session *s = open_small("none", "batch", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const tr_tensor *rv = tr_registry_find(&s->reg, "block2.bn.running_var");
    CU_ASSERT_FATAL(rv != NULL);
    CU_ASSERT_DOUBLE_EQUAL(s->params[rv->offset], 1.0, 0.0);
    tr_error err = {0};
    CU_ASSERT_EQUAL_FATAL(tr_session_train(s, 1, NULL, &err), TR_OK);
    int moved = 0;
    for (size_t i = 0; i < rv->count; i++)
        moved += s->params[rv->offset + i] != 1.0f && s->params[rv->offset + i] > 0.0f;
    CU_ASSERT_EQUAL(moved, (int)rv->count);
    tr_session_close(s);
}

/* predict(): classes in range; cbam exports channel weights and spatial maps
 * in (0, 1) with the declared shapes. */
static void maps(void)
{
    tr_session *s = open_small("cbam", "none", NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL_FATAL(s->n_maps, 6);
    const int want[6][3] = {{1, 32, 0}, {2, 28, 28}, {1, 64, 0}, {2, 14, 14}, {1, 128, 0}, {2, 7, 7}};
    float *maps[6];
    for (int k = 0; k < 6; k++) {
        CU_ASSERT_EQUAL(s->map_specs[k].ndim, want[k][0]);
        CU_ASSERT_EQUAL(s->map_specs[k].shape[0], want[k][1]);
        if (want[k][0] == 2)
            CU_ASSERT_EQUAL(s->map_specs[k].shape[1], want[k][2]);
        maps[k] = malloc(5 * tr_session_map_size(s, k) * sizeof(float));
        CU_ASSERT_FATAL(maps[k] != NULL);
        for (size_t i = 0; i < 5 * tr_session_map_size(s, k); i++)
            maps[k][i] = -1.0f;
    }
    int32_t cls[5];
    tr_error err = {0};
    CU_ASSERT_EQUAL_FATAL(tr_session_predict_ex(s, NULL, s->pairs.pixels, 5, cls, NULL, maps, &err), TR_OK);
    for (int i = 0; i < 5; i++)
        CU_ASSERT(cls[i] >= 0 && cls[i] < 10);
    for (int k = 0; k < 6; k++) {
        int inside = 1;
        for (size_t i = 0; i < 5 * tr_session_map_size(s, k); i++)
            inside &= maps[k][i] > 0.0f && maps[k][i] < 1.0f;
        CU_ASSERT(inside);
        free(maps[k]);
    }
    tr_session_close(s);
}

int main(void)
{
    static const tr_test_case cases[] = {
        {"gradient, no attention", grad_none},
        {"gradient, se", grad_se},
        {"gradient, cbam", grad_cbam},
        {"gradient, se + batch norm", grad_se_bn},
        {"gradient, cbam + batch norm", grad_cbam_bn},
        {"gradient, cbam + batch norm + label smoothing", grad_cbam_bn_smooth},
        {"batch statistics for the running averages", running_statistics},
        {"running statistics move after a step", running_update},
        {"predict exports the attention maps", maps},
        {NULL, NULL},
    };
    return tr_test_run("cnn_attn", cases);
}

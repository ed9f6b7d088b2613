/* tests/test_stn.c - the stn model: whole-model gradients against central
 * differences (with the transformer and without, dropout on: its masks are
 * keyed, so each call draws the same), theta starting as the identity (the
 * transformed image is the input), and its maps. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/session.h"
#include "tr_test.h"
#include "tr_model_check.h"
#include "tr_test_config.h"

static tr_session *open_small(const char *stn)
{
    char path[1024], opt[64], *ov[8];
    int n = 0;
    snprintf(path, sizeof path, "%s/configs/stn.yaml", TR_SOURCE_DIR);
    snprintf(opt, sizeof opt, "model.stn=%s", stn);
    ov[n++] = opt;
    ov[n++] = "data.train=64";
    ov[n++] = "data.test=16";
    ov[n++] = "train.micro_batch=4";
    ov[n++] = "run.out=/tmp/trainer-test-stn";
    return tr_test_open(path, n, ov);
}

static const int64_t indices[4] = {11, 3, 42, 7};

static tr_batch batch_of(tr_session *s, float *input, int n)
{
    for (size_t i = 0; i < (size_t)n * s->input_size; i++)
        input[i] = s->pairs.pixels[i] / 255.0f;
    tr_batch b = {.size = sizeof b, .n = n, .tgt = s->pairs.tgt, .input = input, .index = indices, .key = 99};
    return b;
}

/* small random values in every tensor named so (the localisation's last
 * layer starts at zero: no gradient would reach the layers before it) */
static void jitter(tr_session *s, const char *part, float scale, uint32_t r)
{
    for (int t = 0; t < s->reg.n; t++) {
        const tr_tensor *tt = &s->reg.tensors[t];
        if (!strstr(tt->name, part))
            continue;
        for (size_t i = 0; i < tt->count; i++) {
            r = r * 1664525u + 1013904223u;
            s->params[tt->offset + i] += scale * ((float)(r >> 8) / 16777216.0f - 0.5f);
        }
    }
}

static void gradient(const char *stn)
{
    tr_session *s = open_small(stn);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    float *input = malloc(3 * s->input_size * sizeof *input);
    CU_ASSERT_PTR_NOT_NULL_FATAL(input);
    tr_batch b = batch_of(s, input, 3);
    jitter(s, "bias", 0.2f, 12345); /* ReLUs off their kinks on a black background */
    jitter(s, "localization.fc2", 0.1f, 777);
    int checked = 0;
    double worst = 0;
    int bad = tr_model_gradcheck_h(s, &b, 8, 1e-3, &checked, &worst);
    printf("\n  stn=%s: %d entries, %d above 2e-2, worst %.2e", stn, checked, bad, worst);
    /* Max pools, ReLUs and (through theta) the sampler's pixel edges are
     * kinks that a difference step can cross: a few entries near one are
     * noisy, as in unit_cnn_attn; the layers' own checks (unit_vision) are
     * strict. A wrong gradient shows up as many entries or large errors. */
    CU_ASSERT(checked > 50);
    CU_ASSERT(bad <= checked / 50 + 1);
    CU_ASSERT(worst < 0.25);
    free(input);
    tr_session_close(s);
}

static void grad_stn(void) { gradient("true"); }
static void grad_classifier(void) { gradient("false"); }

/* At the start theta is the identity: the transformed image is the input;
 * the maps are theta [2,3] and the image; without the STN, none. */
static void identity_at_start(void)
{
    tr_session *s = open_small("true");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL_FATAL(s->n_maps, 2);
    const int n = 2;
    float *theta = calloc(n * 6, sizeof *theta), *img = calloc((size_t)n * s->input_size, sizeof *img);
    float *maps[2] = {theta, img};
    int32_t tokens[2];
    tr_error err = {0};
    CU_ASSERT_EQUAL_FATAL(tr_session_predict_ex(s, NULL, s->pairs.pixels, n, tokens, NULL, maps, &err), TR_OK);
    const float id[6] = {1, 0, 0, 0, 1, 0};
    for (int i = 0; i < n * 6; i++)
        CU_ASSERT_DOUBLE_EQUAL(theta[i], id[i % 6], 1e-7);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s->in_mean); /* configs/stn.yaml normalises its inputs */
    double worst = 0;
    for (size_t i = 0; i < (size_t)n * s->input_size; i++)
        worst = fmax(worst, fabs(img[i] - (s->pairs.pixels[i] / 255.0 - s->in_mean[0]) / s->in_std[0]));
    printf("\n  identity: transformed - input at most %.2e", worst);
    CU_ASSERT(worst < 1e-5);
    free(theta);
    free(img);
    tr_session_close(s);
    s = open_small("false");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_EQUAL(s->n_maps, 0);
    CU_ASSERT_PTR_NULL(tr_registry_find(&s->reg, "localization.conv1.kernel"));
    CU_ASSERT_PTR_NOT_NULL(tr_registry_find(&s->reg, "conv1.kernel"));
    tr_session_close(s);
}

int main(void)
{
    static const tr_test_case cases[] = {
        {"gradients, with the transformer", grad_stn},
        {"gradients, the classifier alone", grad_classifier},
        {"theta starts as the identity; maps", identity_at_start},
        {NULL, NULL},
    };
    return tr_test_run("stn", cases);
}

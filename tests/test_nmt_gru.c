/* tests/test_nmt_gru.c - the nmt_gru model against finite differences for
 * every built-in scorer, and padding never receiving attention weight. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/session.h"
#include "tr_test.h"
#include "tr_model_check.h"
#include "tr_test_config.h"

static tr_session *open_small(const char *scorer)
{
    char path[1024], src[1024], tgt[1024], att[64], *ov[16];
    int n = 0;
    snprintf(path, sizeof path, "%s/configs/nmt.yaml", TR_SOURCE_DIR);
    snprintf(src, sizeof src, "data.source=%s/data/nmt/en.txt", TR_SOURCE_DIR);
    snprintf(tgt, sizeof tgt, "data.target=%s/data/nmt/fr.txt", TR_SOURCE_DIR);
    snprintf(att, sizeof att, "model.attention=%s", scorer);
    ov[n++] = src;
    ov[n++] = tgt;
    ov[n++] = att;
    ov[n++] = "model.hidden_units=6";
    ov[n++] = "model.attention_units=5";
    ov[n++] = "data.train=400";
    ov[n++] = "data.test=20";
    ov[n++] = "data.src_len=12";
    ov[n++] = "data.tgt_len=14";
    ov[n++] = "train.micro_batch=4";
    ov[n++] = "run.out=/tmp/trainer-test-nmt";
    return tr_test_open(path, n, ov);
}

static void gradient(const char *scorer)
{
    tr_session *s = open_small(scorer);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    for (size_t i = 0; i < s->reg.total; i++) /* larger than init: peaked attention */
        s->params[i] *= 3.0f;
    tr_batch b = {.size = sizeof b, .n = 3, .src = s->pairs.src, .tgt = s->pairs.tgt};
    int checked = 0;
    double worst = 0;
    int bad = tr_model_gradcheck(s, &b, 10, &checked, &worst);
    printf("\n  %-10s %d entries, %d above 2e-2, worst %.2e", scorer, checked, bad, worst);
    CU_ASSERT(bad == 0);
    tr_session_close(s);
}

static void additive(void) { gradient("additive"); }
static void dot(void) { gradient("dot"); }
static void general(void) { gradient("general"); }
static void scaled_dot(void) { gradient("scaled_dot"); }

static void padding_gets_no_attention(void)
{
    tr_session *s = open_small("additive");
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    const int n = 8, Tx = (int)s->cfg->src_len, Ty = (int)s->cfg->tgt_len;
    float *att = malloc((size_t)n * Ty * Tx * sizeof *att);
    int32_t *tok = malloc((size_t)n * Ty * sizeof *tok);
    tr_error err = {0};
    CU_ASSERT_EQUAL_FATAL(tr_session_predict(s, s->pairs.src, n, tok, att, &err), TR_OK);
    int pads = 0;
    for (int i = 0; i < n; i++)
        for (int y = 0; y < Ty; y++) {
            double sum = 0;
            for (int t = 0; t < Tx; t++) {
                float w = att[((size_t)i * Ty + y) * Tx + t];
                sum += w;
                if (s->pairs.src[(size_t)i * Tx + t] == s->vocabs.src.pad) {
                    pads++;
                    CU_ASSERT_EQUAL(w, 0.0f);
                }
            }
            CU_ASSERT_DOUBLE_EQUAL(sum, 1.0, 1e-5);
        }
    printf("\n  %d padding positions checked", pads);
    CU_ASSERT(pads > 0);
    free(att);
    free(tok);
    tr_session_close(s);
}

int main(void)
{
    static const tr_test_case cases[] = {
        {"gradient, additive", additive},
        {"gradient, dot", dot},
        {"gradient, general", general},
        {"gradient, scaled_dot", scaled_dot},
        {"padding gets no attention", padding_gets_no_attention},
        {NULL, NULL},
    };
    return tr_test_run("nmt_gru", cases);
}

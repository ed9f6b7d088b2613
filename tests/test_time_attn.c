/* tests/test_time_attn.c - the whole time_attn model against finite
 * differences: its train() gradient must be the derivative of its loss. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/session.h"
#include "tr_test.h"
#include "tr_test_config.h"
#include "tr_model_check.h"

static void check(const char *act)
{
    char actopt[64];
    snprintf(actopt, sizeof actopt, "model.recurrent_activation=%s", act);
    char *extra[] = {"model.encoder_units=5", "model.decoder_units=6", "model.attention_units=3", actopt,
                     "train.micro_batch=4"};
    tr_config *cfg = NULL;
    tr_error err = {0};
    CU_ASSERT_EQUAL_FATAL(tr_test_load_config(&cfg, "time", 5, extra, &err), TR_OK);
    tr_session *s = NULL;
    if (tr_session_open(&s, cfg, 1, &err))
        printf("\n  %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    /* Larger than init weights so the attention is not uniform. */
    for (size_t i = 0; i < s->reg.total; i++)
        s->params[i] *= 2.0f;
    tr_batch b = {.size = sizeof b, .n = 4, .src = s->pairs.src, .tgt = s->pairs.tgt};
    int checked = 0;
    double worst = 0;
    int bad = tr_model_gradcheck(s, &b, 12, &checked, &worst);
    printf("\n  %s: %d entries checked, %d above 2e-2 (relu kinks), worst %.2e\n", act, checked, bad, worst);
    /* ReLU in the attention energy has a kink that a finite difference can
     * straddle; allow a couple of such entries, not more. */
    CU_ASSERT(bad <= checked / 50);
    tr_session_close(s);
}

static void gradient_sigmoid(void) { check("sigmoid"); }
static void gradient_hard_sigmoid(void) { check("hard_sigmoid"); }

int main(void)
{
    static const tr_test_case cases[] = {
        {"model gradient, sigmoid gates", gradient_sigmoid},
        {"model gradient, hard-sigmoid gates", gradient_hard_sigmoid},
        {NULL, NULL},
    };
    return tr_test_run("time_attn", cases);
}

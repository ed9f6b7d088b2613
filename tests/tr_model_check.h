/* tests/tr_model_check.h - a whole model's train() gradient against central
 * finite differences of its own loss, over `per_tensor` entries of every
 * parameter tensor (shared by the model suites). */
#ifndef TR_MODEL_CHECK_H
#define TR_MODEL_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/session.h"
#include "tr_test.h"

static inline double tr_model_loss(tr_session *s, float *grad, const tr_batch *b)
{
    double loss = 0;
    tr_error err = {0};
    memset(grad, 0, s->reg.total * sizeof *grad);
    CU_ASSERT_EQUAL(s->plugin.desc->train(s->model, s->params, grad, s->scratch, b, &loss, &err), TR_OK);
    return loss;
}

/* Returns how many entries disagree by more than 2e-2 (relative, with a
 * 1e-2 floor); *checked and *worst report the rest. Prints per tensor. */
static inline int tr_model_gradcheck_h(tr_session *s, const tr_batch *b, int per_tensor, double h, int *checked,
                                       double *worst);

static inline int tr_model_gradcheck(tr_session *s, const tr_batch *b, int per_tensor, int *checked, double *worst)
{
    return tr_model_gradcheck_h(s, b, per_tensor, 1e-2, checked, worst);
}

/* The same with step h (smaller for models with many ReLU kinks). */
static inline int tr_model_gradcheck_h(tr_session *s, const tr_batch *b, int per_tensor, double h, int *checked,
                                       double *worst)
{
    float *grad = malloc(s->reg.total * sizeof *grad), *tmp = malloc(s->reg.total * sizeof *tmp);
    CU_ASSERT_FATAL(grad && tmp);
    double l0 = tr_model_loss(s, grad, b);
    CU_ASSERT(l0 > 0 && isfinite(l0));
    int bad = 0;
    *checked = 0;
    *worst = 0;
    for (int t = 0; t < s->reg.n; t++) {
        const tr_tensor *tt = &s->reg.tensors[t];
        if (tt->running) /* a statistic, not a derivative (checked by the model's own suite) */
            continue;
        double tworst = 0;
        size_t step = tt->count > (size_t)per_tensor ? tt->count / (size_t)per_tensor : 1;
        for (size_t i = 0; i < tt->count; i += step) {
            float *p = s->params + tt->offset + i;
            const float keep = *p;
            const double ana = grad[tt->offset + i];
            /* A step that straddles a kink (ReLU, max) or drowns in float
             * rounding misleads, and where depends on the CPU's BLAS; a
             * wrong gradient fails at every step, so a disagreement is
             * retried at 3h, h/3, 10h and h/10. */
            static const double steps[] = {1, 3, 1.0 / 3, 10, 0.1};
            double e = INFINITY;
            for (int k = 0; k < 5 && e > 2e-2; k++) {
                const double hk = h * steps[k];
                const float up = (float)(keep + hk), dn = (float)(keep - hk);
                *p = up;
                double lp = tr_model_loss(s, tmp, b);
                *p = dn;
                double lm = tr_model_loss(s, tmp, b);
                *p = keep;
                double num = (lp - lm) / ((double)up - (double)dn);
                double ek = fabs(num - ana) / (fabs(num) + fabs(ana) + 1e-2);
                e = ek < e ? ek : e;
            }
            (*checked)++;
            bad += e > 2e-2;
            tworst = e > tworst ? e : tworst;
        }
        printf("\n  %-34s worst rel err %.2e", tt->name, tworst);
        *worst = tworst > *worst ? tworst : *worst;
    }
    free(grad);
    free(tmp);
    return bad;
}

#endif

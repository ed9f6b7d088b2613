/* tests/test_scorers.c - every built-in attention scorer against finite
 * differences (w.r.t. values, queries and its parameters), plus the
 * registry: lookup, a plugin-style registration, duplicates refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "base/registry.h"
#include "base/rng.h"
#include "tr_test.h"
#include "trainer/attention.h"

enum { B = 3, TY = 4, TX = 5, D = 6, K = 7 };

static double loss(const tr_scorer *sc, void *st, const float *P, float *scratch, const float *values,
                   const float *queries, const float *R, float *energy)
{
    sc->forward(st, P, energy, scratch, values, queries, B, TY, TX);
    double l = 0;
    for (int i = 0; i < TY * B * TX; i++)
        l += (double)energy[i] * R[i];
    return l;
}

/* worst relative error of d(loss)/d(x[i]) over every i, against analytic g */
static double check(const tr_scorer *sc, void *st, float *P, float *scratch, float *values, float *queries,
                    const float *R, float *energy, float *x, const float *g, int n)
{
    double worst = 0;
    const float h = 1e-2f;
    for (int i = 0; i < n; i++) {
        float keep = x[i];
        x[i] = keep + h;
        double lp = loss(sc, st, P, scratch, values, queries, R, energy);
        x[i] = keep - h;
        double lm = loss(sc, st, P, scratch, values, queries, R, energy);
        x[i] = keep;
        double num = (lp - lm) / (2 * h), e = fabs(num - g[i]) / fmax(1e-2, fabs(num) + fabs(g[i]));
        if (e > worst) worst = e;
    }
    return worst;
}

static void gradcheck(const char *name)
{
    const tr_scorer *sc = tr_scorer_find(name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(sc);
    tr_registry reg;
    memset(&reg, 0, sizeof reg);
    void *st = NULL;
    tr_error err = {0};
    CU_ASSERT_EQUAL_FATAL(sc->create(&st, &reg, "attn", D, D, K, &err), TR_OK);
    size_t np = reg.total ? reg.total : 1;
    float *P = calloc(np, sizeof *P), *G = calloc(np, sizeof *G);
    tr_registry_init_values(&reg, P, 7, &err);
    tr_rng r = tr_rng_make(42);
    float values[B * TX * D], queries[TY * B * D], R[TY * B * TX], energy[TY * B * TX];
    float dvalues[B * TX * D] = {0}, dqueries[TY * B * D] = {0};
    for (int i = 0; i < B * TX * D; i++) values[i] = (float)(2 * tr_rng_uniform(&r) - 1);
    for (int i = 0; i < TY * B * D; i++) queries[i] = (float)(2 * tr_rng_uniform(&r) - 1);
    for (int i = 0; i < TY * B * TX; i++) R[i] = (float)(2 * tr_rng_uniform(&r) - 1);
    size_t ns = sc->scratch_floats(st, B, TY, TX);
    float *scratch = calloc(ns ? ns : 1, sizeof *scratch);
    loss(sc, st, P, scratch, values, queries, R, energy);
    sc->backward(st, P, G, dvalues, dqueries, R, scratch, values, queries, B, TY, TX);
    double ev = check(sc, st, P, scratch, values, queries, R, energy, values, dvalues, B * TX * D);
    double eq = check(sc, st, P, scratch, values, queries, R, energy, queries, dqueries, TY * B * D);
    double ep = 0;
    for (int t = 0; t < reg.n; t++) {
        const tr_tensor *tt = &reg.tensors[t];
        double e = check(sc, st, P, scratch, values, queries, R, energy, P + tt->offset, G + tt->offset, (int)tt->count);
        if (e > ep) ep = e;
    }
    printf("\n  %-10s d values %.1e, d queries %.1e, d params %.1e (%d tensors)", name, ev, eq, ep, reg.n);
    CU_ASSERT(ev < 1e-2);
    CU_ASSERT(eq < 1e-2);
    CU_ASSERT(ep < 1e-2);
    double any = 0;
    for (int i = 0; i < B * TX * D; i++) any += fabs(dvalues[i]);
    CU_ASSERT(any > 1e-3); /* the check above is not vacuous */
    sc->destroy(st);
    tr_registry_free(&reg);
    free(P); free(G); free(scratch);
}

static void additive(void) { gradcheck("additive"); }
static void dot(void) { gradcheck("dot"); }
static void general(void) { gradcheck("general"); }
static void scaled_dot(void) { gradcheck("scaled_dot"); }

static void registry(void)
{
    const char *names[16];
    CU_ASSERT_EQUAL(tr_scorer_names(names, 16), 4);
    CU_ASSERT_PTR_NULL(tr_scorer_find("bilinear"));
    tr_scorer mine = *tr_scorer_find("dot");
    mine.name = "my_scorer";
    tr_error err = {0};
    CU_ASSERT_EQUAL(tr_scorer_register(&mine, &err), TR_OK);
    CU_ASSERT_PTR_EQUAL(tr_scorer_find("my_scorer"), &mine);
    CU_ASSERT_EQUAL(tr_scorer_names(names, 16), 5);
    CU_ASSERT_EQUAL(tr_scorer_register(&mine, &err), TR_ERR_PLUGIN);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "'my_scorer' is already registered"));
    tr_scorer broken = mine;
    broken.name = "broken";
    broken.forward = NULL;
    CU_ASSERT_EQUAL(tr_scorer_register(&broken, &err), TR_ERR_PLUGIN);
}

int main(void)
{
    static const tr_test_case cases[] = {
        {"additive gradient", additive},
        {"dot gradient", dot},
        {"general gradient", general},
        {"scaled_dot gradient", scaled_dot},
        {"registry", registry},
        {NULL, NULL},
    };
    return tr_test_run("scorers", cases);
}

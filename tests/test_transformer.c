/* tests/test_transformer.c - the Transformer layers of trainer/layers.h
 * (ABI 1.6): layer normalisation by hand, against a double reference and
 * by central differences (x, gamma, beta); multi-head scaled dot-product
 * attention against a full-softmax double reference (self and cross,
 * key padding, causal, a query that sees no key, keys over several
 * blocks of the online softmax) and by central differences of q, k, v. */
#include "trainer/layers.h"
#include "tr_check.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRAD_OK(what, f, ctx, x, g, n) CU_ASSERT(grad_check_h((what), (f), (ctx), (x), (g), (n), GC_H) < GC_TOL)

/* ---- layer normalisation */

enum { LN = 6, LD = 37 }; /* rows, width (not a multiple of 16) */

typedef struct ln_ctx {
    float *x, *gamma, *beta, *out, *mean, *rstd, *R;
} ln_ctx;

static double ln_loss(void *p)
{
    ln_ctx *c = p;
    tr_layernorm_forward(c->out, c->mean, c->rstd, c->x, c->gamma, c->beta, 1e-5f, LN, LD);
    return dotd(c->out, c->R, LN * LD);
}

static void layernorm(void)
{
    /* by hand: [1, 2, 3, 4] -> mean 2.5, var 1.25; gamma 2, beta 1 */
    const float x4[4] = {1, 2, 3, 4}, g4[4] = {2, 2, 2, 2}, b4[4] = {1, 1, 1, 1};
    float o4[4], m4, r4;
    tr_layernorm_forward(o4, &m4, &r4, x4, g4, b4, 0.0f, 1, 4);
    CU_ASSERT_DOUBLE_EQUAL(m4, 2.5, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(r4, 1.0 / sqrt(1.25), 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(o4[0], 1.0 + 2.0 * -1.5 / sqrt(1.25), 1e-5);
    CU_ASSERT_DOUBLE_EQUAL(o4[3], 1.0 + 2.0 * 1.5 / sqrt(1.25), 1e-5);

    rng_seed(5);
    ln_ctx c = {frand(LN * LD, -2, 3), frand(LD, 0.5f, 1.5f), frand(LD, -0.5f, 0.5f), falloc(LN * LD), falloc(LN),
                falloc(LN), frand(LN * LD, -1, 1)};
    ln_loss(&c);
    int wrong = 0; /* against double */
    for (int n = 0; n < LN; n++) {
        double m = 0, v = 0;
        for (int d = 0; d < LD; d++)
            m += c.x[n * LD + d];
        m /= LD;
        for (int d = 0; d < LD; d++)
            v += (c.x[n * LD + d] - m) * (c.x[n * LD + d] - m);
        v /= LD;
        for (int d = 0; d < LD; d++) {
            const double want = (c.x[n * LD + d] - m) / sqrt(v + 1e-5) * c.gamma[d] + c.beta[d];
            wrong += fabs(c.out[n * LD + d] - want) > 1e-5;
        }
    }
    CU_ASSERT_EQUAL(wrong, 0);
    float *dx = falloc(LN * LD), *dg = falloc(LD), *db = falloc(LD);
    tr_layernorm_backward(dx, dg, db, c.R, c.x, c.mean, c.rstd, c.gamma, LN, LD);
    GRAD_OK("layernorm dx", ln_loss, &c, c.x, dx, LN * LD);
    GRAD_OK("layernorm dgamma", ln_loss, &c, c.gamma, dg, LD);
    GRAD_OK("layernorm dbeta", ln_loss, &c, c.beta, db, LD);
    /* backward adds: a second call doubles, NULLs are skipped */
    float *dx2 = falloc(LN * LD);
    memcpy(dx2, dx, sizeof(float) * LN * LD);
    tr_layernorm_backward(dx2, NULL, NULL, c.R, c.x, c.mean, c.rstd, c.gamma, LN, LD);
    CU_ASSERT_DOUBLE_EQUAL(dx2[7], 2.0 * dx[7], 1e-6 * (1 + fabs(dx[7])));
    free(c.x); free(c.gamma); free(c.beta); free(c.out); free(c.mean); free(c.rstd); free(c.R);
    free(dx); free(dg); free(db); free(dx2);
}

/* ---- multi-head attention */

typedef struct mha_ctx {
    int B, Tq, Tk, H, dh, causal;
    const int32_t *key_len;
    float *q, *k, *v, *out, *lse, *R;
} mha_ctx;

static double mha_loss(void *p)
{
    mha_ctx *c = p;
    tr_mha_forward(c->out, c->lse, c->q, c->k, c->v, c->key_len, c->causal, c->B, c->Tq, c->Tk, c->H, c->dh);
    return dotd(c->out, c->R, c->B * c->Tq * c->H * c->dh);
}

static void mha_make(mha_ctx *c, int B, int Tq, int Tk, int H, int dh, int causal, const int32_t *key_len,
                     uint64_t seed)
{
    rng_seed(seed);
    const int W = H * dh;
    *c = (mha_ctx){B, Tq, Tk, H, dh, causal, key_len, frand(B * Tq * W, -1, 1), frand(B * Tk * W, -1, 1),
                   frand(B * Tk * W, -1, 1), falloc(B * Tq * W), falloc(B * H * Tq), frand(B * Tq * W, -1, 1)};
}

static void mha_free(mha_ctx *c)
{
    free(c->q); free(c->k); free(c->v); free(c->out); free(c->lse); free(c->R);
}

/* The worst |out - reference| over all outputs, the reference a full
 * softmax in double; seen counts the queries that see at least one key. */
static double mha_vs_reference(const mha_ctx *c, int *seen)
{
    const int W = c->H * c->dh;
    double worst = 0;
    *seen = 0;
    for (int b = 0; b < c->B; b++)
        for (int h = 0; h < c->H; h++)
            for (int i = 0; i < c->Tq; i++) {
                int end = c->key_len ? c->key_len[b] : c->Tk;
                if (c->causal && i + c->Tk - c->Tq + 1 < end)
                    end = i + c->Tk - c->Tq + 1;
                double s[256], m = -INFINITY, l = 0;
                for (int j = 0; j < end; j++) {
                    double d = 0;
                    for (int e = 0; e < c->dh; e++)
                        d += (double)c->q[(b * c->Tq + i) * W + h * c->dh + e] * c->k[(b * c->Tk + j) * W + h * c->dh + e];
                    s[j] = d / sqrt((double)c->dh);
                    m = s[j] > m ? s[j] : m;
                }
                for (int j = 0; j < end; j++)
                    l += exp(s[j] - m);
                *seen += end > 0;
                for (int e = 0; e < c->dh; e++) {
                    double o = 0;
                    for (int j = 0; j < end; j++)
                        o += exp(s[j] - m) / l * c->v[(b * c->Tk + j) * W + h * c->dh + e];
                    const double err = fabs(o - c->out[(b * c->Tq + i) * W + h * c->dh + e]);
                    worst = err > worst ? err : worst;
                }
                const float L = c->lse[(b * c->H + h) * c->Tq + i];
                if (end > 0)
                    worst = fmax(worst, fabs(L - (m + log(l))));
                else if (!(isinf(L) && L < 0))
                    worst = INFINITY;
            }
    return worst;
}

static void mha_check(const char *what, int B, int Tq, int Tk, int H, int dh, int causal, const int32_t *key_len,
                      uint64_t seed)
{
    mha_ctx c;
    mha_make(&c, B, Tq, Tk, H, dh, causal, key_len, seed);
    mha_loss(&c);
    int seen;
    const double err = mha_vs_reference(&c, &seen);
    printf("\n    %s: |out - reference| <= %.2g over %d queries that see a key", what, err, seen);
    CU_ASSERT(err < 2e-6);
    const int W = H * dh;
    float *dq = falloc(B * Tq * W), *dk = falloc(B * Tk * W), *dv = falloc(B * Tk * W);
    tr_mha_backward(dq, dk, dv, c.R, c.out, c.lse, c.q, c.k, c.v, key_len, causal, B, Tq, Tk, H, dh);
    GRAD_OK("mha dq", mha_loss, &c, c.q, dq, B * Tq * W);
    GRAD_OK("mha dk", mha_loss, &c, c.k, dk, B * Tk * W);
    GRAD_OK("mha dv", mha_loss, &c, c.v, dv, B * Tk * W);
    /* keys no query may see get no gradient; backward adds */
    if (key_len)
        for (int b = 0; b < B; b++)
            for (int j = key_len[b]; j < Tk; j++)
                for (int e = 0; e < W; e++)
                    CU_ASSERT(dk[(b * Tk + j) * W + e] == 0.0f && dv[(b * Tk + j) * W + e] == 0.0f);
    float *dq2 = falloc(B * Tq * W);
    memcpy(dq2, dq, sizeof(float) * B * Tq * W);
    tr_mha_backward(dq2, NULL, NULL, c.R, c.out, c.lse, c.q, c.k, c.v, key_len, causal, B, Tq, Tk, H, dh);
    CU_ASSERT_DOUBLE_EQUAL(dq2[1], 2.0 * dq[1], 1e-6 * (1 + fabs(dq[1])));
    free(dq); free(dk); free(dv); free(dq2);
    mha_free(&c);
}

static void mha_self(void)
{
    mha_check("self, 2 heads", 2, 6, 6, 2, 4, 0, NULL, 11);
}

static void mha_cross_padding(void)
{
    const int32_t len[3] = {7, 3, 0}; /* sample 2 has no key at all: its outputs 0, lse -inf */
    mha_check("cross, key padding", 3, 5, 7, 3, 4, 0, len, 12);
    mha_ctx c;
    mha_make(&c, 3, 5, 7, 3, 4, 0, len, 12);
    mha_loss(&c);
    for (int i = 0; i < 5 * 12; i++)
        CU_ASSERT_EQUAL(c.out[2 * 5 * 12 + i], 0.0f);
    CU_ASSERT(isinf(c.lse[2 * 3 * 5]) && c.lse[2 * 3 * 5] < 0);
    mha_free(&c);
}

static void mha_causal(void)
{
    const int32_t len[2] = {9, 5};
    mha_check("causal self, key padding", 2, 9, 9, 2, 3, 1, len, 13);
    mha_check("causal, one decoding step over 8 keys", 2, 1, 8, 2, 3, 1, NULL, 14);
    /* query i sees keys <= i: changing a later key changes nothing before it */
    mha_ctx c;
    mha_make(&c, 1, 5, 5, 1, 4, 1, NULL, 15);
    mha_loss(&c);
    float before[4 * 4];
    memcpy(before, c.out, sizeof before);
    for (int e = 0; e < 4; e++)
        c.k[4 * 4 + e] += 1.0f, c.v[4 * 4 + e] -= 1.0f; /* key 4 */
    mha_loss(&c);
    CU_ASSERT(memcmp(before, c.out, sizeof before) == 0);
    mha_free(&c);
}

static void mha_blocks(void)
{
    /* 150 keys: three blocks of the online softmax, the scores spread wide */
    const int32_t len[2] = {150, 129};
    mha_check("150 keys in blocks of 64", 2, 3, 150, 2, 8, 0, len, 16);
    mha_check("causal over 70 keys", 1, 70, 70, 1, 4, 1, NULL, 17);
}

int main(void)
{
    static const tr_test_case cases[] = {
        {"layer norm: by hand, against double, gradients", layernorm},
        {"multi-head self-attention", mha_self},
        {"cross-attention, key padding, a query that sees nothing", mha_cross_padding},
        {"causal attention, and one decoding step", mha_causal},
        {"keys over several blocks of the online softmax", mha_blocks},
        {NULL, NULL},
    };
    return tr_test_run("transformer", cases);
}

/* tests/test_transformer.c - the Transformer layers of trainer/layers.h
 * (ABI 1.6): layer normalisation by hand, against a double reference and
 * by central differences (x, gamma, beta); multi-head scaled dot-product
 * attention against a full-softmax double reference (self and cross,
 * key padding, causal, a query that sees no key, keys over several
 * blocks of the online softmax) and by central differences of q, k, v;
 * GELU and the feed-forward block (ReLU, GELU) by hand and by central
 * differences; the sinusoidal and learned positional encodings. */
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
    const uint64_t *keys; /* dropout */
    float drop;
} mha_ctx;

static double mha_loss(void *p)
{
    mha_ctx *c = p;
    tr_mha_forward(c->out, c->lse, c->q, c->k, c->v, c->key_len, c->causal, c->keys, c->drop, c->B, c->Tq, c->Tk,
                   c->H, c->dh);
    return dotd(c->out, c->R, c->B * c->Tq * c->H * c->dh);
}

static void mha_make(mha_ctx *c, int B, int Tq, int Tk, int H, int dh, int causal, const int32_t *key_len,
                     uint64_t seed)
{
    rng_seed(seed);
    const int W = H * dh;
    *c = (mha_ctx){B, Tq, Tk, H, dh, causal, key_len, frand(B * Tq * W, -1, 1), frand(B * Tk * W, -1, 1),
                   frand(B * Tk * W, -1, 1), falloc(B * Tq * W), falloc(B * H * Tq), frand(B * Tq * W, -1, 1), NULL, 0};
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
    /* the weights for maps: rows sum to 1 (0 for a query that sees nothing);
     * weights times v give out */
    float *alpha = falloc(B * H * Tq * Tk);
    tr_mha_weights(alpha, c.q, c.k, c.lse, key_len, causal, B, Tq, Tk, H, dh);
    double werr = 0;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int i = 0; i < Tq; i++) {
                const float *a = alpha + ((b * H + h) * Tq + i) * Tk;
                double sum = 0;
                for (int j = 0; j < Tk; j++)
                    sum += a[j];
                const int sees = c.lse[(b * H + h) * Tq + i] > -INFINITY;
                werr = fmax(werr, fabs(sum - (sees ? 1.0 : 0.0)));
                for (int e = 0; e < dh; e++) {
                    double o = 0;
                    for (int j = 0; j < Tk; j++)
                        o += (double)a[j] * c.v[(b * Tk + j) * W + h * dh + e];
                    werr = fmax(werr, fabs(o - c.out[(b * Tq + i) * W + h * dh + e]));
                }
            }
    CU_ASSERT(werr < 2e-6);
    free(alpha);
    float *dq = falloc(B * Tq * W), *dk = falloc(B * Tk * W), *dv = falloc(B * Tk * W);
    tr_mha_backward(dq, dk, dv, c.R, c.out, c.lse, c.q, c.k, c.v, key_len, causal, NULL, 0, B, Tq, Tk, H, dh);
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
    tr_mha_backward(dq2, NULL, NULL, c.R, c.out, c.lse, c.q, c.k, c.v, key_len, causal, NULL, 0, B, Tq, Tk, H, dh);
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

/* Dropout on the weights: the mask a pure function of (sample key, head,
 * query, key); the gradient of the dropped attention by central
 * differences (the mask held fixed); about p of the weights dropped; p 0
 * or no keys: the same bits as without. */
static void mha_dropout(void)
{
    enum { B = 2, T = 40, H = 2, DH = 4, W = H * DH };
    const uint64_t keys[B] = {tr_dropout_key(99, 7, 3, 0), tr_dropout_key(99, 8, 3, 0)};
    const int32_t len[B] = {40, 23};
    mha_ctx c;
    mha_make(&c, B, T, T, H, DH, 1, len, 31);
    mha_loss(&c);
    float *plain = falloc(B * T * W);
    memcpy(plain, c.out, sizeof(float) * B * T * W);
    c.keys = keys;
    c.drop = 0.0f;
    mha_loss(&c);
    CU_ASSERT(memcmp(plain, c.out, sizeof(float) * B * T * W) == 0);
    c.drop = 0.3f;
    mha_loss(&c);
    int changed = 0;
    for (int i = 0; i < B * T * W; i++)
        changed += plain[i] != c.out[i];
    CU_ASSERT(changed > B * T * W / 2);
    /* the mask of sample 1 does not depend on sample 0: run it alone */
    mha_ctx one = c;
    one.B = 1;
    one.q = c.q + T * W, one.k = c.k + T * W, one.v = c.v + T * W, one.key_len = len + 1, one.keys = keys + 1;
    one.out = falloc(T * W), one.lse = falloc(H * T), one.R = c.R + T * W;
    mha_loss(&one);
    CU_ASSERT(memcmp(one.out, c.out + T * W, sizeof(float) * T * W) == 0);
    free(one.out); free(one.lse);
    float *dq = falloc(B * T * W), *dk = falloc(B * T * W), *dv = falloc(B * T * W);
    tr_mha_backward(dq, dk, dv, c.R, c.out, c.lse, c.q, c.k, c.v, len, 1, keys, 0.3f, B, T, T, H, DH);
    GRAD_OK("mha dropout dq", mha_loss, &c, c.q, dq, B * T * W);
    GRAD_OK("mha dropout dk", mha_loss, &c, c.k, dk, B * T * W);
    GRAD_OK("mha dropout dv", mha_loss, &c, c.v, dv, B * T * W);
    /* with v = one-hot columns, out = the dropped weights: count the zeros */
    mha_ctx cnt;
    mha_make(&cnt, 1, 64, 64, 1, 64, 0, NULL, 32);
    memset(cnt.v, 0, sizeof(float) * 64 * 64);
    for (int j = 0; j < 64; j++)
        cnt.v[j * 64 + j] = 1.0f;
    cnt.keys = keys, cnt.drop = 0.25f;
    mha_loss(&cnt);
    int zeros = 0;
    for (int i = 0; i < 64 * 64; i++)
        zeros += cnt.out[i] == 0.0f;
    printf("\n    dropout 0.25: %d of 4096 weights dropped", zeros);
    CU_ASSERT(zeros > 900 && zeros < 1150);
    mha_free(&cnt);
    free(plain); free(dq); free(dk); free(dv);
    mha_free(&c);
}

/* ---- GELU, the feed-forward block, positions */

static void gelu(void)
{
    const float x[4] = {0.0f, 1.0f, -1.0f, 3.0f};
    float y[4], dx[4] = {0}, one[4] = {1, 1, 1, 1};
    tr_gelu_forward(y, x, 4);
    CU_ASSERT_DOUBLE_EQUAL(y[0], 0.0, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(y[1], 0.8413447, 1e-6); /* 1 * Phi(1) */
    CU_ASSERT_DOUBLE_EQUAL(y[2], -0.1586553, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(y[3], 2.9959502, 1e-6);
    tr_gelu_backward(dx, one, x, 4);
    CU_ASSERT_DOUBLE_EQUAL(dx[0], 0.5, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(dx[1], 0.8413447 + 0.2419707, 1e-6); /* Phi(1) + phi(1) */
    CU_ASSERT_DOUBLE_EQUAL(dx[2], 0.1586553 - 0.2419707, 1e-6);
}

enum { FN = 5, FD = 6, FF = 9 };

typedef struct ffn_ctx {
    int gelu;
    float *x, *W1, *b1, *W2, *b2, *out, *hidden, *pre, *R;
    const uint64_t *keys; /* dropout inside (tr_ffn_dropout_*): a fixed mask */
    float *mask;
} ffn_ctx;

static double ffn_loss(void *p)
{
    ffn_ctx *c = p;
    if (c->keys)
        tr_ffn_dropout_forward(c->out, c->hidden, c->pre, c->mask, c->x, c->W1, c->b1, c->W2, c->b2, c->gelu, c->keys,
                               0.3f, FN, FD, FF);
    else
        tr_ffn_forward(c->out, c->hidden, c->pre, c->x, c->W1, c->b1, c->W2, c->b2, c->gelu, FN, FD, FF);
    return dotd(c->out, c->R, FN * FD);
}

static void ffn_check(int gelu_on, int drop)
{
    rng_seed(21 + (uint64_t)gelu_on);
    const uint64_t keys[FN] = {11, 12, 13, 14, 15};
    ffn_ctx c = {gelu_on, frand(FN * FD, -1, 1), frand(FD * FF, -0.7f, 0.7f), frand(FF, -0.3f, 0.3f),
                 frand(FF * FD, -0.7f, 0.7f), frand(FD, -0.3f, 0.3f), falloc(FN * FD), falloc(FN * FF),
                 falloc(FN * FF), frand(FN * FD, -1, 1), drop ? keys : NULL, falloc(FN * FF)};
    ffn_loss(&c);
    int dropped = 0; /* row 0's mask: 0 or 1 / 0.7 */
    for (int f = 0; drop && f < FF; f++) {
        CU_ASSERT(c.mask[f] == 0.0f || fabsf(c.mask[f] - 1.0f / 0.7f) < 1e-6f);
        dropped += c.mask[f] == 0.0f;
    }
    CU_ASSERT(!drop || (dropped > 0 && dropped < FF));
    /* by hand, output 0: sum_f act(pre_0f) W2[f, 0] + b2[0] */
    double o = c.b2[0];
    for (int f = 0; f < FF; f++) {
        double z = c.b1[f];
        for (int d = 0; d < FD; d++)
            z += (double)c.x[d] * c.W1[d * FF + f];
        o += (gelu_on ? 0.5 * z * (1 + erf(z / sqrt(2.0))) : (z > 0 ? z : 0)) * (drop ? c.mask[f] : 1) * c.W2[f * FD];
    }
    CU_ASSERT_DOUBLE_EQUAL(c.out[0], o, 1e-5);
    float *dx = falloc(FN * FD), *dW1 = falloc(FD * FF), *db1 = falloc(FF), *dW2 = falloc(FF * FD), *db2 = falloc(FD);
    float *dh = falloc(FN * FF), *dp = falloc(FN * FF);
    tr_ffn_dropout_backward(dx, dW1, db1, dW2, db2, dh, dp, c.R, c.x, c.pre, c.hidden, drop ? c.mask : NULL, c.W1, c.W2,
                            gelu_on, FN, FD, FF);
    /* ReLU's kink: a step small enough that no pre-activation crosses 0 */
    const float h = gelu_on ? GC_H : 1e-3f;
    CU_ASSERT(grad_check_h("ffn dx", ffn_loss, &c, c.x, dx, FN * FD, h) < GC_TOL);
    CU_ASSERT(grad_check_h("ffn dW1", ffn_loss, &c, c.W1, dW1, FD * FF, h) < GC_TOL);
    CU_ASSERT(grad_check_h("ffn db1", ffn_loss, &c, c.b1, db1, FF, h) < GC_TOL);
    CU_ASSERT(grad_check_h("ffn dW2", ffn_loss, &c, c.W2, dW2, FF * FD, h) < GC_TOL);
    CU_ASSERT(grad_check_h("ffn db2", ffn_loss, &c, c.b2, db2, FD, h) < GC_TOL);
    free(c.x); free(c.W1); free(c.b1); free(c.W2); free(c.b2); free(c.out); free(c.hidden); free(c.pre); free(c.R);
    free(c.mask);
    free(dx); free(dW1); free(db1); free(dW2); free(db2); free(dh); free(dp);
}

static void ffn_relu(void) { ffn_check(0, 0); }
static void ffn_gelu(void) { ffn_check(1, 0); }
static void ffn_relu_drop(void) { ffn_check(0, 1); }
static void ffn_gelu_drop(void) { ffn_check(1, 1); }

static void positions(void)
{
    enum { PB = 2, PT = 3, PD = 6 };
    float x[PB * PT * PD] = {0};
    tr_sinusoid_add(x, PB, PT, PD, 0);
    CU_ASSERT(x[0] == 0.0f && x[1] == 1.0f && x[4] == 0.0f && x[5] == 1.0f); /* position 0: sin 0, cos 0 */
    CU_ASSERT_DOUBLE_EQUAL(x[PD + 0], sin(1.0), 1e-7);                        /* position 1 */
    CU_ASSERT_DOUBLE_EQUAL(x[PD + 1], cos(1.0), 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(x[PD + 2], sin(1.0 / pow(10000.0, 2.0 / PD)), 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(x[PD + 5], cos(1.0 / pow(10000.0, 4.0 / PD)), 1e-7);
    CU_ASSERT(memcmp(x, x + PT * PD, sizeof(float) * PT * PD) == 0); /* every sample the same */
    float y[PB * PT * PD] = {0}; /* a decoding step at position 2 = row 2 of the whole */
    tr_sinusoid_add(y, 1, 1, PD, 2);
    CU_ASSERT(memcmp(y, x + 2 * PD, sizeof(float) * PD) == 0);
    /* learned: rows of the table added; their gradient summed over samples */
    float table[4 * PD], dtable[4 * PD] = {0}, z[PB * PT * PD] = {0}, g[PB * PT * PD];
    for (int i = 0; i < 4 * PD; i++)
        table[i] = (float)i;
    for (int i = 0; i < PB * PT * PD; i++)
        g[i] = 1.0f + (float)(i / (PT * PD)); /* sample 0: 1, sample 1: 2 */
    tr_positions_forward(z, table, PB, PT, PD, 1);
    CU_ASSERT(z[0] == table[PD] && z[PT * PD] == table[PD] && z[2 * PD + 3] == table[3 * PD + 3]);
    tr_positions_backward(dtable, g, PB, PT, PD, 1);
    CU_ASSERT(dtable[0] == 0.0f && dtable[PD] == 3.0f && dtable[3 * PD + 5] == 3.0f);
}

int main(void)
{
    static const tr_test_case cases[] = {
        {"layer norm: by hand, against double, gradients", layernorm},
        {"multi-head self-attention", mha_self},
        {"cross-attention, key padding, a query that sees nothing", mha_cross_padding},
        {"causal attention, and one decoding step", mha_causal},
        {"keys over several blocks of the online softmax", mha_blocks},
        {"dropout on the attention weights", mha_dropout},
        {"GELU by hand", gelu},
        {"feed-forward block, ReLU", ffn_relu},
        {"feed-forward block, GELU", ffn_gelu},
        {"feed-forward block, ReLU, dropout inside", ffn_relu_drop},
        {"feed-forward block, GELU, dropout inside", ffn_gelu_drop},
        {"positional encodings: sinusoidal and learned", positions},
        {NULL, NULL},
    };
    return tr_test_run("transformer", cases);
}

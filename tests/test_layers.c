/* tests/test_layers.c - forward values and finite-difference gradient checks
 * (tr_check.h) for every layer in trainer/layers.h. */
#include "trainer/layers.h"
#include "tr_check.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int close_to(double got, double want, double tol)
{
    return fabs(got - want) <= tol * (1.0 + fabs(want));
}

/* ---- the gradient checker (tr_check.h) */

#define GRAD_OK(what, f, ctx, x, g, n)                                        \
    CU_ASSERT(grad_check_h((what), (f), (ctx), (x), (g), (n), GC_H) < GC_TOL)

#define GRAD_OK_SEQ(what, f, ctx, x, g, n)                                    \
    CU_ASSERT(grad_check_h((what), (f), (ctx), (x), (g), (n), GC_H_SEQ) <     \
              GC_TOL)

/* ================================================================ dense */

typedef struct {
    int N, I, O;
    float *in, *W, *b, *out, *R;
} dense_ctx;

static double dense_loss(void *p)
{
    dense_ctx *c = p;
    tr_dense_forward(c->out, c->in, c->W, c->b, c->N, c->I, c->O);
    return dotd(c->out, c->R, c->N * c->O);
}

static void test_dense_values(void)
{
    /* in [2,2], W [I=2, O=2] (Keras layout), b [2] */
    const float in[4] = {1, 2, 3, 4};
    const float W[4] = {1, 0, 2, 1};
    const float b[2] = {0.5f, -1.0f};
    float out[4];
    tr_dense_forward(out, in, W, b, 2, 2, 2);
    CU_ASSERT_DOUBLE_EQUAL(out[0], 5.5, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(out[1], 1.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(out[2], 11.5, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(out[3], 3.0, 1e-6);
    memset(out, 0x7f, sizeof out); /* garbage must be overwritten */
    tr_dense_forward(out, in, W, NULL, 2, 2, 2);
    CU_ASSERT_DOUBLE_EQUAL(out[0], 5.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(out[1], 2.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(out[2], 11.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(out[3], 4.0, 1e-6);

    /* backward by hand: dout = [[1,0],[0,1]] */
    const float dout[4] = {1, 0, 0, 1};
    float din[4] = {0}, dW[4] = {0}, db[2] = {0};
    tr_dense_backward(din, dW, db, dout, in, W, 2, 2, 2);
    /* din = dout . W^T = [[1,2],[0,1]] */
    CU_ASSERT_DOUBLE_EQUAL(din[0], 1.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(din[1], 2.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(din[2], 0.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(din[3], 1.0, 1e-6);
    /* dW = in^T . dout = [[1,3],[2,4]] */
    CU_ASSERT_DOUBLE_EQUAL(dW[0], 1.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(dW[1], 3.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(dW[2], 2.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(dW[3], 4.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(db[0], 1.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(db[1], 1.0, 1e-6);
}

static void dense_grad(int with_bias)
{
    rng_seed(with_bias ? 11 : 12);
    dense_ctx c = {.N = 5, .I = 7, .O = 4};
    int nin = c.N * c.I, nw = c.I * c.O, nout = c.N * c.O;
    c.in = frand(nin, -1, 1);
    c.W = frand(nw, -1, 1);
    c.b = with_bias ? frand(c.O, -1, 1) : NULL;
    c.out = falloc(nout);
    c.R = frand(nout, -1, 1);
    float *din = falloc(nin), *dW = falloc(nw), *db = falloc(c.O);

    dense_loss(&c);
    tr_dense_backward(with_bias ? din : NULL, dW, with_bias ? db : NULL, c.R,
                      c.in, c.W, c.N, c.I, c.O);
    CU_ASSERT(max_abs(dW, nw) > 0.1);
    if (with_bias) {
        GRAD_OK("dense din", dense_loss, &c, c.in, din, nin);
        GRAD_OK("dense db", dense_loss, &c, c.b, db, c.O);
    } else {
        CU_ASSERT(all_zero(din, nin)); /* din NULL: skipped */
    }
    GRAD_OK(with_bias ? "dense dW" : "dense dW (no bias, din NULL)",
            dense_loss, &c, c.W, dW, nw);

    /* backward accumulates */
    float *dW1 = fdup(dW, nw), *din1 = fdup(din, nin), *db1 = fdup(db, c.O);
    tr_dense_backward(with_bias ? din : NULL, dW, with_bias ? db : NULL, c.R,
                      c.in, c.W, c.N, c.I, c.O);
    CU_ASSERT(is_double_of(dW1, dW, nw));
    CU_ASSERT(is_double_of(din1, din, nin));
    CU_ASSERT(is_double_of(db1, db, c.O));

    free(c.in); free(c.W); free(c.b); free(c.out); free(c.R);
    free(din); free(dW); free(db); free(dW1); free(din1); free(db1);
}

static void test_dense_grad_bias(void) { dense_grad(1); }
static void test_dense_grad_nobias(void) { dense_grad(0); }

/* ============================================================ embedding */

typedef struct {
    int N, D;
    const int32_t *tok;
    float *table, *out, *R;
} emb_ctx;

static double emb_loss(void *p)
{
    emb_ctx *c = p;
    tr_embedding_forward(c->out, c->tok, c->table, c->N, c->D);
    return dotd(c->out, c->R, c->N * c->D);
}

static void test_embedding(void)
{
    rng_seed(21);
    static const int32_t tok[8] = {1, 3, 1, 0, 5, 3, 1, 2}; /* 4 unused */
    emb_ctx c = {.N = 8, .D = 5, .tok = tok};
    int V = 6, nt = V * c.D, nout = c.N * c.D;
    c.table = frand(nt, -1, 1);
    c.out = falloc(nout);
    c.R = frand(nout, -1, 1);
    float *dtab = falloc(nt);

    emb_loss(&c);
    for (int n = 0; n < c.N; n++)
        CU_ASSERT(memcmp(c.out + n * c.D, c.table + tok[n] * c.D,
                         (size_t)c.D * sizeof(float)) == 0);
    tr_embedding_backward(dtab, c.R, tok, c.N, c.D);
    /* row 1 is used three times: the sum of the three dout rows */
    for (int k = 0; k < c.D; k++)
        CU_ASSERT(close_to(dtab[1 * c.D + k],
                           (double)c.R[0 * c.D + k] + c.R[2 * c.D + k] +
                               c.R[6 * c.D + k],
                           1e-6));
    CU_ASSERT(all_zero(dtab + 4 * c.D, c.D));
    GRAD_OK("embedding dtable", emb_loss, &c, c.table, dtab, nt);

    float *once = fdup(dtab, nt);
    tr_embedding_backward(dtab, c.R, tok, c.N, c.D);
    CU_ASSERT(is_double_of(once, dtab, nt));
    free(c.table); free(c.out); free(c.R); free(dtab); free(once);
}

/* ========================================================== activations */

typedef struct {
    int n;
    tr_act act;
    float *x, *y, *R;
} act_ctx;

static double act_loss(void *p)
{
    act_ctx *c = p;
    tr_act_forward(c->y, c->x, c->n, c->act);
    return dotd(c->y, c->R, c->n);
}

static void test_act_values(void)
{
    const float x[6] = {-3.0f, -2.5f, 0.0f, 1.0f, 2.5f, 3.0f};
    float y[6];
    tr_act_forward(y, x, 6, TR_ACT_HARD_SIGMOID);
    const double want[6] = {0.0, 0.0, 0.5, 0.7, 1.0, 1.0};
    for (int i = 0; i < 6; i++)
        CU_ASSERT_DOUBLE_EQUAL(y[i], want[i], 1e-6);
    const float dy[6] = {1, 1, 1, 1, 1, 1};
    float dx[6] = {0};
    tr_act_backward(dx, dy, y, 6, TR_ACT_HARD_SIGMOID);
    const double wantd[6] = {0.0, 0.0, 0.2, 0.2, 0.0, 0.0};
    for (int i = 0; i < 6; i++)
        CU_ASSERT_DOUBLE_EQUAL(dx[i], wantd[i], 1e-7);

    tr_act_forward(y, x, 6, TR_ACT_SIGMOID);
    CU_ASSERT_DOUBLE_EQUAL(y[2], 0.5, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(y[3], 0.7310585786, 1e-6);
    tr_act_forward(y, x, 6, TR_ACT_TANH);
    CU_ASSERT_DOUBLE_EQUAL(y[3], 0.7615941560, 1e-6);
    tr_act_forward(y, x, 6, TR_ACT_RELU);
    CU_ASSERT(y[0] == 0.0f && y[2] == 0.0f && y[5] == 3.0f);

    /* in place, and extreme inputs stay finite */
    float z[4] = {-100.0f, 100.0f, -1e30f, 1e30f};
    tr_act_forward(z, z, 4, TR_ACT_SIGMOID);
    CU_ASSERT(z[0] >= 0.0f && z[0] < 1e-30f && z[1] == 1.0f && z[2] >= 0.0f &&
              z[2] < 1e-37f && z[3] == 1.0f);
}

static void test_act_grad(void)
{
    static const struct {
        tr_act act;
        const char *name;
    } acts[] = {{TR_ACT_LINEAR, "linear"},
                {TR_ACT_SIGMOID, "sigmoid"},
                {TR_ACT_HARD_SIGMOID, "hard sigmoid"},
                {TR_ACT_TANH, "tanh"},
                {TR_ACT_RELU, "relu"}};
    rng_seed(31);
    const int n = 40;
    for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
        act_ctx c = {.n = n, .act = acts[a].act};
        c.x = falloc(n);
        c.y = falloc(n);
        c.R = frand(n, -1, 1);
        for (int i = 0; i < n; i++) {
            float v;
            do /* away from the kinks at 0 (relu) and +-2.5 (hard sigmoid) */
                v = rng_unif(-4.5f, 4.5f);
            while (fabsf(v) < 0.1f || fabsf(fabsf(v) - 2.5f) < 0.1f);
            c.x[i] = v;
        }
        c.x[0] = 4.0f; /* saturated points */
        c.x[1] = -3.5f;
        float *dx = falloc(n);
        act_loss(&c);
        tr_act_backward(dx, c.R, c.y, n, c.act);
        char what[64];
        snprintf(what, sizeof what, "act %s dx", acts[a].name);
        GRAD_OK(what, act_loss, &c, c.x, dx, n);
        CU_ASSERT(max_abs(dx, n) > 0.05);
        if (c.act == TR_ACT_HARD_SIGMOID)
            CU_ASSERT(dx[0] == 0.0f && dx[1] == 0.0f);

        float *once = fdup(dx, n);
        tr_act_backward(dx, c.R, c.y, n, c.act);
        CU_ASSERT(is_double_of(once, dx, n));

        /* in place forward equals out of place */
        float *xi = fdup(c.x, n);
        tr_act_forward(xi, xi, n, c.act);
        CU_ASSERT(memcmp(xi, c.y, (size_t)n * sizeof(float)) == 0);
        free(c.x); free(c.y); free(c.R); free(dx); free(once); free(xi);
    }
}

/* ============================================================== softmax */

typedef struct {
    int outer, len, inner;
    float *x, *y, *R;
} sm_ctx;

static double sm_loss(void *p)
{
    sm_ctx *c = p;
    tr_softmax_forward(c->y, c->x, c->outer, c->len, c->inner);
    return dotd(c->y, c->R, c->outer * c->len * c->inner);
}

static void softmax_case(int inner)
{
    rng_seed(40 + (uint64_t)inner);
    sm_ctx c = {.outer = 2, .len = 5, .inner = inner};
    int n = c.outer * c.len * c.inner;
    c.x = frand(n, -3, 3);
    c.y = falloc(n);
    c.R = frand(n, -1, 1);
    float *dx = falloc(n);
    sm_loss(&c);
    /* sums to 1 along the middle axis, all positive */
    for (int o = 0; o < c.outer; o++)
        for (int j = 0; j < inner; j++) {
            double s = 0.0;
            for (int l = 0; l < c.len; l++) {
                float v = c.y[(o * c.len + l) * inner + j];
                CU_ASSERT(v > 0.0f);
                s += v;
            }
            CU_ASSERT_DOUBLE_EQUAL(s, 1.0, 1e-6);
        }
    tr_softmax_backward(dx, c.R, c.y, c.outer, c.len, c.inner);
    GRAD_OK(inner > 1 ? "softmax dx (middle axis, inner 3)"
                      : "softmax dx (inner 1)",
            sm_loss, &c, c.x, dx, n);
    CU_ASSERT(max_abs(dx, n) > 0.01);
    float *once = fdup(dx, n);
    tr_softmax_backward(dx, c.R, c.y, c.outer, c.len, c.inner);
    CU_ASSERT(is_double_of(once, dx, n));

    /* in place equals out of place */
    float *xi = fdup(c.x, n);
    tr_softmax_forward(xi, xi, c.outer, c.len, c.inner);
    CU_ASSERT(memcmp(xi, c.y, (size_t)n * sizeof(float)) == 0);
    free(c.x); free(c.y); free(c.R); free(dx); free(once); free(xi);
}

static void test_softmax_inner(void) { softmax_case(3); }
static void test_softmax_rows(void) { softmax_case(1); }

static void test_softmax_values(void)
{
    /* [1, 3, 2] over len=3 with inner=2: column 0 = {0, ln 2, ln 3}... */
    const float x[6] = {0.0f, 1000.0f, 0.6931471806f, 1000.0f, 1.0986122887f,
                        1000.0f};
    float y[6];
    tr_softmax_forward(y, x, 1, 3, 2);
    CU_ASSERT_DOUBLE_EQUAL(y[0], 1.0 / 6.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(y[2], 2.0 / 6.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(y[4], 3.0 / 6.0, 1e-6);
    for (int l = 0; l < 3; l++) /* huge equal logits: no overflow */
        CU_ASSERT_DOUBLE_EQUAL(y[2 * l + 1], 1.0 / 3.0, 1e-6);
}

/* ====================================================== softmax + xent */

typedef struct {
    int N, C;
    float scale;
    const int32_t *tg;
    float *logits, *probs;
} xent_ctx;

static double xent_loss(void *p)
{
    xent_ctx *c = p;
    return c->scale *
           tr_softmax_xent_forward(c->probs, c->logits, c->tg, c->N, c->C);
}

static void test_xent(void)
{
    rng_seed(51);
    static const int32_t tg[4] = {2, -1, 0, 4};
    xent_ctx c = {.N = 4, .C = 5, .scale = 0.5f, .tg = tg};
    int n = c.N * c.C;
    c.logits = frand(n, -3, 3);
    c.probs = falloc(n);
    float *dl = falloc(n);
    double L = xent_loss(&c);
    double want = 0.0;
    for (int r = 0; r < c.N; r++)
        if (tg[r] >= 0)
            want -= log(c.probs[r * c.C + tg[r]]);
    CU_ASSERT(close_to(L, c.scale * want, 1e-5));
    tr_softmax_xent_backward(dl, c.probs, tg, c.scale, c.N, c.C);
    CU_ASSERT(all_zero(dl + 1 * c.C, c.C)); /* ignored target: no gradient */
    GRAD_OK("softmax+xent dlogits", xent_loss, &c, c.logits, dl, n);
    float *once = fdup(dl, n);
    tr_softmax_xent_backward(dl, c.probs, tg, c.scale, c.N, c.C);
    CU_ASSERT(is_double_of(once, dl, n));

    /* uniform logits: log C per counted row; huge logits: finite */
    float lg[8] = {0, 0, 0, 0, 1000, 0, 0, 0}, pr[8];
    const int32_t t2[2] = {3, 1};
    double l2 = tr_softmax_xent_forward(pr, lg, t2, 2, 4);
    CU_ASSERT(close_to(l2, log(4.0) + 1000.0, 1e-9));
    CU_ASSERT_DOUBLE_EQUAL(pr[4], 1.0, 1e-7);
    const int32_t t3[2] = {-1, -1};
    CU_ASSERT(tr_softmax_xent_forward(pr, lg, t3, 2, 4) == 0.0);
    free(c.logits); free(c.probs); free(dl); free(once);
}

typedef struct {
    xent_ctx x;
    float smoothing;
} smooth_ctx;

static double smooth_loss(void *p)
{
    smooth_ctx *c = p;
    return c->x.scale * tr_softmax_xent_smooth_forward(c->x.probs, c->x.logits, c->x.tg, c->smoothing, c->x.N,
                                                       c->x.C);
}

static void test_xent_smooth(void)
{
    rng_seed(52);
    static const int32_t tg[3] = {1, -1, 3};
    smooth_ctx c = {.x = {.N = 3, .C = 4, .scale = 0.5f, .tg = tg}, .smoothing = 0.2f};
    int n = c.x.N * c.x.C;
    c.x.logits = frand(n, -3, 3);
    c.x.probs = falloc(n);
    float *dl = falloc(n);
    /* the cross-entropy with the target 0.8*onehot + 0.05 on each class */
    double L = smooth_loss(&c), want = 0.0;
    for (int r = 0; r < c.x.N; r++)
        for (int k = 0; tg[r] >= 0 && k < c.x.C; k++)
            want -= ((k == tg[r] ? 0.8 : 0.0) + 0.05) * log(c.x.probs[r * c.x.C + k]);
    CU_ASSERT(close_to(L, c.x.scale * want, 1e-5));
    tr_softmax_xent_smooth_backward(dl, c.x.probs, tg, c.smoothing, c.x.scale, c.x.N, c.x.C);
    CU_ASSERT(all_zero(dl + 1 * c.x.C, c.x.C)); /* ignored target: no gradient */
    GRAD_OK("smoothed xent dlogits", smooth_loss, &c, c.x.logits, dl, n);

    /* smoothing 0 is the plain loss, to the bit */
    float *d0 = falloc(n), *d1 = falloc(n), *p1 = falloc(n);
    c.smoothing = 0.0f;
    double l0 = smooth_loss(&c);
    CU_ASSERT(l0 == c.x.scale * tr_softmax_xent_forward(p1, c.x.logits, tg, c.x.N, c.x.C));
    tr_softmax_xent_smooth_backward(d0, c.x.probs, tg, 0.0f, 1.0f, c.x.N, c.x.C);
    tr_softmax_xent_backward(d1, p1, tg, 1.0f, c.x.N, c.x.C);
    CU_ASSERT(memcmp(d0, d1, (size_t)n * sizeof(float)) == 0);
    /* uniform logits: log C whatever the smoothing */
    float lg[4] = {2, 2, 2, 2}, pr[4];
    const int32_t t1[1] = {0};
    CU_ASSERT(close_to(tr_softmax_xent_smooth_forward(pr, lg, t1, 0.3f, 1, 4), log(4.0), 1e-9));
    free(c.x.logits); free(c.x.probs); free(dl); free(d0); free(d1); free(p1);
}

/* ============================================================ LSTM cell */

static void test_lstm_cell_values(void)
{
    /* H = 1: Wh[1,4], one step with known weights */
    const float Wh[4] = {1, 2, 0.5f, -1};
    const float xw[4] = {0.5f, 0, 0.25f, 1};
    const float hp = 0.5f, cp = 2.0f;
    float h, c, gates[4];
    tr_lstm_cell_forward(&h, &c, gates, xw, &hp, &cp, Wh, 1, 1,
                         TR_ACT_HARD_SIGMOID);
    /* z = [1, 1, 0.5, 0.5]: i = f = 0.7, g = tanh 0.5, o = 0.6 */
    CU_ASSERT_DOUBLE_EQUAL(gates[0], 0.7, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(gates[1], 0.7, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(gates[2], 0.46211715726, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(gates[3], 0.6, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(c, 1.72348201008, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(h, 0.56296856657, 1e-6);
    tr_lstm_cell_forward(&h, &c, gates, xw, &hp, &cp, Wh, 1, 1,
                         TR_ACT_SIGMOID);
    CU_ASSERT_DOUBLE_EQUAL(c, 1.79995186941, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(h, 0.58934513485, 1e-6);

    /* H = 2, no h_prev: the gate blocks are [i0 i1 f0 f1 g0 g1 o0 o1] */
    const float xw2[8] = {0, 2.5f, 5, -5, 0.5f, 1, 0, 2.5f};
    const float cp2[2] = {1, 2};
    const float Wz[8] = {0};
    float h2[2], c2[2], g2[8];
    tr_lstm_cell_forward(h2, c2, g2, xw2, NULL, cp2, Wz, 1, 2,
                         TR_ACT_HARD_SIGMOID);
    CU_ASSERT_DOUBLE_EQUAL(c2[0], 1.23105857863, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(c2[1], 0.76159415596, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(h2[0], 0.42144305166, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(h2[1], 0.64201499201, 1e-6);
}

typedef struct {
    int B, H;
    tr_act ract;
    float *xw, *hp, *cp, *Wh; /* hp, cp may be NULL */
    float *h, *c, *gates, *Rh, *Rc;
} cell_ctx;

static double cell_loss(void *p)
{
    cell_ctx *k = p;
    tr_lstm_cell_forward(k->h, k->c, k->gates, k->xw, k->hp, k->cp, k->Wh,
                         k->B, k->H, k->ract);
    int n = k->B * k->H;
    return dotd(k->h, k->Rh, n) + dotd(k->c, k->Rc, n);
}

static void lstm_cell_grad(tr_act ract, int with_prev)
{
    rng_seed(60 + (uint64_t)ract * 2 + (uint64_t)with_prev);
    cell_ctx k = {.B = 3, .H = 4, .ract = ract};
    int BH = k.B * k.H, BG = 4 * BH, HG = 4 * k.H * k.H;
    k.xw = frand(BG, -1, 1);
    /* a few saturated gates, far from the hard-sigmoid kinks at +-2.5:
     * |h_prev . Wh| <= 4 * 1 * 0.3 */
    k.xw[1] = 6.0f;
    k.xw[k.H + 2] = -6.0f;
    k.xw[4 * k.H + 3 * k.H] = 6.0f;
    k.Wh = frand(HG, -0.3f, 0.3f);
    k.hp = with_prev ? frand(BH, -1, 1) : NULL;
    k.cp = with_prev ? frand(BH, -2, 2) : NULL;
    k.h = falloc(BH);
    k.c = falloc(BH);
    k.gates = falloc(BG);
    k.Rh = frand(BH, -1, 1);
    k.Rc = frand(BH, -1, 1);
    float *dxw = falloc(BG), *dhp = falloc(BH), *dcp = falloc(BH),
          *dWh = falloc(HG);
    float *dc = fdup(k.Rc, BH);

    cell_loss(&k);
    tr_lstm_cell_backward(dxw, with_prev ? dhp : NULL, with_prev ? dcp : NULL,
                          dWh, k.Rh, dc, k.gates, k.c, k.hp, k.cp, k.Wh, k.B,
                          k.H, ract);
    char what[96];
    const char *an = ract == TR_ACT_SIGMOID ? "sigmoid" : "hard sigmoid";
    const char *pn = with_prev ? "" : ", prev NULL";
    snprintf(what, sizeof what, "lstm cell dxw (%s%s)", an, pn);
    GRAD_OK(what, cell_loss, &k, k.xw, dxw, BG);
    CU_ASSERT(max_abs(dxw, BG) > 0.01);
    if (with_prev) {
        snprintf(what, sizeof what, "lstm cell dh_prev (%s)", an);
        GRAD_OK(what, cell_loss, &k, k.hp, dhp, BH);
        snprintf(what, sizeof what, "lstm cell dc_prev (%s)", an);
        GRAD_OK(what, cell_loss, &k, k.cp, dcp, BH);
        snprintf(what, sizeof what, "lstm cell dWh (%s)", an);
        GRAD_OK(what, cell_loss, &k, k.Wh, dWh, HG);
        CU_ASSERT(max_abs(dWh, HG) > 0.01);
        CU_ASSERT(max_abs(dhp, BH) > 0.01);
        CU_ASSERT(max_abs(dcp, BH) > 0.01);
    } else {
        /* h_prev = 0: Wh has no effect */
        CU_ASSERT(all_zero(dWh, HG));
        CU_ASSERT(all_zero(dhp, BH) && all_zero(dcp, BH));
        snprintf(what, sizeof what, "lstm cell dWh (%s%s)", an, pn);
        GRAD_OK(what, cell_loss, &k, k.Wh, dWh, HG);
    }
    if (ract == TR_ACT_HARD_SIGMOID) /* the saturated i gate */
        CU_ASSERT(dxw[1] == 0.0f);

    /* accumulates */
    float *o_dxw = fdup(dxw, BG), *o_dhp = fdup(dhp, BH),
          *o_dcp = fdup(dcp, BH), *o_dWh = fdup(dWh, HG);
    memcpy(dc, k.Rc, (size_t)BH * sizeof *dc);
    cell_loss(&k);
    tr_lstm_cell_backward(dxw, with_prev ? dhp : NULL, with_prev ? dcp : NULL,
                          dWh, k.Rh, dc, k.gates, k.c, k.hp, k.cp, k.Wh, k.B,
                          k.H, ract);
    CU_ASSERT(is_double_of(o_dxw, dxw, BG));
    CU_ASSERT(is_double_of(o_dhp, dhp, BH));
    CU_ASSERT(is_double_of(o_dcp, dcp, BH));
    CU_ASSERT(is_double_of(o_dWh, dWh, HG));

    free(k.xw); free(k.Wh); free(k.hp); free(k.cp); free(k.h); free(k.c);
    free(k.gates); free(k.Rh); free(k.Rc); free(dxw); free(dhp); free(dcp);
    free(dWh); free(dc); free(o_dxw); free(o_dhp); free(o_dcp); free(o_dWh);
}

static void test_lstm_cell_sigmoid(void) { lstm_cell_grad(TR_ACT_SIGMOID, 1); }
static void test_lstm_cell_hard(void) { lstm_cell_grad(TR_ACT_HARD_SIGMOID, 1); }
static void test_lstm_cell_null_sigmoid(void) { lstm_cell_grad(TR_ACT_SIGMOID, 0); }
static void test_lstm_cell_null_hard(void) { lstm_cell_grad(TR_ACT_HARD_SIGMOID, 0); }

/* Big cells: lstm.c builds dz in tiles of 8192 floats, so B*4H beyond that
 * splits the rows (B=40, H=64: 32 rows a tile) and 4H beyond it splits the
 * columns too (H=2100: 4H=8400). The tiled GEMMs are checked against
 * dWh = h_prev^T . dz and dh_prev = dz . Wh^T in double (dz = dxw here, as
 * dxw started at 0), dxw against finite differences, including the entries
 * either side of the column-tile boundary. */
static void lstm_cell_tiled(int B, int H, uint64_t seed)
{
    rng_seed(seed);
    cell_ctx k = {.B = B, .H = H, .ract = TR_ACT_SIGMOID};
    const int BH = B * H, BG = 4 * BH, G = 4 * H, HG = 4 * H * H;
    const float wr = 1.0f / (float)H;
    k.xw = frand(BG, -1, 1);
    k.Wh = frand(HG, -wr, wr);
    k.hp = frand(BH, -1, 1);
    k.cp = frand(BH, -1, 1);
    k.h = falloc(BH);
    k.c = falloc(BH);
    k.gates = falloc(BG);
    k.Rh = frand(BH, -1, 1);
    k.Rc = frand(BH, -1, 1);
    float *dxw = falloc(BG), *dhp = falloc(BH), *dcp = falloc(BH),
          *dWh = falloc(HG), *dc = fdup(k.Rc, BH);
    cell_loss(&k);
    tr_lstm_cell_backward(dxw, dhp, dcp, dWh, k.Rh, dc, k.gates, k.c, k.hp,
                          k.cp, k.Wh, B, H, k.ract);
    double worst = 0.0;
    for (int s = 0; s < 300; s++) {
        int i = (int)(rng_u32() % (uint32_t)H), j = (int)(rng_u32() % (uint32_t)G);
        if (s < 4) /* either side of the column tile boundary, if any */
            j = G > 8192 ? 8190 + s : j;
        double want = 0.0;
        for (int b = 0; b < B; b++)
            want += (double)k.hp[b * H + i] * dxw[b * G + j];
        double e = fabs(dWh[(size_t)i * G + j] - want) / (1e-3 + fabs(want));
        worst = e > worst ? e : worst;
    }
    for (int s = 0; s < 100; s++) {
        int b = s < B ? s : (int)(rng_u32() % (uint32_t)B);
        int i = (int)(rng_u32() % (uint32_t)H);
        double want = 0.0;
        for (int j = 0; j < G; j++)
            want += (double)dxw[b * G + j] * k.Wh[(size_t)i * G + j];
        double e = fabs(dhp[b * H + i] - want) / (1e-3 + fabs(want));
        worst = e > worst ? e : worst;
    }
    char what[96];
    snprintf(what, sizeof what, "lstm cell B=%d H=%d tiled GEMMs", B, H);
    printf("\n      %-34s max rel err %.2e", what, worst);
    CU_ASSERT(worst < 1e-3);
    snprintf(what, sizeof what, "lstm cell B=%d H=%d dxw", B, H);
    GRAD_OK_SEQ(what, cell_loss, &k, k.xw, dxw, BG);
    /* no finite differences for dh_prev here: one h_prev entry moves 4H
     * gates, and the float noise of 4H outputs swamps small entries; the
     * GEMM check above covers it (the small cells check it by FD) */
    if (G > 8192) {
        int off = (B - 1) * G + 8192 - 8; /* last row, across the boundary */
        snprintf(what, sizeof what, "lstm cell H=%d dxw at tile edge", H);
        GRAD_OK_SEQ(what, cell_loss, &k, k.xw + off, dxw + off, 16);
    }
    free(k.xw); free(k.Wh); free(k.hp); free(k.cp); free(k.h); free(k.c);
    free(k.gates); free(k.Rh); free(k.Rc); free(dxw); free(dhp); free(dcp);
    free(dWh); free(dc);
}

static void test_lstm_cell_rows(void) { lstm_cell_tiled(40, 64, 76); }
static void test_lstm_cell_wide(void) { lstm_cell_tiled(2, 2100, 77); }

/* ======================================================== LSTM sequence */

typedef struct {
    int T, B, H, reverse;
    tr_act ract;
    float *xw, *Wh, *h_seq, *c_seq, *gates, *R;
} seq_ctx;

static double seq_loss(void *p)
{
    seq_ctx *s = p;
    tr_lstm_forward(s->h_seq, s->c_seq, s->gates, s->xw, s->Wh, s->T, s->B,
                    s->H, s->reverse, s->ract);
    return dotd(s->h_seq, s->R, s->T * s->B * s->H);
}

static void lstm_seq_grad(int reverse, tr_act ract)
{
    rng_seed(80 + (uint64_t)reverse * 2 + (uint64_t)ract);
    seq_ctx s = {.T = 6, .B = 2, .H = 3, .reverse = reverse, .ract = ract};
    const int BH = s.B * s.H, BG = 4 * BH, N = s.T * BH, NG = s.T * BG,
              HG = 4 * s.H * s.H;
    s.xw = frand(NG, -1, 1);
    s.Wh = frand(HG, -0.4f, 0.4f); /* |z| <= 1 + 3 * 0.4, off the kinks */
    s.h_seq = falloc(N);
    s.c_seq = falloc(N);
    s.gates = falloc(NG);
    s.R = frand(N, -1, 1);
    float *dxw = falloc(NG), *dWh = falloc(HG), *dh = fdup(s.R, N),
          *work = falloc(2 * BH);
    char what[96];
    const char *dn = reverse ? "reverse" : "forward";
    const char *an = ract == TR_ACT_SIGMOID ? "sigmoid" : "hard sigmoid";

    /* forward semantics: the same as chaining cells in processing order */
    seq_loss(&s);
    {
        float *h = falloc(BH), *c = falloc(BH), *g = falloc(BG);
        const float *hp = NULL, *cp = NULL;
        float *hb = falloc(N), *cb = falloc(N);
        int ok = 1;
        for (int st = 0; st < s.T; st++) {
            int t = reverse ? s.T - 1 - st : st;
            tr_lstm_cell_forward(hb + t * BH, cb + t * BH, g, s.xw + t * BG,
                                 hp, cp, s.Wh, s.B, s.H, ract);
            ok &= memcmp(g, s.gates + t * BG, (size_t)BG * sizeof(float)) == 0;
            hp = hb + t * BH;
            cp = cb + t * BH;
        }
        ok &= memcmp(hb, s.h_seq, (size_t)N * sizeof(float)) == 0;
        ok &= memcmp(cb, s.c_seq, (size_t)N * sizeof(float)) == 0;
        CU_ASSERT(ok);
        free(h); free(c); free(g); free(hb); free(cb);
    }

    tr_lstm_backward(dxw, dWh, dh, s.h_seq, s.c_seq, s.gates, s.Wh, work, s.T,
                     s.B, s.H, reverse, ract);
    snprintf(what, sizeof what, "lstm seq dxw (%s, %s)", dn, an);
    GRAD_OK_SEQ(what, seq_loss, &s, s.xw, dxw, NG);
    snprintf(what, sizeof what, "lstm seq dWh (%s, %s)", dn, an);
    GRAD_OK_SEQ(what, seq_loss, &s, s.Wh, dWh, HG);
    CU_ASSERT(max_abs(dWh, HG) > 0.01);

    /* dWh accumulates, dxw is overwritten (layers.h); dh_seq is scratch:
     * reload it; neither old dxw nor work content may matter */
    float *o_dxw = fdup(dxw, NG), *o_dWh = fdup(dWh, HG);
    memcpy(dh, s.R, (size_t)N * sizeof *dh);
    fill(work, 2 * BH, -9, 9);
    fill(dxw, NG, -9, 9);
    tr_lstm_backward(dxw, dWh, dh, s.h_seq, s.c_seq, s.gates, s.Wh, work, s.T,
                     s.B, s.H, reverse, ract);
    CU_ASSERT(memcmp(o_dxw, dxw, (size_t)NG * sizeof *dxw) == 0);
    CU_ASSERT(is_double_of(o_dWh, dWh, HG));

    /* gradient through time: loss only on the last step processed; every
     * earlier step's input gets gradient, matching finite differences */
    const int t_last = reverse ? 0 : s.T - 1;
    memset(s.R, 0, (size_t)N * sizeof *s.R);
    fill(s.R + t_last * BH, BH, -1, 1);
    memcpy(dh, s.R, (size_t)N * sizeof *dh);
    memset(dxw, 0, (size_t)NG * sizeof *dxw);
    memset(dWh, 0, (size_t)HG * sizeof *dWh);
    seq_loss(&s);
    tr_lstm_backward(dxw, dWh, dh, s.h_seq, s.c_seq, s.gates, s.Wh, work, s.T,
                     s.B, s.H, reverse, ract);
    for (int t = 0; t < s.T; t++)
        CU_ASSERT(max_abs(dxw + t * BG, BG) > 1e-4);
    for (int st = 0; st < 3; st++) { /* the first three steps processed */
        int t = reverse ? s.T - 1 - st : st;
        snprintf(what, sizeof what, "lstm seq dxw[t=%d] via time (%s)", t, dn);
        GRAD_OK_SEQ(what, seq_loss, &s, s.xw + t * BG, dxw + t * BG, BG);
    }

    free(s.xw); free(s.Wh); free(s.h_seq); free(s.c_seq); free(s.gates);
    free(s.R); free(dxw); free(dWh); free(dh); free(work); free(o_dxw);
    free(o_dWh);
}

static void test_lstm_seq_fwd_sigmoid(void) { lstm_seq_grad(0, TR_ACT_SIGMOID); }
static void test_lstm_seq_rev_sigmoid(void) { lstm_seq_grad(1, TR_ACT_SIGMOID); }
static void test_lstm_seq_fwd_hard(void) { lstm_seq_grad(0, TR_ACT_HARD_SIGMOID); }
static void test_lstm_seq_rev_hard(void) { lstm_seq_grad(1, TR_ACT_HARD_SIGMOID); }

/* reverse on xw equals forward on time-reversed xw, outputs reversed */
static void test_lstm_reverse_values(void)
{
    rng_seed(91);
    const int T = 5, B = 2, H = 3, BH = B * H, BG = 4 * BH;
    float *xw = frand(T * BG, -1, 1), *xr = falloc(T * BG);
    float *Wh = frand(4 * H * H, -0.5f, 0.5f);
    for (int t = 0; t < T; t++)
        memcpy(xr + t * BG, xw + (T - 1 - t) * BG, (size_t)BG * sizeof(float));
    float *h1 = falloc(T * BH), *c1 = falloc(T * BH), *g1 = falloc(T * BG);
    float *h2 = falloc(T * BH), *c2 = falloc(T * BH), *g2 = falloc(T * BG);
    tr_lstm_forward(h1, c1, g1, xw, Wh, T, B, H, 1, TR_ACT_HARD_SIGMOID);
    tr_lstm_forward(h2, c2, g2, xr, Wh, T, B, H, 0, TR_ACT_HARD_SIGMOID);
    int ok = 1;
    for (int t = 0; t < T; t++)
        ok &= memcmp(h1 + t * BH, h2 + (T - 1 - t) * BH,
                     (size_t)BH * sizeof(float)) == 0;
    CU_ASSERT(ok);
    /* and the first step of the reverse direction is t = T-1 from zeros */
    float h0[6], c0[6], gg[24];
    tr_lstm_cell_forward(h0, c0, gg, xw + (T - 1) * BG, NULL, NULL, Wh, B, H,
                         TR_ACT_HARD_SIGMOID);
    CU_ASSERT(memcmp(h0, h1 + (T - 1) * BH, sizeof h0) == 0);
    free(xw); free(xr); free(Wh); free(h1); free(c1); free(g1); free(h2);
    free(c2); free(g2);
}

/* ===================================================== additive energy */

typedef struct {
    int B, T, K;
    float *keys, *query, *v, *vb, *energy, *hidden, *R;
} en_ctx;

static double en_loss(void *p)
{
    en_ctx *e = p;
    tr_additive_energy_forward(e->energy, e->hidden, e->keys, e->query, e->v,
                               e->vb, e->B, e->T, e->K);
    return dotd(e->energy, e->R, e->B * e->T);
}

static void energy_grad(int with_vb)
{
    rng_seed(100 + (uint64_t)with_vb);
    en_ctx e = {.B = 2, .T = 5, .K = 3};
    const int BT = e.B * e.T, NK = BT * e.K, BK = e.B * e.K;
    e.keys = frand(NK, -1.5f, 1.5f);
    e.query = frand(BK, -1, 1);
    e.v = frand(e.K, -1, 1);
    e.vb = with_vb ? frand(1, -1, 1) : NULL;
    e.energy = falloc(BT);
    e.hidden = falloc(NK);
    e.R = frand(BT, -1, 1);
    float *dk = falloc(NK), *dq = falloc(BK), *dv = falloc(e.K), dvb = 0.0f;

    en_loss(&e);
    /* value: energy[1,2] by hand */
    {
        double want = with_vb ? *e.vb : 0.0;
        for (int k = 0; k < e.K; k++)
            want += tanh((double)e.keys[(1 * e.T + 2) * e.K + k] +
                         e.query[1 * e.K + k]) * e.v[k];
        CU_ASSERT(close_to(e.energy[1 * e.T + 2], want, 1e-5));
    }
    tr_additive_energy_backward(dk, dq, dv, with_vb ? &dvb : NULL, e.R,
                                e.hidden, e.v, e.B, e.T, e.K);
    const char *sfx = with_vb ? "" : " (vb NULL)";
    char what[96];
    snprintf(what, sizeof what, "energy dkeys%s", sfx);
    GRAD_OK(what, en_loss, &e, e.keys, dk, NK);
    snprintf(what, sizeof what, "energy dquery%s", sfx);
    GRAD_OK(what, en_loss, &e, e.query, dq, BK);
    snprintf(what, sizeof what, "energy dv%s", sfx);
    GRAD_OK(what, en_loss, &e, e.v, dv, e.K);
    if (with_vb)
        GRAD_OK("energy dvb", en_loss, &e, e.vb, &dvb, 1);
    CU_ASSERT(max_abs(dk, NK) > 0.01 && max_abs(dq, BK) > 0.01);

    float *o_dk = fdup(dk, NK), *o_dq = fdup(dq, BK), *o_dv = fdup(dv, e.K);
    float o_dvb = dvb;
    tr_additive_energy_backward(dk, dq, dv, with_vb ? &dvb : NULL, e.R,
                                e.hidden, e.v, e.B, e.T, e.K);
    CU_ASSERT(is_double_of(o_dk, dk, NK));
    CU_ASSERT(is_double_of(o_dq, dq, BK));
    CU_ASSERT(is_double_of(o_dv, dv, e.K));
    CU_ASSERT(is_double_of(&o_dvb, &dvb, 1));
    free(e.keys); free(e.query); free(e.v); free(e.vb); free(e.energy);
    free(e.hidden); free(e.R); free(dk); free(dq); free(dv); free(o_dk);
    free(o_dq); free(o_dv);
}

static void test_energy_vb(void) { energy_grad(1); }
static void test_energy_novb(void) { energy_grad(0); }

/* ============================================================ attention */

typedef struct {
    int B, T, D;
    const uint8_t *mask;
    float *energy, *values, *alpha, *ctx, *R;
} att_ctx;

static double att_loss(void *p)
{
    att_ctx *a = p;
    tr_attention_forward(a->ctx, a->alpha, a->energy, a->values, a->mask,
                         a->B, a->T, a->D);
    return dotd(a->ctx, a->R, a->B * a->D);
}

static void test_attention(void)
{
    rng_seed(111);
    /* row 0 all valid, row 1 partly masked, row 2 fully masked */
    static const uint8_t mask[3 * 5] = {1, 1, 1, 1, 1, /**/ 1, 0, 1, 1, 0,
                                        /**/ 0, 0, 0, 0, 0};
    att_ctx a = {.B = 3, .T = 5, .D = 4, .mask = mask};
    const int BT = a.B * a.T, NV = BT * a.D, BD = a.B * a.D;
    a.energy = frand(BT, -2, 2);
    a.energy[1 * a.T + 1] = 1e30f; /* masked: must be ignored */
    a.energy[1 * a.T + 4] = NAN;
    a.energy[2 * a.T + 0] = NAN;
    a.values = frand(NV, -1, 1);
    a.alpha = falloc(BT);
    a.ctx = falloc(BD);
    a.R = frand(BD, -1, 1);
    float *de = falloc(BT), *dvals = falloc(NV);

    att_loss(&a);
    for (int b = 0; b < a.B; b++) {
        double s = 0.0;
        for (int t = 0; t < a.T; t++) {
            float w = a.alpha[b * a.T + t];
            CU_ASSERT(!isnan(w));
            if (!mask[b * a.T + t]) {
                CU_ASSERT(w == 0.0f); /* exactly 0 */
            } else {
                CU_ASSERT(w > 0.0f);
            }
            s += w;
        }
        CU_ASSERT_DOUBLE_EQUAL(s, b == 2 ? 0.0 : 1.0, 1e-6);
    }
    for (int d = 0; d < a.D; d++) {
        CU_ASSERT(a.ctx[2 * a.D + d] == 0.0f);
        double want = 0.0; /* ctx of row 1 by hand */
        for (int t = 0; t < a.T; t++)
            want += (double)a.alpha[1 * a.T + t] * a.values[(1 * a.T + t) * a.D + d];
        CU_ASSERT(close_to(a.ctx[1 * a.D + d], want, 1e-6));
    }

    tr_attention_backward(de, dvals, a.R, a.alpha, a.values, a.B, a.T, a.D);
    CU_ASSERT(de[1 * a.T + 1] == 0.0f && de[1 * a.T + 4] == 0.0f);
    CU_ASSERT(all_zero(de + 2 * a.T, a.T));
    CU_ASSERT(all_zero(dvals + 2 * a.T * a.D, a.T * a.D));
    /* the NaN energies cannot be finite-differenced: set them finite (they
     * are masked, so nothing changes) */
    a.energy[1 * a.T + 4] = 3.0f;
    a.energy[2 * a.T + 0] = -3.0f;
    GRAD_OK("attention denergy (masked)", att_loss, &a, a.energy, de, BT);
    GRAD_OK("attention dvalues (masked)", att_loss, &a, a.values, dvals, NV);
    CU_ASSERT(max_abs(de, BT) > 0.01);

    float *o_de = fdup(de, BT), *o_dv = fdup(dvals, NV);
    att_loss(&a);
    tr_attention_backward(de, dvals, a.R, a.alpha, a.values, a.B, a.T, a.D);
    CU_ASSERT(is_double_of(o_de, de, BT));
    CU_ASSERT(is_double_of(o_dv, dvals, NV));

    /* mask NULL = all valid */
    a.mask = NULL;
    memset(de, 0, (size_t)BT * sizeof *de);
    memset(dvals, 0, (size_t)NV * sizeof *dvals);
    att_loss(&a);
    for (int b = 0; b < a.B; b++) {
        double s = 0.0;
        for (int t = 0; t < a.T; t++)
            s += a.alpha[b * a.T + t];
        CU_ASSERT_DOUBLE_EQUAL(s, 1.0, 1e-6);
    }
    tr_attention_backward(de, dvals, a.R, a.alpha, a.values, a.B, a.T, a.D);
    GRAD_OK("attention denergy (no mask)", att_loss, &a, a.energy, de, BT);
    GRAD_OK("attention dvalues (no mask)", att_loss, &a, a.values, dvals, NV);

    free(a.energy); free(a.values); free(a.alpha); free(a.ctx); free(a.R);
    free(de); free(dvals); free(o_de); free(o_dv);
}

/* ============================================================== helpers */

static void test_helpers(void)
{
    float y[5] = {1, 2, 3, 4, 5};
    const float x[5] = {10, 20, 30, 40, 50};
    tr_add_inplace(y, x, 5);
    for (int i = 0; i < 5; i++)
        CU_ASSERT(y[i] == 11.0f * (float)(i + 1));

    /* in[B=37, A=45] -> out[A, B], across the 32-wide tiles */
    const int A = 45, B = 37;
    float *in = falloc(A * B), *out = falloc(A * B), *back = falloc(A * B);
    for (int i = 0; i < A * B; i++)
        in[i] = (float)i;
    tr_transpose(out, in, A, B);
    int ok = 1;
    for (int b = 0; b < B; b++)
        for (int a = 0; a < A; a++)
            ok &= out[a * B + b] == in[b * A + a];
    CU_ASSERT(ok);
    tr_transpose(back, out, B, A);
    CU_ASSERT(memcmp(back, in, (size_t)(A * B) * sizeof(float)) == 0);
    free(in); free(out); free(back);
}

static const tr_test_case cases[] = {
    {"dense values", test_dense_values},
    {"dense grad (bias)", test_dense_grad_bias},
    {"dense grad (no bias, din NULL)", test_dense_grad_nobias},
    {"embedding", test_embedding},
    {"activation values", test_act_values},
    {"activation grads", test_act_grad},
    {"softmax values", test_softmax_values},
    {"softmax grad (middle axis)", test_softmax_inner},
    {"softmax grad (rows)", test_softmax_rows},
    {"softmax + xent", test_xent},
    {"softmax + xent, label smoothing", test_xent_smooth},
    {"lstm cell values", test_lstm_cell_values},
    {"lstm cell grad (sigmoid)", test_lstm_cell_sigmoid},
    {"lstm cell grad (hard sigmoid)", test_lstm_cell_hard},
    {"lstm cell grad (NULL prev, sigmoid)", test_lstm_cell_null_sigmoid},
    {"lstm cell grad (NULL prev, hard)", test_lstm_cell_null_hard},
    {"lstm cell many rows (row tiles)", test_lstm_cell_rows},
    {"lstm cell wide (column tiles)", test_lstm_cell_wide},
    {"lstm reverse values", test_lstm_reverse_values},
    {"lstm seq grad (forward, sigmoid)", test_lstm_seq_fwd_sigmoid},
    {"lstm seq grad (reverse, sigmoid)", test_lstm_seq_rev_sigmoid},
    {"lstm seq grad (forward, hard)", test_lstm_seq_fwd_hard},
    {"lstm seq grad (reverse, hard)", test_lstm_seq_rev_hard},
    {"additive energy (vb)", test_energy_vb},
    {"additive energy (vb NULL)", test_energy_novb},
    {"attention (mask)", test_attention},
    {"add_inplace, transpose", test_helpers},
    {NULL, NULL},
};

int main(void) { return tr_test_run("layers", cases); }

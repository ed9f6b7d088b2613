/* tests/test_blocks.c - what plugins used to repeat, now in the core
 * (ABI 1.6): the recurrent layer object (trainer/recurrent.h) against the
 * layer functions it calls (the same bits) and central differences for
 * every tensor, input and initial state, for each cell, token and dense
 * inputs, with and without lengths; the output layer + loss; rows to unit
 * length; dot energies; a scorer's whole attention, and the attention
 * object against it (the same bits) and central differences; greedy
 * decoding steps; the layout helpers and the scratch arena, by hand. */
#include "trainer/trainer.h"
#include "tr_check.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRAD_OK(what, f, ctx, x, g, n)                                        \
    CU_ASSERT(grad_check_h((what), (f), (ctx), (x), (g), (n), GC_H_SEQ) < GC_TOL)

enum { T = 5, B = 3, H = 4, IN = 6, V = 7 };

typedef struct rec_ctx {
    tr_recurrent l;
    tr_registry *reg;
    float *P, *G, *x, *h0, *R, *dx, *dh0, *dh;
    int32_t tok[T * B], len[B];
    const int32_t *lengths;
    tr_recurrent_cache c;
    void *scratch;
} rec_ctx;

static double rec_loss(void *p)
{
    rec_ctx *k = p;
    tr_recurrent_forward(&k->l, k->P, &k->c, k->x, k->l.tokens ? k->tok : NULL, k->h0, k->lengths, T, B);
    return dotd(k->c.h, k->R, T * B * H);
}

static void rec_make(rec_ctx *k, tr_cell cell, int tokens, int with_h0, int with_len, int reverse, uint64_t seed)
{
    memset(k, 0, sizeof *k);
    rng_seed(seed);
    tr_error err = {0};
    k->reg = tr_registry_new();
    CU_ASSERT_EQUAL_FATAL(tr_recurrent_add(&k->l, k->reg, "rec", cell, tokens ? V : IN, tokens, H, NULL, &err), TR_OK);
    k->l.reverse = reverse;
    const int n = (int)tr_registry_size(k->reg);
    k->P = frand(n, -0.6f, 0.6f);
    k->G = falloc(n);
    k->x = frand(T * B * IN, -1, 1);
    k->dx = falloc(T * B * IN);
    k->h0 = with_h0 ? frand(B * H, -1, 1) : NULL;
    k->dh0 = falloc(B * H);
    k->R = frand(T * B * H, -1, 1);
    k->dh = falloc(T * B * H);
    for (int i = 0; i < T * B; i++)
        k->tok[i] = (int32_t)(rng_u32() % V);
    k->len[0] = T; k->len[1] = 2; k->len[2] = 0;
    k->lengths = with_len ? k->len : NULL;
    tr_arena a = {NULL, 0};
    tr_recurrent_take(&k->c, &a, &k->l, T, B);
    k->scratch = calloc(1, a.used);
    a = (tr_arena){k->scratch, 0};
    tr_recurrent_take(&k->c, &a, &k->l, T, B);
    rec_loss(k);
    memcpy(k->dh, k->R, sizeof(float) * T * B * H);
    tr_recurrent_backward(&k->l, k->P, k->G, &k->c, k->dh, tokens ? NULL : k->dx, with_h0 ? k->dh0 : NULL);
}

static void rec_free(rec_ctx *k)
{
    tr_registry_delete(k->reg);
    free(k->P); free(k->G); free(k->x); free(k->dx); free(k->h0); free(k->dh0); free(k->R); free(k->dh);
    free(k->scratch);
}

static void rec_gradients(tr_cell cell, int tokens, int with_h0, int with_len, int reverse)
{
    rec_ctx k;
    rec_make(&k, cell, tokens, with_h0, with_len, reverse, 500 + 10 * (uint64_t)cell + 4 * tokens + 2 * with_h0 + with_len);
    const int Gw = cell == TR_CELL_LSTM ? 4 * H : cell == TR_CELL_GRU ? 3 * H : H;
    printf("\n    %s, %s inputs%s%s%s", cell == TR_CELL_LSTM ? "LSTM" : cell == TR_CELL_GRU ? "GRU" : "RNN",
           tokens ? "token" : "dense", with_h0 ? ", h0" : "", with_len ? ", lengths" : "", reverse ? ", reverse" : "");
    GRAD_OK("kernel", rec_loss, &k, k.P + k.l.kernel, k.G + k.l.kernel, (tokens ? V : IN) * Gw);
    GRAD_OK("recurrent_kernel", rec_loss, &k, k.P + k.l.recurrent_kernel, k.G + k.l.recurrent_kernel, H * Gw);
    GRAD_OK("bias", rec_loss, &k, k.P + k.l.bias, k.G + k.l.bias, Gw);
    if (cell == TR_CELL_GRU)
        GRAD_OK("recurrent_bias", rec_loss, &k, k.P + k.l.recurrent_bias, k.G + k.l.recurrent_bias, Gw);
    if (!tokens)
        GRAD_OK("dx", rec_loss, &k, k.x, k.dx, T * B * IN);
    if (with_h0)
        GRAD_OK("dh0", rec_loss, &k, k.h0, k.dh0, B * H);
    CU_ASSERT(max_abs(k.G + k.l.kernel, Gw) > 0 || tokens); /* something flowed */
    CU_ASSERT(max_abs(k.G + k.l.recurrent_kernel, H * Gw) > 1e-3);
    if (with_len) /* a sample of length 0: its states are zero */
        for (int t = 0; t < T; t++)
            CU_ASSERT(all_zero(k.c.h + ((size_t)t * B + 2) * H, H));
    rec_free(&k);
}

static void rnn_tokens_h0(void) { rec_gradients(TR_CELL_RNN, 1, 1, 0, 0); }
static void rnn_dense(void) { rec_gradients(TR_CELL_RNN, 0, 0, 0, 0); }
static void gru_tokens_h0(void) { rec_gradients(TR_CELL_GRU, 1, 1, 0, 0); }
static void gru_dense_lengths(void) { rec_gradients(TR_CELL_GRU, 0, 1, 1, 0); }
static void lstm_tokens(void) { rec_gradients(TR_CELL_LSTM, 1, 0, 0, 0); }
static void lstm_dense_lengths_reverse(void) { rec_gradients(TR_CELL_LSTM, 0, 0, 1, 1); }

/* The object gives the bits of the layer functions a plugin called itself. */
static void rec_same_bits(void)
{
    for (int cell = 0; cell < 3; cell++) {
        rec_ctx k;
        const int tokens = cell != TR_CELL_LSTM, with_h0 = cell != TR_CELL_LSTM, with_len = cell == TR_CELL_LSTM;
        rec_make(&k, (tr_cell)cell, tokens, with_h0, with_len, 0, 900 + (uint64_t)cell);
        const int Gw = cell == TR_CELL_LSTM ? 4 * H : cell == TR_CELL_GRU ? 3 * H : H, n = (int)tr_registry_size(k.reg);
        float *g = falloc(T * B * Gw), *h = falloc(T * B * H), *c = falloc(T * B * H), *hn = falloc(T * B * H);
        float *G = falloc(n), *dxw = falloc(T * B * Gw), *dh = fdup(k.R, T * B * H), *dx = falloc(T * B * IN),
              *dh0 = falloc(B * H), *work = falloc(3 * B * H);
        const float *P = k.P;
        const tr_recurrent *l = &k.l;
        if (cell == TR_CELL_RNN) {
            tr_embedding_forward(dxw, k.tok, P + l->kernel, T * B, H);
            tr_rnn_forward(h, dxw, k.h0, P + l->recurrent_kernel, P + l->bias, T, B, H);
            tr_rnn_backward(dxw, dh0, G + l->recurrent_kernel, G + l->bias, dh, h, k.h0, P + l->recurrent_kernel, T, B, H);
            tr_embedding_backward(G + l->kernel, dxw, k.tok, T * B, H);
        } else if (cell == TR_CELL_GRU) {
            tr_embedding_forward(g, k.tok, P + l->kernel, T * B, Gw);
            for (int r = 0; r < T * B; r++)
                tr_add_inplace(g + (size_t)r * Gw, P + l->bias, Gw);
            tr_gru_forward(h, g, hn, g, k.h0, P + l->recurrent_kernel, P + l->recurrent_bias, T, B, H);
            tr_gru_backward(dxw, dh0, G + l->recurrent_kernel, G + l->recurrent_bias, dh, h, g, hn, k.h0,
                            P + l->recurrent_kernel, work, T, B, H);
            tr_embedding_backward(G + l->kernel, dxw, k.tok, T * B, Gw);
            for (int r = 0; r < T * B; r++)
                tr_add_inplace(G + l->bias, dxw + (size_t)r * Gw, Gw);
        } else {
            tr_dense_forward(g, k.x, P + l->kernel, P + l->bias, T * B, IN, Gw);
            tr_lstm_forward_len(h, c, g, g, P + l->recurrent_kernel, T, B, H, 0, TR_ACT_SIGMOID, k.len);
            tr_lstm_backward_len(dxw, G + l->recurrent_kernel, dh, h, c, g, P + l->recurrent_kernel, work, T, B, H, 0,
                                 TR_ACT_SIGMOID, k.len);
            tr_dense_backward(dx, G + l->kernel, G + l->bias, dxw, k.x, P + l->kernel, T * B, IN, Gw);
        }
        CU_ASSERT(memcmp(h, k.c.h, sizeof(float) * T * B * H) == 0);
        CU_ASSERT(memcmp(G, k.G, sizeof(float) * (size_t)n) == 0);
        CU_ASSERT(memcmp(dx, k.dx, sizeof(float) * T * B * IN) == 0);
        CU_ASSERT(memcmp(dh0, k.dh0, sizeof(float) * B * H) == 0);
        free(g); free(h); free(c); free(hn); free(G); free(dxw); free(dh); free(dx); free(dh0); free(work);
        rec_free(&k);
    }
}

static void rec_names_and_errors(void)
{
    tr_registry *reg = tr_registry_new();
    tr_error err = {0};
    tr_recurrent l;
    CU_ASSERT_EQUAL(tr_recurrent_add(&l, reg, "enc", TR_CELL_GRU, 10, 1, 8, NULL, &err), TR_OK);
    size_t off, count;
    CU_ASSERT(tr_registry_lookup(reg, "enc.kernel", &off, &count) && count == 10 * 24 && off == l.kernel);
    CU_ASSERT(tr_registry_lookup(reg, "enc.recurrent_kernel", &off, &count) && count == 8 * 24);
    CU_ASSERT(tr_registry_lookup(reg, "enc.bias", &off, &count) && count == 24);
    CU_ASSERT(tr_registry_lookup(reg, "enc.recurrent_bias", &off, &count) && count == 24);
    CU_ASSERT_EQUAL(tr_recurrent_add(&l, reg, "rnn", TR_CELL_RNN, 10, 1, 8, NULL, &err), TR_OK);
    CU_ASSERT(tr_registry_lookup(reg, "rnn.bias", &off, &count) && count == 8);
    CU_ASSERT(!tr_registry_lookup(reg, "rnn.recurrent_bias", &off, &count));
    CU_ASSERT_EQUAL(tr_recurrent_add(&l, reg, "enc", TR_CELL_LSTM, 10, 1, 8, NULL, &err), TR_ERR_MODEL); /* taken */
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "'enc.kernel' registered twice"));
    CU_ASSERT_EQUAL(tr_recurrent_add(&l, reg, "x", TR_CELL_LSTM, 0, 1, 8, NULL, &err), TR_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "x: inputs and units must be >= 1"));
    tr_registry_delete(reg);
}

/* ---- the output layer + loss */

typedef struct xent_ctx {
    float *in, *W, *b, *probs, *logits;
    int32_t tg[5];
} xent_ctx;

static double xent_loss(void *p)
{
    xent_ctx *k = p;
    return tr_dense_xent_forward(k->probs, k->logits, k->in, k->W, k->b, k->tg, 5, 4, 3);
}

static void dense_xent(void)
{
    rng_seed(61);
    xent_ctx k = {frand(20, -1, 1), frand(12, -1, 1), frand(3, -1, 1), falloc(15), falloc(15), {0, 2, -1, 1, 2}};
    float *din = falloc(20), *dW = falloc(12), *db = falloc(3), *p2 = falloc(15), *l2 = falloc(15);
    const double loss = xent_loss(&k);
    tr_dense_forward(l2, k.in, k.W, k.b, 5, 4, 3);
    CU_ASSERT_EQUAL(loss, tr_softmax_xent_forward(p2, l2, k.tg, 5, 3)); /* the two calls, bit for bit */
    CU_ASSERT(memcmp(p2, k.probs, sizeof(float) * 15) == 0);
    tr_dense_xent_backward(din, dW, db, k.logits, k.probs, k.tg, k.in, k.W, 1.0f, 5, 4, 3);
    CU_ASSERT(all_zero(din + 8, 4)); /* the ignored row (target -1) */
    GRAD_OK("dense_xent din", xent_loss, &k, k.in, din, 20);
    GRAD_OK("dense_xent dW", xent_loss, &k, k.W, dW, 12);
    GRAD_OK("dense_xent db", xent_loss, &k, k.b, db, 3);
    free(k.in); free(k.W); free(k.b); free(k.probs); free(k.logits); free(din); free(dW); free(db); free(p2); free(l2);
}

/* ---- a dense layer over [a, b] */

typedef struct cat_ctx {
    float *a, *b, *W, *bias, *out, *R;
} cat_ctx;

static double cat_loss(void *p)
{
    cat_ctx *k = p;
    tr_dense_cat_forward(k->out, k->a, k->b, k->W, k->bias, 3, 2, 4, 5);
    return dotd(k->out, k->R, 15);
}

static void dense_cat(void)
{
    rng_seed(64);
    cat_ctx k = {frand(6, -1, 1), frand(12, -1, 1), frand(30, -1, 1), frand(5, -1, 1), falloc(15), frand(15, -1, 1)};
    float *da = falloc(6), *db = falloc(12), *dW = falloc(30), *dbias = falloc(5), *cat = falloc(18), *want = falloc(15);
    cat_loss(&k);
    for (int n = 0; n < 3; n++) { /* the same as a dense layer over the concatenation */
        memcpy(cat + n * 6, k.a + n * 2, 2 * sizeof(float));
        memcpy(cat + n * 6 + 2, k.b + n * 4, 4 * sizeof(float));
    }
    tr_dense_forward(want, cat, k.W, k.bias, 3, 6, 5);
    for (int i = 0; i < 15; i++)
        CU_ASSERT_DOUBLE_EQUAL(k.out[i], want[i], 1e-5);
    tr_dense_cat_backward(da, db, dW, dbias, k.R, k.a, k.b, k.W, 3, 2, 4, 5);
    GRAD_OK("dense_cat da", cat_loss, &k, k.a, da, 6);
    GRAD_OK("dense_cat db", cat_loss, &k, k.b, db, 12);
    GRAD_OK("dense_cat dW", cat_loss, &k, k.W, dW, 30);
    GRAD_OK("dense_cat dbias", cat_loss, &k, k.bias, dbias, 5);
    free(k.a); free(k.b); free(k.W); free(k.bias); free(k.out); free(k.R);
    free(da); free(db); free(dW); free(dbias); free(cat); free(want);
}

/* ---- rows to unit length */

typedef struct norm_ctx {
    float *x, *out, *len, *R;
} norm_ctx;

static double norm_loss(void *p)
{
    norm_ctx *k = p;
    tr_l2norm_forward(k->out, k->len, k->x, 4, 5);
    return dotd(k->out, k->R, 20);
}

static void l2norm(void)
{
    rng_seed(62);
    norm_ctx k = {frand(20, -1, 1), falloc(20), falloc(4), frand(20, -1, 1)};
    float *dx = falloc(20);
    norm_loss(&k);
    for (int r = 0; r < 4; r++)
        CU_ASSERT_DOUBLE_EQUAL(dotd(k.out + r * 5, k.out + r * 5, 5), 1.0, 1e-6);
    tr_l2norm_backward(dx, k.R, k.out, k.len, 4, 5);
    GRAD_OK("l2norm dx", norm_loss, &k, k.x, dx, 20);
    free(k.x); free(k.out); free(k.len); free(k.R); free(dx);
}

/* ---- dot and cosine energies, and a scorer's whole attention */

enum { AB = 2, TY = 3, TX = 4, D = 5 };

typedef struct att_ctx {
    const tr_scorer *sc;
    void *state;
    float *values, *queries, *energy, *alpha, *ctx, *R;
    uint8_t mask[AB * TX];
} att_ctx;

static double energy_loss(void *p)
{
    att_ctx *k = p;
    tr_dot_energy_forward(k->energy, k->values, k->queries, 0.5f, AB, TY, TX, D);
    return dotd(k->energy, k->R, TY * AB * TX);
}

static double cosine_loss(void *p)
{
    att_ctx *k = p;
    float cache[2 * (TY * AB + AB * TX) * D + TY * AB + AB * TX];
    CU_ASSERT_EQUAL(tr_cosine_cache_floats(AB, TY, TX, D), sizeof cache / sizeof *cache);
    tr_cosine_energy_forward(k->energy, cache, k->values, k->queries, AB, TY, TX, D);
    return dotd(k->energy, k->R, TY * AB * TX);
}

static void cosine_energy(void)
{
    rng_seed(65);
    att_ctx k = {NULL, NULL, frand(AB * TX * D, -1, 1), frand(TY * AB * D, -1, 1), falloc(TY * AB * TX), NULL, NULL,
                 frand(TY * AB * TX, -1, 1), {0}};
    float cache[2 * (TY * AB + AB * TX) * D + TY * AB + AB * TX], *dv = falloc(AB * TX * D), *dq = falloc(TY * AB * D);
    tr_cosine_energy_forward(k.energy, cache, k.values, k.queries, AB, TY, TX, D);
    for (int i = 0; i < TY * AB * TX; i++)
        CU_ASSERT(fabsf(k.energy[i]) <= 1.0f + 1e-6f);
    tr_cosine_energy_backward(dv, dq, k.R, cache, AB, TY, TX, D);
    GRAD_OK("cosine dvalues", cosine_loss, &k, k.values, dv, AB * TX * D);
    GRAD_OK("cosine dqueries", cosine_loss, &k, k.queries, dq, TY * AB * D);
    free(k.values); free(k.queries); free(k.energy); free(k.R); free(dv); free(dq);
}

static double attend_loss(void *p)
{
    att_ctx *k = p;
    tr_scorer_attend(k->sc, k->state, NULL, k->ctx, k->alpha, k->energy, NULL, k->values, k->queries, k->mask, AB, TY, TX,
                     D);
    return dotd(k->ctx, k->R, TY * AB * D);
}

static void dot_energy_and_attend(void)
{
    rng_seed(63);
    tr_error err = {0};
    att_ctx k = {tr_scorer_get("dot", "model.attention", &err), NULL, frand(AB * TX * D, -1, 1), frand(TY * AB * D, -1, 1),
                 falloc(TY * AB * TX), falloc(TY * AB * TX), falloc(TY * AB * D), frand(TY * AB * TX * D, -1, 1), {0}};
    CU_ASSERT_PTR_NOT_NULL_FATAL(k.sc);
    tr_registry *reg = tr_registry_new();
    CU_ASSERT_EQUAL_FATAL(k.sc->create(&k.state, reg, "attention", D, D, 0, &err), TR_OK);
    for (int i = 0; i < AB * TX; i++)
        k.mask[i] = i != 3; /* sample 0's last position is padding */
    float *dv = falloc(AB * TX * D), *dq = falloc(TY * AB * D), *de = falloc(TY * AB * TX);
    energy_loss(&k);
    tr_dot_energy_backward(dv, dq, k.R, k.values, k.queries, 0.5f, AB, TY, TX, D);
    GRAD_OK("dot energy dvalues", energy_loss, &k, k.values, dv, AB * TX * D);
    GRAD_OK("dot energy dqueries", energy_loss, &k, k.queries, dq, TY * AB * D);
    memset(dv, 0, sizeof(float) * AB * TX * D);
    memset(dq, 0, sizeof(float) * TY * AB * D);
    attend_loss(&k);
    for (int y = 0; y < TY; y++)
        CU_ASSERT_EQUAL(k.alpha[(size_t)y * AB * TX + 3], 0.0f); /* the mask holds */
    tr_scorer_attend_backward(k.sc, k.state, NULL, NULL, dv, dq, de, k.R, k.alpha, NULL, k.values, k.queries, AB, TY, TX, D);
    GRAD_OK("attend dvalues", attend_loss, &k, k.values, dv, AB * TX * D);
    GRAD_OK("attend dqueries", attend_loss, &k, k.queries, dq, TY * AB * D);
    CU_ASSERT_PTR_NULL(tr_scorer_get("nope", "model.attention", &err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "model.attention: no scorer 'nope' (registered: additive, dot"));
    k.sc->destroy(k.state);
    tr_registry_delete(reg);
    free(k.values); free(k.queries); free(k.energy); free(k.alpha); free(k.ctx); free(k.R); free(dv); free(dq); free(de);
}

/* ---- the attention object (tr_attn): tr_scorer_attend's bits, its gradients, its errors */

enum { DQ = 3 };

typedef struct attn_obj {
    tr_attn l;
    tr_attn_cache c;
    float *P, *queries, *R;
} attn_obj;

static double attn_obj_loss(void *p)
{
    attn_obj *k = p;
    tr_attn_forward(&k->l, k->P, &k->c, k->queries, TY);
    return dotd(k->c.ctx, k->R, TY * AB * D);
}

static void attn_object(void)
{
    rng_seed(71);
    tr_error err = {0};
    attn_obj k;
    memset(&k, 0, sizeof k);
    tr_registry *reg = tr_registry_new();
    /* additive: tensors of its own, values and queries of different widths */
    CU_ASSERT_EQUAL_FATAL(tr_attn_add(&k.l, reg, "attention", "additive", "model.attention", D, DQ, 6, &err), TR_OK);
    const int np = (int)tr_registry_size(reg);
    k.P = frand(np, -0.7f, 0.7f);
    float *G = falloc(np), *G2 = falloc(np);
    tr_arena a = {NULL, 0};
    tr_attn_take(&k.c, &a, &k.l, AB, TY, TX);
    void *block = aligned_alloc(64, (a.used + 63) / 64 * 64);
    a = (tr_arena){block, 0};
    tr_attn_take(&k.c, &a, &k.l, AB, TY, TX);
    k.queries = frand(TY * AB * DQ, -1, 1);
    k.R = frand(TY * AB * D, -1, 1);
    float *v = frand(AB * TX * D, -1, 1);
    memcpy(k.c.values, v, sizeof(float) * AB * TX * D);
    const int32_t src[AB * TX] = {4, 5, 6, 0, 7, 0, 0, 0}; /* pad 0: 3 and 1 real positions */
    tr_attn_mask_tokens(&k.c, src, 0);
    CU_ASSERT(k.c.mask[0] == 1 && k.c.mask[2] == 1 && k.c.mask[3] == 0 && k.c.mask[4] == 1 && k.c.mask[5] == 0);
    for (int i = 0; i < TY * AB * D; i++)
        k.c.dctx[i] = NAN; /* forward zeroes it */
    attn_obj_loss(&k);
    for (int i = 0; i < TY * AB * D; i++)
        CU_ASSERT_EQUAL(k.c.dctx[i], 0.0f);
    CU_ASSERT_EQUAL(k.c.alpha[3], 0.0f);
    memcpy(k.c.dctx, k.R, sizeof(float) * TY * AB * D);
    float *dq = falloc(TY * AB * DQ);
    tr_attn_backward(&k.l, k.P, G, &k.c, dq);

    /* the same through tr_scorer_attend, in buffers of its own: the same bits */
    const size_t sf = k.l.scorer->scratch_floats(k.l.state, AB, TY, TX);
    float *ctx = falloc(TY * AB * D), *alpha = falloc(TY * AB * TX), *en = falloc(TY * AB * TX), *scr = falloc((int)sf);
    float *dv2 = falloc(AB * TX * D), *dq2 = falloc(TY * AB * DQ), *de = falloc(TY * AB * TX);
    tr_scorer_attend(k.l.scorer, k.l.state, k.P, ctx, alpha, en, scr, v, k.queries, k.c.mask, AB, TY, TX, D);
    tr_scorer_attend_backward(k.l.scorer, k.l.state, k.P, G2, dv2, dq2, de, k.R, alpha, scr, v, k.queries, AB, TY, TX,
                              D);
    CU_ASSERT(memcmp(ctx, k.c.ctx, sizeof(float) * TY * AB * D) == 0);
    CU_ASSERT(memcmp(alpha, k.c.alpha, sizeof(float) * TY * AB * TX) == 0);
    CU_ASSERT(memcmp(dv2, k.c.dvalues, sizeof(float) * AB * TX * D) == 0);
    CU_ASSERT(memcmp(dq2, dq, sizeof(float) * TY * AB * DQ) == 0);
    CU_ASSERT(memcmp(G2, G, sizeof(float) * np) == 0);

    /* central differences: the values, the queries, the scorer's tensors */
    float *dv = falloc(AB * TX * D);
    memcpy(dv, k.c.dvalues, sizeof(float) * AB * TX * D); /* backward rewrites it: keep a copy */
    GRAD_OK("tr_attn dvalues", attn_obj_loss, &k, k.c.values, dv, AB * TX * D);
    GRAD_OK("tr_attn dqueries", attn_obj_loss, &k, k.queries, dq, TY * AB * DQ);
    GRAD_OK("tr_attn scorer tensors", attn_obj_loss, &k, k.P, G, np);

    /* one step of several: forward for steps = 1 writes only row 0 */
    memset(k.c.ctx, 0, sizeof(float) * TY * AB * D);
    tr_attn_forward(&k.l, k.P, &k.c, k.queries, 1);
    CU_ASSERT(memcmp(ctx, k.c.ctx, sizeof(float) * AB * D) == 0);
    CU_ASSERT_EQUAL(k.c.ctx[AB * D], 0.0f);

    /* errors: an unknown scorer names the key; free is safe on a failed and a zeroed object */
    tr_attn bad;
    CU_ASSERT_EQUAL(tr_attn_add(&bad, reg, "attention2", "nope", "model.attention", D, D, 1, &err), TR_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "model.attention: no scorer 'nope'"));
    tr_attn_free(&bad);
    tr_attn_free(&bad);
    tr_attn_free(&k.l);
    CU_ASSERT_PTR_NULL(k.l.state);
    tr_registry_delete(reg);
    free(block); free(k.P); free(G); free(G2); free(k.queries); free(k.R); free(v); free(dq); free(ctx); free(alpha);
    free(en); free(scr); free(dv2); free(dq2); free(de); free(dv);
}

/* ---- layouts and the arena, by hand */

static void layouts_by_hand(void)
{
    /* in [A=2, B=3, D=2] -> out [3, 2, 2] */
    float in[12], out[12], cat[24] = {0};
    for (int i = 0; i < 12; i++)
        in[i] = (float)i;
    tr_swap_batch_time(out, 2, in, 2, 2, 3, 2);
    CU_ASSERT(out[0] == 0 && out[1] == 1 && out[2] == 6 && out[3] == 7 && out[4] == 2 && out[10] == 10);
    tr_swap_batch_time(cat + 2, 4, in, 2, 2, 3, 2); /* into columns 2..3 of [3, 2, 4] */
    CU_ASSERT(cat[0] == 0 && cat[2] == 0 && cat[3] == 1 && cat[6] == 6 && cat[7] == 7 && cat[10] == 2);
    int32_t tgt[6] = {5, 6, 9, 7, 9, 9}, inputs[6], targets[6], tm[6]; /* n = 2, T = 3, pad 9 */
    tr_decoder_inputs(inputs, targets, tgt, 2, 3, 1, 9);
    const int32_t want_in[6] = {1, 1, 5, 7, 6, 9}, want_tg[6] = {5, 7, 6, -1, -1, -1};
    CU_ASSERT(memcmp(inputs, want_in, sizeof inputs) == 0);
    CU_ASSERT(memcmp(targets, want_tg, sizeof targets) == 0);
    tr_tokens_time_major(tm, tgt, 2, 3);
    tr_decoder_inputs(inputs, NULL, NULL, 2, 1, 3, 9); /* no targets: the first step of decoding */
    CU_ASSERT(inputs[0] == 3 && inputs[1] == 3 && inputs[2] == 5);
    const int32_t want_tm[6] = {5, 7, 6, 9, 9, 9};
    CU_ASSERT(memcmp(tm, want_tm, sizeof tm) == 0);
    float q[4] = {1, 2, 3, 4}, qc[8] = {0};
    tr_copy_cols(qc + 2, 4, q, 2, 2, 2);
    CU_ASSERT(qc[2] == 1 && qc[3] == 2 && qc[6] == 3 && qc[7] == 4 && qc[0] == 0);
    const float x[6] = {0.1f, 0.7f, 0.7f, -1, -3, -2};
    int32_t am[4] = {-5, -5, -5, -5};
    tr_argmax_rows(am, 2, x, 2, 3); /* column 0 of [2, 2]: the first of equal maxima */
    CU_ASSERT(am[0] == 1 && am[1] == -5 && am[2] == 0 && am[3] == -5);
    const float table[6] = {1, 2, 3, 4, 5, 6}, bias[2] = {10, 20};
    const int32_t tok[2] = {2, 0};
    float lo[4], dt[6] = {0}, dbias[2] = {0};
    tr_lookup_forward(lo, tok, table, bias, 2, 2);
    CU_ASSERT(lo[0] == 15 && lo[1] == 26 && lo[2] == 11 && lo[3] == 22);
    tr_lookup_backward(dt, dbias, lo, tok, 2, 2);
    CU_ASSERT(dt[4] == 15 && dt[5] == 26 && dt[0] == 11 && dt[2] == 0 && dbias[0] == 26 && dbias[1] == 48);
    /* the arena: counting and laying out agree, 64-byte aligned */
    tr_arena a = {NULL, 0};
    float *f;
    int32_t *t;
    uint8_t *m;
    TR_TAKE(&a, f, 3);
    TR_TAKE(&a, t, 17);
    TR_TAKE(&a, m, 1);
    CU_ASSERT(f == NULL && a.used == 64 + 128 + 64);
    unsigned char block[512] __attribute__((aligned(64)));
    a = (tr_arena){block, 0};
    TR_TAKE(&a, f, 3);
    TR_TAKE(&a, t, 17);
    TR_TAKE(&a, m, 1);
    CU_ASSERT((unsigned char *)f == block && (unsigned char *)t == block + 64 && m == block + 192 && a.used == 256);
}

/* ---- greedy decoding, one step at a time */

static void greedy_steps(void)
{
    enum { N = 2, TY = 3, TX = 2, V = 4, EOS = 2, PAD = 0 };
    /* sample 0 emits 3, then eos, then 1 (padded: after its eos); sample 1 emits 1, 1, 2 */
    const float logits[TY][N * V] = {{0, 0, 0, 5, 0, 4, 0, 0}, {0, 0, 7, 0, 0, 3, 1, 0}, {0, 9, 0, 0, 0, 0, 2, 1}};
    const float alpha[TY][N * TX] = {{0.25f, 0.75f, 1, 0}, {0.5f, 0.5f, 0, 1}, {1, 0, 0.125f, 0.875f}};
    int32_t tokens[N * TY], next[N];
    float att[N * TY * TX];
    memset(tokens, 0x7f, sizeof tokens);
    tr_prediction out = {sizeof out, tokens, att, NULL, NULL};
    const int32_t want_next[TY][N] = {{3, 1}, {2, 1}, {1, 2}}; /* fed back as they are */
    for (int y = 0; y < TY; y++) {
        tr_greedy_step(&out, next, logits[y], alpha[y], y, N, TY, TX, V, EOS, PAD);
        CU_ASSERT(next[0] == want_next[y][0] && next[1] == want_next[y][1]);
    }
    const int32_t want[N * TY] = {3, 2, PAD, 1, 1, 2};
    CU_ASSERT(memcmp(tokens, want, sizeof want) == 0);
    const float want_att[N * TY * TX] = {0.25f, 0.75f, 0.5f, 0.5f, 1, 0, 1, 0, 0, 1, 0.125f, 0.875f};
    CU_ASSERT(memcmp(att, want_att, sizeof want_att) == 0);
    /* no eos: nothing padded; nothing asked for: only next */
    tr_greedy_step(&out, next, logits[2], alpha[2], 2, N, TY, TX, V, -1, PAD);
    CU_ASSERT(tokens[2] == 1);
    tr_prediction none = {sizeof none, NULL, NULL, NULL, NULL};
    tr_greedy_step(&none, next, logits[0], NULL, 0, N, TY, TX, V, EOS, PAD);
    CU_ASSERT(next[0] == 3 && next[1] == 1);
}

int main(void)
{
    static const tr_test_case cases[] = {
        {"recurrent: RNN, token inputs, h0", rnn_tokens_h0},
        {"recurrent: RNN, dense inputs", rnn_dense},
        {"recurrent: GRU, token inputs, h0", gru_tokens_h0},
        {"recurrent: GRU, dense inputs, h0, lengths", gru_dense_lengths},
        {"recurrent: LSTM, token inputs", lstm_tokens},
        {"recurrent: LSTM, dense inputs, lengths, reverse", lstm_dense_lengths_reverse},
        {"recurrent: the bits of the layer functions", rec_same_bits},
        {"recurrent: tensor names, errors", rec_names_and_errors},
        {"dense + softmax cross-entropy", dense_xent},
        {"a dense layer over [a, b]", dense_cat},
        {"rows to unit length", l2norm},
        {"dot energies; a scorer's whole attention; tr_scorer_get", dot_energy_and_attend},
        {"cosine energies", cosine_energy},
        {"the attention object: its bits, gradients and errors", attn_object},
        {"layouts, lookups, argmax and the arena by hand", layouts_by_hand},
        {"greedy decoding: argmax fed back, padding after eos, the maps", greedy_steps},
        {NULL, NULL},
    };
    return tr_test_run("blocks", cases);
}

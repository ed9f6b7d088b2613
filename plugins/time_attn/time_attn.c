/* plugins/time_attn/time_attn.c - the Keras attention tutorial's model:
 * human-written times/dates -> machine form, character by character.
 *
 *   x (one-hot, Tx) -> BiLSTM(H each way) -> a [Tx, 2H]
 *   for each output step y (Ty):
 *     e_t   = relu(v . tanh(a_t Wa + s_prev Ws + b1) + b2)   Dense(K,tanh), Dense(1,relu)
 *     alpha = softmax_t(e);  ctx = sum_t alpha_t a_t
 *     s, c  = LSTM_S(ctx; s_prev, c_prev)                    post-attention LSTM
 *     p_y   = softmax(s Wout + bout)                          shared Dense(O)
 *   loss = sum_y cross-entropy(p_y, target_y)
 *
 * The one-hot input times the LSTM kernel is an embedding lookup (the same
 * numbers, far fewer flops). a_t Wa does not depend on y, so it is computed
 * once per sequence ("keys"); the concat [a, s_prev] of the tutorial is the
 * kernel split in two row blocks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "trainer/trainer.h"

typedef struct tr_model {
    int T, Y, V, H, S, K, O;        /* Tx, Ty, source vocab, enc units, dec units, attn units, target vocab */
    tr_act ract;                    /* recurrent activation */
    /* parameter offsets */
    size_t enc_k[2], enc_r[2], enc_b[2]; /* [V,4H], [H,4H], [4H] for forward / backward */
    size_t att_k, att_b, att_v, att_vb;  /* [2H+S, K], [K], [K,1], [1] */
    size_t post_k, post_r, post_b;       /* [2H,4S], [S,4S], [4S] */
    size_t out_k, out_b;                 /* [S,O], [O] */
} tr_model;

/* ---- scratch layout: one function computes it for sizing and for use */

typedef struct bufs {
    int32_t *tok;                    /* [T,n] time-major tokens */
    int32_t *tcol;                   /* [n] targets of one step */
    float *xw[2], *h[2], *c[2], *g[2];  /* per direction: [T,n,4H] (d xw), [T,n,H], [T,n,H], [T,n,4H] */
    float *a, *keys;                 /* [n,T,2H], [n,T,K] */
    float *query, *hid, *energy, *er, *alpha, *ctx, *xwp, *s, *cs, *gp, *probs; /* per step y, stacked over Y */
    float *logits;                   /* [n,O] */
    /* backward */
    float *dh[2], *work, *da, *dkeys;
    float *dlogits, *ds, *dc, *dsp, *dcp, *dxwp, *dctx, *der, *den, *dquery;
    size_t bytes;
} bufs;

static bufs layout(const tr_model *m, int n, unsigned char *base)
{
    bufs b;
    size_t off = 0;
    const size_t T = (size_t)m->T, Y = (size_t)m->Y, H = (size_t)m->H, S = (size_t)m->S, K = (size_t)m->K,
                 O = (size_t)m->O, D = 2 * H, N = (size_t)n;
#define TAKE(ptr, count)                                                  \
    do {                                                                  \
        ptr = (void *)(base ? base + off : NULL);                         \
        off += ((count) * 4 + 63) / 64 * 64;                              \
    } while (0)
    TAKE(b.tok, T * N);
    TAKE(b.tcol, N);
    for (int d = 0; d < 2; d++) {
        TAKE(b.xw[d], T * N * 4 * H);
        TAKE(b.h[d], T * N * H);
        TAKE(b.c[d], T * N * H);
        TAKE(b.g[d], T * N * 4 * H);
        TAKE(b.dh[d], T * N * H);
    }
    TAKE(b.a, N * T * D);
    TAKE(b.keys, N * T * K);
    TAKE(b.query, Y * N * K);
    TAKE(b.hid, Y * N * T * K);
    TAKE(b.energy, Y * N * T);
    TAKE(b.er, Y * N * T);
    TAKE(b.alpha, Y * N * T);
    TAKE(b.ctx, Y * N * D);
    TAKE(b.xwp, N * 4 * S);
    TAKE(b.s, Y * N * S);
    TAKE(b.cs, Y * N * S);
    TAKE(b.gp, Y * N * 4 * S);
    TAKE(b.probs, Y * N * O);
    TAKE(b.logits, N * O);
    TAKE(b.work, 2 * N * H);
    TAKE(b.da, N * T * D);
    TAKE(b.dkeys, N * T * K);
    TAKE(b.dlogits, N * O);
    TAKE(b.ds, N * S);
    TAKE(b.dc, N * S);
    TAKE(b.dsp, N * S);
    TAKE(b.dcp, N * S);
    TAKE(b.dxwp, N * 4 * S);
    TAKE(b.dctx, N * D);
    TAKE(b.der, N * T);
    TAKE(b.den, N * T);
    TAKE(b.dquery, N * K);
#undef TAKE
    b.bytes = off;
    return b;
}

static size_t scratch_bytes(const tr_model *m, int n) { return layout(m, n, NULL).bytes; }

/* ---- forward over n samples; fills the caches in b, returns the loss if
 * targets are given. */
static double forward(const tr_model *m, const float *P, bufs *b, const tr_batch *batch)
{
    const int n = batch->n, T = m->T, Y = m->Y, H = m->H, S = m->S, K = m->K, O = m->O, D = 2 * H;
    for (int t = 0; t < T; t++)
        for (int i = 0; i < n; i++)
            b->tok[(size_t)t * n + i] = batch->src[(size_t)i * T + t];
    /* encoder: one-hot . kernel = row lookup, plus bias, written straight
     * into the gate cache; then the LSTM computes the gates in place */
    for (int d = 0; d < 2; d++) {
        tr_embedding_forward(b->g[d], b->tok, P + m->enc_k[d], T * n, 4 * H);
        const float *bias = P + m->enc_b[d];
        for (size_t r = 0; r < (size_t)T * n; r++)
            tr_add_inplace(b->g[d] + r * 4 * H, bias, 4 * H);
        tr_lstm_forward(b->h[d], b->c[d], b->g[d], b->g[d], P + m->enc_r[d], T, n, H, d, m->ract);
    }
    /* a[i,t,:] = [h_fw[t,i,:], h_bw[t,i,:]] */
    for (int i = 0; i < n; i++)
        for (int t = 0; t < T; t++) {
            float *dst = b->a + ((size_t)i * T + t) * D;
            memcpy(dst, b->h[0] + ((size_t)t * n + i) * H, (size_t)H * sizeof *dst);
            memcpy(dst + H, b->h[1] + ((size_t)t * n + i) * H, (size_t)H * sizeof *dst);
        }
    const float *Wa = P + m->att_k, *Ws = P + m->att_k + (size_t)D * K;
    tr_dense_forward(b->keys, b->a, Wa, NULL, n * T, D, K);
    double loss = 0.0;
    for (int y = 0; y < Y; y++) {
        float *query = b->query + (size_t)y * n * K, *hid = b->hid + (size_t)y * n * T * K;
        float *energy = b->energy + (size_t)y * n * T, *er = b->er + (size_t)y * n * T;
        float *alpha = b->alpha + (size_t)y * n * T, *ctx = b->ctx + (size_t)y * n * D;
        float *s = b->s + (size_t)y * n * S, *cs = b->cs + (size_t)y * n * S, *gp = b->gp + (size_t)y * n * 4 * S;
        const float *s_prev = y ? s - (size_t)n * S : NULL, *c_prev = y ? cs - (size_t)n * S : NULL;
        if (s_prev)
            tr_dense_forward(query, s_prev, Ws, P + m->att_b, n, S, K);
        else
            for (int i = 0; i < n; i++)
                memcpy(query + (size_t)i * K, P + m->att_b, (size_t)K * sizeof *query);
        tr_additive_energy_forward(energy, hid, b->keys, query, P + m->att_v, P + m->att_vb, n, T, K);
        tr_act_forward(er, energy, n * T, TR_ACT_RELU);
        tr_attention_forward(ctx, alpha, er, b->a, NULL, n, T, D);
        tr_dense_forward(b->xwp, ctx, P + m->post_k, P + m->post_b, n, D, 4 * S);
        tr_lstm_cell_forward(s, cs, gp, b->xwp, s_prev, c_prev, P + m->post_r, n, S, m->ract);
        tr_dense_forward(b->logits, s, P + m->out_k, P + m->out_b, n, S, O);
        if (batch->tgt) {
            for (int i = 0; i < n; i++)
                b->tcol[i] = batch->tgt[(size_t)i * Y + y];
            loss += tr_softmax_xent_forward(b->probs + (size_t)y * n * O, b->logits, b->tcol, n, O);
        } else {
            tr_softmax_forward(b->probs + (size_t)y * n * O, b->logits, n, O, 1);
        }
    }
    return loss;
}

static tr_status train(const tr_model *m, const float *P, float *G, void *scratch,
                       const tr_batch *batch, double *loss, tr_error *err)
{
    (void)err;
    const int n = batch->n, T = m->T, Y = m->Y, H = m->H, S = m->S, K = m->K, O = m->O, D = 2 * H;
    bufs b = layout(m, n, scratch);
    *loss = forward(m, P, &b, batch);

    const float *Wa = P + m->att_k, *Ws = P + m->att_k + (size_t)D * K;
    float *dWa = G + m->att_k, *dWs = G + m->att_k + (size_t)D * K;
    memset(b.da, 0, (size_t)n * T * D * sizeof(float));
    memset(b.dkeys, 0, (size_t)n * T * K * sizeof(float));
    memset(b.ds, 0, (size_t)n * S * sizeof(float));
    memset(b.dc, 0, (size_t)n * S * sizeof(float));
    float *ds_next = b.ds, *dc_next = b.dc, *ds_prev = b.dsp, *dc_prev = b.dcp;
    for (int y = Y - 1; y >= 0; y--) {
        const float *hid = b.hid + (size_t)y * n * T * K, *er = b.er + (size_t)y * n * T;
        const float *alpha = b.alpha + (size_t)y * n * T, *ctx = b.ctx + (size_t)y * n * D;
        const float *s = b.s + (size_t)y * n * S, *cs = b.cs + (size_t)y * n * S, *gp = b.gp + (size_t)y * n * 4 * S;
        const float *s_prev = y ? s - (size_t)n * S : NULL, *c_prev = y ? cs - (size_t)n * S : NULL;
        /* output layer */
        for (int i = 0; i < n; i++)
            b.tcol[i] = batch->tgt[(size_t)i * Y + y];
        memset(b.dlogits, 0, (size_t)n * O * sizeof(float));
        tr_softmax_xent_backward(b.dlogits, b.probs + (size_t)y * n * O, b.tcol, 1.0f, n, O);
        tr_dense_backward(ds_next, G + m->out_k, G + m->out_b, b.dlogits, s, P + m->out_k, n, S, O);
        /* post-attention LSTM step */
        memset(b.dxwp, 0, (size_t)n * 4 * S * sizeof(float));
        memset(ds_prev, 0, (size_t)n * S * sizeof(float));
        memset(dc_prev, 0, (size_t)n * S * sizeof(float));
        tr_lstm_cell_backward(b.dxwp, y ? ds_prev : NULL, y ? dc_prev : NULL, G + m->post_r, ds_next, dc_next, gp, cs,
                              s_prev, c_prev, P + m->post_r, n, S, m->ract);
        memset(b.dctx, 0, (size_t)n * D * sizeof(float));
        tr_dense_backward(b.dctx, G + m->post_k, G + m->post_b, b.dxwp, ctx, P + m->post_k, n, D, 4 * S);
        /* attention */
        memset(b.der, 0, (size_t)n * T * sizeof(float));
        tr_attention_backward(b.der, b.da, b.dctx, alpha, b.a, n, T, D);
        memset(b.den, 0, (size_t)n * T * sizeof(float));
        tr_act_backward(b.den, b.der, er, n * T, TR_ACT_RELU);
        memset(b.dquery, 0, (size_t)n * K * sizeof(float));
        tr_additive_energy_backward(b.dkeys, b.dquery, G + m->att_v, G + m->att_vb, b.den, hid, P + m->att_v, n, T, K);
        /* query = s_prev . Ws + b1 (s_prev = 0 at y = 0) */
        tr_dense_backward(y ? ds_prev : NULL, y ? dWs : NULL, G + m->att_b, b.dquery, s_prev, Ws, n, S, K);
        float *t1 = ds_next, *t2 = dc_next;
        ds_next = ds_prev; dc_next = dc_prev;
        ds_prev = t1; dc_prev = t2;
    }
    /* keys = a . Wa */
    tr_dense_backward(b.da, dWa, NULL, b.dkeys, b.a, Wa, n * T, D, K);
    for (int i = 0; i < n; i++)
        for (int t = 0; t < T; t++) {
            const float *src = b.da + ((size_t)i * T + t) * D;
            memcpy(b.dh[0] + ((size_t)t * n + i) * H, src, (size_t)H * sizeof(float));
            memcpy(b.dh[1] + ((size_t)t * n + i) * H, src + H, (size_t)H * sizeof(float));
        }
    for (int d = 0; d < 2; d++) {
        float *dxw = b.xw[d];
        tr_lstm_backward(dxw, G + m->enc_r[d], b.dh[d], b.h[d], b.c[d], b.g[d], P + m->enc_r[d], b.work, T, n, H, d,
                         m->ract);
        tr_embedding_backward(G + m->enc_k[d], dxw, b.tok, T * n, 4 * H);
        float *db = G + m->enc_b[d];
        for (size_t r = 0; r < (size_t)T * n; r++)
            tr_add_inplace(db, dxw + r * 4 * H, 4 * H);
    }
    return TR_OK;
}

static tr_status predict(const tr_model *m, const float *P, void *scratch, const tr_batch *batch,
                         tr_prediction *out, tr_error *err)
{
    (void)err;
    const int n = batch->n, T = m->T, Y = m->Y, O = m->O;
    bufs b = layout(m, n, scratch);
    tr_batch nb = *batch;
    nb.tgt = NULL;
    forward(m, P, &b, &nb);
    for (int y = 0; y < Y; y++)
        for (int i = 0; i < n; i++) {
            const float *p = b.probs + ((size_t)y * n + i) * O;
            int best = 0;
            for (int o = 1; o < O; o++)
                if (p[o] > p[best]) best = o;
            if (out->tokens)
                out->tokens[(size_t)i * Y + y] = best;
            if (out->attention)
                memcpy(out->attention + ((size_t)i * Y + y) * T, b.alpha + ((size_t)y * n + i) * T,
                       (size_t)T * sizeof(float));
        }
    return TR_OK;
}

/* ---- create / destroy */

static const tr_option_spec options[] = {
    {"encoder_units", TR_OPT_INT, "32", NULL, "LSTM units each way of the bidirectional encoder"},
    {"decoder_units", TR_OPT_INT, "64", NULL, "units of the post-attention LSTM"},
    {"attention_units", TR_OPT_INT, "8", NULL, "units of the attention's tanh layer"},
    {"recurrent_activation", TR_OPT_ENUM, "hard_sigmoid", "hard_sigmoid|sigmoid",
     "LSTM gate activation (Keras 2 default: hard_sigmoid)"},
};

static tr_status create(tr_model **out, tr_registry *reg, const tr_model_info *info, tr_error *err)
{
    const tr_option_value *o = info->options;
    if (o[0].i < 1 || o[1].i < 1 || o[2].i < 1)
        return tr_error_set(err, TR_ERR_CONFIG, "encoder_units, decoder_units and attention_units must be >= 1");
    tr_model *m = calloc(1, sizeof *m);
    if (!m)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    m->T = info->src_len; m->Y = info->tgt_len; m->V = info->src_vocab; m->O = info->tgt_vocab;
    m->H = (int)o[0].i; m->S = (int)o[1].i; m->K = (int)o[2].i;
    m->ract = o[3].i == 0 ? TR_ACT_HARD_SIGMOID : TR_ACT_SIGMOID;
    const int H = m->H, S = m->S, K = m->K, D = 2 * H;
    const tr_init glorot = {TR_INIT_GLOROT_UNIFORM, 0, 0}, ortho = {TR_INIT_ORTHOGONAL, 1, 0},
                  lstm_bias = {TR_INIT_LSTM_BIAS, 0, 0}, zeros = {TR_INIT_ZEROS, 0, 0};
    static const char *dir[2] = {"encoder.forward", "encoder.backward"};
    tr_status s = TR_OK;
    char name[TR_MAX_NAME];
    for (int d = 0; d < 2 && !s; d++) {
        snprintf(name, sizeof name, "%s.kernel", dir[d]);
        s = tr_param_add(reg, name, 2, (int[]){m->V, 4 * H}, glorot, &m->enc_k[d], err);
        snprintf(name, sizeof name, "%s.recurrent_kernel", dir[d]);
        if (!s) s = tr_param_add(reg, name, 2, (int[]){H, 4 * H}, ortho, &m->enc_r[d], err);
        snprintf(name, sizeof name, "%s.bias", dir[d]);
        if (!s) s = tr_param_add(reg, name, 1, (int[]){4 * H}, lstm_bias, &m->enc_b[d], err);
    }
    if (!s) s = tr_param_add(reg, "attention.dense.kernel", 2, (int[]){D + S, K}, glorot, &m->att_k, err);
    if (!s) s = tr_param_add(reg, "attention.dense.bias", 1, (int[]){K}, zeros, &m->att_b, err);
    if (!s) s = tr_param_add(reg, "attention.energy.kernel", 2, (int[]){K, 1}, glorot, &m->att_v, err);
    if (!s) s = tr_param_add(reg, "attention.energy.bias", 1, (int[]){1}, zeros, &m->att_vb, err);
    if (!s) s = tr_param_add(reg, "decoder.kernel", 2, (int[]){D, 4 * S}, glorot, &m->post_k, err);
    if (!s) s = tr_param_add(reg, "decoder.recurrent_kernel", 2, (int[]){S, 4 * S}, ortho, &m->post_r, err);
    if (!s) s = tr_param_add(reg, "decoder.bias", 1, (int[]){4 * S}, lstm_bias, &m->post_b, err);
    if (!s) s = tr_param_add(reg, "output.kernel", 2, (int[]){S, m->O}, glorot, &m->out_k, err);
    if (!s) s = tr_param_add(reg, "output.bias", 1, (int[]){m->O}, zeros, &m->out_b, err);
    if (s) {
        free(m);
        return s;
    }
    *out = m;
    return TR_OK;
}

static void destroy(tr_model *m) { free(m); }

static const tr_plugin descriptor = {
    .size = sizeof(tr_plugin),
    .abi_version = TR_ABI_VERSION,
    .name = "time_attn",
    .version = "1.0.0",
    .description = "BiLSTM encoder + concat attention + post-attention LSTM (Keras attention tutorial)",
    .options = options,
    .n_options = (int)(sizeof options / sizeof options[0]),
    .attention_axes = "sample,target,source",
    .create = create,
    .destroy = destroy,
    .scratch_bytes = scratch_bytes,
    .train = train,
    .predict = predict,
};

TR_PLUGIN_DEFINE(descriptor)

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
    tr_recurrent enc[2];                 /* the LSTMs over one-hot tokens, forward / backward */
    size_t att_k, att_b, att_v, att_vb;  /* [2H+S, K], [K], [K,1], [1] */
    size_t post_k, post_r, post_b;       /* [2H,4S], [S,4S], [4S] */
    size_t out_k, out_b;                 /* [S,O], [O] */
} tr_model;

/* ---- scratch layout: one function computes it for sizing and for use */

typedef struct bufs {
    int32_t *tok;                    /* [T,n] time-major tokens */
    int32_t *tcol;                   /* [n] targets of one step */
    tr_recurrent_cache enc[2];       /* per direction: states .h [T,n,H] and caches */
    float *a, *keys;                 /* [n,T,2H], [n,T,K] */
    float *query, *hid, *energy, *er, *alpha, *ctx, *xwp, *s, *cs, *gp, *probs; /* per step y, stacked over Y */
    float *logits;                   /* [n,O] */
    /* backward */
    float *da, *dkeys;
    float *dlogits, *ds, *dc, *dsp, *dcp, *dxwp, *dctx, *der, *den, *dquery;
    size_t bytes;
} bufs;

static bufs layout(const tr_model *m, int n, void *base)
{
    bufs b;
    tr_arena a = {base, 0};
    const size_t T = (size_t)m->T, Y = (size_t)m->Y, S = (size_t)m->S, K = (size_t)m->K, O = (size_t)m->O,
                 D = 2 * (size_t)m->H, N = (size_t)n;
    TR_TAKE(&a, b.tok, T * N);
    TR_TAKE(&a, b.tcol, N);
    for (int d = 0; d < 2; d++)
        tr_recurrent_take(&b.enc[d], &a, &m->enc[d], m->T, n);
    tr_arena_floats(&a, N * T * D, &b.a, &b.da, NULL);
    tr_arena_floats(&a, N * T * K, &b.keys, &b.dkeys, NULL);
    tr_arena_floats(&a, Y * N * K, &b.query, NULL);
    tr_arena_floats(&a, Y * N * T * K, &b.hid, NULL);
    tr_arena_floats(&a, Y * N * T, &b.energy, &b.er, &b.alpha, NULL);
    tr_arena_floats(&a, Y * N * D, &b.ctx, NULL);
    tr_arena_floats(&a, N * 4 * S, &b.xwp, &b.dxwp, NULL);
    tr_arena_floats(&a, Y * N * S, &b.s, &b.cs, NULL);
    tr_arena_floats(&a, Y * N * 4 * S, &b.gp, NULL);
    tr_arena_floats(&a, Y * N * O, &b.probs, NULL);
    tr_arena_floats(&a, N * O, &b.logits, &b.dlogits, NULL);
    tr_arena_floats(&a, N * S, &b.ds, &b.dc, &b.dsp, &b.dcp, NULL);
    tr_arena_floats(&a, N * D, &b.dctx, NULL);
    tr_arena_floats(&a, N * T, &b.der, &b.den, NULL);
    tr_arena_floats(&a, N * K, &b.dquery, NULL);
    b.bytes = a.used;
    return b;
}

static size_t scratch_bytes(const tr_model *m, int n) { return layout(m, n, NULL).bytes; }

/* ---- forward over n samples; fills the caches in b, returns the loss if
 * targets are given. */
static double forward(const tr_model *m, const float *P, bufs *b, const tr_batch *batch)
{
    const int n = batch->n, T = m->T, Y = m->Y, H = m->H, S = m->S, K = m->K, O = m->O, D = 2 * H;
    tr_tokens_time_major(b->tok, batch->src, n, T);
    /* the encoder (one-hot . kernel = a row lookup), then a[i,t,:] = [h_fw[t,i,:], h_bw[t,i,:]] */
    for (int d = 0; d < 2; d++) {
        tr_recurrent_forward(&m->enc[d], P, &b->enc[d], NULL, b->tok, NULL, NULL, T, n);
        tr_swap_batch_time(b->a + d * H, D, b->enc[d].h, H, T, n, H);
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
        if (batch->tgt) {
            for (int i = 0; i < n; i++)
                b->tcol[i] = batch->tgt[(size_t)i * Y + y];
            loss += tr_dense_xent_forward(b->probs + (size_t)y * n * O, b->logits, s, P + m->out_k, P + m->out_b,
                                          b->tcol, n, S, O);
        } else {
            tr_dense_forward(b->logits, s, P + m->out_k, P + m->out_b, n, S, O);
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
        tr_dense_xent_backward(ds_next, G + m->out_k, G + m->out_b, b.dlogits, b.probs + (size_t)y * n * O, b.tcol, s,
                               P + m->out_k, 1.0f, n, S, O);
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
    for (int d = 0; d < 2; d++) { /* da = [dh_fw, dh_bw], back to time-major */
        tr_swap_batch_time(b.enc[d].dh, H, b.da + d * H, D, n, T, H);
        tr_recurrent_backward(&m->enc[d], P, G, &b.enc[d], b.enc[d].dh, NULL, NULL);
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
    for (int y = 0; y < Y; y++) {
        if (out->tokens)
            tr_argmax_rows(out->tokens + y, Y, b.probs + (size_t)y * n * O, n, O);
        if (out->attention)
            tr_copy_cols(out->attention + (size_t)y * T, Y * T, b.alpha + (size_t)y * n * T, T, n, T);
    }
    return TR_OK;
}

/* ---- create / destroy */

static const tr_option_spec options[] = {
    {"encoder_units", TR_OPT_INT, "32", "[1,)", "LSTM units each way of the bidirectional encoder"},
    {"decoder_units", TR_OPT_INT, "64", "[1,)", "units of the post-attention LSTM"},
    {"attention_units", TR_OPT_INT, "8", "[1,)", "units of the attention's tanh layer"},
    {"recurrent_activation", TR_OPT_ENUM, "hard_sigmoid", "hard_sigmoid|sigmoid",
     "LSTM gate activation (Keras 2 default: hard_sigmoid)"},
};

static tr_status create(tr_model **out, tr_registry *reg, const tr_model_info *info, tr_error *err)
{
    const tr_option_value *o = info->options;
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
    for (int d = 0; d < 2 && !s; d++) { /* Glorot, orthogonal, the forget gate's bias 1 */
        s = tr_recurrent_add(&m->enc[d], reg, dir[d], TR_CELL_LSTM, m->V, 1, H, NULL, err);
        m->enc[d].reverse = d;
        m->enc[d].recurrent_act = m->ract;
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

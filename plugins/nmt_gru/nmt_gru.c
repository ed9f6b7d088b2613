/* plugins/nmt_gru/nmt_gru.c - GRU encoder-decoder with attention for
 * word-level translation (the attention_keras NMT tutorial's model).
 *
 *   encoder: h_j = GRU_enc(x_j), j < Tx           (one-hot x: a row lookup)
 *   decoder: s_i = GRU_dec(y_{i-1}), s_0 = h_{Tx-1} (teacher forcing; <s> first)
 *   e_ij = score(s_i, h_j)                         (model.attention: additive | dot | general | scaled_dot | any registered)
 *   a_i  = softmax_j(e_ij) over non-padding j;  c_i = sum_j a_ij h_j
 *   p_i  = softmax([s_i, c_i] Wout + bout)
 *   loss = sum over non-padding target positions of cross-entropy
 *
 * The attention does not feed back into the decoder, so in training the
 * decoder runs as one sequence and the scores of all steps are computed at
 * once; greedy decoding runs step by step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "trainer/trainer.h"

typedef struct tr_model {
    int Tx, Ty, Vt, H, K;
    int pad_s, pad_t, bos, eos;
    tr_recurrent enc, dec;  /* GRUs over one-hot tokens: kernels [Vs,3H] and [Vt,3H] */
    tr_attn att;            /* model.attention's scorer over the encoder's states */
    size_t out_k, out_b;    /* [2H,Vt] [Vt] */
} tr_model;

typedef struct bufs {
    int32_t *tok_s, *tok_d, *tgt;     /* [Tx,n] [Ty,n] [Ty,n] time-major; tgt -1 at padding */
    int32_t *rows, *tgt_c;            /* [Ty*n]: the non-padding target rows, and their targets */
    tr_recurrent_cache enc, dec;      /* the GRUs' states .h [T,n,H] and caches */
    tr_attn_cache att;                /* .values [n,Tx,H] (batch-major), .mask; .alpha, .ctx [Ty,n,...] */
    float *cat, *logits, *probs;      /* [Ty*n,2H] [Ty*n,Vt] [Ty*n,Vt] */
    float *cat_c;                     /* [Ty*n,2H] the non-padding rows of cat */
    float *dcat, *dh0, *s;
    size_t bytes;
} bufs;

static bufs layout(const tr_model *m, int n, void *base)
{
    bufs b;
    tr_arena a = {base, 0};
    const size_t N = (size_t)n, Tx = (size_t)m->Tx, H = (size_t)m->H, R = (size_t)m->Ty * N;
    TR_TAKE(&a, b.tok_s, Tx * N);
    TR_TAKE(&a, b.tok_d, R);
    TR_TAKE(&a, b.tgt, R);
    TR_TAKE(&a, b.rows, R);
    TR_TAKE(&a, b.tgt_c, R);
    tr_recurrent_take(&b.enc, &a, &m->enc, m->Tx, n);
    tr_recurrent_take(&b.dec, &a, &m->dec, m->Ty, n);
    tr_attn_take(&b.att, &a, &m->att, n, m->Ty, m->Tx);
    tr_arena_floats(&a, R * 2 * H, &b.cat, &b.cat_c, &b.dcat, NULL);    /* [Ty*n,2H] */
    tr_arena_floats(&a, R * m->Vt, &b.logits, &b.probs, NULL);          /* [Ty*n,Vt] */
    tr_arena_floats(&a, N * H, &b.dh0, &b.s, NULL);                     /* [n,H] */
    b.bytes = a.used;
    return b;
}

static size_t scratch_bytes(const tr_model *m, int n) { return layout(m, n, NULL).bytes; }

/* Encoder over the batch, the attention's values and the padding mask. */
static void encode(const tr_model *m, const float *P, bufs *b, const tr_batch *batch)
{
    const int n = batch->n, Tx = m->Tx, H = m->H;
    tr_tokens_time_major(b->tok_s, batch->src, n, Tx);
    tr_attn_mask_tokens(&b->att, batch->src, m->pad_s);
    tr_recurrent_forward(&m->enc, P, &b->enc, NULL, b->tok_s, NULL, NULL, Tx, n);
    tr_swap_batch_time(b->att.values, H, b->enc.h, H, Tx, n, H);
}

/* Attention for `steps` decoder states q [steps,n,H]: fills alpha, ctx
 * and cat = [q, ctx] for those steps. */
static void attend(const tr_model *m, const float *P, bufs *b, const float *q, int n, int steps)
{
    const int H = m->H, R = steps * n;
    tr_attn_forward(&m->att, P, &b->att, q, steps);
    tr_copy_cols(b->cat, 2 * H, q, H, R, H);
    tr_copy_cols(b->cat + H, 2 * H, b->att.ctx, H, R, H);
}

/* The decoder over the targets shifted right (<s> first), from the encoder's last state. */
static void decode_forced(const tr_model *m, const float *P, bufs *b, const tr_batch *batch)
{
    const int n = batch->n, Ty = m->Ty;
    tr_decoder_inputs(b->tok_d, b->tgt, batch->tgt, n, Ty, m->bos, m->pad_t);
    const float *h0 = b->enc.h + (size_t)(m->Tx - 1) * n * m->H;
    tr_recurrent_forward(&m->dec, P, &b->dec, NULL, b->tok_d, h0, NULL, Ty, n);
    attend(m, P, b, b->dec.h, n, Ty);
}

static tr_status train(const tr_model *m, const float *P, float *G, void *scratch, const tr_batch *batch,
                       double *loss, tr_error *err)
{
    (void)err;
    const int n = batch->n, Tx = m->Tx, Ty = m->Ty, H = m->H, Vt = m->Vt;
    const size_t R = (size_t)Ty * n;
    bufs b = layout(m, n, scratch);
    encode(m, P, &b, batch);
    decode_forced(m, P, &b, batch);
    /* The output layer only on rows with a target: padding (a third of the
     * rows here) has no loss, so no logits are needed there. */
    int M = 0;
    for (size_t r = 0; r < R; r++)
        if (b.tgt[r] >= 0) {
            b.rows[M] = (int32_t)r;
            b.tgt_c[M] = b.tgt[r];
            memcpy(b.cat_c + (size_t)M * 2 * H, b.cat + r * 2 * H, (size_t)2 * H * sizeof(float));
            M++;
        }
    *loss = tr_dense_xent_forward(b.probs, b.logits, b.cat_c, P + m->out_k, P + m->out_b, b.tgt_c, M, 2 * H, Vt);

    /* backward */
    float *dcat_c = b.cat; /* cat is not needed any more */
    memset(dcat_c, 0, (size_t)M * 2 * H * sizeof(float));
    tr_dense_xent_backward(dcat_c, G + m->out_k, G + m->out_b, b.logits, b.probs, b.tgt_c, b.cat_c, P + m->out_k,
                           1.0f, M, 2 * H, Vt);
    memset(b.dcat, 0, R * 2 * H * sizeof(float));
    for (int k = 0; k < M; k++)
        memcpy(b.dcat + (size_t)b.rows[k] * 2 * H, dcat_c + (size_t)k * 2 * H, (size_t)2 * H * sizeof(float));
    tr_copy_cols(b.dec.dh, H, b.dcat, 2 * H, (int)R, H); /* d[s, c] -> ds, dc */
    tr_copy_cols(b.att.dctx, H, b.dcat + H, 2 * H, (int)R, H);
    tr_attn_backward(&m->att, P, G, &b.att, b.dec.dh);
    memset(b.dh0, 0, (size_t)n * H * sizeof(float));
    tr_recurrent_backward(&m->dec, P, G, &b.dec, b.dec.dh, NULL, b.dh0);
    tr_swap_batch_time(b.enc.dh, H, b.att.dvalues, H, n, Tx, H); /* values back to time-major */
    tr_add_inplace(b.enc.dh + (size_t)(Tx - 1) * n * H, b.dh0, (long)n * H); /* and the decoder's initial state */
    tr_recurrent_backward(&m->enc, P, G, &b.enc, b.enc.dh, NULL, NULL);
    return TR_OK;
}

/* Teacher-forced forward: counts the non-padding target tokens whose
 * argmax is right (the token accuracy the tutorials report). */
static tr_status score(const tr_model *m, const float *P, void *scratch, const tr_batch *batch, long *correct,
                       long *total, tr_error *err)
{
    (void)err;
    const int n = batch->n, R = m->Ty * n;
    bufs b = layout(m, n, scratch);
    encode(m, P, &b, batch);
    decode_forced(m, P, &b, batch);
    tr_dense_forward(b.logits, b.cat, P + m->out_k, P + m->out_b, R, 2 * m->H, m->Vt);
    tr_argmax_rows(b.rows, 1, b.logits, R, m->Vt);
    for (int r = 0; r < R; r++)
        if (b.tgt[r] >= 0) {
            *correct += b.rows[r] == b.tgt[r];
            *total += 1;
        }
    return TR_OK;
}

/* Greedy decoding: feed back the argmax; after </s>, padding. */
static tr_status predict(const tr_model *m, const float *P, void *scratch, const tr_batch *batch, tr_prediction *out,
                         tr_error *err)
{
    (void)err;
    const int n = batch->n, Tx = m->Tx, Ty = m->Ty, H = m->H, Vt = m->Vt;
    bufs b = layout(m, n, scratch);
    encode(m, P, &b, batch);
    tr_decoder_inputs(b.tok_d, NULL, NULL, n, 1, m->bos, m->pad_t);
    for (int y = 0; y < Ty; y++) { /* from the encoder's last state, then the decoder's; </s> ends an answer */
        const float *s = y ? b.s : b.enc.h + (size_t)(Tx - 1) * n * H;
        tr_recurrent_forward(&m->dec, P, &b.dec, NULL, b.tok_d, s, NULL, 1, n);
        attend(m, P, &b, b.dec.h, n, 1);
        tr_dense_forward(b.logits, b.cat, P + m->out_k, P + m->out_b, n, 2 * H, Vt);
        tr_greedy_step(out, b.tok_d, b.logits, b.att.alpha, y, n, Ty, Tx, Vt, m->eos, m->pad_t);
        memcpy(b.s, b.dec.h, (size_t)n * H * sizeof(float));
    }
    return TR_OK;
}

static const tr_option_spec options[] = {
    {"hidden_units", TR_OPT_INT, "96", "[1,)", "GRU units of the encoder and the decoder"},
    {"attention", TR_OPT_STRING, "additive", NULL,
     "attention scorer: additive, dot, general, scaled_dot, or one a plugin registered"},
    {"attention_units", TR_OPT_INT, "96", "[1,)", "hidden units of the additive scorer"},
};

static void destroy(tr_model *m)
{
    if (m)
        tr_attn_free(&m->att);
    free(m);
}

static tr_status create(tr_model **out, tr_registry *reg, const tr_model_info *info, tr_error *err)
{
    const tr_option_value *o = info->options;
    if (info->size < offsetof(tr_model_info, tgt_eos) + sizeof info->tgt_eos || info->tgt_bos < 0 || info->tgt_eos < 0)
        return tr_error_set(err, TR_ERR_CONFIG, "nmt_gru needs a target vocabulary with <s> and </s> (data.kind: word_pairs)");
    tr_model *m = calloc(1, sizeof *m);
    if (!m)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    *m = (tr_model){.Tx = info->src_len, .Ty = info->tgt_len, .Vt = info->tgt_vocab, .H = (int)o[0].i,
                    .K = (int)o[2].i, .pad_s = info->src_pad, .pad_t = info->tgt_pad, .bos = info->tgt_bos,
                    .eos = info->tgt_eos};
    const int H = m->H;
    /* The input kernels are lookup tables (one-hot inputs). U(-1, 1) gives
     * them the spread an embedding N(0, 1) times a GRU input kernel has at
     * initialisation (std ~0.58); Glorot over [vocab, 3H] would start 10x
     * smaller and learn markedly slower. */
    const tr_init gru[3] = {{TR_INIT_UNIFORM, -1.0f, 1.0f}, {TR_INIT_ORTHOGONAL, 1, 0}, {TR_INIT_ZEROS, 0, 0}};
    tr_status s = tr_recurrent_add(&m->enc, reg, "encoder", TR_CELL_GRU, info->src_vocab, 1, H, gru, err);
    if (!s) s = tr_recurrent_add(&m->dec, reg, "decoder", TR_CELL_GRU, m->Vt, 1, H, gru, err);
    if (!s) s = tr_attn_add(&m->att, reg, "attention", o[1].s, "model.attention", H, H, m->K, err);
    if (!s) s = tr_param_add_dense(reg, "output", 2 * H, m->Vt, &m->out_k, &m->out_b, err);
    if (s)
        destroy(m);
    else
        *out = m;
    return s;
}

static const tr_plugin descriptor = {
    .size = sizeof(tr_plugin), .abi_version = TR_ABI_VERSION, .name = "nmt_gru", .version = "0.1.0",
    .description = "GRU encoder-decoder with a registered attention scorer (Bahdanau by default)",
    .options = options, .n_options = (int)(sizeof options / sizeof options[0]),
    .attention_axes = "sample,target,source", .create = create, .destroy = destroy,
    .scratch_bytes = scratch_bytes, .train = train, .predict = predict, .score = score,
};

TR_PLUGIN_DEFINE(descriptor)

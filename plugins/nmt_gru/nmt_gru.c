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
    int Tx, Ty, Vs, Vt, H, K;
    int pad_s, pad_t, bos, eos;
    const tr_scorer *scorer;
    void *sstate;
    size_t enc_k, enc_r, enc_b, enc_rb; /* [Vs,3H] [H,3H] [3H] [3H] */
    size_t dec_k, dec_r, dec_b, dec_rb; /* [Vt,3H] [H,3H] [3H] [3H] */
    size_t out_k, out_b;                /* [2H,Vt] [Vt] */
} tr_model;

typedef struct bufs {
    int32_t *tok_s, *tok_d, *tgt;     /* [Tx,n] [Ty,n] [Ty,n] time-major; tgt -1 at padding */
    int32_t *rows, *tgt_c;            /* [Ty*n]: the non-padding target rows, and their targets */
    uint8_t *mask;                    /* [n,Tx] 1 = real token */
    float *ge, *he, *hne;             /* encoder gates [Tx,n,3H], states [Tx,n,H], cache [Tx,n,H] */
    float *gd, *hd, *hnd;             /* decoder, same over Ty */
    float *values;                    /* [n,Tx,H] encoder states, batch-major */
    float *energy, *alpha, *ctx;      /* [Ty,n,Tx] [Ty,n,Tx] [Ty,n,H] */
    float *cat, *logits, *probs;      /* [Ty*n,2H] [Ty*n,Vt] [Ty*n,Vt] */
    float *cat_c;                     /* [Ty*n,2H] the non-padding rows of cat */
    float *sscratch;                  /* the scorer's */
    float *dcat, *dhd, *dctx, *denergy, *dvalues, *dxe, *dxd, *dhe, *dh0, *work;
    size_t bytes;
} bufs;

static bufs layout(const tr_model *m, int n, unsigned char *base)
{
    bufs b;
    size_t off = 0;
    const size_t N = (size_t)n, Tx = (size_t)m->Tx, Ty = (size_t)m->Ty, H = (size_t)m->H, Vt = (size_t)m->Vt;
#define TAKE(ptr, count)                                          \
    do {                                                          \
        ptr = (void *)(base ? base + off : NULL);                 \
        off += ((count) * 4 + 63) / 64 * 64;                      \
    } while (0)
    TAKE(b.tok_s, Tx * N);
    TAKE(b.tok_d, Ty * N);
    TAKE(b.tgt, Ty * N);
    TAKE(b.rows, Ty * N);
    TAKE(b.tgt_c, Ty * N);
    TAKE(b.mask, (N * Tx + 3) / 4);
    TAKE(b.ge, Tx * N * 3 * H);
    TAKE(b.he, Tx * N * H);
    TAKE(b.hne, Tx * N * H);
    TAKE(b.gd, Ty * N * 3 * H);
    TAKE(b.hd, Ty * N * H);
    TAKE(b.hnd, Ty * N * H);
    TAKE(b.values, N * Tx * H);
    TAKE(b.energy, Ty * N * Tx);
    TAKE(b.alpha, Ty * N * Tx);
    TAKE(b.ctx, Ty * N * H);
    TAKE(b.cat, Ty * N * 2 * H);
    TAKE(b.logits, Ty * N * Vt);
    TAKE(b.probs, Ty * N * Vt);
    TAKE(b.cat_c, Ty * N * 2 * H);
    TAKE(b.sscratch, m->scorer->scratch_floats(m->sstate, n, m->Ty, m->Tx));
    TAKE(b.dcat, Ty * N * 2 * H);
    TAKE(b.dhd, Ty * N * H);
    TAKE(b.dctx, Ty * N * H);
    TAKE(b.denergy, Ty * N * Tx);
    TAKE(b.dvalues, N * Tx * H);
    TAKE(b.dxe, Tx * N * 3 * H);
    TAKE(b.dxd, Ty * N * 3 * H);
    TAKE(b.dhe, Tx * N * H);
    TAKE(b.dh0, N * H);
    TAKE(b.work, N * 3 * H);
#undef TAKE
    b.bytes = off;
    return b;
}

static size_t scratch_bytes(const tr_model *m, int n) { return layout(m, n, NULL).bytes; }

/* xw[rows,3H] = kernel[tok] + bias: the one-hot input times the kernel */
static void lookup(float *xw, const int32_t *tok, const float *kernel, const float *bias, int rows, int G)
{
    tr_embedding_forward(xw, tok, kernel, rows, G);
    for (int r = 0; r < rows; r++)
        tr_add_inplace(xw + (size_t)r * G, bias, G);
}

static void lookup_backward(float *dkernel, float *dbias, const float *dxw, const int32_t *tok, int rows, int G)
{
    tr_embedding_backward(dkernel, dxw, tok, rows, G);
    for (int r = 0; r < rows; r++)
        tr_add_inplace(dbias, dxw + (size_t)r * G, G);
}

/* Encoder over the batch, the attention's values and the padding mask. */
static void encode(const tr_model *m, const float *P, bufs *b, const tr_batch *batch)
{
    const int n = batch->n, Tx = m->Tx, H = m->H;
    for (int t = 0; t < Tx; t++)
        for (int i = 0; i < n; i++)
            b->tok_s[(size_t)t * n + i] = batch->src[(size_t)i * Tx + t];
    for (int i = 0; i < n * Tx; i++)
        b->mask[i] = batch->src[i] != m->pad_s;
    lookup(b->ge, b->tok_s, P + m->enc_k, P + m->enc_b, Tx * n, 3 * H);
    tr_gru_forward(b->he, b->ge, b->hne, b->ge, NULL, P + m->enc_r, P + m->enc_rb, Tx, n, H);
    for (int i = 0; i < n; i++)
        for (int t = 0; t < Tx; t++)
            memcpy(b->values + ((size_t)i * Tx + t) * H, b->he + ((size_t)t * n + i) * H, (size_t)H * sizeof(float));
}

/* Attention for `steps` decoder states q [steps,n,H]: fills energy, alpha,
 * ctx and cat = [q, ctx] for those steps. */
static void attend(const tr_model *m, const float *P, bufs *b, const float *q, int n, int steps, float *energy,
                   float *alpha, float *ctx, float *cat)
{
    const int Tx = m->Tx, H = m->H;
    m->scorer->forward(m->sstate, P, energy, b->sscratch, b->values, q, n, steps, Tx);
    for (int y = 0; y < steps; y++)
        tr_attention_forward(ctx + (size_t)y * n * H, alpha + (size_t)y * n * Tx, energy + (size_t)y * n * Tx,
                             b->values, b->mask, n, Tx, H);
    for (size_t r = 0; r < (size_t)steps * n; r++) {
        memcpy(cat + r * 2 * H, q + r * H, (size_t)H * sizeof(float));
        memcpy(cat + r * 2 * H + H, ctx + r * H, (size_t)H * sizeof(float));
    }
}

static tr_status train(const tr_model *m, const float *P, float *G, void *scratch, const tr_batch *batch,
                       double *loss, tr_error *err)
{
    (void)err;
    const int n = batch->n, Tx = m->Tx, Ty = m->Ty, H = m->H, Vt = m->Vt;
    const size_t R = (size_t)Ty * n;
    bufs b = layout(m, n, scratch);
    encode(m, P, &b, batch);
    /* decoder inputs: <s>, then the targets shifted right */
    for (int y = 0; y < Ty; y++)
        for (int i = 0; i < n; i++) {
            int32_t t = batch->tgt[(size_t)i * Ty + y];
            b.tok_d[(size_t)y * n + i] = y ? batch->tgt[(size_t)i * Ty + y - 1] : m->bos;
            b.tgt[(size_t)y * n + i] = t == m->pad_t ? -1 : t;
        }
    const float *h0 = b.he + (size_t)(Tx - 1) * n * H;
    lookup(b.gd, b.tok_d, P + m->dec_k, P + m->dec_b, Ty * n, 3 * H);
    tr_gru_forward(b.hd, b.gd, b.hnd, b.gd, h0, P + m->dec_r, P + m->dec_rb, Ty, n, H);
    attend(m, P, &b, b.hd, n, Ty, b.energy, b.alpha, b.ctx, b.cat);
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
    tr_dense_forward(b.logits, b.cat_c, P + m->out_k, P + m->out_b, M, 2 * H, Vt);
    *loss = tr_softmax_xent_forward(b.probs, b.logits, b.tgt_c, M, Vt);

    /* backward */
    float *dlogits = b.logits, *dcat_c = b.cat; /* cat is not needed any more */
    memset(dlogits, 0, (size_t)M * Vt * sizeof(float));
    tr_softmax_xent_backward(dlogits, b.probs, b.tgt_c, 1.0f, M, Vt);
    memset(dcat_c, 0, (size_t)M * 2 * H * sizeof(float));
    tr_dense_backward(dcat_c, G + m->out_k, G + m->out_b, dlogits, b.cat_c, P + m->out_k, M, 2 * H, Vt);
    memset(b.dcat, 0, R * 2 * H * sizeof(float));
    for (int k = 0; k < M; k++)
        memcpy(b.dcat + (size_t)b.rows[k] * 2 * H, dcat_c + (size_t)k * 2 * H, (size_t)2 * H * sizeof(float));
    for (size_t r = 0; r < R; r++) {
        memcpy(b.dhd + r * H, b.dcat + r * 2 * H, (size_t)H * sizeof(float));
        memcpy(b.dctx + r * H, b.dcat + r * 2 * H + H, (size_t)H * sizeof(float));
    }
    memset(b.dvalues, 0, (size_t)n * Tx * H * sizeof(float));
    memset(b.denergy, 0, R * Tx * sizeof(float));
    for (int y = 0; y < Ty; y++)
        tr_attention_backward(b.denergy + (size_t)y * n * Tx, b.dvalues, b.dctx + (size_t)y * n * H,
                              b.alpha + (size_t)y * n * Tx, b.values, n, Tx, H);
    m->scorer->backward(m->sstate, P, G, b.dvalues, b.dhd, b.denergy, b.sscratch, b.values, b.hd, n, Ty, Tx);
    memset(b.dh0, 0, (size_t)n * H * sizeof(float));
    tr_gru_backward(b.dxd, b.dh0, G + m->dec_r, G + m->dec_rb, b.dhd, b.hd, b.gd, b.hnd, h0, P + m->dec_r, b.work, Ty,
                    n, H);
    lookup_backward(G + m->dec_k, G + m->dec_b, b.dxd, b.tok_d, Ty * n, 3 * H);
    for (int t = 0; t < Tx; t++)
        for (int i = 0; i < n; i++)
            memcpy(b.dhe + ((size_t)t * n + i) * H, b.dvalues + ((size_t)i * Tx + t) * H, (size_t)H * sizeof(float));
    tr_add_inplace(b.dhe + (size_t)(Tx - 1) * n * H, b.dh0, (long)n * H);
    tr_gru_backward(b.dxe, NULL, G + m->enc_r, G + m->enc_rb, b.dhe, b.he, b.ge, b.hne, NULL, P + m->enc_r, b.work, Tx,
                    n, H);
    lookup_backward(G + m->enc_k, G + m->enc_b, b.dxe, b.tok_s, Tx * n, 3 * H);
    return TR_OK;
}

/* Teacher-forced forward: counts the non-padding target tokens whose
 * argmax is right (the token accuracy the tutorials report). */
static tr_status score(const tr_model *m, const float *P, void *scratch, const tr_batch *batch, long *correct,
                       long *total, tr_error *err)
{
    (void)err;
    const int n = batch->n, Tx = m->Tx, Ty = m->Ty, H = m->H, Vt = m->Vt;
    bufs b = layout(m, n, scratch);
    encode(m, P, &b, batch);
    for (int y = 0; y < Ty; y++)
        for (int i = 0; i < n; i++)
            b.tok_d[(size_t)y * n + i] = y ? batch->tgt[(size_t)i * Ty + y - 1] : m->bos;
    lookup(b.gd, b.tok_d, P + m->dec_k, P + m->dec_b, Ty * n, 3 * H);
    tr_gru_forward(b.hd, b.gd, b.hnd, b.gd, b.he + (size_t)(Tx - 1) * n * H, P + m->dec_r, P + m->dec_rb, Ty, n, H);
    attend(m, P, &b, b.hd, n, Ty, b.energy, b.alpha, b.ctx, b.cat);
    tr_dense_forward(b.logits, b.cat, P + m->out_k, P + m->out_b, Ty * n, 2 * H, Vt);
    for (int y = 0; y < Ty; y++)
        for (int i = 0; i < n; i++) {
            int32_t t = batch->tgt[(size_t)i * Ty + y];
            if (t == m->pad_t)
                continue;
            const float *l = b.logits + ((size_t)y * n + i) * Vt;
            int best = 0;
            for (int v = 1; v < Vt; v++)
                if (l[v] > l[best]) best = v;
            *correct += best == t;
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
    float *s = b.hd, *s_next = b.hd + (size_t)n * H; /* two [n,H] states */
    memcpy(s, b.he + (size_t)(Tx - 1) * n * H, (size_t)n * H * sizeof(float));
    int32_t *tok = b.tok_d;
    uint8_t *done = (uint8_t *)b.tgt;
    for (int i = 0; i < n; i++) {
        tok[i] = m->bos;
        done[i] = 0;
    }
    for (int y = 0; y < Ty; y++) {
        lookup(b.gd, tok, P + m->dec_k, P + m->dec_b, n, 3 * H);
        tr_gru_cell_forward(s_next, b.gd, b.hnd, b.gd, s, P + m->dec_r, P + m->dec_rb, n, H);
        attend(m, P, &b, s_next, n, 1, b.energy, b.alpha, b.ctx, b.cat);
        tr_dense_forward(b.logits, b.cat, P + m->out_k, P + m->out_b, n, 2 * H, Vt);
        for (int i = 0; i < n; i++) {
            const float *l = b.logits + (size_t)i * Vt;
            int best = 0;
            for (int v = 1; v < Vt; v++)
                if (l[v] > l[best]) best = v;
            int emit = done[i] ? m->pad_t : best;
            if (best == m->eos) done[i] = 1;
            tok[i] = best;
            if (out->tokens)
                out->tokens[(size_t)i * Ty + y] = emit;
            if (out->attention)
                memcpy(out->attention + ((size_t)i * Ty + y) * Tx, b.alpha + (size_t)i * Tx, (size_t)Tx * sizeof(float));
        }
        float *t = s;
        s = s_next;
        s_next = t;
    }
    return TR_OK;
}

static const tr_option_spec options[] = {
    {"hidden_units", TR_OPT_INT, "96", NULL, "GRU units of the encoder and the decoder"},
    {"attention", TR_OPT_STRING, "additive", NULL,
     "attention scorer: additive, dot, general, scaled_dot, or one a plugin registered"},
    {"attention_units", TR_OPT_INT, "96", NULL, "hidden units of the additive scorer"},
};

static tr_status create(tr_model **out, tr_registry *reg, const tr_model_info *info, tr_error *err)
{
    const tr_option_value *o = info->options;
    if (info->size < offsetof(tr_model_info, tgt_eos) + sizeof info->tgt_eos || info->tgt_bos < 0 || info->tgt_eos < 0)
        return tr_error_set(err, TR_ERR_CONFIG, "nmt_gru needs a target vocabulary with <s> and </s> (data.kind: word_pairs)");
    if (o[0].i < 1 || o[2].i < 1)
        return tr_error_set(err, TR_ERR_CONFIG, "hidden_units and attention_units must be >= 1");
    const tr_scorer *sc = tr_scorer_find(o[1].s);
    if (!sc) {
        const char *names[32];
        int k = tr_scorer_names(names, 32);
        char list[512] = "";
        for (int i = 0; i < k && i < 32; i++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", names[i]);
        }
        return tr_error_set(err, TR_ERR_CONFIG, "model.attention: no scorer '%s' (registered: %s)", o[1].s, list);
    }
    tr_model *m = calloc(1, sizeof *m);
    if (!m)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    m->Tx = info->src_len; m->Ty = info->tgt_len; m->Vs = info->src_vocab; m->Vt = info->tgt_vocab;
    m->H = (int)o[0].i; m->K = (int)o[2].i;
    m->pad_s = info->src_pad; m->pad_t = info->tgt_pad; m->bos = info->tgt_bos; m->eos = info->tgt_eos;
    m->scorer = sc;
    const int H = m->H;
    const tr_init glorot = {TR_INIT_GLOROT_UNIFORM, 0, 0}, ortho = {TR_INIT_ORTHOGONAL, 1, 0},
                  zeros = {TR_INIT_ZEROS, 0, 0};
    /* The input kernels are lookup tables (one-hot inputs). U(-1, 1) gives
     * them the spread an embedding N(0, 1) times a GRU input kernel has at
     * initialisation (std ~0.58); Glorot over [vocab, 3H] would start 10x
     * smaller and learn markedly slower. */
    const tr_init lookup_init = {TR_INIT_UNIFORM, -1.0f, 1.0f};
    tr_status s = tr_param_add(reg, "encoder.kernel", 2, (int[]){m->Vs, 3 * H}, lookup_init, &m->enc_k, err);
    if (!s) s = tr_param_add(reg, "encoder.recurrent_kernel", 2, (int[]){H, 3 * H}, ortho, &m->enc_r, err);
    if (!s) s = tr_param_add(reg, "encoder.bias", 1, (int[]){3 * H}, zeros, &m->enc_b, err);
    if (!s) s = tr_param_add(reg, "encoder.recurrent_bias", 1, (int[]){3 * H}, zeros, &m->enc_rb, err);
    if (!s) s = tr_param_add(reg, "decoder.kernel", 2, (int[]){m->Vt, 3 * H}, lookup_init, &m->dec_k, err);
    if (!s) s = tr_param_add(reg, "decoder.recurrent_kernel", 2, (int[]){H, 3 * H}, ortho, &m->dec_r, err);
    if (!s) s = tr_param_add(reg, "decoder.bias", 1, (int[]){3 * H}, zeros, &m->dec_b, err);
    if (!s) s = tr_param_add(reg, "decoder.recurrent_bias", 1, (int[]){3 * H}, zeros, &m->dec_rb, err);
    if (!s) s = sc->create(&m->sstate, reg, "attention", H, H, m->K, err);
    if (!s) s = tr_param_add(reg, "output.kernel", 2, (int[]){2 * H, m->Vt}, glorot, &m->out_k, err);
    if (!s) s = tr_param_add(reg, "output.bias", 1, (int[]){m->Vt}, zeros, &m->out_b, err);
    if (s) {
        if (m->sstate)
            sc->destroy(m->sstate);
        free(m);
        return s;
    }
    *out = m;
    return TR_OK;
}

static void destroy(tr_model *m)
{
    if (m && m->sstate)
        m->scorer->destroy(m->sstate);
    free(m);
}

static const tr_plugin descriptor = {
    .size = sizeof(tr_plugin),
    .abi_version = TR_ABI_VERSION,
    .name = "nmt_gru",
    .version = "0.1.0",
    .description = "GRU encoder-decoder with a registered attention scorer (Bahdanau by default)",
    .options = options,
    .n_options = (int)(sizeof options / sizeof options[0]),
    .attention_axes = "sample,target,source",
    .create = create,
    .destroy = destroy,
    .scratch_bytes = scratch_bytes,
    .train = train,
    .predict = predict,
    .score = score,
};

TR_PLUGIN_DEFINE(descriptor)

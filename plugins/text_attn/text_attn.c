/* plugins/text_attn/text_attn.c - the seed tutorial's text classifier: a
 * sentence -> one class, pooling an LSTM's states with attention.
 *
 *   x_t  = dropout(Embedding[src_t])                                [T,n,E]
 *   h_t  = LSTM(x; len)  (bidirectional: [h_fw, h_bw], d = 2 units)  [n,T,d]
 *   v    = pool(h)                                                  [n,d]
 *     attention, global: e_t = h_t.W + b_t  (the seed's layer; tanh(...) optional)
 *                        a = softmax over t < len of e;  v = sum_t a_t h_t
 *     attention, local (Luong's local-p): p = len sigmoid(vp . tanh(h_last Wp)),
 *                        a = the global scores times exp(-(t-p)^2 / 2 sigma^2),
 *                        sigma = D/2, renormalised over |t-p| <= D, t < len
 *                        (= a softmax there of e_t - (t-p)^2 / 2 sigma^2)
 *     last:              v = h_last = [h_fw at t = len-1, h_bw at t = 0]
 *     mean:              v = mean over t < len of h_t
 *   p(y) = softmax(dropout(v) Wo + bo);  loss = cross-entropy (label smoothing)
 *
 * Padding never enters: the LSTM runs over each sample's own length (the
 * reverse direction starts at its last real token) and the pooling weights
 * are exactly 0 past it, so the ids at padded positions change no bit.
 * Dropout masks are keyed by (the step's key, sample index, site, position). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "trainer/trainer.h"

enum { POOL_ATTENTION, POOL_LAST, POOL_MEAN };
enum { SITE_EMBEDDING, SITE_POOLED }; /* the dropout sites (tr_dropout_key) */
enum { O_EMBEDDING, O_UNITS, O_BIDIRECTIONAL, O_POOL, O_ATTENTION, O_TANH, O_WINDOW, O_DROPOUT, O_SMOOTHING };

typedef struct tr_model {
    int T, V, E, H, dirs, D, C;     /* src_len, vocab, embedding, units, directions, d = dirs H, classes */
    int pad, pool, local, window;   /* <pad> id; POOL_*; local-p attention; its half-width */
    tr_act score_act;               /* tanh or linear on h.W + b */
    float dropout, smoothing;
    size_t emb;                              /* [V,E] */
    tr_recurrent lstm[2];                    /* per direction, over x [T,n,E]: lstm.forward, lstm.backward */
    size_t att_W, att_b, att_Wp, att_vp;     /* [d,1], [T,1], [d,d], [d] */
    size_t out_k, out_b;                     /* [d,C], [C] */
} tr_model;

/* ---- scratch layout: one function computes it for sizing and for use */

typedef struct bufs {
    int32_t *tok, *len, *lo, *hi;           /* [T,n] time-major ids; [n] lengths, local windows [lo, hi] */
    uint64_t *keys;                         /* [T,n] dropout row keys */
    float *x, *xmask, *dx, *dxe;            /* [T,n,E] embeddings (dropped), mask, d(x), d(table rows) */
    tr_recurrent_cache rc[2];               /* per direction: .h [T,n,H], .dh and the caches */
    float *hs, *dhs;                        /* [n,T,d] the states, batch-major */
    float *e, *a, *de, *da, *dsc;           /* [n,T] act(h.W + b), weights; grads (dsc: the softmax input's) */
    float *hl, *u, *z, *sg, *p;             /* local: [n,d] h_last, tanh(h_last Wp); [n] u.vp, sigmoid, position */
    float *dhl, *du, *dpre, *dz, *dsg;      /* their gradients */
    float *v, *vd, *vmask, *dv, *dvd;       /* [n,d] pooled, dropped, mask; grads */
    float *logits, *probs, *dlogits;        /* [n,C] */
    size_t bytes;
} bufs;

static bufs layout(const tr_model *m, int n, void *base)
{
    bufs b;
    tr_arena a = {base, 0};
    const size_t N = (size_t)n, T = (size_t)m->T, D = (size_t)m->D;
    TR_TAKE(&a, b.tok, T * N);
    TR_TAKE(&a, b.keys, T * N);
    TR_TAKE(&a, b.len, N);
    TR_TAKE(&a, b.lo, N);
    TR_TAKE(&a, b.hi, N);
    tr_arena_floats(&a, T * N * (size_t)m->E, &b.x, &b.xmask, &b.dx, &b.dxe, NULL);
    for (int d = 0; d < m->dirs; d++)
        tr_recurrent_take(&b.rc[d], &a, &m->lstm[d], m->T, n);
    tr_arena_floats(&a, N * T * D, &b.hs, &b.dhs, NULL);
    tr_arena_floats(&a, N * T, &b.e, &b.a, &b.de, &b.da, &b.dsc, NULL);
    tr_arena_floats(&a, N * D, &b.hl, &b.u, &b.dhl, &b.du, &b.dpre, &b.v, &b.vd, &b.vmask, &b.dv, &b.dvd, NULL);
    tr_arena_floats(&a, N, &b.z, &b.sg, &b.p, &b.dz, &b.dsg, NULL);
    tr_arena_floats(&a, N * (size_t)m->C, &b.logits, &b.probs, &b.dlogits, NULL);
    b.bytes = a.used;
    return b;
}

static size_t scratch_bytes(const tr_model *m, int n) { return layout(m, n, NULL).bytes; }

#define ZERO(ptr, count) memset(ptr, 0, (size_t)(count) * sizeof *(ptr))

/* ---- pieces of the pooling */

/* hl[n,d] = [h_fw at len-1, h_bw at 0] (zeros for an empty sample) */
static void last_forward(const tr_model *m, const bufs *b, int n, float *hl)
{
    const size_t T = (size_t)m->T, D = (size_t)m->D, H = (size_t)m->H;
    ZERO(hl, (size_t)n * D);
    for (size_t i = 0; i < (size_t)n; i++)
        if (b->len[i] > 0) {
            memcpy(hl + i * D, b->hs + (i * T + (size_t)b->len[i] - 1) * D, H * sizeof *hl);
            if (m->dirs == 2)
                memcpy(hl + i * D + H, b->hs + i * T * D + H, H * sizeof *hl);
        }
}

/* dhs[n,T,d] += the gradient dhl[n,d] of h_last sent to its positions */
static void last_backward(const tr_model *m, bufs *b, int n, const float *dhl)
{
    const size_t T = (size_t)m->T, D = (size_t)m->D, H = (size_t)m->H;
    for (size_t i = 0; i < (size_t)n; i++)
        if (b->len[i] > 0) {
            tr_add_inplace(b->dhs + (i * T + (size_t)b->len[i] - 1) * D, dhl + i * D, (long)H);
            if (m->dirs == 2)
                tr_add_inplace(b->dhs + i * T * D + H, dhl + i * D + H, (long)H);
        }
}

/* a[n,T]: the attention weights over hs */
static void attend(const tr_model *m, const float *P, bufs *b, int n)
{
    const int T = m->T, D = m->D;
    /* e[n,T] = act(hs . W + b_t) */
    tr_dense_forward(b->e, b->hs, P + m->att_W, NULL, n * T, D, 1);
    for (int i = 0; i < n; i++)
        tr_add_inplace(b->e + (size_t)i * T, P + m->att_b, T);
    tr_act_forward(b->e, b->e, n * T, m->score_act);
    if (!m->local) {
        tr_softmax_len_forward(b->a, b->e, b->len, n, T, 1); /* a = 0 at t >= len */
        return;
    }
    /* p[n] = len . sigmoid(tanh(h_last . Wp) . vp) */
    last_forward(m, b, n, b->hl);
    tr_dense_forward(b->u, b->hl, P + m->att_Wp, NULL, n, D, D);
    tr_act_forward(b->u, b->u, n * D, TR_ACT_TANH);
    tr_dense_forward(b->z, b->u, P + m->att_vp, NULL, n, D, 1);
    tr_act_forward(b->sg, b->z, n, TR_ACT_SIGMOID);
    const float sigma2 = (m->window / 2.0f) * (m->window / 2.0f);
    for (int i = 0; i < n; i++) {
        const float p = b->p[i] = (float)b->len[i] * b->sg[i];
        const int lo = b->lo[i] = (int)fmaxf(0.0f, ceilf(p - (float)m->window));
        const int hi = b->hi[i] = (int)fminf((float)(b->len[i] - 1), floorf(p + (float)m->window));
        float *a = b->a + (size_t)i * T;
        const float *e = b->e + (size_t)i * T;
        ZERO(a, T);
        for (int t = lo; t <= hi; t++)
            a[t] = e[t] - ((float)t - p) * ((float)t - p) / (2.0f * sigma2);
        if (hi >= lo) /* a over the window = softmax of the Gaussian-weighted scores */
            tr_softmax_len_forward(a + lo, a + lo, NULL, 1, hi - lo + 1, 1);
    }
}

/* from da[n,T] (dloss/da): dhs += ..., and the attention's parameter grads */
static void attend_backward(const tr_model *m, const float *P, float *G, bufs *b, int n)
{
    const int T = m->T, D = m->D;
    ZERO(b->dsc, (size_t)n * T);
    if (!m->local) {
        tr_softmax_len_backward(b->dsc, b->da, b->a, b->len, n, T, 1);
    } else {
        const float sigma2 = (m->window / 2.0f) * (m->window / 2.0f);
        for (int i = 0; i < n; i++) {
            const int lo = b->lo[i], hi = b->hi[i];
            float *dsc = b->dsc + (size_t)i * T;
            b->dsg[i] = 0.0f;
            if (hi < lo)
                continue;
            tr_softmax_len_backward(dsc + lo, b->da + (size_t)i * T + lo, b->a + (size_t)i * T + lo, NULL, 1,
                                    hi - lo + 1, 1);
            /* sc_t = e_t - (t-p)^2 / 2 sigma^2: dp = sum_t dsc_t (t-p) / sigma^2; p = len . sg */
            double dp = 0.0;
            for (int t = lo; t <= hi; t++)
                dp += (double)dsc[t] * ((float)t - b->p[i]) / sigma2;
            b->dsg[i] = (float)(dp * b->len[i]);
        }
        ZERO(b->dz, n); ZERO(b->du, (size_t)n * D); ZERO(b->dpre, (size_t)n * D); ZERO(b->dhl, (size_t)n * D);
        tr_act_backward(b->dz, b->dsg, b->sg, n, TR_ACT_SIGMOID);
        tr_dense_backward(b->du, G + m->att_vp, NULL, b->dz, b->u, P + m->att_vp, n, D, 1);
        tr_act_backward(b->dpre, b->du, b->u, n * D, TR_ACT_TANH);
        tr_dense_backward(b->dhl, G + m->att_Wp, NULL, b->dpre, b->hl, P + m->att_Wp, n, D, D);
        last_backward(m, b, n, b->dhl);
    }
    ZERO(b->de, (size_t)n * T);
    tr_act_backward(b->de, b->dsc, b->e, n * T, m->score_act);
    for (int i = 0; i < n; i++)
        tr_add_inplace(G + m->att_b, b->de + (size_t)i * T, T);
    tr_dense_backward(b->dhs, G + m->att_W, NULL, b->de, b->hs, P + m->att_W, n * T, D, 1);
}

/* ---- the model */

static int dropping(const tr_model *m, const tr_batch *bt)
{
    return m->dropout > 0.0f && TR_HAS_FIELD(bt, tr_batch, training) && bt->training;
}

/* Fills the caches; returns the summed loss when tgt is given (probs either way). */
static double forward(const tr_model *m, const float *P, bufs *b, const tr_batch *bt, const int32_t *tgt, int drop)
{
    const int n = bt->n, T = m->T, E = m->E, H = m->H, D = m->D, C = m->C;
    const int have_len = TR_HAS_FIELD(bt, tr_batch, src_lengths) && bt->src_lengths;
    for (int i = 0; i < n; i++) {
        int l = T;
        if (have_len)
            l = bt->src_lengths[i] < 0 ? 0 : bt->src_lengths[i] > T ? T : bt->src_lengths[i];
        else /* no lengths from the core: post-padding */
            while (l > 0 && bt->src[(size_t)i * T + l - 1] == m->pad)
                l--;
        b->len[i] = l;
    }
    tr_tokens_time_major(b->tok, bt->src, n, T);
    /* x = dropout(embedding[tok])                                   [T,n,E] */
    tr_embedding_forward(b->x, b->tok, P + m->emb, T * n, E);
    if (drop) {
        for (int t = 0; t < T; t++)
            for (int i = 0; i < n; i++)
                b->keys[(size_t)t * n + i] = tr_dropout_key(bt->key, bt->index[i], SITE_EMBEDDING, (uint32_t)t);
        tr_dropout_forward(b->x, b->xmask, b->x, b->keys, m->dropout, T * n, E);
    }
    /* h_d = LSTM_d(x; len), hs[i,t] = [h_fw[t,i], h_bw[t,i]]       [T,n,H] -> [n,T,d] */
    for (int d = 0; d < m->dirs; d++) {
        tr_recurrent_forward(&m->lstm[d], P, &b->rc[d], b->x, NULL, NULL, b->len, T, n);
        tr_swap_batch_time(b->hs + (size_t)d * H, D, b->rc[d].h, H, T, n, H);
    }
    /* v = pool(hs)                                                   [n,d] */
    if (m->pool == POOL_LAST) {
        last_forward(m, b, n, b->v);
    } else {
        if (m->pool == POOL_ATTENTION)
            attend(m, P, b, n);
        else /* mean: uniform weights over the real positions */
            for (int i = 0; i < n; i++)
                for (int t = 0; t < T; t++)
                    b->a[(size_t)i * T + t] = t < b->len[i] ? 1.0f / (float)b->len[i] : 0.0f;
        for (size_t i = 0; i < (size_t)n; i++) /* v_i[1,d] = a_i[1,T] . hs_i[T,d] */
            tr_dense_forward(b->v + i * D, b->a + i * T, b->hs + i * T * D, NULL, 1, T, D);
    }
    /* logits = dropout(v) . Wo + bo                                  [n,C] */
    if (drop) {
        for (int i = 0; i < n; i++)
            b->keys[i] = tr_dropout_key(bt->key, bt->index[i], SITE_POOLED, 0);
        tr_dropout_forward(b->vd, b->vmask, b->v, b->keys, m->dropout, n, D);
    }
    tr_dense_forward(b->logits, drop ? b->vd : b->v, P + m->out_k, P + m->out_b, n, D, C);
    if (!tgt) {
        tr_softmax_forward(b->probs, b->logits, n, C, 1);
        return 0.0;
    }
    return tr_softmax_xent_smooth_forward(b->probs, b->logits, tgt, m->smoothing, n, C);
}

static tr_status train(const tr_model *m, const float *P, float *G, void *scratch, const tr_batch *bt, double *loss,
                       tr_error *err)
{
    const int n = bt->n, T = m->T, E = m->E, H = m->H, D = m->D, C = m->C, drop = dropping(m, bt);
    if (drop && !bt->index)
        return tr_error_set(err, TR_ERR_MODEL, "text_attn: dropout needs the samples' indices (tr_batch.index)");
    bufs b = layout(m, n, scratch);
    *loss = forward(m, P, &b, bt, bt->tgt, drop);

    /* output layer, pooled dropout                                   dv [n,d] */
    ZERO(b.dlogits, (size_t)n * C); ZERO(b.dv, (size_t)n * D); ZERO(b.dvd, (size_t)n * D);
    tr_softmax_xent_smooth_backward(b.dlogits, b.probs, bt->tgt, m->smoothing, 1.0f, n, C);
    tr_dense_backward(drop ? b.dvd : b.dv, G + m->out_k, G + m->out_b, b.dlogits, drop ? b.vd : b.v, P + m->out_k, n,
                      D, C);
    if (drop)
        tr_dropout_backward(b.dv, b.dvd, b.vmask, n, D);
    /* pooling                                                        dhs [n,T,d] */
    ZERO(b.dhs, (size_t)n * T * D);
    if (m->pool == POOL_LAST) {
        last_backward(m, &b, n, b.dv);
    } else {
        const int att = m->pool == POOL_ATTENTION;
        ZERO(b.da, (size_t)n * T);
        for (size_t i = 0; i < (size_t)n; i++)
            tr_dense_backward(att ? b.da + i * T : NULL, b.dhs + i * T * D, NULL, b.dv + i * D, b.a + i * T,
                              b.hs + i * T * D, 1, T, D);
        if (att)
            attend_backward(m, P, G, &b, n);
    }
    /* LSTMs, input kernels                                           dx [T,n,E] */
    ZERO(b.dx, (size_t)T * n * E);
    for (int d = 0; d < m->dirs; d++) {
        tr_swap_batch_time(b.rc[d].dh, H, b.dhs + (size_t)d * H, D, n, T, H);
        tr_recurrent_backward(&m->lstm[d], P, G, &b.rc[d], b.rc[d].dh, b.dx, NULL);
    }
    /* embedding dropout, table */
    if (drop) {
        ZERO(b.dxe, (size_t)T * n * E);
        tr_dropout_backward(b.dxe, b.dx, b.xmask, T * n, E);
    }
    tr_embedding_backward(G + m->emb, drop ? b.dxe : b.dx, b.tok, T * n, E);
    return TR_OK;
}

static tr_status predict(const tr_model *m, const float *P, void *scratch, const tr_batch *bt, tr_prediction *out,
                         tr_error *err)
{
    (void)err;
    const int n = bt->n, T = m->T, C = m->C;
    bufs b = layout(m, n, scratch);
    forward(m, P, &b, bt, NULL, 0);
    float *probs = TR_HAS_FIELD(out, tr_prediction, probs) ? out->probs : NULL;
    if (out->tokens)
        tr_argmax_rows(out->tokens, 1, b.probs, n, C);
    if (probs)
        memcpy(probs, b.probs, (size_t)n * C * sizeof *probs);
    for (size_t i = 0; i < (size_t)n; i++) {
        if (!out->attention)
            continue;
        float *att = out->attention + i * T; /* [n, 1, T] */
        if (m->pool != POOL_LAST) {
            memcpy(att, b.a + i * T, (size_t)T * sizeof *att);
        } else { /* the positions of the final states, each direction's share */
            ZERO(att, T);
            if (b.len[i] > 0) {
                att[b.len[i] - 1] += 1.0f / (float)m->dirs;
                if (m->dirs == 2)
                    att[0] += 0.5f;
            }
        }
    }
    return TR_OK;
}

/* ---- create / destroy */

static const tr_option_spec options[] = {
    {"embedding", TR_OPT_INT, "100", "[1,)", "embedding size"},
    {"units", TR_OPT_INT, "100", "[1,)", "LSTM units (each way when bidirectional)"},
    {"bidirectional", TR_OPT_BOOL, "false", NULL, "also an LSTM right to left, the states concatenated"},
    {"pool", TR_OPT_ENUM, "attention", "attention|last|mean", "how the LSTM's states become one vector"},
    {"attention", TR_OPT_ENUM, "global", "global|local",
     "pool attention over every real position, or Luong's local-p window"},
    {"attention_tanh", TR_OPT_BOOL, "false", NULL, "scores e_t = h_t.W + b_t as the seed's layer; true: tanh(h_t.W + b_t)"},
    {"window", TR_OPT_INT, "5", "[1,)", "local attention: half-width D of the window (sigma = D/2)"},
    {"dropout", TR_OPT_FLOAT, "0", "[0, 1)", "dropout rate on the embeddings and on the pooled vector"},
    {"label_smoothing", TR_OPT_FLOAT, "0", "[0, 1)", "share of the target spread over all classes (PyTorch's)"},
};

static tr_status create(tr_model **out, tr_registry *reg, const tr_model_info *info, tr_error *err)
{
    const tr_option_value *o = info->options;
    if (!TR_HAS_FIELD(info, tr_model_info, src_unk))
        return tr_error_set(err, TR_ERR_CONFIG,
                            "needs a trainer with plugin ABI 1.4 (labelled text)");
    if (info->task != TR_TASK_CLASSIFY)
        return tr_error_set(err, TR_ERR_CONFIG, "it classifies: data.kind must be text_labels, got a sequence task");
    if (info->in_channels > 0 || info->src_vocab < 1 || info->src_len < 1)
        return tr_error_set(err, TR_ERR_CONFIG, "it reads token ids: data.kind must be text_labels, got %s",
                            info->in_channels > 0 ? "images" : "no source tokens");
    if (info->n_classes < 2)
        return tr_error_set(err, TR_ERR_CONFIG, "it needs at least 2 classes, got %d", info->n_classes);
    if (o[O_ATTENTION].i == 1 && o[O_POOL].i != POOL_ATTENTION)
        return tr_error_set(err, TR_ERR_CONFIG, "attention: local needs pool: attention, got pool: %s", o[O_POOL].s);
    tr_model *m = calloc(1, sizeof *m);
    if (!m)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    m->T = info->src_len; m->V = info->src_vocab; m->C = info->n_classes; m->pad = info->src_pad;
    m->E = (int)o[O_EMBEDDING].i; m->H = (int)o[O_UNITS].i; m->dirs = o[O_BIDIRECTIONAL].i ? 2 : 1;
    m->D = m->dirs * m->H;
    m->pool = (int)o[O_POOL].i; m->local = o[O_ATTENTION].i == 1; m->window = (int)o[O_WINDOW].i;
    m->score_act = o[O_TANH].i ? TR_ACT_TANH : TR_ACT_LINEAR;
    m->dropout = (float)o[O_DROPOUT].f; m->smoothing = (float)o[O_SMOOTHING].f;
    const int E = m->E, H = m->H, D = m->D;
    const tr_init glorot = {TR_INIT_GLOROT_UNIFORM, 0, 0}, zeros = {TR_INIT_ZEROS, 0, 0},
                  emb = {TR_INIT_UNIFORM, -0.05f, 0.05f};
    /* a step touches a few of its rows: reduced row by row */
    tr_status s = tr_param_add_lookup(reg, "embedding", 2, (int[]){m->V, E}, emb, &m->emb, err);
    for (int d = 0; d < m->dirs && !s; d++) { /* Glorot, orthogonal, forget-gate bias 1 */
        s = tr_recurrent_add(&m->lstm[d], reg, d ? "lstm.backward" : "lstm.forward", TR_CELL_LSTM, E, 0, H, NULL, err);
        m->lstm[d].reverse = d;
    }
    if (m->pool == POOL_ATTENTION) {
        if (!s) s = tr_param_add(reg, "attention.W", 2, (int[]){D, 1}, glorot, &m->att_W, err);
        if (!s) s = tr_param_add(reg, "attention.b", 2, (int[]){m->T, 1}, zeros, &m->att_b, err);
    }
    if (m->local) {
        if (!s) s = tr_param_add(reg, "attention.Wp", 2, (int[]){D, D}, glorot, &m->att_Wp, err);
        if (!s) s = tr_param_add(reg, "attention.vp", 1, (int[]){D}, glorot, &m->att_vp, err);
    }
    if (!s) s = tr_param_add(reg, "output.kernel", 2, (int[]){D, m->C}, glorot, &m->out_k, err);
    if (!s) s = tr_param_add(reg, "output.bias", 1, (int[]){m->C}, zeros, &m->out_b, err);
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
    .name = "text_attn",
    .version = "1.0.0",
    .description = "Embedding + (Bi)LSTM + attention pooling (global or local-p; or last/mean) text classifier",
    .options = options,
    .n_options = (int)(sizeof options / sizeof options[0]),
    .attention_axes = "sample,output,source",
    .create = create,
    .destroy = destroy,
    .scratch_bytes = scratch_bytes,
    .train = train,
    .predict = predict,
    .score = NULL,
};

TR_PLUGIN_DEFINE(descriptor)

/* plugins/transformer/transformer.c - a Transformer encoder over token ids
 * (Vaswani et al.; PyTorch's nn.TransformerEncoder), for model.task:
 * classify. Rows are batch-major [n,T,D], N = n T of them.
 *
 *   x_0 = dropout(E[src] sqrt(D) + PE)               sinusoidal or learned PE
 *   per layer, post-norm (the paper's) or pre-norm:
 *     a   = MHA(x Wq, x Wk, x Wv) Wo                  heads side by side, padding masked,
 *                                                     dropout on the weights
 *     x'  = LN1(x + dropout(a))                       pre-norm: x + dropout(MHA(LN1 x))
 *     x'' = LN2(x' + dropout(FFN(x')))                pre-norm: x' + dropout(FFN(LN2 x'))
 *   z = LN(x_L)                                       the stack's final norm
 *   v = mean of z over the real tokens, or z at the first; p = softmax(v Wc + bc)
 *
 * Dropout masks are keyed by (the step's key, sample index, site, position),
 * the attention weights' by (sample key, head, query, key). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "trainer/trainer.h"

enum { MAX_LAYERS = 16 };
enum { O_TASK, O_DMODEL, O_HEADS, O_LAYERS, O_FF, O_ACT, O_DROPOUT, O_POS, O_NORM, O_POOL, O_SMOOTH };

typedef struct layer {
    size_t q, bq, k, bk, v, bv, o, bo;   /* [D,D] [D] each */
    size_t g1, b1, g2, b2;               /* norms' gamma, beta [D] */
    size_t w1, c1, w2, c2;               /* FFN [D,F] [F] [F,D] [D] */
} layer;

typedef struct tr_model {
    int T, V, C, D, H, L, F, gelu, pre_norm, first, learned;
    float drop, smoothing;
    size_t emb, pos, gf, bf, out_k, out_b; /* [V,D] [T,D] [D] [D] [D,C] [C] */
    layer ly[MAX_LAYERS];
    char map_names[MAX_LAYERS][32];        /* "layer1/self_attention", ... */
} tr_model;

/* per layer, what backward reads */
typedef struct cache {
    float *x, *n1, *q, *k, *v, *a, *ao, *r1, *y, *n2, *pre, *hid, *f, *r2; /* [N,D] ([N,F]: pre, hid) */
    float *m1, *s1, *m2, *s2, *lse;                                        /* [N] x4, [n,H,T] */
    float *dmask_a, *dmask_f;                                              /* [N,D] dropout masks */
} cache;

typedef struct bufs {
    int32_t *len;
    uint64_t *rowkeys, *keys;     /* [N], [n] */
    float *x0, *xmask;            /* [N,D] embedded input, its dropout mask */
    cache c[MAX_LAYERS];
    float *z, *mf, *sf, *v, *logits, *probs, *alpha; /* [N,D] [N] [N] [n,D] [n,C] x2 [n,H,T,T] */
    float *d1, *d2, *d3, *dq, *dk, *dv, *dh, *dp;    /* gradients [N,D] x6, [N,F] x2 */
    size_t bytes;
} bufs;

static bufs layout(const tr_model *m, int n, void *base)
{
    bufs b;
    tr_arena a = {base, 0};
    const size_t N = (size_t)n * m->T, ND = N * m->D, NF = N * m->F;
    TR_TAKE(&a, b.len, (size_t)n);
    TR_TAKE(&a, b.rowkeys, N);
    TR_TAKE(&a, b.keys, (size_t)n);
    tr_arena_floats(&a, ND, &b.x0, &b.xmask, NULL);
    for (int l = 0; l < m->L; l++) {
        cache *c = &b.c[l];
        tr_arena_floats(&a, ND, &c->x, &c->n1, &c->q, &c->k, &c->v, &c->a, &c->ao, &c->r1, &c->y, &c->n2, &c->f,
                        &c->r2, &c->dmask_a, &c->dmask_f, NULL);
        tr_arena_floats(&a, NF, &c->pre, &c->hid, NULL);
        tr_arena_floats(&a, N, &c->m1, &c->s1, &c->m2, &c->s2, NULL);
        tr_arena_floats(&a, (size_t)n * m->H * m->T, &c->lse, NULL);
    }
    tr_arena_floats(&a, ND, &b.z, &b.d1, &b.d2, &b.d3, &b.dq, &b.dk, &b.dv, NULL);
    tr_arena_floats(&a, NF, &b.dh, &b.dp, NULL);
    tr_arena_floats(&a, N, &b.mf, &b.sf, NULL);
    tr_arena_floats(&a, (size_t)n * m->D, &b.v, NULL);
    tr_arena_floats(&a, (size_t)n * m->C, &b.logits, &b.probs, NULL);
    tr_arena_floats(&a, (size_t)n * m->H * m->T * m->T, &b.alpha, NULL);
    b.bytes = a.used;
    return b;
}

static size_t scratch_bytes(const tr_model *m, int n) { return layout(m, n, NULL).bytes; }

#define ZERO(p, count) memset(p, 0, (size_t)(count) * sizeof *(p))

/* y = dropout(x) with the rows' keys of `site` (identity when not dropping) */
static void drop_rows(const tr_model *m, bufs *b, const tr_batch *bt, int drop, uint32_t site, float *y,
                      float *mask, const float *x, int n)
{
    const int T = m->T;
    if (!drop) {
        if (y != x)
            memcpy(y, x, (size_t)n * T * m->D * sizeof *y);
        return;
    }
    for (int i = 0; i < n * T; i++)
        b->rowkeys[i] = tr_dropout_key(bt->key, bt->index[i / T], site, (uint32_t)(i % T));
    tr_dropout_forward(y, mask, x, b->rowkeys, m->drop, n * T, m->D);
}

/* each sample's key for layer l's attention weights */
static void attn_keys(bufs *b, const tr_batch *bt, int l, int drop)
{
    for (int i = 0; drop && i < bt->n; i++)
        b->keys[i] = tr_dropout_key(bt->key, bt->index[i], 1000 + (uint32_t)l, 0);
}

/* The stack over bt's tokens: z [N,D]; caches for backward. */
static void encode(const tr_model *m, const float *P, bufs *b, const tr_batch *bt, int drop)
{
    const int n = bt->n, T = m->T, D = m->D, N = n * T;
    const int have_len = TR_HAS_FIELD(bt, tr_batch, src_lengths) && bt->src_lengths;
    for (int i = 0; i < n; i++)
        b->len[i] = have_len ? (bt->src_lengths[i] < 0 ? 0 : bt->src_lengths[i] > T ? T : bt->src_lengths[i]) : T;
    tr_embedding_forward(b->x0, bt->src, P + m->emb, N, D);
    for (size_t i = 0; i < (size_t)N * D; i++)
        b->x0[i] *= sqrtf((float)D);
    if (m->learned)
        tr_positions_forward(b->x0, P + m->pos, n, T, D, 0);
    else
        tr_sinusoid_add(b->x0, n, T, D, 0);
    const float *x = b->x0;
    drop_rows(m, b, bt, drop, 0, b->c[0].x, b->xmask, x, n);
    for (int l = 0; l < m->L; l++) {
        const layer *w = &m->ly[l];
        cache *c = &b->c[l];
        /* attention sub-layer */
        const float *in = c->x;
        if (m->pre_norm) {
            tr_layernorm_forward(c->n1, c->m1, c->s1, c->x, P + w->g1, P + w->b1, 1e-5f, N, D);
            in = c->n1;
        }
        tr_dense_forward(c->q, in, P + w->q, P + w->bq, N, D, D);
        tr_dense_forward(c->k, in, P + w->k, P + w->bk, N, D, D);
        tr_dense_forward(c->v, in, P + w->v, P + w->bv, N, D, D);
        attn_keys(b, bt, l, drop);
        tr_mha_forward(c->a, c->lse, c->q, c->k, c->v, b->len, 0, drop ? b->keys : NULL, m->drop, n, T, T, m->H,
                       D / m->H);
        tr_dense_forward(c->ao, c->a, P + w->o, P + w->bo, N, D, D);
        drop_rows(m, b, bt, drop, 1 + 3 * (uint32_t)l, c->r1, c->dmask_a, c->ao, n);
        tr_add_inplace(c->r1, c->x, (long)N * D);
        if (m->pre_norm) {
            memcpy(c->y, c->r1, (size_t)N * D * sizeof(float));
            tr_layernorm_forward(c->n2, c->m2, c->s2, c->y, P + w->g2, P + w->b2, 1e-5f, N, D);
            in = c->n2;
        } else {
            tr_layernorm_forward(c->y, c->m1, c->s1, c->r1, P + w->g1, P + w->b1, 1e-5f, N, D);
            in = c->y;
        }
        /* feed-forward sub-layer */
        tr_ffn_forward(c->f, c->hid, c->pre, in, P + w->w1, P + w->c1, P + w->w2, P + w->c2, m->gelu, N, D, m->F);
        drop_rows(m, b, bt, drop, 2 + 3 * (uint32_t)l, c->r2, c->dmask_f, c->f, n);
        tr_add_inplace(c->r2, c->y, (long)N * D);
        float *next = l + 1 < m->L ? b->c[l + 1].x : b->z;
        if (m->pre_norm)
            memcpy(next, c->r2, (size_t)N * D * sizeof(float));
        else
            tr_layernorm_forward(next, c->m2, c->s2, c->r2, P + w->g2, P + w->b2, 1e-5f, N, D);
    }
    /* the stack's final norm, in place over its input kept in d3 */
    memcpy(b->d3, b->z, (size_t)N * D * sizeof(float));
    tr_layernorm_forward(b->z, b->mf, b->sf, b->d3, P + m->gf, P + m->bf, 1e-5f, N, D);
    /* pooling */
    ZERO(b->v, n * D);
    for (int i = 0; i < n; i++) {
        const int cnt = m->first ? (b->len[i] > 0) : b->len[i];
        for (int t = 0; t < cnt; t++)
            for (int d = 0; d < D; d++)
                b->v[(size_t)i * D + d] += b->z[((size_t)i * T + t) * D + d] / (float)cnt;
    }
    tr_dense_forward(b->logits, b->v, P + m->out_k, P + m->out_b, n, D, m->C);
}

/* dx[N,D] = d(dropout(x)) backwards from dy: through the mask, or a copy */
static void undrop(float *dx, const float *dy, const float *mask, int drop, int N, int D)
{
    if (!drop) {
        memcpy(dx, dy, (size_t)N * D * sizeof *dx);
        return;
    }
    ZERO(dx, N * D);
    tr_dropout_backward(dx, dy, mask, N, D);
}

/* dx = d(LN(x)) backwards from dy (and LN's gamma, beta), or a copy where
 * the residual sum is not normalised (pre-norm) */
static void unnorm(float *dx, float *dg, float *db, const float *dy, int copy, const float *x, const float *mean,
                   const float *rstd, const float *gamma, int N, int D)
{
    if (copy) {
        memcpy(dx, dy, (size_t)N * D * sizeof *dx);
        return;
    }
    ZERO(dx, N * D);
    tr_layernorm_backward(dx, dg, db, dy, x, mean, rstd, gamma, N, D);
}

/* Forward, then backward layer by layer: each sub-layer's residual sum
 * passes its gradient both ways (the branch and the skip). */
static tr_status train(const tr_model *m, const float *P, float *G, void *scratch, const tr_batch *bt, double *loss,
                       tr_error *err)
{
    const int n = bt->n, T = m->T, D = m->D, N = n * T, F = m->F;
    const int drop = m->drop > 0.0f && TR_HAS_FIELD(bt, tr_batch, training) && bt->training;
    if (drop && !bt->index)
        return tr_error_set(err, TR_ERR_MODEL, "transformer: dropout needs the samples' indices (tr_batch.index)");
    bufs b = layout(m, n, scratch);
    encode(m, P, &b, bt, drop);
    *loss = tr_softmax_xent_smooth_forward(b.probs, b.logits, bt->tgt, m->smoothing, n, m->C);

    /* output layer and pooling: d1 = dz */
    float *dlog = b.logits;
    ZERO(dlog, n * m->C);
    tr_softmax_xent_smooth_backward(dlog, b.probs, bt->tgt, m->smoothing, 1.0f, n, m->C);
    float *dv = b.dq; /* [n,D] */
    ZERO(dv, n * D);
    tr_dense_backward(dv, G + m->out_k, G + m->out_b, dlog, b.v, P + m->out_k, n, D, m->C);
    ZERO(b.d1, N * D);
    for (int i = 0; i < n; i++) {
        const int cnt = m->first ? (b.len[i] > 0) : b.len[i];
        for (int t = 0; t < cnt; t++)
            for (int d = 0; d < D; d++)
                b.d1[((size_t)i * T + t) * D + d] = dv[(size_t)i * D + d] / (float)cnt;
    }
    /* final norm: d2 = d(its input) */
    ZERO(b.d2, N * D);
    tr_layernorm_backward(b.d2, G + m->gf, G + m->bf, b.d1, b.d3, b.mf, b.sf, P + m->gf, N, D);
    float *dnext = b.d2, *tmp = b.d1, *acc = b.d3; /* dnext: d(the layer's output) */
    for (int l = m->L - 1; l >= 0; l--) {
        const layer *w = &m->ly[l];
        cache *c = &b.c[l];
        /* d r2 */
        float *dr2 = tmp;
        unnorm(dr2, G + w->g2, G + w->b2, dnext, m->pre_norm, c->r2, c->m2, c->s2, P + w->g2, N, D);
        /* the FFN branch: d f = dropout'(d r2); d(its input) */
        float *df = b.dv, *din = b.dk;
        undrop(df, dr2, c->dmask_f, drop, N, D);
        ZERO(din, N * D);
        tr_ffn_backward(din, G + w->w1, G + w->c1, G + w->w2, G + w->c2, b.dh, b.dp, df,
                        m->pre_norm ? c->n2 : c->y, c->pre, c->hid, P + w->w1, P + w->w2, m->gelu, N, D, F);
        /* d y = d r2 (residual) + the FFN input's (pre-norm: through LN2) */
        float *dy = acc;
        memcpy(dy, dr2, (size_t)N * D * sizeof(float));
        if (m->pre_norm)
            tr_layernorm_backward(dy, G + w->g2, G + w->b2, din, c->y, c->m2, c->s2, P + w->g2, N, D);
        else
            tr_add_inplace(dy, din, (long)N * D);
        /* d r1 */
        float *dr1 = tmp;
        unnorm(dr1, G + w->g1, G + w->b1, dy, m->pre_norm, c->r1, c->m1, c->s1, P + w->g1, N, D);
        /* the attention branch */
        float *dao = b.dv, *da = din;
        undrop(dao, dr1, c->dmask_a, drop, N, D);
        ZERO(da, N * D);
        tr_dense_backward(da, G + w->o, G + w->bo, dao, c->a, P + w->o, N, D, D);
        float *dq = b.dq, *dk = b.dv, *dvbuf = b.z; /* dao and z are no longer needed */
        float *dxin = dnext;                         /* d(the attention's input) */
        ZERO(dq, N * D);
        ZERO(dk, N * D);
        ZERO(dvbuf, N * D);
        attn_keys(&b, bt, l, drop);
        tr_mha_backward(dq, dk, dvbuf, da, c->a, c->lse, c->q, c->k, c->v, b.len, 0, drop ? b.keys : NULL, m->drop, n,
                        T, T, m->H, D / m->H);
        ZERO(dxin, N * D);
        const float *in = m->pre_norm ? c->n1 : c->x;
        tr_dense_backward(dxin, G + w->q, G + w->bq, dq, in, P + w->q, N, D, D);
        tr_dense_backward(dxin, G + w->k, G + w->bk, dk, in, P + w->k, N, D, D);
        tr_dense_backward(dxin, G + w->v, G + w->bv, dvbuf, in, P + w->v, N, D, D);
        /* d x = d r1 (residual) + the attention input's (pre-norm: through LN1) */
        float *dx = acc;
        memcpy(dx, dr1, (size_t)N * D * sizeof(float));
        if (m->pre_norm)
            tr_layernorm_backward(dx, G + w->g1, G + w->b1, dxin, c->x, c->m1, c->s1, P + w->g1, N, D);
        else
            tr_add_inplace(dx, dxin, (long)N * D);
        memcpy(dnext, dx, (size_t)N * D * sizeof(float));
    }
    /* the input: dropout, positions, the scaled embedding */
    float *dx0 = tmp;
    undrop(dx0, dnext, b.xmask, drop, N, D);
    if (m->learned)
        tr_positions_backward(G + m->pos, dx0, n, T, D, 0);
    for (size_t i = 0; i < (size_t)N * D; i++)
        dx0[i] *= sqrtf((float)D);
    tr_embedding_backward(G + m->emb, dx0, bt->src, N, D);
    return TR_OK;
}

/* Classes, their probabilities, each layer's self-attention (every head,
 * as the maps "layerL/self_attention"), and as the attention map [n, 1, T]
 * the last layer's self-attention received by each token: averaged over
 * heads and over the real queries (what the pooled tokens looked at). */
static tr_status predict(const tr_model *m, const float *P, void *scratch, const tr_batch *bt, tr_prediction *out,
                         tr_error *err)
{
    (void)err;
    const int n = bt->n, T = m->T, C = m->C, H = m->H, D = m->D;
    bufs b = layout(m, n, scratch);
    encode(m, P, &b, bt, 0);
    tr_softmax_forward(b.probs, b.logits, n, C, 1);
    if (out->tokens)
        tr_argmax_rows(out->tokens, 1, b.probs, n, C);
    if (TR_HAS_FIELD(out, tr_prediction, probs) && out->probs)
        memcpy(out->probs, b.probs, (size_t)n * C * sizeof(float));
    /* each layer's self-attention, every head: the maps [n, H, T, T] */
    float **maps = TR_HAS_FIELD(out, tr_prediction, maps) ? out->maps : NULL;
    for (int l = 0; maps && l < m->L; l++)
        if (maps[l])
            tr_mha_weights(maps[l], b.c[l].q, b.c[l].k, b.c[l].lse, b.len, 0, n, T, T, H, D / H);
    if (!out->attention)
        return TR_OK;
    const cache *c = &b.c[m->L - 1];
    tr_mha_weights(b.alpha, c->q, c->k, c->lse, b.len, 0, n, T, T, H, D / H);
    for (int i = 0; i < n; i++) {
        float *a = out->attention + (size_t)i * T;
        ZERO(a, T);
        for (int h = 0; h < H; h++)
            for (int q = 0; q < b.len[i]; q++)
                for (int t = 0; t < T; t++)
                    a[t] += b.alpha[(((size_t)i * H + h) * T + q) * T + t] / (float)(H * b.len[i]);
    }
    return TR_OK;
}

static int maps(const tr_model *m, tr_map_spec *specs, int max)
{
    for (int l = 0; l < m->L && l < max; l++)
        specs[l] = (tr_map_spec){m->map_names[l], 3, {m->H, m->T, m->T}, "sample,head,query,key"};
    return m->L;
}

static const tr_option_spec options[] = {
    {"task", TR_OPT_ENUM, "classify", "classify|seq2seq", "classify: encoder-only (seq2seq: not yet)"},
    {"d_model", TR_OPT_INT, "64", "[1,)", "model width D (a multiple of heads)"},
    {"heads", TR_OPT_INT, "4", "[1,)", "attention heads"},
    {"layers", TR_OPT_INT, "2", "[1, 16]", "encoder layers"},
    {"ff", TR_OPT_INT, "128", "[1,)", "feed-forward width F"},
    {"activation", TR_OPT_ENUM, "relu", "relu|gelu", "feed-forward activation"},
    {"dropout", TR_OPT_FLOAT, "0.1", "[0, 1)", "dropout: embeddings, attention weights, sub-layer outputs"},
    {"positions", TR_OPT_ENUM, "sinusoidal", "sinusoidal|learned", "positional encoding"},
    {"norm", TR_OPT_ENUM, "post", "post|pre", "layer norm after each residual sum (the paper's) or before each sub-layer"},
    {"pool", TR_OPT_ENUM, "mean", "mean|first", "mean over the real tokens, or the first token"},
    {"label_smoothing", TR_OPT_FLOAT, "0", "[0, 1)", "share of the target spread over all classes"},
};

static tr_status create(tr_model **out, tr_registry *reg, const tr_model_info *info, tr_error *err)
{
    const tr_option_value *o = info->options;
    if (o[O_TASK].i != 0)
        return tr_error_set(err, TR_ERR_CONFIG, "model.task: seq2seq is not there yet; use classify");
    if (!TR_HAS_FIELD(info, tr_model_info, n_classes) || info->task != TR_TASK_CLASSIFY || info->src_vocab < 1)
        return tr_error_set(err, TR_ERR_CONFIG, "task classify reads token ids and a class: data.kind: text_labels");
    if (o[O_DMODEL].i % o[O_HEADS].i)
        return tr_error_set(err, TR_ERR_CONFIG, "d_model (%ld) must be a multiple of heads (%ld)", o[O_DMODEL].i,
                            o[O_HEADS].i);
    tr_model *m = calloc(1, sizeof *m);
    if (!m)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    *m = (tr_model){.T = info->src_len, .V = info->src_vocab, .C = info->n_classes, .D = (int)o[O_DMODEL].i,
                    .H = (int)o[O_HEADS].i, .L = (int)o[O_LAYERS].i, .F = (int)o[O_FF].i,
                    .gelu = o[O_ACT].i == 1, .drop = (float)o[O_DROPOUT].f, .learned = o[O_POS].i == 1,
                    .pre_norm = o[O_NORM].i == 1, .first = o[O_POOL].i == 1, .smoothing = (float)o[O_SMOOTH].f};
    const int D = m->D;
    const tr_init glorot = {TR_INIT_GLOROT_UNIFORM, 0, 0}, ones = {TR_INIT_CONST, 1, 0},
                  zeros = {TR_INIT_ZEROS, 0, 0}, small = {TR_INIT_UNIFORM, -0.02f, 0.02f};
    tr_status s = tr_param_add_lookup(reg, "embedding", 2, (int[]){m->V, D}, glorot, &m->emb, err);
    if (!s && m->learned)
        s = tr_param_add(reg, "positions", 2, (int[]){m->T, D}, small, &m->pos, err);
    char name[TR_MAX_NAME];
    for (int l = 0; l < m->L && !s; l++) {
        layer *w = &m->ly[l];
        snprintf(m->map_names[l], sizeof m->map_names[l], "layer%d/self_attention", l + 1);
        static const char *const part[4] = {"query", "key", "value", "output"};
        size_t *kb[4][2] = {{&w->q, &w->bq}, {&w->k, &w->bk}, {&w->v, &w->bv}, {&w->o, &w->bo}};
        for (int j = 0; j < 4 && !s; j++) {
            snprintf(name, sizeof name, "layer%d.attention.%s", l + 1, part[j]);
            s = tr_param_add_dense(reg, name, D, D, kb[j][0], kb[j][1], err);
        }
        for (int j = 0; j < 2 && !s; j++) {
            snprintf(name, sizeof name, "layer%d.norm%d.gamma", l + 1, j + 1);
            s = tr_param_add(reg, name, 1, (int[]){D}, ones, j ? &w->g2 : &w->g1, err);
            snprintf(name, sizeof name, "layer%d.norm%d.beta", l + 1, j + 1);
            if (!s) s = tr_param_add(reg, name, 1, (int[]){D}, zeros, j ? &w->b2 : &w->b1, err);
        }
        snprintf(name, sizeof name, "layer%d.ffn.fc1", l + 1);
        if (!s) s = tr_param_add_dense(reg, name, D, m->F, &w->w1, &w->c1, err);
        snprintf(name, sizeof name, "layer%d.ffn.fc2", l + 1);
        if (!s) s = tr_param_add_dense(reg, name, m->F, D, &w->w2, &w->c2, err);
    }
    if (!s) s = tr_param_add(reg, "norm.gamma", 1, (int[]){D}, ones, &m->gf, err);
    if (!s) s = tr_param_add(reg, "norm.beta", 1, (int[]){D}, zeros, &m->bf, err);
    if (!s) s = tr_param_add_dense(reg, "output", D, m->C, &m->out_k, &m->out_b, err);
    if (s)
        free(m);
    else
        *out = m;
    return s;
}

static void destroy(tr_model *m) { free(m); }

static const tr_plugin descriptor = {
    .size = sizeof(tr_plugin), .abi_version = TR_ABI_VERSION, .name = "transformer", .version = "0.1.0",
    .description = "Transformer encoder (multi-head self-attention, post- or pre-norm) text classifier",
    .options = options, .n_options = (int)(sizeof options / sizeof options[0]),
    .attention_axes = "sample,output,source", .create = create, .destroy = destroy,
    .scratch_bytes = scratch_bytes, .train = train, .predict = predict, .maps = maps,
};

TR_PLUGIN_DEFINE(descriptor)

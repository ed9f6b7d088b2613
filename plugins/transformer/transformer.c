/* plugins/transformer/transformer.c - the Transformer (Vaswani et al.;
 * PyTorch's nn.Transformer) over token ids: model.task classify (an encoder
 * and a pooled class) or seq2seq (encoder-decoder). A stack (the encoder, the decoder) is:
 *
 *   x_0 = dropout(E[tokens] sqrt(D) + PE)           sinusoidal or learned PE
 *   sub-layers, post-norm (the paper's) or pre-norm:
 *     x' = LN(x + dropout(f(x)))                    pre-norm: x + dropout(f(LN x))
 *   with f, per encoder layer: self-attention (padding masked), FFN;
 *   per decoder layer: causal self-attention, cross-attention over the
 *   encoder's output (its padding masked), FFN
 *   z = LN(x_last)                                  each stack's final norm
 *
 *   attention f(x) = MHA(x Wq, m Wk, m Wv) Wo       m = x, or the encoder's z;
 *                                                   dropout on the weights
 *   FFN f(x) = dropout(act(x W1 + b1)) W2 + b2      ReLU or GELU
 *   classify: v = mean of z over the real tokens (or z at the first); p = softmax(v Wc + bc)
 *   seq2seq:  p_t = softmax(z_t Wo + bo) over the decoder's z, teacher forced
 *             (<s> then the target shifted right); greedy decoding feeds back
 *             the argmax, one position at a time, each layer keeping its keys
 *             and values so far.
 *
 * Rows are packed: each sample's real tokens one after the other (padding
 * is never computed); only the attention sees them padded, [n,T,D] with the
 * padding masked. Dropout masks are keyed by (the step's key, sample index,
 * site, position), the attention weights' by (sample key, head, query, key). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "trainer/trainer.h"

enum { MAX_LAYERS = 16, MAX_SUBS = 3 * MAX_LAYERS, MAX_MAPS = 16 /* the core's */ };
enum { O_TASK, O_DMODEL, O_HEADS, O_LAYERS, O_DLAYERS, O_FF, O_ACT, O_DROPOUT, O_POS, O_NORM, O_POOL, O_SMOOTH, O_DECODE };
enum { SELF_ATTN, CAUSAL_ATTN, CROSS_ATTN, FFN };

typedef struct sublayer {
    int kind;
    size_t w[8];               /* attention: query, key, value, output (kernel [D,D], bias [D] each);
                                  FFN: fc1 [D,F] [F], fc2 [F,D] [D] */
    size_t gamma, beta;        /* its layer norm [D] */
    uint32_t site, attn_site;  /* dropout keys: its output, its attention weights */
} sublayer;

typedef struct stack {
    int T, S;                  /* sequence length, sub-layers */
    size_t emb, pos, gf, bf;   /* [V,D] [T,D] [D] [D] */
    uint32_t site;             /* the embedded input's dropout */
    sublayer sub[MAX_SUBS];
} stack;

typedef struct tr_model {
    int seq2seq, V, C, D, H, F, gelu, pre_norm, first, learned, full_decode;
    int bos, eos, pad_t;
    float drop, smoothing;
    stack enc, dec;            /* dec: seq2seq only */
    size_t out_k, out_b;       /* [D,C] [C] (seq2seq: C = the target vocabulary) */
    int n_maps;
    tr_map_spec map_specs[MAX_MAPS];
    char map_names[MAX_MAPS][40];    /* "layer1/self_attention", "decoder/layer1/cross_attention", ... */
} tr_model;

/* n sequences packed: sample b's rows off[b] .. off[b] + len[b] - 1 of
 * [off[n], D]; T the padded length the attention sees */
typedef struct seqs {
    const int32_t *off, *len;
    int n, T;
} seqs;

/* what a sub-layer's backward reads; N packed rows (k, v: the keys' Nk) */
typedef struct sub_cache {
    float *x, *in, *f, *r, *mask;   /* [N,D]: input, LN(input) (pre-norm), branch, residual sum, dropout mask */
    float *mean, *rstd;             /* [N] its norm's */
    float *q, *k, *v, *a, *lse;     /* attention: [N,D] [Nk,D] x2 [N,D] [n,H,T] */
    float *qp, *kp, *vp, *ap;       /* the same padded: [n,T,D] [n,Tk,D] x2 [n,T,D] */
    float *pre, *hid, *hmask;       /* FFN: [N,F] x3 (hmask: the dropout inside) */
} sub_cache;

typedef struct stack_cache {
    sub_cache sub[MAX_SUBS];
    float *x0, *xmask, *zin, *z, *mf, *sf; /* [N,D] x4, [N] x2 */
} stack_cache;

/* one forward (and backward) pass's inputs and shared buffers */
typedef struct run {
    const tr_batch *bt;
    int n, drop, Ty;                /* Ty: the decoder's length, its caches' */
    seqs src, tgt;                  /* the source's rows, the decoder's (a decoding step: one per sample) */
    int32_t *step_len;              /* [n] decoding: positions so far */
    const float *memory;            /* the encoder's z [src rows, D], for cross-attention */
    float *dmemory;                 /* its gradient */
    uint64_t *rowkeys, *keys;       /* [n max(T)], [n] */
    float *d[14], *dh, *dp;         /* [R,D] x14, [R,F] x2 */
} run;

typedef struct bufs {
    int32_t *len, *step_len, *tlen, *ones, *off_s, *off_t, *off_1; /* [n] x4, [n+1] x3 */
    int32_t *src, *dec_in, *dec_tgt, *rows, *prefix;               /* packed [n,T] x4, [n,Ty] */
    uint64_t *rowkeys, *keys;
    stack_cache enc, dec;
    float *v, *logits, *probs, *alpha;                             /* [n,D] [M,C] x2, weights */
    float *dz, *dmem, *d[14], *dh, *dp;
    size_t bytes;
} bufs;

static void take_stack(tr_arena *a, stack_cache *c, const tr_model *m, const stack *s, int n, int Tk_cross)
{
    const size_t N = (size_t)n * s->T, ND = N * m->D, NF = N * m->F;
    tr_arena_floats(a, ND, &c->x0, &c->xmask, &c->zin, &c->z, NULL);
    tr_arena_floats(a, N, &c->mf, &c->sf, NULL);
    for (int j = 0; j < s->S; j++) {
        sub_cache *u = &c->sub[j];
        tr_arena_floats(a, ND, &u->x, &u->in, &u->f, &u->r, &u->mask, NULL);
        tr_arena_floats(a, N, &u->mean, &u->rstd, NULL);
        if (s->sub[j].kind == FFN) {
            tr_arena_floats(a, NF, &u->pre, &u->hid, &u->hmask, NULL);
            continue;
        }
        const size_t Nk = (size_t)n * (s->sub[j].kind == CROSS_ATTN ? Tk_cross : s->T);
        tr_arena_floats(a, ND, &u->q, &u->a, &u->qp, &u->ap, NULL);
        tr_arena_floats(a, Nk * m->D, &u->k, &u->v, &u->kp, &u->vp, NULL);
        tr_arena_floats(a, (size_t)n * m->H * s->T, &u->lse, NULL);
    }
}

static bufs layout(const tr_model *m, int n, void *base)
{
    bufs b;
    tr_arena a = {base, 0};
    const int Ts = m->enc.T, Ty = m->seq2seq ? m->dec.T : 1, Tmax = Ts > Ty ? Ts : Ty;
    const size_t R = (size_t)n * Tmax, M = (size_t)n * Ty, C = (size_t)m->C, H = (size_t)m->H;
    int32_t **ints[] = {&b.len, &b.step_len, &b.tlen, &b.ones, &b.off_s, &b.off_t, &b.off_1};
    for (size_t k = 0; k < sizeof ints / sizeof *ints; k++)
        TR_TAKE(&a, *ints[k], (size_t)n + 1);
    TR_TAKE(&a, b.src, (size_t)n * Ts);
    TR_TAKE(&a, b.dec_in, M);
    TR_TAKE(&a, b.dec_tgt, M);
    TR_TAKE(&a, b.rows, M);
    TR_TAKE(&a, b.prefix, M);
    TR_TAKE(&a, b.rowkeys, R);
    TR_TAKE(&a, b.keys, (size_t)n);
    take_stack(&a, &b.enc, m, &m->enc, n, 0);
    if (m->seq2seq)
        take_stack(&a, &b.dec, m, &m->dec, n, Ts);
    tr_arena_floats(&a, (size_t)n * m->D, &b.v, NULL);
    tr_arena_floats(&a, M * C, &b.logits, &b.probs, NULL);
    /* weights for the maps: [n,H,T,T] of a classifier's layer, one decoding step's [n,H,1,Tmax] */
    tr_arena_floats(&a, m->seq2seq ? R * H : (size_t)n * H * Ts * Ts, &b.alpha, NULL);
    tr_arena_floats(&a, R * m->D, &b.dz, &b.dmem, NULL);
    for (int k = 0; k < 14; k++)
        tr_arena_floats(&a, R * m->D, &b.d[k], NULL);
    tr_arena_floats(&a, R * m->F, &b.dh, &b.dp, NULL);
    b.bytes = a.used;
    return b;
}

static size_t scratch_bytes(const tr_model *m, int n) { return layout(m, n, NULL).bytes; }

#define ZERO(p, count) memset(p, 0, (size_t)(count) * sizeof *(p))

/* off[n+1] from len[n] */
static seqs packed(int32_t *off, const int32_t *len, int n, int T)
{
    off[0] = 0;
    for (int i = 0; i < n; i++)
        off[i + 1] = off[i] + len[i];
    return (seqs){off, len, n, T};
}

/* A pass over bt: the sources' lengths (clamped) and their real tokens
 * packed, and the shared buffers. */
static run start(const tr_model *m, bufs *b, const tr_batch *bt, int drop)
{
    const int n = bt->n, T = m->enc.T;
    const int have_len = TR_HAS_FIELD(bt, tr_batch, src_lengths) && bt->src_lengths;
    for (int i = 0; i < n; i++) {
        b->len[i] = have_len ? (bt->src_lengths[i] < 0 ? 0 : bt->src_lengths[i] > T ? T : bt->src_lengths[i]) : T;
        b->ones[i] = 1;
    }
    run r = {.bt = bt, .n = n, .drop = drop, .Ty = m->seq2seq ? m->dec.T : 1, .src = packed(b->off_s, b->len, n, T), .step_len = b->step_len,
             .rowkeys = b->rowkeys, .keys = b->keys, .dh = b->dh, .dp = b->dp, .dmemory = b->dmem};
    for (int i = 0; i < n; i++)
        memcpy(b->src + b->off_s[i], bt->src + (size_t)i * T, (size_t)b->len[i] * sizeof *b->src);
    memcpy(r.d, b->d, sizeof r.d);
    return r;
}

/* x[n,T,D] = the packed rows padded with zeros, and back */
static void pad_rows(float *x, const float *rows, seqs q, int D)
{
    for (int b = 0; b < q.n; b++) {
        float *xb = x + (size_t)b * q.T * D;
        memcpy(xb, rows + (size_t)q.off[b] * D, (size_t)q.len[b] * D * sizeof *x);
        memset(xb + (size_t)q.len[b] * D, 0, (size_t)(q.T - q.len[b]) * D * sizeof *x);
    }
}

static void pack_rows(float *rows, const float *x, seqs q, int D)
{
    for (int b = 0; b < q.n; b++)
        memcpy(rows + (size_t)q.off[b] * D, x + (size_t)b * q.T * D, (size_t)q.len[b] * D * sizeof *x);
}

/* the dropout keys of `site` for q's rows, from each row's (sample,
 * position); NULL when not dropping */
static const uint64_t *row_keys(const run *r, uint32_t site, seqs q)
{
    if (!r->drop)
        return NULL;
    for (int b = 0; b < q.n; b++)
        for (int t = 0; t < q.len[b]; t++)
            r->rowkeys[q.off[b] + t] = tr_dropout_key(r->bt->key, r->bt->index[b], site, (uint32_t)t);
    return r->rowkeys;
}

/* y = dropout(x) over q's rows (a copy when not dropping) */
static void drop_rows(const tr_model *m, const run *r, uint32_t site, float *y, float *mask, const float *x, seqs q)
{
    const int N = q.off[q.n];
    if (!r->drop) {
        if (y != x)
            memcpy(y, x, (size_t)N * m->D * sizeof *y);
        return;
    }
    tr_dropout_forward(y, mask, x, row_keys(r, site, q), m->drop, N, m->D);
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

/* An attention sub-layer's keys: which, how many, and whether causal. Step
 * y >= 0 is one decoding position: its query against the keys so far. */
typedef struct keys_of {
    seqs k;     /* the keys' rows (a decoding step's self-attention: its cache, T long) */
    int causal;
} keys_of;

static keys_of keys_for(const sublayer *w, const run *r, seqs q, int step)
{
    if (w->kind == CROSS_ATTN)
        return (keys_of){r->src, 0};
    if (step < 0)
        return (keys_of){q, w->kind == CAUSAL_ATTN};
    return (keys_of){{NULL, r->step_len, r->n, r->Ty}, 0};
}

static const uint64_t *weight_keys(const sublayer *w, const run *r)
{
    if (!r->drop)
        return NULL;
    for (int i = 0; i < r->n; i++)
        r->keys[i] = tr_dropout_key(r->bt->key, r->bt->index[i], w->attn_site, 0);
    return r->keys;
}

/* f = MHA(in Wq, src Wk, src Wv) Wo over q's rows (src: in, or the
 * encoder's output); the attention sees them padded. A decoding step (one
 * row per sample, at position `step`) adds its key and value to the cache;
 * cross-attention computes the encoder's once (at step 0). */
static void attend(const tr_model *m, const sublayer *w, const float *P, sub_cache *c, const float *in,
                   const run *r, seqs q, int step)
{
    const int D = m->D, n = r->n, N = q.off[n];
    const size_t *p = w->w;
    const keys_of ks = keys_for(w, r, q, step);
    tr_dense_forward(c->q, in, P + p[0], P + p[1], N, D, D);
    if (step < 0 || (w->kind == CROSS_ATTN && step == 0)) {
        const float *src = w->kind == CROSS_ATTN ? r->memory : in;
        const int Nk = ks.k.off[n];
        tr_dense_forward(c->k, src, P + p[2], P + p[3], Nk, D, D);
        tr_dense_forward(c->v, src, P + p[4], P + p[5], Nk, D, D);
        pad_rows(c->kp, c->k, ks.k, D);
        pad_rows(c->vp, c->v, ks.k, D);
    } else if (w->kind != CROSS_ATTN) {
        tr_dense_forward(c->k, in, P + p[2], P + p[3], n, D, D);
        tr_dense_forward(c->v, in, P + p[4], P + p[5], n, D, D);
        for (int b = 0; b < n; b++) {
            const size_t at = ((size_t)b * ks.k.T + step) * D;
            memcpy(c->kp + at, c->k + (size_t)b * D, (size_t)D * sizeof(float));
            memcpy(c->vp + at, c->v + (size_t)b * D, (size_t)D * sizeof(float));
        }
    }
    pad_rows(c->qp, c->q, q, D);
    tr_mha_forward(c->ap, c->lse, c->qp, c->kp, c->vp, ks.k.len, ks.causal, weight_keys(w, r), m->drop, n, q.T,
                   ks.k.T, m->H, D / m->H);
    pack_rows(c->a, c->ap, q, D);
    tr_dense_forward(c->f, c->a, P + p[6], P + p[7], N, D, D);
}

/* din += d(in) of the attention from df; cross-attention's keys and values
 * send theirs to the encoder's output (r->dmemory) */
static void attend_backward(float *din, const tr_model *m, const sublayer *w, const float *P, float *G,
                            const sub_cache *c, const float *in, const float *df, const run *r, seqs q)
{
    const int D = m->D, n = r->n, N = q.off[n];
    const size_t *p = w->w;
    const keys_of ks = keys_for(w, r, q, -1);
    float *const *d = r->d; /* d[0..4]: the callers' */
    float *da = d[5], *dq = d[6], *dk = d[7], *dv = d[8], *dap = d[9], *dqp = d[10], *dkp = d[11], *dvp = d[12];
    const int Nk = ks.k.off[n];
    ZERO(da, N * D);
    tr_dense_backward(da, G + p[6], G + p[7], df, c->a, P + p[6], N, D, D);
    pad_rows(dap, da, q, D);
    ZERO(dqp, n * q.T * D);
    ZERO(dkp, n * ks.k.T * D);
    ZERO(dvp, n * ks.k.T * D);
    tr_mha_backward(dqp, dkp, dvp, dap, c->ap, c->lse, c->qp, c->kp, c->vp, ks.k.len, ks.causal, weight_keys(w, r),
                    m->drop, n, q.T, ks.k.T, m->H, D / m->H);
    pack_rows(dq, dqp, q, D);
    pack_rows(dk, dkp, ks.k, D);
    pack_rows(dv, dvp, ks.k, D);
    tr_dense_backward(din, G + p[0], G + p[1], dq, in, P + p[0], N, D, D);
    const int cross = w->kind == CROSS_ATTN;
    tr_dense_backward(cross ? r->dmemory : din, G + p[2], G + p[3], dk, cross ? r->memory : in, P + p[2], Nk, D, D);
    tr_dense_backward(cross ? r->dmemory : din, G + p[4], G + p[5], dv, cross ? r->memory : in, P + p[4], Nk, D, D);
}

/* out = LN(x + dropout(f(x))), or x + dropout(f(LN x)) pre-norm, over q's
 * rows (a decoding step: one per sample) */
static void sub_forward(const tr_model *m, const sublayer *w, const float *P, sub_cache *c, float *out,
                        const run *r, seqs q, int step)
{
    const int D = m->D, N = q.off[q.n];
    const float *in = c->x;
    if (m->pre_norm) {
        tr_layernorm_forward(c->in, c->mean, c->rstd, c->x, P + w->gamma, P + w->beta, 1e-5f, N, D);
        in = c->in;
    }
    if (w->kind == FFN)
        tr_ffn_dropout_forward(c->f, c->hid, c->pre, c->hmask, in, P + w->w[0], P + w->w[1], P + w->w[2],
                               P + w->w[3], m->gelu, row_keys(r, 2000 + w->site, q), m->drop, N, D, m->F);
    else
        attend(m, w, P, c, in, r, q, step);
    drop_rows(m, r, w->site, c->r, c->mask, c->f, q);
    tr_add_inplace(c->r, c->x, (long)N * D);
    if (m->pre_norm)
        memcpy(out, c->r, (size_t)N * D * sizeof *out);
    else
        tr_layernorm_forward(out, c->mean, c->rstd, c->r, P + w->gamma, P + w->beta, 1e-5f, N, D);
}

/* dx = d(x) from dout = d(out): the residual sum passes its gradient both
 * ways, the branch and the skip */
static void sub_backward(float *dx, const tr_model *m, const sublayer *w, const float *P, float *G,
                         const sub_cache *c, const float *dout, const run *r, seqs q)
{
    const int D = m->D, N = q.off[q.n];
    float *dr = r->d[2], *df = r->d[3], *din = r->d[4];
    if (m->pre_norm) {
        memcpy(dr, dout, (size_t)N * D * sizeof *dr);
    } else {
        ZERO(dr, N * D);
        tr_layernorm_backward(dr, G + w->gamma, G + w->beta, dout, c->r, c->mean, c->rstd, P + w->gamma, N, D);
    }
    undrop(df, dr, c->mask, r->drop, N, D);
    ZERO(din, N * D);
    const float *in = m->pre_norm ? c->in : c->x;
    if (w->kind == FFN)
        tr_ffn_dropout_backward(din, G + w->w[0], G + w->w[1], G + w->w[2], G + w->w[3], r->dh, r->dp, df, in,
                                c->pre, c->hid, r->drop ? c->hmask : NULL, P + w->w[0], P + w->w[2], m->gelu, N, D,
                                m->F);
    else
        attend_backward(din, m, w, P, G, c, in, df, r, q);
    memcpy(dx, dr, (size_t)N * D * sizeof *dx);
    if (m->pre_norm)
        tr_layernorm_backward(dx, G + w->gamma, G + w->beta, din, c->x, c->mean, c->rstd, P + w->gamma, N, D);
    else
        tr_add_inplace(dx, din, (long)N * D);
}

/* x = E[tokens] sqrt(D) + each row's position (from `start`), over q's rows */
static void embed(const tr_model *m, const stack *s, const float *P, float *x, const int32_t *tokens, seqs q,
                  int start)
{
    const int D = m->D, N = q.off[q.n];
    tr_embedding_forward(x, tokens, P + s->emb, N, D);
    for (size_t i = 0; i < (size_t)N * D; i++)
        x[i] *= sqrtf((float)D);
    for (int b = 0; b < q.n; b++)
        if (m->learned)
            tr_positions_forward(x + (size_t)q.off[b] * D, P + s->pos, 1, q.len[b], D, start);
        else
            tr_sinusoid_add(x + (size_t)q.off[b] * D, 1, q.len[b], D, start);
}

/* A stack over whole sequences: c->z [rows, D] */
static void stack_forward(const tr_model *m, const stack *s, const float *P, stack_cache *c, const int32_t *tokens,
                          const run *r, seqs q)
{
    embed(m, s, P, c->x0, tokens, q, 0);
    drop_rows(m, r, s->site, c->sub[0].x, c->xmask, c->x0, q);
    for (int j = 0; j < s->S; j++)
        sub_forward(m, &s->sub[j], P, &c->sub[j], j + 1 < s->S ? c->sub[j + 1].x : c->zin, r, q, -1);
    tr_layernorm_forward(c->z, c->mf, c->sf, c->zin, P + s->gf, P + s->bf, 1e-5f, q.off[q.n], m->D);
}

/* Its backward from dz (which it keeps), down to the embedding's rows */
static void stack_backward(const tr_model *m, const stack *s, const float *P, float *G, const stack_cache *c,
                           const float *dz, const int32_t *tokens, const run *r, seqs q)
{
    const int D = m->D, N = q.off[q.n];
    float *dcur = r->d[0], *dnext = r->d[1];
    ZERO(dcur, N * D);
    tr_layernorm_backward(dcur, G + s->gf, G + s->bf, dz, c->zin, c->mf, c->sf, P + s->gf, N, D);
    for (int j = s->S - 1; j >= 0; j--) {
        sub_backward(dnext, m, &s->sub[j], P, G, &c->sub[j], dcur, r, q);
        float *t = dcur;
        dcur = dnext, dnext = t;
    }
    undrop(dnext, dcur, c->xmask, r->drop, N, D);
    for (int b = 0; m->learned && b < q.n; b++)
        tr_positions_backward(G + s->pos, dnext + (size_t)q.off[b] * D, 1, q.len[b], D, 0);
    for (size_t i = 0; i < (size_t)N * D; i++)
        dnext[i] *= sqrtf((float)D);
    tr_embedding_backward(G + s->emb, dnext, tokens, N, D);
}

/* classify: v[n,D] = the pooled encoder output, logits[n,C] */
static void pool(const tr_model *m, const float *P, bufs *b, int n)
{
    const int D = m->D;
    ZERO(b->v, n * D);
    for (int i = 0; i < n; i++) {
        const int cnt = m->first ? (b->len[i] > 0) : b->len[i];
        for (int t = 0; t < cnt; t++)
            for (int d = 0; d < D; d++)
                b->v[(size_t)i * D + d] += b->enc.z[((size_t)b->off_s[i] + t) * D + d] / (float)cnt;
    }
    tr_dense_forward(b->logits, b->v, P + m->out_k, P + m->out_b, n, D, m->C);
}

/* seq2seq: each target's real tokens (up to its padding), and the
 * decoder's inputs (<s>, then the target shifted right) and targets, packed */
static seqs shift_targets(const tr_model *m, bufs *b, const tr_batch *bt)
{
    const int Ty = m->dec.T;
    for (int i = 0; i < bt->n; i++) {
        const int32_t *y = bt->tgt + (size_t)i * Ty;
        int len = 0;
        while (len < Ty && y[len] != m->pad_t)
            len++;
        b->tlen[i] = len;
    }
    const seqs q = packed(b->off_t, b->tlen, bt->n, Ty);
    for (int i = 0; i < bt->n; i++)
        for (int t = 0; t < b->tlen[i]; t++) {
            b->dec_in[q.off[i] + t] = t ? bt->tgt[(size_t)i * Ty + t - 1] : m->bos;
            b->dec_tgt[q.off[i] + t] = bt->tgt[(size_t)i * Ty + t];
        }
    return q;
}

/* Both stacks, teacher forced: b->dec.z, a row per real target token */
static void forced(const tr_model *m, const float *P, bufs *b, run *r)
{
    stack_forward(m, &m->enc, P, &b->enc, b->src, r, r->src);
    r->memory = b->enc.z;
    r->tgt = shift_targets(m, b, r->bt);
    stack_forward(m, &m->dec, P, &b->dec, b->dec_in, r, r->tgt);
}

static tr_status train(const tr_model *m, const float *P, float *G, void *scratch, const tr_batch *bt, double *loss,
                       tr_error *err)
{
    const int n = bt->n, D = m->D, C = m->C;
    const int drop = m->drop > 0.0f && TR_HAS_FIELD(bt, tr_batch, training) && bt->training;
    if (drop && !bt->index)
        return tr_error_set(err, TR_ERR_MODEL, "transformer: dropout needs the samples' indices (tr_batch.index)");
    bufs b = layout(m, n, scratch);
    run r = start(m, &b, bt, drop);
    if (!m->seq2seq) {
        stack_forward(m, &m->enc, P, &b.enc, b.src, &r, r.src);
        pool(m, P, &b, n);
        *loss = tr_softmax_xent_smooth_forward(b.probs, b.logits, bt->tgt, m->smoothing, n, C);
        float *dlog = b.logits, *dv = b.d[13]; /* [n,C], [n,D] */
        ZERO(dlog, n * C);
        tr_softmax_xent_smooth_backward(dlog, b.probs, bt->tgt, m->smoothing, 1.0f, n, C);
        ZERO(dv, n * D);
        tr_dense_backward(dv, G + m->out_k, G + m->out_b, dlog, b.v, P + m->out_k, n, D, C);
        ZERO(b.dz, r.src.off[n] * D);
        for (int i = 0; i < n; i++) {
            const int cnt = m->first ? (b.len[i] > 0) : b.len[i];
            for (int t = 0; t < cnt; t++)
                for (int d = 0; d < D; d++)
                    b.dz[((size_t)b.off_s[i] + t) * D + d] = dv[(size_t)i * D + d] / (float)cnt;
        }
        stack_backward(m, &m->enc, P, G, &b.enc, b.dz, b.src, &r, r.src);
        return TR_OK;
    }
    /* seq2seq: the output layer on the decoder's rows, each a real target token */
    forced(m, P, &b, &r);
    const int M = r.tgt.off[n];
    tr_dense_forward(b.logits, b.dec.z, P + m->out_k, P + m->out_b, M, D, C);
    *loss = tr_softmax_xent_smooth_forward(b.probs, b.logits, b.dec_tgt, m->smoothing, M, C);
    float *dlog = b.logits;
    ZERO(dlog, (size_t)M * C);
    tr_softmax_xent_smooth_backward(dlog, b.probs, b.dec_tgt, m->smoothing, 1.0f, M, C);
    ZERO(b.dz, (size_t)M * D);
    tr_dense_backward(b.dz, G + m->out_k, G + m->out_b, dlog, b.dec.z, P + m->out_k, M, D, C);
    ZERO(b.dmem, (size_t)r.src.off[n] * D);
    stack_backward(m, &m->dec, P, G, &b.dec, b.dz, b.dec_in, &r, r.tgt);
    stack_backward(m, &m->enc, P, G, &b.enc, b.dmem, b.src, &r, r.src);
    return TR_OK;
}

/* seq2seq, teacher forced: the non-padding target tokens whose argmax is right */
static tr_status score(const tr_model *m, const float *P, void *scratch, const tr_batch *bt, long *correct,
                       long *total, tr_error *err)
{
    (void)err;
    if (!m->seq2seq) /* a classifier's accuracy comes from predict() */
        return TR_OK;
    const int n = bt->n;
    bufs b = layout(m, n, scratch);
    run r = start(m, &b, bt, 0);
    forced(m, P, &b, &r);
    const int M = r.tgt.off[n];
    tr_dense_forward(b.logits, b.dec.z, P + m->out_k, P + m->out_b, M, m->D, m->C);
    tr_argmax_rows(b.rows, 1, b.logits, M, m->C);
    for (int row = 0; row < M; row++)
        *correct += b.rows[row] == b.dec_tgt[row];
    *total += M;
    return TR_OK;
}

/* map[n, H, Tq_all, Tk] at query `at` = alpha[n, H, 1, Tk] (a decoding step's weights) */
static void put_query(float *map, const float *alpha, int n, int H, int Tq_all, int at, int Tk)
{
    for (int i = 0; i < n * H; i++)
        memcpy(map + ((size_t)i * Tq_all + at) * Tk, alpha + (size_t)i * Tk, (size_t)Tk * sizeof *map);
}

/* x[n, T, D] -> x[n, D]: each sample's row y to the front (the order keeps
 * every row read before it is overwritten) */
static void front_rows(float *x, int n, int T, int y, int D)
{
    for (int i = 0; i < n; i++)
        memmove(x + (size_t)i * D, x + ((size_t)i * T + y) * D, (size_t)D * sizeof *x);
}

/* Greedy decoding, one position at a time through every decoder layer
 * (the self-attention's keys and values so far stay in its cache): the
 * tokens, the last layer's cross-attention averaged over heads, and each
 * decoder layer's weights for the maps. model.decode: full re-runs the
 * decoder over the whole prefix at every position instead (what the cache
 * saves: a check of it), then leaves what a cached step would. */
static void decode(const tr_model *m, const float *P, bufs *b, run *r, tr_prediction *out, float **maps)
{
    const int n = r->n, Ts = m->enc.T, Ty = m->dec.T, D = m->D, H = m->H, dh = D / H, S = m->dec.S;
    const stack *s = &m->dec;
    stack_cache *c = &b->dec;
    int32_t *tok = b->rows, *prefix = b->prefix; /* [n] this step's inputs; [n,Ty] decode: full's */
    const seqs one = packed(b->off_1, b->ones, n, 1); /* a row per sample */
    r->tgt = one;
    for (int i = 0; i < n * Ty; i++)
        prefix[i] = m->bos;
    for (int i = 0; i < n; i++)
        tok[i] = m->bos;
    for (int y = 0; y < Ty; y++) {
        for (int i = 0; i < n; i++)
            r->step_len[i] = y + 1;
        if (m->full_decode) {
            for (int i = 0; i < n; i++)
                b->tlen[i] = y + 1;
            const seqs pre = packed(b->off_t, b->tlen, n, Ty);
            for (int i = 0; i < n; i++)
                memcpy(b->dec_in + pre.off[i], prefix + (size_t)i * Ty, (size_t)(y + 1) * sizeof *prefix);
            stack_forward(m, s, P, c, b->dec_in, r, pre);
            front_rows(c->z, n, y + 1, y, D);
            for (int j = 0; j < S; j++)
                if (s->sub[j].kind != FFN) {
                    front_rows(c->sub[j].qp, n, Ty, y, D);
                    front_rows(c->sub[j].lse, n * H, Ty, y, 1);
                }
        } else {
            embed(m, s, P, c->sub[0].x, tok, one, y);
            for (int j = 0; j < S; j++)
                sub_forward(m, &s->sub[j], P, &c->sub[j], j + 1 < S ? c->sub[j + 1].x : c->zin, r, one, y);
            tr_layernorm_forward(c->z, c->mf, c->sf, c->zin, P + s->gf, P + s->bf, 1e-5f, n, D);
        }
        tr_dense_forward(b->logits, c->z, P + m->out_k, P + m->out_b, n, D, m->C);
        float *avg = b->dz; /* [n,Ts] */
        for (int j = 0, map = m->enc.S / 2; j < S; j++) {
            const sublayer *w = &s->sub[j];
            const sub_cache *u = &c->sub[j];
            if (w->kind == FFN)
                continue;
            const keys_of ks = keys_for(w, r, one, y);
            const int last_cross = w->kind == CROSS_ATTN && j == S - 2 && out->attention,
                      want = maps && map < m->n_maps && maps[map];
            if (want || last_cross)
                tr_mha_weights(b->alpha, u->qp, u->kp, u->lse, ks.k.len, 0, n, 1, ks.k.T, H, dh);
            if (want)
                put_query(maps[map], b->alpha, n, H, Ty, y, ks.k.T);
            map++;
            if (!last_cross)
                continue;
            ZERO(avg, n * Ts);
            for (int i = 0; i < n; i++)
                for (int h = 0; h < H; h++)
                    for (int t = 0; t < Ts; t++)
                        avg[(size_t)i * Ts + t] += b->alpha[((size_t)i * H + h) * Ts + t] / (float)H;
        }
        tr_greedy_step(out, tok, b->logits, avg, y, n, Ty, Ts, m->C, m->eos, m->pad_t);
        for (int i = 0; y + 1 < Ty && i < n; i++)
            prefix[(size_t)i * Ty + y + 1] = tok[i];
    }
}

/* classify: classes, their probabilities, and as the attention map [n, 1, T]
 * the last layer's self-attention received by each token, averaged over
 * heads and over the real queries (what the pooled tokens looked at).
 * seq2seq: greedy decoding. Both: every attention layer's weights, every
 * head, as the maps. */
static tr_status predict(const tr_model *m, const float *P, void *scratch, const tr_batch *bt, tr_prediction *out,
                         tr_error *err)
{
    (void)err;
    const int n = bt->n, T = m->enc.T, C = m->C, H = m->H, D = m->D;
    bufs b = layout(m, n, scratch);
    run r = start(m, &b, bt, 0);
    stack_forward(m, &m->enc, P, &b.enc, b.src, &r, r.src);
    float **maps = TR_HAS_FIELD(out, tr_prediction, maps) ? out->maps : NULL;
    for (int l = 0; maps && l < m->enc.S / 2 && l < m->n_maps; l++)
        if (maps[l])
            tr_mha_weights(maps[l], b.enc.sub[2 * l].qp, b.enc.sub[2 * l].kp, b.enc.sub[2 * l].lse, b.len, 0, n, T,
                           T, H, D / H);
    if (m->seq2seq) {
        r.memory = b.enc.z;
        decode(m, P, &b, &r, out, maps);
        return TR_OK;
    }
    pool(m, P, &b, n);
    tr_softmax_forward(b.probs, b.logits, n, C, 1);
    if (out->tokens)
        tr_argmax_rows(out->tokens, 1, b.probs, n, C);
    if (TR_HAS_FIELD(out, tr_prediction, probs) && out->probs)
        memcpy(out->probs, b.probs, (size_t)n * C * sizeof(float));
    if (!out->attention)
        return TR_OK;
    const sub_cache *c = &b.enc.sub[m->enc.S - 2];
    tr_mha_weights(b.alpha, c->qp, c->kp, c->lse, b.len, 0, n, T, T, H, D / H);
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
    const int k = m->n_maps < max ? m->n_maps : max;
    memcpy(specs, m->map_specs, (size_t)k * sizeof *specs);
    return k;
}

static const tr_option_spec options[] = {
    {"task", TR_OPT_ENUM, "classify", "classify|seq2seq", "classify: encoder and a pooled class; seq2seq: encoder-decoder"},
    {"d_model", TR_OPT_INT, "64", "[1,)", "model width D (a multiple of heads)"},
    {"heads", TR_OPT_INT, "4", "[1,)", "attention heads"},
    {"layers", TR_OPT_INT, "2", "[1, 16]", "encoder layers"},
    {"decoder_layers", TR_OPT_INT, "2", "[1, 16]", "decoder layers (seq2seq)"},
    {"ff", TR_OPT_INT, "128", "[1,)", "feed-forward width F"},
    {"activation", TR_OPT_ENUM, "relu", "relu|gelu", "feed-forward activation"},
    {"dropout", TR_OPT_FLOAT, "0.1", "[0, 1)", "dropout: embeddings, attention weights, sub-layer outputs"},
    {"positions", TR_OPT_ENUM, "sinusoidal", "sinusoidal|learned", "positional encoding"},
    {"norm", TR_OPT_ENUM, "post", "post|pre", "layer norm after each residual sum (the paper's) or before each sub-layer"},
    {"pool", TR_OPT_ENUM, "mean", "mean|first", "classify: mean over the real tokens, or the first token"},
    {"label_smoothing", TR_OPT_FLOAT, "0", "[0, 1)", "share of the target spread over all classes (padding has no loss)"},
    {"decode", TR_OPT_ENUM, "cached", "cached|full",
     "seq2seq greedy decoding: each layer keeps its keys and values, or re-runs the prefix (a check)"},
};

/* A stack's parameters under `prefix` ("" or "encoder." / "decoder."):
 * embedding, positions, per layer its sub-layers' weights and norms (norm1,
 * norm2, ... in sub-layer order), the final norm. `kinds` is one layer's
 * sub-layers; dropout sites and map names follow from site0 and the maps. */
static tr_status add_stack(tr_model *m, stack *s, tr_registry *reg, const char *prefix, const char *mapdir, int V,
                           int T, int L,
                           const int *kinds, int per_layer, uint32_t site0, int lookup, tr_error *err)
{
    static const char *const part[4] = {"query", "key", "value", "output"};
    static const char *const attn_name[3] = {"attention", "self_attention", "cross_attention"};
    const tr_init ones = {TR_INIT_CONST, 1, 0}, zeros = {TR_INIT_ZEROS, 0, 0}, small = {TR_INIT_UNIFORM, -0.02f, 0.02f},
                  glorot = {TR_INIT_GLOROT_UNIFORM, 0, 0};
    const int D = m->D;
    char name[TR_MAX_NAME];
    s->T = T, s->S = L * per_layer, s->site = site0;
    snprintf(name, sizeof name, "%sembedding", prefix);
    tr_status st = (lookup ? tr_param_add_lookup : tr_param_add_rows)(reg, name, 2, (int[]){V, D}, glorot, &s->emb, err);
    snprintf(name, sizeof name, "%spositions", prefix);
    if (!st && m->learned)
        st = tr_param_add(reg, name, 2, (int[]){T, D}, small, &s->pos, err);
    for (int j = 0; j < s->S && !st; j++) {
        sublayer *w = &s->sub[j];
        const int l = j / per_layer, kind = kinds[j % per_layer];
        /* the classifier's sites as they were: 1 + 3l, 2 + 3l; weights 1000 + l */
        /* the classifier's sites as they were: 1 + 3l and 2 + 3l, its weights' 1000 + l */
        const uint32_t k = (uint32_t)(j % per_layer), ul = (uint32_t)l;
        *w = (sublayer){.kind = kind, .site = site0 + 1 + 3 * ul + k,
                        .attn_site = 1000 + site0 + (per_layer == 2 ? ul : 2 * ul + k)};
        if (kind == FFN) {
            snprintf(name, sizeof name, "%slayer%d.ffn.fc1", prefix, l + 1);
            st = tr_param_add_dense(reg, name, D, m->F, &w->w[0], &w->w[1], err);
            snprintf(name, sizeof name, "%slayer%d.ffn.fc2", prefix, l + 1);
            if (!st) st = tr_param_add_dense(reg, name, m->F, D, &w->w[2], &w->w[3], err);
        } else {
            const char *an = attn_name[site0 == 0 ? 0 : kind == CROSS_ATTN ? 2 : 1];
            for (int k = 0; k < 4 && !st; k++) {
                snprintf(name, sizeof name, "%slayer%d.%s.%s", prefix, l + 1, an, part[k]);
                st = tr_param_add_dense(reg, name, D, D, &w->w[2 * k], &w->w[2 * k + 1], err);
            }
            if (m->n_maps < MAX_MAPS) {
                char *mn = m->map_names[m->n_maps];
                snprintf(mn, sizeof m->map_names[0], "%slayer%d/%s", mapdir, l + 1,
                         kind == CROSS_ATTN ? "cross_attention" : "self_attention");
                const int Tk = kind == CROSS_ATTN ? m->enc.T : T;
                m->map_specs[m->n_maps++] = (tr_map_spec){mn, 3, {m->H, T, Tk}, "sample,head,query,key"};
            }
        }
        snprintf(name, sizeof name, "%slayer%d.norm%d.gamma", prefix, l + 1, j % per_layer + 1);
        if (!st) st = tr_param_add(reg, name, 1, (int[]){D}, ones, &w->gamma, err);
        snprintf(name, sizeof name, "%slayer%d.norm%d.beta", prefix, l + 1, j % per_layer + 1);
        if (!st) st = tr_param_add(reg, name, 1, (int[]){D}, zeros, &w->beta, err);
    }
    snprintf(name, sizeof name, "%snorm.gamma", prefix);
    if (!st) st = tr_param_add(reg, name, 1, (int[]){D}, ones, &s->gf, err);
    snprintf(name, sizeof name, "%snorm.beta", prefix);
    if (!st) st = tr_param_add(reg, name, 1, (int[]){D}, zeros, &s->bf, err);
    return st;
}

static tr_status create(tr_model **out, tr_registry *reg, const tr_model_info *info, tr_error *err)
{
    const tr_option_value *o = info->options;
    const int seq2seq = o[O_TASK].i == 1;
    if (!TR_HAS_FIELD(info, tr_model_info, n_classes) || info->src_vocab < 1)
        return tr_error_set(err, TR_ERR_CONFIG, "the transformer reads token ids: data.kind text_labels, word_pairs or char_pairs");
    if (!seq2seq && info->task != TR_TASK_CLASSIFY)
        return tr_error_set(err, TR_ERR_CONFIG, "model.task: classify reads a class per sample (data.kind: text_labels); use seq2seq");
    if (seq2seq && info->task != TR_TASK_SEQ2SEQ)
        return tr_error_set(err, TR_ERR_CONFIG, "model.task: seq2seq reads target sequences (data.kind: word_pairs or char_pairs); use classify");
    if (o[O_DMODEL].i % o[O_HEADS].i)
        return tr_error_set(err, TR_ERR_CONFIG, "model.d_model (%ld) must be a multiple of model.heads (%ld)",
                            o[O_DMODEL].i, o[O_HEADS].i);
    tr_model *m = calloc(1, sizeof *m);
    if (!m)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    *m = (tr_model){.seq2seq = seq2seq, .C = seq2seq ? info->tgt_vocab : info->n_classes, .D = (int)o[O_DMODEL].i,
                    .H = (int)o[O_HEADS].i, .F = (int)o[O_FF].i, .gelu = o[O_ACT].i == 1,
                    .drop = (float)o[O_DROPOUT].f, .learned = o[O_POS].i == 1, .pre_norm = o[O_NORM].i == 1,
                    .first = o[O_POOL].i == 1, .full_decode = o[O_DECODE].i == 1, .smoothing = (float)o[O_SMOOTH].f,
                    /* no <s> (char_pairs): the padding token's row starts the decoder */
                    .bos = info->tgt_bos >= 0 ? info->tgt_bos : info->tgt_pad >= 0 ? info->tgt_pad : 0,
                    .eos = info->tgt_eos, .pad_t = info->tgt_pad};
    static const int enc_kinds[2] = {SELF_ATTN, FFN}, dec_kinds[3] = {CAUSAL_ATTN, CROSS_ATTN, FFN};
    m->enc.T = info->src_len; /* cross-attention's keys, for the maps */
    tr_status s = add_stack(m, &m->enc, reg, seq2seq ? "encoder." : "", seq2seq ? "encoder/" : "", info->src_vocab, info->src_len,
                            (int)o[O_LAYERS].i, enc_kinds, 2, 0, 1, err);
    if (!s && seq2seq)
        s = add_stack(m, &m->dec, reg, "decoder.", "decoder/", info->tgt_vocab, info->tgt_len, (int)o[O_DLAYERS].i, dec_kinds, 3,
                      100, 0, err);
    if (!s) s = tr_param_add_dense(reg, "output", m->D, m->C, &m->out_k, &m->out_b, err);
    if (s)
        free(m);
    else
        *out = m;
    return s;
}

static void destroy(tr_model *m) { free(m); }

static const tr_plugin descriptor = {
    .size = sizeof(tr_plugin), .abi_version = TR_ABI_VERSION, .name = "transformer", .version = "0.2.0",
    .description = "Transformer (multi-head attention, post- or pre-norm): text classifier or encoder-decoder",
    .options = options, .n_options = (int)(sizeof options / sizeof options[0]),
    .attention_axes = "sample,output,source", .create = create, .destroy = destroy,
    .scratch_bytes = scratch_bytes, .train = train, .predict = predict, .score = score, .maps = maps,
};

TR_PLUGIN_DEFINE(descriptor)

/* tests/plugins/template_abi15.c - the plugin template as ABI 1.5 shipped it (examples/plugin_template/luong_attn.c
 * at 092c35b, unchanged below this comment), built against today's headers: the ABI grows by
 * appending only, so it still builds, loads, trains and passes gradcheck (tests/sdk/old_template.sh).
 *
 * luong_attn.c - a template trainer plugin: a Luong-style seq2seq with
 * attention, and an attention scorer of its own ("cosine") that configs of
 * any seq2seq plugin can name. Written only against the installed headers
 * (the trainer/ headers) and docs/plugins.md; copy this folder to start a model.
 *
 *   encoder: h_j = GRU_enc(x_j), j < Tx            (one-hot x: a row lookup)
 *   decoder: s_i = GRU_dec(y_{i-1}), s_0 = h_{Tx-1} (teacher forcing; a learned
 *                                                     start row before y_0)
 *   e_ij = score(s_i, h_j)        model.attention: cosine (below), or any
 *                                 registered scorer: dot, general, scaled_dot, additive
 *   a_i  = softmax_j(e_ij) over non-padding j;  c_i = sum_j a_ij h_j
 *   t_i  = tanh([s_i, c_i] Wc + bc)              Luong's attentional hidden state
 *   p_i  = softmax(t_i Wo + bo)
 *   loss = sum over non-padding target positions of cross-entropy
 *
 * The attention does not feed back into the decoder (no input feeding), so
 * in training the decoder runs as one sequence and all steps' scores are
 * computed at once; greedy prediction runs step by step.
 *
 * Layout conventions of the layers (trainer/layers.h): row-major, "time-major"
 * [T, n, ...] for recurrent sequences, batch-major [n, T, ...] for the
 * attention's values. Backward functions ADD into their d* buffers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "trainer/trainer.h"

/* ======================================================================
 * 1. An attention scorer: scaled cosine similarity
 *      e[y,b,t] = g * cos(q[y,b], v[b,t]),   g a learned scalar (init 5)
 * A scorer maps values [B,Tx,D] and time-major queries [Ty,B,D] to
 * energies [Ty,B,Tx]; the core's tr_attention_forward() does the masked
 * softmax and the weighted sum. Its parameters are registered under the
 * prefix the model gives ("attention.scale" here), so checkpoints keep them.
 * ====================================================================== */

typedef struct cosine_state {
    int D;
    size_t scale; /* offset of g */
} cosine_state;

static tr_status cosine_create(void **state, tr_registry *reg, const char *prefix, int Dk, int Dq, int units,
                               tr_error *err)
{
    (void)units;
    if (Dk != Dq)
        return tr_error_set(err, TR_ERR_CONFIG, "cosine attention needs equal encoder and decoder widths (%d != %d)",
                            Dk, Dq);
    cosine_state *s = calloc(1, sizeof *s);
    if (!s)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    s->D = Dk;
    char name[TR_MAX_NAME];
    snprintf(name, sizeof name, "%s.scale", prefix);
    tr_status st = tr_param_add(reg, name, 1, (int[]){1}, (tr_init){TR_INIT_CONST, 5.0f, 0.0f}, &s->scale, err);
    if (st) {
        free(s);
        return st;
    }
    *state = s;
    return TR_OK;
}

static void cosine_destroy(void *state) { free(state); }

/* scratch: qn [Ty,B,D] | vn [B,Tx,D] | qlen [Ty,B] | vlen [B,Tx] | cos [Ty,B,Tx] | dqn [Ty,B,D] | dvn [B,Tx,D] */
static size_t cosine_scratch(const void *state, int B, int Ty, int Tx)
{
    const size_t D = (size_t)((const cosine_state *)state)->D;
    return 2 * ((size_t)Ty * B * D + (size_t)B * Tx * D) + (size_t)Ty * B + (size_t)B * Tx + (size_t)Ty * B * Tx;
}

typedef struct cosine_bufs {
    float *qn, *vn, *qlen, *vlen, *cos, *dqn, *dvn;
} cosine_bufs;

static cosine_bufs cosine_layout(const cosine_state *s, float *scratch, int B, int Ty, int Tx)
{
    cosine_bufs b;
    const size_t D = (size_t)s->D;
    b.qn = scratch;
    b.vn = b.qn + (size_t)Ty * B * D;
    b.qlen = b.vn + (size_t)B * Tx * D;
    b.vlen = b.qlen + (size_t)Ty * B;
    b.cos = b.vlen + (size_t)B * Tx;
    b.dqn = b.cos + (size_t)Ty * B * Tx;
    b.dvn = b.dqn + (size_t)Ty * B * D;
    return b;
}

/* rows of x [rows, D] scaled to unit length: out = x / len, len = sqrt(|x|^2 + 1e-12) */
static void normalize_rows(float *out, float *len, const float *x, size_t rows, int D)
{
    for (size_t r = 0; r < rows; r++) {
        double ss = 0;
        for (int d = 0; d < D; d++)
            ss += (double)x[r * D + d] * x[r * D + d];
        len[r] = (float)sqrt(ss + 1e-12);
        for (int d = 0; d < D; d++)
            out[r * D + d] = x[r * D + d] / len[r];
    }
}

static float dotf(const float *a, const float *b, int D)
{
    float s = 0;
    for (int d = 0; d < D; d++)
        s += a[d] * b[d];
    return s;
}

static void cosine_forward(const void *state, const float *P, float *energy, float *scratch, const float *values,
                           const float *queries, int B, int Ty, int Tx)
{
    const cosine_state *s = state;
    const int D = s->D;
    cosine_bufs b = cosine_layout(s, scratch, B, Ty, Tx);
    normalize_rows(b.qn, b.qlen, queries, (size_t)Ty * B, D);
    normalize_rows(b.vn, b.vlen, values, (size_t)B * Tx, D);
    const float g = P[s->scale];
    for (int y = 0; y < Ty; y++)
        for (int i = 0; i < B; i++)
            for (int t = 0; t < Tx; t++) {
                size_t e = ((size_t)y * B + i) * Tx + t;
                b.cos[e] = dotf(b.qn + ((size_t)y * B + i) * D, b.vn + ((size_t)i * Tx + t) * D, D);
                energy[e] = g * b.cos[e];
            }
}

/* d(x/len)/dx applied to dn: (dn - n (n . dn)) / len, added to dx */
static void normalize_backward(float *dx, const float *dn, const float *n, const float *len, size_t rows, int D)
{
    for (size_t r = 0; r < rows; r++) {
        float k = dotf(n + r * D, dn + r * D, D);
        for (int d = 0; d < D; d++)
            dx[r * D + d] += (dn[r * D + d] - n[r * D + d] * k) / len[r];
    }
}

static void cosine_backward(const void *state, const float *P, float *G, float *dvalues, float *dqueries,
                            const float *denergy, float *scratch, const float *values, const float *queries, int B,
                            int Ty, int Tx)
{
    (void)values; (void)queries; /* forward kept what is needed in scratch */
    const cosine_state *s = state;
    const int D = s->D;
    cosine_bufs b = cosine_layout(s, scratch, B, Ty, Tx);
    const float g = P[s->scale];
    memset(b.dqn, 0, (size_t)Ty * B * D * sizeof(float));
    memset(b.dvn, 0, (size_t)B * Tx * D * sizeof(float));
    double dg = 0;
    for (int y = 0; y < Ty; y++)
        for (int i = 0; i < B; i++) {
            const float *qn = b.qn + ((size_t)y * B + i) * D;
            float *dqn = b.dqn + ((size_t)y * B + i) * D;
            for (int t = 0; t < Tx; t++) {
                size_t e = ((size_t)y * B + i) * Tx + t;
                dg += (double)denergy[e] * b.cos[e];
                const float dc = g * denergy[e];
                const float *vn = b.vn + ((size_t)i * Tx + t) * D;
                float *dvn = b.dvn + ((size_t)i * Tx + t) * D;
                for (int d = 0; d < D; d++) {
                    dqn[d] += dc * vn[d];
                    dvn[d] += dc * qn[d];
                }
            }
        }
    G[s->scale] += (float)dg;
    if (dqueries)
        normalize_backward(dqueries, b.dqn, b.qn, b.qlen, (size_t)Ty * B, D);
    if (dvalues)
        normalize_backward(dvalues, b.dvn, b.vn, b.vlen, (size_t)B * Tx, D);
}

static const tr_scorer cosine_scorer = {
    .size = sizeof(tr_scorer),
    .name = "cosine",
    .description = "scaled cosine: g * cos(s, h), g learned",
    .create = cosine_create,
    .destroy = cosine_destroy,
    .scratch_floats = cosine_scratch,
    .forward = cosine_forward,
    .backward = cosine_backward,
};

/* The core registers these when it loads this file (as model.plugin, or
 * for another model as one of model.scorer_plugins), before create(). */
TR_SCORERS_DEFINE(&cosine_scorer)

/* ======================================================================
 * 2. The model
 * ====================================================================== */

typedef struct tr_model {
    int Tx, Ty, Vs, Vt, H, A, pad_s, pad_t;
    const tr_scorer *scorer;
    void *sstate;
    size_t enc_k, enc_r, enc_b, enc_rb; /* [Vs,3H] [H,3H] [3H] [3H] */
    size_t dec_k, dec_r, dec_b, dec_rb; /* [Vt+1,3H] [H,3H] [3H] [3H]; row Vt: the start input */
    size_t cmb_k, cmb_b;                /* [2H,A] [A] */
    size_t out_k, out_b;                /* [A,Vt] [Vt] */
} tr_model;

/* Scratch: one function lays it out, for sizing (base NULL) and for use. */
typedef struct bufs {
    int32_t *tok_s, *tok_d, *tgt;      /* [Tx,n] [Ty,n] [Ty,n] time-major; tgt -1 at padding */
    uint8_t *mask;                     /* [n,Tx] 1 = a real source token */
    float *ge, *he, *hne;              /* encoder gates [Tx,n,3H], states [Tx,n,H], cache [Tx,n,H] */
    float *gd, *hd, *hnd;              /* decoder: the same over Ty */
    float *values;                     /* [n,Tx,H] encoder states, batch-major */
    float *energy, *alpha, *ctx;       /* [Ty,n,Tx] [Ty,n,Tx] [Ty,n,H] */
    float *cat, *att, *logits, *probs; /* [Ty*n,2H] [Ty*n,A] [Ty*n,Vt] [Ty*n,Vt] */
    float *sscratch;                   /* the scorer's */
    float *datt, *dpre, *dcat, *dhd, *dctx, *denergy, *dvalues, *dxe, *dxd, *dhe, *dh0, *work;
    size_t bytes;
} bufs;

static bufs layout(const tr_model *m, int n, unsigned char *base)
{
    bufs b;
    size_t off = 0;
    const size_t N = (size_t)n, Tx = (size_t)m->Tx, Ty = (size_t)m->Ty, H = (size_t)m->H, A = (size_t)m->A,
                 Vt = (size_t)m->Vt, R = Ty * N;
#define TAKE(ptr, count)                                  \
    do {                                                  \
        ptr = (void *)(base ? base + off : NULL);         \
        off += ((count) * 4 + 63) / 64 * 64;              \
    } while (0)
    TAKE(b.tok_s, Tx * N);
    TAKE(b.tok_d, Ty * N);
    TAKE(b.tgt, Ty * N);
    TAKE(b.mask, (N * Tx + 3) / 4);
    TAKE(b.ge, Tx * N * 3 * H);
    TAKE(b.he, Tx * N * H);
    TAKE(b.hne, Tx * N * H);
    TAKE(b.gd, R * 3 * H);
    TAKE(b.hd, R * H);
    TAKE(b.hnd, R * H);
    TAKE(b.values, N * Tx * H);
    TAKE(b.energy, R * Tx);
    TAKE(b.alpha, R * Tx);
    TAKE(b.ctx, R * H);
    TAKE(b.cat, R * 2 * H);
    TAKE(b.att, R * A);
    TAKE(b.logits, R * Vt);
    TAKE(b.probs, R * Vt);
    TAKE(b.sscratch, m->scorer->scratch_floats(m->sstate, n, m->Ty, m->Tx));
    TAKE(b.datt, R * A);
    TAKE(b.dpre, R * A);
    TAKE(b.dcat, R * 2 * H);
    TAKE(b.dhd, R * H);
    TAKE(b.dctx, R * H);
    TAKE(b.denergy, R * Tx);
    TAKE(b.dvalues, N * Tx * H);
    TAKE(b.dxe, Tx * N * 3 * H);
    TAKE(b.dxd, R * 3 * H);
    TAKE(b.dhe, Tx * N * H);
    TAKE(b.dh0, N * H);
    TAKE(b.work, N * 3 * H);
#undef TAKE
    b.bytes = off;
    return b;
}

static size_t scratch_bytes(const tr_model *m, int n) { return layout(m, n, NULL).bytes; }

/* xw[rows,3H] = kernel[tok] + bias (a one-hot input times the kernel) */
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

/* The encoder over the batch, the attention's values and the padding mask. */
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

/* Attention and output for `steps` decoder states q [steps,n,H]: energy,
 * alpha, ctx, cat = [q, ctx], att = tanh(cat Wc + bc), logits. */
static void attend(const tr_model *m, const float *P, bufs *b, const float *q, int n, int steps)
{
    const int Tx = m->Tx, H = m->H;
    const size_t R = (size_t)steps * n;
    m->scorer->forward(m->sstate, P, b->energy, b->sscratch, b->values, q, n, steps, Tx);
    for (int y = 0; y < steps; y++)
        tr_attention_forward(b->ctx + (size_t)y * n * H, b->alpha + (size_t)y * n * Tx, b->energy + (size_t)y * n * Tx,
                             b->values, b->mask, n, Tx, H);
    for (size_t r = 0; r < R; r++) {
        memcpy(b->cat + r * 2 * H, q + r * H, (size_t)H * sizeof(float));
        memcpy(b->cat + r * 2 * H + H, b->ctx + r * H, (size_t)H * sizeof(float));
    }
    tr_dense_forward(b->att, b->cat, P + m->cmb_k, P + m->cmb_b, (int)R, 2 * H, m->A);
    tr_act_forward(b->att, b->att, (int)R * m->A, TR_ACT_TANH);
    tr_dense_forward(b->logits, b->att, P + m->out_k, P + m->out_b, (int)R, m->A, m->Vt);
}

/* Forward + backward over a sub-batch: ADDS the gradient of the summed loss
 * into G (this thread's own buffer) and returns the summed loss. */
static tr_status train(const tr_model *m, const float *P, float *G, void *scratch, const tr_batch *batch,
                       double *loss, tr_error *err)
{
    (void)err;
    const int n = batch->n, Tx = m->Tx, Ty = m->Ty, H = m->H, A = m->A, Vt = m->Vt;
    const size_t R = (size_t)Ty * n;
    bufs b = layout(m, n, scratch);
    encode(m, P, &b, batch);
    for (int y = 0; y < Ty; y++) /* decoder inputs: the start row, then the targets shifted right */
        for (int i = 0; i < n; i++) {
            int32_t t = batch->tgt[(size_t)i * Ty + y];
            b.tok_d[(size_t)y * n + i] = y ? batch->tgt[(size_t)i * Ty + y - 1] : Vt;
            b.tgt[(size_t)y * n + i] = t == m->pad_t ? -1 : t;
        }
    const float *h0 = b.he + (size_t)(Tx - 1) * n * H;
    lookup(b.gd, b.tok_d, P + m->dec_k, P + m->dec_b, Ty * n, 3 * H);
    tr_gru_forward(b.hd, b.gd, b.hnd, b.gd, h0, P + m->dec_r, P + m->dec_rb, Ty, n, H);
    attend(m, P, &b, b.hd, n, Ty);
    *loss = tr_softmax_xent_forward(b.probs, b.logits, b.tgt, (int)R, Vt);

    /* backward, in reverse order; every d* buffer starts at zero */
    float *dlogits = b.logits; /* logits are not needed any more */
    memset(dlogits, 0, R * Vt * sizeof(float));
    tr_softmax_xent_backward(dlogits, b.probs, b.tgt, 1.0f, (int)R, Vt);
    memset(b.datt, 0, R * A * sizeof(float));
    tr_dense_backward(b.datt, G + m->out_k, G + m->out_b, dlogits, b.att, P + m->out_k, (int)R, A, Vt);
    memset(b.dpre, 0, R * A * sizeof(float));
    tr_act_backward(b.dpre, b.datt, b.att, (int)R * A, TR_ACT_TANH);
    memset(b.dcat, 0, R * 2 * H * sizeof(float));
    tr_dense_backward(b.dcat, G + m->cmb_k, G + m->cmb_b, b.dpre, b.cat, P + m->cmb_k, (int)R, 2 * H, A);
    for (size_t r = 0; r < R; r++) {
        memcpy(b.dhd + r * H, b.dcat + r * 2 * H, (size_t)H * sizeof(float));
        memcpy(b.dctx + r * H, b.dcat + r * 2 * H + H, (size_t)H * sizeof(float));
    }
    memset(b.denergy, 0, R * Tx * sizeof(float));
    memset(b.dvalues, 0, (size_t)n * Tx * H * sizeof(float));
    for (int y = 0; y < Ty; y++)
        tr_attention_backward(b.denergy + (size_t)y * n * Tx, b.dvalues, b.dctx + (size_t)y * n * H,
                              b.alpha + (size_t)y * n * Tx, b.values, n, Tx, H);
    m->scorer->backward(m->sstate, P, G, b.dvalues, b.dhd, b.denergy, b.sscratch, b.values, b.hd, n, Ty, Tx);
    memset(b.dh0, 0, (size_t)n * H * sizeof(float));
    tr_gru_backward(b.dxd, b.dh0, G + m->dec_r, G + m->dec_rb, b.dhd, b.hd, b.gd, b.hnd, h0, P + m->dec_r, b.work, Ty,
                    n, H);
    lookup_backward(G + m->dec_k, G + m->dec_b, b.dxd, b.tok_d, Ty * n, 3 * H);
    for (int t = 0; t < Tx; t++) /* values back to time-major, plus the decoder's initial state */
        for (int i = 0; i < n; i++)
            memcpy(b.dhe + ((size_t)t * n + i) * H, b.dvalues + ((size_t)i * Tx + t) * H, (size_t)H * sizeof(float));
    tr_add_inplace(b.dhe + (size_t)(Tx - 1) * n * H, b.dh0, (long)n * H);
    tr_gru_backward(b.dxe, NULL, G + m->enc_r, G + m->enc_rb, b.dhe, b.he, b.ge, b.hne, NULL, P + m->enc_r, b.work, Tx,
                    n, H);
    lookup_backward(G + m->enc_k, G + m->enc_b, b.dxe, b.tok_s, Tx * n, 3 * H);
    return TR_OK;
}

/* Greedy prediction: feed back the argmax. Fills tokens [n,Ty] and the
 * attention maps [n,Ty,Tx] (axes "sample,target,source") when asked; the
 * core writes the maps to attention.h5. */
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
    for (int i = 0; i < n; i++)
        tok[i] = Vt; /* the start row */
    for (int y = 0; y < Ty; y++) {
        lookup(b.gd, tok, P + m->dec_k, P + m->dec_b, n, 3 * H);
        tr_gru_cell_forward(s_next, b.gd, b.hnd, b.gd, s, P + m->dec_r, P + m->dec_rb, n, H);
        attend(m, P, &b, s_next, n, 1);
        for (int i = 0; i < n; i++) {
            const float *l = b.logits + (size_t)i * Vt;
            int best = 0;
            for (int v = 1; v < Vt; v++)
                if (l[v] > l[best]) best = v;
            tok[i] = best;
            if (out->tokens)
                out->tokens[(size_t)i * Ty + y] = best;
            if (out->attention)
                memcpy(out->attention + ((size_t)i * Ty + y) * Tx, b.alpha + (size_t)i * Tx, (size_t)Tx * sizeof(float));
        }
        float *t = s;
        s = s_next;
        s_next = t;
    }
    return TR_OK;
}

/* The keys this plugin accepts under `model:` (validated by the core). */
static const tr_option_spec options[] = {
    {"hidden_units", TR_OPT_INT, "64", NULL, "GRU units of the encoder and the decoder"},
    {"attentional_units", TR_OPT_INT, "64", NULL, "units of tanh([s, c] Wc + bc)"},
    {"attention", TR_OPT_STRING, "cosine", NULL, "attention scorer: cosine, dot, general, scaled_dot, additive, ..."},
    {"attention_units", TR_OPT_INT, "32", NULL, "hidden units of scorers that have them (additive)"},
};
enum { OPT_HIDDEN, OPT_ATTENTIONAL, OPT_ATTENTION, OPT_ATTENTION_UNITS };

static tr_status create(tr_model **out, tr_registry *reg, const tr_model_info *info, tr_error *err)
{
    const tr_option_value *o = info->options;
    if (o[OPT_HIDDEN].i < 1 || o[OPT_ATTENTIONAL].i < 1 || o[OPT_ATTENTION_UNITS].i < 1)
        return tr_error_set(err, TR_ERR_CONFIG, "hidden_units, attentional_units and attention_units must be >= 1");
    if (info->src_len < 1 || info->tgt_len < 1 || info->src_vocab < 1 || info->tgt_vocab < 1)
        return tr_error_set(err, TR_ERR_CONFIG, "luong_attn needs token sequences (data.kind: char_pairs or word_pairs)");
    const tr_scorer *sc = tr_scorer_find(o[OPT_ATTENTION].s);
    if (!sc) {
        const char *names[32];
        int k = tr_scorer_names(names, 32);
        char list[512] = "";
        for (int i = 0; i < k && i < 32; i++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", names[i]);
        }
        return tr_error_set(err, TR_ERR_CONFIG, "model.attention: no scorer '%s' (registered: %s)", o[OPT_ATTENTION].s,
                            list);
    }
    tr_model *m = calloc(1, sizeof *m);
    if (!m)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    m->Tx = info->src_len; m->Ty = info->tgt_len; m->Vs = info->src_vocab; m->Vt = info->tgt_vocab;
    m->pad_s = info->src_pad; m->pad_t = info->tgt_pad;
    m->H = (int)o[OPT_HIDDEN].i; m->A = (int)o[OPT_ATTENTIONAL].i;
    m->scorer = sc;
    const int H = m->H;
    /* Initial values are drawn by the core from (run.seed, tensor name). */
    const tr_init lookup_init = {TR_INIT_UNIFORM, -1.0f, 1.0f}, glorot = {TR_INIT_GLOROT_UNIFORM, 0, 0},
                  ortho = {TR_INIT_ORTHOGONAL, 1, 0}, zeros = {TR_INIT_ZEROS, 0, 0};
    tr_status s = tr_param_add(reg, "encoder.kernel", 2, (int[]){m->Vs, 3 * H}, lookup_init, &m->enc_k, err);
    if (!s) s = tr_param_add(reg, "encoder.recurrent_kernel", 2, (int[]){H, 3 * H}, ortho, &m->enc_r, err);
    if (!s) s = tr_param_add(reg, "encoder.bias", 1, (int[]){3 * H}, zeros, &m->enc_b, err);
    if (!s) s = tr_param_add(reg, "encoder.recurrent_bias", 1, (int[]){3 * H}, zeros, &m->enc_rb, err);
    if (!s) s = tr_param_add(reg, "decoder.kernel", 2, (int[]){m->Vt + 1, 3 * H}, lookup_init, &m->dec_k, err);
    if (!s) s = tr_param_add(reg, "decoder.recurrent_kernel", 2, (int[]){H, 3 * H}, ortho, &m->dec_r, err);
    if (!s) s = tr_param_add(reg, "decoder.bias", 1, (int[]){3 * H}, zeros, &m->dec_b, err);
    if (!s) s = tr_param_add(reg, "decoder.recurrent_bias", 1, (int[]){3 * H}, zeros, &m->dec_rb, err);
    if (!s) s = sc->create(&m->sstate, reg, "attention", H, H, (int)o[OPT_ATTENTION_UNITS].i, err);
    if (!s) s = tr_param_add(reg, "combine.kernel", 2, (int[]){2 * H, m->A}, glorot, &m->cmb_k, err);
    if (!s) s = tr_param_add(reg, "combine.bias", 1, (int[]){m->A}, zeros, &m->cmb_b, err);
    if (!s) s = tr_param_add(reg, "output.kernel", 2, (int[]){m->A, m->Vt}, glorot, &m->out_k, err);
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
    .name = "luong_attn",
    .version = "1.0.0",
    .description = "template: GRU seq2seq, Luong attentional layer, cosine (or any registered) scorer",
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

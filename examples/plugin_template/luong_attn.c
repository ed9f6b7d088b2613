/* luong_attn.c - a template trainer plugin: a Luong-style seq2seq with
 * attention, and an attention scorer of its own ("cosine") that configs of
 * any seq2seq plugin can name. Written only against the installed trainer/
 * headers and docs/plugins.md; copy this folder to start a model.
 *
 *   encoder: h_j = GRU_enc(x_j), j < Tx             (one-hot x: a row lookup)
 *   decoder: s_i = GRU_dec(y_{i-1}), s_0 = h_{Tx-1}  (teacher forcing; a learned start row)
 *   e_ij = score(s_i, h_j)     model.attention: cosine (below), dot, general, scaled_dot, additive
 *   a_i  = softmax_j(e_ij) over non-padding j;  c_i = sum_j a_ij h_j
 *   t_i  = tanh([s_i, c_i] Wc + bc);  p_i = softmax(t_i Wo + bo)  (Luong's attentional state)
 *   loss = sum over non-padding target positions of cross-entropy
 *
 * No input feeding: training runs the decoder as one sequence, prediction step by step. Recurrences are
 * time-major [T,n,...], the attention's values batch-major [n,Tx,H]; backward functions ADD into d*. */
#include <stdlib.h>
#include <string.h>
#include "trainer/trainer.h"

/* ==== 1. An attention scorer: e[y,b,t] = g * cos(q[y,b], v[b,t]), g learned (init 5).
 * A scorer maps values [B,Tx,D] and time-major queries [Ty,B,D] to energies
 * [Ty,B,Tx]; the core does the masked softmax and the weighted sum. Its
 * tensors get the model's prefix ("attention.scale"), so checkpoints keep them. */

typedef struct cosine_state { int D; size_t scale; /* the width; the offset of g */ } cosine_state;

static tr_status cosine_create(void **state, tr_registry *reg, const char *prefix, int Dk, int Dq, int units,
                               tr_error *err)
{
    (void)units;
    cosine_state *s = Dk == Dq ? calloc(1, sizeof *s) : NULL;
    if (!s)
        return Dk != Dq ? tr_error_set(err, TR_ERR_CONFIG, "cosine attention needs equal widths (%d != %d)", Dk, Dq)
                        : tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    s->D = Dk;
    char name[TR_MAX_NAME];
    snprintf(name, sizeof name, "%s.scale", prefix);
    tr_status st = tr_param_add(reg, name, 1, (int[]){1}, (tr_init){TR_INIT_CONST, 5.0f, 0.0f}, &s->scale, err);
    if (st)
        free(s);
    else
        *state = s;
    return st;
}

/* scratch: cos [Ty,B,Tx] (in backward: d cos) | the cosine energies' cache */
static size_t cosine_scratch(const void *state, int B, int Ty, int Tx)
{
    return (size_t)Ty * B * Tx + tr_cosine_cache_floats(B, Ty, Tx, ((const cosine_state *)state)->D);
}

static void cosine_forward(const void *state, const float *P, float *energy, float *scratch, const float *values,
                           const float *queries, int B, int Ty, int Tx)
{
    const cosine_state *s = state;
    const size_t E = (size_t)Ty * B * Tx;
    tr_cosine_energy_forward(scratch, scratch + E, values, queries, B, Ty, Tx, s->D);
    for (size_t e = 0; e < E; e++)
        energy[e] = P[s->scale] * scratch[e];
}

static void cosine_backward(const void *state, const float *P, float *G, float *dvalues, float *dqueries,
                            const float *denergy, float *scratch, const float *values, const float *queries, int B,
                            int Ty, int Tx)
{
    (void)values; (void)queries; /* forward kept what is needed in scratch */
    const cosine_state *s = state;
    const size_t E = (size_t)Ty * B * Tx;
    double dg = 0; /* d/dg of sum denergy * g * cos */
    for (size_t e = 0; e < E; e++) {
        dg += (double)denergy[e] * scratch[e];
        scratch[e] = P[s->scale] * denergy[e]; /* d cos */
    }
    G[s->scale] += (float)dg;
    tr_cosine_energy_backward(dvalues, dqueries, scratch, scratch + E, B, Ty, Tx, s->D);
}

static const tr_scorer cosine_scorer = {sizeof(tr_scorer), "cosine", "scaled cosine: g * cos(s, h), g learned",
                                        cosine_create, free, cosine_scratch, cosine_forward, cosine_backward};

/* The core registers these when it loads this file (as model.plugin, or
 * for another model as one of model.scorer_plugins), before create(). */
TR_SCORERS_DEFINE(&cosine_scorer)

/* ==== 2. The model */

typedef struct tr_model {
    int Tx, Ty, Vt, H, A, pad_s, pad_t;
    tr_recurrent enc, dec; /* GRUs over one-hot tokens; the decoder's row Vt is the start input */
    tr_attn att;           /* the scorer model.attention names, over the encoder's states */
    size_t cmb_k, cmb_b, out_k, out_b; /* combine [2H,A] [A], output [A,Vt] [Vt] */
} tr_model;

/* Scratch: one function lays it out, for sizing (base NULL) and for use. */
typedef struct bufs {
    int32_t *tok_s, *tok_d, *tgt; /* [Tx,n] [Ty,n] [Ty,n] time-major; tgt -1 at padding */
    tr_recurrent_cache enc, dec;  /* the GRUs' states .h [T,n,H] and caches */
    tr_attn_cache att;            /* .values [n,Tx,H], .mask; .alpha [Ty,n,Tx], .ctx [Ty,n,H]; .dctx */
    float *cmb, *logits, *probs;   /* [Ty*n,A] [Ty*n,Vt] x2 */
    float *dcmb, *dpre, *dh0, *s;  /* gradients, contiguous (dbytes): zeroed at once by train(); s [n,H] */
    size_t dbytes, bytes;
} bufs;

static bufs layout(const tr_model *m, int n, void *base)
{
    bufs b;
    tr_arena a = {base, 0};
    const size_t N = (size_t)n, Tx = (size_t)m->Tx, R = (size_t)m->Ty * N, RA = R * (size_t)m->A;
    TR_TAKE(&a, b.tok_s, Tx * N);
    TR_TAKE(&a, b.tok_d, R);
    TR_TAKE(&a, b.tgt, R);
    tr_recurrent_take(&b.enc, &a, &m->enc, m->Tx, n);
    tr_recurrent_take(&b.dec, &a, &m->dec, m->Ty, n);
    tr_attn_take(&b.att, &a, &m->att, n, m->Ty, m->Tx);
    tr_arena_floats(&a, RA, &b.cmb, NULL);
    tr_arena_floats(&a, R * (size_t)m->Vt, &b.logits, &b.probs, NULL);
    const size_t d0 = a.used;
    tr_arena_floats(&a, RA, &b.dcmb, &b.dpre, NULL);
    tr_arena_floats(&a, N * (size_t)m->H, &b.dh0, &b.s, NULL);
    b.dbytes = a.used - d0;
    b.bytes = a.used;
    return b;
}

static size_t scratch_bytes(const tr_model *m, int n) { return layout(m, n, NULL).bytes; }

/* The encoder over the batch, the attention's values and the padding mask. */
static void encode(const tr_model *m, const float *P, bufs *b, const tr_batch *batch)
{
    const int n = batch->n, Tx = m->Tx, H = m->H;
    tr_tokens_time_major(b->tok_s, batch->src, n, Tx);
    tr_attn_mask_tokens(&b->att, batch->src, m->pad_s);
    tr_recurrent_forward(&m->enc, P, &b->enc, NULL, b->tok_s, NULL, NULL, Tx, n);
    tr_swap_batch_time(b->att.values, H, b->enc.h, H, Tx, n, H);
}

/* Attention and the attentional state for `steps` decoder states q
 * [steps,n,H]: alpha, ctx, then cmb = tanh([q, ctx] Wc + bc). */
static void attend(const tr_model *m, const float *P, bufs *b, const float *q, int n, int steps)
{
    const int H = m->H, R = steps * n;
    tr_attn_forward(&m->att, P, &b->att, q, steps);
    tr_dense_cat_forward(b->cmb, q, b->att.ctx, P + m->cmb_k, P + m->cmb_b, R, H, H, m->A);
    tr_act_forward(b->cmb, b->cmb, R * m->A, TR_ACT_TANH);
}

/* Forward + backward over a sub-batch: ADDS the gradient of the summed loss
 * into G (this thread's own buffer) and returns the summed loss. */
static tr_status train(const tr_model *m, const float *P, float *G, void *scratch, const tr_batch *batch,
                       double *loss, tr_error *err)
{
    (void)err;
    const int n = batch->n, Tx = m->Tx, Ty = m->Ty, H = m->H, A = m->A, R = Ty * n;
    bufs b = layout(m, n, scratch);
    encode(m, P, &b, batch);
    tr_decoder_inputs(b.tok_d, b.tgt, batch->tgt, n, Ty, m->Vt, m->pad_t); /* the start row, then y shifted */
    const float *h0 = b.enc.h + (size_t)(Tx - 1) * n * H;
    tr_recurrent_forward(&m->dec, P, &b.dec, NULL, b.tok_d, h0, NULL, Ty, n);
    attend(m, P, &b, b.dec.h, n, Ty);
    *loss = tr_dense_xent_forward(b.probs, b.logits, b.cmb, P + m->out_k, P + m->out_b, b.tgt, R, A, m->Vt);

    /* backward, in reverse order, into zeroed d* buffers */
    memset(b.dcmb, 0, b.dbytes);
    tr_dense_xent_backward(b.dcmb, G + m->out_k, G + m->out_b, b.logits, b.probs, b.tgt, b.cmb, P + m->out_k, 1.0f, R,
                           A, m->Vt);
    tr_act_backward(b.dpre, b.dcmb, b.cmb, R * A, TR_ACT_TANH);
    memset(b.dec.dh, 0, (size_t)R * H * sizeof(float));
    tr_dense_cat_backward(b.dec.dh, b.att.dctx, G + m->cmb_k, G + m->cmb_b, b.dpre, b.dec.h, b.att.ctx, P + m->cmb_k,
                          R, H, H, A);
    tr_attn_backward(&m->att, P, G, &b.att, b.dec.dh);
    tr_recurrent_backward(&m->dec, P, G, &b.dec, b.dec.dh, NULL, b.dh0);
    tr_swap_batch_time(b.enc.dh, H, b.att.dvalues, H, n, Tx, H); /* values back to time-major */
    tr_add_inplace(b.enc.dh + (size_t)(Tx - 1) * n * H, b.dh0, (long)n * H); /* and the decoder's initial state */
    tr_recurrent_backward(&m->enc, P, G, &b.enc, b.enc.dh, NULL, NULL);
    return TR_OK;
}

/* Greedy prediction: feed back the argmax. Fills tokens [n,Ty] and the
 * attention maps [n,Ty,Tx] (axes "sample,target,source") when asked; the
 * core writes the maps to attention.h5. */
static tr_status predict(const tr_model *m, const float *P, void *scratch, const tr_batch *batch, tr_prediction *out,
                         tr_error *err)
{
    (void)err;
    const int n = batch->n, Tx = m->Tx, Ty = m->Ty, H = m->H;
    bufs b = layout(m, n, scratch);
    encode(m, P, &b, batch);
    tr_decoder_inputs(b.tok_d, NULL, NULL, n, 1, m->Vt, m->pad_t); /* the start row */
    for (int y = 0; y < Ty; y++) { /* from the encoder's last state, then the decoder's */
        const float *s = y ? b.s : b.enc.h + (size_t)(Tx - 1) * n * H;
        tr_recurrent_forward(&m->dec, P, &b.dec, NULL, b.tok_d, s, NULL, 1, n);
        attend(m, P, &b, b.dec.h, n, 1);
        tr_dense_forward(b.logits, b.cmb, P + m->out_k, P + m->out_b, n, m->A, m->Vt);
        tr_greedy_step(out, b.tok_d, b.logits, b.att.alpha, y, n, Ty, Tx, m->Vt, -1, 0); /* argmax: the next input */
        memcpy(b.s, b.dec.h, (size_t)n * H * sizeof(float));
    }
    return TR_OK;
}

/* The keys this plugin accepts under `model:`: type, default, range (or an enum's choices), help.
 * The core checks them against the config and says where a value is wrong. */
static const tr_option_spec options[] = {
    {"hidden_units", TR_OPT_INT, "64", "[1,)", "GRU units of the encoder and the decoder"},
    {"attentional_units", TR_OPT_INT, "64", "[1,)", "units of tanh([s, c] Wc + bc)"},
    {"attention", TR_OPT_STRING, "cosine", NULL, "attention scorer: cosine, dot, general, scaled_dot, additive, ..."},
    {"attention_units", TR_OPT_INT, "32", "[1,)", "hidden units of scorers that have them (additive)"},
};
enum { OPT_HIDDEN, OPT_ATTENTIONAL, OPT_ATTENTION, OPT_ATTENTION_UNITS };

static void destroy(tr_model *m)
{
    if (m)
        tr_attn_free(&m->att);
    free(m);
}

static tr_status create(tr_model **out, tr_registry *reg, const tr_model_info *info, tr_error *err)
{
    const tr_option_value *o = info->options;
    if (info->src_len < 1 || info->tgt_len < 1 || info->src_vocab < 1 || info->tgt_vocab < 1)
        return tr_error_set(err, TR_ERR_CONFIG, "luong_attn needs token sequences (char_pairs, word_pairs)");
    tr_model *m = calloc(1, sizeof *m);
    if (!m)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    *m = (tr_model){.Tx = info->src_len, .Ty = info->tgt_len, .Vt = info->tgt_vocab, .pad_s = info->src_pad,
                    .pad_t = info->tgt_pad, .H = (int)o[OPT_HIDDEN].i, .A = (int)o[OPT_ATTENTIONAL].i};
    const int H = m->H;
    /* Drawn by the core from (run.seed, tensor name): GRU kernels U(-1, 1), recurrent orthogonal, biases 0 */
    const tr_init gru[3] = {{TR_INIT_UNIFORM, -1.0f, 1.0f}, {TR_INIT_ORTHOGONAL, 1, 0}, {TR_INIT_ZEROS, 0, 0}};
    tr_status s = tr_recurrent_add(&m->enc, reg, "encoder", TR_CELL_GRU, info->src_vocab, 1, H, gru, err);
    if (!s) s = tr_recurrent_add(&m->dec, reg, "decoder", TR_CELL_GRU, m->Vt + 1, 1, H, gru, err);
    if (!s) s = tr_attn_add(&m->att, reg, "attention", o[OPT_ATTENTION].s, "model.attention", H, H,
                            (int)o[OPT_ATTENTION_UNITS].i, err);
    if (!s) s = tr_param_add_dense(reg, "combine", 2 * H, m->A, &m->cmb_k, &m->cmb_b, err);
    if (!s) s = tr_param_add_dense(reg, "output", m->A, m->Vt, &m->out_k, &m->out_b, err);
    if (s)
        destroy(m);
    else
        *out = m;
    return s;
}

static const tr_plugin descriptor = {
    .size = sizeof(tr_plugin), .abi_version = TR_ABI_VERSION, .name = "luong_attn", .version = "1.1.0",
    .description = "template: GRU seq2seq, Luong attentional layer, cosine (or any registered) scorer",
    .options = options, .n_options = (int)(sizeof options / sizeof options[0]),
    .attention_axes = "sample,target,source", .create = create, .destroy = destroy,
    .scratch_bytes = scratch_bytes, .train = train, .predict = predict,
};

TR_PLUGIN_DEFINE(descriptor)

/* seq2seq.c - the seed's plain seq2seq (seed 004): a tanh RNN encoder-decoder
 * over one-hot characters, no attention; written only against the installed
 * headers, like examples/plugin_template.
 *
 *   encoder: h_t = tanh(x_t We + h_{t-1} Ue + be), t < Tx     (one-hot x_t: row x_t of We)
 *   decoder: s_i = tanh(y_{i-1} Wd + s_{i-1} Ud + bd), s_{-1} = h_{Tx-1}, y_{-1} = S
 *   p_i = softmax(s_i Wo + bo);  loss = sum_i -log p_i(target_i)
 *
 * The vocabulary is the seed's: S (start), E (end), P (padding: the data's
 * <pad>), a-z. Targets are the word, padding, then E in the last place, and
 * every place counts in the loss (the seed's CrossEntropyLoss over all of
 * them). Training feeds the decoder S and the target (teacher forcing).
 * predict() feeds it its own outputs (model.feed: own), or, as the seed's
 * test does, S then padding (model.feed: padding); the answer ends at the
 * first E or P. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "trainer/trainer.h"

typedef struct tr_model {
    int Tx, Ty, V, H, S, E, P, feed_own;
    tr_recurrent enc, dec; /* tanh RNNs over one-hot tokens: kernels [V,H] (a row lookup), [H,H], bias [H] */
    size_t Wo, bo;         /* [H,V] [V] */
} tr_model;

typedef struct bufs {
    int32_t *xs, *ys, *tgt;       /* [Tx,n] [Ty,n] [Ty,n]: encoder and decoder inputs, targets (time-major) */
    tr_recurrent_cache enc, dec;  /* the states .h [T,n,H], a .dh for their gradients */
    float *logits, *probs, *s;    /* [Ty*n,V] x2, [n,H] */
    size_t bytes;
} bufs;

/* One function lays the scratch out, for sizing (base NULL) and for use. */
static bufs layout(const tr_model *m, int n, void *base)
{
    bufs b;
    tr_arena a = {base, 0};
    const size_t Y = (size_t)m->Ty * n;
    TR_TAKE(&a, b.xs, (size_t)m->Tx * n);
    TR_TAKE(&a, b.ys, Y);
    TR_TAKE(&a, b.tgt, Y);
    tr_recurrent_take(&b.enc, &a, &m->enc, m->Tx, n);
    tr_recurrent_take(&b.dec, &a, &m->dec, m->Ty, n);
    tr_arena_floats(&a, Y * m->V, &b.logits, &b.probs, NULL);
    tr_arena_floats(&a, (size_t)n * m->H, &b.s, NULL);
    b.bytes = a.used;
    return b;
}

static size_t scratch_bytes(const tr_model *m, int n) { return layout(m, n, NULL).bytes; }

/* The encoder over batch->src; its last state in enc.h + (Tx-1) n H. */
static void encode(const tr_model *m, const float *P, bufs *b, const tr_batch *batch)
{
    tr_tokens_time_major(b->xs, batch->src, batch->n, m->Tx);
    tr_recurrent_forward(&m->enc, P, &b->enc, NULL, b->xs, NULL, NULL, m->Tx, batch->n);
}

static tr_status train(const tr_model *m, const float *P, float *G, void *scratch, const tr_batch *batch,
                       double *loss, tr_error *err)
{
    (void)err;
    const int n = batch->n, Ty = m->Ty, H = m->H, V = m->V, R = Ty * n;
    const size_t last = (size_t)(m->Tx - 1) * n * H;
    bufs b = layout(m, n, scratch);
    encode(m, P, &b, batch);
    tr_decoder_inputs(b.ys, NULL, batch->tgt, n, Ty, m->S, m->P); /* S, then the target shifted right */
    tr_tokens_time_major(b.tgt, batch->tgt, n, Ty);
    for (int i = 0; i < n; i++)
        b.tgt[(size_t)(Ty - 1) * n + i] = m->E; /* the word, padding, then E */
    tr_recurrent_forward(&m->dec, P, &b.dec, NULL, b.ys, b.enc.h + last, NULL, Ty, n);
    *loss = tr_dense_xent_forward(b.probs, b.logits, b.dec.h, P + m->Wo, P + m->bo, b.tgt, R, H, V);

    /* backward, in reverse order; each d buffer starts at zero */
    memset(b.dec.dh, 0, (size_t)R * H * sizeof(float));
    tr_dense_xent_backward(b.dec.dh, G + m->Wo, G + m->bo, b.logits, b.probs, b.tgt, b.dec.h, P + m->Wo, 1.0f, R, H,
                           V);
    memset(b.enc.dh, 0, (size_t)m->Tx * n * H * sizeof(float)); /* the decoder's s_{-1} is the encoder's last state */
    tr_recurrent_backward(&m->dec, P, G, &b.dec, b.dec.dh, NULL, b.enc.dh + last);
    tr_recurrent_backward(&m->enc, P, G, &b.enc, b.enc.dh, NULL, NULL);
    return TR_OK;
}

/* Greedy, one step at a time from the encoder's last state. */
static tr_status predict(const tr_model *m, const float *P, void *scratch, const tr_batch *batch, tr_prediction *out,
                         tr_error *err)
{
    (void)err;
    const int n = batch->n, H = m->H, V = m->V;
    bufs b = layout(m, n, scratch);
    encode(m, P, &b, batch);
    int32_t *in = b.ys, *best = b.xs, *done = b.tgt; /* the encoder's inputs are no longer needed */
    memcpy(b.s, b.enc.h + (size_t)(m->Tx - 1) * n * H, (size_t)n * H * sizeof(float));
    for (int i = 0; i < n; i++)
        in[i] = m->S, done[i] = 0;
    for (int y = 0; y < m->Ty; y++) {
        tr_recurrent_forward(&m->dec, P, &b.dec, NULL, in, b.s, NULL, 1, n);
        tr_dense_forward(b.logits, b.dec.h, P + m->Wo, P + m->bo, n, H, V);
        tr_argmax_rows(best, 1, b.logits, n, V);
        for (int i = 0; i < n; i++) {
            done[i] |= best[i] == m->E || best[i] == m->P; /* the answer ends there */
            if (out->tokens)
                out->tokens[(size_t)i * m->Ty + y] = done[i] ? m->P : best[i];
            in[i] = m->feed_own ? best[i] : m->P;
        }
        memcpy(b.s, b.dec.h, (size_t)n * H * sizeof(float));
    }
    return TR_OK;
}

static const tr_option_spec options[] = {
    {"hidden_units", TR_OPT_INT, "128", "[1,)", "RNN units of the encoder and the decoder"},
    {"feed", TR_OPT_ENUM, "own", "own|padding", "predict: feed the decoder its outputs, or S then P (the seed)"},
};

/* The id of a one-character token, or -1. */
static int id_of(const tr_model_info *info, const char *tok)
{
    for (int i = 0; i < info->tgt_vocab && TR_HAS_FIELD(info, tr_model_info, tgt_tokens) && info->tgt_tokens; i++)
        if (strcmp(info->tgt_tokens[i], tok) == 0)
            return i;
    return -1;
}

static tr_status create(tr_model **out, tr_registry *reg, const tr_model_info *info, tr_error *err)
{
    const int H = (int)info->options[0].i, V = info->tgt_vocab;
    const int S = id_of(info, "S"), E = id_of(info, "E");
    if (info->src_vocab != V || S < 0 || E < 0 || info->tgt_pad < 0)
        return tr_error_set(err, TR_ERR_CONFIG, "seq2seq needs one vocabulary for both sides with the tokens S, E "
                                                "and <pad> (examples/plain_seq2seq/vocabs.json)");
    tr_model *m = calloc(1, sizeof *m);
    if (!m)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    *m = (tr_model){.Tx = info->src_len, .Ty = info->tgt_len, .V = V, .H = H, .S = S, .E = E, .P = info->tgt_pad,
                    .feed_own = info->options[1].i == 0};
    /* PyTorch's nn.RNN and nn.Linear: U(-1/sqrt(H), 1/sqrt(H)) everywhere */
    const float k = 1.0f / sqrtf((float)H);
    const tr_init u = {TR_INIT_UNIFORM, -k, k};
    const tr_init rnn[3] = {u, u, u};
    tr_status s = tr_recurrent_add(&m->enc, reg, "encoder", TR_CELL_RNN, V, 1, H, rnn, err);
    if (!s) s = tr_recurrent_add(&m->dec, reg, "decoder", TR_CELL_RNN, V, 1, H, rnn, err);
    if (!s) s = tr_param_add(reg, "output.kernel", 2, (int[]){H, V}, u, &m->Wo, err);
    if (!s) s = tr_param_add(reg, "output.bias", 1, (int[]){V}, u, &m->bo, err);
    if (s)
        free(m);
    else
        *out = m;
    return s;
}

static void destroy(tr_model *m) { free(m); }

static const tr_plugin descriptor = {
    .size = sizeof(tr_plugin),
    .abi_version = TR_ABI_VERSION,
    .name = "seq2seq",
    .version = "1.0.0",
    .description = "the seed's plain seq2seq: tanh RNN encoder-decoder over one-hot characters, no attention",
    .options = options,
    .n_options = (int)(sizeof options / sizeof options[0]),
    .create = create,
    .destroy = destroy,
    .scratch_bytes = scratch_bytes,
    .train = train,
    .predict = predict,
};

TR_PLUGIN_DEFINE(descriptor)

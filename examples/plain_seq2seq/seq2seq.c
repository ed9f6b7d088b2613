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
    size_t We, Ue, be, Wd, Ud, bd, Wo, bo; /* [V,H] [H,H] [H] x2, [H,V] [V] */
} tr_model;

typedef struct bufs {
    int32_t *xs, *ys, *tgt;        /* [Tx,n] [Ty,n] [Ty,n]: encoder and decoder inputs, targets (time-major) */
    float *he, *hd, *logits, *probs; /* [Tx,n,H] [Ty,n,H] [Ty*n,V] x2 */
    float *dhd, *dhe, *dxd, *dxe;   /* gradients of the states and of the inputs' rows */
    size_t bytes;
} bufs;

/* One function lays the scratch out, for sizing (base NULL) and for use. */
static bufs layout(const tr_model *m, int n, unsigned char *base)
{
    bufs b;
    size_t off = 0;
    const size_t X = (size_t)m->Tx * n, Y = (size_t)m->Ty * n, H = (size_t)m->H;
#define TAKE(p, count) (p = (void *)(base ? base + off : NULL), off += ((count) * 4 + 63) / 64 * 64)
    TAKE(b.xs, X); TAKE(b.ys, Y); TAKE(b.tgt, Y);
    TAKE(b.he, X * H); TAKE(b.hd, Y * H); TAKE(b.logits, Y * m->V); TAKE(b.probs, Y * m->V);
    TAKE(b.dhd, Y * H); TAKE(b.dhe, X * H); TAKE(b.dxd, Y * H); TAKE(b.dxe, X * H);
#undef TAKE
    b.bytes = off;
    return b;
}

static size_t scratch_bytes(const tr_model *m, int n) { return layout(m, n, NULL).bytes; }

/* rows[T,n]: token t of sample i at [t * n + i] */
static void time_major(int32_t *rows, const int32_t *tok, int n, int T)
{
    for (int t = 0; t < T; t++)
        for (int i = 0; i < n; i++)
            rows[(size_t)t * n + i] = tok[(size_t)i * T + t];
}

/* The encoder over batch->src; its last state in he + (Tx-1) n H. */
static void encode(const tr_model *m, const float *P, bufs *b, const tr_batch *batch)
{
    const int n = batch->n;
    time_major(b->xs, batch->src, n, m->Tx);
    tr_embedding_forward(b->dxe, b->xs, P + m->We, m->Tx * n, m->H); /* x_t We, in dxe until backward */
    tr_rnn_forward(b->he, b->dxe, NULL, P + m->Ue, P + m->be, m->Tx, n, m->H);
}

static tr_status train(const tr_model *m, const float *P, float *G, void *scratch, const tr_batch *batch,
                       double *loss, tr_error *err)
{
    (void)err;
    const int n = batch->n, Ty = m->Ty, H = m->H, V = m->V;
    const size_t R = (size_t)Ty * n, last = (size_t)(m->Tx - 1) * n * H;
    bufs b = layout(m, n, scratch);
    encode(m, P, &b, batch);
    time_major(b.tgt, batch->tgt, n, Ty);
    for (int i = 0; i < n; i++) {
        b.ys[i] = m->S; /* decoder inputs: S, then the target shifted right */
        for (int y = 1; y < Ty; y++)
            b.ys[(size_t)y * n + i] = b.tgt[(size_t)(y - 1) * n + i];
        b.tgt[(size_t)(Ty - 1) * n + i] = m->E; /* the word, padding, then E */
    }
    tr_embedding_forward(b.dxd, b.ys, P + m->Wd, Ty * n, H);
    tr_rnn_forward(b.hd, b.dxd, b.he + last, P + m->Ud, P + m->bd, Ty, n, H);
    tr_dense_forward(b.logits, b.hd, P + m->Wo, P + m->bo, (int)R, H, V);
    *loss = tr_softmax_xent_forward(b.probs, b.logits, b.tgt, (int)R, V);

    /* backward, in reverse order; each d buffer starts at zero */
    memset(b.logits, 0, R * V * sizeof(float));
    tr_softmax_xent_backward(b.logits, b.probs, b.tgt, 1.0f, (int)R, V);
    memset(b.dhd, 0, R * H * sizeof(float));
    tr_dense_backward(b.dhd, G + m->Wo, G + m->bo, b.logits, b.hd, P + m->Wo, (int)R, H, V);
    memset(b.dhe, 0, (size_t)m->Tx * n * H * sizeof(float)); /* the decoder's s_{-1} is the encoder's last state */
    tr_rnn_backward(b.dxd, b.dhe + last, G + m->Ud, G + m->bd, b.dhd, b.hd, b.he + last, P + m->Ud, Ty, n, H);
    tr_embedding_backward(G + m->Wd, b.dxd, b.ys, Ty * n, H);
    tr_rnn_backward(b.dxe, NULL, G + m->Ue, G + m->be, b.dhe, b.he, NULL, P + m->Ue, m->Tx, n, H);
    tr_embedding_backward(G + m->We, b.dxe, b.xs, m->Tx * n, H);
    return TR_OK;
}

/* Greedy, one step at a time: hd holds s_{i-1}, then s_i. */
static tr_status predict(const tr_model *m, const float *P, void *scratch, const tr_batch *batch, tr_prediction *out,
                         tr_error *err)
{
    (void)err;
    const int n = batch->n, H = m->H, V = m->V;
    bufs b = layout(m, n, scratch);
    encode(m, P, &b, batch);
    float *s = b.he + (size_t)(m->Tx - 1) * n * H, *x = b.dxd;
    int32_t *in = b.ys, *done = b.tgt;
    for (int i = 0; i < n; i++)
        in[i] = m->S, done[i] = 0;
    for (int y = 0; y < m->Ty; y++) {
        tr_embedding_forward(x, in, P + m->Wd, n, H);
        tr_rnn_forward(b.hd, x, s, P + m->Ud, P + m->bd, 1, n, H);
        tr_dense_forward(b.logits, b.hd, P + m->Wo, P + m->bo, n, H, V);
        for (int i = 0; i < n; i++) {
            const float *l = b.logits + (size_t)i * V;
            int best = 0;
            for (int v = 1; v < V; v++)
                if (l[v] > l[best]) best = v;
            done[i] |= best == m->E || best == m->P; /* the answer ends there */
            if (out->tokens)
                out->tokens[(size_t)i * m->Ty + y] = done[i] ? m->P : best;
            in[i] = m->feed_own ? best : m->P;
        }
        memcpy(b.dhd, b.hd, (size_t)n * H * sizeof(float));
        s = b.dhd;
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
    tr_status s = tr_param_add(reg, "encoder.kernel", 2, (int[]){V, H}, u, &m->We, err);
    if (!s) s = tr_param_add(reg, "encoder.recurrent_kernel", 2, (int[]){H, H}, u, &m->Ue, err);
    if (!s) s = tr_param_add(reg, "encoder.bias", 1, (int[]){H}, u, &m->be, err);
    if (!s) s = tr_param_add(reg, "decoder.kernel", 2, (int[]){V, H}, u, &m->Wd, err);
    if (!s) s = tr_param_add(reg, "decoder.recurrent_kernel", 2, (int[]){H, H}, u, &m->Ud, err);
    if (!s) s = tr_param_add(reg, "decoder.bias", 1, (int[]){H}, u, &m->bd, err);
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

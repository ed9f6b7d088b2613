/* core/layers/recurrent.c - a recurrent layer as one object
 * (trainer/recurrent.h, ABI 1.6): its tensors, the input part (a lookup or
 * x.W, plus the bias) and the recurrence, in the order the plugins that
 * called the layer functions themselves did, so their bits do not change. */
#include "trainer/recurrent.h"

#include <stdio.h>
#include <string.h>

static int gate_width(const tr_recurrent *l)
{
    return l->cell == TR_CELL_LSTM ? 4 * l->units : l->cell == TR_CELL_GRU ? 3 * l->units : l->units;
}

tr_status tr_recurrent_add(tr_recurrent *l, tr_registry *reg, const char *prefix, tr_cell cell, int inputs,
                           int tokens, int units, const tr_init *inits, tr_error *err)
{
    if (cell != TR_CELL_RNN && cell != TR_CELL_GRU && cell != TR_CELL_LSTM)
        return tr_error_set(err, TR_ERR_CONFIG, "%s: unknown recurrent cell %d", prefix, (int)cell);
    if (inputs < 1 || units < 1)
        return tr_error_set(err, TR_ERR_CONFIG, "%s: inputs and units must be >= 1 (%d, %d)", prefix, inputs, units);
    memset(l, 0, sizeof *l);
    l->cell = cell;
    l->inputs = inputs;
    l->tokens = tokens != 0;
    l->units = units;
    l->recurrent_act = TR_ACT_SIGMOID;
    const int H = units, G = gate_width(l);
    const tr_init glorot = {TR_INIT_GLOROT_UNIFORM, 0, 0}, ortho = {TR_INIT_ORTHOGONAL, 1, 0},
                  bias = {cell == TR_CELL_LSTM ? TR_INIT_LSTM_BIAS : TR_INIT_ZEROS, 0, 0};
    const tr_init ki = inits ? inits[0] : glorot, ri = inits ? inits[1] : ortho, bi = inits ? inits[2] : bias;
    char name[TR_MAX_NAME];
    snprintf(name, sizeof name, "%s.kernel", prefix);
    tr_status s = tr_param_add(reg, name, 2, (int[]){inputs, G}, ki, &l->kernel, err);
    snprintf(name, sizeof name, "%s.recurrent_kernel", prefix);
    if (!s) s = tr_param_add(reg, name, 2, (int[]){H, G}, ri, &l->recurrent_kernel, err);
    snprintf(name, sizeof name, "%s.bias", prefix);
    if (!s) s = tr_param_add(reg, name, 1, (int[]){G}, bi, &l->bias, err);
    snprintf(name, sizeof name, "%s.recurrent_bias", prefix);
    if (!s && cell == TR_CELL_GRU) s = tr_param_add(reg, name, 1, (int[]){G}, bi, &l->recurrent_bias, err);
    return s;
}

void tr_recurrent_take(tr_recurrent_cache *c, tr_arena *a, const tr_recurrent *l, int T, int B)
{
    const size_t TB = (size_t)(T > 0 ? T : 0) * (size_t)(B > 0 ? B : 0), H = (size_t)l->units,
                 G = (size_t)gate_width(l);
    memset(c, 0, sizeof *c);
    TR_TAKE(a, c->h, TB * H);
    TR_TAKE(a, c->dh, TB * H);
    TR_TAKE(a, c->dxw, TB * G);
    TR_TAKE(a, c->work, (size_t)(B > 0 ? B : 0) * 3 * H);
    if (l->cell != TR_CELL_RNN)
        TR_TAKE(a, c->gates, TB * G);
    if (l->cell == TR_CELL_LSTM)
        TR_TAKE(a, c->c, TB * H);
    if (l->cell == TR_CELL_GRU)
        TR_TAKE(a, c->hn, TB * H);
}

void tr_recurrent_forward(const tr_recurrent *l, const float *P, tr_recurrent_cache *c, const float *x,
                          const int32_t *tokens, const float *h0, const int32_t *lengths, int T, int B)
{
    const int H = l->units, G = gate_width(l), R = T * B;
    c->x = x;
    c->tokens = tokens;
    c->h0 = h0;
    c->lengths = lengths;
    c->T = T;
    c->B = B;
    /* the input part: into the gate cache, where the cell activates it in
     * place (an RNN's goes to dxw, free until backward; its bias is Wh's) */
    float *xw = l->cell == TR_CELL_RNN ? c->dxw : c->gates;
    const float *bias = l->cell == TR_CELL_RNN ? NULL : P + l->bias;
    if (l->tokens)
        tr_lookup_forward(xw, tokens, P + l->kernel, bias, R, G);
    else
        tr_dense_forward(xw, x, P + l->kernel, bias, R, l->inputs, G);
    const float *Wh = P + l->recurrent_kernel;
    if (l->cell == TR_CELL_LSTM)
        tr_lstm_forward_len(c->h, c->c, c->gates, c->gates, Wh, T, B, H, l->reverse, l->recurrent_act, lengths);
    else if (l->cell == TR_CELL_GRU)
        tr_gru_forward_len(c->h, c->gates, c->hn, c->gates, h0, Wh, P + l->recurrent_bias, T, B, H, lengths);
    else
        tr_rnn_forward(c->h, c->dxw, h0, Wh, P + l->bias, T, B, H);
}

void tr_recurrent_backward(const tr_recurrent *l, const float *P, float *G, tr_recurrent_cache *c, float *dh,
                           float *dx, float *dh0)
{
    const int H = l->units, Gw = gate_width(l), T = c->T, B = c->B, R = T * B;
    const float *Wh = P + l->recurrent_kernel;
    float *dWh = G + l->recurrent_kernel;
    if (l->cell == TR_CELL_LSTM)
        tr_lstm_backward_len(c->dxw, dWh, dh, c->h, c->c, c->gates, Wh, c->work, T, B, H, l->reverse,
                             l->recurrent_act, c->lengths);
    else if (l->cell == TR_CELL_GRU)
        tr_gru_backward_len(c->dxw, dh0, dWh, G + l->recurrent_bias, dh, c->h, c->gates, c->hn, c->h0, Wh, c->work,
                            T, B, H, c->lengths);
    else
        tr_rnn_backward(c->dxw, dh0, dWh, G + l->bias, dh, c->h, c->h0, Wh, T, B, H);
    float *dbias = l->cell == TR_CELL_RNN ? NULL : G + l->bias;
    if (l->tokens)
        tr_lookup_backward(G + l->kernel, dbias, c->dxw, c->tokens, R, Gw);
    else
        tr_dense_backward(dx, G + l->kernel, dbias, c->dxw, c->x, P + l->kernel, R, l->inputs, Gw);
}

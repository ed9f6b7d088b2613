/* trainer/recurrent.h - a recurrent layer as one object (ABI 1.6).
 *
 * What every sequence plugin wrote around tr_lstm_*, tr_gru_* and tr_rnn_*:
 * registering the kernel, recurrent kernel and biases; the input part
 * (a token lookup or x.W, plus the bias); the recurrence over a padded
 * batch; and the same backwards. One call each:
 *
 *     tr_recurrent enc;                        // in the model, from create()
 *     tr_recurrent_add(&enc, reg, "encoder", TR_CELL_GRU, vocab, 1, H, NULL, err);
 *     tr_recurrent_cache c;                    // in the scratch layout
 *     tr_recurrent_take(&c, &arena, &enc, T, n);
 *     tr_recurrent_forward(&enc, P, &c, NULL, tokens, NULL, lengths, T, n);   // c.h [T,n,H]
 *     tr_recurrent_backward(&enc, P, G, &c, dh, NULL, NULL);                   // dh [T,n,H]
 *
 * The arithmetic is that of the layer functions (trainer/layers.h), in the
 * same order: a plugin that called them gets the same bits from this. */
#ifndef TRAINER_RECURRENT_H
#define TRAINER_RECURRENT_H

#include <stddef.h>
#include <stdint.h>
#include "trainer/export.h"
#include "trainer/layers.h"
#include "trainer/params.h"
#include "trainer/scratch.h"
#include "trainer/status.h"

TR_EXTERN_C_BEGIN

/* Append-only. */
typedef enum tr_cell {
    TR_CELL_RNN = 0,  /* tanh RNN: h = tanh(x W + h Wh + b)            (tr_rnn_forward) */
    TR_CELL_GRU = 1,  /* GRU, reset after, gates z, r, n               (tr_gru_forward) */
    TR_CELL_LSTM = 2, /* LSTM (Keras), gates i, f, c, o                (tr_lstm_forward) */
} tr_cell;

typedef struct tr_recurrent {
    tr_cell cell;
    int inputs;           /* input width; with tokens, the vocabulary (the kernel's rows) */
    int tokens;           /* 1: inputs are token ids, the kernel a lookup table */
    int units;            /* H */
    int reverse;          /* LSTM: run each sample from its last real step back to 0 */
    tr_act recurrent_act; /* LSTM gates: TR_ACT_SIGMOID (set by add), or TR_ACT_HARD_SIGMOID */
    /* offsets of prefix.kernel [inputs, G], .recurrent_kernel [H, G],
     * .bias [G] (RNN: [H], the recurrent bias) and, GRU only,
     * .recurrent_bias [G]; G = H (RNN), 3H (GRU), 4H (LSTM) */
    size_t kernel, recurrent_kernel, bias, recurrent_bias;
} tr_recurrent;

/* Registers the layer's tensors under prefix, in the order kernel,
 * recurrent_kernel, bias(, recurrent_bias). inits[3]: for the kernel, the
 * recurrent kernel and the biases; NULL: Glorot uniform, orthogonal, and
 * zeros (LSTM: the forget gate's bias 1, TR_INIT_LSTM_BIAS). */
TR_API tr_status tr_recurrent_add(tr_recurrent *l, tr_registry *reg,
                                  const char *prefix, tr_cell cell,
                                  int inputs, int tokens, int units,
                                  const tr_init *inits, tr_error *err);

/* One call's activations and caches (laid out by tr_recurrent_take). */
typedef struct tr_recurrent_cache {
    float *h;     /* [T,B,H] the states: the layer's output */
    float *gates; /* [T,B,G] activated gates (GRU, LSTM) */
    float *c;     /* [T,B,H] LSTM cells */
    float *hn;    /* [T,B,H] GRU: h.Wh_n + bh_n */
    float *dxw;   /* [T,B,G] d(x.W + b) in backward (RNN: x.W in forward too) */
    float *dh;    /* [T,B,H] for the caller: d(loss)/d(h) to hand to backward */
    float *work;  /* [B,3H] */
    /* what forward was given, read by backward */
    const float *x;
    const int32_t *tokens, *lengths;
    const float *h0;
    int T, B;
} tr_recurrent_cache;

/* The cache of one call over up to T steps of B samples, from the arena. */
TR_API void tr_recurrent_take(tr_recurrent_cache *c, tr_arena *a,
                              const tr_recurrent *l, int T, int B);

/* The layer over T steps of B samples, time-major: x[T,B,inputs], or
 * tokens[T,B] when l->tokens; h0[B,H] the initial state (GRU, RNN; NULL
 * zeros; an LSTM starts from zeros); lengths[B] or NULL, as the _len
 * functions of layers.h (GRU and LSTM; an RNN runs every step). Writes
 * c->h. x, tokens, h0 and lengths are read again by backward: keep them. */
TR_API void tr_recurrent_forward(const tr_recurrent *l, const float *P,
                                 tr_recurrent_cache *c, const float *x,
                                 const int32_t *tokens, const float *h0,
                                 const int32_t *lengths, int T, int B);

/* dh[T,B,H]: d(loss)/d(c->h) from outside the layer (used as scratch).
 * Accumulates the layer's gradients into G, dx[T,B,inputs] (dense inputs;
 * NULL: not wanted) and dh0[B,H] (NULL: not wanted). */
TR_API void tr_recurrent_backward(const tr_recurrent *l, const float *P,
                                  float *G, tr_recurrent_cache *c, float *dh,
                                  float *dx, float *dh0);

TR_EXTERN_C_END

#endif

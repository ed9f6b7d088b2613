/* trainer/layers.h - layers as plain functions, forward and backward.
 *
 * Conventions (llm.c style):
 *  - outputs first, then inputs, then parameters, dimensions last;
 *  - row-major, the last dimension contiguous; shapes in the comments;
 *  - backward functions ACCUMULATE (+=) into every d* buffer they are given,
 *    so a tensor used twice gets both contributions; a NULL d* is skipped;
 *  - no allocation, no threads inside: callers parallelise over samples, and
 *    GEMMs go to single-threaded BLAS.
 * Dense kernels use Keras' layout [inputs, outputs]. */
#ifndef TRAINER_LAYERS_H
#define TRAINER_LAYERS_H

#include <stddef.h>
#include <stdint.h>
#include "trainer/export.h"

TR_EXTERN_C_BEGIN

/* ---- dense: out = in . W + b */

/* out[N,O] = in[N,In] . W[In,O] + b[O]   (b may be NULL)
 * (not "I": <complex.h>, which OpenBLAS' <cblas.h> includes, defines I) */
TR_API void tr_dense_forward(float *out, const float *in, const float *W,
                             const float *b, int N, int In, int O);
/* din[N,In] += dout . W^T ; dW[In,O] += in^T . dout ; db[O] += sum_n dout */
TR_API void tr_dense_backward(float *din, float *dW, float *db,
                              const float *dout, const float *in,
                              const float *W, int N, int In, int O);

/* ---- embedding (= one-hot input times a kernel): out[n] = table[tok[n]] */

/* out[N,D] = table[tokens[n], :] */
TR_API void tr_embedding_forward(float *out, const int32_t *tokens,
                                 const float *table, int N, int D);
/* dtable[tokens[n], :] += dout[n, :] */
TR_API void tr_embedding_backward(float *dtable, const float *dout,
                                  const int32_t *tokens, int N, int D);

/* ---- element-wise activations; backward takes the forward OUTPUT y */

typedef enum tr_act {
    TR_ACT_LINEAR = 0,
    TR_ACT_SIGMOID = 1,
    TR_ACT_HARD_SIGMOID = 2, /* Keras 2: clip(0.2 x + 0.5, 0, 1) */
    TR_ACT_TANH = 3,
    TR_ACT_RELU = 4,
} tr_act;

/* y[n] = act(x[n]); y may equal x */
TR_API void tr_act_forward(float *y, const float *x, int n, tr_act act);
/* dx[n] += dy[n] * act'(x[n]), computed from y = act(x) */
TR_API void tr_act_backward(float *dx, const float *dy, const float *y, int n,
                            tr_act act);

/* ---- softmax over one axis of a [outer, len, inner] tensor */

/* y = softmax(x) along the middle axis; y may equal x */
TR_API void tr_softmax_forward(float *y, const float *x, int outer, int len,
                               int inner);
/* dx += y * (dy - sum_len(dy * y)) */
TR_API void tr_softmax_backward(float *dx, const float *dy, const float *y,
                                int outer, int len, int inner);

/* ---- LSTM (Keras): gates z = x.Wx + h.Wh + b, order i, f, c, o;
 * i, f, o = recurrent_act(z), g = tanh(z_c); c' = f c + i g; h' = o tanh(c').
 * The input part xw = x.Wx + b is computed by the caller (dense or
 * embedding), so one cell serves one-hot, embedded and dense inputs. */

/* One step.
 * h[B,H], c[B,H]: new state; gates[B,4H]: cache of the activated i,f,g,o.
 * xw[B,4H]: x.Wx + b (may be the same buffer as gates: computed in place);
 * h_prev, c_prev [B,H] (NULL = zeros); Wh[H,4H]. */
TR_API void tr_lstm_cell_forward(float *h, float *c, float *gates,
                                 const float *xw, const float *h_prev,
                                 const float *c_prev, const float *Wh, int B,
                                 int H, tr_act recurrent_act);
/* Backward of one step, given dh and dc (the gradients w.r.t. this step's h
 * and c, each already summed over every use). dc is used as scratch and left
 * unspecified. Accumulates dxw[B,4H], dh_prev[B,H], dc_prev[B,H], dWh[H,4H];
 * h_prev/c_prev NULL = zeros (then dh_prev/dc_prev are skipped). */
TR_API void tr_lstm_cell_backward(float *dxw, float *dh_prev, float *dc_prev,
                                  float *dWh, const float *dh, float *dc,
                                  const float *gates, const float *c,
                                  const float *h_prev, const float *c_prev,
                                  const float *Wh, int B, int H,
                                  tr_act recurrent_act);

/* A whole sequence, time-major: step t reads xw[t], writes h_seq[t], c_seq[t],
 * gates[t]. reverse != 0 runs t = T-1 .. 0 (the backward half of a
 * bidirectional layer; outputs stay at their own t). Initial state zeros.
 * h_seq, c_seq [T,B,H]; gates [T,B,4H]; xw [T,B,4H] (may equal gates). */
TR_API void tr_lstm_forward(float *h_seq, float *c_seq, float *gates,
                            const float *xw, const float *Wh, int T, int B,
                            int H, int reverse, tr_act recurrent_act);
/* dh_seq[T,B,H]: gradient w.r.t. every h_seq[t] from outside the layer
 * (modified: used as scratch). work[2*B*H] scratch. OVERWRITES dxw[T,B,4H]
 * with d(loss)/d(xw) (unlike other backward functions: it doubles as the
 * buffer for one large dWh GEMM); accumulates dWh. */
TR_API void tr_lstm_backward(float *dxw, float *dWh, float *dh_seq,
                             const float *h_seq, const float *c_seq,
                             const float *gates, const float *Wh, float *work,
                             int T, int B, int H, int reverse,
                             tr_act recurrent_act);

/* ---- GRU ("reset after", as PyTorch's nn.GRU and Keras 2.3+/TF2 with
 * reset_after=True), gate order z, r, n:
 *   z = sigmoid(xw_z + h.Wh_z + bh_z)      update gate
 *   r = sigmoid(xw_r + h.Wh_r + bh_r)      reset gate
 *   n = tanh(xw_n + r * (h.Wh_n + bh_n))   candidate
 *   h' = (1 - z) * n + z * h
 * xw = x.Wx + bx is computed by the caller (dense or embedding lookup). */

/* One step. h[B,H] new state; gates[B,3H] cache of z, r, n; hn[B,H] cache of
 * h_prev.Wh_n + bh_n. xw[B,3H]; h_prev[B,H] (NULL = zeros); Wh[H,3H]; bh[3H]. */
TR_API void tr_gru_cell_forward(float *h, float *gates, float *hn,
                                const float *xw, const float *h_prev,
                                const float *Wh, const float *bh, int B, int H);
/* Backward of one step given dh (gradient w.r.t. this step's h, summed over
 * its uses). work[B,3H] scratch. Accumulates dxw[B,3H], dh_prev[B,H],
 * dWh[H,3H], dbh[3H]; h_prev NULL = zeros (dh_prev skipped). */
TR_API void tr_gru_cell_backward(float *dxw, float *dh_prev, float *dWh,
                                 float *dbh, const float *dh,
                                 const float *gates, const float *hn,
                                 const float *h_prev, const float *Wh,
                                 float *work, int B, int H);

/* A whole sequence, time-major, t = 0 .. T-1, from initial state h0[B,H]
 * (NULL = zeros). h_seq[T,B,H]; gates[T,B,3H]; hn[T,B,H]; xw[T,B,3H]. */
TR_API void tr_gru_forward(float *h_seq, float *gates, float *hn,
                           const float *xw, const float *h0, const float *Wh,
                           const float *bh, int T, int B, int H);
/* dh_seq[T,B,H]: gradient w.r.t. every h_seq[t] from outside (used as
 * scratch). OVERWRITES dxw[T,B,3H] with d(loss)/d(xw) (one large dWh GEMM
 * at the end, as tr_lstm_backward); accumulates dh0[B,H] (if h0 and dh0 are
 * not NULL), dWh, dbh. work[B,3H] scratch. */
TR_API void tr_gru_backward(float *dxw, float *dh0, float *dWh, float *dbh,
                            float *dh_seq, const float *h_seq,
                            const float *gates, const float *hn,
                            const float *h0, const float *Wh, float *work,
                            int T, int B, int H);

/* ---- tanh RNN (Elman; PyTorch's nn.RNN), appended in ABI 1.5. A whole
 * sequence, time-major, t = 0 .. T-1:
 *   h_t = tanh(xw_t + h_{t-1} Wh + bh),   h_{-1} = h0 (NULL: zeros)
 * xw[T,B,H] = x_t W_ih (+ b_ih) from the caller (for one-hot inputs a row
 * lookup: tr_embedding_forward); Wh[H,H] (rows: the previous state's units),
 * bh[H]. Writes h_seq[T,B,H]. */
TR_API void tr_rnn_forward(float *h_seq, const float *xw, const float *h0, const float *Wh, const float *bh, int T,
                           int B, int H);
/* dh_seq[T,B,H]: the gradient w.r.t. every h_seq[t] from outside (used as
 * scratch). OVERWRITES dxw[T,B,H] with d(loss)/d(xw); accumulates dh0[B,H]
 * (if h0 and dh0 are not NULL), dWh[H,H], dbh[H]. */
TR_API void tr_rnn_backward(float *dxw, float *dh0, float *dWh, float *dbh, float *dh_seq, const float *h_seq,
                            const float *h0, const float *Wh, int T, int B, int H);

/* ---- attention pieces */

/* Additive (Bahdanau / concat) energies:
 *   hidden[b,t,:] = tanh(keys[b,t,:] + query[b,:])
 *   energy[b,t]   = hidden[b,t,:] . v + (vb ? *vb : 0)
 * keys[B,T,K] (= values.W, computed once per sequence), query[B,K]
 * (= s.U + bias, per decoder step), v[K], vb[1] or NULL. */
TR_API void tr_additive_energy_forward(float *energy, float *hidden,
                                       const float *keys, const float *query,
                                       const float *v, const float *vb, int B,
                                       int T, int K);
/* Accumulates dkeys[B,T,K], dquery[B,K], dv[K], dvb[1] from denergy[B,T]. */
TR_API void tr_additive_energy_backward(float *dkeys, float *dquery, float *dv,
                                        float *dvb, const float *denergy,
                                        const float *hidden, const float *v,
                                        int B, int T, int K);

/* Attention weights and context:
 *   alpha[b,:] = softmax over t of energy[b,t] (mask[b,t] == 0 -> weight 0;
 *                mask NULL = all valid; a row with no valid t gets all 0)
 *   ctx[b,:]   = sum_t alpha[b,t] * values[b,t,:]
 * energy, alpha [B,T]; values [B,T,D]; ctx [B,D]; mask [B,T] or NULL. */
TR_API void tr_attention_forward(float *ctx, float *alpha, const float *energy,
                                 const float *values, const uint8_t *mask,
                                 int B, int T, int D);
/* Accumulates denergy[B,T] and dvalues[B,T,D] from dctx[B,D]. */
TR_API void tr_attention_backward(float *denergy, float *dvalues,
                                  const float *dctx, const float *alpha,
                                  const float *values, int B, int T, int D);

/* ---- loss: softmax + categorical cross-entropy over C classes */

/* probs[N,C] = softmax(logits); returns sum_n -log(probs[n, target[n]]).
 * A target < 0 is ignored (no loss, no gradient): padding. */
TR_API double tr_softmax_xent_forward(float *probs, const float *logits,
                                      const int32_t *targets, int N, int C);
/* dlogits[N,C] += scale * (probs - onehot(target)) */
TR_API void tr_softmax_xent_backward(float *dlogits, const float *probs,
                                     const int32_t *targets, float scale,
                                     int N, int C);
/* Appended in ABI 1.3. Label smoothing e in [0,1), as PyTorch's CrossEntropyLoss(label_smoothing=e):
 * the target is (1-e)*onehot(target) + e/C. Returns the sum over counted rows
 * of its cross-entropy with probs; e = 0 gives tr_softmax_xent_forward. */
TR_API double tr_softmax_xent_smooth_forward(float *probs, const float *logits,
                                             const int32_t *targets,
                                             float smoothing, int N, int C);
/* dlogits[N,C] += scale * (probs - (1-e)*onehot(target) - e/C) */
TR_API void tr_softmax_xent_smooth_backward(float *dlogits, const float *probs,
                                            const int32_t *targets,
                                            float smoothing, float scale,
                                            int N, int C);

/* ---- small helpers */

/* y[n] += x[n] */
TR_API void tr_add_inplace(float *y, const float *x, long n);
/* out[A,B] = in[B,A]^T, for switching batch-major <-> time-major */
TR_API void tr_transpose(float *out, const float *in, int A, int B);

/* ==== Appended in ABI 1.4: dropout, per-sample lengths, masked softmax */

/* ---- dropout (inverted: kept entries are scaled by 1/(1-p), so nothing
 * changes at evaluation, where a plugin simply does not call it)
 *
 * Every mask entry is a pure function of (keys[n], d): the same key gives
 * the same mask row on any rank, thread or call order. Make the keys with
 * tr_dropout_key from the batch's key and each sample's global index, never
 * from a row number, a thread id or a counter. */

/* The key of one row of one dropout: a pure mix of its arguments.
 * batch_key: the core's key for the current step (the run seed mixed with
 * the epoch: tr_batch.key); sample_index: the sample's global index (its
 * place in the dataset, tr_batch.index[i], not its row in the sub-batch);
 * site: which dropout of the model (0, 1, ... one per place dropout is
 * applied); position: the time step for a per-step dropout, 0 for one row
 * per sample. Different arguments give independent masks, so a mask never
 * depends on ranks, threads, micro-shards or call order. */
TR_API uint64_t tr_dropout_key(uint64_t batch_key, int64_t sample_index,
                               uint32_t site, uint32_t position);

/* y[N,D] = x * mask, mask[n,d] = (u(keys[n], d) >= p) / (1 - p), with u a
 * uniform in [0,1) (24 bits) drawn from the core's counter-based RNG.
 * keys[N]; p in [0,1): p <= 0 gives y = x and mask = 1 (keys unread), p >= 1
 * gives y = 0 and mask = 0. y may equal x. mask[N,D] may be NULL when the
 * caller will not call tr_dropout_backward (e.g. a forward-only pass). */
TR_API void tr_dropout_forward(float *y, float *mask, const float *x,
                               const uint64_t *keys, float p, int N, int D);
/* dx[N,D] += dy * mask */
TR_API void tr_dropout_backward(float *dx, const float *dy, const float *mask,
                                int N, int D);

/* ---- recurrent layers over padded batches: lengths[B] (each in 0..T;
 * values outside are clamped; e.g. tr_batch.src_lengths), as PyTorch's
 * packed sequences. Sample b is
 * its first lengths[b] steps; padding never enters the recurrence:
 *  - forward direction: t = 0 .. len-1 from the initial state (zeros, or
 *    the GRU's h0); its final state is h_seq[len-1][b];
 *  - reverse direction (LSTM reverse != 0): t = len-1 .. 0, starting from
 *    zeros at t = len-1 (the sequence's last real token, not T-1); its
 *    final state is h_seq[0][b];
 *  - at t >= len[b], h_seq (and c_seq, gates, hn) are ZERO, and whatever
 *    dh_seq holds there is ignored: d(xw) there is exactly 0. A sample of
 *    length 0 gives all zeros (its GRU "final state" is h0).
 * lengths NULL = every sample has length T: exactly tr_lstm_forward etc.,
 * bit for bit (they are these functions with NULL). Each step is still one
 * GEMM over the whole batch; steps past the longest length are skipped.
 * The other arguments and buffer contracts are those of the function
 * without _len (dxw overwritten, dh_seq and work scratch, ...). */
TR_API void tr_lstm_forward_len(float *h_seq, float *c_seq, float *gates,
                                const float *xw, const float *Wh, int T, int B,
                                int H, int reverse, tr_act recurrent_act,
                                const int32_t *lengths);
TR_API void tr_lstm_backward_len(float *dxw, float *dWh, float *dh_seq,
                                 const float *h_seq, const float *c_seq,
                                 const float *gates, const float *Wh,
                                 float *work, int T, int B, int H, int reverse,
                                 tr_act recurrent_act, const int32_t *lengths);
TR_API void tr_gru_forward_len(float *h_seq, float *gates, float *hn,
                               const float *xw, const float *h0,
                               const float *Wh, const float *bh, int T, int B,
                               int H, const int32_t *lengths);
TR_API void tr_gru_backward_len(float *dxw, float *dh0, float *dWh, float *dbh,
                                float *dh_seq, const float *h_seq,
                                const float *gates, const float *hn,
                                const float *h0, const float *Wh, float *work,
                                int T, int B, int H, const int32_t *lengths);

/* ---- softmax over the middle axis of [outer, len, inner] with lengths
 * (e.g. attention pooling over padded sequences): block o uses positions
 * l < lengths[o] (clamped to 0..len); positions l >= lengths[o] get weight
 * exactly 0, and a length of 0 gives an all-zero block. lengths[outer];
 * NULL = all len (tr_softmax_forward/backward, bit for bit). y may equal x. */
TR_API void tr_softmax_len_forward(float *y, const float *x,
                                   const int32_t *lengths, int outer, int len,
                                   int inner);
/* dx += y * (dy - sum_l(dy * y)) over the valid positions; dx at padding
 * positions is untouched (whatever dy holds there) */
TR_API void tr_softmax_len_backward(float *dx, const float *dy, const float *y,
                                    const int32_t *lengths, int outer, int len,
                                    int inner);

/* ==== Appended in ABI 1.6: what every sequence plugin repeated */

/* ---- token lookups with a bias: a one-hot input times a kernel */

/* out[N,D] = table[tokens[n], :] + bias (bias[D] may be NULL) */
TR_API void tr_lookup_forward(float *out, const int32_t *tokens,
                              const float *table, const float *bias, int N,
                              int D);
/* dtable[tokens[n], :] += dout[n, :]; dbias[D] += sum_n dout[n, :] (NULL: skipped) */
TR_API void tr_lookup_backward(float *dtable, float *dbias, const float *dout,
                               const int32_t *tokens, int N, int D);

/* ---- layouts: batch-major [n, T, ...] <-> time-major [T, n, ...] */

/* Row (b, a) of out = row (a, b) of in, for a < A, b < B: D values each,
 * rows out_stride and in_stride floats apart (D for packed tensors). With
 * strides it also concatenates ([h_fw, h_bw] into a [B,A,2H] buffer: two
 * calls, the second at out + H) and splits. A copy: it overwrites out. */
TR_API void tr_swap_batch_time(float *out, int out_stride, const float *in,
                               int in_stride, int A, int B, int D);
/* out[T,n] = in[n,T] (token ids: batch-major as tr_batch gives them, to time-major) */
TR_API void tr_tokens_time_major(int32_t *out, const int32_t *in, int n,
                                 int T);
/* Teacher forcing, time-major, from tgt[n,T] (tr_batch.tgt): inputs[T,n] =
 * start, then the targets shifted right by one; targets[T,n] = tgt with
 * `pad` as -1 (ignored by the losses). Either output may be NULL; tgt
 * NULL: every input is start (greedy decoding's first step, T = 1). */
TR_API void tr_decoder_inputs(int32_t *inputs, int32_t *targets,
                              const int32_t *tgt, int n, int T, int start,
                              int pad);
/* out[R, D] of rows out_stride apart = in's, rows in_stride apart (a block
 * of columns: [q, c] = two calls into a [R, 2D] buffer, and back) */
TR_API void tr_copy_cols(float *out, int out_stride, const float *in,
                         int in_stride, int R, int D);
/* out[n * out_stride] = argmax over c of x[n, c] (the first of equal
 * maxima), for greedy decoding: out_stride Ty writes column y of [n, Ty] */
TR_API void tr_argmax_rows(int32_t *out, int out_stride, const float *x,
                           int N, int C);
/* One step y < Ty of greedy decoding, after the step's logits[n,V]:
 * next[n] = their argmax, the next step's inputs; and what predict()
 * hands back (trainer/plugin.h): out->tokens[:, y] = next, or pad for a
 * sample that emitted eos at an earlier step (eos < 0: none), and
 * out->attention[:, y, :] = alpha[n,Tx], each when the core asks for it. */
struct tr_prediction;
TR_API void tr_greedy_step(struct tr_prediction *out, int32_t *next,
                           const float *logits, const float *alpha, int y,
                           int n, int Ty, int Tx, int V, int eos, int pad);

/* ---- a dense layer over two inputs side by side, [a, b] . W + bias,
 * without making the concatenation: W[Da+Db,O] (a's rows first) */

/* out[N,O] = a[N,Da] . W[:Da] + b[N,Db] . W[Da:] + bias (bias may be NULL) */
TR_API void tr_dense_cat_forward(float *out, const float *a, const float *b,
                                 const float *W, const float *bias, int N,
                                 int Da, int Db, int O);
/* da, db, dW, dbias += (any may be NULL) */
TR_API void tr_dense_cat_backward(float *da, float *db, float *dW,
                                  float *dbias, const float *dout,
                                  const float *a, const float *b,
                                  const float *W, int N, int Da, int Db,
                                  int O);

/* ---- the output layer and its loss: logits = in . W + b, softmax, cross-entropy */

/* logits[N,C] = in[N,In] . W[In,C] + b; probs = softmax(logits); returns
 * the summed cross-entropy over targets >= 0 (a target < 0 counts nothing) */
TR_API double tr_dense_xent_forward(float *probs, float *logits,
                                    const float *in, const float *W,
                                    const float *b, const int32_t *targets,
                                    int N, int In, int C);
/* din[N,In] += ..., dW += ..., db += ... of scale * that loss; dlogits[N,C]
 * is scratch (overwritten; the forward's logits buffer will do) */
TR_API void tr_dense_xent_backward(float *din, float *dW, float *db,
                                   float *dlogits, const float *probs,
                                   const int32_t *targets, const float *in,
                                   const float *W, float scale, int N, int In,
                                   int C);

/* ---- rows to unit length: out = x / len, len = sqrt(|x|^2 + 1e-12) */

/* out[R,D], len[R] (kept for backward) from x[R,D] */
TR_API void tr_l2norm_forward(float *out, float *len, const float *x, int R,
                              int D);
/* dx[R,D] += (dout - out (out . dout)) / len */
TR_API void tr_l2norm_backward(float *dx, const float *dout, const float *out,
                               const float *len, int R, int D);

/* ---- dot-product energies, the scorers' layout (trainer/attention.h):
 * energy[y,b,t] = scale * queries[y,b,:] . values[b,t,:]
 * values[B,Tx,D], queries[Ty,B,D] time-major, energy[Ty,B,Tx] */
TR_API void tr_dot_energy_forward(float *energy, const float *values,
                                  const float *queries, float scale, int B,
                                  int Ty, int Tx, int D);
/* Accumulates dvalues[B,Tx,D] and dqueries[Ty,B,D] (either may be NULL) */
TR_API void tr_dot_energy_backward(float *dvalues, float *dqueries,
                                   const float *denergy, const float *values,
                                   const float *queries, float scale, int B,
                                   int Ty, int Tx, int D);

/* ---- cosine energies, the same layout: cos[y,b,t] = cos(queries[y,b],
 * values[b,t]), each row scaled by tr_l2norm_forward. cache[floats given by
 * tr_cosine_cache_floats] keeps the unit rows for backward. */
TR_API size_t tr_cosine_cache_floats(int B, int Ty, int Tx, int D);
TR_API void tr_cosine_energy_forward(float *cos, float *cache,
                                     const float *values, const float *queries,
                                     int B, int Ty, int Tx, int D);
/* Accumulates dvalues[B,Tx,D] and dqueries[Ty,B,D] (either may be NULL)
 * from dcos[Ty,B,Tx]; cache as forward left it (also its scratch). */
TR_API void tr_cosine_energy_backward(float *dvalues, float *dqueries,
                                      const float *dcos, float *cache, int B,
                                      int Ty, int Tx, int D);

/* ==== Appended in ABI 1.6: Transformer layers */

/* ---- layer normalisation over the last axis (PyTorch's nn.LayerNorm):
 * out[N,D] = (x - mean) / sqrt(var + eps) * gamma + beta per row, the
 * variance biased; mean[N] and rstd[N] = 1 / sqrt(var + eps) kept for
 * backward. */
TR_API void tr_layernorm_forward(float *out, float *mean, float *rstd,
                                 const float *x, const float *gamma,
                                 const float *beta, float eps, int N, int D);
/* dx[N,D], dgamma[D], dbeta[D] += (any may be NULL) */
TR_API void tr_layernorm_backward(float *dx, float *dgamma, float *dbeta,
                                  const float *dout, const float *x,
                                  const float *mean, const float *rstd,
                                  const float *gamma, int N, int D);

/* ---- GELU, exact (PyTorch's nn.GELU()): y = x Phi(x). Its slope needs x
 * (not y, as tr_act_backward has), so: dx[n] += dy * GELU'(x) */
TR_API void tr_gelu_forward(float *y, const float *x, int n);
TR_API void tr_gelu_backward(float *dx, const float *dy, const float *x,
                             int n);

/* ---- the position-wise feed-forward block: out[N,D] = act(x W1 + b1) W2
 * + b2, act ReLU (gelu 0) or GELU (gelu 1); W1[D,F], W2[F,D]. pre[N,F] (x
 * W1 + b1) and hidden[N,F] (its activation) are kept for backward. */
TR_API void tr_ffn_forward(float *out, float *hidden, float *pre,
                           const float *x, const float *W1, const float *b1,
                           const float *W2, const float *b2, int gelu, int N,
                           int D, int F);
/* dx[N,D], dW1, db1, dW2, db2 += (any may be NULL); dhidden and dpre
 * [N,F] are scratch */
TR_API void tr_ffn_backward(float *dx, float *dW1, float *db1, float *dW2,
                            float *db2, float *dhidden, float *dpre,
                            const float *dout, const float *x,
                            const float *pre, const float *hidden,
                            const float *W1, const float *W2, int gelu, int N,
                            int D, int F);
/* The block with dropout on the hidden activations, as
 * nn.TransformerEncoderLayer's: hidden = dropout(act(x W1 + b1)) with
 * mask[N,F] from row_keys[N] (tr_dropout_forward's); row_keys NULL or drop
 * 0: tr_ffn_forward. The backward takes that mask (NULL: none). */
TR_API void tr_ffn_dropout_forward(float *out, float *hidden, float *pre,
                                   float *mask, const float *x,
                                   const float *W1, const float *b1,
                                   const float *W2, const float *b2, int gelu,
                                   const uint64_t *row_keys, float drop,
                                   int N, int D, int F);
TR_API void tr_ffn_dropout_backward(float *dx, float *dW1, float *db1,
                                    float *dW2, float *db2, float *dhidden,
                                    float *dpre, const float *dout,
                                    const float *x, const float *pre,
                                    const float *hidden, const float *mask,
                                    const float *W1, const float *W2,
                                    int gelu, int N, int D, int F);

/* ---- positional encodings, x[B,T,D] batch-major, positions start ..
 * start + T - 1 (start > 0: a decoding step's) */
/* x += PE, PE[t, 2i] = sin(t / 10000^(2i/D)), PE[t, 2i+1] = cos(...) (the
 * Transformer paper's; scale the embeddings by sqrt(D) first if wanted) */
TR_API void tr_sinusoid_add(float *x, int B, int T, int D, int start);
/* learned: x += table[start + t] (a parameter [T_max, D]); dtable += the
 * sum over samples of dx */
TR_API void tr_positions_forward(float *x, const float *table, int B, int T,
                                 int D, int start);
TR_API void tr_positions_backward(float *dtable, const float *dx, int B,
                                  int T, int D, int start);

/* ---- multi-head scaled dot-product attention, the heads side by side in
 * the last axis as the projections write them: q[B,Tq,H*dh],
 * k and v[B,Tk,H*dh]; per head, out = softmax(q k^T / sqrt(dh)) v.
 * key_len[B] (or NULL) masks keys t >= key_len[b] (padding); causal lets
 * query i see keys t <= i + Tk - Tq (Tq = Tk: itself and before; one
 * decoding step, Tq = 1: every key so far). Self-attention is q, k, v from
 * one sequence, cross-attention k and v from another. Computed in blocks
 * of keys with an online softmax: memory O(Tq + Tk), no [Tq,Tk] matrix.
 * Dropout on the weights (after the softmax, as nn.MultiheadAttention's)
 * with rate `drop` when drop_keys[B] is given: sample b's key (from
 * tr_dropout_key(batch key, its index, a site, 0)) fixes every weight's
 * mask, so layouts do not change it; NULL or 0: none (prediction).
 * out[B,Tq,H*dh]; lse[B,H,Tq] each query's log-sum-exp of scores, kept for
 * backward (-inf, and out 0, for a query that sees no key). */
TR_API void tr_mha_forward(float *out, float *lse, const float *q,
                           const float *k, const float *v,
                           const int32_t *key_len, int causal,
                           const uint64_t *drop_keys, float drop, int B,
                           int Tq, int Tk, int H, int dh);
/* dq, dk, dv += (any may be NULL) from dout[B,Tq,H*dh], recomputing the
 * weights from q, k and lse: a fixed order of sums, the same bits for any
 * threads or ranks. */
TR_API void tr_mha_backward(float *dq, float *dk, float *dv,
                            const float *dout, const float *out,
                            const float *lse, const float *q, const float *k,
                            const float *v, const int32_t *key_len,
                            int causal, const uint64_t *drop_keys, float drop,
                            int B, int Tq, int Tk, int H, int dh);
/* The weights themselves, for attention maps: alpha[B,H,Tq,Tk] from q, k
 * and forward's lse (each row sums to 1 over the keys it sees, 0 at the
 * others; before dropout). O(Tq Tk) memory: for the samples exported. */
TR_API void tr_mha_weights(float *alpha, const float *q, const float *k,
                           const float *lse, const int32_t *key_len,
                           int causal, int B, int Tq, int Tk, int H, int dh);

TR_EXTERN_C_END

#endif

/* core/layers/seq_lengths.h - per-sample lengths for the recurrent layers
 * (tr_lstm_*_len, tr_gru_*_len in trainer/layers.h).
 *
 * Row b of a time-major [T,B,...] tensor is padding at step t when
 * t >= len[b] (clamped to 0..T). The cells run over all B rows, one GEMM
 * per step whatever the lengths, and the padding rows of each step's
 * outputs are zeroed afterwards; a zero state then feeds the next step,
 * which is exactly how a reverse direction starts at each sequence's last
 * real token. Steps where every row is padding are not computed at all. */
#ifndef TR_SEQ_LENGTHS_H
#define TR_SEQ_LENGTHS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* len[b] clamped to 0..T */
static inline int tr_seq_row_len(const int32_t *lengths, size_t b, int T)
{
    const int32_t n = lengths[b];
    return n < 0 ? 0 : n > T ? T : n;
}

/* the longest length; T without lengths */
static inline int tr_seq_max_len(const int32_t *lengths, int B, int T)
{
    if (!lengths)
        return T;
    int m = 0;
    for (size_t b = 0; b < (size_t)B; b++) {
        const int n = tr_seq_row_len(lengths, b, T);
        m = n > m ? n : m;
    }
    return m;
}

/* x[B,w]: the rows b with t >= len[b] set to 0 (lengths not NULL) */
static inline void tr_seq_zero_padding(float *x, const int32_t *lengths,
                                       size_t t, int B, int T, size_t w)
{
    for (size_t b = 0; b < (size_t)B; b++)
        if (t >= (size_t)tr_seq_row_len(lengths, b, T))
            memset(x + b * w, 0, w * sizeof *x);
}

#endif

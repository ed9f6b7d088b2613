/* core/runtime/bleu.h - corpus-level BLEU-4 (Papineni et al. 2002): clipped n-gram
 * precisions for n = 1..4 summed over the corpus, their geometric mean with
 * uniform weights, times the brevity penalty exp(1 - r/c) when the
 * hypotheses are shorter (c) than the references (r). No smoothing. */
#ifndef TR_BLEU_H
#define TR_BLEU_H

#include <stdint.h>

/* Corpus statistics; integers, so ranks can sum them. */
typedef struct tr_bleu_stats {
    long match[4], total[4]; /* clipped matches and hypothesis n-grams, n = 1..4 */
    long hyp_len, ref_len;
} tr_bleu_stats;

enum { TR_BLEU_LONGS = 10 };

/* Adds one sentence: token ids hyp[hl] against ref[rl]. */
void tr_bleu_add(tr_bleu_stats *st, const int32_t *hyp, int hl, const int32_t *ref, int rl);
/* BLEU-4 in [0, 1]. */
double tr_bleu_score(const tr_bleu_stats *st);

#endif

/* core/runtime/bleu.c - corpus BLEU-4 over token ids (bleu.h). Sentences here are
 * short (tens of tokens), so n-grams are compared directly. */
#include "runtime/bleu.h"

#include <math.h>
#include <string.h>

static int same(const int32_t *a, const int32_t *b, int n)
{
    return memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

/* occurrences of the n-gram g in s[len] */
static int count(const int32_t *g, int n, const int32_t *s, int len)
{
    int c = 0;
    for (int i = 0; i + n <= len; i++)
        c += same(g, s + i, n);
    return c;
}

void tr_bleu_add(tr_bleu_stats *st, const int32_t *hyp, int hl, const int32_t *ref, int rl)
{
    st->hyp_len += hl;
    st->ref_len += rl;
    for (int n = 1; n <= 4; n++) {
        if (hl < n)
            continue;
        st->total[n - 1] += hl - n + 1;
        for (int i = 0; i + n <= hl; i++) {
            int first = 1; /* count each distinct n-gram once, at its first occurrence */
            for (int j = 0; j < i && first; j++)
                first = !same(hyp + j, hyp + i, n);
            if (!first)
                continue;
            int ch = count(hyp + i, n, hyp, hl), cr = count(hyp + i, n, ref, rl);
            st->match[n - 1] += ch < cr ? ch : cr;
        }
    }
}

double tr_bleu_score(const tr_bleu_stats *st)
{
    double logp = 0.0;
    for (int n = 0; n < 4; n++) {
        if (st->match[n] == 0 || st->total[n] == 0)
            return 0.0;
        logp += 0.25 * log((double)st->match[n] / (double)st->total[n]);
    }
    double bp = st->hyp_len >= st->ref_len ? 1.0 : exp(1.0 - (double)st->ref_len / (double)st->hyp_len);
    return bp * exp(logp);
}

/* tests/test_bleu.c - corpus BLEU-4 on hand-made cases. */
#include <math.h>
#include <string.h>
#include "runtime/bleu.h"
#include "tr_test.h"

static double bleu1(const int32_t *h, int hl, const int32_t *r, int rl)
{
    tr_bleu_stats st;
    memset(&st, 0, sizeof st);
    tr_bleu_add(&st, h, hl, r, rl);
    return tr_bleu_score(&st);
}

static void identical(void)
{
    int32_t s[] = {5, 6, 7, 8, 5, 9};
    CU_ASSERT_DOUBLE_EQUAL(bleu1(s, 6, s, 6), 1.0, 1e-12);
}

static void partial(void)
{
    /* "a b c d e" vs "a b c d f": p1..p4 = 4/5, 3/4, 2/3, 1/2; same length */
    int32_t h[] = {1, 2, 3, 4, 5}, r[] = {1, 2, 3, 4, 6};
    CU_ASSERT_DOUBLE_EQUAL(bleu1(h, 5, r, 5), pow(0.8 * 0.75 * (2.0 / 3.0) * 0.5, 0.25), 1e-12);
    /* no 4-gram in common: 0 (no smoothing) */
    int32_t h2[] = {1, 2, 3, 4}, r2[] = {1, 2, 3, 9};
    CU_ASSERT_DOUBLE_EQUAL(bleu1(h2, 4, r2, 4), 0.0, 1e-12);
}

static void brevity_penalty(void)
{
    /* every n-gram of the hypothesis is in the reference, but it is short */
    int32_t h[] = {1, 2, 3, 4}, r[] = {1, 2, 3, 4, 5, 6};
    CU_ASSERT_DOUBLE_EQUAL(bleu1(h, 4, r, 6), exp(1.0 - 6.0 / 4.0), 1e-12);
    /* longer hypotheses get no bonus */
    int32_t h3[] = {1, 2, 3, 4, 5, 6, 1, 2, 3, 4};
    tr_bleu_stats st;
    memset(&st, 0, sizeof st);
    tr_bleu_add(&st, h3, 10, r, 6);
    CU_ASSERT(tr_bleu_score(&st) < 1.0);
    CU_ASSERT_EQUAL(st.hyp_len, 10);
}

static void clipping(void)
{
    /* "the the the the" vs "the cat": unigram precision clipped to 1/4 */
    int32_t h[] = {7, 7, 7, 7}, r[] = {7, 8};
    tr_bleu_stats st;
    memset(&st, 0, sizeof st);
    tr_bleu_add(&st, h, 4, r, 2);
    CU_ASSERT_EQUAL(st.match[0], 1);
    CU_ASSERT_EQUAL(st.total[0], 4);
    CU_ASSERT_EQUAL(st.match[1], 0);
    CU_ASSERT_DOUBLE_EQUAL(tr_bleu_score(&st), 0.0, 1e-12);
}

static void corpus_level(void)
{
    /* statistics add over sentences before the ratio is taken: not the
     * mean of sentence scores */
    int32_t a[] = {1, 2, 3, 4, 5}, b[] = {1, 2, 3, 4, 6}, c[] = {9, 8, 7, 6, 5, 4};
    tr_bleu_stats st;
    memset(&st, 0, sizeof st);
    tr_bleu_add(&st, a, 5, b, 5);
    tr_bleu_add(&st, c, 6, c, 6);
    /* p1 = (4+6)/(5+6), p2 = (3+5)/(4+5), p3 = (2+4)/(3+4), p4 = (1+3)/(2+3) */
    double want = pow((10.0 / 11) * (8.0 / 9) * (6.0 / 7) * (4.0 / 5), 0.25);
    CU_ASSERT_DOUBLE_EQUAL(tr_bleu_score(&st), want, 1e-12);
    double mean = (bleu1(a, 5, b, 5) + bleu1(c, 6, c, 6)) / 2;
    CU_ASSERT(fabs(tr_bleu_score(&st) - mean) > 1e-3);
}

static void empty_hypothesis(void)
{
    int32_t r[] = {1, 2, 3, 4};
    CU_ASSERT_DOUBLE_EQUAL(bleu1(r, 0, r, 4), 0.0, 1e-12);
}

int main(void)
{
    static const tr_test_case cases[] = {
        {"identical", identical},
        {"partial matches", partial},
        {"brevity penalty", brevity_penalty},
        {"clipped counts", clipping},
        {"corpus level", corpus_level},
        {"empty hypothesis", empty_hypothesis},
        {NULL, NULL},
    };
    return tr_test_run("bleu", cases);
}

/* core/base/rng.c - counter-based RNG (splitmix64 over a keyed counter). */
#include "base/rng.h"

#include <math.h>

uint64_t tr_key_str(uint64_t seed, const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return tr_mix64(h ^ tr_mix64(seed));
}

uint64_t tr_key_u64(uint64_t seed, uint64_t purpose, uint64_t n)
{
    return tr_mix64(tr_mix64(tr_mix64(seed) ^ purpose) ^ n);
}

double tr_rng_uniform(tr_rng *r)
{
    return (double)(tr_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

double tr_rng_normal(tr_rng *r)
{
    double u1 = tr_rng_uniform(r), u2 = tr_rng_uniform(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

uint64_t tr_rng_below(tr_rng *r, uint64_t n)
{
    /* Rejection keeps it unbiased; n is small, so retries are rare. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do
        x = tr_rng_next(r);
    while (x >= limit);
    return x % n;
}

void tr_permutation(int32_t *perm, int32_t n, uint64_t key)
{
    tr_rng r = tr_rng_make(key);
    for (int32_t i = 0; i < n; i++)
        perm[i] = i;
    for (int32_t i = n - 1; i > 0; i--) {
        int32_t j = (int32_t)tr_rng_below(&r, (uint64_t)i + 1);
        int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

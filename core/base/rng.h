/* core/base/rng.h - counter-based randomness keyed by what it is for.
 *
 * Every random draw is a pure function of (seed, purpose, index): parameter
 * init is keyed by the tensor's name, shuffles by the epoch. Nothing depends
 * on rank, thread or call order (DESIGN.md, "Parallelism"). */
#ifndef TR_RNG_H
#define TR_RNG_H

#include <stdint.h>

/* splitmix64's finaliser: a bijective 64-bit mix (inline: dropout draws
 * one per two mask entries) */
static inline uint64_t tr_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}
/* A key from a seed and a string (FNV-1a of the string, mixed with seed). */
uint64_t tr_key_str(uint64_t seed, const char *s);
/* A key from a seed, a purpose and a number. */
uint64_t tr_key_u64(uint64_t seed, uint64_t purpose, uint64_t n);

typedef struct tr_rng {
    uint64_t key;
    uint64_t counter;
} tr_rng;

static inline tr_rng tr_rng_make(uint64_t key) { tr_rng r = {key, 0}; return r; }
static inline uint64_t tr_rng_next(tr_rng *r)
{
    return tr_mix64(r->key ^ tr_mix64(r->counter++));
}
/* Uniform in [0, 1) with 53 random bits. */
double tr_rng_uniform(tr_rng *r);
/* Standard normal (Box-Muller). */
double tr_rng_normal(tr_rng *r);
/* Uniform integer in [0, n). */
uint64_t tr_rng_below(tr_rng *r, uint64_t n);

/* perm[0..n) = a permutation of 0..n-1 drawn from key (Fisher-Yates). */
void tr_permutation(int32_t *perm, int32_t n, uint64_t key);

#endif

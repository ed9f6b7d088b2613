/* trainer/scratch.h - laying out a plugin's scratch (ABI 1.6).
 *
 * The core gives train() and predict() one block of scratch per thread,
 * sized by the plugin's scratch_bytes(). One function of the plugin lays
 * it out, called twice: with base NULL to count the bytes, and with the
 * block to get the pointers, so the two never disagree:
 *
 *     static bufs layout(const tr_model *m, int n, void *base) {
 *         bufs b; tr_arena a = {base, 0};
 *         TR_TAKE(&a, b.tok, (size_t)m->T * n);         // [T,n] int32_t
 *         tr_arena_floats(&a, (size_t)m->T * n * m->H, &b.h, &b.dh, NULL); // [T,n,H] x2
 *         b.bytes = a.used;
 *         return b;
 *     }
 *
 * Every buffer starts on a 64-byte boundary. Header only: no symbol. */
#ifndef TRAINER_SCRATCH_H
#define TRAINER_SCRATCH_H

#include <stdarg.h>
#include <stddef.h>

typedef struct tr_arena {
    void *base;  /* the block; NULL to count only */
    size_t used; /* bytes taken so far (rounded to 64) */
} tr_arena;

/* count values of `size` bytes from a; NULL when counting */
static inline void *tr_arena_take(tr_arena *a, size_t count, size_t size)
{
    void *p = a->base ? (unsigned char *)a->base + a->used : NULL;
    a->used += (count * size + 63) / 64 * 64;
    return p;
}

/* ptr = count values of ptr's own type from arena a */
#define TR_TAKE(a, ptr, count) ((ptr) = tr_arena_take((a), (count), sizeof *(ptr)))

/* Several float buffers of one shape, one after the other:
 * tr_arena_floats(&a, R * H, &b.ctx, &b.dctx, NULL) */
static inline void tr_arena_floats(tr_arena *a, size_t count, float **first, ...)
{
    va_list ap;
    va_start(ap, first);
    for (float **p = first; p; p = va_arg(ap, float **))
        *p = (float *)tr_arena_take(a, count, sizeof(float));
    va_end(ap);
}

#endif

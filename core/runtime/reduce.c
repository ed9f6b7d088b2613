/* core/runtime/reduce.c - fixed-point int64 accumulation of micro-shard gradients. */
#include "runtime/reduce.h"
#include "base/fastmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The work of each phase comes in chunks of at most TR_CHUNK values of one
 * tensor (registry.h), so that one large tensor (an embedding table is most
 * of a text model) is spread over the threads instead of falling to one. */

/* The tensor of chunk c, and the chunk's values [*i0, *i0 + *m) in it. */
static int chunk_at(const tr_registry *reg, int c, size_t *i0, size_t *m)
{
    const int *first = reg->chunk_first;
    int lo = 0, hi = reg->n - 1; /* the last t with first[t] <= c (empty tensors have no chunks) */
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (first[mid] <= c) lo = mid;
        else hi = mid - 1;
    }
    const size_t count = reg->tensors[lo].count, chunk = reg->tensors[lo].chunk;
    *i0 = (size_t)(c - first[lo]) * chunk;
    *m = count - *i0 < chunk ? count - *i0 : chunk;
    return lo;
}

/* A table's rows in chunk [i0, i0 + m): their flags get 1 where a shard has
 * a value != 0 (or NaN) in the row. Chunks of tables hold whole rows. A
 * table looked up by the source tokens is read only in the rows whose flag
 * comes in as 1 (the tokens'): the others are zero in every shard. */
static uint32_t rows_touched(float *flags, const float *shards, int nshards, size_t stride, const tr_tensor *t,
                             size_t i0, size_t m)
{
    typedef uint32_t __attribute__((may_alias)) u32_alias;
    const size_t row = t->count / (size_t)t->rows;
    uint32_t mx = 0;
    for (size_t r0 = i0; r0 < i0 + m; r0 += row) {
        if (t->by_src && flags[t->row_first + r0 / row] == 0.0f)
            continue;
        uint32_t rm = 0;
        for (int s = 0; s < nshards; s++) {
            const u32_alias *g = (const u32_alias *)(shards + (size_t)s * stride + t->offset + r0);
            for (size_t i = 0; i < row; i++) {
                uint32_t a = g[i] & 0x7fffffffu;
                rm = a > rm ? a : rm;
            }
        }
        flags[t->row_first + r0 / row] = rm ? 1.0f : 0.0f;
        mx = rm > mx ? rm : mx;
    }
    return mx;
}

TR_SIMD int tr_exact_maxabs(float *maxabs, float *rowflags, const float *shards, int nshards,
                    size_t stride, const tr_registry *reg)
{
    /* On the bit patterns with the sign cleared, unsigned order is |x| order
     * and every NaN/inf is >= 0x7f800000: an integer max that vectorises.
     * maxabs holds each tensor's running max as bits until the end; chunks
     * combine by max, whose result does not depend on their order. */
    typedef uint32_t __attribute__((may_alias)) u32_alias; /* float bits, legally */
    u32_alias *tmax = (u32_alias *)maxabs;
    memset(maxabs, 0, (size_t)reg->n * sizeof *maxabs);
    #pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < (reg->n ? reg->chunk_first[reg->n] : 0); c++) {
        size_t i0, m;
        const int t = chunk_at(reg, c, &i0, &m);
        uint32_t mx = 0;
        if (reg->tensors[t].rows)
            mx = rows_touched(rowflags, shards, nshards, stride, &reg->tensors[t], i0, m);
        else
            for (int s = 0; s < nshards; s++) {
                const u32_alias *g = (const u32_alias *)(shards + (size_t)s * stride + reg->tensors[t].offset + i0);
                for (size_t i = 0; i < m; i++) {
                    uint32_t a = g[i] & 0x7fffffffu;
                    mx = a > mx ? a : mx;
                }
            }
        #pragma omp critical(tr_exact_maxabs)
        tmax[t] = mx > tmax[t] ? mx : tmax[t];
    }
    int bad = -1;
    for (int t = 0; t < reg->n; t++) {
        if (tmax[t] > 0x7f800000u) /* NaN -> inf: MAX-reducible */
            tmax[t] = 0x7f800000u;
        if (bad < 0 && isinf(maxabs[t]))
            bad = t;
    }
    return bad;
}

TR_SIMD void tr_exact_scales(double *scales, const float *maxabs, int ntensors,
                     int total_shards)
{
    int headroom = 0;
    while ((1L << headroom) < (long)total_shards + 1)
        headroom++;
    for (int t = 0; t < ntensors; t++) {
        int e = 0;
        if (maxabs[t] > 0.0f)
            frexpf(maxabs[t], &e); /* maxabs < 2^e */
        scales[t] = ldexp(1.0, 62 - headroom - e);
    }
}

size_t tr_exact_layout(size_t *pos, const tr_registry *reg, const float *rowflags)
{
    size_t o = 0;
    for (int t = 0; t < reg->n; t++) {
        const tr_tensor *tt = &reg->tensors[t];
        pos[t] = o;
        if (!tt->rows) {
            o += tt->count;
            continue;
        }
        const size_t row = tt->count / (size_t)tt->rows;
        for (size_t r = 0; r < (size_t)tt->rows; r++) {
            const size_t k = tt->row_first + r;
            pos[reg->n + k] = !rowflags || rowflags[k] != 0.0f ? o : TR_EXACT_SKIPPED;
            o += pos[reg->n + k] != TR_EXACT_SKIPPED ? row : 0;
        }
    }
    return o;
}

/* Where the sums of values [i, i + m) of tensor t, chunk offset c0 + i,
 * go: NULL for a skipped row. Dense tensors' sums are contiguous. */
static int64_t *sums_at(int64_t *sums, const tr_registry *reg, const size_t *pos, int t, size_t c0, size_t row)
{
    if (!row)
        return sums + pos[t] + c0;
    const size_t p = pos[reg->n + reg->tensors[t].row_first + c0 / row];
    return p == TR_EXACT_SKIPPED ? NULL : sums + p;
}

TR_SIMD void tr_exact_quantize_sum(int64_t *sums, float *shards, int nshards,
                           size_t stride, const tr_registry *reg,
                           const double *scales, const size_t *pos)
{
    const int nchunks = reg->n ? reg->chunk_first[reg->n] : 0;
    /* Blocks of 512 values stay in L1 while every shard is added in. */
    enum { BLK = 512 };
    #pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < nchunks; c++) {
        size_t c0, cm;
        const int t = chunk_at(reg, c, &c0, &cm);
        const tr_tensor *tt = &reg->tensors[t];
        const size_t off = tt->offset + c0;
        const double sc = scales[t];
        const size_t row = tt->rows ? tt->count / (size_t)tt->rows : 0;
        for (size_t i0 = 0; i0 < cm; i0 += row ? row : BLK) {
            int64_t *restrict a = sums_at(sums, reg, pos, t, c0 + i0, row);
            if (!a)
                continue; /* a row no shard of any rank touched: all zeros, its sum 0 */
            const size_t bl = row ? row : BLK, m = cm - i0 < bl ? cm - i0 : bl;
            if (nshards < 1) { /* a rank with no shard this step still sends zeros */
                memset(a, 0, m * sizeof *a);
                continue;
            }
            float *restrict g = shards + off + i0;
            for (size_t i = 0; i < m; i++) /* truncation: one vector instruction */
                a[i] = (int64_t)((double)g[i] * sc);
            memset(g, 0, m * sizeof *g);
            for (int s = 1; s < nshards; s++) {
                g = shards + (size_t)s * stride + off + i0;
                for (size_t i = 0; i < m; i++)
                    a[i] += (int64_t)((double)g[i] * sc);
                memset(g, 0, m * sizeof *g);
            }
        }
    }
}

TR_SIMD void tr_exact_to_float(float *out, const int64_t *sums, const tr_registry *reg,
                       const double *scales, double divisor, const size_t *pos, float *out_rows)
{
    const int nchunks = reg->n ? reg->chunk_first[reg->n] : 0;
    #pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < nchunks; c++) {
        size_t i0, m;
        const int t = chunk_at(reg, c, &i0, &m);
        const tr_tensor *tt = &reg->tensors[t];
        const size_t off = tt->offset + i0;
        const double f = 1.0 / (scales[t] * divisor);
        if (!tt->rows) {
            const int64_t *a = sums + pos[t] + i0;
            for (size_t i = 0; i < m; i++)
                out[off + i] = (float)((double)a[i] * f);
            continue;
        }
        /* a table: the touched rows converted; a row untouched now but not
         * at the last call is zeroed; one untouched at both is zero already */
        const size_t row = tt->count / (size_t)tt->rows;
        for (size_t r0 = 0; r0 < m; r0 += row) {
            const size_t k = tt->row_first + (i0 + r0) / row;
            const int64_t *a = sums_at((int64_t *)sums, reg, pos, t, i0 + r0, row);
            if (a)
                for (size_t i = 0; i < row; i++)
                    out[off + r0 + i] = (float)((double)a[i] * f);
            else if (!out_rows || out_rows[k] != 0.0f)
                memset(out + off + r0, 0, row * sizeof *out);
            if (out_rows)
                out_rows[k] = a ? 1.0f : 0.0f;
        }
    }
}

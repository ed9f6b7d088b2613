/* core/runtime/reduce.h - exact, order-independent gradient sums.
 *
 * Each micro-shard's gradient is computed in float. To make the sum over
 * micro-shards independent of how they were spread over threads and ranks,
 * each value is turned into a 64-bit fixed-point integer with a per-tensor
 * power-of-two scale taken from the global max |g| of that tensor (truncated
 * toward zero: deterministic, and error < 2^-50 of that max), and the
 * integers are summed (integer addition is associative). The scale leaves
 * ceil(log2(shards+1)) bits of headroom, so the sum can never overflow.
 *
 * The phases are separate so that ranks can combine between them:
 *   maxabs -> (allreduce MAX) -> scales, layout -> quantize_sum -> (allreduce SUM) -> to_float
 * Tables registered with tr_param_add_rows are summed and sent only in the
 * rows some shard touched: the others are zero in every shard, so their sum
 * is zero and the result is the dense sum's, bit for bit. The sums are laid
 * out packed (the dense tensors, and the touched rows of tables) so that
 * what the ranks add is one contiguous buffer, with no copy in or out. */
#ifndef TR_REDUCE_H
#define TR_REDUCE_H

#include <stdint.h>
#include "base/registry.h"

/* maxabs[t] = max over shards and elements of tensor t of |g|; returns the
 * index of a tensor holding a NaN or infinity, or -1. shards: [nshards, stride].
 * rowflags[reg->n_rows]: 1 for each row of a tr_param_add_rows table that
 * some shard touched (a value != 0), else 0; combined over ranks by MAX.
 * For a table looked up by the source tokens (tr_param_add_lookup) the
 * caller sets its flags first: 1 on the rows of the shards' source tokens,
 * 0 elsewhere; only the 1 rows are read (and their flags rewritten). */
int tr_exact_maxabs(float *maxabs, float *rowflags, const float *shards, int nshards,
                    size_t stride, const tr_registry *reg);

/* scales[t] = 2^k with maxabs[t] * 2^k * total_shards < 2^62. */
void tr_exact_scales(double *scales, const float *maxabs, int ntensors,
                     int total_shards);

/* pos[t] for a row of a table that no shard touched */
#define TR_EXACT_SKIPPED ((size_t)-1)

/* The packed layout of the sums, in registry order: each dense tensor
 * whole, then for a table each row rowflags marks (rowflags NULL: every
 * row). pos[reg->n + reg->n_rows]: pos[t] the first sum of tensor t (dense),
 * pos[reg->n + k] that of table row k, or TR_EXACT_SKIPPED. Returns how many
 * sums there are (at most reg->total). */
size_t tr_exact_layout(size_t *pos, const tr_registry *reg, const float *rowflags);

/* sums[pos...] = sum_s trunc(shards[s][i] * scale(tensor of i)) for every
 * value the layout keeps (zeros when nshards < 1: a rank with no shard
 * this step); nothing else of sums is written. Zeroes the shards' tensors
 * as it reads them (while they are in cache), so they are ready to
 * accumulate the next step. */
void tr_exact_quantize_sum(int64_t *sums, float *shards, int nshards,
                           size_t stride, const tr_registry *reg,
                           const double *scales, const size_t *pos);

/* out[i] = sum / scale / divisor (rounded once to float), the sums laid out
 * by pos. Tables' skipped rows are not read: out_rows[reg->n_rows]
 * remembers which rows of out may be nonzero (all 0 for an out of zeros),
 * so those are zeroed and the rest left alone (out_rows NULL: every
 * skipped row is zeroed). */
void tr_exact_to_float(float *out, const int64_t *sums, const tr_registry *reg,
                       const double *scales, double divisor, const size_t *pos, float *out_rows);

#endif

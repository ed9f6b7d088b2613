/* tests/test_reduce.c - the exact reduction (core/runtime/reduce.c): chunks spread
 * over threads, tables reduced row by row (tr_param_add_rows) giving the
 * dense sum's bits, the touched-row flags, the packed layout of the sums. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/reduce.h"
#include "base/registry.h"
#include "tr_check.h"

enum { SHARDS = 3 };

typedef struct fixture {
    tr_registry reg;
    size_t off[3];
} fixture;

/* A dense [7, 33], a table [50, 20] and a table [1000, 40] (40,000 values:
 * more than one chunk, cut at whole rows); rows = 0 registers them dense,
 * rows = 2 the big table as looked up by the source tokens. */
static void make(fixture *f, int rows)
{
    memset(f, 0, sizeof *f);
    tr_error err = {0};
    const tr_init z = {TR_INIT_ZEROS, 0, 0};
    CU_ASSERT_EQUAL_FATAL(tr_param_add(&f->reg, "dense", 2, (int[]){7, 33}, z, &f->off[0], &err), TR_OK);
    tr_status (*add)(tr_registry *, const char *, int, const int *, tr_init, size_t *, tr_error *) =
        rows ? tr_param_add_rows : tr_param_add;
    CU_ASSERT_EQUAL_FATAL(add(&f->reg, "small_table", 2, (int[]){50, 20}, z, &f->off[1], &err), TR_OK);
    if (rows == 2)
        add = tr_param_add_lookup;
    CU_ASSERT_EQUAL_FATAL(add(&f->reg, "big_table", 2, (int[]){1000, 40}, z, &f->off[2], &err), TR_OK);
}

/* Shard gradients where only some rows of the tables are touched, the same
 * rows in each call (seeded): row r of a table is touched by shard s when
 * ((r + shift) * 7 + s) % 5 == 0, and rows that are 3 mod 11 by none. */
static float *shard_grads_at(const fixture *f, int shift)
{
    const size_t total = f->reg.total;
    float *g = falloc((int)(SHARDS * total));
    rng_seed(77);
    for (int s = 0; s < SHARDS; s++) {
        float *gs = g + (size_t)s * total;
        fill(gs + f->off[0], 7 * 33, -2, 2);
        const int rows[2] = {50, 1000}, width[2] = {20, 40};
        for (int k = 0; k < 2; k++)
            for (int r = 0; r < rows[k]; r++)
                if (((r + shift) * 7 + s) % 5 == 0 && r % 11 != 3)
                    fill(gs + f->off[k + 1] + (size_t)r * width[k], width[k], -1e-3f, 1e-3f);
    }
    return g;
}

static float *shard_grads(const fixture *f)
{
    return shard_grads_at(f, 0);
}

/* One single-rank reduction, as session.c runs each step: grad = sum / n,
 * with acc and out_rows kept from the steps before. */
static void reduce_step(float *grad, float *rowflags, fixture *f, float *shards, int64_t *acc, float *out_rows)
{
    const size_t total = f->reg.total;
    float maxabs[3];
    double scales[3];
    size_t pos[3 + 1050];
    CU_ASSERT_EQUAL(tr_exact_maxabs(maxabs, rowflags, shards, SHARDS, total, &f->reg), -1);
    tr_exact_scales(scales, maxabs, 3, SHARDS);
    CU_ASSERT(tr_exact_layout(pos, &f->reg, rowflags) <= total);
    tr_exact_quantize_sum(acc, shards, SHARDS, total, &f->reg, scales, pos);
    tr_exact_to_float(grad, acc, &f->reg, scales, 32.0, pos, out_rows);
}

/* The first step of a run: acc and grad zero, as session.c allocates them. */
static void reduce(float *grad, float *rowflags, fixture *f, float *shards)
{
    int64_t *acc = calloc(f->reg.total, sizeof *acc);
    float *out_rows = falloc(f->reg.n_rows ? (int)f->reg.n_rows : 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(acc);
    reduce_step(grad, rowflags, f, shards, acc, out_rows);
    free(acc);
    free(out_rows);
}

/* A second step touching other rows, with the first step's acc and grad
 * (acc is not cleared between steps): the bits of a first step. */
static void second_step_reuses_buffers(void)
{
    fixture f;
    make(&f, 1);
    const size_t total = f.reg.total;
    int64_t *acc = calloc(total, sizeof *acc);
    float *out = falloc((int)total), *fresh = falloc((int)total), *flags = falloc(1050), *out_rows = falloc(1050);
    CU_ASSERT_PTR_NOT_NULL_FATAL(acc);
    float *g1 = shard_grads_at(&f, 0), *g2 = shard_grads_at(&f, 2), *g3 = shard_grads_at(&f, 2);
    reduce_step(out, flags, &f, g1, acc, out_rows);
    reduce_step(out, flags, &f, g2, acc, out_rows);
    reduce(fresh, flags, &f, g3);
    CU_ASSERT(max_abs(out, (int)total) > 0);
    CU_ASSERT(memcmp(out, fresh, total * sizeof *out) == 0);
    free(g1); free(g2); free(g3); free(acc); free(out); free(fresh); free(flags); free(out_rows);
    tr_registry_free(&f.reg);
}

static void rows_give_the_dense_bits(void)
{
    fixture dense, rows;
    make(&dense, 0);
    make(&rows, 1);
    CU_ASSERT_EQUAL(dense.reg.total, rows.reg.total);
    CU_ASSERT_EQUAL(rows.reg.n_rows, 1050);
    const size_t total = rows.reg.total;
    float *gd = shard_grads(&dense), *gr = shard_grads(&rows);
    float *outd = falloc((int)total), *outr = falloc((int)total), *flags = falloc(1050), *none = falloc(1);
    reduce(outd, none, &dense, gd);
    reduce(outr, flags, &rows, gr);
    CU_ASSERT(memcmp(outd, outr, total * sizeof *outd) == 0);
    CU_ASSERT(max_abs(outr, (int)total) > 0);
    CU_ASSERT(all_zero(gr, (int)(SHARDS * total))); /* the shards are left zero for the next step */
    CU_ASSERT(all_zero(gd, (int)(SHARDS * total)));
    /* the flags: exactly the rows some shard touched */
    int wrong = 0, touched = 0;
    for (int k = 0; k < 2; k++) {
        const int n = k ? 1000 : 50, first = k ? 50 : 0;
        for (int r = 0; r < n; r++) {
            int want = 0;
            for (int s = 0; s < SHARDS; s++)
                want |= (r * 7 + s) % 5 == 0 && r % 11 != 3;
            wrong += flags[first + r] != (want ? 1.0f : 0.0f);
            touched += want;
        }
    }
    CU_ASSERT_EQUAL(wrong, 0);
    printf("\n  %d of 1050 rows touched; the sum is the dense one's, bit for bit", touched);
    free(gd); free(gr); free(outd); free(outr); free(flags); free(none);
    tr_registry_free(&dense.reg);
    tr_registry_free(&rows.reg);
}

/* A table looked up by the source tokens: the caller flags the rows of the
 * tokens (here every touched row and some untouched ones) and maxabs reads
 * only those: the dense sum's bits, and a NaN in a row no token names is
 * never seen (never read). */
static void lookup_reads_the_token_rows(void)
{
    fixture dense, look;
    make(&dense, 0);
    make(&look, 2);
    CU_ASSERT_EQUAL(look.reg.n_by_src, 1);
    const size_t total = look.reg.total;
    float *gd = shard_grads(&dense), *gl = shard_grads(&look);
    float *outd = falloc((int)total), *outl = falloc((int)total), *flags = falloc(1050), *none = falloc(1);
    int named = 0;
    for (int r = 0; r < 1000; r++) { /* the tokens: every row a shard touched, and every 4th */
        int touched = 0;
        for (int s = 0; s < SHARDS; s++)
            touched |= (r * 7 + s) % 5 == 0 && r % 11 != 3;
        flags[50 + r] = touched || r % 4 == 0 ? 1.0f : 0.0f;
        named += flags[50 + r] != 0.0f;
    }
    CU_ASSERT(flags[50 + 3] == 0.0f); /* row 3: no token, touched by no shard */
    gl[total + look.off[2] + 3 * 40 + 7] = NAN; /* never read */
    reduce(outd, none, &dense, gd);
    reduce(outl, flags, &look, gl);
    CU_ASSERT(memcmp(outd, outl, total * sizeof *outd) == 0);
    gl[total + look.off[2] + 3 * 40 + 7] = 0.0f;
    CU_ASSERT(all_zero(gl, (int)(SHARDS * total)));
    printf("\n  %d of 1000 rows named by tokens; the sum is the dense one's, bit for bit", named);
    free(gd); free(gl); free(outd); free(outl); free(flags); free(none);
    tr_registry_free(&dense.reg);
    tr_registry_free(&look.reg);
}

/* The same bits whatever the threads (chunks go to threads dynamically). */
static void threads_do_not_change_bits(void)
{
    fixture f;
    make(&f, 1);
    const size_t total = f.reg.total;
    float *out[2], *flags = falloc(1050);
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k ? 2 : 1);
        float *g = shard_grads(&f);
        out[k] = falloc((int)total);
        reduce(out[k], flags, &f, g);
        free(g);
    }
    CU_ASSERT(memcmp(out[0], out[1], total * sizeof *out[0]) == 0);
    free(out[0]); free(out[1]); free(flags);
    tr_registry_free(&f.reg);
}

/* The packed layout: the dense tensor whole, then the flagged rows of each
 * table one after the other; every row when there are no flags. */
static void layout_packs_rows(void)
{
    fixture f;
    make(&f, 1);
    float *flags = falloc(1050);
    for (int r = 0; r < 1050; r += 3)
        flags[r] = 1.0f;
    size_t pos[3 + 1050];
    const size_t len = tr_exact_layout(pos, &f.reg, flags);
    CU_ASSERT_EQUAL(len, 7 * 33 + 17 * 20 + 333 * 40); /* rows 0,3,..,48 of 50; 51,54,.. of the big one */
    CU_ASSERT_EQUAL(pos[0], 0);
    CU_ASSERT_EQUAL(pos[1], 231);
    CU_ASSERT_EQUAL(pos[3 + 0], 231);
    CU_ASSERT_EQUAL(pos[3 + 1], TR_EXACT_SKIPPED);
    CU_ASSERT_EQUAL(pos[3 + 3], 231 + 20);
    CU_ASSERT_EQUAL(pos[3 + 48], 231 + 16 * 20);
    CU_ASSERT_EQUAL(pos[3 + 50], TR_EXACT_SKIPPED);      /* big table row 0 is flag 50: not a multiple of 3 */
    CU_ASSERT_EQUAL(pos[3 + 51], 231 + 17 * 20);         /* its row 1 */
    CU_ASSERT_EQUAL(pos[3 + 1047], 231 + 17 * 20 + 332 * 40); /* the last flagged row */
    CU_ASSERT_EQUAL(pos[3 + 1049], TR_EXACT_SKIPPED);
    CU_ASSERT_EQUAL(tr_exact_layout(pos, &f.reg, NULL), 7 * 33 + 50 * 20 + 1000 * 40);
    CU_ASSERT_EQUAL(pos[3 + 1049], 7 * 33 + 50 * 20 + 999 * 40);
    free(flags);
    tr_registry_free(&f.reg);
}

/* to_float with row flags: touched rows converted as without them; a row
 * flagged at the last call but not now zeroed; one flagged at neither not
 * read or written (a sentinel there stays). */
static void to_float_by_rows(void)
{
    fixture f;
    make(&f, 1);
    const size_t total = f.reg.total;
    int64_t *acc = calloc(total, sizeof *acc), *packed = calloc(total, sizeof *packed);
    float *dense = falloc((int)total), *out = falloc((int)total), *flags = falloc(1050), *out_rows = falloc(1050);
    double scales[3] = {0x1p40, 0x1p44, 0x1p50};
    size_t all[3 + 1050], pos[3 + 1050];
    CU_ASSERT_PTR_NOT_NULL_FATAL(acc && packed);
    const size_t n_all = tr_exact_layout(all, &f.reg, NULL);
    for (size_t i = 0; i < n_all; i++)
        acc[i] = (int64_t)(i * 2654435761u % 1000003) - 500000;
    const tr_tensor *big = &f.reg.tensors[2];
    for (int r = 0; r < 1050; r += 2)
        flags[r] = 1.0f; /* even rows touched */
    tr_exact_to_float(dense, acc, &f.reg, scales, 3.0, all, NULL);
    tr_exact_layout(pos, &f.reg, flags); /* the same sums, packed: the dense tensor and the even rows */
    memcpy(packed, acc, 231 * sizeof *acc);
    for (int k = 0; k < 1050; k += 2)
        memcpy(packed + pos[3 + k], acc + all[3 + k], (k < 50 ? 20 : 40) * sizeof *acc);
    out_rows[50 + 7] = 1.0f;                      /* big-table row 7: nonzero in out since the last call */
    out[big->offset + 7 * 40 + 1] = 5.0f;
    out[big->offset + 9 * 40 + 1] = 7.0f;         /* row 9: a sentinel where out is known to be zero */
    tr_exact_to_float(out, packed, &f.reg, scales, 3.0, pos, out_rows);
    int wrong = 0;
    for (int t = 0; t < 3; t++) {
        const tr_tensor *tt = &f.reg.tensors[t];
        const size_t row = tt->rows ? tt->count / (size_t)tt->rows : tt->count;
        for (size_t i = 0; i < tt->count; i++) {
            const size_t k = tt->rows ? tt->row_first + i / row : 0, o = tt->offset + i;
            if (!tt->rows || flags[k] != 0.0f)
                wrong += memcmp(&out[o], &dense[o], sizeof *out) != 0;
            else if (o == big->offset + 9 * 40 + 1)
                wrong += out[o] != 7.0f;
            else
                wrong += out[o] != 0.0f;
        }
    }
    CU_ASSERT_EQUAL(wrong, 0);
    CU_ASSERT_EQUAL(out_rows[50 + 7], 0.0f);      /* the flags of this call, for the next */
    CU_ASSERT_EQUAL(out_rows[50 + 8], 1.0f);
    free(acc); free(packed); free(dense); free(out); free(flags); free(out_rows);
    tr_registry_free(&f.reg);
}

static void nan_in_a_table(void)
{
    fixture f;
    make(&f, 1);
    const size_t total = f.reg.total;
    float *g = shard_grads(&f), *flags = falloc(1050), maxabs[3];
    g[total + f.off[2] + 3 * 40 + 5] = NAN; /* shard 1, big table row 3 (untouched otherwise) */
    CU_ASSERT_EQUAL(tr_exact_maxabs(maxabs, flags, g, SHARDS, total, &f.reg), 2);
    CU_ASSERT(isinf(maxabs[2]));
    CU_ASSERT_EQUAL(flags[50 + 3], 1.0f);
    tr_error err = {0};
    size_t off;
    CU_ASSERT_EQUAL(tr_param_add_rows(&f.reg, "vector", 1, (int[]){8}, (tr_init){TR_INIT_ZEROS, 0, 0}, &off, &err),
                    TR_ERR_MODEL);
    free(g); free(flags);
    tr_registry_free(&f.reg);
}

int main(void)
{
    static const tr_test_case cases[] = {
        {"tables reduced by rows give the dense sum's bits; the flags", rows_give_the_dense_bits},
        {"1 or 2 threads: the same bits", threads_do_not_change_bits},
        {"a table looked up by tokens: only their rows read, the dense bits", lookup_reads_the_token_rows},
        {"a second step with the first's buffers: a first step's bits", second_step_reuses_buffers},
        {"the packed layout of the sums", layout_packs_rows},
        {"to float by rows: untouched rows not read, stale ones zeroed", to_float_by_rows},
        {"a NaN in a table: found, its row flagged; 1-d tables refused", nan_in_a_table},
        {NULL, NULL},
    };
    return tr_test_run("reduce", cases);
}

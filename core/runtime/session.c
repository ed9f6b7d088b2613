/* core/runtime/session.c - open a model with its data; the data-parallel train step.
 *
 * A step: the global batch is cut into micro-shards of g samples; threads
 * take shards; each shard's gradient lands in its own float buffer; the
 * buffers are summed exactly (reduce.h), divided by the batch size, clipped,
 * and the optimizer applies one update. The result does not depend on the
 * number of threads (DESIGN.md, "Parallelism"). */
#define _POSIX_C_SOURCE 200809L
#include "runtime/session.h"
#include "runtime/optim.h"
#include "runtime/bleu.h"
#include "runtime/reduce.h"
#include "base/rng.h"
#include "data/augment.h"
#include "trainer/layers.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern void openblas_set_num_threads(int);

volatile sig_atomic_t tr_stop_signal = 0;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *xalloc(size_t bytes)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes ? (bytes + 63) / 64 * 64 : 64))
        return NULL;
    memset(p, 0, bytes);
    return p;
}

/* The micro-shard size: configured, or a quarter of the batch (at least 1),
 * which keeps GEMMs reasonably wide and gives 4 shards to spread. It depends
 * only on the config, never on the layout, so results do not either. */
static int micro_size(const tr_config *c)
{
    long g = c->micro_batch > 0 ? c->micro_batch : (c->batch + 3) / 4;
    if (g > c->batch)
        g = c->batch;
    return (int)(g < 1 ? 1 : g);
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return strdup(".");
    return strndup(path, (size_t)(slash - path) ? (size_t)(slash - path) : 1);
}

/* Bytes of s->scratch per thread besides the plugin's (a multiple of 64). */
static tr_status input_statistics(tr_session *s, tr_error *err); /* data.normalize (below) */

static size_t shard_bytes(const tr_config *c, int micro, size_t input_size, size_t *tok, size_t *meta)
{
    *tok = ((size_t)micro * (size_t)(c->src_len + c->tgt_len) * sizeof(int32_t) + 63) / 64 * 64;
    *meta = ((size_t)micro * (sizeof(int32_t) + sizeof(int64_t)) + 63) / 64 * 64;
    return *tok + *meta + ((size_t)micro * input_size * sizeof(float) + 63) / 64 * 64;
}

tr_status tr_session_open(tr_session **out, tr_config *cfg, int with_data,
                          tr_error *err)
{
    *out = NULL;
    tr_session *s = calloc(1, sizeof *s);
    if (!s) {
        tr_config_free(cfg);
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    }
    s->cfg = cfg;
    s->perm_epoch = -1;
    tr_status st;
    char *cdir = dir_of(cfg->path);
    st = tr_plugin_open(&s->plugin, cfg->plugin, cdir, err);
    const char *pwhere = cfg->plugin_where;
    if (!st && cfg->scorer_plugins) { /* libraries of attention scorers, before create() */
        pwhere = cfg->scorer_plugins_where;
        st = tr_plugin_open_scorers(&s->plugin, cfg->scorer_plugins, cdir, err);
    }
    free(cdir);
    if (st) {
        /* Say where in the config the plugin was named. */
        char msg[TR_ERROR_MAX];
        snprintf(msg, sizeof msg, "%s", err->msg);
        tr_error_set(err, st, "%s: %s", pwhere, msg);
        goto fail;
    }
    const tr_plugin *P = s->plugin.desc;
    s->options = calloc((size_t)(P->n_options > 0 ? P->n_options : 1), sizeof *s->options);
    if (!s->options) { st = tr_error_set(err, TR_ERR_NOMEM, "out of memory"); goto fail; }
    if ((st = tr_config_bind_options(cfg, P->options, P->n_options, s->options, err)))
        goto fail;
    if ((st = tr_data_load(&s->vocabs, &s->pairs, cfg, with_data, err)))
        goto fail;
    if (cfg->shift > 0 && s->pairs.height > 0 && (cfg->shift >= s->pairs.height || cfg->shift >= s->pairs.width)) {
        st = tr_error_set(err, TR_ERR_CONFIG, "%s: data.shift must be less than the images' %dx%d, got %ld", cfg->path,
                          s->pairs.height, s->pairs.width, cfg->shift);
        goto fail;
    }

    s->comm = tr_comm_world();
    s->report_rank = -1;
    s->fail_rank = -1;
    s->saved_step = -1;
    s->best_value = -INFINITY;
    s->best_step = -1;
    s->tracked_step = -1;
    /* Test hook for failure handling: TR_TEST_FAIL=rank:step[:kind], kind
     * error (the plugin fails), sigterm (the rank gets SIGTERM during the
     * step) or sigkill (the rank dies after the step and its checkpoint). */
    const char *hook = getenv("TR_TEST_FAIL");
    snprintf(s->fail_kind, sizeof s->fail_kind, "error");
    if (hook && sscanf(hook, "%d:%ld:%15[a-z]", &s->fail_rank, &s->fail_step, s->fail_kind) < 2)
        s->fail_rank = -1;
    s->threads = omp_get_max_threads();
    s->micro = micro_size(cfg);
    s->max_shards = (int)((cfg->batch + s->micro - 1) / s->micro);
    /* rank r takes shards [r*S/R, (r+1)*S/R): at most ceil(S/R) of them */
    const int local_shards = (s->max_shards + s->comm.size - 1) / s->comm.size;
    openblas_set_num_threads(1); /* we parallelise over shards ourselves */

    const int classify = tr_session_classifies(s);
    tr_model_info info = {
        .size = sizeof info,
        .src_len = (int)cfg->src_len, .tgt_len = (int)cfg->tgt_len,
        .src_vocab = s->vocabs.src.n, .tgt_vocab = s->vocabs.tgt.n,
        .src_pad = s->vocabs.src.pad, .tgt_pad = s->vocabs.tgt.pad,
        .max_batch = s->micro, .options = s->options,
        .tgt_bos = s->vocabs.tgt.bos, .tgt_eos = s->vocabs.tgt.eos,
        .in_channels = s->pairs.channels, .in_height = s->pairs.height, .in_width = s->pairs.width,
        .task = classify ? TR_TASK_CLASSIFY : TR_TASK_SEQ2SEQ,
        .n_classes = classify ? s->vocabs.tgt.n : 0,
        .class_names = classify ? (const char *const *)s->vocabs.tgt.tokens : NULL,
        .src_tokens = s->vocabs.src.n ? (const char *const *)s->vocabs.src.tokens : NULL,
        .tgt_tokens = (const char *const *)s->vocabs.tgt.tokens,
        .src_unk = s->vocabs.src.unk,
    };
    tr_error perr = {0};
    if (P->create(&s->model, &s->reg, &info, &perr) || !s->model) {
        if (perr.status == TR_ERR_CONFIG) /* a bad option value: the config's fault, exit 2 */
            st = tr_error_set(err, TR_ERR_CONFIG, "%s: plugin '%s': %s", cfg->plugin_where, P->name, perr.msg);
        else
            st = tr_error_set(err, TR_ERR_MODEL, "plugin '%s' (%s): create failed: %s", P->name, s->plugin.path,
                              perr.msg[0] ? perr.msg : "no reason given");
        goto fail;
    }
    if (s->reg.n == 0) {
        st = tr_error_set(err, TR_ERR_MODEL, "plugin '%s' registered no parameters", P->name);
        goto fail;
    }
    if (P->size >= offsetof(tr_plugin, maps) + sizeof P->maps && P->maps) {
        s->n_maps = P->maps(s->model, s->map_specs, TR_MAX_MAPS);
        if (s->n_maps < 0 || s->n_maps > TR_MAX_MAPS) {
            st = tr_error_set(err, TR_ERR_MODEL, "plugin '%s' declares %d attention maps (0..%d allowed)", P->name,
                              s->n_maps, TR_MAX_MAPS);
            goto fail;
        }
        for (int i = 0; i < s->n_maps; i++) {
            const tr_map_spec *m = &s->map_specs[i];
            int ok = m->name && m->name[0] && m->ndim >= 1 && m->ndim < TR_MAX_DIMS;
            for (int d = 0; ok && d < m->ndim; d++)
                ok = m->shape[d] > 0;
            if (!ok) {
                st = tr_error_set(err, TR_ERR_MODEL, "plugin '%s': attention map %d has no name or a bad shape",
                                  P->name, i);
                goto fail;
            }
        }
    }
    size_t total = s->reg.total;
    s->plugin_scratch = (P->scratch_bytes(s->model, s->micro) + 63) / 64 * 64;
    s->input_size = (size_t)s->pairs.channels * s->pairs.height * s->pairs.width;
    if (cfg->normalize && s->input_size && (st = input_statistics(s, err)))
        goto fail;
    size_t tok, meta;
    s->scratch_stride = s->plugin_scratch + shard_bytes(cfg, s->micro, s->input_size, &tok, &meta);
    s->params = xalloc(total * sizeof(float));
    s->grad = xalloc(total * sizeof(float));
    s->opt_m = xalloc(total * sizeof(float));
    s->opt_v = xalloc(total * sizeof(float));
    s->shard_grads = xalloc((size_t)(local_shards > 0 ? local_shards : 1) * total * sizeof(float));
    /* + the shards' losses, which travel in the same allreduce (reduce_exact) */
    s->acc = xalloc((total + (size_t)s->max_shards) * sizeof(int64_t));
    /* + failure and stop flags, then the touched-row flags of tables */
    s->maxabs = xalloc((size_t)(s->reg.n + 2 + s->reg.n_rows) * sizeof(float));
    s->sum_pos = xalloc((size_t)(s->reg.n + s->reg.n_rows) * sizeof(size_t));
    s->grad_rows = xalloc((s->reg.n_rows ? s->reg.n_rows : 1) * sizeof(float));
    s->scales = xalloc((size_t)s->reg.n * sizeof(double));
    s->shard_loss = xalloc((size_t)s->max_shards * sizeof(double));
    s->chunk_sums = xalloc((total / 8192 + 1) * sizeof(double));
    s->shard_err = xalloc((size_t)s->max_shards * sizeof(tr_error));
    s->scratch = xalloc((size_t)s->threads * s->scratch_stride);
    s->perm = xalloc((size_t)(s->pairs.n > 0 ? s->pairs.n : 1) * sizeof(int32_t));
    const size_t C = classify ? (size_t)s->vocabs.tgt.n : 0;
    if (C && !(s->confusion = calloc(C * C, sizeof *s->confusion))) {
        st = tr_error_set(err, TR_ERR_NOMEM, "out of memory for a %zu x %zu confusion matrix", C, C);
        goto fail;
    }
    if (!s->params || !s->grad || !s->opt_m || !s->opt_v || !s->shard_grads || !s->acc || !s->maxabs || !s->grad_rows ||
        !s->scales || !s->shard_loss || !s->chunk_sums || !s->shard_err || !s->scratch || !s->perm ||
        !s->sum_pos) {
        st = tr_error_set(err, TR_ERR_NOMEM, "out of memory allocating buffers for %zu parameters", total);
        goto fail;
    }
    if ((st = tr_registry_init_values(&s->reg, s->params, (uint64_t)cfg->seed, err)))
        goto fail;
    *out = s;
    return TR_OK;
fail:
    tr_session_close(s);
    return st;
}

void tr_session_close(tr_session *s)
{
    if (!s)
        return;
    if (s->model && s->plugin.desc)
        s->plugin.desc->destroy(s->model);
    tr_plugin_close(&s->plugin);
    tr_registry_free(&s->reg);
    tr_pairs_free(&s->pairs);
    tr_vocabs_free(&s->vocabs);
    free(s->options);
    free(s->params); free(s->grad); free(s->opt_m); free(s->opt_v); free(s->in_mean); free(s->in_std);
    free(s->shard_grads); free(s->acc); free(s->maxabs); free(s->scales);
    free(s->shard_loss); free(s->chunk_sums); free(s->shard_err); free(s->scratch); free(s->perm);
    free(s->confusion);
    free(s->sum_pos);
    free(s->grad_rows);
    tr_config_free(s->cfg);
    free(s);
}

int tr_session_classifies(const tr_session *s)
{
    return tr_data_classifies(s->cfg, &s->pairs);
}

void tr_class_scores(const long *confusion, int C, int k, double *precision, double *recall, double *f1)
{
    long tp = confusion[(size_t)k * C + k], predicted = 0, actual = 0;
    for (int j = 0; j < C; j++) {
        predicted += confusion[(size_t)j * C + k];
        actual += confusion[(size_t)k * C + j];
    }
    /* sklearn's zero_division=1 for a class absent from both */
    *precision = predicted ? (double)tp / predicted : actual ? 0.0 : 1.0;
    *recall = actual ? (double)tp / actual : predicted ? 0.0 : 1.0;
    *f1 = *precision + *recall > 0 ? 2 * *precision * *recall / (*precision + *recall) : 0.0;
}

long tr_session_steps_per_epoch(const tr_session *s)
{
    return (s->cfg->train_size + s->cfg->batch - 1) / s->cfg->batch;
}

/* Per-thread scratch: the plugin's part, then the shard's token ids, then
 * its images as floats. */
/* One thread's slice of s->scratch: the plugin's scratch, then a shard's
 * tokens, lengths, sample indices and images. */
typedef struct shard_bufs {
    void *plugin;
    int32_t *src, *tgt, *lengths;
    int64_t *index;
    float *input;
} shard_bufs;

static shard_bufs thread_buffers(const tr_session *s)
{
    unsigned char *base = s->scratch + (size_t)omp_get_thread_num() * s->scratch_stride;
    size_t tok, meta;
    shard_bytes(s->cfg, s->micro, s->input_size, &tok, &meta);
    shard_bufs b;
    b.plugin = base;
    b.src = (int32_t *)(base + s->plugin_scratch);
    b.tgt = b.src + (size_t)s->micro * s->cfg->src_len;
    b.index = (int64_t *)(base + s->plugin_scratch + tok);
    b.lengths = (int32_t *)(b.index + s->micro);
    b.input = (float *)(base + s->plugin_scratch + tok + meta);
    return b;
}

/* lengths[n]: each source's tokens before its first <pad> (post-padded). */
static void source_lengths(int32_t *lengths, const int32_t *src, int n, int T, int pad)
{
    for (int j = 0; j < n; j++) {
        int t = 0;
        while (t < T && src[(size_t)j * T + t] != pad)
            t++;
        lengths[j] = t;
    }
}

/* The batch of m samples whose tokens and images are in the buffers (src
 * may point elsewhere), with their lengths and (index != NULL) indices. */
static tr_batch make_batch(const tr_session *s, const shard_bufs *sb, const int32_t *src, const int32_t *tgt, int m,
                           const int64_t *index, uint64_t key, int training)
{
    const int T = (int)s->cfg->src_len;
    if (src)
        source_lengths(sb->lengths, src, m, T, s->vocabs.src.pad);
    tr_batch b = {.size = sizeof b, .n = m, .src = src, .tgt = tgt, .input = s->input_size ? sb->input : NULL,
                  .src_lengths = src ? sb->lengths : NULL, .index = index, .key = key, .training = training};
    return b;
}

/* m images of in[m, C, HW] in [0, 1] made (x - mean) / std per channel
 * (data.normalize; mean NULL: as they are) */
static void normalize_images(float *x, int m, int C, size_t HW, const float *mean, const float *std)
{
    for (int i = 0; mean && i < m; i++)
        for (int c = 0; c < C; c++) {
            float *p = x + ((size_t)i * C + c) * HW;
            const float mu = mean[c], inv = 1.0f / std[c];
            for (size_t k = 0; k < HW; k++)
                p[k] = (p[k] - mu) * inv;
        }
}

/* m images of pixels 0..255 as the model's input: floats in [0, 1], then
 * normalised if the run says so. */
static void pixels_to_input(const tr_session *s, float *out, const uint8_t *px, int m)
{
    const size_t n = (size_t)m * s->input_size;
    for (size_t i = 0; i < n; i++)
        out[i] = (float)px[i] * (1.0f / 255.0f);
    normalize_images(out, m, s->pairs.channels, (size_t)s->pairs.height * s->pairs.width, s->in_mean, s->in_std);
}

/* data.normalize: each channel's mean and deviation over the training
 * images, from exact integer sums (the same on every rank, in any order);
 * the deviation unbiased, as torch.std. */
static tr_status input_statistics(tr_session *s, tr_error *err)
{
    const tr_pairs *p = &s->pairs;
    const int C = p->channels;
    const size_t HW = (size_t)p->height * p->width;
    s->in_mean = calloc((size_t)C, sizeof *s->in_mean);
    s->in_std = calloc((size_t)C, sizeof *s->in_std);
    if (!s->in_mean || !s->in_std)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    for (int c = 0; c < C; c++) {
        s->in_std[c] = 1.0f; /* until the data (or a checkpoint) says */
        if (!p->pixels || p->n < s->cfg->train_size)
            continue;
        uint64_t sum = 0, sq = 0;
        for (long i = 0; i < s->cfg->train_size; i++) {
            const uint8_t *q = p->pixels + ((size_t)i * C + c) * HW;
            for (size_t k = 0; k < HW; k++) {
                sum += q[k];
                sq += (uint64_t)q[k] * q[k];
            }
        }
        const double n = (double)s->cfg->train_size * (double)HW, mean = (double)sum / n;
        const double var = n > 1 ? ((double)sq - n * mean * mean) / (n - 1) : 0.0;
        s->in_mean[c] = (float)(mean / 255.0);
        s->in_std[c] = var > 0 ? (float)(sqrt(var) / 255.0) : 1.0f;
    }
    return TR_OK;
}

/* Samples idx[0..n) into the shard's buffers; for training (aug != NULL)
 * images get data.flip/data.shift, keyed by the epoch and sample index. */
static void gather(int32_t *src, int32_t *tgt, float *input, int64_t *index, const tr_session *s,
                   const int32_t *idx, int n, const tr_config *aug, long epoch)
{
    const tr_pairs *p = &s->pairs;
    const size_t px = (size_t)p->channels * p->height * p->width;
    for (int j = 0; j < n; j++) {
        index[j] = p->index ? p->index[idx[j]] : idx[j];
        if (p->src_len)
            memcpy(src + (size_t)j * p->src_len, p->src + (size_t)idx[j] * p->src_len, (size_t)p->src_len * sizeof *src);
        memcpy(tgt + (size_t)j * p->tgt_len, p->tgt + (size_t)idx[j] * p->tgt_len, (size_t)p->tgt_len * sizeof *tgt);
        if (px && aug && (aug->flip || aug->shift > 0 || aug->rotate > 0))
            tr_augment_image(input + (size_t)j * px, p->pixels + (size_t)idx[j] * px, p->channels, p->height,
                             p->width, aug->flip, (int)aug->shift, aug->rotate, aug->rotate_bilinear,
                             tr_augment_key((uint64_t)aug->seed, epoch, idx[j]));
        else if (px)
            for (size_t k = 0; k < px; k++)
                input[(size_t)j * px + k] = (float)p->pixels[(size_t)idx[j] * px + k] * (1.0f / 255.0f);
    }
    if (px) /* after the augmentation, as torchvision's Normalize comes last */
        normalize_images(input, n, p->channels, (size_t)p->height * p->width, s->in_mean, s->in_std);
}

tr_batch tr_session_train_batch(tr_session *s, const int32_t *idx, int n, void **plugin_scratch)
{
    shard_bufs sb = thread_buffers(s);
    gather(sb.src, sb.tgt, sb.input, sb.index, s, idx, n, s->cfg, 0);
    *plugin_scratch = sb.plugin;
    const uint64_t key = tr_key_u64((uint64_t)s->cfg->seed, 0x44524f504f5554ULL /* "DROPOUT" */, 0);
    return make_batch(s, &sb, s->pairs.src_len ? sb.src : NULL, sb.tgt, n, sb.index, key, 1);
}

/* Order-independent sum of this step's shard gradients into s->grad
 * (divided by n): local fixed-point sums, then one integer allreduce. The
 * shards' losses ride in the same allreduce, as their bits: each is on one
 * rank and 0 on the others, so the integer sum is that rank's double. */
static tr_status reduce_exact(tr_session *s, int nsh, int lo, int hi, int n, int *nonfinite, tr_error *err)
{
    const size_t total = s->reg.total;
    const int nloc = hi - lo; /* s->maxabs already holds the global maxima (train_step) */
    for (int t = 0; t < s->reg.n; t++)
        if (!(s->maxabs[t] < INFINITY)) { /* every rank sees the same maxima */
            if (s->cfg->nonfinite == TR_NONFINITE_SKIP) { /* the shards stay unread: shards_dirty */
                *nonfinite = 1;
                return TR_OK;
            }
            s->report_rank = 0;
            return tr_error_set(err, TR_ERR_MODEL, "non-finite gradient for parameter '%s' at step %ld (lower train.lr or set train.clip_norm)",
                                s->reg.tensors[t].name, s->step + 1);
        }
    const float *rowflags = s->maxabs + s->reg.n + 2; /* agreed by every rank (train_step) */
    tr_exact_scales(s->scales, s->maxabs, s->reg.n, nsh);
    /* only the dense tensors and the touched rows of tables are summed and travel */
    const size_t len = tr_exact_layout(s->sum_pos, &s->reg, rowflags);
    tr_exact_quantize_sum(s->acc, s->shard_grads, nloc, total, &s->reg, s->scales, s->sum_pos);
    int64_t *losses = s->acc + len;
    for (int sh = 0; sh < nsh; sh++) {
        losses[sh] = 0;
        if (sh >= lo && sh < hi)
            memcpy(&losses[sh], &s->shard_loss[sh], sizeof losses[sh]);
    }
    tr_comm_sum_i64(&s->comm, s->acc, len + (size_t)nsh);
    for (int sh = 0; sh < nsh; sh++)
        memcpy(&s->shard_loss[sh], &losses[sh], sizeof losses[sh]);
    tr_exact_to_float(s->grad, s->acc, &s->reg, s->scales, (double)n, s->sum_pos, s->grad_rows);
    return TR_OK;
}

/* The plain float reference (train.exact_reduce: false): shard order
 * within the rank, then MPI's float sum; depends on the layout. */
static tr_status reduce_float(tr_session *s, int nloc, int n, int *nonfinite, tr_error *err)
{
    const size_t total = s->reg.total;
    memset(s->grad, 0, total * sizeof *s->grad);
    for (int k = 0; k < nloc; k++) {
        tr_add_inplace(s->grad, s->shard_grads + (size_t)k * total, (long)total);
        memset(s->shard_grads + (size_t)k * total, 0, total * sizeof(float));
    }
    tr_comm_sum_float(&s->comm, s->grad, total);
    const float inv = 1.0f / (float)n;
    for (size_t i = 0; i < total; i++)
        s->grad[i] *= inv;
    if (!isfinite(tr_global_norm(s->grad, (long)total))) {
        if (s->cfg->nonfinite == TR_NONFINITE_SKIP) {
            *nonfinite = 1;
            return TR_OK;
        }
        s->report_rank = 0;
        return tr_error_set(err, TR_ERR_MODEL, "non-finite gradient at step %ld (lower train.lr or set train.clip_norm)",
                            s->step + 1);
    }
    return TR_OK;
}

/* Clipping and the optimizer over fixed chunks of the parameters, spread
 * over the threads. The chunks do not depend on the thread count, and the
 * norm adds the chunks' sums in chunk order, so the bits do not either. */
static void apply_update(tr_session *s)
{
    enum { CHUNK = 8192 };
    const tr_config *c = s->cfg;
    const long total = (long)s->reg.total, nch = (total + CHUNK - 1) / CHUNK;
    double *part = s->chunk_sums;
    const long steps = tr_session_steps_per_epoch(s) * c->epochs, next = s->step + 1;
    /* the norm is a pass over every gradient: made only for clipping or
     * for a step whose log line shows it */
    if (c->clip_norm > 0 || next % c->log_every == 0 || next >= steps) {
        #pragma omp parallel for schedule(static)
        for (long k = 0; k < nch; k++) {
            long o = k * CHUNK, m = total - o < CHUNK ? total - o : CHUNK;
            part[k] = tr_sum_squares(s->grad + o, m);
        }
        double sum = 0.0;
        for (long k = 0; k < nch; k++)
            sum += part[k];
        s->grad_norm = sqrt(sum);
    }
    const double clip = c->clip_norm > 0 && s->grad_norm > c->clip_norm ? c->clip_norm / s->grad_norm : 1.0;
    const double lr = tr_lr_at(c, s->step, steps);
    if (c->weight_decay > 0) {
        /* decoupled, as PyTorch's AdamW: shrink every trained value (not
         * the running statistics) by lr * wd, before the optimizer step */
        #pragma omp parallel for schedule(dynamic, 1)
        for (int t = 0; t < s->reg.n; t++) {
            const tr_tensor *T = &s->reg.tensors[t];
            if (!T->running)
                tr_weight_decay(s->params + T->offset, (long)T->count, lr, c->weight_decay);
        }
    }
    #pragma omp parallel for schedule(static)
    for (long k = 0; k < nch; k++) {
        long o = k * CHUNK, m = total - o < CHUNK ? total - o : CHUNK;
        float *g = s->grad + o;
        if (clip != 1.0)
            for (long i = 0; i < m; i++)
                g[i] = (float)((double)g[i] * clip);
        if (c->optimizer == TR_OPTIM_ADAM)
            tr_adam_update(s->params + o, s->opt_m + o, s->opt_v + o, g, m, lr, c->beta1, c->beta2, c->eps,
                           s->step - s->skipped_steps + 1); /* the steps Adam took */
        else
            tr_sgd_update(s->params + o, s->opt_m + o, g, m, lr, c->momentum, c->nesterov);
    }
}

/* Running statistics (tr_param_add_running): their slot of the averaged
 * gradient holds the step's sample-weighted mean statistic. Move the value
 * towards it, then zero the slot, so the norm, clipping and the optimizer
 * (which leaves a value with zero gradient and zero moments unchanged)
 * pass over it. */
static void update_running(tr_session *s)
{
    for (int t = 0; t < s->reg.n && s->reg.n_running; t++) {
        const tr_tensor *T = &s->reg.tensors[t];
        if (!T->running)
            continue;
        float *p = s->params + T->offset, *g = s->grad + T->offset;
        for (size_t i = 0; i < T->count; i++) {
            p[i] += T->momentum * (g[i] - p[i]);
            g[i] = 0.0f;
        }
    }
}

/* The rows of tables looked up by the source tokens (tr_param_add_lookup)
 * that samples idx[0..n) can have touched: their tokens'. The other rows'
 * flags are 0, and tr_exact_maxabs reads only the flagged ones. */
static void flag_source_rows(const tr_session *s, float *rowflags, const int32_t *idx, int n)
{
    const int T = s->pairs.src_len;
    for (int t = 0; t < s->reg.n; t++) {
        const tr_tensor *tt = &s->reg.tensors[t];
        if (!tt->by_src)
            continue;
        float *f = rowflags + tt->row_first;
        memset(f, 0, (size_t)tt->rows * sizeof *f);
        for (size_t i = 0; i < (size_t)n * T; i++) {
            const int32_t tok = s->pairs.src[(size_t)idx[i / T] * T + i % T];
            if (tok >= 0 && tok < tt->rows)
                f[tok] = 1.0f;
        }
    }
}

tr_status tr_session_flush_metrics(tr_session *s, tr_error *err)
{
    if (s->metrics && !s->metrics_errno && (fflush(s->metrics) || ferror(s->metrics)))
        s->metrics_errno = errno ? errno : EIO;
    if (!s->metrics_errno)
        return TR_OK;
    return tr_error_set(err, TR_ERR_IO, "%s: writing failed: %s; the rows before are kept",
                        s->metrics_path ? s->metrics_path : "metrics.csv", strerror(s->metrics_errno));
}

/* train.nonfinite: skip: the step's batch is used up and the schedule goes
 * on, but the parameters and the optimizer's state stay as they were (as a
 * mixed-precision loss scaler drops a step). */
static tr_status skip_step(tr_session *s, double *loss_sum, tr_error *err)
{
    s->step++;
    s->skipped_steps++;
    s->skips_in_row++;
    s->step_skipped = 1;
    *loss_sum = 0.0;
    if (s->skips_in_row >= s->cfg->max_skips) {
        s->report_rank = 0;
        return tr_error_set(err, TR_ERR_MODEL, "stopped at step %ld: %ld steps in a row had a non-finite gradient or loss "
                            "(train.max_skips: %ld; lower train.lr or set train.clip_norm)",
                            s->step, s->skips_in_row, s->cfg->max_skips);
    }
    return TR_OK;
}

/* One optimizer step over the global batch idx[0..n), every rank together. */
static tr_status train_step(tr_session *s, const int32_t *idx, int n,
                            double *loss_sum, tr_error *err)
{
    const tr_plugin *P = s->plugin.desc;
    const size_t total = s->reg.total;
    const int g = s->micro;
    const int nsh = (n + g - 1) / g;
    const int R = s->comm.size, r = s->comm.rank;
    const int lo = (int)((long)r * nsh / R), hi = (int)((long)(r + 1) * nsh / R);
    const long epoch = s->step / tr_session_steps_per_epoch(s);
    /* dropout and other randomness: keyed by seed and epoch here, by each
     * sample's index in the plugin (tr_dropout_key) */
    const uint64_t key = tr_key_u64((uint64_t)s->cfg->seed, 0x44524f504f5554ULL /* "DROPOUT" */, (uint64_t)epoch);
    memset(s->shard_loss, 0, (size_t)nsh * sizeof *s->shard_loss);
    const int dirty = s->shards_dirty;
    s->shards_dirty = 1; /* until a reduction has consumed (and zeroed) them */
    double tc = now_s();
    #pragma omp parallel for schedule(dynamic, 1)
    for (int sh = lo; sh < hi; sh++) {
        shard_bufs sb = thread_buffers(s);
        int m = n - sh * g < g ? n - sh * g : g;
        gather(sb.src, sb.tgt, sb.input, sb.index, s, idx + (size_t)sh * g, m, s->cfg, epoch);
        float *gr = s->shard_grads + (size_t)(sh - lo) * total;
        if (dirty) /* otherwise the last reduction left them zero */
            memset(gr, 0, total * sizeof *gr);
        tr_batch b = make_batch(s, &sb, s->pairs.src_len ? sb.src : NULL, sb.tgt, m, sb.index, key, 1);
        s->shard_err[sh].status = TR_OK;
        s->shard_err[sh].msg[0] = 0;
        if (P->train(s->model, s->params, gr, sb.plugin, &b, &s->shard_loss[sh], &s->shard_err[sh]) != TR_OK &&
            s->shard_err[sh].status == TR_OK)
            s->shard_err[sh].status = TR_ERR_MODEL;
    }
    s->compute_seconds += now_s() - tc;
    /* A failure on any rank stops every rank at the same step; the lowest
     * failing rank's lowest failing shard is the one reported. */
    int failed = 0, bad_loss = 0;
    const int skip_mode = s->cfg->nonfinite == TR_NONFINITE_SKIP;
    if (s->metrics_errno) { /* rank 0 could not write metrics.csv: stop together */
        failed = 1;
        tr_session_flush_metrics(s, err);
    }
    for (int sh = lo; sh < hi && !failed; sh++)
        if (s->shard_err[sh].status != TR_OK) {
            failed = 1;
            tr_error_set(err, TR_ERR_MODEL, "plugin '%s' failed at step %ld: %s", P->name, s->step + 1,
                         s->shard_err[sh].msg[0] ? s->shard_err[sh].msg : "no reason given");
        } else if (!isfinite(s->shard_loss[sh]) && skip_mode) {
            bad_loss = 1;
        } else if (!isfinite(s->shard_loss[sh])) { /* found here, so the losses need no allreduce of their own */
            failed = 1;
            tr_error_set(err, TR_ERR_MODEL, "plugin '%s' returned a non-finite loss (%g) at step %ld (lower train.lr or set train.clip_norm)",
                         P->name, s->shard_loss[sh], s->step + 1);
        }
    if (r == s->fail_rank && s->step + 1 == s->fail_step && strcmp(s->fail_kind, "sigterm") == 0)
        raise(SIGTERM);
    if (!failed && r == s->fail_rank && s->step + 1 == s->fail_step && strcmp(s->fail_kind, "error") == 0) {
        failed = 1;
        tr_error_set(err, TR_ERR_MODEL, "injected failure at step %ld (TR_TEST_FAIL=%d:%ld)", s->step + 1,
                     s->fail_rank, s->fail_step);
    }
    /* One MAX allreduce carries the failure flag (R - rank, so the lowest
     * failing rank wins), the stop flag (SIGTERM/SIGINT on any rank) and,
     * for the exact reduction, every tensor's max |g|. */
    const int nt = s->reg.n;
    if (s->cfg->exact_reduce && !failed) {
        double t0 = now_s(); /* part of the exact reduction's cost */
        if (s->reg.n_by_src) /* this rank's samples */
            flag_source_rows(s, s->maxabs + nt + 2, idx + (size_t)lo * g, (hi * g < n ? hi * g : n) - lo * g);
        tr_exact_maxabs(s->maxabs, s->maxabs + nt + 2, s->shard_grads, hi - lo, total, &s->reg);
        if (bad_loss && nt > 0) /* a non-finite loss drops the step as a non-finite gradient does */
            s->maxabs[0] = INFINITY;
        s->reduce_seconds += now_s() - t0;
    } else {
        memset(s->maxabs, 0, (size_t)nt * sizeof *s->maxabs);
        memset(s->maxabs + nt + 2, 0, s->reg.n_rows * sizeof *s->maxabs);
    }
    s->maxabs[nt] = failed ? (float)(R - r) : 0.0f;
    s->maxabs[nt + 1] = (float)tr_stop_signal; /* a stop request (its signal), agreed at this step */
    double ts = now_s();
    tr_comm_max_float(&s->comm, s->maxabs, nt + 2 + (int)s->reg.n_rows);
    s->sync_seconds += now_s() - ts;
    s->stop = (int)s->maxabs[nt + 1];
    int fr = s->maxabs[nt] > 0.0f ? R - (int)s->maxabs[nt] : -1;
    if (fr >= 0) {
        s->report_rank = fr;
        if (r != fr)
            tr_error_set(err, TR_ERR_MODEL, "stopped: rank %d failed at step %ld", fr, s->step + 1);
        return TR_ERR_MODEL;
    }
    if (!s->cfg->exact_reduce) {
        ts = now_s();
        tr_comm_sum_double(&s->comm, s->shard_loss, nsh); /* each shard's loss is on one rank, 0 elsewhere */
        s->sync_seconds += now_s() - ts;
    }
    double t0 = now_s();
    int nonfinite = 0;
    tr_status st = s->cfg->exact_reduce ? reduce_exact(s, nsh, lo, hi, n, &nonfinite, err)
                                        : reduce_float(s, hi - lo, n, &nonfinite, err);
    if (!st && !nonfinite)
        s->shards_dirty = 0;
    s->reduce_seconds += now_s() - t0;
    if (st)
        return st;
    double loss = 0.0;
    for (int sh = 0; sh < nsh && !nonfinite; sh++)
        loss += s->shard_loss[sh];
    if (skip_mode && (nonfinite || !isfinite(loss))) /* the same on every rank: from reduced values */
        return skip_step(s, loss_sum, err);
    s->skips_in_row = 0;
    s->step_skipped = 0;
    if (!isfinite(loss)) { /* finite shards whose sum overflows */
        s->report_rank = 0;
        return tr_error_set(err, TR_ERR_MODEL, "plugin '%s' returned a non-finite loss (%g) at step %ld (lower train.lr or set train.clip_norm)",
                            P->name, loss, s->step + 1);
    }

    t0 = now_s();
    update_running(s);
    apply_update(s);
    s->update_seconds += now_s() - t0;
    s->step++;
    *loss_sum = loss;
    return TR_OK;
}

/* Cheap check that every rank holds the same parameters: a hash of their
 * bits, compared by min/max allreduce. */
static tr_status check_replicas(tr_session *s, tr_error *err)
{
    if (s->comm.size < 2)
        return TR_OK;
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    typedef uint32_t __attribute__((may_alias)) u32_alias; /* float bits, legally */
    const u32_alias *w = (const u32_alias *)s->params;
    for (size_t i = 0; i < s->reg.total; i++)
        h = (h ^ w[i]) * 0x100000001b3ULL;
    uint64_t lo = h, hi = h;
    tr_comm_min_max_u64(&s->comm, &lo, &hi);
    if (lo != hi) {
        s->report_rank = 0;
        return tr_error_set(err, TR_ERR_INTERNAL, "parameters differ across ranks at step %ld (a bug: please report)", s->step);
    }
    return TR_OK;
}

static void fmt_duration(char *buf, size_t len, double sec)
{
    long t = (long)(sec + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else
        snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
}

tr_status tr_session_train(tr_session *s, long max_steps, FILE *log,
                           tr_error *err)
{
    const tr_config *c = s->cfg;
    const long N = c->train_size, B = c->batch;
    const long spe = tr_session_steps_per_epoch(s);
    const long total_steps = spe * c->epochs;
    long done = 0, win_samples = 0, all_samples = 0, win_skipped = 0, win_loss_samples = 0;
    double win_loss = 0.0, t0 = now_s(), win_t0 = t0, reduce0 = s->reduce_seconds;
    double compute0 = s->compute_seconds, sync0 = s->sync_seconds, update0 = s->update_seconds;
    while (s->step < total_steps && (max_steps < 0 || done < max_steps)) {
        long epoch = s->step / spe, k = s->step % spe;
        if (s->perm_epoch != epoch) {
            if (c->shuffle)
                tr_permutation(s->perm, (int32_t)N, tr_key_u64((uint64_t)c->seed, 0x5348554646ULL /* "SHUFF" */, (uint64_t)epoch));
            else
                for (long i = 0; i < N; i++) s->perm[i] = (int32_t)i;
            s->perm_epoch = epoch;
        }
        long start = k * B;
        int n = (int)(N - start < B ? N - start : B);
        double loss = 0.0;
        tr_status st = train_step(s, s->perm + start, n, &loss, err);
        if (!st && s->step % c->log_every == 0)
            st = check_replicas(s, err);
        if (st)
            return st;
        done++;
        if (s->step_skipped) {
            win_skipped++;
        } else {
            win_loss += loss;
            win_loss_samples += n;
        }
        win_samples += n;
        all_samples += n;
        if (s->step % c->log_every == 0 || s->step == total_steps) {
            double t = now_s();
            double rate = win_samples / (t - win_t0 > 1e-9 ? t - win_t0 : 1e-9);
            double overall = all_samples / (t - t0 > 1e-9 ? t - t0 : 1e-9);
            long left = (total_steps - s->step) * B;
            double lr = tr_lr_at(c, s->step - 1, total_steps);
            char eta[32];
            fmt_duration(eta, sizeof eta, left / overall);
            /* the loss is over the steps taken; a window of skipped steps only has none */
            const double wl = win_loss_samples ? win_loss / win_loss_samples : NAN;
            if (log) {
                fprintf(log, "step %ld/%ld  epoch %ld/%ld  loss %.4f  lr %.5f  grad_norm %.3f  %.0f samples/s  ETA %s",
                        s->step, total_steps, (s->step - 1) / spe + 1, c->epochs, wl, lr, s->grad_norm, rate, eta);
                if (win_skipped)
                    fprintf(log, "  skipped %ld (non-finite; %ld in all)", win_skipped, s->skipped_steps);
                fputc('\n', log);
                fflush(log);
            }
            if (s->metrics) {
                fprintf(s->metrics, "%ld,%ld,", s->step, (s->step - 1) / spe + 1);
                if (win_loss_samples)
                    fprintf(s->metrics, "%.6g", wl);
                fprintf(s->metrics, ",%.6g,%.6g,%.1f,,,,,%ld\n", lr, s->grad_norm, rate, s->skipped_steps);
                tr_session_flush_metrics(s, NULL); /* a failure stops the next step */
            }
            win_loss = 0.0;
            win_samples = 0;
            win_loss_samples = 0;
            win_skipped = 0;
            win_t0 = t;
        }
        int due = c->checkpoint_every > 0 ? s->step % c->checkpoint_every == 0 : s->step % spe == 0;
        if (s->ckpt_path && (due || s->stop || s->step == total_steps)) {
            tr_status cs = s->comm.rank == 0 && s->save ? s->save(s, s->ckpt_path, err) : TR_OK;
            int fr = tr_comm_first_failure(&s->comm, cs != TR_OK);
            if (fr >= 0) {
                s->report_rank = fr;
                return cs ? cs : TR_ERR_IO;
            }
            s->saved_step = s->step;
        }
        if (s->comm.rank == s->fail_rank && s->step == s->fail_step && strcmp(s->fail_kind, "sigkill") == 0)
            raise(SIGKILL);
        if (s->stop) {
            s->report_rank = 0;
            return tr_error_set(err, TR_ERR_INTERRUPTED, "stopped by signal %d at step %ld; %s", s->stop,
                                s->step, s->ckpt_path ? "checkpoint saved: run the same command to resume" : "nothing saved");
        }
    }
    /* metrics.csv's last row did not reach the disk (rank 0): every rank stops */
    if (tr_comm_first_failure(&s->comm, s->metrics_errno != 0) >= 0) {
        s->report_rank = 0;
        tr_session_flush_metrics(s, err);
        return TR_ERR_IO;
    }
    /* the fastest and slowest rank's compute per step: a straggler shows as
     * rank 0 waiting (every rank calls this; done is the same on all) */
    float spread[2] = {0.0f, 0.0f};
    if (done > 0) {
        float cm = (float)(1e3 * (s->compute_seconds - compute0) / done);
        spread[0] = cm;
        spread[1] = -cm;
        tr_comm_max_float(&s->comm, spread, 2);
    }
    if (log && done > 0) {
        double t = now_s() - t0;
        double red = s->reduce_seconds - reduce0;
        fprintf(log, "train done: %ld samples in %.2f s, %.1f samples/s\n", all_samples, t, all_samples / (t > 1e-9 ? t : 1e-9));
        fprintf(log, "gradient reduction (%s): %.3f ms/step, %.1f%% of step time\n",
                s->cfg->exact_reduce ? "exact int64" : "float", 1e3 * red / done, 100.0 * red / (t > 1e-9 ? t : 1e-9));
        /* where a step's time goes on this rank; "rest" holds logging and
         * checkpoints (evaluation runs between calls, outside these figures) */
        double cm = 1e3 * (s->compute_seconds - compute0) / done, sy = 1e3 * (s->sync_seconds - sync0) / done;
        double up = 1e3 * (s->update_seconds - update0) / done, all = 1e3 * t / done;
        fprintf(log, "time per step (rank 0): %.3f ms = compute %.3f + waiting for ranks %.3f + reduction %.3f + optimizer %.3f + rest %.3f\n",
                all, cm, sy, 1e3 * red / done, up, all - cm - sy - 1e3 * red / done - up);
        if (s->comm.size > 1)
            fprintf(log, "compute per step over the %d ranks: fastest %.3f ms, slowest %.3f ms\n", s->comm.size,
                    -spread[1], spread[0]);
        fflush(log);
    }
    return TR_OK;
}

tr_status tr_session_predict(tr_session *s, const int32_t *src, int n,
                             int32_t *tokens, float *attention, tr_error *err)
{
    return tr_session_predict_ex(s, src, NULL, n, tokens, attention, NULL, err);
}

size_t tr_session_map_size(const tr_session *s, int k)
{
    size_t sz = 1;
    for (int d = 0; d < s->map_specs[k].ndim; d++)
        sz *= (size_t)s->map_specs[k].shape[d];
    return sz;
}

tr_status tr_session_predict_ex(tr_session *s, const int32_t *src, const uint8_t *pixels, int n,
                                int32_t *tokens, float *attention, float **maps, tr_error *err)
{
    return tr_session_predict_full(s, src, pixels, NULL, n, tokens, attention, maps, NULL, err);
}

tr_status tr_session_predict_full(tr_session *s, const int32_t *src, const uint8_t *pixels, const int64_t *index,
                                  int n, int32_t *tokens, float *attention, float **maps, float *probs, tr_error *err)
{
    const tr_plugin *P = s->plugin.desc;
    const int g = s->micro, Tx = (int)s->cfg->src_len, Ty = (int)s->cfg->tgt_len;
    const int nch = (n + g - 1) / g;
    const int has_maps = P->size >= offsetof(tr_plugin, maps) + sizeof P->maps;
    tr_status first = TR_OK;
    int first_ch = nch;
    #pragma omp parallel for schedule(dynamic, 1)
    for (int ch = 0; ch < nch; ch++) {
        shard_bufs sb = thread_buffers(s);
        int m = n - ch * g < g ? n - ch * g : g;
        if (pixels)
            pixels_to_input(s, sb.input, pixels + (size_t)ch * g * s->input_size, m);
        tr_batch b = make_batch(s, &sb, src ? src + (size_t)ch * g * Tx : NULL, NULL, m,
                                index ? index + (size_t)ch * g : NULL, 0, 0);
        b.input = pixels ? sb.input : NULL;
        float *mp[TR_MAX_MAPS] = {0};
        for (int k = 0; maps && k < s->n_maps; k++)
            mp[k] = maps[k] ? maps[k] + (size_t)ch * g * tr_session_map_size(s, k) : NULL;
        tr_prediction pr = {.size = sizeof pr,
                            .tokens = tokens ? tokens + (size_t)ch * g * Ty : NULL,
                            .attention = attention ? attention + (size_t)ch * g * Ty * Tx : NULL,
                            .maps = maps && has_maps ? mp : NULL,
                            .probs = probs ? probs + (size_t)ch * g * s->vocabs.tgt.n : NULL};
        tr_error e = {0};
        if (P->predict(s->model, s->params, sb.plugin, &b, &pr, &e) != TR_OK) {
            #pragma omp critical
            if (ch < first_ch) {
                first_ch = ch;
                first = tr_error_set(err, TR_ERR_MODEL, "plugin '%s' predict failed: %s", P->name,
                                     e.msg[0] ? e.msg : "no reason given");
            }
        }
    }
    return first;
}

const int32_t *tr_session_src(const tr_session *s, long i)
{
    return s->pairs.src ? s->pairs.src + (size_t)i * s->pairs.src_len : NULL;
}

const uint8_t *tr_session_pixels(const tr_session *s, long i)
{
    return s->pairs.pixels ? s->pairs.pixels + (size_t)i * s->input_size : NULL;
}

/* One token sequence up to </s> (exclusive), without padding. */
static int sentence(const int32_t *ids, int n, const tr_vocab *v, int32_t *out)
{
    int k = 0;
    for (int i = 0; i < n && ids[i] != v->eos; i++)
        if (ids[i] != v->pad && ids[i] != v->bos)
            out[k++] = ids[i];
    return k;
}

tr_status tr_session_evaluate(tr_session *s, tr_eval *ev, tr_error *err)
{
    const tr_config *c = s->cfg;
    const int n = (int)c->test_size, Ty = (int)c->tgt_len;
    memset(ev, 0, sizeof *ev);
    if (n <= 0)
        return TR_OK;
    /* this rank's contiguous part of the held-out set (the last data.test
     * pairs); BLEU on those among the first bleu_samples */
    const int R = s->comm.size, r = s->comm.rank;
    const int lo = (int)((long)r * n / R), hi = (int)((long)(r + 1) * n / R);
    const long first = s->pairs.n - n + lo;
    const tr_vocab *tv = &s->vocabs.tgt;
    const int bleu_n = c->data_kind == TR_DATA_WORD_PAIRS ? (int)(c->bleu_samples < n ? c->bleu_samples : n) : 0;
    int32_t *pred = malloc((size_t)(hi - lo > 0 ? hi - lo : 1) * Ty * sizeof *pred);
    int32_t *hyp = malloc((size_t)Ty * sizeof *hyp), *ref = malloc((size_t)Ty * sizeof *ref);
    tr_status st = pred && hyp && ref
                       ? tr_session_predict_ex(s, tr_session_src(s, first), tr_session_pixels(s, first), hi - lo, pred,
                                               NULL, NULL, err)
                       : tr_error_set(err, TR_ERR_NOMEM, "out of memory evaluating");
    /* exact, tokens right, tokens, then the BLEU statistics */
    long counts[3 + TR_BLEU_LONGS] = {0};
    tr_bleu_stats bs;
    memset(&bs, 0, sizeof bs);
    const int C = s->confusion ? tv->n : 0;
    if (C)
        memset(s->confusion, 0, (size_t)C * C * sizeof *s->confusion);
    for (int i = 0; !st && i < hi - lo; i++) {
        const int32_t *t = s->pairs.tgt + (size_t)(first + i) * Ty, *p = pred + (size_t)i * Ty;
        if (C && t[0] >= 0 && t[0] < C && p[0] >= 0 && p[0] < C)
            s->confusion[(size_t)t[0] * C + p[0]]++;
        int all = 1;
        for (int y = 0; y < Ty; y++) {
            if (tv->pad >= 0 && t[y] == tv->pad && p[y] == t[y])
                continue;
            counts[2]++;
            if (p[y] == t[y]) counts[1]++;
            else all = 0;
        }
        counts[0] += all;
        if (lo + i < bleu_n)
            tr_bleu_add(&bs, hyp, sentence(p, Ty, tv, hyp), ref, sentence(t, Ty, tv, ref));
    }
    free(pred);
    free(hyp);
    free(ref);
    /* teacher-forced token accuracy, when the plugin can score */
    const tr_plugin *P = s->plugin.desc;
    const int has_score = P->size >= offsetof(tr_plugin, score) + sizeof P->score && P->score;
    long forced[2] = {0, 0};
    if (!st && has_score) {
        const int g = s->micro, nch = (hi - lo + g - 1) / g;
        #pragma omp parallel for schedule(dynamic, 1)
        for (int ch = 0; ch < nch; ch++) {
            shard_bufs sb = thread_buffers(s);
            int m = hi - lo - ch * g < g ? hi - lo - ch * g : g;
            const long at = first + (long)ch * g;
            if (s->input_size)
                pixels_to_input(s, sb.input, tr_session_pixels(s, at), m);
            tr_batch b = make_batch(s, &sb, tr_session_src(s, at), s->pairs.tgt + (size_t)at * Ty, m,
                                    s->pairs.index ? s->pairs.index + at : NULL, 0, 0);
            long c = 0, t = 0;
            tr_error e = {0};
            P->score(s->model, s->params, sb.plugin, &b, &c, &t, &e);
            #pragma omp atomic
            forced[0] += c;
            #pragma omp atomic
            forced[1] += t;
        }
    }
    int fr = tr_comm_first_failure(&s->comm, st != TR_OK);
    if (fr >= 0) {
        s->report_rank = fr;
        return st ? st : tr_error_set(err, TR_ERR_MODEL, "stopped: rank %d failed evaluating", fr);
    }
    memcpy(counts + 3, bs.match, 4 * sizeof(long));
    memcpy(counts + 7, bs.total, 4 * sizeof(long));
    counts[11] = bs.hyp_len;
    counts[12] = bs.ref_len;
    tr_comm_sum_long(&s->comm, counts, 3 + TR_BLEU_LONGS);
    tr_comm_sum_long(&s->comm, forced, 2);
    if (C) {
        tr_comm_sum_long(&s->comm, s->confusion, C * C);
        ev->classes = C;
        ev->confusion = s->confusion;
        for (int k = 0; k < C; k++) {
            double pr, rc, f1;
            tr_class_scores(s->confusion, C, k, &pr, &rc, &f1);
            ev->macro_f1 += f1 / C;
        }
    }
    ev->has_forced = has_score && forced[1] > 0;
    ev->forced_acc = ev->has_forced ? (double)forced[0] / forced[1] : 0.0;
    memcpy(bs.match, counts + 3, 4 * sizeof(long));
    memcpy(bs.total, counts + 7, 4 * sizeof(long));
    bs.hyp_len = counts[11];
    bs.ref_len = counts[12];
    ev->exact = (double)counts[0] / n;
    ev->token_acc = counts[2] ? (double)counts[1] / counts[2] : 1.0;
    ev->has_bleu = bleu_n > 0;
    ev->bleu = ev->has_bleu ? tr_bleu_score(&bs) : 0.0;
    return TR_OK;
}

/* core/runtime/gradcheck.c - a plugin's analytic gradient against central
 * differences of its loss (trainer/gradcheck.h says how, and why so). */
#include "trainer/gradcheck.h"
#include "config/config.h"
#include "base/registry.h"
#include "runtime/session.h"
#include "runtime/checkpoint.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The summed loss of the batch at the current parameters; the gradient
 * into grad (zeroed first). */
static tr_status loss_at(tr_session *s, float *grad, void *scratch, const tr_batch *b, double *loss, tr_error *err)
{
    memset(grad, 0, s->reg.total * sizeof *grad);
    tr_error perr = {0};
    *loss = 0.0;
    if (s->plugin.desc->train(s->model, s->params, grad, scratch, b, loss, &perr) != TR_OK)
        return tr_error_set(err, TR_ERR_MODEL, "plugin '%s' failed: %s", s->plugin.desc->name,
                            perr.msg[0] ? perr.msg : "no reason given");
    if (!isfinite(*loss))
        return tr_error_set(err, TR_ERR_MODEL, "plugin '%s' returned a non-finite loss (%g)", s->plugin.desc->name,
                            *loss);
    return TR_OK;
}

/* Is `name` in the comma-separated list (NULL or empty: every name)? */
static int listed(const char *list, const char *name)
{
    if (!list || !*list)
        return 1;
    const size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p += len + (e != NULL);
    }
    return 0;
}

/* Every name of the list names a tensor, or err says which does not. */
static tr_status check_names(const tr_registry *reg, const char *list, tr_error *err)
{
    for (const char *p = list ? list : ""; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char name[TR_MAX_NAME];
        snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), p);
        if (!tr_registry_find(reg, name)) {
            char names[1024];
            size_t o = 0;
            names[0] = 0;
            for (int t = 0; t < reg->n && o + 1 < sizeof names; t++)
                o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", t ? ", " : "", reg->tensors[t].name);
            return tr_error_set(err, TR_ERR_CONFIG, "--tensors: the model has no tensor '%s' (it has %s)", name, names);
        }
        p += len + (e != NULL);
    }
    return TR_OK;
}

/* Up to k entries of tensor t: half evenly over its nonzero analytic
 * entries, the rest evenly over all; returns how many. */
static int pick(size_t *at, int k, const float *g, size_t count)
{
    if (count <= (size_t)k) {
        for (size_t i = 0; i < count; i++)
            at[i] = i;
        return (int)count;
    }
    size_t nz = 0;
    for (size_t i = 0; i < count; i++)
        nz += g[i] != 0.0f;
    int k1 = nz ? (k + 1) / 2 : 0, n = 0;
    if ((size_t)k1 > nz)
        k1 = (int)nz;
    size_t seen = 0;
    for (size_t i = 0; i < count && n < k1; i++)
        if (g[i] != 0.0f && seen++ == (size_t)n * nz / (size_t)k1)
            at[n++] = i;
    for (int j = 0; j < k - k1; j++)
        at[n++] = (size_t)j * count / (size_t)(k - k1);
    return n;
}

typedef struct entry_result {
    double err, analytic, numeric;
} entry_result;

/* One entry's error, the smallest over the steps h, 3h, h/3, 10h, h/10,
 * h/30, h/100 (stopping at the first within tol). At each step, with the central
 * difference n, the one-sided ones f = (L+ - L)/h and b = (L - L-)/h, and
 * noise = 3 sqrt(2) sigma / (2h) (three deviations of the quotients' float
 * noise, sigma the loss's: measure_noise):
 *   central:  max(0, |a - n| - noise) / max(|a|, |n|, floor_t)
 *   at steps <= h also bracketed: the distance from a to [min(f, b),
 *   max(f, b)], less 2 noise, over the same scale. Where ReLU or max kinks
 *   lie within the step (thousands of them in a CNN, any step), the
 *   central difference averages slopes from both sides of them and can
 *   miss the slope at the point, which the one-sided slopes bracket; a
 *   smooth loss's bracket is only h |L''| wide. */
static tr_status check_entry(tr_session *s, float *tmp, void *scratch, const tr_batch *b, size_t i, double a,
                             double L0, double h, double tol, double floor_t, double sigma, entry_result *r,
                             tr_error *err)
{
    static const double steps[] = {1, 3, 1.0 / 3, 10, 0.1, 1.0 / 30, 0.01};
    float *p = s->params + i;
    const float keep = *p;
    r->err = INFINITY;
    r->analytic = a;
    r->numeric = 0;
    for (int k = 0; k < 7 && r->err > tol; k++) {
        const double hk = h * steps[k];
        const float up = (float)(keep + hk), dn = (float)(keep - hk);
        if (up == dn || up == keep || dn == keep)
            continue;
        double lp, lm;
        *p = up;
        tr_status st = loss_at(s, tmp, scratch, b, &lp, err);
        *p = dn;
        if (!st)
            st = loss_at(s, tmp, scratch, b, &lm, err);
        *p = keep;
        if (st)
            return st;
        const double step = (double)up - (double)dn, num = (lp - lm) / step;
        const double noise = 3.0 * sqrt(2.0) * sigma / step;
        const double scale = fmax(floor_t, fmax(fabs(a), fabs(num)));
        double e = fmax(0.0, fabs(a - num) - noise) / scale;
        if (steps[k] <= 1) {
            const double f = (lp - L0) / ((double)up - keep), bk = (L0 - lm) / (keep - (double)dn);
            const double lo = fmin(f, bk), hi = fmax(f, bk), out = a < lo ? lo - a : a > hi ? a - hi : 0.0;
            e = fmin(e, fmax(0.0, out - 2 * noise) / scale);
        }
        if (e < r->err) {
            r->err = e;
            r->numeric = num;
        }
    }
    if (r->err == INFINITY) /* no step moved it */
        r->err = 0;
    return TR_OK;
}

/* The float noise of the loss: a forward pass in float rounds differently
 * at every input, so L(p + d) - L(p) - g d, for steps d so small that the
 * true change beyond g d is far below it, is that noise. The RMS over 16
 * entries spread over all tensors (d = 1e-5, or the float spacing). */
static tr_status measure_noise(tr_session *s, const float *grad, float *tmp, void *scratch, const tr_batch *b,
                               double L0, double *sigma, tr_error *err)
{
    const tr_registry *reg = &s->reg;
    double ss = 0.0;
    int n = 0;
    for (int j = 0; j < 16; j++) {
        const tr_tensor *tt = &reg->tensors[j % reg->n];
        if (tt->running || tt->count == 0)
            continue;
        const size_t i = tt->offset + ((size_t)j * 2654435761u) % tt->count;
        float *p = s->params + i;
        const float keep = *p, moved = (float)(keep + 1e-5) != keep ? (float)(keep + 1e-5) : nextafterf(keep, INFINITY);
        double l;
        *p = moved;
        tr_status st = loss_at(s, tmp, scratch, b, &l, err);
        *p = keep;
        if (st)
            return st;
        const double r = l - L0 - (double)grad[i] * ((double)moved - (double)keep);
        ss += r * r;
        n++;
    }
    *sigma = n ? sqrt(ss / n) : 0.0;
    return TR_OK;
}

/* Tensors that are all zeros (biases as initialised) get seeded values in
 * [-0.1, 0.1]: a zero bias over a zero input (an image's black background,
 * padding) puts a ReLU exactly on its kink, where a central difference sees
 * half a slope and the analytic gradient none. Returns how many moved. */
static int move_off_zeros(tr_session *s)
{
    int moved = 0;
    for (int t = 0; t < s->reg.n; t++) {
        const tr_tensor *tt = &s->reg.tensors[t];
        float *p = s->params + tt->offset;
        size_t i = 0;
        while (i < tt->count && p[i] == 0.0f)
            i++;
        if (tt->running || tt->count == 0 || i < tt->count)
            continue;
        uint32_t r = 12345u + 7919u * (uint32_t)t;
        for (i = 0; i < tt->count; i++) {
            r = r * 1664525u + 1013904223u;
            p[i] = 0.2f * ((float)(r >> 8) / 16777216.0f - 0.5f);
        }
        moved++;
    }
    return moved;
}

/* A table looked up by the source tokens (tr_param_add_lookup) promises a
 * gradient only in the rows of the batch's tokens: the first row that has
 * one without being a token, or -1 (-2: out of memory). */
static long stray_row(const tr_tensor *tt, const float *g, const tr_batch *b, int src_len)
{
    unsigned char *is_tok = calloc((size_t)tt->rows, 1);
    if (!is_tok)
        return -2;
    for (size_t i = 0; b->src && i < (size_t)b->n * src_len; i++)
        if (b->src[i] >= 0 && b->src[i] < tt->rows)
            is_tok[b->src[i]] = 1;
    const size_t row = tt->count / (size_t)tt->rows;
    long stray = -1;
    for (size_t r = 0; r < (size_t)tt->rows && stray < 0; r++)
        for (size_t i = 0; i < row && !is_tok[r]; i++)
            if (g[r * row + i] != 0.0f) {
                stray = (long)r;
                break;
            }
    free(is_tok);
    return stray;
}

static int run_check(tr_session *s, const tr_gradcheck_opts *o, const char *config, FILE *out, tr_error *err)
{
    const tr_registry *reg = &s->reg;
    const int N = o->samples;
    if (s->cfg->train_size < N)
        return tr_error_set(err, TR_ERR_CONFIG, "%s: --samples %d, but data.train has %ld samples", config, N,
                            s->cfg->train_size), -1;
    if (check_names(reg, o->tensors, err))
        return -1;
    int32_t *idx = malloc((size_t)N * sizeof *idx);
    float *grad = malloc(reg->total * sizeof *grad), *tmp = malloc(reg->total * sizeof *tmp);
    size_t *at = malloc((size_t)o->entries * sizeof *at);
    int failed = -1;
    if (!idx || !grad || !tmp || !at) {
        tr_error_set(err, TR_ERR_NOMEM, "out of memory for the gradient check");
        goto done;
    }
    for (int i = 0; i < N; i++)
        idx[i] = i; /* the first training samples */
    const int moved = move_off_zeros(s);
    void *scratch;
    tr_batch b = tr_session_train_batch(s, idx, N, &scratch);
    double L0, sigma;
    if (loss_at(s, grad, scratch, &b, &L0, err) || measure_noise(s, grad, tmp, scratch, &b, L0, &sigma, err))
        goto done;
    if (out)
        fprintf(out,
                "gradcheck %s: plugin %s, the first %d training samples: loss %.6g, its float noise %.2g; h %g "
                "(retried at 3h, h/3, 10h, h/10, h/30, h/100), tolerance %g; %d all-zero tensors set to U(-0.1, 0.1)\n"
                "%-36s %-14s %7s  %s\n",
                config, s->plugin.desc->name, N, L0, sigma, o->step, o->tolerance, moved, "tensor", "shape",
                "checked", "worst error");
    int n_checked = 0, n_fail = 0, entries = 0;
    char failed_names[512] = "";
    for (int t = 0; t < reg->n; t++) {
        const tr_tensor *tt = &reg->tensors[t];
        if (!listed(o->tensors, tt->name))
            continue;
        char shape[64];
        tr_shape_str(shape, sizeof shape, tt->ndim, tt->shape);
        if (tt->running) {
            if (out)
                fprintf(out, "%-36s %-14s %7s  running statistic: not a gradient, skipped\n", tt->name, shape, "-");
            continue;
        }
        const float *g = grad + tt->offset;
        double maxa = 0;
        for (size_t i = 0; i < tt->count; i++)
            maxa = fabs(g[i]) > maxa ? fabs(g[i]) : maxa;
        const int k = pick(at, o->entries, g, tt->count);
        entry_result worst = {0, 0, 0};
        size_t worst_at = 0;
        for (int j = 0; j < k; j++) {
            entry_result r;
            if (check_entry(s, tmp, scratch, &b, tt->offset + at[j], g[at[j]], L0, o->step, o->tolerance,
                            1e-2 * maxa, sigma, &r, err))
                goto done;
            if (r.err >= worst.err) {
                worst = r;
                worst_at = at[j];
            }
        }
        const long stray = tt->by_src ? stray_row(tt, g, &b, s->pairs.src_len) : -1;
        if (stray == -2) {
            tr_error_set(err, TR_ERR_NOMEM, "out of memory for the gradient check");
            goto done;
        }
        const int ok = worst.err <= o->tolerance && stray < 0;
        n_checked++;
        entries += k;
        if (!ok) {
            n_fail++;
            size_t len = strlen(failed_names);
            snprintf(failed_names + len, sizeof failed_names - len, "%s%s", len ? ", " : "", tt->name);
        }
        if (out) {
            fprintf(out, "%-36s %-14s %7d  %.2e  %s", tt->name, shape, k, worst.err, ok ? "ok" : "FAIL");
            if (stray >= 0)
                fprintf(out, "  (row %ld has a gradient but is no source token of the batch: tr_param_add_lookup)",
                        stray);
            else if (!ok)
                fprintf(out, "  (worst at [%zu]: analytic %.6g, numeric %.6g)", worst_at, worst.analytic,
                        worst.numeric);
            fputc('\n', out);
        }
    }
    if (out) {
        if (n_fail)
            fprintf(out, "gradcheck: %d of %d tensors FAIL: %s\n", n_fail, n_checked, failed_names);
        else
            fprintf(out, "gradcheck: all %d tensors ok (%d entries)\n", n_checked, entries);
    }
    failed = n_fail;
done:
    free(idx);
    free(grad);
    free(tmp);
    free(at);
    return failed;
}

TR_API int tr_gradcheck(const char *config, int n_overrides, char *const *overrides, const tr_gradcheck_opts *opts,
                        FILE *out, tr_error *err)
{
    tr_gradcheck_opts o = {sizeof o, 4, 16, NULL, 1e-2, 2e-2, NULL};
    if (opts) { /* the caller's struct may be older (shorter) than ours */
        const size_t n = opts->size < sizeof o ? opts->size : sizeof o;
        memcpy((char *)&o + sizeof o.size, (const char *)opts + sizeof o.size, n > sizeof o.size ? n - sizeof o.size : 0);
        o.samples = o.samples ? o.samples : 4;
        o.entries = o.entries ? o.entries : 16;
        o.step = o.step != 0 ? o.step : 1e-2;
        o.tolerance = o.tolerance != 0 ? o.tolerance : 2e-2;
    }
    if (o.samples < 1 || o.entries < 1 || !(o.step > 0) || !(o.tolerance > 0))
        return tr_error_set(err, TR_ERR_CONFIG, "gradcheck: samples and entries must be >= 1, step and tolerance > 0"),
               -1;
    /* one batch of exactly `samples`: a micro-shard of that size, so the
     * plugin's scratch is sized for it */
    char batch[48], micro[48];
    snprintf(batch, sizeof batch, "train.batch=%d", o.samples);
    snprintf(micro, sizeof micro, "train.micro_batch=%d", o.samples);
    char **ov = malloc((size_t)(n_overrides + 2) * sizeof *ov);
    if (!ov)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory"), -1;
    for (int i = 0; i < n_overrides; i++)
        ov[i] = overrides[i];
    ov[n_overrides] = batch;
    ov[n_overrides + 1] = micro;
    tr_config *cfg = NULL;
    tr_status st = tr_config_load(&cfg, config, n_overrides + 2, ov, err);
    free(ov);
    if (st) {
        err->status = TR_ERR_CONFIG; /* an unreadable config too: a usage error */
        return -1;
    }
    tr_session *s = NULL;
    if (tr_session_open(&s, cfg, 1, err))
        return -1;
    int rc = -1;
    if (!o.checkpoint || !tr_checkpoint_load(s, o.checkpoint, 0, err))
        rc = run_check(s, &o, config, out, err);
    tr_session_close(s);
    return rc;
}

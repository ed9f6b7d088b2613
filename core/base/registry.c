/* core/runtime/registry.c - named tensors in one buffer, and their initialisers. */
#include "base/registry.h"
#include "base/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK (shipped inside OpenBLAS) for the orthogonal initialiser's QR. */
extern void sgeqrf_(const int *m, const int *n, float *a, const int *lda,
                    float *tau, float *work, const int *lwork, int *info);
extern void sorgqr_(const int *m, const int *n, const int *k, float *a,
                    const int *lda, const float *tau, float *work,
                    const int *lwork, int *info);

tr_status tr_param_add(tr_registry *r, const char *name, int ndim,
                       const int *shape, tr_init init, size_t *offset,
                       tr_error *err)
{
    if (!name || !*name || strlen(name) >= TR_MAX_NAME)
        return tr_error_set(err, TR_ERR_MODEL, "parameter name '%s' is empty or longer than %d characters",
                            name ? name : "(null)", TR_MAX_NAME - 1);
    if (ndim < 1 || ndim > TR_MAX_DIMS)
        return tr_error_set(err, TR_ERR_MODEL, "parameter '%s': %d dimensions (1..%d allowed)", name, ndim, TR_MAX_DIMS);
    if (tr_registry_find(r, name))
        return tr_error_set(err, TR_ERR_MODEL, "parameter '%s' registered twice", name);
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] <= 0)
            return tr_error_set(err, TR_ERR_MODEL, "parameter '%s': dimension %d is %d", name, i, shape[i]);
        count *= (size_t)shape[i];
    }
    if (init.kind == TR_INIT_ORTHOGONAL && ndim != 2)
        return tr_error_set(err, TR_ERR_MODEL, "parameter '%s': orthogonal init needs 2 dimensions", name);
    if (init.kind == TR_INIT_LSTM_BIAS && (ndim != 1 || shape[0] % 4))
        return tr_error_set(err, TR_ERR_MODEL, "parameter '%s': LSTM bias init needs shape [4*units]", name);
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 16;
        tr_tensor *t = realloc(r->tensors, (size_t)cap * sizeof *t);
        if (t)
            r->tensors = t;
        int *cf = t ? realloc(r->chunk_first, (size_t)(cap + 1) * sizeof *cf) : NULL;
        if (!cf)
            return tr_error_set(err, TR_ERR_NOMEM, "out of memory registering '%s'", name);
        if (!r->chunk_first)
            cf[0] = 0;
        r->chunk_first = cf;
        r->cap = cap;
    }
    tr_tensor *t = &r->tensors[r->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->count = count;
    t->offset = r->total;
    t->init = init;
    r->total += (count + TR_PARAM_ALIGN - 1) / TR_PARAM_ALIGN * TR_PARAM_ALIGN;
    t->chunk = TR_CHUNK;
    r->chunk_first[r->n] = r->chunk_first[r->n - 1] + (int)((count + TR_CHUNK - 1) / TR_CHUNK);
    if (offset)
        *offset = t->offset;
    return TR_OK;
}

tr_status tr_param_add_rows(tr_registry *r, const char *name, int ndim, const int *shape, tr_init init,
                            size_t *offset, tr_error *err)
{
    if (ndim < 2)
        return tr_error_set(err, TR_ERR_MODEL, "parameter '%s': a table of rows needs 2 or more dimensions",
                            name ? name : "(null)");
    tr_status st = tr_param_add(r, name, ndim, shape, init, offset, err);
    if (st)
        return st;
    /* chunks of whole rows, so that a row's flag is one chunk's business */
    tr_tensor *t = &r->tensors[r->n - 1];
    const size_t row = t->count / (size_t)shape[0];
    t->rows = shape[0];
    t->chunk = (TR_CHUNK / row > 0 ? TR_CHUNK / row : 1) * row;
    t->row_first = r->n_rows;
    r->n_rows += (size_t)t->rows;
    r->chunk_first[r->n] = r->chunk_first[r->n - 1] + (int)((t->count + t->chunk - 1) / t->chunk);
    return TR_OK;
}

tr_status tr_param_add_lookup(tr_registry *r, const char *name, int ndim, const int *shape, tr_init init,
                              size_t *offset, tr_error *err)
{
    tr_status st = tr_param_add_rows(r, name, ndim, shape, init, offset, err);
    if (!st) {
        r->tensors[r->n - 1].by_src = 1;
        r->n_by_src++;
    }
    return st;
}

tr_status tr_param_add_running(tr_registry *r, const char *name, int ndim,
                               const int *shape, tr_init init, float momentum,
                               size_t *offset, tr_error *err)
{
    if (!(momentum > 0.0f && momentum <= 1.0f))
        return tr_error_set(err, TR_ERR_MODEL, "running statistic '%s': momentum %g is not in (0, 1]",
                            name ? name : "(null)", (double)momentum);
    tr_status st = tr_param_add(r, name, ndim, shape, init, offset, err);
    if (st)
        return st;
    r->tensors[r->n - 1].running = 1;
    r->tensors[r->n - 1].momentum = momentum;
    r->n_running++;
    return TR_OK;
}

void tr_registry_free(tr_registry *r)
{
    free(r->tensors);
    free(r->chunk_first);
    memset(r, 0, sizeof *r);
}

TR_API tr_registry *tr_registry_new(void)
{
    return calloc(1, sizeof(tr_registry));
}

TR_API void tr_registry_delete(tr_registry *reg)
{
    if (reg)
        tr_registry_free(reg);
    free(reg);
}

TR_API size_t tr_registry_size(const tr_registry *reg)
{
    return reg->total;
}

TR_API tr_status tr_registry_init_params(const tr_registry *reg, float *params, uint64_t seed, tr_error *err)
{
    return tr_registry_init_values(reg, params, seed, err);
}

TR_API int tr_registry_lookup(const tr_registry *reg, const char *name, size_t *offset, size_t *count)
{
    const tr_tensor *t = tr_registry_find(reg, name);
    if (!t)
        return 0;
    if (offset)
        *offset = t->offset;
    if (count)
        *count = t->count;
    return 1;
}

const tr_tensor *tr_registry_find(const tr_registry *r, const char *name)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->tensors[i].name, name) == 0)
            return &r->tensors[i];
    return NULL;
}

const char *tr_shape_str(char *buf, size_t len, int ndim, const int *shape)
{
    size_t o = (size_t)snprintf(buf, len, "[");
    for (int i = 0; i < ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%d", i ? ", " : "", shape[i]);
    if (o < len)
        snprintf(buf + o, len - o, "]");
    return buf;
}

static void fans(const tr_tensor *t, double *fan_in, double *fan_out)
{
    if (t->ndim == 1) {
        *fan_in = *fan_out = t->shape[0];
    } else if (t->ndim == 2) {
        *fan_in = t->shape[0];
        *fan_out = t->shape[1];
    } else { /* conv [out, in, kh, kw...] */
        double rf = 1;
        for (int i = 2; i < t->ndim; i++)
            rf *= t->shape[i];
        *fan_in = t->shape[1] * rf;
        *fan_out = t->shape[0] * rf;
    }
}

/* Keras 'orthogonal': QR of a normal matrix with sign correction, so the
 * rows (rows < cols) or columns are orthonormal. */
static tr_status init_orthogonal(float *out, const tr_tensor *t, tr_rng *rng,
                                 tr_error *err)
{
    int rows = t->shape[0], cols = t->shape[1];
    /* QR needs m >= n: factor the tall orientation, transpose back if needed. */
    int m = rows >= cols ? rows : cols, n = rows >= cols ? cols : rows;
    float *a = malloc((size_t)m * n * sizeof *a);
    float *tau = malloc((size_t)n * sizeof *tau);
    float *diag = malloc((size_t)n * sizeof *diag);
    int lwork = 64 * n, info = 0;
    float *work = malloc((size_t)lwork * sizeof *work);
    if (!a || !tau || !work || !diag) {
        free(a); free(tau); free(work); free(diag);
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory initialising '%s'", t->name);
    }
    /* a is column-major m x n for LAPACK. */
    for (size_t i = 0; i < (size_t)m * n; i++)
        a[i] = (float)tr_rng_normal(rng);
    sgeqrf_(&m, &n, a, &m, tau, work, &lwork, &info);
    if (info == 0) {
        for (int j = 0; j < n; j++)
            diag[j] = a[(size_t)j * m + j];
        sorgqr_(&m, &n, &n, a, &m, tau, work, &lwork, &info);
    }
    if (info != 0) {
        free(a); free(tau); free(work); free(diag);
        return tr_error_set(err, TR_ERR_INTERNAL, "QR failed initialising '%s' (info %d)", t->name, info);
    }
    float gain = t->init.a != 0.0f ? t->init.a : 1.0f;
    for (int j = 0; j < n; j++) { /* column j of Q, sign of R's diagonal */
        float s = (diag[j] < 0 ? -1.0f : 1.0f) * gain;
        for (int i = 0; i < m; i++) {
            float q = a[(size_t)j * m + i] * s;
            if (rows >= cols)
                out[(size_t)i * cols + j] = q;   /* Q is rows x cols */
            else
                out[(size_t)j * cols + i] = q;   /* Q^T is rows x cols */
        }
    }
    free(a); free(tau); free(work); free(diag);
    return TR_OK;
}

tr_status tr_registry_init_values(const tr_registry *r, float *params,
                                  uint64_t seed, tr_error *err)
{
    memset(params, 0, r->total * sizeof *params);
    for (int k = 0; k < r->n; k++) {
        const tr_tensor *t = &r->tensors[k];
        float *p = params + t->offset;
        tr_rng rng = tr_rng_make(tr_key_str(seed, t->name));
        double fi, fo;
        switch (t->init.kind) {
        case TR_INIT_ZEROS:
            break;
        case TR_INIT_CONST:
            for (size_t i = 0; i < t->count; i++) p[i] = t->init.a;
            break;
        case TR_INIT_UNIFORM:
            for (size_t i = 0; i < t->count; i++)
                p[i] = (float)(t->init.a + (t->init.b - t->init.a) * tr_rng_uniform(&rng));
            break;
        case TR_INIT_NORMAL:
            for (size_t i = 0; i < t->count; i++)
                p[i] = (float)(t->init.a + t->init.b * tr_rng_normal(&rng));
            break;
        case TR_INIT_GLOROT_UNIFORM: {
            fans(t, &fi, &fo);
            double lim = sqrt(6.0 / (fi + fo));
            for (size_t i = 0; i < t->count; i++)
                p[i] = (float)(lim * (2.0 * tr_rng_uniform(&rng) - 1.0));
            break;
        }
        case TR_INIT_ORTHOGONAL: {
            tr_status s = init_orthogonal(p, t, &rng, err);
            if (s)
                return s;
            break;
        }
        case TR_INIT_LSTM_BIAS: {
            size_t h = t->count / 4;
            for (size_t i = h; i < 2 * h; i++) p[i] = 1.0f;
            break;
        }
        default:
            return tr_error_set(err, TR_ERR_MODEL, "parameter '%s': unknown init kind %d", t->name, (int)t->init.kind);
        }
    }
    return TR_OK;
}

tr_status tr_param_add_dense(tr_registry *reg, const char *prefix, int in, int out, size_t *kernel, size_t *bias,
                             tr_error *err)
{
    char name[TR_MAX_NAME + 8];
    snprintf(name, sizeof name, "%s.kernel", prefix);
    tr_status s = tr_param_add(reg, name, 2, (int[]){in, out}, (tr_init){TR_INIT_GLOROT_UNIFORM, 0, 0}, kernel, err);
    snprintf(name, sizeof name, "%s.bias", prefix);
    return s ? s : tr_param_add(reg, name, 1, (int[]){out}, (tr_init){TR_INIT_ZEROS, 0, 0}, bias, err);
}

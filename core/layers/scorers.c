/* core/layers/scorers.c - the attention scorer registry and the built-in scorers
 * (trainer/attention.h): additive (Bahdanau), dot, scaled_dot, general. */
#include "trainer/attention.h"
#include "trainer/layers.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct scorer_state {
    int Dk, Dq, K;
    size_t W, U, b, v; /* parameter offsets (those the scorer has) */
} scorer_state;

static tr_status add_param(tr_registry *reg, const char *prefix, const char *name, int ndim, const int *shape,
                           tr_init init, size_t *off, tr_error *err)
{
    char full[TR_MAX_NAME];
    snprintf(full, sizeof full, "%s.%s", prefix, name);
    return tr_param_add(reg, full, ndim, shape, init, off, err);
}

static void destroy(void *state) { free(state); }

/* ---- dot products between queries and values, per sample:
 * energy[:, b, :] (Ty x Tx, row stride B*Tx) = scale * Q_b . V_b^T */
void tr_dot_energy_forward(float *energy, const float *values, const float *queries, float scale, int B, int Ty,
                           int Tx, int D)
{
    for (int b = 0; b < B; b++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Ty, Tx, D, scale, queries + (size_t)b * D, B * D,
                    values + (size_t)b * Tx * D, D, 0.0f, energy + (size_t)b * Tx, B * Tx);
}

void tr_dot_energy_backward(float *dvalues, float *dqueries, const float *denergy, const float *values,
                            const float *queries, float scale, int B, int Ty, int Tx, int D)
{
    for (int b = 0; b < B; b++) {
        const float *dE = denergy + (size_t)b * Tx; /* Ty x Tx, ld B*Tx */
        if (dqueries) /* dQ_b += scale dE_b . V_b */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Ty, D, Tx, scale, dE, B * Tx,
                        values + (size_t)b * Tx * D, D, 1.0f, dqueries + (size_t)b * D, B * D);
        if (dvalues) /* dV_b += scale dE_b^T . Q_b */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Tx, D, Ty, scale, dE, B * Tx,
                        queries + (size_t)b * D, B * D, 1.0f, dvalues + (size_t)b * Tx * D, D);
    }
}

/* ---- cosine energies: the dot energies of rows scaled to unit length.
 * cache: qn [Ty,B,D] | vn [B,Tx,D] | qlen [Ty,B] | vlen [B,Tx] | dqn | dvn */
size_t tr_cosine_cache_floats(int B, int Ty, int Tx, int D)
{
    const size_t Q = (size_t)Ty * B, V = (size_t)B * Tx;
    return 2 * (Q + V) * (size_t)D + Q + V;
}

void tr_cosine_energy_forward(float *cos, float *cache, const float *values, const float *queries, int B, int Ty,
                              int Tx, int D)
{
    const size_t Q = (size_t)Ty * B, V = (size_t)B * Tx;
    float *qn = cache, *vn = qn + Q * D, *qlen = vn + V * D, *vlen = qlen + Q;
    tr_l2norm_forward(qn, qlen, queries, (int)Q, D);
    tr_l2norm_forward(vn, vlen, values, (int)V, D);
    tr_dot_energy_forward(cos, vn, qn, 1.0f, B, Ty, Tx, D);
}

void tr_cosine_energy_backward(float *dvalues, float *dqueries, const float *dcos, float *cache, int B, int Ty,
                               int Tx, int D)
{
    const size_t Q = (size_t)Ty * B, V = (size_t)B * Tx;
    float *qn = cache, *vn = qn + Q * D, *qlen = vn + V * D, *vlen = qlen + Q, *dqn = vlen + V, *dvn = dqn + Q * D;
    memset(dqn, 0, (Q + V) * (size_t)D * sizeof *dqn);
    tr_dot_energy_backward(dvn, dqn, dcos, vn, qn, 1.0f, B, Ty, Tx, D);
    if (dqueries)
        tr_l2norm_backward(dqueries, dqn, qn, qlen, (int)Q, D);
    if (dvalues)
        tr_l2norm_backward(dvalues, dvn, vn, vlen, (int)V, D);
}

/* ---- additive: e = v . tanh(values W + queries U + b) */

static tr_status additive_create(void **state, tr_registry *reg, const char *prefix, int Dk, int Dq, int K,
                                 tr_error *err)
{
    if (K < 1)
        return tr_error_set(err, TR_ERR_CONFIG, "additive attention needs attention_units >= 1");
    scorer_state *s = calloc(1, sizeof *s);
    if (!s)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    s->Dk = Dk; s->Dq = Dq; s->K = K;
    const tr_init glorot = {TR_INIT_GLOROT_UNIFORM, 0, 0}, zeros = {TR_INIT_ZEROS, 0, 0};
    tr_status st = add_param(reg, prefix, "key_kernel", 2, (int[]){Dk, K}, glorot, &s->W, err);
    if (!st) st = add_param(reg, prefix, "query_kernel", 2, (int[]){Dq, K}, glorot, &s->U, err);
    if (!st) st = add_param(reg, prefix, "bias", 1, (int[]){K}, zeros, &s->b, err);
    if (!st) st = add_param(reg, prefix, "energy_kernel", 2, (int[]){K, 1}, glorot, &s->v, err);
    if (st) { free(s); return st; }
    *state = s;
    return TR_OK;
}

/* scratch: keys [B,Tx,K] | q [Ty,B,K] | hidden [Ty,B,Tx,K] | dq [Ty,B,K] */
static size_t additive_scratch(const void *state, int B, int Ty, int Tx)
{
    const scorer_state *s = state;
    return (size_t)s->K * ((size_t)B * Tx + 2 * (size_t)Ty * B + (size_t)Ty * B * Tx);
}

static void additive_forward(const void *state, const float *P, float *energy, float *scratch, const float *values,
                             const float *queries, int B, int Ty, int Tx)
{
    const scorer_state *s = state;
    const int K = s->K;
    float *keys = scratch, *q = keys + (size_t)B * Tx * K, *hidden = q + (size_t)Ty * B * K;
    tr_dense_forward(keys, values, P + s->W, NULL, B * Tx, s->Dk, K);
    tr_dense_forward(q, queries, P + s->U, P + s->b, Ty * B, s->Dq, K);
    for (int y = 0; y < Ty; y++)
        tr_additive_energy_forward(energy + (size_t)y * B * Tx, hidden + (size_t)y * B * Tx * K, keys,
                                   q + (size_t)y * B * K, P + s->v, NULL, B, Tx, K);
}

static void additive_backward(const void *state, const float *P, float *G, float *dvalues, float *dqueries,
                              const float *denergy, float *scratch, const float *values, const float *queries, int B,
                              int Ty, int Tx)
{
    const scorer_state *s = state;
    const int K = s->K;
    float *dkeys = scratch; /* the forward's keys are not needed any more */
    float *q = dkeys + (size_t)B * Tx * K, *hidden = q + (size_t)Ty * B * K;
    float *dq = hidden + (size_t)Ty * B * Tx * K;
    memset(dkeys, 0, (size_t)B * Tx * K * sizeof *dkeys);
    memset(dq, 0, (size_t)Ty * B * K * sizeof *dq);
    for (int y = 0; y < Ty; y++)
        tr_additive_energy_backward(dkeys, dq + (size_t)y * B * K, G + s->v, NULL, denergy + (size_t)y * B * Tx,
                                    hidden + (size_t)y * B * Tx * K, P + s->v, B, Tx, K);
    tr_dense_backward(dqueries, G + s->U, G + s->b, dq, queries, P + s->U, Ty * B, s->Dq, K);
    tr_dense_backward(dvalues, G + s->W, NULL, dkeys, values, P + s->W, B * Tx, s->Dk, K);
}

/* ---- dot and scaled_dot: e = q . h (/ sqrt(d)) */

static tr_status dot_create(void **state, tr_registry *reg, const char *prefix, int Dk, int Dq, int K, tr_error *err)
{
    (void)reg; (void)prefix; (void)K;
    if (Dk != Dq)
        return tr_error_set(err, TR_ERR_CONFIG, "dot attention needs equal encoder and decoder widths (%d != %d); use general", Dk, Dq);
    scorer_state *s = calloc(1, sizeof *s);
    if (!s)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    s->Dk = Dk; s->Dq = Dq;
    *state = s;
    return TR_OK;
}

static size_t no_scratch(const void *state, int B, int Ty, int Tx)
{
    (void)state; (void)B; (void)Ty; (void)Tx;
    return 0;
}

static void dot_forward(const void *state, const float *P, float *energy, float *scratch, const float *values,
                        const float *queries, int B, int Ty, int Tx)
{
    (void)P; (void)scratch;
    const scorer_state *s = state;
    tr_dot_energy_forward(energy, values, queries, 1.0f, B, Ty, Tx, s->Dk);
}

static void dot_backward(const void *state, const float *P, float *G, float *dvalues, float *dqueries,
                         const float *denergy, float *scratch, const float *values, const float *queries, int B,
                         int Ty, int Tx)
{
    (void)P; (void)G; (void)scratch;
    const scorer_state *s = state;
    tr_dot_energy_backward(dvalues, dqueries, denergy, values, queries, 1.0f, B, Ty, Tx, s->Dk);
}

static void scaled_forward(const void *state, const float *P, float *energy, float *scratch, const float *values,
                           const float *queries, int B, int Ty, int Tx)
{
    (void)P; (void)scratch;
    const scorer_state *s = state;
    tr_dot_energy_forward(energy, values, queries, 1.0f / sqrtf((float)s->Dk), B, Ty, Tx, s->Dk);
}

static void scaled_backward(const void *state, const float *P, float *G, float *dvalues, float *dqueries,
                            const float *denergy, float *scratch, const float *values, const float *queries, int B,
                            int Ty, int Tx)
{
    (void)P; (void)G; (void)scratch;
    const scorer_state *s = state;
    tr_dot_energy_backward(dvalues, dqueries, denergy, values, queries, 1.0f / sqrtf((float)s->Dk), B, Ty, Tx, s->Dk);
}

/* ---- general: e = q . (h Wg) */

static tr_status general_create(void **state, tr_registry *reg, const char *prefix, int Dk, int Dq, int K,
                                tr_error *err)
{
    (void)K;
    scorer_state *s = calloc(1, sizeof *s);
    if (!s)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    s->Dk = Dk; s->Dq = Dq;
    tr_status st = add_param(reg, prefix, "kernel", 2, (int[]){Dk, Dq}, (tr_init){TR_INIT_GLOROT_UNIFORM, 0, 0}, &s->W, err);
    if (st) { free(s); return st; }
    *state = s;
    return TR_OK;
}

/* scratch: keys [B,Tx,Dq] | dkeys [B,Tx,Dq] */
static size_t general_scratch(const void *state, int B, int Ty, int Tx)
{
    (void)Ty;
    const scorer_state *s = state;
    return 2 * (size_t)B * Tx * s->Dq;
}

static void general_forward(const void *state, const float *P, float *energy, float *scratch, const float *values,
                            const float *queries, int B, int Ty, int Tx)
{
    const scorer_state *s = state;
    tr_dense_forward(scratch, values, P + s->W, NULL, B * Tx, s->Dk, s->Dq);
    tr_dot_energy_forward(energy, scratch, queries, 1.0f, B, Ty, Tx, s->Dq);
}

static void general_backward(const void *state, const float *P, float *G, float *dvalues, float *dqueries,
                             const float *denergy, float *scratch, const float *values, const float *queries, int B,
                             int Ty, int Tx)
{
    const scorer_state *s = state;
    float *keys = scratch, *dkeys = scratch + (size_t)B * Tx * s->Dq;
    memset(dkeys, 0, (size_t)B * Tx * s->Dq * sizeof *dkeys);
    tr_dot_energy_backward(dkeys, dqueries, denergy, keys, queries, 1.0f, B, Ty, Tx, s->Dq);
    tr_dense_backward(dvalues, G + s->W, NULL, dkeys, values, P + s->W, B * Tx, s->Dk, s->Dq);
}

/* ---- the registry */

static const tr_scorer builtin[] = {
    {sizeof(tr_scorer), "additive", "Bahdanau: v . tanh(W h + U s + b)", additive_create, destroy, additive_scratch,
     additive_forward, additive_backward},
    {sizeof(tr_scorer), "dot", "Luong dot: s . h", dot_create, destroy, no_scratch, dot_forward, dot_backward},
    {sizeof(tr_scorer), "general", "Luong general: s . (W h)", general_create, destroy, general_scratch,
     general_forward, general_backward},
    {sizeof(tr_scorer), "scaled_dot", "s . h / sqrt(d)", dot_create, destroy, no_scratch, scaled_forward,
     scaled_backward},
};
enum { N_BUILTIN = sizeof builtin / sizeof builtin[0], MAX_SCORERS = 64 };
static const tr_scorer *added[MAX_SCORERS];
static int n_added;

const tr_scorer *tr_scorer_find(const char *name)
{
    for (int i = 0; i < N_BUILTIN; i++)
        if (strcmp(builtin[i].name, name) == 0)
            return &builtin[i];
    for (int i = 0; i < n_added; i++)
        if (strcmp(added[i]->name, name) == 0)
            return added[i];
    return NULL;
}

tr_status tr_scorer_register(const tr_scorer *s, tr_error *err)
{
    if (!s || !s->name || !*s->name || !s->create || !s->destroy || !s->scratch_floats || !s->forward || !s->backward)
        return tr_error_set(err, TR_ERR_PLUGIN, "scorer '%s' lacks a name or a function", s && s->name ? s->name : "?");
    if (tr_scorer_find(s->name))
        return tr_error_set(err, TR_ERR_PLUGIN, "an attention scorer named '%s' is already registered", s->name);
    if (n_added == MAX_SCORERS)
        return tr_error_set(err, TR_ERR_PLUGIN, "too many attention scorers (at most %d)", MAX_SCORERS);
    added[n_added++] = s;
    return TR_OK;
}

void tr_scorer_unregister(const tr_scorer *s)
{
    for (int i = 0; i < n_added; i++)
        if (added[i] == s) {
            memmove(added + i, added + i + 1, (size_t)(n_added - i - 1) * sizeof *added);
            n_added--;
            return;
        }
}

int tr_scorer_names(const char **names, int max)
{
    int n = 0;
    for (int i = 0; i < N_BUILTIN; i++, n++)
        if (n < max) names[n] = builtin[i].name;
    for (int i = 0; i < n_added; i++, n++)
        if (n < max) names[n] = added[i]->name;
    return n;
}

const tr_scorer *tr_scorer_get(const char *name, const char *key, tr_error *err)
{
    const tr_scorer *sc = name ? tr_scorer_find(name) : NULL;
    if (sc)
        return sc;
    const char *names[MAX_SCORERS + N_BUILTIN];
    const int k = tr_scorer_names(names, MAX_SCORERS + N_BUILTIN);
    char list[512] = "";
    for (int i = 0; i < k; i++) {
        const size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", names[i]);
    }
    tr_error_set(err, TR_ERR_CONFIG, "%s: no scorer '%s' (registered: %s)", key ? key : "attention", name ? name : "",
                 list);
    return NULL;
}

void tr_scorer_attend(const tr_scorer *sc, const void *state, const float *P, float *ctx, float *alpha, float *energy,
                      float *scratch, const float *values, const float *queries, const uint8_t *mask, int B, int Ty,
                      int Tx, int D)
{
    sc->forward(state, P, energy, scratch, values, queries, B, Ty, Tx);
    for (int y = 0; y < Ty; y++)
        tr_attention_forward(ctx + (size_t)y * B * D, alpha + (size_t)y * B * Tx, energy + (size_t)y * B * Tx, values,
                             mask, B, Tx, D);
}

void tr_scorer_attend_backward(const tr_scorer *sc, const void *state, const float *P, float *G, float *dvalues,
                               float *dqueries, float *denergy, const float *dctx, const float *alpha, float *scratch,
                               const float *values, const float *queries, int B, int Ty, int Tx, int D)
{
    memset(denergy, 0, (size_t)Ty * B * Tx * sizeof *denergy);
    for (int y = 0; y < Ty; y++)
        tr_attention_backward(denergy + (size_t)y * B * Tx, dvalues, dctx + (size_t)y * B * D,
                              alpha + (size_t)y * B * Tx, values, B, Tx, D);
    sc->backward(state, P, G, dvalues, dqueries, denergy, scratch, values, queries, B, Ty, Tx);
}

/* ---- the attention object (ABI 1.6) */

tr_status tr_attn_add(tr_attn *l, tr_registry *reg, const char *prefix, const char *name, const char *key,
                      int key_dim, int query_dim, int units, tr_error *err)
{
    memset(l, 0, sizeof *l);
    l->scorer = tr_scorer_get(name, key, err);
    if (!l->scorer)
        return TR_ERR_CONFIG;
    l->D = key_dim;
    return l->scorer->create(&l->state, reg, prefix, key_dim, query_dim, units, err);
}

void tr_attn_free(tr_attn *l)
{
    if (l && l->scorer && l->state)
        l->scorer->destroy(l->state);
    if (l)
        l->state = NULL;
}

void tr_attn_take(tr_attn_cache *c, tr_arena *a, const tr_attn *l, int B, int Ty, int Tx)
{
    memset(c, 0, sizeof *c);
    B = B > 0 ? B : 0, Ty = Ty > 0 ? Ty : 0, Tx = Tx > 0 ? Tx : 0;
    const size_t V = (size_t)B * Tx * l->D, E = (size_t)Ty * B * Tx, C = (size_t)Ty * B * l->D;
    tr_arena_floats(a, V, &c->values, &c->dvalues, NULL);
    TR_TAKE(a, c->mask, (size_t)B * Tx);
    tr_arena_floats(a, E, &c->energy, &c->alpha, &c->denergy, NULL);
    tr_arena_floats(a, C, &c->ctx, &c->dctx, NULL);
    TR_TAKE(a, c->scratch, l->scorer->scratch_floats(l->state, B, Ty, Tx));
    c->B = B, c->Ty = Ty, c->Tx = Tx;
}

void tr_attn_mask_tokens(tr_attn_cache *c, const int32_t *src, int pad)
{
    for (size_t i = 0; i < (size_t)c->B * c->Tx; i++)
        c->mask[i] = src[i] != pad;
}

void tr_attn_forward(const tr_attn *l, const float *P, tr_attn_cache *c, const float *queries, int steps)
{
    c->queries = queries;
    c->steps = steps;
    tr_scorer_attend(l->scorer, l->state, P, c->ctx, c->alpha, c->energy, c->scratch, c->values, queries, c->mask,
                     c->B, steps, c->Tx, l->D);
    memset(c->dctx, 0, (size_t)steps * c->B * l->D * sizeof *c->dctx);
}

void tr_attn_backward(const tr_attn *l, const float *P, float *G, tr_attn_cache *c, float *dqueries)
{
    memset(c->dvalues, 0, (size_t)c->B * c->Tx * l->D * sizeof *c->dvalues);
    tr_scorer_attend_backward(l->scorer, l->state, P, G, c->dvalues, dqueries, c->denergy, c->dctx, c->alpha,
                              c->scratch, c->values, c->queries, c->B, c->steps, c->Tx, l->D);
}

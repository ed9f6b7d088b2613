/* trainer/attention.h - the attention scorer registry.
 *
 * A scorer turns encoder states ("values", [B, Tx, Dk]) and decoder states
 * ("queries", time-major [Ty, B, Dq]) into energies [Ty, B, Tx]; the core's
 * masked softmax and weighted sum (tr_attention_forward) do the rest.
 * Seq2seq plugins look scorers up by the name a config gives
 * (`model.attention: additive`), so a new scoring function is a drop-in:
 * a plugin exports its own with TR_SCORERS_DEFINE() and configs can name
 * it. Built in: additive (Bahdanau), dot, general, scaled_dot (Luong). */
#ifndef TRAINER_ATTENTION_H
#define TRAINER_ATTENTION_H

#include <stddef.h>
#include <stdint.h>
#include "trainer/export.h"
#include "trainer/params.h"
#include "trainer/plugin.h"
#include "trainer/scratch.h"
#include "trainer/status.h"

TR_EXTERN_C_BEGIN

typedef struct tr_scorer {
    size_t size;       /* sizeof(tr_scorer) as its author built it */
    const char *name;
    const char *description;
    /* Registers the scorer's parameters (names prefixed with `prefix`) for
     * values of width key_dim, queries of width query_dim and `units`
     * hidden units (where it has any); returns its state (offsets). */
    tr_status (*create)(void **state, tr_registry *reg, const char *prefix,
                        int key_dim, int query_dim, int units, tr_error *err);
    void (*destroy)(void *state);
    /* Floats of scratch forward and backward need together. */
    size_t (*scratch_floats)(const void *state, int B, int Ty, int Tx);
    /* energy[Ty,B,Tx] from values[B,Tx,Dk] and queries[Ty,B,Dq]; keeps what
     * backward needs in scratch. */
    void (*forward)(const void *state, const float *params, float *energy,
                    float *scratch, const float *values, const float *queries,
                    int B, int Ty, int Tx);
    /* Accumulates grads (parameters), dvalues[B,Tx,Dk], dqueries[Ty,B,Dq]
     * from denergy[Ty,B,Tx]; scratch as forward left it (may be reused). */
    void (*backward)(const void *state, const float *params, float *grads,
                     float *dvalues, float *dqueries, const float *denergy,
                     float *scratch, const float *values,
                     const float *queries, int B, int Ty, int Tx);
} tr_scorer;

/* Adds a scorer (the descriptor must outlive its use). A name already taken
 * is an error. Thread-safe with respect to lookups done after it returns.
 * A plugin rarely calls this itself: TR_SCORERS_DEFINE (below) lets the core
 * register a library's scorers when it loads it and remove them when it
 * unloads it. */
TR_API tr_status tr_scorer_register(const tr_scorer *s, tr_error *err);
/* Removes the scorer registered with this descriptor (no-op if it is not):
 * whoever calls tr_scorer_register() must call this before the descriptor
 * goes away (e.g. before its library is unloaded). */
TR_API void tr_scorer_unregister(const tr_scorer *s);
/* The scorer called name, or NULL. */
TR_API const tr_scorer *tr_scorer_find(const char *name);
/* Up to max registered names into names; returns how many there are. */
TR_API int tr_scorer_names(const char **names, int max);

/* ---- scorers a shared object exports
 *
 * A model plugin, or a library of scorers alone, exports its scorers with
 *
 *     TR_SCORERS_DEFINE(&my_scorer, &my_other_scorer)
 *
 * (at file scope, no semicolon). When the core loads the library for a run,
 * as `model.plugin` or as one of `model.scorer_plugins`, it registers them
 * before the model's create() and removes them when it unloads the library;
 * listing plugins (`trainer plugins`) registers nothing. The entry writes
 * the ABI the library was built for into *abi_version and returns a
 * NULL-terminated list. */
#define TR_SCORERS_ENTRY_NAME "tr_scorers_entry"
typedef const tr_scorer *const *(*tr_scorers_entry_fn)(int *abi_version);

#define TR_SCORERS_DEFINE(...)                                              \
    static const tr_scorer *const tr_scorers_list_[] = {__VA_ARGS__, NULL}; \
    TR_EXTERN_C_BEGIN                                                       \
    TR_PLUGIN_EXPORT const tr_scorer *const *tr_scorers_entry(int *abi);    \
    TR_EXTERN_C_END                                                         \
    const tr_scorer *const *tr_scorers_entry(int *abi)                      \
    {                                                                       \
        *abi = TR_ABI_VERSION;                                              \
        return tr_scorers_list_;                                            \
    }

/* ==== Appended in ABI 1.6 */

/* The scorer called name; if there is none, NULL and err says so, naming
 * the config key: "<key>: no scorer 'x' (registered: additive, dot, ...)". */
TR_API const tr_scorer *tr_scorer_get(const char *name, const char *key,
                                      tr_error *err);

/* A seq2seq model's whole attention over Ty decoder steps: the scorer's
 * energy[Ty,B,Tx], then per step the masked softmax alpha[Ty,B,Tx] and the
 * context ctx[Ty,B,D] (tr_attention_forward). values[B,Tx,D] (width D =
 * the scorer's key_dim), queries[Ty,B,Dq] time-major, mask[B,Tx] or NULL,
 * scratch the scorer's (scratch_floats for B, Ty, Tx). */
TR_API void tr_scorer_attend(const tr_scorer *sc, const void *state,
                             const float *P, float *ctx, float *alpha,
                             float *energy, float *scratch,
                             const float *values, const float *queries,
                             const uint8_t *mask, int B, int Ty, int Tx,
                             int D);
/* Its backward from dctx[Ty,B,D]: accumulates G (the scorer's tensors),
 * dvalues[B,Tx,D] and dqueries[Ty,B,Dq]; denergy[Ty,B,Tx] is scratch. */
TR_API void tr_scorer_attend_backward(const tr_scorer *sc, const void *state,
                                      const float *P, float *G, float *dvalues,
                                      float *dqueries, float *denergy,
                                      const float *dctx, const float *alpha,
                                      float *scratch, const float *values,
                                      const float *queries, int B, int Ty,
                                      int Tx, int D);

/* ---- Appended in ABI 1.6: a scored attention over an encoder as one
 * object, as trainer/recurrent.h is for the recurrences. What seq2seq
 * plugins wrote around tr_scorer_attend: finding the scorer by its config
 * name, its state and scratch, the buffers of its inputs and outputs:
 *
 *     tr_attn att;                              // in the model, from create()
 *     tr_attn_add(&att, reg, "attention", o[K].s, "model.attention", H, H, units, err);
 *     tr_attn_cache c;                          // in the scratch layout
 *     tr_attn_take(&c, &arena, &att, n, Ty, Tx);
 *     // fill c.values [n,Tx,H] and c.mask [n,Tx] (tr_attn_mask_tokens), then per call:
 *     tr_attn_forward(&att, P, &c, queries, Ty);   // c.ctx, c.alpha [Ty,n,...]
 *     // add d(loss)/d(ctx) into c.dctx, then:
 *     tr_attn_backward(&att, P, G, &c, dqueries);  // c.dvalues, dqueries +=
 *     tr_attn_free(&att);                       // in destroy()
 *
 * The arithmetic is tr_scorer_attend's, in the same order. */

typedef struct tr_attn {
    const tr_scorer *scorer;
    void *state; /* the scorer's; NULL until added */
    int D;       /* the values' width (the scorer's key_dim) */
} tr_attn;

/* The scorer called `name` (NULL: err names `key`, as tr_scorer_get),
 * its tensors registered under prefix; key_dim the values' width,
 * query_dim the queries', units for scorers that have them. */
TR_API tr_status tr_attn_add(tr_attn *l, tr_registry *reg, const char *prefix,
                             const char *name, const char *key, int key_dim,
                             int query_dim, int units, tr_error *err);
/* Frees the scorer's state; safe on a zeroed or a failed one. */
TR_API void tr_attn_free(tr_attn *l);

typedef struct tr_attn_cache {
    float *values;  /* [B,Tx,D] what is attended to: the caller fills it */
    uint8_t *mask;  /* [B,Tx] 1 = a real source position: the caller fills it */
    float *energy;  /* [Ty,B,Tx] the scorer's energies */
    float *alpha;   /* [Ty,B,Tx] the weights: 0 where mask is 0 */
    float *ctx;     /* [Ty,B,D] the contexts: sum_t alpha values */
    float *dctx;    /* [Ty,B,D] zeroed by forward: the caller adds d(loss)/d(ctx) */
    float *dvalues; /* [B,Tx,D] written by backward */
    float *denergy, *scratch; /* backward's, the scorer's */
    /* what forward was given, read by backward */
    const float *queries;
    int B, Ty, Tx, steps;
} tr_attn_cache;

/* The cache of up to Ty query steps over B samples of Tx values. */
TR_API void tr_attn_take(tr_attn_cache *c, tr_arena *a, const tr_attn *l,
                         int B, int Ty, int Tx);
/* c->mask[b,t] = src[b,t] != pad: the usual mask, from tr_batch.src [B,Tx] */
TR_API void tr_attn_mask_tokens(tr_attn_cache *c, const int32_t *src, int pad);
/* Attention for queries[steps,B,Dq] (time-major, steps <= Ty) over
 * c->values and c->mask: c->energy, c->alpha, c->ctx for those steps.
 * queries is read again by backward: keep it. */
TR_API void tr_attn_forward(const tr_attn *l, const float *P,
                            tr_attn_cache *c, const float *queries, int steps);
/* From c->dctx: accumulates the scorer's gradients into G and
 * dqueries[steps,B,Dq]; writes c->dvalues. */
TR_API void tr_attn_backward(const tr_attn *l, const float *P, float *G,
                             tr_attn_cache *c, float *dqueries);

TR_EXTERN_C_END

#endif

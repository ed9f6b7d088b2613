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

TR_EXTERN_C_END

#endif

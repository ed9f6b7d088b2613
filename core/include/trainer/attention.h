/* trainer/attention.h - the attention scorer registry.
 *
 * A scorer turns encoder states ("values", [B, Tx, Dk]) and decoder states
 * ("queries", time-major [Ty, B, Dq]) into energies [Ty, B, Tx]; the core's
 * masked softmax and weighted sum (tr_attention_forward) do the rest.
 * Seq2seq plugins look scorers up by the name a config gives
 * (`model.attention: additive`), so a new scoring function is a drop-in:
 * a plugin registers its own with tr_scorer_register() and configs can name
 * it. Built in: additive (Bahdanau), dot, general, scaled_dot (Luong). */
#ifndef TRAINER_ATTENTION_H
#define TRAINER_ATTENTION_H

#include <stddef.h>
#include "trainer/export.h"
#include "trainer/params.h"
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
 * is an error. Thread-safe with respect to lookups done after it returns. */
TR_API tr_status tr_scorer_register(const tr_scorer *s, tr_error *err);
/* The scorer called name, or NULL. */
TR_API const tr_scorer *tr_scorer_find(const char *name);
/* Up to max registered names into names; returns how many there are. */
TR_API int tr_scorer_names(const char **names, int max);

TR_EXTERN_C_END

#endif

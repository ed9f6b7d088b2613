/* trainer/plugin.h - the model plugin ABI, version 1.
 *
 * A plugin is a shared object exporting one symbol, TR_PLUGIN_ENTRY_NAME, a
 * function returning a pointer to a constant tr_plugin descriptor. The core
 * dlopen()s it with RTLD_NOW | RTLD_LOCAL, checks abi_version, and calls the
 * function table. A plugin owns only its model: it registers parameters,
 * runs forward + backward over a sub-batch (accumulating gradients), and
 * predicts. It never prints, never writes files, never calls MPI.
 *
 * Threading: train() and predict() are called concurrently from several
 * threads on the same model, each with its own gradient buffer and scratch;
 * they must only read the model and params.
 *
 * ABI rules: structs here grow by appending fields only, and carry their own
 * size so an older plugin keeps loading; enums are append-only. A change
 * that breaks that bumps TR_ABI_VERSION (and libtrainer's SOVERSION). */
#ifndef TRAINER_PLUGIN_H
#define TRAINER_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include "trainer/export.h"
#include "trainer/status.h"
#include "trainer/params.h"

TR_EXTERN_C_BEGIN

#define TR_ABI_VERSION 1
/* The entry symbol's name is the same for every ABI; the descriptor's first
 * two fields (size, abi_version) are frozen forever, so the core can always
 * read which ABI a plugin was built for and name both versions on mismatch. */
#define TR_PLUGIN_ENTRY_NAME "tr_plugin_entry"

/* ---- model options: declared by the plugin, read from the YAML `model:` map */

typedef enum tr_opt_type {
    TR_OPT_INT = 0,
    TR_OPT_FLOAT = 1,
    TR_OPT_BOOL = 2,
    TR_OPT_STRING = 3,
    TR_OPT_ENUM = 4, /* one of `choices`, "a|b|c"; value.i is its index */
} tr_opt_type;

typedef struct tr_option_spec {
    const char *name;
    tr_opt_type type;
    const char *default_value; /* as YAML text; NULL = required */
    const char *choices;       /* TR_OPT_ENUM: "a|b|c". TR_OPT_INT, TR_OPT_FLOAT (ABI 1.6):
                                  NULL, or the interval the value must lie in,
                                  "[1,)", "[0, 1)", "(0, 1]" (the core says so
                                  with the config line; older cores ignore it) */
    const char *help;
} tr_option_spec;

typedef struct tr_option_value {
    long i;        /* INT, BOOL (0/1), ENUM (index into choices) */
    double f;      /* FLOAT */
    const char *s; /* STRING and ENUM (the chosen name); owned by the core */
} tr_option_value;

/* ---- what the core tells the plugin at create() */

typedef struct tr_model_info {
    size_t size;        /* sizeof(tr_model_info) as the core was built */
    int src_len;        /* tokens per source sequence (Tx) */
    int tgt_len;        /* tokens per target sequence (Ty) */
    int src_vocab;      /* source vocabulary size */
    int tgt_vocab;      /* target vocabulary size */
    int src_pad;        /* id of the source padding token, -1 if none */
    int tgt_pad;        /* id of the target padding token, -1 if none */
    int max_batch;      /* the most samples one train/predict call will get */
    const tr_option_value *options; /* one per descriptor option, same order */
    int tgt_bos;        /* id of the target start token <s>, -1 if none */
    int tgt_eos;        /* id of the target end token </s>, -1 if none */
    /* Appended in ABI 1.2, for image inputs (data.kind idx_images); all 0
     * for token inputs. Images come as tr_batch.input [n, C, H, W] floats;
     * the label is the one target token (tgt_len 1, tgt_vocab classes). */
    int in_channels, in_height, in_width;
    /* Appended in ABI 1.4: what the data means. */
    int task;                        /* tr_task */
    int n_classes;                   /* TR_TASK_CLASSIFY: classes (= tgt_vocab, tgt_len 1); else 0 */
    const char *const *class_names;  /* [n_classes], in class-id order; NULL if none */
    const char *const *src_tokens;   /* [src_vocab] the string of each source id; NULL for images */
    const char *const *tgt_tokens;   /* [tgt_vocab] the string of each target id */
    int src_unk;                     /* id of the source <unk>, -1 if none */
} tr_model_info;

/* The kind of output the data asks for (tr_model_info.task; append only). */
typedef enum tr_task {
    TR_TASK_SEQ2SEQ = 0,  /* a target sequence per sample (char_pairs, word_pairs) */
    TR_TASK_CLASSIFY = 1, /* one class per sample (text_labels, idx_images): tgt[n, 1] */
} tr_task;

/* ---- a sub-batch */

typedef struct tr_batch {
    size_t size;          /* sizeof(tr_batch) as the core was built */
    int n;                /* samples */
    const int32_t *src;   /* [n, src_len] source token ids */
    const int32_t *tgt;   /* [n, tgt_len] target token ids; NULL in predict */
    const float *input;   /* appended in ABI 1.2: [n, C, H, W] images, or NULL */
    /* Appended in ABI 1.4. Read them only if b->size covers them (an older
     * core passes a shorter batch): TR_HAS_FIELD(b, tr_batch, key). */
    const int32_t *src_lengths; /* [n] real tokens of each source (the rest is <pad>), or NULL */
    const int64_t *index;       /* [n] each sample's index in its dataset (line, or array row) */
    uint64_t key;               /* randomness of this step (run seed and epoch): tr_dropout_key() */
    int training;               /* 1 in train(): dropout on; 0 in predict() and score() */
} tr_batch;

/* Whether a struct that carries its own `size` has a field, e.g.
 * TR_HAS_FIELD(b, tr_batch, src_lengths) for a batch an older core made. */
#define TR_HAS_FIELD(p, type, field) \
    ((p)->size >= offsetof(type, field) + sizeof((p)->field))

/* What predict() fills; any pointer may be NULL (not wanted). */
typedef struct tr_prediction {
    size_t size;
    int32_t *tokens;      /* [n, tgt_len] greedy output ids */
    float *attention;     /* [n, tgt_len, src_len] attention weights */
    /* Appended in ABI 1.2: one buffer per map the plugin's maps() declares,
     * each [n, shape...]; the array or any entry may be NULL (not wanted). */
    float **maps;
    /* Appended in ABI 1.4 (NULL: not wanted; an older core's struct lacks
     * it: TR_HAS_FIELD(out, tr_prediction, probs)).
     * TR_TASK_CLASSIFY: [n, n_classes] the class probabilities. */
    float *probs;
} tr_prediction;

/* A named per-sample attention map besides the [tgt_len, src_len] one, e.g.
 * a CNN block's channel weights [C] or spatial map [H, W]. The core writes
 * each to attention.h5 under its name ("block1/channel" makes a group). */
typedef struct tr_map_spec {
    const char *name;     /* owned by the plugin, valid while the model lives */
    int ndim;             /* 1..TR_MAX_DIMS-1: the per-sample shape */
    int shape[TR_MAX_DIMS];
    const char *axes;     /* e.g. "sample,channel" or "sample,y,x" */
} tr_map_spec;

typedef struct tr_model tr_model; /* opaque, defined by each plugin */

typedef struct tr_plugin {
    size_t size;          /* sizeof(tr_plugin) as the plugin was built */
    int abi_version;      /* TR_ABI_VERSION the plugin was built against */
    const char *name;     /* what configs name in model.plugin */
    const char *version;  /* the plugin's own version, e.g. "1.0.0" */
    const char *description;
    const tr_option_spec *options;
    int n_options;
    const char *attention_axes; /* names of the attention map's axes, e.g. "sample,target,source" */

    /* Registers parameters into reg and returns the model in *out. */
    tr_status (*create)(tr_model **out, tr_registry *reg,
                        const tr_model_info *info, tr_error *err);
    void (*destroy)(tr_model *m);

    /* Bytes of scratch one call over up to `n` samples needs (activations,
     * caches). The core allocates it once per thread. */
    size_t (*scratch_bytes)(const tr_model *m, int n);

    /* Forward + backward over the batch: ADDS d(sum of per-sample losses)/d
     * params into grads (same layout as params) and returns the summed loss in
     * *loss. The core divides by the global batch size. */
    tr_status (*train)(const tr_model *m, const float *params, float *grads,
                       void *scratch, const tr_batch *b, double *loss,
                       tr_error *err);

    /* Greedy prediction (no teacher forcing). */
    tr_status (*predict)(const tr_model *m, const float *params, void *scratch,
                         const tr_batch *b, tr_prediction *out, tr_error *err);

    /* Optional (may be NULL; appended in ABI 1.1): with teacher forcing,
     * ADDS to *correct the non-padding target tokens whose argmax is right
     * and to *total their number. */
    tr_status (*score)(const tr_model *m, const float *params, void *scratch,
                       const tr_batch *b, long *correct, long *total,
                       tr_error *err);

    /* Optional (may be NULL; appended in ABI 1.2): the extra maps predict()
     * fills into tr_prediction.maps. Writes up to `max` specs, returns how
     * many the model has. */
    int (*maps)(const tr_model *m, tr_map_spec *specs, int max);
} tr_plugin;

typedef const tr_plugin *(*tr_plugin_entry_fn)(void);

/* Define the entry symbol, at file scope: TR_PLUGIN_DEFINE(my_descriptor)
 * (no semicolon after it: -pedantic rejects an empty declaration). */
#define TR_PLUGIN_DEFINE(desc)                                              \
    TR_EXTERN_C_BEGIN                                                       \
    TR_PLUGIN_EXPORT const tr_plugin *tr_plugin_entry(void);                \
    TR_EXTERN_C_END                                                         \
    const tr_plugin *tr_plugin_entry(void) { return &(desc); }

TR_EXTERN_C_END

#endif

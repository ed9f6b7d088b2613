/* core/runtime/session.h - one model, its data and its optimizer: what `trainer`
 * trains, evaluates, saves and predicts with. */
#ifndef TR_SESSION_H
#define TR_SESSION_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include "runtime/comm.h"
#include "config/config.h"
#include "data/load.h"
#include "runtime/plugin_loader.h"
#include "base/registry.h"

#define TR_MAX_MAPS 16

typedef struct tr_session {
    tr_config *cfg;            /* owned */
    tr_loaded_plugin plugin;
    tr_option_value *options;  /* [plugin n_options] */
    tr_model *model;
    tr_registry reg;
    tr_vocabs vocabs;
    tr_pairs pairs;            /* empty when opened for prediction only */

    tr_comm comm;              /* this rank and the world (size 1 without MPI) */
    int report_rank;           /* after a failure: the rank whose message to print */
    int fail_rank;             /* test hook TR_TEST_FAIL=rank:step[:error|sigterm|sigkill], -1 off */
    long fail_step;
    char fail_kind[16];
    const char *ckpt_path;     /* where tr_session_train checkpoints; NULL: never */
    /* what writes it (rank 0 only): tr_checkpoint_save, set by whoever sets
     * ckpt_path; the session itself never includes the checkpoint code */
    tr_status (*save)(struct tr_session *s, const char *path, tr_error *err);
    FILE *metrics;             /* metrics.csv rows (rank 0); NULL: none */
    const char *metrics_path;  /* its name, for errors */
    int metrics_errno;         /* a write to it failed (rank 0): the next step stops every rank */
    long saved_step;           /* step of the last checkpoint written, -1 none */
    double save_seconds;       /* how long the last checkpoint write took */
    int stop;                  /* signal a rank received (SIGTERM/SIGINT): stop after this step; 0 none */
    int threads;               /* OpenMP threads */
    int micro;                 /* micro-shard size g */
    int max_shards;            /* ceil(batch / g) */

    /* One allocation per buffer kind. */
    float *params;             /* [reg.total] */
    float *grad;               /* [reg.total] averaged gradient of the step */
    float *opt_m, *opt_v;      /* optimizer state (Adam m, v; SGD velocity in m) */
    float *shard_grads;        /* [shards this rank takes at most, reg.total] */
    int shards_dirty;          /* shard_grads may hold values (a step failed half-way) */
    int64_t *acc;              /* [reg.total + max_shards] fixed-point sums, packed: dense tensors and touched rows
                                  (reduce.h), then the shards' losses as bits */
    size_t *sum_pos;           /* [reg.n + reg.n_rows] where each tensor's and row's sums start in acc */
    float *grad_rows;          /* [reg.n_rows] rows of tables that may be nonzero in grad (tr_exact_to_float) */
    float *maxabs;             /* [reg.n + 2 + reg.n_rows]: max |g| per tensor, the failure and stop flags,
                                  the touched-row flags of tables */
    double *scales;            /* [reg.n] */
    double *shard_loss;        /* [max_shards] loss of every shard of the step (all ranks) */
    double *chunk_sums;        /* [reg.total / 8192 + 1] partial sums of the gradient norm */
    tr_error *shard_err;       /* [max_shards] */
    unsigned char *scratch;    /* [threads, scratch_stride] */
    size_t scratch_stride;
    size_t plugin_scratch;     /* bytes of it the plugin gets */
    int32_t *perm;             /* [train] this epoch's order */
    long *confusion;           /* [classes, classes] of the last evaluation (classifiers), else NULL */
    long perm_epoch;           /* epoch perm was drawn for, -1 none */

    size_t input_size;         /* floats per image (C*H*W), 0 for token inputs */
    float *in_mean, *in_std;   /* data.normalize: [channels] of the training images (checkpointed), else NULL */
    int n_maps;                /* extra attention maps the plugin declares (tr_plugin.maps) */
    tr_map_spec map_specs[TR_MAX_MAPS];

    long step;                 /* optimizer updates done */
    /* train.keep_best: the best evaluation so far (checkpointed, so resume keeps it) */
    double best_value;         /* -inf: none yet */
    long best_step;            /* -1: none */
    long stale_evals;          /* evaluations since the best one */
    long tracked_step;         /* the step whose evaluation keep_best last counted (checkpointed); -1 */
    long skipped_steps;        /* train.nonfinite: skip: steps dropped so far (checkpointed) */
    long skips_in_row;         /* ... and how many of the last steps in a row (checkpointed) */
    int step_skipped;          /* the step just taken was dropped */
    double grad_norm;          /* before clipping; computed at logged steps (or for clipping) */
    double reduce_seconds;     /* time spent combining gradients (all steps) */
    double compute_seconds;    /* this rank's forward/backward over its shards (all steps) */
    double sync_seconds;       /* the per-step flag/max and loss allreduces: mostly waiting for slower ranks */
    double update_seconds;     /* running statistics, clipping and the optimizer (all steps) */
} tr_session;

/* Loads the plugin, vocabularies, (with_data) the pairs, creates the model
 * and initialises its parameters from run.seed. Takes ownership of cfg, also
 * on failure. */
tr_status tr_session_open(tr_session **out, tr_config *cfg, int with_data,
                          tr_error *err);
void tr_session_close(tr_session *s);

/* Training samples idx[0..n) (n <= micro) as a batch in the calling
 * thread's buffers, augmented and keyed as in epoch 0's first step; the
 * plugin's scratch for it in *plugin_scratch (tr_gradcheck). */
tr_batch tr_session_train_batch(tr_session *s, const int32_t *idx, int n, void **plugin_scratch);

/* Set by the SIGTERM/SIGINT handler the CLI installs; the signal number. */
extern volatile sig_atomic_t tr_stop_signal;

/* Trains until the configured epochs are done or max_steps more steps ran
 * (max_steps < 0: no limit). Progress lines go to log (NULL: silent).
 * Collective: every rank calls it. The global batch is cut into micro-shards
 * of `micro` samples; rank r takes the contiguous run of shards
 * [r*S/R, (r+1)*S/R), its threads take shards from that run. On failure
 * every rank returns an error and s->report_rank names the rank whose
 * err->msg is the one to print. Checkpoints to s->ckpt_path every
 * train.checkpoint_every steps (0: every epoch end) and at the last step;
 * after SIGTERM/SIGINT on any rank, every rank finishes the same step, the
 * checkpoint is written, and TR_ERR_INTERRUPTED is returned. */
/* Flushes metrics.csv (rank 0); an error names the file and why. */
tr_status tr_session_flush_metrics(tr_session *s, tr_error *err);

tr_status tr_session_train(tr_session *s, long max_steps, FILE *log,
                           tr_error *err);

/* Exact-match accuracy (all target tokens right) on the held-out pairs;
 * collective: ranks split the held-out set and sum integer counts. */
typedef struct tr_eval {
    double exact;      /* all target tokens right */
    double token_acc;  /* non-padding target tokens right (greedy) */
    double forced_acc; /* the same with teacher forcing (plugins with score()) */
    int has_forced;
    double bleu;       /* corpus BLEU-4 on the first train.bleu_samples held-out pairs */
    int has_bleu;      /* word_pairs with bleu_samples > 0 */
    /* classification (tr_session_classifies): exact is the accuracy */
    int classes;       /* 0 for sequence tasks */
    const long *confusion; /* [classes, classes]: row the true class, column the predicted
                              (s->confusion; valid until the next evaluation) */
    double macro_f1;   /* the mean over classes of F1 (a class never true nor predicted: F1 1) */
} tr_eval;

/* Whether the data asks for one class per sample (idx_images, text_labels). */
int tr_session_classifies(const tr_session *s);
/* Precision, recall and F1 of class k from a confusion matrix [C, C]. */
void tr_class_scores(const long *confusion, int C, int k, double *precision, double *recall, double *f1);

tr_status tr_session_evaluate(tr_session *s, tr_eval *ev, tr_error *err);

/* Greedy prediction for n encoded sources [n, src_len]: tokens [n, tgt_len],
 * attention [n, tgt_len, src_len] (either may be NULL). */
tr_status tr_session_predict(tr_session *s, const int32_t *src, int n,
                             int32_t *tokens, float *attention, tr_error *err);

/* The same for any inputs: token ids src [n, src_len] and/or images
 * pixels [n, C*H*W] (either NULL when the data has none), and the plugin's
 * extra maps (maps[k] [n, map k's shape], or NULL). */
tr_status tr_session_predict_ex(tr_session *s, const int32_t *src, const uint8_t *pixels, int n,
                                int32_t *tokens, float *attention, float **maps, tr_error *err);
/* All of it: index [n] the samples' indices (NULL: unknown, e.g. text from
 * the command line), probs [n, classes] for classifiers (or NULL). */
tr_status tr_session_predict_full(tr_session *s, const int32_t *src, const uint8_t *pixels, const int64_t *index,
                                  int n, int32_t *tokens, float *attention, float **maps, float *probs,
                                  tr_error *err);
/* Floats per sample of extra map k. */
size_t tr_session_map_size(const tr_session *s, int k);
/* Sample i's source tokens / pixels in s->pairs (NULL if the data has none). */
const int32_t *tr_session_src(const tr_session *s, long i);
const uint8_t *tr_session_pixels(const tr_session *s, long i);

long tr_session_steps_per_epoch(const tr_session *s);



#endif

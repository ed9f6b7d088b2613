/* core/config/config.h - the run configuration: YAML (libyaml) into a typed schema.
 *
 * Every error is one line "where: what (hint)", where `where` is
 * "file:line:col" for values from the file and "command line: key=value" for
 * overrides; unknown keys get a did-you-mean. */
#ifndef TR_CONFIG_H
#define TR_CONFIG_H

#include "trainer/plugin.h"
#include "trainer/status.h"

/* A key under `model:` other than `plugin`, kept as written until the plugin
 * (which declares the options) is loaded. */
typedef struct tr_config_kv {
    char *key;
    char *value;   /* the scalar's text */
    char *where;   /* "file:line:col" or "command line: model.x=y" */
} tr_config_kv;

typedef enum tr_optim_kind { TR_OPTIM_ADAM = 0, TR_OPTIM_SGD = 1 } tr_optim_kind;
/* train.keep_best: the evaluation metric that picks best.h5 (higher is better) */
typedef enum tr_best_metric {
    TR_BEST_NONE = 0, TR_BEST_ACCURACY = 1, TR_BEST_EXACT = 2, TR_BEST_TOKEN_ACC = 3, TR_BEST_BLEU = 4,
    TR_BEST_MACRO_F1 = 5
} tr_best_metric;
/* train.nonfinite: what a step whose gradient (or loss) is Inf/NaN does */
typedef enum tr_nonfinite { TR_NONFINITE_STOP = 0, TR_NONFINITE_SKIP = 1 } tr_nonfinite;
typedef enum tr_schedule_kind { TR_SCHEDULE_CONSTANT = 0, TR_SCHEDULE_COSINE = 1, TR_SCHEDULE_NOAM = 2 } tr_schedule_kind;
typedef enum tr_data_kind {
    TR_DATA_CHAR_PAIRS = 0, TR_DATA_WORD_PAIRS = 1, TR_DATA_IDX_IMAGES = 2, TR_DATA_TEXT_LABELS = 3,
    TR_DATA_HDF5 = 4
} tr_data_kind;
/* data.tokenizer (text_labels): how a line becomes tokens (dataset.h) */
typedef enum tr_tokenizer { TR_TOK_WORDS = 0, TR_TOK_CHARS = 1, TR_TOK_SPACES = 2 } tr_tokenizer;

typedef struct tr_config {
    char *path;        /* the config file as given */
    char *text;        /* the file's text, then one "# override: k=v" line per override */

    /* run: */
    char *run_name;    /* run.name; default: the config file's base name without extension */
    char *run_out;     /* run.out; default "results/<run.name>" */
    long seed;         /* run.seed; default 1 */

    /* model: */
    char *plugin;      /* model.plugin (required): a name, or a path to a .so */
    tr_config_kv *model_opts;
    int n_model_opts;
    char *plugin_where; /* where model.plugin was given, for errors */
    char *scorer_plugins; /* model.scorer_plugins (optional): libraries (names or paths, separated by
                             commas or blanks) loaded for the attention scorers they export */
    char *scorer_plugins_where;

    /* data: */
    tr_data_kind data_kind; /* data.kind: char_pairs (default) | word_pairs | idx_images | text_labels | hdf5 */
    char *file;        /* data.file (hdf5, required): arrays in docs/data_hdf5.md's layout */
    char *file_where;
    char *files;       /* data.files (text_labels, required): `text<TAB>label` files, separated by
                          commas (a YAML list is joined so) */
    char *files_where;
    tr_tokenizer tokenizer; /* data.tokenizer (text_labels, hdf5): words (default) | chars | spaces */
    long min_count;    /* data.min_count (text_labels); default 1: rarer training tokens become <unk> */
    long max_size;     /* data.max_size (text_labels); default 0 = no cap: the most frequent tokens kept,
                          <pad> and <unk> included */
    char *data_dir;    /* data.dir (idx_images): the gzipped IDX files' folder;
                          default /usr/share/datasets/fashion-mnist (Debian's dataset-fashion-mnist) */
    char *data_dir_where;
    char *pairs;       /* data.pairs (char_pairs, required): JSON list of [input, output] */
    char *vocabs;      /* data.vocabs (char_pairs, required): JSON [source vocab, target vocab] */
    char *source;      /* data.source (word_pairs, required): one sentence per line */
    char *target;      /* data.target (word_pairs, required): the aligned translations */
    char *source_where, *target_where;
    long split_seed;   /* data.split_seed (word_pairs); default 1: the seeded shuffle before the split */
    char *pairs_where; /* where data.pairs was given */
    char *vocabs_where;
    long train_size;   /* data.train: first N pairs train (required, > 0; hdf5: optional, -1 = every
                          row of /train until tr_data_load counts them) */
    long test_size;    /* data.test: last M pairs held out (default 0; hdf5: -1 = every row of /test
                          until tr_data_load counts them) */
    long src_len;      /* data.src_len (required for pairs, > 0): Tx; idx_images: 0; hdf5: 0 until
                          tr_data_load sets it from the arrays */
    long tgt_len;      /* data.tgt_len (required for pairs, > 0): Ty; idx_images: 1 (the label); hdf5 as src_len */
    int lowercase;     /* data.lowercase; default true */
    int flip;          /* data.flip (idx_images); default false: mirror training images left-right, p = 1/2 */
    long shift;        /* data.shift (idx_images); default 0: translate training images by up to N pixels */
    int normalize;     /* data.normalize (images); default false: (x - mean) / std per channel, of the training images */
    double rotate;     /* data.rotate (images); default 0: rotate training images by up to D degrees either way */
    int rotate_bilinear; /* data.rotate_interpolation: 0 nearest (default, torchvision's), 1 bilinear */
    double test_rotate; /* data.test_rotate (images); default 0: each held-out image rotated by a fixed angle in
                           [-D, D] keyed by its index alone */

    /* train: */
    long epochs;       /* train.epochs; default 1, >= 0 */
    long batch;        /* train.batch; default 32, > 0: the GLOBAL batch */
    long micro_batch;  /* train.micro_batch; default 0 = chosen from batch; >= 0 */
    tr_optim_kind optimizer; /* train.optimizer: adam (default) | sgd */
    double lr;         /* train.lr; default 0.001, > 0 */
    double decay;      /* train.decay; default 0, >= 0 (Keras time-based; schedule constant only) */
    tr_schedule_kind schedule; /* train.schedule: constant (default) | cosine */
    double warmup;     /* train.warmup (cosine); default 0, in [0,1): share of all updates ramped up */
    double weight_decay; /* train.weight_decay; default 0, >= 0: decoupled (AdamW): p -= lr * wd * p each update */
    double lr_min;     /* train.lr_min (cosine); default 0, >= 0: the lr at the last update */
    double beta1;      /* train.beta1; default 0.9, in [0,1) */
    double beta2;      /* train.beta2; default 0.999, in [0,1) */
    double eps;        /* train.eps; default 1e-7, > 0 */
    double momentum;   /* train.momentum; default 0, in [0,1) (sgd) */
    int nesterov;      /* train.nesterov; default false (sgd) */
    double clip_norm;  /* train.clip_norm; default 0 = off, >= 0 (global norm) */
    int shuffle;       /* train.shuffle; default true */
    long log_every;    /* train.log_every; default 50 steps, > 0 */
    long eval_every;   /* train.eval_every; default 0 = only at the end (epochs), >= 0 */
    int exact_reduce;  /* train.exact_reduce; default true: order-independent int64 gradient sums;
                          false: plain float sums (a reference; results then depend on the layout) */
    long checkpoint_every; /* train.checkpoint_every; default 0 = at the end of every epoch; steps, >= 0 */
    long bleu_samples; /* train.bleu_samples; default 1000: held-out pairs greedy BLEU-4 is computed
                          on at each evaluation (word_pairs), >= 0 */
    tr_best_metric keep_best; /* train.keep_best: none (default) | accuracy | exact_match | token_accuracy |
                                 bleu | macro_f1: write best.h5 whenever it improves */
    long early_stop;   /* train.early_stop; default 0 = off: stop after N evaluations without improvement */
    tr_nonfinite nonfinite; /* train.nonfinite: stop (default) | skip: drop the step, keep the parameters */
    long max_skips;    /* train.max_skips; default 10: skip mode stops after this many skips in a row, >= 1 */
    long attention_samples; /* train.attention_samples; default 8: held-out samples whose attention
                               maps each evaluation writes to attention.h5, >= 0 */
    double train_frac; /* data.train given as a fraction in (0, 1) of the samples (pairs, text_labels):
                          tr_data_load sets train_size to floor(train_frac * n); 0 = given as a count */
    double test_frac;  /* data.test as a fraction: test_size = ceil(test_frac * n); 0 = a count */
} tr_config;

/* Loads `path`, applies `overrides` ("a.b=value", value parsed as YAML
 * scalar text), validates, fills defaults. On error returns TR_ERR_CONFIG
 * (TR_ERR_IO if the file cannot be read) with the one-line message in err. */
tr_status tr_config_load(tr_config **out, const char *path, int n_overrides,
                         char *const *overrides, tr_error *err);
void tr_config_free(tr_config *c);

/* Binds cfg->model_opts to a plugin's option specs: values[i] gets spec i's
 * value (from the config or the spec's default). Unknown key (with
 * did-you-mean among the specs' names), wrong type, enum value not among the
 * choices, missing required option -> TR_ERR_CONFIG naming where.
 * String values point into cfg (valid while cfg lives). */
tr_status tr_config_bind_options(const tr_config *cfg,
                                 const tr_option_spec *specs, int n_specs,
                                 tr_option_value *values, tr_error *err);

/* Key i of the schema (0 ..): its section and name; 0 past the last. For
 * the test that every key is documented (tests/cli/config_docs.sh). */
int tr_config_schema_key(int i, const char **section, const char **name);

/* The closest of `candidates` to `word` by edit distance, or NULL if none is
 * close enough (distance <= max(1, strlen(word)/3)). */
const char *tr_did_you_mean(const char *word, const char *const *candidates,
                            int n);

#endif

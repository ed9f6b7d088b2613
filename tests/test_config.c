/* tests/test_config.c - the YAML configuration: typed values, defaults,
 * overrides, one-line errors with file:line:col, plugin option binding. */
#define _POSIX_C_SOURCE 200809L

#include "config/config.h"
#include "tr_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ------------------------------------------------------------------ helpers */

static char g_path[256];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

/* Writes yaml to a fresh temp file (its name in g_path), loads it, removes it. */
static tr_status load(const char *yaml, int n, char *const *ovr,
                      tr_config **cfg, tr_error *err)
{
    strcpy(g_path, "/tmp/trcfg_XXXXXX");
    int fd = mkstemp(g_path);
    CU_ASSERT_FATAL(fd >= 0);
    size_t len = strlen(yaml);
    CU_ASSERT_FATAL(write(fd, yaml, len) == (ssize_t)len);
    close(fd);
    memset(err, 0, sizeof *err);
    tr_status st = tr_config_load(cfg, g_path, n, ovr, err);
    unlink(g_path);
    return st;
}

/* `pattern` with every '@' replaced by g_path. */
static void expand(char *out, size_t n, const char *pattern)
{
    size_t o = 0;
    for (const char *p = pattern; *p && o + 1 < n; p++) {
        if (*p == '@') {
            int w = snprintf(out + o, n - o, "%s", g_path);
            o += (size_t)w;
            if (o >= n)
                o = n - 1;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

/* Loading yaml (with overrides) must fail with TR_ERR_CONFIG and exactly the
 * message `expected` ('@' = the temp file's path). */
static void expect_error(const char *yaml, int n, char *const *ovr,
                         const char *expected)
{
    tr_config *cfg = (tr_config *)1;
    tr_error err;
    tr_status st = load(yaml, n, ovr, &cfg, &err);
    char exp[2048];
    expand(exp, sizeof exp, expected);
    CU_ASSERT_EQUAL(st, TR_ERR_CONFIG);
    CU_ASSERT_EQUAL(err.status, TR_ERR_CONFIG);
    CU_ASSERT_PTR_NULL(cfg);
    CU_ASSERT_STRING_EQUAL(err.msg, exp);
    CU_ASSERT_PTR_NULL(strchr(err.msg, '\n'));
    if (strcmp(err.msg, exp))
        fprintf(stderr, "\n  got:      %s\n  expected: %s\n", err.msg, exp);
    if (st == TR_OK)
        tr_config_free(cfg);
}

static const char VALID[] =
    "run:\n"
    "  name: time\n"
    "  seed: 1\n"
    "model:\n"
    "  plugin: time_attn\n"
    "  encoder_units: 32\n"
    "  recurrent_activation: hard_sigmoid\n"
    "data:\n"
    "  pairs: data/time/time_dataset.json\n"
    "  vocabs: data/time/time_vocabs.json\n"
    "  train: 8000\n"
    "  test: 2000\n"
    "  src_len: 41\n"
    "  tgt_len: 5\n"
    "train:\n"
    "  epochs: 30\n"
    "  batch: 100\n"
    "  optimizer: adam\n"
    "  lr: 0.05\n"
    "  decay: 0.04\n"
    "  clip_norm: 1.0\n";

/* The required keys only, for tests that change one thing. */
#define MINIMAL_HEAD                                                          \
    "model:\n"                                                                \
    "  plugin: p\n"                                                           \
    "data:\n"                                                                 \
    "  pairs: a.json\n"                                                       \
    "  vocabs: b.json\n"                                                      \
    "  train: 10\n"                                                           \
    "  src_len: 4\n"                                                          \
    "  tgt_len: 2\n"

static void expect_override_error(const char *override, const char *expected)
{
    char *ovr[1] = {(char *)override};
    expect_error(VALID, 1, ovr, expected);
}

static const tr_config_kv *find_kv(const tr_config *c, const char *key)
{
    for (int i = 0; i < c->n_model_opts; i++)
        if (!strcmp(c->model_opts[i].key, key))
            return &c->model_opts[i];
    return NULL;
}

/* -------------------------------------------------------------------- tests */

static void test_full_valid(void)
{
    tr_config *c = NULL;
    tr_error err;
    char buf[512];
    CU_ASSERT_EQUAL_FATAL(load(VALID, 0, NULL, &c, &err), TR_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_STRING_EQUAL(c->path, g_path);
    CU_ASSERT_STRING_EQUAL(c->text, VALID);
    CU_ASSERT_STRING_EQUAL(c->run_name, "time");
    CU_ASSERT_STRING_EQUAL(c->run_out, "results/time");
    CU_ASSERT_EQUAL(c->seed, 1);
    CU_ASSERT_STRING_EQUAL(c->plugin, "time_attn");
    expand(buf, sizeof buf, "@:5:11");
    CU_ASSERT_STRING_EQUAL(c->plugin_where, buf);
    CU_ASSERT_EQUAL_FATAL(c->n_model_opts, 2);
    CU_ASSERT_STRING_EQUAL(c->model_opts[0].key, "encoder_units");
    CU_ASSERT_STRING_EQUAL(c->model_opts[0].value, "32");
    expand(buf, sizeof buf, "@:6:3");
    CU_ASSERT_STRING_EQUAL(c->model_opts[0].where, buf);
    CU_ASSERT_STRING_EQUAL(c->model_opts[1].key, "recurrent_activation");
    CU_ASSERT_STRING_EQUAL(c->model_opts[1].value, "hard_sigmoid");
    CU_ASSERT_EQUAL(c->data_kind, TR_DATA_CHAR_PAIRS);
    CU_ASSERT_STRING_EQUAL(c->pairs, "data/time/time_dataset.json");
    CU_ASSERT_STRING_EQUAL(c->vocabs, "data/time/time_vocabs.json");
    expand(buf, sizeof buf, "@:9:10");
    CU_ASSERT_STRING_EQUAL(c->pairs_where, buf);
    expand(buf, sizeof buf, "@:10:11");
    CU_ASSERT_STRING_EQUAL(c->vocabs_where, buf);
    CU_ASSERT_EQUAL(c->train_size, 8000);
    CU_ASSERT_EQUAL(c->test_size, 2000);
    CU_ASSERT_EQUAL(c->src_len, 41);
    CU_ASSERT_EQUAL(c->tgt_len, 5);
    CU_ASSERT_EQUAL(c->lowercase, 1);
    CU_ASSERT_EQUAL(c->epochs, 30);
    CU_ASSERT_EQUAL(c->batch, 100);
    CU_ASSERT_EQUAL(c->micro_batch, 0);
    CU_ASSERT_EQUAL(c->optimizer, TR_OPTIM_ADAM);
    CU_ASSERT_DOUBLE_EQUAL(c->lr, 0.05, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(c->decay, 0.04, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(c->clip_norm, 1.0, 1e-15);
    /* defaults */
    CU_ASSERT_DOUBLE_EQUAL(c->beta1, 0.9, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(c->beta2, 0.999, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(c->eps, 1e-7, 1e-20);
    CU_ASSERT_DOUBLE_EQUAL(c->momentum, 0.0, 0.0);
    CU_ASSERT_EQUAL(c->nesterov, 0);
    CU_ASSERT_EQUAL(c->shuffle, 1);
    CU_ASSERT_EQUAL(c->log_every, 50);
    CU_ASSERT_EQUAL(c->eval_every, 0);
    tr_config_free(c);
}

static void test_every_key_and_defaults(void)
{
    char dir[] = "/tmp/trcfgdir_XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char path[300];
    tr_config *c = NULL;
    tr_error err;

    /* only the required keys: everything else defaults; name from the file */
    snprintf(path, sizeof path, "%s/time.yaml", dir);
    write_file(path, MINIMAL_HEAD);
    CU_ASSERT_EQUAL_FATAL(tr_config_load(&c, path, 0, NULL, &err), TR_OK);
    CU_ASSERT_STRING_EQUAL(c->run_name, "time");
    CU_ASSERT_STRING_EQUAL(c->run_out, "results/time");
    CU_ASSERT_EQUAL(c->seed, 1);
    CU_ASSERT_EQUAL(c->n_model_opts, 0);
    CU_ASSERT_EQUAL(c->test_size, 0);
    CU_ASSERT_EQUAL(c->lowercase, 1);
    CU_ASSERT_EQUAL(c->epochs, 1);
    CU_ASSERT_EQUAL(c->batch, 32);
    CU_ASSERT_EQUAL(c->optimizer, TR_OPTIM_ADAM);
    CU_ASSERT_DOUBLE_EQUAL(c->lr, 0.001, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(c->decay, 0.0, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(c->clip_norm, 0.0, 0.0);
    CU_ASSERT_STRING_EQUAL(c->text, MINIMAL_HEAD);
    tr_config_free(c);
    unlink(path);

    /* every key given; a name with dots keeps all but the last extension */
    static const char all[] =
        "run: {name: exp1, out: /tmp/out1, seed: -7}\n"
        "model:\n"
        "  plugin: ./libx.so\n"
        "data:\n"
        "  kind: char_pairs\n"
        "  pairs: \"p q.json\"\n"
        "  vocabs: 'v.json'\n"
        "  train: 100\n"
        "  test: 0\n"
        "  src_len: 30\n"
        "  tgt_len: 10\n"
        "  lowercase: No\n"
        "train:\n"
        "  epochs: 0\n"
        "  batch: 64\n"
        "  micro_batch: 8\n"
        "  optimizer: sgd\n"
        "  lr: 1e-2\n"
        "  decay: 0\n"
        "  beta1: 0\n"
        "  beta2: 0.5\n"
        "  eps: 1E-8\n"
        "  momentum: .9\n"
        "  nesterov: YES\n"
        "  clip_norm: 5\n"
        "  shuffle: off\n"
        "  log_every: 10\n"
        "  eval_every: 3\n";
    snprintf(path, sizeof path, "%s/a.b.yaml", dir);
    write_file(path, all);
    CU_ASSERT_EQUAL_FATAL(tr_config_load(&c, path, 0, NULL, &err), TR_OK);
    CU_ASSERT_STRING_EQUAL(c->run_name, "exp1");
    CU_ASSERT_STRING_EQUAL(c->run_out, "/tmp/out1");
    CU_ASSERT_EQUAL(c->seed, -7);
    CU_ASSERT_STRING_EQUAL(c->plugin, "./libx.so");
    CU_ASSERT_STRING_EQUAL(c->pairs, "p q.json");
    CU_ASSERT_STRING_EQUAL(c->vocabs, "v.json");
    CU_ASSERT_EQUAL(c->train_size, 100);
    CU_ASSERT_EQUAL(c->test_size, 0);
    CU_ASSERT_EQUAL(c->src_len, 30);
    CU_ASSERT_EQUAL(c->tgt_len, 10);
    CU_ASSERT_EQUAL(c->lowercase, 0);
    CU_ASSERT_EQUAL(c->epochs, 0);
    CU_ASSERT_EQUAL(c->batch, 64);
    CU_ASSERT_EQUAL(c->micro_batch, 8);
    CU_ASSERT_EQUAL(c->optimizer, TR_OPTIM_SGD);
    CU_ASSERT_DOUBLE_EQUAL(c->lr, 0.01, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(c->beta1, 0.0, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(c->beta2, 0.5, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(c->eps, 1e-8, 1e-22);
    CU_ASSERT_DOUBLE_EQUAL(c->momentum, 0.9, 1e-15);
    CU_ASSERT_EQUAL(c->nesterov, 1);
    CU_ASSERT_DOUBLE_EQUAL(c->clip_norm, 5.0, 0.0);
    CU_ASSERT_EQUAL(c->shuffle, 0);
    CU_ASSERT_EQUAL(c->log_every, 10);
    CU_ASSERT_EQUAL(c->eval_every, 3);
    tr_config_free(c);

    /* run.name given, run.out not: results/<run.name> */
    write_file(path, "run:\n  name: mine\n" MINIMAL_HEAD);
    CU_ASSERT_EQUAL_FATAL(tr_config_load(&c, path, 0, NULL, &err), TR_OK);
    CU_ASSERT_STRING_EQUAL(c->run_out, "results/mine");
    tr_config_free(c);

    /* no run.name: the base name without the last extension */
    write_file(path, MINIMAL_HEAD "train:\n");
    CU_ASSERT_EQUAL_FATAL(tr_config_load(&c, path, 0, NULL, &err), TR_OK);
    CU_ASSERT_STRING_EQUAL(c->run_name, "a.b");
    CU_ASSERT_STRING_EQUAL(c->run_out, "results/a.b");
    tr_config_free(c);
    unlink(path);
    rmdir(dir);
}

static void test_integers(void)
{
    expect_error("train:\n  batch: 10\n  epochs: ten\n", 0, NULL,
                 "@:3:11: train.epochs: expected an integer, got 'ten'");
    expect_error("train:\n  epochs: 3.5\n", 0, NULL,
                 "@:2:11: train.epochs: expected an integer, got '3.5'");
    expect_error("train:\n  epochs: 99999999999999999999\n", 0, NULL,
                 "@:2:11: train.epochs: expected an integer, got "
                 "'99999999999999999999' (out of range)");
    expect_error("train:\n  epochs:\n", 0, NULL,
                 "@:2:10: train.epochs: expected an integer, got an empty value");
    expect_error("train:\n  epochs: 0x10\n", 0, NULL,
                 "@:2:11: train.epochs: expected an integer, got '0x10'");
    expect_error("data:\n  src_len: 3000000000\n", 0, NULL,
                 "@:2:12: data.src_len: must be at most 2147483647, got 3000000000");
}

static void test_floats(void)
{
    expect_error("train:\n  lr: abc\n", 0, NULL,
                 "@:2:7: train.lr: expected a number, got 'abc'");
    expect_error("train:\n  lr: .inf\n", 0, NULL,
                 "@:2:7: train.lr: expected a number, got '.inf'");
    expect_error("train:\n  lr: nan\n", 0, NULL,
                 "@:2:7: train.lr: expected a number, got 'nan'");
    expect_error("train:\n  lr: 1e999\n", 0, NULL,
                 "@:2:7: train.lr: expected a number, got '1e999' (out of range)");
    expect_error("train:\n  lr: 1e\n", 0, NULL,
                 "@:2:7: train.lr: expected a number, got '1e'");

    tr_config *c = NULL;
    tr_error err;
    CU_ASSERT_EQUAL_FATAL(load(MINIMAL_HEAD "train:\n  lr: 2\n  eps: 1e-7\n  decay: +0.05\n",
                               0, NULL, &c, &err), TR_OK);
    CU_ASSERT_DOUBLE_EQUAL(c->lr, 2.0, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(c->eps, 1e-7, 1e-22);
    CU_ASSERT_DOUBLE_EQUAL(c->decay, 0.05, 1e-15);
    tr_config_free(c);
}

static void test_booleans(void)
{
    static const char *const t[] = {"true", "TRUE", "yes", "Yes", "on", "ON"};
    static const char *const f[] = {"false", "False", "no", "NO", "off", "Off"};
    for (int i = 0; i < 12; i++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml, MINIMAL_HEAD "train:\n  shuffle: %s\n",
                 i < 6 ? t[i] : f[i - 6]);
        tr_config *c = NULL;
        tr_error err;
        CU_ASSERT_EQUAL_FATAL(load(yaml, 0, NULL, &c, &err), TR_OK);
        CU_ASSERT_EQUAL(c->shuffle, i < 6);
        tr_config_free(c);
    }
    expect_error("train:\n  shuffle: maybe\n", 0, NULL,
                 "@:2:12: train.shuffle: expected a boolean, got 'maybe' "
                 "(true/false, yes/no, on/off)");
    expect_error("data:\n  lowercase: 1\n", 0, NULL,
                 "@:2:14: data.lowercase: expected a boolean, got '1' "
                 "(true/false, yes/no, on/off)");
}

static void test_ranges(void)
{
    expect_error("train:\n  batch: 0\n", 0, NULL,
                 "@:2:10: train.batch: must be > 0, got 0");
    expect_error("train:\n  epochs: -1\n", 0, NULL,
                 "@:2:11: train.epochs: must be >= 0, got -1");
    expect_error("train:\n  beta1: 1.0\n", 0, NULL,
                 "@:2:10: train.beta1: must be in [0, 1), got 1.0");
    expect_error("train:\n  beta2: -0.1\n", 0, NULL,
                 "@:2:10: train.beta2: must be in [0, 1), got -0.1");
    expect_error("train:\n  momentum: 1\n", 0, NULL,
                 "@:2:13: train.momentum: must be in [0, 1), got 1");
    expect_error("train:\n  lr: 0\n", 0, NULL, "@:2:7: train.lr: must be > 0, got 0");
    expect_error("train:\n  eps: 0.0\n", 0, NULL, "@:2:8: train.eps: must be > 0, got 0.0");
    expect_error("train:\n  decay: -1e-3\n", 0, NULL,
                 "@:2:10: train.decay: must be >= 0, got -1e-3");
    expect_error("train:\n  clip_norm: -1\n", 0, NULL,
                 "@:2:14: train.clip_norm: must be >= 0, got -1");
    expect_error("train:\n  micro_batch: -2\n", 0, NULL,
                 "@:2:16: train.micro_batch: must be >= 0, got -2");
    expect_error("train:\n  log_every: 0\n", 0, NULL,
                 "@:2:14: train.log_every: must be > 0, got 0");
    expect_error("train:\n  eval_every: -1\n", 0, NULL,
                 "@:2:15: train.eval_every: must be >= 0, got -1");
    expect_error("data:\n  train: 0\n", 0, NULL, "@:2:10: data.train: must be > 0, got 0");
    expect_error("data:\n  test: -5\n", 0, NULL, "@:2:9: data.test: must be >= 0, got -5");
    expect_error("data:\n  tgt_len: 0\n", 0, NULL, "@:2:12: data.tgt_len: must be > 0, got 0");
}

/* train.schedule, warmup, lr_min: stored in their own fields, and the keys
 * that one schedule would ignore are refused. */
static void test_schedule(void)
{
    tr_config *c = NULL;
    tr_error err;
    CU_ASSERT_EQUAL_FATAL(load(MINIMAL_HEAD "train:\n  schedule: cosine\n  warmup: 0.1\n  lr_min: 1e-5\n",
                               0, NULL, &c, &err), TR_OK);
    CU_ASSERT_EQUAL(c->schedule, TR_SCHEDULE_COSINE);
    CU_ASSERT_EQUAL(c->data_kind, TR_DATA_CHAR_PAIRS); /* an enum must not land in another's field */
    CU_ASSERT_EQUAL(c->optimizer, TR_OPTIM_ADAM);
    CU_ASSERT_DOUBLE_EQUAL(c->warmup, 0.1, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(c->lr_min, 1e-5, 0.0);
    tr_config_free(c);
    CU_ASSERT_EQUAL_FATAL(load(MINIMAL_HEAD, 0, NULL, &c, &err), TR_OK);
    CU_ASSERT_EQUAL(c->schedule, TR_SCHEDULE_CONSTANT);
    CU_ASSERT_DOUBLE_EQUAL(c->warmup, 0.0, 0.0);
    tr_config_free(c);

    expect_error(MINIMAL_HEAD "train:\n  schedule: cosine\n  decay: 0.1\n", 0, NULL,
                 "@:9:1: train.decay (Keras time-based) applies only to train.schedule: constant; drop one of them");
    expect_error(MINIMAL_HEAD "train:\n  warmup: 0.1\n", 0, NULL,
                 "@:9:1: train.warmup and train.lr_min apply only to train.schedule: cosine (warmup: noam too)");
    expect_error(MINIMAL_HEAD "train:\n  schedule: noam\n  lr_min: 0.0001\n", 0, NULL,
                 "@:9:1: train.lr_min applies only to train.schedule: cosine (noam decays as 1/sqrt(update))");
    expect_error(MINIMAL_HEAD "train:\n  schedule: noam\n  decay: 0.1\n", 0, NULL,
                 "@:9:1: train.decay (Keras time-based) applies only to train.schedule: constant; drop one of them");
    char *ovr[] = {"train.lr_min=0.01"};
    expect_error(MINIMAL_HEAD "train:\n  schedule: cosine\n  lr: 0.001\n", 1, ovr,
                 "@:9:1: train.lr_min must not exceed train.lr");
    expect_error("train:\n  schedule: cosin\n", 0, NULL,
                 "@:2:13: train.schedule: expected one of constant|cosine|noam, got 'cosin' (did you mean 'cosine'?)");
    expect_error("train:\n  warmup: 1\n", 0, NULL, "@:2:11: train.warmup: must be in [0, 1), got 1");
}

static void test_enums_and_strings(void)
{
    expect_error("train:\n  optimizer: adamw\n", 0, NULL,
                 "@:2:14: train.optimizer: expected one of adam|sgd, got 'adamw' "
                 "(did you mean 'adam'?)");
    expect_error("train:\n  optimizer: rmsprop\n", 0, NULL,
                 "@:2:14: train.optimizer: expected one of adam|sgd, got 'rmsprop'");
    expect_error("data:\n  kind: char_pair\n", 0, NULL,
                 "@:2:9: data.kind: expected one of char_pairs|word_pairs|idx_images|text_labels|hdf5, got 'char_pair' "
                 "(did you mean 'char_pairs'?)");
    expect_error("data:\n  pairs: ''\n", 0, NULL,
                 "@:2:10: data.pairs: expected a non-empty string, got an empty value");
    expect_error("run:\n  name: ~\n", 0, NULL,
                 "@:2:9: run.name: expected a string, got null '~' "
                 "(quote it to mean the text)");
    expect_error("run:\n  out: [a, b]\n", 0, NULL,
                 "@:2:8: run.out: expected a single value, got a sequence");
    /* long or multi-line values are cut and kept on one line */
    expect_error("train:\n  optimizer: \"a\\nb0123456789012345678901234567890123456789"
                 "0123456789012345678901234567890123456789\"\n", 0, NULL,
                 "@:2:14: train.optimizer: expected one of adam|sgd, got 'a?b"
                 "0123456789012345678901234567890123456789012345678901234567890...'");
    expect_error("model:\n  plugin: p\n  units: {a: 1}\n", 0, NULL,
                 "@:3:10: model.units: expected a single value, got a mapping");
    expect_error("model:\n  plugin: p\n  units: \"a\\0b\"\n", 0, NULL,
                 "@:3:10: model.units: contains a NUL character");
}

static void test_unknown_keys(void)
{
    expect_error("run:\n  seed: 1\ntrain:\n  epoch: 5\n", 0, NULL,
                 "@:4:3: unknown key 'epoch' in 'train' (did you mean 'epochs'?)");
    expect_error("train:\n  batch: 1\n  hiden_size: 5\n", 0, NULL,
                 "@:3:3: unknown key 'hiden_size' in 'train' (valid keys: epochs, "
                 "batch, micro_batch, optimizer, lr, decay, schedule, warmup, lr_min, weight_decay, beta1, beta2, eps, "
                 "momentum, nesterov, clip_norm, shuffle, log_every, eval_every, exact_reduce, checkpoint_every, attention_samples, bleu_samples, keep_best, early_stop, nonfinite, max_skips)");
    expect_error("data:\n  pair: x\n", 0, NULL,
                 "@:2:3: unknown key 'pair' in 'data' (did you mean 'pairs'?)");
    expect_error("run:\n  seed: 1\ntrian:\n  epochs: 5\n", 0, NULL,
                 "@:3:1: unknown section 'trian' (did you mean 'train'?)");
    expect_error("optimizer: adam\n", 0, NULL,
                 "@:1:1: unknown section 'optimizer' (valid sections: run, model, "
                 "data, train)");
}

static void test_missing_required(void)
{
    expect_error("model:\n  plugin: p\ndata:\n  vocabs: v\n  train: 1\n"
                 "  src_len: 1\n  tgt_len: 1\n",
                 0, NULL, "@:3:1: missing required key 'data.pairs'");
    expect_error("run:\n  seed: 2\ndata:\n  pairs: x\n", 0, NULL,
                 "@:1:1: missing required key 'model.plugin'");
}

static void test_structure_errors(void)
{
    expect_error("run:\n  seed: 1\ntrain:\n  lr: [0.1\n  batch: 2\n", 0, NULL,
                 "@:5:8: YAML syntax error: did not find expected ',' or ']' "
                 "(while parsing a flow sequence)");
    expect_error("a: b\n- c\n", 0, NULL,
                 "@:2:1: YAML syntax error: did not find expected key "
                 "(while parsing a block mapping)");
    expect_error("train:\n  epochs: 1\n  batch: 2\n  epochs: 3\n", 0, NULL,
                 "@:4:3: duplicate key 'epochs' in 'train' (first given at line 2)");
    expect_error("run:\n  seed: 1\nrun:\n  seed: 2\n", 0, NULL,
                 "@:3:1: duplicate section 'run' (first given at line 1)");
    expect_error("- run\n- model\n", 0, NULL,
                 "@:1:1: expected a mapping of sections (run, model, data, train), "
                 "got a sequence");
    expect_error("run: fast\n", 0, NULL,
                 "@:1:6: run: expected a mapping of keys, got a scalar");
    expect_error("run:\n  seed: 1\n---\nrun:\n  seed: 2\n", 0, NULL,
                 "@:3:1: expected one YAML document, found a second one");
    expect_error("", 0, NULL, "@:1:1: missing required key 'model.plugin'");
    expect_error("# nothing but a comment\n", 0, NULL,
                 "@:1:1: missing required key 'model.plugin'");
}

static void test_missing_file(void)
{
    tr_config *c = (tr_config *)1;
    tr_error err;
    tr_status st = tr_config_load(&c, "/nonexistent/dir/x.yaml", 0, NULL, &err);
    CU_ASSERT_EQUAL(st, TR_ERR_IO);
    CU_ASSERT_EQUAL(err.status, TR_ERR_IO);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT_STRING_EQUAL(err.msg,
                           "/nonexistent/dir/x.yaml: cannot open: No such file or directory");
    st = tr_config_load(&c, "/tmp", 0, NULL, &err);
    CU_ASSERT_EQUAL(st, TR_ERR_IO);
    CU_ASSERT_STRING_EQUAL(err.msg, "/tmp: cannot read: Is a directory");
}

static void test_overrides(void)
{
    char *ovr[] = {
        "train.epochs=5",
        "run.out=/tmp/x",
        "model.recurrent_activation=sigmoid",
        "model.decoder_units=64",
        "train.optimizer=sgd",
        "train.momentum=0.9",
        "train.nesterov=true",
        "run.name=\"my run\"",
        "data.pairs=other.json",
        "train.epochs=7",
    };
    int n = (int)(sizeof ovr / sizeof ovr[0]);
    tr_config *c = NULL;
    tr_error err;
    CU_ASSERT_EQUAL_FATAL(load(VALID, n, ovr, &c, &err), TR_OK);
    CU_ASSERT_EQUAL(c->epochs, 7); /* the last one wins */
    CU_ASSERT_STRING_EQUAL(c->run_out, "/tmp/x");
    CU_ASSERT_STRING_EQUAL(c->run_name, "my run");
    CU_ASSERT_EQUAL(c->optimizer, TR_OPTIM_SGD);
    CU_ASSERT_DOUBLE_EQUAL(c->momentum, 0.9, 1e-15);
    CU_ASSERT_EQUAL(c->nesterov, 1);
    CU_ASSERT_STRING_EQUAL(c->pairs, "other.json");
    CU_ASSERT_STRING_EQUAL(c->pairs_where, "command line: data.pairs=other.json");
    CU_ASSERT_EQUAL_FATAL(c->n_model_opts, 3);
    const tr_config_kv *kv = find_kv(c, "recurrent_activation");
    CU_ASSERT_PTR_NOT_NULL_FATAL(kv);
    CU_ASSERT_STRING_EQUAL(kv->value, "sigmoid");
    CU_ASSERT_STRING_EQUAL(kv->where, "command line: model.recurrent_activation=sigmoid");
    kv = find_kv(c, "decoder_units");
    CU_ASSERT_PTR_NOT_NULL_FATAL(kv);
    CU_ASSERT_STRING_EQUAL(kv->value, "64");
    kv = find_kv(c, "encoder_units");
    CU_ASSERT_PTR_NOT_NULL_FATAL(kv);
    CU_ASSERT_STRING_EQUAL(kv->value, "32");

    /* text: the file, then one line per override */
    size_t len = strlen(VALID);
    CU_ASSERT_EQUAL(strncmp(c->text, VALID, len), 0);
    CU_ASSERT_STRING_EQUAL(c->text + len,
                           "# override: train.epochs=5\n"
                           "# override: run.out=/tmp/x\n"
                           "# override: model.recurrent_activation=sigmoid\n"
                           "# override: model.decoder_units=64\n"
                           "# override: train.optimizer=sgd\n"
                           "# override: train.momentum=0.9\n"
                           "# override: train.nesterov=true\n"
                           "# override: run.name=\"my run\"\n"
                           "# override: data.pairs=other.json\n"
                           "# override: train.epochs=7\n");
    tr_config_free(c);

    /* an override supplies a missing required key; the file lacks a final newline */
    static const char no_pairs[] =
        "model: {plugin: p}\ndata: {vocabs: v, train: 1, src_len: 1, tgt_len: 1}";
    char *add[] = {"data.pairs=x.json", "model.plugin=q"};
    CU_ASSERT_EQUAL_FATAL(load(no_pairs, 2, add, &c, &err), TR_OK);
    CU_ASSERT_STRING_EQUAL(c->pairs, "x.json");
    CU_ASSERT_STRING_EQUAL(c->plugin, "q");
    CU_ASSERT_STRING_EQUAL(c->plugin_where, "command line: model.plugin=q");
    CU_ASSERT_STRING_EQUAL(c->text, "model: {plugin: p}\ndata: {vocabs: v, train: 1, "
                                    "src_len: 1, tgt_len: 1}\n"
                                    "# override: data.pairs=x.json\n"
                                    "# override: model.plugin=q\n");
    tr_config_free(c);

    /* run.name by override moves the default run.out with it */
    char *nm[] = {"run.name=other"};
    CU_ASSERT_EQUAL_FATAL(load(MINIMAL_HEAD, 1, nm, &c, &err), TR_OK);
    CU_ASSERT_STRING_EQUAL(c->run_out, "results/other");
    tr_config_free(c);
}

static void test_override_errors(void)
{
    expect_override_error("train.epochs=abc",
                          "command line: train.epochs=abc: expected an integer, got 'abc'");
    expect_override_error("trian.epochs=5",
                          "command line: trian.epochs=5: unknown section 'trian' "
                          "(did you mean 'train'?)");
    expect_override_error("train.epoch=5",
                          "command line: train.epoch=5: unknown key 'epoch' in 'train' "
                          "(did you mean 'epochs'?)");
    expect_override_error("train.epochs",
                          "command line: train.epochs: expected section.key=value "
                          "(e.g. train.epochs=5)");
    expect_override_error("epochs=5",
                          "command line: epochs=5: expected section.key=value "
                          "(e.g. train.epochs=5)");
    expect_override_error("train.=5",
                          "command line: train.=5: empty key (expected section.key=value)");
    expect_override_error(".epochs=5",
                          "command line: .epochs=5: empty section (expected section.key=value)");
    expect_override_error("train.batch=0",
                          "command line: train.batch=0: must be > 0, got 0");
    expect_override_error("train.beta1=1",
                          "command line: train.beta1=1: must be in [0, 1), got 1");
    expect_override_error("train.shuffle=maybe",
                          "command line: train.shuffle=maybe: expected a boolean, got "
                          "'maybe' (true/false, yes/no, on/off)");
    expect_override_error("model.plugin=",
                          "command line: model.plugin=: expected a non-empty string, got "
                          "an empty value");
    expect_override_error("run.name=\"abc",
                          "command line: run.name=\"abc: YAML syntax error: found "
                          "unexpected end of stream (while scanning a quoted scalar)");
    expect_override_error("train.epochs=[1, 2]",
                          "command line: train.epochs=[1, 2]: expected a single value, "
                          "got a sequence");
    expect_override_error("model.units={a: 1}",
                          "command line: model.units={a: 1}: expected a single value, "
                          "got a mapping");
    expect_override_error("run.name=a\nb",
                          "command line: run.name=a?b: an override must be one line");
    /* a bad override after a good one still fails, and frees everything */
    char *two[] = {"train.epochs=3", "train.lr=-1"};
    expect_error(VALID, 2, two, "command line: train.lr=-1: must be > 0, got -1");
}

/* --------------------------------------------------------- bind options */

static const tr_option_spec SPECS[] = {
    {"units", TR_OPT_INT, "32", "[1,)", "hidden units"},
    {"activation", TR_OPT_ENUM, "tanh", "tanh|sigmoid|hard_sigmoid", "activation"},
    {"dropout", TR_OPT_FLOAT, "0.1", "[0, 1)", "dropout"},
    {"use_bias", TR_OPT_BOOL, "yes", NULL, "bias"},
    {"label", TR_OPT_STRING, "plain", NULL, "a label"},
    {"depth", TR_OPT_INT, NULL, NULL, "required"},
};
#define N_SPECS ((int)(sizeof SPECS / sizeof SPECS[0]))

static tr_status bind_yaml(const char *model_lines, int n, char *const *ovr,
                           tr_option_value *v, tr_error *err, tr_config **keep)
{
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "model:\n  plugin: p\n%sdata:\n  pairs: a\n  vocabs: b\n  train: 1\n"
             "  src_len: 1\n  tgt_len: 1\n",
             model_lines);
    tr_config *c = NULL;
    tr_status st = load(yaml, n, ovr, &c, err);
    CU_ASSERT_EQUAL_FATAL(st, TR_OK);
    memset(err, 0, sizeof *err);
    st = tr_config_bind_options(c, SPECS, N_SPECS, v, err);
    *keep = c;
    return st;
}

static void test_bind_options(void)
{
    tr_option_value v[N_SPECS];
    tr_error err;
    tr_config *c;

    /* defaults, with only the required one given */
    CU_ASSERT_EQUAL(bind_yaml("  depth: 2\n", 0, NULL, v, &err, &c), TR_OK);
    CU_ASSERT_EQUAL(v[0].i, 32);
    CU_ASSERT_EQUAL(v[1].i, 0);
    CU_ASSERT_STRING_EQUAL(v[1].s, "tanh");
    CU_ASSERT_DOUBLE_EQUAL(v[2].f, 0.1, 1e-15);
    CU_ASSERT_EQUAL(v[3].i, 1);
    CU_ASSERT_STRING_EQUAL(v[4].s, "plain");
    CU_ASSERT_EQUAL(v[5].i, 2);
    tr_config_free(c);

    /* everything given, one by override */
    char *ovr[] = {"model.activation=sigmoid"};
    CU_ASSERT_EQUAL(bind_yaml("  units: 64\n  activation: hard_sigmoid\n  dropout: 0\n"
                              "  use_bias: Off\n  label: \"x y\"\n  depth: 3\n",
                              1, ovr, v, &err, &c), TR_OK);
    CU_ASSERT_EQUAL(v[0].i, 64);
    CU_ASSERT_EQUAL(v[1].i, 1);
    CU_ASSERT_STRING_EQUAL(v[1].s, "sigmoid");
    CU_ASSERT_DOUBLE_EQUAL(v[2].f, 0.0, 0.0);
    CU_ASSERT_EQUAL(v[3].i, 0);
    CU_ASSERT_STRING_EQUAL(v[4].s, "x y");
    CU_ASSERT_EQUAL(v[5].i, 3);
    tr_config_free(c);

    char exp[1024];
    /* unknown key with a suggestion, at the key */
    CU_ASSERT_EQUAL(bind_yaml("  depth: 1\n  unit: 5\n", 0, NULL, v, &err, &c),
                    TR_ERR_CONFIG);
    expand(exp, sizeof exp, "@:4:3: unknown key 'unit' in 'model' (did you mean 'units'?)");
    CU_ASSERT_STRING_EQUAL(err.msg, exp);
    tr_config_free(c);

    /* unknown key without one: the valid keys */
    CU_ASSERT_EQUAL(bind_yaml("  depth: 1\n  zzzzzz: 5\n", 0, NULL, v, &err, &c),
                    TR_ERR_CONFIG);
    expand(exp, sizeof exp,
           "@:4:3: unknown key 'zzzzzz' in 'model' (valid keys for plugin 'p': plugin, "
           "scorer_plugins, units, activation, dropout, use_bias, label, depth)");
    CU_ASSERT_STRING_EQUAL(err.msg, exp);
    tr_config_free(c);

    /* required option missing: at model.plugin */
    CU_ASSERT_EQUAL(bind_yaml("", 0, NULL, v, &err, &c), TR_ERR_CONFIG);
    expand(exp, sizeof exp,
           "@:2:11: missing required key 'model.depth' (required by plugin 'p')");
    CU_ASSERT_STRING_EQUAL(err.msg, exp);
    tr_config_free(c);

    /* enum value not among the choices */
    CU_ASSERT_EQUAL(bind_yaml("  depth: 1\n  activation: sigmod\n", 0, NULL, v, &err, &c),
                    TR_ERR_CONFIG);
    expand(exp, sizeof exp,
           "@:4:3: model.activation: expected one of tanh|sigmoid|hard_sigmoid, got "
           "'sigmod' (did you mean 'sigmoid'?)");
    CU_ASSERT_STRING_EQUAL(err.msg, exp);
    tr_config_free(c);

    /* wrong types */
    CU_ASSERT_EQUAL(bind_yaml("  depth: 1.5\n", 0, NULL, v, &err, &c), TR_ERR_CONFIG);
    expand(exp, sizeof exp, "@:3:3: model.depth: expected an integer, got '1.5'");
    CU_ASSERT_STRING_EQUAL(err.msg, exp);
    tr_config_free(c);
    CU_ASSERT_EQUAL(bind_yaml("  depth: 1\n  use_bias: 2\n", 0, NULL, v, &err, &c),
                    TR_ERR_CONFIG);
    expand(exp, sizeof exp, "@:4:3: model.use_bias: expected a boolean, got '2' "
                            "(true/false, yes/no, on/off)");
    CU_ASSERT_STRING_EQUAL(err.msg, exp);
    tr_config_free(c);

    /* from the command line */
    char *bad[] = {"model.units=abc"};
    CU_ASSERT_EQUAL(bind_yaml("  depth: 1\n", 1, bad, v, &err, &c), TR_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(err.msg,
                           "command line: model.units=abc: expected an integer, got 'abc'");
    tr_config_free(c);
    char *unk[] = {"model.dropuot=0.5"};
    CU_ASSERT_EQUAL(bind_yaml("  depth: 1\n", 1, unk, v, &err, &c), TR_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(err.msg, "command line: model.dropuot=0.5: unknown key "
                                    "'dropuot' in 'model' (did you mean 'dropout'?)");
    tr_config_free(c);

    /* ranges (ABI 1.6): at the key, or the override; the bounds as declared */
    CU_ASSERT_EQUAL(bind_yaml("  units: 0\n  depth: 1\n", 0, NULL, v, &err, &c), TR_ERR_CONFIG);
    expand(exp, sizeof exp, "@:3:3: model.units: must be in [1,), got 0");
    CU_ASSERT_STRING_EQUAL(err.msg, exp);
    tr_config_free(c);
    char *one[] = {"model.dropout=1"};
    CU_ASSERT_EQUAL(bind_yaml("  depth: 1\n", 1, one, v, &err, &c), TR_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(err.msg, "command line: model.dropout=1: must be in [0, 1), got 1");
    tr_config_free(c);
    char *edges[] = {"model.dropout=0", "model.units=1"}; /* the closed ends are in */
    CU_ASSERT_EQUAL(bind_yaml("  depth: 1\n", 2, edges, v, &err, &c), TR_OK);
    CU_ASSERT_EQUAL(v[0].i, 1);
    CU_ASSERT_DOUBLE_EQUAL(v[2].f, 0.0, 0.0);
    tr_config_free(c);
    static const struct {
        tr_opt_type type;
        const char *range, *value;
        int ok;
    } ranges[] = {
        {TR_OPT_FLOAT, "(0, 1]", "1", 1},       {TR_OPT_FLOAT, "(0, 1]", "0", 0},
        {TR_OPT_FLOAT, "(0,)", "1e-30", 1},     {TR_OPT_FLOAT, "(,0)", "-2.5", 1},
        {TR_OPT_FLOAT, "[ -1 , 1 ]", "1.0001", 0}, {TR_OPT_INT, "[1, 32]", "32", 1},
        {TR_OPT_INT, "[1, 32]", "33", 0},       {TR_OPT_INT, "[1, 32)", "32", 0},
        {TR_OPT_INT, "[,)", "-7", 1},
    };
    for (size_t k = 0; k < sizeof ranges / sizeof ranges[0]; k++) {
        const tr_option_spec sp[] = {{"x", ranges[k].type, ranges[k].value, ranges[k].range, NULL}};
        memset(&err, 0, sizeof err);
        /* a default out of range is the plugin's error; in range, it binds */
        tr_config *c2;
        CU_ASSERT_EQUAL_FATAL(load("model:\n  plugin: p\ndata:\n  pairs: a\n  vocabs: b\n  train: 1\n"
                                   "  src_len: 1\n  tgt_len: 1\n", 0, NULL, &c2, &err), TR_OK);
        tr_option_value x;
        CU_ASSERT_EQUAL(tr_config_bind_options(c2, sp, 1, &x, &err), ranges[k].ok ? TR_OK : TR_ERR_PLUGIN);
        if (!ranges[k].ok)
            CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "must be in"));
        tr_config_free(c2);
    }
    /* a range that is not an interval is a bad declaration */
    static const char *const bad_ranges[] = {"1..", "[1", "[a,)", "[2, 1]", "[0, 1) x", "0, 1"};
    for (size_t k = 0; k < sizeof bad_ranges / sizeof bad_ranges[0]; k++) {
        const tr_option_spec sp[] = {{"x", TR_OPT_INT, "1", bad_ranges[k], NULL}};
        tr_config *c2;
        CU_ASSERT_EQUAL_FATAL(load("model:\n  plugin: p\ndata:\n  pairs: a\n  vocabs: b\n  train: 1\n"
                                   "  src_len: 1\n  tgt_len: 1\n", 0, NULL, &c2, &err), TR_OK);
        tr_option_value x;
        memset(&err, 0, sizeof err);
        CU_ASSERT_EQUAL(tr_config_bind_options(c2, sp, 1, &x, &err), TR_ERR_PLUGIN);
        CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "bad range"));
        tr_config_free(c2);
    }

    /* a plugin whose own default does not parse is the plugin's fault */
    static const tr_option_spec broken[] = {
        {"n", TR_OPT_INT, "many", NULL, NULL},
    };
    CU_ASSERT_EQUAL(bind_yaml("", 0, NULL, v, &err, &c), TR_ERR_CONFIG); /* depth */
    memset(&err, 0, sizeof err);
    CU_ASSERT_EQUAL(tr_config_bind_options(c, broken, 1, v, &err), TR_ERR_PLUGIN);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "'many'"));
    /* no specs, no options: fine */
    CU_ASSERT_EQUAL(tr_config_bind_options(c, NULL, 0, NULL, &err), TR_OK);
    tr_config_free(c);
}

static void test_did_you_mean(void)
{
    const char *const names[] = {"epochs", "batch", "micro_batch", "lr", "log_every"};
    CU_ASSERT_STRING_EQUAL(tr_did_you_mean("epoch", names, 5), "epochs");
    CU_ASSERT_STRING_EQUAL(tr_did_you_mean("bach", names, 5), "batch");
    CU_ASSERT_STRING_EQUAL(tr_did_you_mean("microbatch", names, 5), "micro_batch");
    CU_ASSERT_STRING_EQUAL(tr_did_you_mean("Lr", names, 5), "lr");
    CU_ASSERT_STRING_EQUAL(tr_did_you_mean("lr", names, 5), "lr");
    CU_ASSERT_PTR_NULL(tr_did_you_mean("hidden_size", names, 5));
    CU_ASSERT_PTR_NULL(tr_did_you_mean("xy", names, 5));
    CU_ASSERT_PTR_NULL(tr_did_you_mean("epoch", names, 0));
    /* threshold max(1, len/3): "abcdef" allows 2 edits, not 3 */
    const char *const w[] = {"abcxyz", "abcdxy"};
    CU_ASSERT_STRING_EQUAL(tr_did_you_mean("abcdef", w, 2), "abcdxy");
    CU_ASSERT_PTR_NULL(tr_did_you_mean("abcdef", w, 1));
    /* an adjacent transposition is one edit */
    const char *const secs[] = {"run", "model", "data", "train"};
    CU_ASSERT_STRING_EQUAL(tr_did_you_mean("trian", secs, 4), "train");
    CU_ASSERT_STRING_EQUAL(tr_did_you_mean("mdoel", secs, 4), "model");
    CU_ASSERT_PTR_NULL(tr_did_you_mean("tarni", secs, 4));
    /* the closest wins, the first on a tie */
    const char *const t[] = {"train", "trains", "rain"};
    CU_ASSERT_STRING_EQUAL(tr_did_you_mean("trains", t, 3), "trains");
    CU_ASSERT_STRING_EQUAL(tr_did_you_mean("trai", t, 3), "train");
}

int main(void)
{
    static const tr_test_case cases[] = {
        {"full valid config", test_full_valid},
        {"every key and defaults", test_every_key_and_defaults},
        {"integers", test_integers},
        {"floats", test_floats},
        {"booleans", test_booleans},
        {"ranges", test_ranges},
        {"enums and strings", test_enums_and_strings},
        {"schedule", test_schedule},
        {"unknown keys and sections", test_unknown_keys},
        {"missing required keys", test_missing_required},
        {"YAML structure errors", test_structure_errors},
        {"missing file", test_missing_file},
        {"overrides", test_overrides},
        {"override errors", test_override_errors},
        {"bind options", test_bind_options},
        {"did you mean", test_did_you_mean},
        {NULL, NULL},
    };
    return tr_test_run("config", cases);
}

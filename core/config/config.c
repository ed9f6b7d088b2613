/* core/config/config.c - the run configuration: YAML (libyaml document API) into
 * the typed schema of config.h, with command-line overrides, defaults, range
 * checks, one-line errors with file:line:col and did-you-mean hints. */
#define _POSIX_C_SOURCE 200809L

#include "config/config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

/* ------------------------------------------------------------------ schema */

enum { SEC_RUN, SEC_MODEL, SEC_DATA, SEC_TRAIN, N_SECTIONS };
static const char *const section_names[N_SECTIONS] = {"run", "model", "data",
                                                      "train"};

typedef enum key_type { K_INT, K_FLOAT, K_BOOL, K_STR, K_ENUM,
                        K_SPLIT /* a count (K_INT) or a fraction in (0, 1) of the samples */ } key_type;
typedef enum key_range {
    R_NONE,   /* any value */
    R_POS,    /* > 0 */
    R_NONNEG, /* >= 0 */
    R_UNIT,   /* in [0, 1) */
} key_range;

typedef struct key_def {
    int section;
    const char *name;
    key_type type;
    size_t off;          /* the field in tr_config */
    long where_off;      /* the char *..._where field, or -1 */
    int required;
    key_range range;
    int int_cap;         /* K_INT: must also fit in an int */
    const char *choices; /* K_ENUM: "a|b" in enum order */
} key_def;

/* key_def.required: 0 optional, 1 always, or only for one data.kind */
enum { REQ_CHAR = 2, REQ_WORD = 3, REQ_SEQ = 4 /* char or word pairs */, REQ_TEXT = 5,
       REQ_TOKENS = 6 /* any token input: pairs or text_labels */, REQ_HDF5 = 7,
       REQ_NOT_HDF5 = 8 /* every kind but hdf5, whose file has the sizes and lengths */ };

#define F(x) offsetof(tr_config, x)
#define W(x) ((long)offsetof(tr_config, x))
static const key_def key_defs[] = {
    {SEC_RUN, "name", K_STR, F(run_name), -1, 0, R_NONE, 0, NULL},
    {SEC_RUN, "out", K_STR, F(run_out), -1, 0, R_NONE, 0, NULL},
    {SEC_RUN, "seed", K_INT, F(seed), -1, 0, R_NONE, 0, NULL},

    {SEC_MODEL, "plugin", K_STR, F(plugin), W(plugin_where), 1, R_NONE, 0, NULL},
    {SEC_MODEL, "scorer_plugins", K_STR, F(scorer_plugins), W(scorer_plugins_where), 0, R_NONE, 0, NULL},

    {SEC_DATA, "kind", K_ENUM, F(data_kind), -1, 0, R_NONE, 0, "char_pairs|word_pairs|idx_images|text_labels|hdf5"},
    {SEC_DATA, "file", K_STR, F(file), W(file_where), REQ_HDF5, R_NONE, 0, NULL},
    {SEC_DATA, "files", K_STR, F(files), W(files_where), REQ_TEXT, R_NONE, 0, NULL},
    {SEC_DATA, "tokenizer", K_ENUM, F(tokenizer), -1, 0, R_NONE, 0, "words|chars|spaces"},
    {SEC_DATA, "min_count", K_INT, F(min_count), -1, 0, R_POS, 1, NULL},
    {SEC_DATA, "max_size", K_INT, F(max_size), -1, 0, R_NONNEG, 1, NULL},
    {SEC_DATA, "pairs", K_STR, F(pairs), W(pairs_where), REQ_CHAR, R_NONE, 0, NULL},
    {SEC_DATA, "vocabs", K_STR, F(vocabs), W(vocabs_where), REQ_CHAR, R_NONE, 0, NULL},
    {SEC_DATA, "source", K_STR, F(source), W(source_where), REQ_WORD, R_NONE, 0, NULL},
    {SEC_DATA, "target", K_STR, F(target), W(target_where), REQ_WORD, R_NONE, 0, NULL},
    {SEC_DATA, "dir", K_STR, F(data_dir), W(data_dir_where), 0, R_NONE, 0, NULL},
    {SEC_DATA, "split_seed", K_INT, F(split_seed), -1, 0, R_NONE, 0, NULL},
    {SEC_DATA, "train", K_SPLIT, F(train_size), -1, REQ_NOT_HDF5, R_POS, 1, NULL},
    {SEC_DATA, "test", K_SPLIT, F(test_size), -1, 0, R_NONNEG, 1, NULL},
    {SEC_DATA, "src_len", K_INT, F(src_len), -1, REQ_TOKENS, R_POS, 1, NULL},
    {SEC_DATA, "tgt_len", K_INT, F(tgt_len), -1, REQ_SEQ, R_POS, 1, NULL},
    {SEC_DATA, "lowercase", K_BOOL, F(lowercase), -1, 0, R_NONE, 0, NULL},
    {SEC_DATA, "flip", K_BOOL, F(flip), -1, 0, R_NONE, 0, NULL},
    {SEC_DATA, "shift", K_INT, F(shift), -1, 0, R_NONNEG, 1, NULL},
    {SEC_DATA, "rotate", K_FLOAT, F(rotate), -1, 0, R_NONNEG, 0, NULL},
    {SEC_DATA, "normalize", K_BOOL, F(normalize), -1, 0, R_NONE, 0, NULL},
    {SEC_DATA, "test_rotate", K_FLOAT, F(test_rotate), -1, 0, R_NONNEG, 0, NULL},
    {SEC_DATA, "rotate_interpolation", K_ENUM, F(rotate_bilinear), -1, 0, R_NONE, 0, "nearest|bilinear"},

    {SEC_TRAIN, "epochs", K_INT, F(epochs), -1, 0, R_NONNEG, 0, NULL},
    {SEC_TRAIN, "batch", K_INT, F(batch), -1, 0, R_POS, 1, NULL},
    {SEC_TRAIN, "micro_batch", K_INT, F(micro_batch), -1, 0, R_NONNEG, 1, NULL},
    {SEC_TRAIN, "optimizer", K_ENUM, F(optimizer), -1, 0, R_NONE, 0, "adam|sgd"},
    {SEC_TRAIN, "lr", K_FLOAT, F(lr), -1, 0, R_POS, 0, NULL},
    {SEC_TRAIN, "decay", K_FLOAT, F(decay), -1, 0, R_NONNEG, 0, NULL},
    {SEC_TRAIN, "schedule", K_ENUM, F(schedule), -1, 0, R_NONE, 0, "constant|cosine|noam"},
    {SEC_TRAIN, "warmup", K_FLOAT, F(warmup), -1, 0, R_UNIT, 0, NULL},
    {SEC_TRAIN, "lr_min", K_FLOAT, F(lr_min), -1, 0, R_NONNEG, 0, NULL},
    {SEC_TRAIN, "weight_decay", K_FLOAT, F(weight_decay), -1, 0, R_NONNEG, 0, NULL},
    {SEC_TRAIN, "beta1", K_FLOAT, F(beta1), -1, 0, R_UNIT, 0, NULL},
    {SEC_TRAIN, "beta2", K_FLOAT, F(beta2), -1, 0, R_UNIT, 0, NULL},
    {SEC_TRAIN, "eps", K_FLOAT, F(eps), -1, 0, R_POS, 0, NULL},
    {SEC_TRAIN, "momentum", K_FLOAT, F(momentum), -1, 0, R_UNIT, 0, NULL},
    {SEC_TRAIN, "nesterov", K_BOOL, F(nesterov), -1, 0, R_NONE, 0, NULL},
    {SEC_TRAIN, "clip_norm", K_FLOAT, F(clip_norm), -1, 0, R_NONNEG, 0, NULL},
    {SEC_TRAIN, "shuffle", K_BOOL, F(shuffle), -1, 0, R_NONE, 0, NULL},
    {SEC_TRAIN, "log_every", K_INT, F(log_every), -1, 0, R_POS, 0, NULL},
    {SEC_TRAIN, "eval_every", K_INT, F(eval_every), -1, 0, R_NONNEG, 0, NULL},
    {SEC_TRAIN, "exact_reduce", K_BOOL, F(exact_reduce), -1, 0, R_NONE, 0, NULL},
    {SEC_TRAIN, "checkpoint_every", K_INT, F(checkpoint_every), -1, 0, R_NONNEG, 0, NULL},
    {SEC_TRAIN, "attention_samples", K_INT, F(attention_samples), -1, 0, R_NONNEG, 1, NULL},
    {SEC_TRAIN, "bleu_samples", K_INT, F(bleu_samples), -1, 0, R_NONNEG, 1, NULL},
    {SEC_TRAIN, "keep_best", K_ENUM, F(keep_best), -1, 0, R_NONE, 0,
     "none|accuracy|exact_match|token_accuracy|bleu|macro_f1"},
    {SEC_TRAIN, "early_stop", K_INT, F(early_stop), -1, 0, R_NONNEG, 0, NULL},
    {SEC_TRAIN, "nonfinite", K_ENUM, F(nonfinite), -1, 0, R_NONE, 0, "stop|skip"},
    {SEC_TRAIN, "max_skips", K_INT, F(max_skips), -1, 0, R_POS, 0, NULL},
};
#undef F
#undef W
#define N_KEYS ((int)(sizeof key_defs / sizeof key_defs[0]))

static void set_defaults(tr_config *c)
{
    c->seed = 1;
    c->data_kind = TR_DATA_CHAR_PAIRS;
    c->test_size = 0;
    c->lowercase = 1;
    c->epochs = 1;
    c->batch = 32;
    c->micro_batch = 0;
    c->optimizer = TR_OPTIM_ADAM;
    c->lr = 0.001;
    c->decay = 0.0;
    c->beta1 = 0.9;
    c->beta2 = 0.999;
    c->eps = 1e-7;
    c->momentum = 0.0;
    c->nesterov = 0;
    c->clip_norm = 0.0;
    c->shuffle = 1;
    c->nonfinite = TR_NONFINITE_STOP;
    c->max_skips = 10;
    c->log_every = 50;
    c->eval_every = 0;
    c->exact_reduce = 1;
    c->checkpoint_every = 0;
    c->attention_samples = 8;
    c->bleu_samples = 1000;
    c->split_seed = 1;
    c->tokenizer = TR_TOK_WORDS;
    c->min_count = 1;
}

/* ----------------------------------------------------------------- helpers */

#define SHOW_MAX 64

/* Writes s as it goes into a one-line message: control characters
 * replaced, long text cut with "...", quoted if `quote`. */
static const char *show_text(const char *s, char *buf, size_t n, int quote)
{
    size_t o = 0, i = 0;
    if (quote)
        buf[o++] = '\'';
    for (; s[i] && o + 5 < n && i < SHOW_MAX; i++) {
        unsigned char ch = (unsigned char)s[i];
        buf[o++] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    if (s[i]) {
        /* don't leave half a UTF-8 sequence before the "..." */
        while (o > 1 && ((unsigned char)buf[o - 1] & 0xC0) == 0x80)
            o--;
        if (o > 1 && ((unsigned char)buf[o - 1] & 0xC0) == 0xC0)
            o--;
        buf[o++] = '.';
        buf[o++] = '.';
        buf[o++] = '.';
    }
    if (quote)
        buf[o++] = '\'';
    buf[o] = '\0';
    return buf;
}

/* "'text'" (as show_text) or "an empty value". */
static const char *show(const char *s, char *buf, size_t n)
{
    if (!s || !*s) {
        snprintf(buf, n, "an empty value");
        return buf;
    }
    return show_text(s, buf, n, 1);
}

/* A copy of s with control characters replaced, for one-line messages. */
static char *dup_oneline(const char *s)
{
    char *d = strdup(s);
    if (d)
        for (char *p = d; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
    return d;
}

static char *dup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dup_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE: return "a scalar";
    case YAML_SEQUENCE_NODE: return "a sequence";
    case YAML_MAPPING_NODE: return "a mapping";
    default: return "nothing";
    }
}

static int is_null_word(const char *s)
{
    return !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

/* "a, b, c" into buf. */
static void join_names(char *buf, size_t n, const char *const *names, int k)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int i = 0; i < k && o < n; i++) {
        int w = snprintf(buf + o, n - o, "%s%s", i ? ", " : "", names[i]);
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

/* ---------------------------------------------------------- did you mean */

/* Edit distance: Levenshtein (insert, delete, substitute) plus adjacent
 * transposition counted as one edit ("trian" -> "train" is 1), i.e. the
 * optimal string alignment distance. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *rows = malloc(3 * (lb + 1) * sizeof *rows);
    if (!rows)
        return (size_t)-1;
    size_t *pp = rows, *prev = rows + lb + 1, *cur = rows + 2 * (lb + 1);
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t best = prev[j - 1] + (a[i - 1] != b[j - 1]);
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            cur[j] = best;
        }
        size_t *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    size_t d = prev[lb];
    free(rows);
    return d;
}

const char *tr_did_you_mean(const char *word, const char *const *candidates,
                            int n)
{
    if (!word || !candidates)
        return NULL;
    size_t limit = strlen(word) / 3;
    if (limit < 1)
        limit = 1;
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (int i = 0; i < n; i++) {
        if (!candidates[i])
            continue;
        size_t d = edit_distance(word, candidates[i]);
        if (d <= limit && d < best_d) {
            best = candidates[i];
            best_d = d;
        }
    }
    return best;
}

/* " (did you mean 'x'?)" or " (<list_label>: a, b, c)" (or nothing, with a
 * NULL list_label) into buf. */
static void suggest(char *buf, size_t n, const char *word,
                    const char *const *names, int k, const char *list_label)
{
    const char *m = tr_did_you_mean(word, names, k);
    buf[0] = '\0';
    if (m) {
        snprintf(buf, n, " (did you mean '%s'?)", m);
    } else if (list_label) {
        snprintf(buf, n, " (%s: ", list_label);
        size_t o = strlen(buf);
        if (o + 2 < n) {
            join_names(buf + o, n - o - 1, names, k);
            o = strlen(buf);
            buf[o++] = ')';
            buf[o] = '\0';
        }
    }
}

/* ----------------------------------------------------------- value parsers
 * Each returns 0 and the value, or -1 with "what went wrong" in why. */

static int parse_long(const char *s, long *out, char *why, size_t n)
{
    char sh[SHOW_MAX + 8];
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    int digits = *p != '\0';
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            digits = 0;
    if (!digits) {
        snprintf(why, n, "expected an integer, got %s", show(s, sh, sizeof sh));
        return -1;
    }
    errno = 0;
    long v = strtol(s, NULL, 10);
    if (errno == ERANGE) {
        snprintf(why, n, "expected an integer, got %s (out of range)",
                 show(s, sh, sizeof sh));
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_double(const char *s, double *out, char *why, size_t n)
{
    char sh[SHOW_MAX + 8];
    /* [+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)?  - no inf, nan or hex */
    const char *p = s;
    int mant = 0, ok = 1;
    if (*p == '+' || *p == '-')
        p++;
    while (*p >= '0' && *p <= '9')
        p++, mant++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++, mant++;
    }
    if (!mant)
        ok = 0;
    if (ok && (*p == 'e' || *p == 'E')) {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            ok = 0;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (!ok || *p) {
        snprintf(why, n, "expected a number, got %s", show(s, sh, sizeof sh));
        return -1;
    }
    errno = 0;
    double v = strtod(s, NULL);
    if (errno == ERANGE || !isfinite(v)) {
        snprintf(why, n, "expected a number, got %s (out of range)",
                 show(s, sh, sizeof sh));
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_bool(const char *s, int *out, char *why, size_t n)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
        if (!strcasecmp(s, yes[i])) {
            *out = 1;
            return 0;
        }
        if (!strcasecmp(s, no[i])) {
            *out = 0;
            return 0;
        }
    }
    char sh[SHOW_MAX + 8];
    snprintf(why, n, "expected a boolean, got %s (true/false, yes/no, on/off)",
             show(s, sh, sizeof sh));
    return -1;
}

#define MAX_CHOICES 64

/* Splits "a|b|c" into names (pointing into buf). Returns the count. */
static int split_choices(const char *choices, char *buf, size_t n,
                         const char **names)
{
    snprintf(buf, n, "%s", choices);
    int k = 0;
    char *p = buf;
    while (k < MAX_CHOICES) {
        names[k++] = p;
        char *bar = strchr(p, '|');
        if (!bar)
            break;
        *bar = '\0';
        p = bar + 1;
    }
    return k;
}

static int parse_enum(const char *s, const char *choices, int *idx, char *why,
                      size_t n)
{
    char buf[1024];
    const char *names[MAX_CHOICES];
    int k = split_choices(choices, buf, sizeof buf, names);
    for (int i = 0; i < k; i++) {
        if (!strcmp(s, names[i])) {
            *idx = i;
            return 0;
        }
    }
    char sh[SHOW_MAX + 8], hint[256];
    suggest(hint, sizeof hint, s, names, k, NULL);
    snprintf(why, n, "expected one of %s, got %s%s", choices,
             show(s, sh, sizeof sh), hint);
    return -1;
}

static int check_range(double v, const char *text, key_range r, char *why,
                       size_t n)
{
    switch (r) {
    case R_NONE:
        return 0;
    case R_POS:
        if (v > 0)
            return 0;
        snprintf(why, n, "must be > 0, got %s", text);
        return -1;
    case R_NONNEG:
        if (v >= 0)
            return 0;
        snprintf(why, n, "must be >= 0, got %s", text);
        return -1;
    case R_UNIT:
        if (v >= 0 && v < 1)
            return 0;
        snprintf(why, n, "must be in [0, 1), got %s", text);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ loader */

typedef struct loader {
    tr_config *c;
    tr_error *err;
    unsigned char given[N_KEYS];
    int section_seen[N_SECTIONS];
    yaml_mark_t section_mark[N_SECTIONS]; /* the section's key node */
    yaml_mark_t top_mark;                 /* the top-level mapping */
} loader;

/* Where a value came from: "file:line:col" (then messages name the key) or
 * "command line: a.b=v" (which already names it). */
typedef struct site {
    const char *where;
    int cmdline;
} site;

static tr_status nomem(tr_error *err)
{
    return tr_error_set(err, TR_ERR_NOMEM, "out of memory while reading the configuration");
}

static tr_status value_error(tr_error *err, const site *st, int section,
                             const char *key, const char *why)
{
    if (st->cmdline)
        return tr_error_set(err, TR_ERR_CONFIG, "%s: %s", st->where, why);
    return tr_error_set(err, TR_ERR_CONFIG, "%s: %s.%s: %s", st->where,
                        section_names[section], key, why);
}

static void file_where(char *buf, size_t n, const char *path, yaml_mark_t m)
{
    snprintf(buf, n, "%s:%zu:%zu", path, m.line + 1, m.column + 1);
}

static int find_section(const char *name)
{
    for (int s = 0; s < N_SECTIONS; s++)
        if (!strcmp(name, section_names[s]))
            return s;
    return -1;
}

static int find_key(int section, const char *name)
{
    for (int i = 0; i < N_KEYS; i++)
        if (key_defs[i].section == section && !strcmp(key_defs[i].name, name))
            return i;
    return -1;
}

static int section_keys(int section, const char **names)
{
    int k = 0;
    for (int i = 0; i < N_KEYS; i++)
        if (key_defs[i].section == section)
            names[k++] = key_defs[i].name;
    return k;
}

int tr_config_schema_key(int i, const char **section, const char **name)
{
    if (i < 0 || i >= N_KEYS)
        return 0;
    *section = section_names[key_defs[i].section];
    *name = key_defs[i].name;
    return 1;
}

static tr_status unknown_section(tr_error *err, const char *where,
                                 const char *name)
{
    char sh[SHOW_MAX + 8], hint[256];
    suggest(hint, sizeof hint, name, section_names, N_SECTIONS,
            "valid sections");
    return tr_error_set(err, TR_ERR_CONFIG, "%s: unknown section %s%s", where,
                        show(name, sh, sizeof sh), hint);
}

static tr_status unknown_key(tr_error *err, const char *where, int section,
                             const char *name)
{
    const char *names[N_KEYS];
    int k = section_keys(section, names);
    char sh[SHOW_MAX + 8], hint[512];
    suggest(hint, sizeof hint, name, names, k, "valid keys");
    return tr_error_set(err, TR_ERR_CONFIG, "%s: unknown key %s in '%s'%s",
                        where, show(name, sh, sizeof sh),
                        section_names[section], hint);
}

/* Sets schema key `ki` from scalar text (len bytes; `plain`: unquoted). */
static tr_status set_value(loader *L, int ki, const char *text, size_t len,
                           int plain, const site *st)
{
    const key_def *d = &key_defs[ki];
    char *base = (char *)L->c;
    char why[512], sh[SHOW_MAX + 8];

    if (strlen(text) != len)
        return value_error(L->err, st, d->section, d->name,
                           "contains a NUL character");

    switch (d->type) {
    case K_INT: {
        long v;
        if (parse_long(text, &v, why, sizeof why) ||
            check_range((double)v, text, d->range, why, sizeof why))
            return value_error(L->err, st, d->section, d->name, why);
        if (d->int_cap && v > INT_MAX) {
            snprintf(why, sizeof why, "must be at most %d, got %s", INT_MAX, text);
            return value_error(L->err, st, d->section, d->name, why);
        }
        *(long *)(base + d->off) = v;
        break;
    }
    case K_SPLIT: {
        long v;
        double f;
        double *frac = d->off == offsetof(tr_config, train_size) ? &L->c->train_frac : &L->c->test_frac;
        if (!parse_long(text, &v, why, sizeof why)) {
            if (check_range((double)v, text, d->range, why, sizeof why))
                return value_error(L->err, st, d->section, d->name, why);
            if (v > INT_MAX) {
                snprintf(why, sizeof why, "must be at most %d, got %s", INT_MAX, text);
                return value_error(L->err, st, d->section, d->name, why);
            }
            *(long *)(base + d->off) = v;
            *frac = 0;
        } else if (!parse_double(text, &f, why, sizeof why) && f > 0 && f < 1) {
            *(long *)(base + d->off) = 0; /* tr_data_load resolves it once it knows the samples */
            *frac = f;
        } else {
            snprintf(why, sizeof why, "must be a count (an integer %s) or a fraction of the samples in (0, 1), got %s",
                     d->range == R_POS ? "> 0" : ">= 0", text);
            return value_error(L->err, st, d->section, d->name, why);
        }
        break;
    }
    case K_FLOAT: {
        double v;
        if (parse_double(text, &v, why, sizeof why) ||
            check_range(v, text, d->range, why, sizeof why))
            return value_error(L->err, st, d->section, d->name, why);
        *(double *)(base + d->off) = v;
        break;
    }
    case K_BOOL: {
        int v;
        if (parse_bool(text, &v, why, sizeof why))
            return value_error(L->err, st, d->section, d->name, why);
        *(int *)(base + d->off) = v;
        break;
    }
    case K_ENUM: {
        int v;
        if (parse_enum(text, d->choices, &v, why, sizeof why))
            return value_error(L->err, st, d->section, d->name, why);
        /* each enum field by name: their C types may differ in size */
        if (d->off == offsetof(tr_config, optimizer))
            L->c->optimizer = (tr_optim_kind)v;
        else if (d->off == offsetof(tr_config, schedule))
            L->c->schedule = (tr_schedule_kind)v;
        else if (d->off == offsetof(tr_config, tokenizer))
            L->c->tokenizer = (tr_tokenizer)v;
        else if (d->off == offsetof(tr_config, keep_best))
            L->c->keep_best = (tr_best_metric)v;
        else if (d->off == offsetof(tr_config, nonfinite))
            L->c->nonfinite = (tr_nonfinite)v;
        else if (d->off == offsetof(tr_config, rotate_bilinear))
            L->c->rotate_bilinear = v;
        else
            L->c->data_kind = (tr_data_kind)v;
        break;
    }
    case K_STR: {
        if (len == 0)
            return value_error(L->err, st, d->section, d->name,
                               "expected a non-empty string, got an empty value");
        if (plain && is_null_word(text)) {
            snprintf(why, sizeof why,
                     "expected a string, got null %s (quote it to mean the text)",
                     show(text, sh, sizeof sh));
            return value_error(L->err, st, d->section, d->name, why);
        }
        char *v = strdup(text);
        if (!v)
            return nomem(L->err);
        char **field = (char **)(base + d->off);
        free(*field);
        *field = v;
        if (d->where_off >= 0) {
            char *w = strdup(st->where);
            if (!w)
                return nomem(L->err);
            char **wf = (char **)(base + d->where_off);
            free(*wf);
            *wf = w;
        }
        break;
    }
    }
    L->given[ki] = 1;
    return TR_OK;
}

/* Sets or replaces model option `key`. */
static tr_status set_model_opt(loader *L, const char *key, const char *value,
                               const char *where)
{
    tr_config *c = L->c;
    for (int i = 0; i < c->n_model_opts; i++) {
        tr_config_kv *kv = &c->model_opts[i];
        if (!strcmp(kv->key, key)) {
            char *v = strdup(value), *w = strdup(where);
            if (!v || !w) {
                free(v);
                free(w);
                return nomem(L->err);
            }
            free(kv->value);
            free(kv->where);
            kv->value = v;
            kv->where = w;
            return TR_OK;
        }
    }
    tr_config_kv *grown =
        realloc(c->model_opts, ((size_t)c->n_model_opts + 1) * sizeof *grown);
    if (!grown)
        return nomem(L->err);
    c->model_opts = grown;
    tr_config_kv kv = {strdup(key), strdup(value), strdup(where)};
    if (!kv.key || !kv.value || !kv.where) {
        free(kv.key);
        free(kv.value);
        free(kv.where);
        return nomem(L->err);
    }
    c->model_opts[c->n_model_opts++] = kv;
    return TR_OK;
}

/* where_prefix: the file's path (then ":line:col" follows) or, with
 * cmdline set, "command line: a.b=v". */
static tr_status yaml_error(tr_error *err, const char *where_prefix,
                            int cmdline, const yaml_parser_t *p,
                            const char *text, size_t text_len)
{
    if (p->error == YAML_MEMORY_ERROR)
        return nomem(err);
    size_t line, col;
    if (p->error == YAML_READER_ERROR) {
        /* reader errors carry only a byte offset */
        size_t off = p->problem_offset < text_len ? p->problem_offset : text_len;
        size_t ls = 0;
        line = 1;
        for (size_t i = 0; i < off; i++)
            if (text[i] == '\n')
                line++, ls = i + 1;
        col = off - ls + 1;
    } else {
        line = p->problem_mark.line + 1;
        col = p->problem_mark.column + 1;
    }
    const char *problem = p->problem ? p->problem : "unknown error";
    char loc[64] = "";
    if (!cmdline)
        snprintf(loc, sizeof loc, ":%zu:%zu", line, col);
    if (p->context)
        return tr_error_set(err, TR_ERR_CONFIG, "%s%s: YAML syntax error: %s (%s)",
                            where_prefix, loc, problem, p->context);
    return tr_error_set(err, TR_ERR_CONFIG, "%s%s: YAML syntax error: %s",
                        where_prefix, loc, problem);
}

static int scalar_key(const yaml_node_t *k)
{
    return k->type == YAML_SCALAR_NODE &&
           strlen((const char *)k->data.scalar.value) == k->data.scalar.length;
}

/* Checks mapping `m`'s pair `pi` key against the earlier ones. */
static tr_status check_duplicate(loader *L, yaml_document_t *doc,
                                 const yaml_node_t *m, yaml_node_pair_t *pi,
                                 const char *in)
{
    yaml_node_t *k = yaml_document_get_node(doc, pi->key);
    for (yaml_node_pair_t *pj = m->data.mapping.pairs.start; pj < pi; pj++) {
        yaml_node_t *kj = yaml_document_get_node(doc, pj->key);
        if (!strcmp((const char *)kj->data.scalar.value,
                    (const char *)k->data.scalar.value)) {
            char where[1200], sh[SHOW_MAX + 8];
            file_where(where, sizeof where, L->c->path, k->start_mark);
            if (in)
                return tr_error_set(L->err, TR_ERR_CONFIG,
                                    "%s: duplicate key %s in '%s' (first given at line %zu)",
                                    where, show((const char *)k->data.scalar.value, sh, sizeof sh),
                                    in, kj->start_mark.line + 1);
            return tr_error_set(L->err, TR_ERR_CONFIG,
                                "%s: duplicate section %s (first given at line %zu)",
                                where, show((const char *)k->data.scalar.value, sh, sizeof sh),
                                kj->start_mark.line + 1);
        }
    }
    return TR_OK;
}

/* A YAML list of scalars (data.files) as one comma-separated value. */
static tr_status set_joined(loader *L, int ki, yaml_document_t *doc, yaml_node_t *seq, const site *st)
{
    size_t len = 0;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
        yaml_node_t *e = yaml_document_get_node(doc, *it);
        if (e->type != YAML_SCALAR_NODE || e->data.scalar.length == 0 ||
            memchr(e->data.scalar.value, ',', e->data.scalar.length))
            return value_error(L->err, st, key_defs[ki].section, key_defs[ki].name,
                               "expected a list of file names (without commas)");
        len += e->data.scalar.length + 1;
    }
    char *text = malloc(len + 1);
    if (!text)
        return nomem(L->err);
    size_t o = 0;
    for (yaml_node_item_t *it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
        yaml_node_t *e = yaml_document_get_node(doc, *it);
        if (o)
            text[o++] = ',';
        memcpy(text + o, e->data.scalar.value, e->data.scalar.length);
        o += e->data.scalar.length;
    }
    text[o] = 0;
    tr_status r = set_value(L, ki, text, o, 0, st);
    free(text);
    return r;
}

static tr_status load_section(loader *L, yaml_document_t *doc, int sec,
                              yaml_node_t *m)
{
    const char *path = L->c->path;
    char where[1200], sh[SHOW_MAX + 8];
    tr_status st;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start;
         p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        file_where(where, sizeof where, path, k->start_mark);
        if (!scalar_key(k) || k->data.scalar.length == 0)
            return tr_error_set(L->err, TR_ERR_CONFIG,
                                "%s: expected a key name in '%s', got %s",
                                where, section_names[sec],
                                k->type == YAML_SCALAR_NODE ? "an empty or invalid key"
                                                            : node_kind(k));
        if ((st = check_duplicate(L, doc, m, p, section_names[sec])))
            return st;
        const char *key = (const char *)k->data.scalar.value;
        int ki = find_key(sec, key);
        if (ki < 0 && sec != SEC_MODEL)
            return unknown_key(L->err, where, sec, key);

        char vwhere[1200];
        file_where(vwhere, sizeof vwhere, path, v->start_mark);
        if (v->type == YAML_SEQUENCE_NODE && ki >= 0 && key_defs[ki].off == offsetof(tr_config, files)) {
            /* data.files as a YAML list: the same as "a,b,c" */
            site s = {vwhere, 0};
            if ((st = set_joined(L, ki, doc, v, &s)))
                return st;
            continue;
        }
        if (v->type != YAML_SCALAR_NODE) {
            site s = {vwhere, 0};
            char why[128];
            snprintf(why, sizeof why, "expected a single value, got %s",
                     node_kind(v));
            if (ki < 0) /* a model option: name it as written */
                return tr_error_set(L->err, TR_ERR_CONFIG, "%s: model.%s: %s",
                                    vwhere, show_text(key, sh, sizeof sh, 0), why);
            return value_error(L->err, &s, sec, key, why);
        }
        const char *text = (const char *)v->data.scalar.value;
        if (ki < 0) {
            /* a model option, kept as text until the plugin binds it */
            if (strlen(text) != v->data.scalar.length)
                return tr_error_set(L->err, TR_ERR_CONFIG,
                                    "%s: model.%s: contains a NUL character",
                                    vwhere, show_text(key, sh, sizeof sh, 0));
            if ((st = set_model_opt(L, key, text, where)))
                return st;
            continue;
        }
        site s = {vwhere, 0};
        if ((st = set_value(L, ki, text, v->data.scalar.length,
                            v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE, &s)))
            return st;
    }
    return TR_OK;
}

static tr_status load_document(loader *L, yaml_document_t *doc)
{
    const char *path = L->c->path;
    char where[1200];
    tr_status st;
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root)
        return TR_OK; /* an empty file: the required keys will be missing */
    L->top_mark = root->start_mark;
    if (root->type != YAML_MAPPING_NODE) {
        file_where(where, sizeof where, path, root->start_mark);
        return tr_error_set(L->err, TR_ERR_CONFIG,
                            "%s: expected a mapping of sections (run, model, data, train), got %s",
                            where, node_kind(root));
    }
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
         p < root->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        file_where(where, sizeof where, path, k->start_mark);
        if (!scalar_key(k))
            return tr_error_set(L->err, TR_ERR_CONFIG,
                                "%s: expected a section name, got %s", where,
                                k->type == YAML_SCALAR_NODE ? "an invalid key"
                                                            : node_kind(k));
        if ((st = check_duplicate(L, doc, root, p, NULL)))
            return st;
        const char *name = (const char *)k->data.scalar.value;
        int sec = find_section(name);
        if (sec < 0)
            return unknown_section(L->err, where, name);
        L->section_seen[sec] = 1;
        L->section_mark[sec] = k->start_mark;
        if (v->type == YAML_SCALAR_NODE &&
            v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
            (v->data.scalar.length == 0 ||
             is_null_word((const char *)v->data.scalar.value)))
            continue; /* "train:" with nothing under it */
        if (v->type != YAML_MAPPING_NODE) {
            file_where(where, sizeof where, path, v->start_mark);
            return tr_error_set(L->err, TR_ERR_CONFIG,
                                "%s: %s: expected a mapping of keys, got %s",
                                where, name, node_kind(v));
        }
        if ((st = load_section(L, doc, sec, v)))
            return st;
    }
    return TR_OK;
}

static tr_status apply_override(loader *L, const char *o)
{
    tr_error *err = L->err;
    tr_status st = TR_OK;
    char *shown = dup_oneline(o);
    char *where = shown ? dup_printf("command line: %s", shown) : NULL;
    char *lhs = NULL;
    yaml_parser_t parser;
    yaml_document_t doc;
    int have_parser = 0, have_doc = 0;
    if (!where) {
        st = nomem(err);
        goto done;
    }
    if (strchr(o, '\n') || strchr(o, '\r')) {
        st = tr_error_set(err, TR_ERR_CONFIG,
                          "%s: an override must be one line", where);
        goto done;
    }
    const char *eq = strchr(o, '=');
    const char *dot = eq ? memchr(o, '.', (size_t)(eq - o)) : NULL;
    if (!eq || !dot) {
        st = tr_error_set(err, TR_ERR_CONFIG,
                          "%s: expected section.key=value (e.g. train.epochs=5)",
                          where);
        goto done;
    }
    lhs = strndup(o, (size_t)(eq - o));
    if (!lhs) {
        st = nomem(err);
        goto done;
    }
    lhs[dot - o] = '\0';
    const char *section = lhs, *key = lhs + (dot - o) + 1;
    const char *value = eq + 1;
    if (!*section || !*key) {
        st = tr_error_set(err, TR_ERR_CONFIG,
                          "%s: empty %s (expected section.key=value)", where,
                          *section ? "key" : "section");
        goto done;
    }
    int sec = find_section(section);
    if (sec < 0) {
        st = unknown_section(err, where, section);
        goto done;
    }
    int ki = find_key(sec, key);
    if (ki < 0 && sec != SEC_MODEL) {
        st = unknown_key(err, where, sec, key);
        goto done;
    }

    /* The value is YAML scalar text: parse it as a one-scalar document. */
    if (!yaml_parser_initialize(&parser)) {
        st = nomem(err);
        goto done;
    }
    have_parser = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)value,
                                 strlen(value));
    if (!yaml_parser_load(&parser, &doc)) {
        st = yaml_error(err, where, 1, &parser, value, strlen(value));
        goto done;
    }
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    const char *text = "";
    size_t len = 0;
    int plain = 1;
    if (root) {
        if (root->type != YAML_SCALAR_NODE) {
            st = tr_error_set(err, TR_ERR_CONFIG,
                              "%s: expected a single value, got %s", where,
                              node_kind(root));
            goto done;
        }
        text = (const char *)root->data.scalar.value;
        len = root->data.scalar.length;
        plain = root->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    }
    if (ki < 0) {
        if (strlen(text) != len) {
            st = tr_error_set(err, TR_ERR_CONFIG,
                              "%s: contains a NUL character", where);
            goto done;
        }
        st = set_model_opt(L, key, text, where);
    } else {
        site s = {where, 1};
        st = set_value(L, ki, text, len, plain, &s);
    }
done:
    if (have_doc)
        yaml_document_delete(&doc);
    if (have_parser)
        yaml_parser_delete(&parser);
    free(lhs);
    free(where);
    free(shown);
    return st;
}

static tr_status read_file(const char *path, char **out, size_t *out_len,
                           tr_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return tr_error_set(err, TR_ERR_IO, "%s: cannot open: %s", path,
                            strerror(errno));
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        fclose(f);
        return nomem(err);
    }
    for (;;) {
        if (cap - len < 2) {
            char *g = realloc(buf, cap * 2);
            if (!g) {
                free(buf);
                fclose(f);
                return nomem(err);
            }
            buf = g;
            cap *= 2;
        }
        size_t r = fread(buf + len, 1, cap - len - 1, f);
        len += r;
        if (r == 0) {
            if (ferror(f)) {
                int e = errno;
                free(buf);
                fclose(f);
                return tr_error_set(err, TR_ERR_IO, "%s: cannot read: %s",
                                    path, strerror(e));
            }
            break;
        }
    }
    fclose(f);
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    return TR_OK;
}

/* The config file's base name without directory and extension. */
static char *default_run_name(const char *path)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    const char *ext = strrchr(b, '.');
    if (ext && ext != b)
        n = (size_t)(ext - b);
    if (n == 0)
        return strdup("run");
    return strndup(b, n);
}

/* Keys that the rest of the config would silently ignore, or that contradict
 * each other: the reason (and its section in *sec), or NULL. */
static const char *conflicting_keys(const tr_config *c, int *sec)
{
    *sec = SEC_DATA;
    const int hdf5 = c->data_kind == TR_DATA_HDF5; /* images or not: known once the file is read */
    if ((c->flip || c->shift > 0) && c->data_kind != TR_DATA_IDX_IMAGES && !hdf5)
        return "data.flip and data.shift apply only to data.kind: idx_images (or hdf5 images)";
    if ((c->rotate > 0 || c->test_rotate > 0) && c->data_kind != TR_DATA_IDX_IMAGES && !hdf5)
        return "data.rotate and data.test_rotate apply only to data.kind: idx_images (or hdf5 images)";
    if (c->normalize && c->data_kind != TR_DATA_IDX_IMAGES && !hdf5)
        return "data.normalize applies only to data.kind: idx_images (or hdf5 images)";
    if (c->rotate > 180 || c->test_rotate > 180)
        return "data.rotate and data.test_rotate are degrees each way: at most 180";
    if ((c->tokenizer != TR_TOK_WORDS || c->min_count > 1 || c->max_size > 0) && c->data_kind != TR_DATA_TEXT_LABELS &&
        !hdf5)
        return "data.tokenizer, data.min_count and data.max_size apply only to data.kind: text_labels "
               "(data.tokenizer also to hdf5)";
    if ((c->train_frac > 0 || c->test_frac > 0) && (hdf5 || c->data_kind == TR_DATA_IDX_IMAGES))
        return "data.train and data.test as fractions split one set of samples; idx_images and hdf5 keep train "
               "and test apart already: give counts";
    if (c->train_frac + c->test_frac > 1)
        return "data.train and data.test as fractions add up to more than 1";
    if (hdf5 && (c->min_count > 1 || c->max_size > 0))
        return "data.min_count and data.max_size apply only to data.kind: text_labels (an hdf5 file brings its vocabularies)";
    if (c->max_size == 1 || c->max_size == 2)
        return "data.max_size counts <pad> and <unk> too: give at least 3 (or 0 for no cap)";
    *sec = SEC_TRAIN;
    if (c->schedule != TR_SCHEDULE_CONSTANT && c->decay > 0)
        return "train.decay (Keras time-based) applies only to train.schedule: constant; drop one of them";
    if (c->schedule == TR_SCHEDULE_CONSTANT && (c->warmup > 0 || c->lr_min > 0))
        return "train.warmup and train.lr_min apply only to train.schedule: cosine (warmup: noam too)";
    if (c->schedule == TR_SCHEDULE_NOAM && c->lr_min > 0)
        return "train.lr_min applies only to train.schedule: cosine (noam decays as 1/sqrt(update))";
    if (c->lr_min > c->lr)
        return "train.lr_min must not exceed train.lr";
    /* hdf5: a classification task if the file has labels; the loader checks macro_f1 then */
    const int classify = c->data_kind == TR_DATA_IDX_IMAGES || c->data_kind == TR_DATA_TEXT_LABELS || hdf5;
    if (c->early_stop > 0 && c->keep_best == TR_BEST_NONE)
        return "train.early_stop needs train.keep_best: the metric whose improvement it waits for";
    if (c->keep_best != TR_BEST_NONE && c->test_size == 0 && c->test_frac == 0)
        return "train.keep_best needs held-out data to evaluate (data.test > 0)";
    if (c->keep_best == TR_BEST_MACRO_F1 && !classify)
        return "train.keep_best: macro_f1 needs a classification task (data.kind text_labels, idx_images, or hdf5 with labels)";
    if (c->keep_best == TR_BEST_BLEU && (c->data_kind != TR_DATA_WORD_PAIRS || c->bleu_samples == 0))
        return "train.keep_best: bleu needs data.kind word_pairs and train.bleu_samples > 0";
    return NULL;
}

static tr_status finish(loader *L, int n_overrides, char *const *overrides)
{
    tr_config *c = L->c;
    for (int i = 0; i < N_KEYS; i++) {
        const key_def *d = &key_defs[i];
        int needed = d->required == 1 || (d->required == REQ_CHAR && c->data_kind == TR_DATA_CHAR_PAIRS) ||
                     (d->required == REQ_WORD && c->data_kind == TR_DATA_WORD_PAIRS) ||
                     (d->required == REQ_SEQ && (c->data_kind == TR_DATA_CHAR_PAIRS ||
                                                 c->data_kind == TR_DATA_WORD_PAIRS)) ||
                     (d->required == REQ_TEXT && c->data_kind == TR_DATA_TEXT_LABELS) ||
                     (d->required == REQ_TOKENS && c->data_kind != TR_DATA_IDX_IMAGES &&
                      c->data_kind != TR_DATA_HDF5) ||
                     (d->required == REQ_HDF5 && c->data_kind == TR_DATA_HDF5) ||
                     (d->required == REQ_NOT_HDF5 && c->data_kind != TR_DATA_HDF5);
        if (!needed || L->given[i])
            continue;
        char where[1200];
        yaml_mark_t m = L->section_seen[d->section] ? L->section_mark[d->section]
                                                    : L->top_mark;
        file_where(where, sizeof where, c->path, m);
        return tr_error_set(L->err, TR_ERR_CONFIG,
                            "%s: missing required key '%s.%s'", where,
                            section_names[d->section], d->name);
    }
    if (c->data_kind == TR_DATA_HDF5) { /* absent: every row of the split, which tr_data_load counts */
        if (!L->given[find_key(SEC_DATA, "train")])
            c->train_size = -1;
        if (!L->given[find_key(SEC_DATA, "test")])
            c->test_size = -1;
    }
    int sec;
    const char *why = conflicting_keys(c, &sec);
    if (why) {
        char where[1200];
        file_where(where, sizeof where, c->path, L->section_seen[sec] ? L->section_mark[sec] : L->top_mark);
        return tr_error_set(L->err, TR_ERR_CONFIG, "%s: %s", where, why);
    }
    if (c->data_kind == TR_DATA_TEXT_LABELS)
        c->tgt_len = 1; /* one class label out */
    if (c->data_kind == TR_DATA_IDX_IMAGES) {
        /* images in, one class label out */
        c->src_len = 0;
        c->tgt_len = 1;
        if (!c->data_dir && !(c->data_dir = strdup("/usr/share/datasets/fashion-mnist")))
            return nomem(L->err);
    }
    if (!c->run_name && !(c->run_name = default_run_name(c->path)))
        return nomem(L->err);
    if (!c->run_out && !(c->run_out = dup_printf("results/%s", c->run_name)))
        return nomem(L->err);

    /* text: the file as read, then one "# override:" line per override */
    size_t len = strlen(c->text), need = len + 2;
    for (int i = 0; i < n_overrides; i++)
        need += strlen("# override: ") + strlen(overrides[i]) + 1;
    char *t = malloc(need);
    if (!t)
        return nomem(L->err);
    memcpy(t, c->text, len);
    if (n_overrides && len && t[len - 1] != '\n')
        t[len++] = '\n';
    for (int i = 0; i < n_overrides; i++)
        len += (size_t)sprintf(t + len, "# override: %s\n", overrides[i]);
    t[len] = '\0';
    free(c->text);
    c->text = t;
    return TR_OK;
}

tr_status tr_config_load(tr_config **out, const char *path, int n_overrides,
                         char *const *overrides, tr_error *err)
{
    *out = NULL;
    loader L;
    memset(&L, 0, sizeof L);
    L.err = err;
    tr_config *c = calloc(1, sizeof *c);
    if (!c)
        return nomem(err);
    L.c = c;
    set_defaults(c);
    tr_status st;
    size_t text_len = 0;
    yaml_parser_t parser;
    yaml_document_t doc;
    int have_parser = 0, have_doc = 0;

    if (!(c->path = strdup(path))) {
        st = nomem(err);
        goto fail;
    }
    if ((st = read_file(path, &c->text, &text_len, err)))
        goto fail;

    if (!yaml_parser_initialize(&parser)) {
        st = nomem(err);
        goto fail;
    }
    have_parser = 1;
    yaml_parser_set_input_string(&parser, (const unsigned char *)c->text,
                                 text_len);
    if (!yaml_parser_load(&parser, &doc)) {
        st = yaml_error(err, path, 0, &parser, c->text, text_len);
        goto fail;
    }
    have_doc = 1;
    if ((st = load_document(&L, &doc)))
        goto fail;
    if (yaml_document_get_root_node(&doc)) {
        /* one document only */
        yaml_document_t next;
        if (!yaml_parser_load(&parser, &next)) {
            st = yaml_error(err, path, 0, &parser, c->text, text_len);
            goto fail;
        }
        yaml_node_t *r = yaml_document_get_root_node(&next);
        if (r) {
            char where[1200];
            file_where(where, sizeof where, path, next.start_mark);
            yaml_document_delete(&next);
            st = tr_error_set(err, TR_ERR_CONFIG,
                              "%s: expected one YAML document, found a second one",
                              where);
            goto fail;
        }
        yaml_document_delete(&next);
    }
    yaml_document_delete(&doc);
    have_doc = 0;
    yaml_parser_delete(&parser);
    have_parser = 0;

    for (int i = 0; i < n_overrides; i++)
        if ((st = apply_override(&L, overrides[i])))
            goto fail;
    if ((st = finish(&L, n_overrides, overrides)))
        goto fail;
    *out = c;
    return TR_OK;

fail:
    if (have_doc)
        yaml_document_delete(&doc);
    if (have_parser)
        yaml_parser_delete(&parser);
    tr_config_free(c);
    return st;
}

void tr_config_free(tr_config *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->text);
    free(c->run_name);
    free(c->run_out);
    free(c->plugin);
    free(c->plugin_where);
    free(c->scorer_plugins);
    free(c->scorer_plugins_where);
    for (int i = 0; i < c->n_model_opts; i++) {
        free(c->model_opts[i].key);
        free(c->model_opts[i].value);
        free(c->model_opts[i].where);
    }
    free(c->model_opts);
    free(c->pairs);
    free(c->vocabs);
    free(c->pairs_where);
    free(c->vocabs_where);
    free(c->source);
    free(c->target);
    free(c->source_where);
    free(c->target_where);
    free(c->files);
    free(c->files_where);
    free(c->data_dir);
    free(c->data_dir_where);
    free(c->file);
    free(c->file_where);
    free(c);
}

/* ---------------------------------------------------------- plugin options */

static int is_cmdline(const char *where)
{
    return where && !strncmp(where, "command line:", 13);
}

/* An INT or FLOAT option's range (ABI 1.6): `range` is an interval,
 * "[1,)", "[0, 1)", "(0, 1]"; an empty bound is unbounded. 0 when x lies
 * in it, -1 (why: "must be in ...") when not, -2 for a bad declaration. */
/* One bound of an interval at *p, up to the ',' or the bracket after it
 * (spaces around it skipped); none leaves *v (unbounded). -1: not a number. */
static int interval_bound(const char **p, double *v)
{
    while (**p == ' ')
        (*p)++;
    if (**p && **p != ',' && **p != ']' && **p != ')') {
        char *end;
        *v = strtod(*p, &end);
        if (end == *p)
            return -1;
        *p = end;
    }
    while (**p == ' ')
        (*p)++;
    return 0;
}

static int check_interval(const char *range, double x, const char *text,
                          char *why, size_t n)
{
    char sh[SHOW_MAX + 8];
    double lo = -HUGE_VAL, hi = HUGE_VAL;
    const char *p = range;
    while (*p == ' ')
        p++;
    const int lo_open = *p == '(';
    if ((*p != '(' && *p != '[') || (p++, interval_bound(&p, &lo)) ||
        *p++ != ',' || interval_bound(&p, &hi))
        goto bad;
    const int hi_open = *p == ')';
    if ((*p != ']' && *p != ')') || p[1] || lo > hi)
        goto bad;
    if ((lo_open ? x > lo : x >= lo) && (hi_open ? x < hi : x <= hi))
        return 0;
    snprintf(why, n, "must be in %s, got %s", range, text); /* a number: it parsed */
    return -1;
bad:
    snprintf(why, n, "bad range %s (expected an interval such as [0, 1) or [1,))",
             show(range, sh, sizeof sh));
    return -2;
}

/* Parses `text` as spec's type into v; -1 with why on error. */
static int parse_option(const tr_option_spec *sp, const char *text,
                        tr_option_value *v, char *why, size_t n)
{
    switch (sp->type) {
    case TR_OPT_INT:
        if (parse_long(text, &v->i, why, n))
            return -1;
        return sp->choices && *sp->choices
                   ? check_interval(sp->choices, (double)v->i, text, why, n)
                   : 0;
    case TR_OPT_FLOAT:
        if (parse_double(text, &v->f, why, n))
            return -1;
        return sp->choices && *sp->choices
                   ? check_interval(sp->choices, v->f, text, why, n)
                   : 0;
    case TR_OPT_BOOL: {
        int b;
        if (parse_bool(text, &b, why, n))
            return -1;
        v->i = b;
        return 0;
    }
    case TR_OPT_STRING:
        v->s = text;
        return 0;
    case TR_OPT_ENUM: {
        int idx;
        if (!sp->choices || !*sp->choices) {
            snprintf(why, n, "enum option without choices");
            return -2;
        }
        if (parse_enum(text, sp->choices, &idx, why, n))
            return -1;
        v->i = idx;
        v->s = text;
        return 0;
    }
    }
    snprintf(why, n, "unknown option type %d", (int)sp->type);
    return -2;
}

tr_status tr_config_bind_options(const tr_config *cfg,
                                 const tr_option_spec *specs, int n_specs,
                                 tr_option_value *values, tr_error *err)
{
    const char *plugin = cfg->plugin ? cfg->plugin : "?";
    const char *pwhere = cfg->plugin_where ? cfg->plugin_where : cfg->path;
    char sh[SHOW_MAX + 8];

    /* every model key must be one of the plugin's options */
    for (int k = 0; k < cfg->n_model_opts; k++) {
        const tr_config_kv *kv = &cfg->model_opts[k];
        int found = 0;
        for (int i = 0; i < n_specs && !found; i++)
            found = specs[i].name && !strcmp(specs[i].name, kv->key);
        if (found)
            continue;
        const char **names = malloc(((size_t)n_specs + 2) * sizeof *names);
        if (!names)
            return nomem(err);
        int m = 0;
        for (int i = 0; i < n_specs; i++)
            if (specs[i].name)
                names[m++] = specs[i].name;
        char hint[600], label[200];
        if (tr_did_you_mean(kv->key, names, m)) {
            suggest(hint, sizeof hint, kv->key, names, m, NULL);
        } else {
            /* plugin and scorer_plugins are valid model keys too */
            memmove(names + 2, names, (size_t)m * sizeof *names);
            names[0] = "plugin";
            names[1] = "scorer_plugins";
            snprintf(label, sizeof label, "valid keys for plugin '%s'", plugin);
            suggest(hint, sizeof hint, kv->key, names, m + 2, label);
        }
        free(names);
        return tr_error_set(err, TR_ERR_CONFIG, "%s: unknown key %s in 'model'%s",
                            kv->where, show(kv->key, sh, sizeof sh), hint);
    }

    for (int i = 0; i < n_specs; i++) {
        const tr_option_spec *sp = &specs[i];
        tr_option_value *v = &values[i];
        memset(v, 0, sizeof *v);
        if (!sp->name)
            return tr_error_set(err, TR_ERR_PLUGIN,
                                "plugin '%s': option %d has no name", plugin, i);
        const tr_config_kv *kv = NULL;
        for (int k = 0; k < cfg->n_model_opts; k++)
            if (!strcmp(cfg->model_opts[k].key, sp->name))
                kv = &cfg->model_opts[k];
        const char *text = kv ? kv->value : sp->default_value;
        if (!text)
            return tr_error_set(err, TR_ERR_CONFIG,
                                "%s: missing required key 'model.%s' (required by plugin '%s')",
                                pwhere, sp->name, plugin);
        char why[512];
        int r = parse_option(sp, text, v, why, sizeof why);
        if (r == 0)
            continue;
        if (r == -2 || !kv)
            return tr_error_set(err, TR_ERR_PLUGIN,
                                "plugin '%s': option '%s': bad declaration or default: %s",
                                plugin, sp->name, why);
        if (is_cmdline(kv->where))
            return tr_error_set(err, TR_ERR_CONFIG, "%s: %s", kv->where, why);
        return tr_error_set(err, TR_ERR_CONFIG, "%s: model.%s: %s", kv->where,
                            sp->name, why);
    }
    return TR_OK;
}

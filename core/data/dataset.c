/* core/data/dataset.c - load character pairs and their vocabularies. */
#define _POSIX_C_SOURCE 200809L
#include "data/dataset.h"
#include "base/rng.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Parses a whole JSON/YAML file into doc; one-line error on failure. */
static tr_status load_doc(yaml_document_t *doc, const char *path,
                          const char *where, tr_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return tr_error_set(err, TR_ERR_DATA, "%s: cannot open dataset file '%s': %s (run data/prepare.sh?)",
                            where, path, strerror(errno));
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, f);
    int ok = yaml_parser_load(&parser, doc);
    tr_status s = TR_OK;
    if (!ok)
        s = tr_error_set(err, TR_ERR_DATA, "%s:%zu:%zu: not valid JSON: %s", path,
                         parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                         parser.problem ? parser.problem : "parse error");
    else if (!yaml_document_get_root_node(doc)) {
        yaml_document_delete(doc);
        s = tr_error_set(err, TR_ERR_DATA, "%s: empty file", path);
    }
    yaml_parser_delete(&parser);
    fclose(f);
    return s;
}

static int utf8_len(unsigned char c)
{
    return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
}

static int vocab_lookup(const tr_vocab *v, const char *s, int len)
{
    if (len == 1 && (unsigned char)s[0] < 128)
        return v->ascii[(unsigned char)s[0]];
    for (int i = 0; i < v->n; i++)
        if ((int)strlen(v->tokens[i]) == len && memcmp(v->tokens[i], s, (size_t)len) == 0)
            return i;
    return -1;
}

static tr_status vocab_from_node(tr_vocab *v, yaml_document_t *doc,
                                 yaml_node_t *node, const char *path,
                                 const char *which, tr_error *err)
{
    if (node->type != YAML_MAPPING_NODE)
        return tr_error_set(err, TR_ERR_DATA, "%s:%zu:%zu: the %s vocabulary must be an object {character: id}",
                            path, node->start_mark.line + 1, node->start_mark.column + 1, which);
    int n = (int)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
    v->tokens = calloc((size_t)n, sizeof *v->tokens);
    v->n = n;
    v->unk = v->pad = v->bos = v->eos = -1;
    memset(v->ascii, 0xff, sizeof v->ascii);
    if (!v->tokens)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory reading %s", path);
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *val = yaml_document_get_node(doc, p->value);
        char *end = NULL;
        long id = -1;
        if (val->type == YAML_SCALAR_NODE)
            id = strtol((const char *)val->data.scalar.value, &end, 10);
        if (k->type != YAML_SCALAR_NODE || val->type != YAML_SCALAR_NODE || !end || *end || id < 0 || id >= n || v->tokens[id])
            return tr_error_set(err, TR_ERR_DATA, "%s:%zu:%zu: %s vocabulary: ids must be distinct integers 0..%d",
                                path, val->start_mark.line + 1, val->start_mark.column + 1, which, n - 1);
        const char *tok = (const char *)k->data.scalar.value;
        v->tokens[id] = strdup(tok);
        if (!v->tokens[id])
            return tr_error_set(err, TR_ERR_NOMEM, "out of memory reading %s", path);
        if (strcmp(tok, "<unk>") == 0) v->unk = (int)id;
        else if (strcmp(tok, "<pad>") == 0) v->pad = (int)id;
        else if (strlen(tok) == 1 && (unsigned char)tok[0] < 128) v->ascii[(unsigned char)tok[0]] = (int16_t)id;
    }
    return TR_OK;
}

static tr_status char_vocabs_load(tr_vocabs *v, const tr_config *cfg, tr_error *err)
{
    memset(v, 0, sizeof *v);
    yaml_document_t doc;
    tr_status s = load_doc(&doc, cfg->vocabs, cfg->vocabs_where, err);
    if (s)
        return s;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root->type != YAML_SEQUENCE_NODE || root->data.sequence.items.top - root->data.sequence.items.start != 2) {
        s = tr_error_set(err, TR_ERR_DATA, "%s:1:1: expected a list of two vocabularies [source, target]", cfg->vocabs);
    } else {
        yaml_node_item_t *it = root->data.sequence.items.start;
        s = vocab_from_node(&v->src, &doc, yaml_document_get_node(&doc, it[0]), cfg->vocabs, "source", err);
        if (!s)
            s = vocab_from_node(&v->tgt, &doc, yaml_document_get_node(&doc, it[1]), cfg->vocabs, "target", err);
        if (!s && v->src.pad < 0)
            s = tr_error_set(err, TR_ERR_DATA, "%s: the source vocabulary has no '<pad>' token", cfg->vocabs);
    }
    yaml_document_delete(&doc);
    if (s)
        tr_vocabs_free(v);
    return s;
}

static void vocab_free(tr_vocab *v)
{
    for (int i = 0; i < v->n; i++)
        free(v->tokens[i]);
    free(v->tokens);
    free(v->slots);
    memset(v, 0, sizeof *v);
}

void tr_vocabs_free(tr_vocabs *v)
{
    vocab_free(&v->src);
    vocab_free(&v->tgt);
}

static int encode_words(int32_t *out, const char *text, const tr_vocab *v, int len, int lowercase, int eos);

int tr_encode_source(int32_t *out, const char *text, const tr_vocabs *v,
                     int src_len, int lowercase)
{
    const tr_vocab *sv = &v->src;
    if (sv->words)
        return encode_words(out, text, sv, src_len, lowercase, -1);
    int t = 0, chars = 0;
    for (const char *p = text; *p; chars++) {
        int len = utf8_len((unsigned char)*p);
        if (t < src_len) { /* past it only counted, to report the cut */
            char c[4];
            for (int i = 0; i < len; i++)
                c[i] = p[i] ? p[i] : ' ';
            if (len == 1 && lowercase)
                c[0] = (char)tolower((unsigned char)c[0]);
            int id = vocab_lookup(sv, c, len);
            out[t++] = id >= 0 ? id : (sv->unk >= 0 ? sv->unk : sv->pad);
        }
        for (int i = 0; i < len && *p; i++)
            p++;
    }
    for (; t < src_len; t++)
        out[t] = sv->pad;
    return chars;
}

void tr_decode_target(char *buf, size_t len, const int32_t *ids, int n,
                      const tr_vocabs *v)
{
    size_t o = 0;
    buf[0] = 0;
    if (v->tgt.words) {
        for (int i = 0; i < n && o + 1 < len && ids[i] != v->tgt.eos; i++) {
            if (ids[i] == v->tgt.pad || ids[i] == v->tgt.bos)
                continue;
            const char *tok = ids[i] >= 0 && ids[i] < v->tgt.n ? v->tgt.tokens[ids[i]] : "?";
            o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? " " : "", tok);
        }
        return;
    }
    for (int i = 0; i < n && o + 1 < len; i++) {
        const char *tok = ids[i] >= 0 && ids[i] < v->tgt.n ? v->tgt.tokens[ids[i]] : "?";
        if (v->tgt.pad >= 0 && ids[i] == v->tgt.pad)
            continue;
        o += (size_t)snprintf(buf + o, len - o, "%s", tok);
    }
}

/* Encodes one target string; -1 with the offending character on failure. */
static int encode_target(int32_t *out, const char *text, const tr_vocabs *v,
                         int tgt_len, char *bad, size_t badlen)
{
    int t = 0;
    for (const char *p = text; *p;) {
        int len = utf8_len((unsigned char)*p);
        int id = vocab_lookup(&v->tgt, p, len);
        if (id < 0) {
            snprintf(bad, badlen, "character '%.*s' is not in the target vocabulary", len, p);
            return -1;
        }
        if (t == tgt_len) {
            snprintf(bad, badlen, "output '%s' is longer than data.tgt_len = %d", text, tgt_len);
            return -1;
        }
        out[t++] = id;
        p += len;
    }
    if (t < tgt_len) {
        if (v->tgt.pad < 0) {
            snprintf(bad, badlen, "output '%s' is shorter than data.tgt_len = %d and the target vocabulary has no '<pad>'", text, tgt_len);
            return -1;
        }
        for (; t < tgt_len; t++)
            out[t] = v->tgt.pad;
    }
    return 0;
}

/* data.train / data.test given as fractions become counts of the n samples
 * (train rounded down, test up, as scikit-learn's train_test_split does); the
 * 1e-9 keeps 0.2 * 3000 at 600 when the product lands a hair above it. */
static tr_status resolve_split(tr_config *cfg, long n, const char *where, const char *what, tr_error *err)
{
    if (cfg->train_frac > 0)
        cfg->train_size = (long)floor(cfg->train_frac * (double)n + 1e-9);
    if (cfg->test_frac > 0)
        cfg->test_size = (long)ceil(cfg->test_frac * (double)n - 1e-9);
    if (cfg->train_frac > 0 && cfg->train_size < 1)
        return tr_error_set(err, TR_ERR_CONFIG, "%s: data.train: %g of the %ld %s is no sample at all",
                            where, cfg->train_frac, n, what);
    if (cfg->train_size + cfg->test_size > n)
        return tr_error_set(err, TR_ERR_CONFIG, "%s: data.train (%ld) + data.test (%ld) exceed the %ld %s",
                            where, cfg->train_size, cfg->test_size, n, what);
    return TR_OK;
}

static tr_status char_pairs_load(tr_pairs *p, tr_config *cfg, const tr_vocabs *v,
                                 tr_error *err)
{
    memset(p, 0, sizeof *p);
    yaml_document_t doc;
    tr_status s = load_doc(&doc, cfg->pairs, cfg->pairs_where, err);
    if (s)
        return s;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (root->type != YAML_SEQUENCE_NODE) {
        yaml_document_delete(&doc);
        return tr_error_set(err, TR_ERR_DATA, "%s:1:1: expected a JSON list of [input, output] pairs", cfg->pairs);
    }
    int n = (int)(root->data.sequence.items.top - root->data.sequence.items.start);
    char what[1100];
    snprintf(what, sizeof what, "pairs in %s", cfg->pairs);
    if ((s = resolve_split(cfg, n, cfg->pairs_where, what, err))) {
        yaml_document_delete(&doc);
        return s;
    }
    p->n = n;
    p->src_len = (int)cfg->src_len;
    p->tgt_len = (int)cfg->tgt_len;
    p->src = malloc((size_t)n * p->src_len * sizeof *p->src);
    p->tgt = malloc((size_t)n * p->tgt_len * sizeof *p->tgt);
    p->index = malloc((size_t)(n > 0 ? n : 1) * sizeof *p->index);
    if (!p->src || !p->tgt || !p->index) {
        yaml_document_delete(&doc);
        tr_pairs_free(p);
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory loading %s", cfg->pairs);
    }
    for (int i = 0; i < n && !s; i++) {
        p->index[i] = i;
        yaml_node_t *item = yaml_document_get_node(&doc, root->data.sequence.items.start[i]);
        yaml_node_t *in = NULL, *out = NULL;
        if (item->type == YAML_SEQUENCE_NODE && item->data.sequence.items.top - item->data.sequence.items.start == 2) {
            in = yaml_document_get_node(&doc, item->data.sequence.items.start[0]);
            out = yaml_document_get_node(&doc, item->data.sequence.items.start[1]);
        }
        if (!in || !out || in->type != YAML_SCALAR_NODE || out->type != YAML_SCALAR_NODE) {
            s = tr_error_set(err, TR_ERR_DATA, "%s:%zu:%zu: item %d is not an [input, output] pair of strings",
                             cfg->pairs, item->start_mark.line + 1, item->start_mark.column + 1, i);
            break;
        }
        int len = tr_encode_source(p->src + (size_t)i * p->src_len, (const char *)in->data.scalar.value, v,
                                   p->src_len, cfg->lowercase);
        if (len > p->src_len && (i < cfg->train_size || i >= n - cfg->test_size)) /* a pair in use */
            p->src_cut++;
        char bad[256];
        if (encode_target(p->tgt + (size_t)i * p->tgt_len, (const char *)out->data.scalar.value, v, p->tgt_len, bad, sizeof bad))
            s = tr_error_set(err, TR_ERR_DATA, "%s:%zu:%zu: item %d: %s", cfg->pairs,
                             out->start_mark.line + 1, out->start_mark.column + 1, i, bad);
    }
    yaml_document_delete(&doc);
    if (s)
        tr_pairs_free(p);
    return s;
}

void tr_pairs_free(tr_pairs *p)
{
    free(p->src);
    free(p->tgt);
    free(p->pixels);
    free(p->index);
    for (long i = 0; p->text && i < p->n; i++)
        free(p->text[i]);
    free(p->text);
    for (int f = 0; f < p->nfiles; f++)
        free(p->files[f]);
    free(p->files);
    free(p->file_start);
    memset(p, 0, sizeof *p);
}

/* ---- word pairs */

static uint64_t hash_word(const char *w, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)w[i]) * 0x100000001b3ULL;
    return h;
}

int tr_word_lookup(const tr_vocab *v, const char *w, size_t len)
{
    for (uint64_t i = hash_word(w, len) & (uint64_t)(v->nslots - 1);; i = (i + 1) & (uint64_t)(v->nslots - 1)) {
        int id = v->slots[i];
        if (id < 0)
            return -1;
        if (strlen(v->tokens[id]) == len && memcmp(v->tokens[id], w, len) == 0)
            return id;
    }
}

static int is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
/* The `words` tokenizer's word bytes: letters, digits, '_' and every
 * non-ASCII byte (so UTF-8 letters stay inside words). */
static int is_word_byte(char c) { return isalnum((unsigned char)c) || c == '_' || (unsigned char)c >= 0x80; }

/* Next token of *p by `tokenizer` (at most 255 bytes, ASCII lower-cased on
 * request) into w; returns its length, 0 at the end. */
static size_t next_token(const char **p, char *w, int lowercase, int tokenizer)
{
    const char *s = *p, *e;
    if (tokenizer == TR_TOK_CHARS) {
        while (*s == '\r' || *s == '\n')
            s++;
        e = *s ? s + utf8_len((unsigned char)*s) : s;
        for (const char *q = s; q < e; q++) /* a cut UTF-8 tail ends the text */
            if (!*q) { e = q; break; }
    } else {
        while (is_blank(*s))
            s++;
        e = s;
        if (tokenizer == TR_TOK_SPACES)
            while (*e && !is_blank(*e))
                e++;
        else if (is_word_byte(*e)) /* a word, with inner apostrophes: don't, l'eau */
            for (;;) {
                while (is_word_byte(*e))
                    e++;
                if (e[0] != '\'' || !is_word_byte(e[1]))
                    break;
                e++;
            }
        else if (*e) /* punctuation: a token of its own */
            e++;
    }
    size_t n = 0;
    for (const char *q = s; q < e && n < 255; q++)
        w[n++] = lowercase ? (char)tolower((unsigned char)*q) : *q;
    *p = e;
    w[n] = 0;
    return n;
}

/* ids of the words of text (unknown -> <unk>), then eos (if >= 0),
 * truncated/padded to len; returns the number of words. */
static int encode_words(int32_t *out, const char *text, const tr_vocab *v, int len, int lowercase, int eos)
{
    char w[256];
    int t = 0, words = 0;
    size_t n;
    while ((n = next_token(&text, w, lowercase, v->tokenizer)) > 0) {
        words++;
        if (t < len) {
            int id = tr_word_lookup(v, w, n);
            out[t++] = id >= 0 ? id : v->unk;
        }
    }
    if (eos >= 0 && t < len)
        out[t++] = eos;
    for (; t < len; t++)
        out[t] = v->pad;
    return words;
}

typedef struct word_count {
    char *word;
    long count;
} word_count;

static int by_count(const void *a, const void *b)
{
    const word_count *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return strcmp(x->word, y->word);
}

/* A vocabulary: the special tokens, then the tokens of lines[idx[0..n)] by
 * frequency (ties in byte order), those seen at least min_count times, up
 * to max_size ids in all (0: no cap). A token spelt like a special one is
 * that special one. */
static tr_status build_vocab(tr_vocab *v, char **lines, const int32_t *idx, long n, const char *const *special,
                             int nspecial, int lowercase, int tokenizer, long min_count, long max_size, tr_error *err)
{
    memset(v, 0, sizeof *v);
    v->words = 1;
    v->tokenizer = tokenizer;
    v->unk = v->pad = v->bos = v->eos = -1;
    memset(v->ascii, 0xff, sizeof v->ascii);
    /* count words with a temporary table keyed like the final one */
    int cap = 256, used = 0;
    word_count *wc = calloc((size_t)cap, sizeof *wc);
    int nslots = 1024;
    int32_t *slots = malloc((size_t)nslots * sizeof *slots);
    if (!wc || !slots) {
        free(wc);
        free(slots);
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory building the vocabulary");
    }
    memset(slots, 0xff, (size_t)nslots * sizeof *slots);
    char w[256];
    for (long i = 0; i < n; i++) {
        const char *p = lines[idx[i]];
        size_t len;
        while ((len = next_token(&p, w, lowercase, tokenizer)) > 0) {
            int sp = 0;
            while (sp < nspecial && strcmp(special[sp], w) != 0)
                sp++;
            if (sp < nspecial)
                continue;
            uint64_t h = hash_word(w, len) & (uint64_t)(nslots - 1);
            while (slots[h] >= 0 && strcmp(wc[slots[h]].word, w) != 0)
                h = (h + 1) & (uint64_t)(nslots - 1);
            if (slots[h] >= 0) {
                wc[slots[h]].count++;
                continue;
            }
            if (used == cap || (used + 1) * 2 > nslots) { /* grow both, rehash */
                int ncap = 2 * cap, nns = 2 * nslots;
                word_count *nwc = realloc(wc, (size_t)ncap * sizeof *wc);
                int32_t *ns = malloc((size_t)nns * sizeof *ns);
                if (nwc)
                    wc = nwc;
                if (!nwc || !ns) {
                    free(ns);
                    for (int k = 0; k < used; k++) free(wc[k].word);
                    free(wc);
                    free(slots);
                    return tr_error_set(err, TR_ERR_NOMEM, "out of memory building the vocabulary");
                }
                memset(ns, 0xff, (size_t)nns * sizeof *ns);
                for (int k = 0; k < used; k++) {
                    uint64_t g = hash_word(wc[k].word, strlen(wc[k].word)) & (uint64_t)(nns - 1);
                    while (ns[g] >= 0)
                        g = (g + 1) & (uint64_t)(nns - 1);
                    ns[g] = k;
                }
                free(slots);
                slots = ns;
                cap = ncap;
                nslots = nns;
                h = hash_word(w, len) & (uint64_t)(nslots - 1);
                while (slots[h] >= 0)
                    h = (h + 1) & (uint64_t)(nslots - 1);
            }
            wc[used].word = strdup(w);
            wc[used].count = 1;
            slots[h] = used++;
        }
    }
    free(slots);
    qsort(wc, (size_t)used, sizeof *wc, by_count);
    int kept = used;
    while (kept > 0 && wc[kept - 1].count < min_count)
        kept--;
    if (max_size > 0 && nspecial + kept > max_size)
        kept = (int)max_size - nspecial;
    for (int i = kept; i < used; i++) { /* these become <unk> */
        free(wc[i].word);
        wc[i].word = NULL;
    }
    used = kept;
    v->n = nspecial + used;
    v->tokens = calloc((size_t)v->n, sizeof *v->tokens);
    v->nslots = 1;
    while (v->nslots < 2 * v->n + 2)
        v->nslots *= 2;
    v->slots = malloc((size_t)v->nslots * sizeof *v->slots);
    tr_status st = TR_OK;
    if (!v->tokens || !v->slots)
        st = tr_error_set(err, TR_ERR_NOMEM, "out of memory building the vocabulary");
    for (int i = 0; !st && i < v->n; i++) {
        v->tokens[i] = i < nspecial ? strdup(special[i]) : wc[i - nspecial].word;
        if (i >= nspecial)
            wc[i - nspecial].word = NULL;
    }
    for (int i = 0; i < used; i++)
        free(wc[i].word);
    free(wc);
    if (st)
        return st;
    memset(v->slots, 0xff, (size_t)v->nslots * sizeof *v->slots);
    for (int i = 0; i < v->n; i++) {
        if (!v->tokens[i])
            return tr_error_set(err, TR_ERR_NOMEM, "out of memory building the vocabulary");
        size_t len = strlen(v->tokens[i]);
        uint64_t h = hash_word(v->tokens[i], len) & (uint64_t)(v->nslots - 1);
        while (v->slots[h] >= 0)
            h = (h + 1) & (uint64_t)(v->nslots - 1);
        v->slots[h] = i;
        if (strcmp(v->tokens[i], "<pad>") == 0) v->pad = i;
        else if (strcmp(v->tokens[i], "<unk>") == 0) v->unk = i;
        else if (strcmp(v->tokens[i], "<s>") == 0) v->bos = i;
        else if (strcmp(v->tokens[i], "</s>") == 0) v->eos = i;
    }
    return TR_OK;
}

/* All lines of a text file; *n receives the count. One-line errors. */
static char **read_lines(const char *path, const char *where, long *n, char **buf, tr_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        tr_error_set(err, TR_ERR_DATA, "%s: cannot open dataset file '%s': %s (run data/prepare.sh?)", where, path,
                     strerror(errno));
        return NULL;
    }
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    *buf = size >= 0 && fseek(f, 0, SEEK_SET) == 0 ? malloc((size_t)size + 1) : NULL;
    if (!*buf || fread(*buf, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        tr_error_set(err, TR_ERR_IO, "%s: cannot read", path);
        return NULL;
    }
    fclose(f);
    (*buf)[size] = 0;
    long count = 0;
    for (long i = 0; i < size; i++) {
        /* a NUL would end the line early for every string function after */
        if ((*buf)[i] == 0) {
            tr_error_set(err, TR_ERR_DATA, "%s:%ld: a NUL byte: not a text file", path, count + 1);
            return NULL;
        }
        count += (*buf)[i] == '\n';
    }
    if (size > 0 && (*buf)[size - 1] != '\n')
        count++;
    char **lines = malloc((size_t)(count > 0 ? count : 1) * sizeof *lines);
    if (!lines) {
        tr_error_set(err, TR_ERR_NOMEM, "out of memory reading %s", path);
        return NULL;
    }
    long k = 0;
    char *p = *buf;
    while (k < count) {
        lines[k++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = 0;
        p = nl + 1;
    }
    *n = count;
    return lines;
}

static tr_status word_pairs_load(tr_vocabs *v, tr_pairs *p, tr_config *cfg, tr_error *err)
{
    memset(v, 0, sizeof *v);
    memset(p, 0, sizeof *p);
    long ns = 0, nt = 0;
    char *bs = NULL, *bt = NULL;
    char **src = read_lines(cfg->source, cfg->source_where, &ns, &bs, err);
    char **tgt = src ? read_lines(cfg->target, cfg->target_where, &nt, &bt, err) : NULL;
    int32_t *perm = NULL;
    tr_status st = src && tgt ? TR_OK : err->status;
    if (!st && ns != nt)
        st = tr_error_set(err, TR_ERR_DATA, "%s: %ld lines in %s but %ld in %s: the files must be aligned line by line",
                          cfg->target_where, ns, cfg->source, nt, cfg->target);
    char what[1100];
    snprintf(what, sizeof what, "pairs in %s", cfg->source);
    if (!st)
        st = resolve_split(cfg, ns, cfg->source_where, what, err);
    if (!st && !(perm = malloc((size_t)ns * sizeof *perm)))
        st = tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    if (!st) {
        /* the split: a seeded shuffle, training first, held-out last */
        tr_permutation(perm, (int32_t)ns, tr_key_u64((uint64_t)cfg->split_seed, 0x53504c4954ULL /* "SPLIT" */, 0));
        static const char *const sspec[] = {"<pad>", "<unk>"};
        static const char *const tspec[] = {"<pad>", "<s>", "</s>", "<unk>"};
        st = build_vocab(&v->src, src, perm, cfg->train_size, sspec, 2, cfg->lowercase, TR_TOK_SPACES, 1, 0, err);
        if (!st)
            st = build_vocab(&v->tgt, tgt, perm, cfg->train_size, tspec, 4, cfg->lowercase, TR_TOK_SPACES, 1, 0, err);
    }
    if (!st) {
        /* keep the training split and the held-out split, in that order */
        long keep = cfg->train_size + cfg->test_size;
        p->n = (int)keep;
        p->src_len = (int)cfg->src_len;
        p->tgt_len = (int)cfg->tgt_len;
        p->src = malloc((size_t)keep * p->src_len * sizeof *p->src);
        p->tgt = malloc((size_t)keep * p->tgt_len * sizeof *p->tgt);
        p->index = malloc((size_t)keep * sizeof *p->index);
        if (!p->src || !p->tgt || !p->index)
            st = tr_error_set(err, TR_ERR_NOMEM, "out of memory encoding %s", cfg->source);
        for (long i = 0; !st && i < keep; i++) {
            long j = i < cfg->train_size ? perm[i] : perm[ns - keep + i];
            p->index[i] = j;
            p->src_cut += encode_words(p->src + (size_t)i * p->src_len, src[j], &v->src, p->src_len, cfg->lowercase,
                                       -1) > p->src_len;
            /* a target of tgt_len words has lost its </s>: cut too */
            p->tgt_cut += encode_words(p->tgt + (size_t)i * p->tgt_len, tgt[j], &v->tgt, p->tgt_len, cfg->lowercase,
                                       v->tgt.eos) >= p->tgt_len;
        }
    }
    free(perm);
    free(src);
    free(tgt);
    free(bs);
    free(bt);
    if (st) {
        tr_vocabs_free(v);
        tr_pairs_free(p);
    }
    return st;
}

/* ---- labelled text */

static int by_string(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A vocabulary of the given distinct strings, in that order (the classes). */
tr_status tr_vocab_from_list(tr_vocab *v, char **names, int n, tr_error *err)
{
    memset(v, 0, sizeof *v);
    v->words = 1;
    v->unk = v->pad = v->bos = v->eos = -1;
    memset(v->ascii, 0xff, sizeof v->ascii);
    v->n = n;
    v->nslots = 1;
    while (v->nslots < 2 * n + 2)
        v->nslots *= 2;
    v->tokens = calloc((size_t)(n > 0 ? n : 1), sizeof *v->tokens);
    v->slots = malloc((size_t)v->nslots * sizeof *v->slots);
    if (!v->tokens || !v->slots)
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    memset(v->slots, 0xff, (size_t)v->nslots * sizeof *v->slots);
    for (int i = 0; i < n; i++) {
        if (!(v->tokens[i] = strdup(names[i])))
            return tr_error_set(err, TR_ERR_NOMEM, "out of memory");
        uint64_t h = hash_word(names[i], strlen(names[i])) & (uint64_t)(v->nslots - 1);
        while (v->slots[h] >= 0)
            h = (h + 1) & (uint64_t)(v->nslots - 1);
        v->slots[h] = i;
    }
    return TR_OK;
}

static char *trim(char *a)
{
    while (is_blank(*a))
        a++;
    size_t n = strlen(a);
    while (n > 0 && is_blank(a[n - 1]))
        a[--n] = 0;
    return a;
}

void tr_pairs_where(char *buf, size_t len, const tr_pairs *p, int64_t index)
{
    int f = p->nfiles - 1;
    while (f > 0 && p->file_start[f] > index)
        f--;
    if (p->nfiles > 0)
        snprintf(buf, len, "%s:%lld", p->files[f], (long long)(index - p->file_start[f] + 1));
    else
        snprintf(buf, len, "%lld", (long long)index);
}

/* data.kind text_labels: every non-blank line of data.files is a sample;
 * the text before its last TAB is the input, the rest its label. */
static tr_status text_labels_load(tr_vocabs *v, tr_pairs *p, tr_config *cfg, tr_error *err)
{
    memset(v, 0, sizeof *v);
    memset(p, 0, sizeof *p);
    tr_status st = TR_OK;
    int nf = 1;
    for (const char *c = cfg->files; *c; c++)
        nf += *c == ',';
    char **bufs = calloc((size_t)nf, sizeof *bufs), **text = NULL, **label = NULL, **classes = NULL;
    int64_t *line = NULL;
    int32_t *perm = NULL;
    long n = 0, lines = 0, cap = 0;
    int nclasses = 0;
    p->files = calloc((size_t)nf, sizeof *p->files);
    p->file_start = calloc((size_t)nf + 1, sizeof *p->file_start);
    if (!bufs || !p->files || !p->file_start)
        st = tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    /* read every file; keep pointers to each sample's text and label */
    for (const char *c = cfg->files; !st && p->nfiles < nf;) {
        const char *e = strchr(c, ',');
        size_t len = e ? (size_t)(e - c) : strlen(c);
        const int f = p->nfiles++;
        char *path = p->files[f] = strndup(c, len);
        c = e ? e + 1 : c + len;
        if (!path || !*trim(path)) {
            st = path ? tr_error_set(err, TR_ERR_CONFIG, "%s: data.files: an empty file name in '%s'", cfg->files_where,
                                     cfg->files)
                      : tr_error_set(err, TR_ERR_NOMEM, "out of memory");
            break;
        }
        memmove(path, trim(path), strlen(trim(path)) + 1);
        p->file_start[f] = lines;
        long k = 0;
        char **ls = read_lines(path, cfg->files_where, &k, &bufs[f], err);
        if (!ls) {
            st = err->status;
            break;
        }
        if (n + k > cap) {
            cap = 2 * (n + k);
            char **nt = realloc(text, (size_t)cap * sizeof *text), **nl = nt ? realloc(label, (size_t)cap * sizeof *label) : NULL;
            int64_t *ni = nl ? realloc(line, (size_t)cap * sizeof *line) : NULL;
            text = nt ? nt : text;
            label = nl ? nl : label;
            line = ni ? ni : line;
            if (!ni) {
                free(ls);
                st = tr_error_set(err, TR_ERR_NOMEM, "out of memory reading %s", path);
                break;
            }
        }
        for (long i = 0; i < k && !st; i++) {
            char *tab = strrchr(ls[i], '\t');
            if (!tab && !*trim(ls[i]))
                continue; /* a blank line */
            if (!tab || !*trim(tab + 1)) {
                st = tr_error_set(err, TR_ERR_DATA, "%s:%ld: %s; each line is text<TAB>label", path, i + 1,
                                  tab ? "no label after the last TAB" : "no TAB");
                break;
            }
            *tab = 0;
            text[n] = ls[i];
            label[n] = trim(tab + 1);
            line[n++] = lines + i;
        }
        free(ls);
        lines += k;
    }
    if (!st)
        p->file_start[p->nfiles] = lines;
    if (!st)
        st = resolve_split(cfg, n, cfg->files_where, "labelled lines", err);
    /* the classes: the distinct labels, in byte order */
    if (!st && !(classes = malloc((size_t)n * sizeof *classes)))
        st = tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    if (!st) {
        memcpy(classes, label, (size_t)n * sizeof *classes);
        qsort(classes, (size_t)n, sizeof *classes, by_string);
        for (long i = 0; i < n; i++)
            if (nclasses == 0 || strcmp(classes[nclasses - 1], classes[i]) != 0)
                classes[nclasses++] = classes[i];
        if (nclasses < 2)
            st = tr_error_set(err, TR_ERR_DATA, "%s: every line has the label '%s': a classifier needs two classes",
                              cfg->files_where, nclasses ? classes[0] : "");
    }
    if (!st)
        st = tr_vocab_from_list(&v->tgt, classes, nclasses, err);
    if (!st && !(perm = malloc((size_t)n * sizeof *perm)))
        st = tr_error_set(err, TR_ERR_NOMEM, "out of memory");
    if (!st) {
        /* the split, as word_pairs': a seeded shuffle, training first, held-out last */
        tr_permutation(perm, (int32_t)n, tr_key_u64((uint64_t)cfg->split_seed, 0x53504c4954ULL /* "SPLIT" */, 0));
        static const char *const sspec[] = {"<pad>", "<unk>"};
        st = build_vocab(&v->src, text, perm, cfg->train_size, sspec, 2, cfg->lowercase, (int)cfg->tokenizer,
                         cfg->min_count, cfg->max_size, err);
    }
    if (!st) {
        long keep = cfg->train_size + cfg->test_size;
        p->n = (int)keep;
        p->src_len = (int)cfg->src_len;
        p->tgt_len = 1;
        p->src = malloc((size_t)keep * p->src_len * sizeof *p->src);
        p->tgt = malloc((size_t)keep * sizeof *p->tgt);
        p->index = malloc((size_t)keep * sizeof *p->index);
        p->text = calloc((size_t)(keep > 0 ? keep : 1), sizeof *p->text);
        if (!p->src || !p->tgt || !p->index || !p->text)
            st = tr_error_set(err, TR_ERR_NOMEM, "out of memory encoding %s", cfg->files);
        for (long i = 0; !st && i < keep; i++) {
            long j = i < cfg->train_size ? perm[i] : perm[n - keep + i];
            p->index[i] = line[j];
            if (!(p->text[i] = strdup(text[j])))
                st = tr_error_set(err, TR_ERR_NOMEM, "out of memory encoding %s", cfg->files);
            p->src_cut += encode_words(p->src + (size_t)i * p->src_len, text[j], &v->src, p->src_len, cfg->lowercase,
                                       -1) > p->src_len;
            p->tgt[i] = tr_word_lookup(&v->tgt, label[j], strlen(label[j]));
        }
    }
    for (int f = 0; f < nf && bufs; f++)
        free(bufs[f]);
    free(bufs);
    free(text);
    free(label);
    free(line);
    free(classes);
    free(perm);
    if (st) {
        tr_vocabs_free(v);
        tr_pairs_free(p);
    }
    return st;
}

tr_status tr_text_data_load(tr_vocabs *v, tr_pairs *p, tr_config *cfg, int with_pairs, tr_error *err)
{
    memset(p, 0, sizeof *p);
    if (cfg->data_kind == TR_DATA_TEXT_LABELS)
        return text_labels_load(v, p, cfg, err);
    if (cfg->data_kind == TR_DATA_WORD_PAIRS)
        return word_pairs_load(v, p, cfg, err);
    tr_status st = char_vocabs_load(v, cfg, err);
    if (!st && with_pairs && (st = char_pairs_load(p, cfg, v, err)))
        tr_vocabs_free(v);
    return st;
}

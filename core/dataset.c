/* core/dataset.c - load character pairs and their vocabularies. */
#define _POSIX_C_SOURCE 200809L
#include "dataset.h"

#include <ctype.h>
#include <errno.h>
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
    v->unk = v->pad = -1;
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

tr_status tr_vocabs_load(tr_vocabs *v, const tr_config *cfg, tr_error *err)
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
    memset(v, 0, sizeof *v);
}

void tr_vocabs_free(tr_vocabs *v)
{
    vocab_free(&v->src);
    vocab_free(&v->tgt);
}

void tr_encode_source(int32_t *out, const char *text, const tr_vocabs *v,
                      int src_len, int lowercase)
{
    const tr_vocab *sv = &v->src;
    int t = 0;
    for (const char *p = text; *p && t < src_len;) {
        int len = utf8_len((unsigned char)*p);
        char c[4];
        for (int i = 0; i < len; i++)
            c[i] = p[i] ? p[i] : ' ';
        if (len == 1 && lowercase)
            c[0] = (char)tolower((unsigned char)c[0]);
        int id = vocab_lookup(sv, c, len);
        out[t++] = id >= 0 ? id : (sv->unk >= 0 ? sv->unk : sv->pad);
        for (int i = 0; i < len && *p; i++)
            p++;
    }
    for (; t < src_len; t++)
        out[t] = sv->pad;
}

void tr_decode_target(char *buf, size_t len, const int32_t *ids, int n,
                      const tr_vocabs *v)
{
    size_t o = 0;
    buf[0] = 0;
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

tr_status tr_pairs_load(tr_pairs *p, const tr_config *cfg, const tr_vocabs *v,
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
    p->n = n;
    p->src_len = (int)cfg->src_len;
    p->tgt_len = (int)cfg->tgt_len;
    p->src = malloc((size_t)n * p->src_len * sizeof *p->src);
    p->tgt = malloc((size_t)n * p->tgt_len * sizeof *p->tgt);
    if (!p->src || !p->tgt) {
        yaml_document_delete(&doc);
        tr_pairs_free(p);
        return tr_error_set(err, TR_ERR_NOMEM, "out of memory loading %s", cfg->pairs);
    }
    for (int i = 0; i < n && !s; i++) {
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
        tr_encode_source(p->src + (size_t)i * p->src_len, (const char *)in->data.scalar.value, v, p->src_len, cfg->lowercase);
        char bad[256];
        if (encode_target(p->tgt + (size_t)i * p->tgt_len, (const char *)out->data.scalar.value, v, p->tgt_len, bad, sizeof bad))
            s = tr_error_set(err, TR_ERR_DATA, "%s:%zu:%zu: item %d: %s", cfg->pairs,
                             out->start_mark.line + 1, out->start_mark.column + 1, i, bad);
    }
    yaml_document_delete(&doc);
    if (!s && cfg->train_size + cfg->test_size > n)
        s = tr_error_set(err, TR_ERR_CONFIG, "%s: data.train (%ld) + data.test (%ld) exceed the %d pairs in %s",
                         cfg->pairs_where, cfg->train_size, cfg->test_size, n, cfg->pairs);
    if (s)
        tr_pairs_free(p);
    return s;
}

void tr_pairs_free(tr_pairs *p)
{
    free(p->src);
    free(p->tgt);
    memset(p, 0, sizeof *p);
}

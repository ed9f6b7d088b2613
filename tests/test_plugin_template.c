/* tests/test_plugin_template.c - the template plugin (examples/plugin_template)
 * and scorers that come from plugins: the template's gradients with its own
 * scorer, nmt_gru using that scorer from another library
 * (model.scorer_plugins), and the registry's lifetime and refusals. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/session.h"
#include "tr_test.h"
#include "tr_model_check.h"

#define TEMPLATE_SO TR_TEST_PLUGIN_DIR "/luong_attn.so"

static tr_status open_with(tr_session **s, const char *config, char **extra, int n_extra, tr_error *err)
{
    char path[1024], pairs[1024], vocabs[1024], src[1024], tgt[1024], *ov[32];
    int n = 0;
    snprintf(path, sizeof path, "%s/%s", TR_SOURCE_DIR, config);
    snprintf(pairs, sizeof pairs, "data.pairs=%s/data/time/time_dataset.json", TR_SOURCE_DIR);
    snprintf(vocabs, sizeof vocabs, "data.vocabs=%s/data/time/time_vocabs.json", TR_SOURCE_DIR);
    snprintf(src, sizeof src, "data.source=%s/data/nmt/en.txt", TR_SOURCE_DIR);
    snprintf(tgt, sizeof tgt, "data.target=%s/data/nmt/fr.txt", TR_SOURCE_DIR);
    int nmt = strstr(config, "nmt") != NULL;
    ov[n++] = nmt ? src : pairs;
    ov[n++] = nmt ? tgt : vocabs;
    ov[n++] = "data.train=300";
    ov[n++] = "data.test=20";
    ov[n++] = "train.micro_batch=4";
    ov[n++] = "run.out=/tmp/trainer-test-template";
    for (int i = 0; i < n_extra; i++)
        ov[n++] = extra[i];
    tr_config *cfg = NULL;
    *s = NULL;
    tr_status st = tr_config_load(&cfg, path, n, ov, err);
    if (!st)
        st = tr_session_open(s, cfg, 1, err);
    if (st)
        printf("\n  %s", err->msg);
    return st;
}

static void check_gradient(tr_session *s, const char *what)
{
    for (size_t i = 0; i < s->reg.total; i++) /* larger than init: peaked attention */
        s->params[i] *= 2.0f;
    tr_batch b = {.size = sizeof b, .n = 3, .src = s->pairs.src, .tgt = s->pairs.tgt};
    int checked = 0;
    double worst = 0;
    int bad = tr_model_gradcheck(s, &b, 8, &checked, &worst);
    printf("\n  %-22s %d entries, %d above 2e-2, worst %.2e", what, checked, bad, worst);
    CU_ASSERT(bad == 0);
}

static void template_gradient(const char *scorer)
{
    char att[64];
    snprintf(att, sizeof att, "model.attention=%s", scorer);
    char *extra[] = {"model.plugin=" TEMPLATE_SO, att, "model.hidden_units=6", "model.attentional_units=5",
                     "model.attention_units=4", "data.src_len=12"};
    tr_session *s;
    tr_error err = {0};
    CU_ASSERT_EQUAL_FATAL(open_with(&s, "examples/plugin_template/luong_attn.yaml", extra, 6, &err), TR_OK);
    CU_ASSERT_PTR_NOT_NULL(tr_scorer_find("cosine")); /* the plugin's own, registered at load */
    char what[64];
    snprintf(what, sizeof what, "luong_attn + %s", scorer);
    check_gradient(s, what);
    tr_session_close(s);
    CU_ASSERT_PTR_NULL(tr_scorer_find("cosine")); /* gone with the library */
}

static void template_cosine(void) { template_gradient("cosine"); }
static void template_general(void) { template_gradient("general"); }

/* nmt_gru names a scorer that lives in another library. */
static void nmt_gru_with_plugin_scorer(void)
{
    char *extra[] = {"model.scorer_plugins=" TEMPLATE_SO, "model.attention=cosine", "model.hidden_units=6",
                     "data.src_len=12", "data.tgt_len=14"};
    tr_session *s;
    tr_error err = {0};
    CU_ASSERT_EQUAL_FATAL(open_with(&s, "configs/nmt.yaml", extra, 5, &err), TR_OK);
    int found = 0;
    for (int t = 0; t < s->reg.n; t++)
        found |= strcmp(s->reg.tensors[t].name, "attention.scale") == 0;
    CU_ASSERT(found); /* the scorer's own parameter, in nmt_gru's registry */
    check_gradient(s, "nmt_gru + cosine");
    tr_session_close(s);
    CU_ASSERT_PTR_NULL(tr_scorer_find("cosine"));
}

/* Without the library, the scorer is unknown: the model's one-line error. */
static void scorer_needs_its_library(void)
{
    char *extra[] = {"model.attention=cosine"};
    tr_session *s;
    tr_error err = {0};
    CU_ASSERT_EQUAL(open_with(&s, "configs/nmt.yaml", extra, 1, &err), TR_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no scorer 'cosine'"));
}

/* A library opened twice registers once; its scorers stay until the last
 * handle closes. A scorer-only library works as model.scorer_plugins. */
static void registry_lifetime(void)
{
    char *a[] = {"model.plugin=" TEMPLATE_SO, "model.hidden_units=4", "model.attentional_units=4",
                 "model.scorer_plugins=" TR_TEST_PLUGIN_DIR "/uniform_scorer.so, " TEMPLATE_SO};
    char *b[] = {"model.attention=uniform", "model.hidden_units=4",
                 "model.scorer_plugins=" TR_TEST_PLUGIN_DIR "/uniform_scorer.so"};
    tr_session *s1, *s2;
    tr_error err = {0};
    CU_ASSERT_EQUAL_FATAL(open_with(&s1, "examples/plugin_template/luong_attn.yaml", a, 4, &err), TR_OK);
    CU_ASSERT_PTR_NOT_NULL(tr_scorer_find("uniform"));
    CU_ASSERT_EQUAL_FATAL(open_with(&s2, "configs/nmt.yaml", b, 3, &err), TR_OK);
    tr_session_close(s1);
    CU_ASSERT_PTR_NOT_NULL(tr_scorer_find("uniform")); /* s2 still holds it */
    CU_ASSERT_PTR_NULL(tr_scorer_find("cosine"));
    tr_session_close(s2);
    CU_ASSERT_PTR_NULL(tr_scorer_find("uniform"));
    const char *names[16];
    CU_ASSERT_EQUAL(tr_scorer_names(names, 16), 4); /* the built-ins only */
}

static void refusals(void)
{
    tr_session *s;
    tr_error err = {0};
    /* a library without scorers */
    char *a[] = {"model.scorer_plugins=time_attn"};
    CU_ASSERT_EQUAL(open_with(&s, "configs/nmt.yaml", a, 1, &err), TR_ERR_PLUGIN);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "command line: model.scorer_plugins=time_attn: "));
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "time_attn.so: exports no attention scorers"));
    /* a scorer whose name is taken */
    char *b[] = {"model.scorer_plugins=" TR_TEST_PLUGIN_DIR "/scorer_clash.so"};
    CU_ASSERT_EQUAL(open_with(&s, "configs/nmt.yaml", b, 1, &err), TR_ERR_PLUGIN);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "scorer_clash.so: cannot register its attention scorer: an attention scorer named 'dot' is already registered"));
    /* a library that is not there, with the search path in the message */
    char *c[] = {"model.scorer_plugins=no_such_scorers"};
    CU_ASSERT_EQUAL(open_with(&s, "configs/nmt.yaml", c, 1, &err), TR_ERR_PLUGIN);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "no plugin 'no_such_scorers'"));
    /* a scorer-only library as the model */
    char *d[] = {"model.plugin=" TR_TEST_PLUGIN_DIR "/uniform_scorer.so"};
    CU_ASSERT_EQUAL(open_with(&s, "configs/nmt.yaml", d, 1, &err), TR_ERR_PLUGIN);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "exports attention scorers but no model"));
    /* a misspelt key */
    char *e[] = {"model.scorer_plugin=" TEMPLATE_SO};
    CU_ASSERT_EQUAL(open_with(&s, "configs/nmt.yaml", e, 1, &err), TR_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "unknown key 'scorer_plugin' in 'model' (did you mean 'scorer_plugins'?)"));
    const char *names[16];
    CU_ASSERT_EQUAL(tr_scorer_names(names, 16), 4); /* nothing left behind */
    CU_ASSERT_PTR_NULL(strchr(err.msg, '\n'));
}

int main(void)
{
    static const tr_test_case cases[] = {
        {"template gradient, its cosine scorer", template_cosine},
        {"template gradient, general scorer", template_general},
        {"nmt_gru with a scorer from a plugin", nmt_gru_with_plugin_scorer},
        {"a plugin scorer needs its library", scorer_needs_its_library},
        {"registry lifetime", registry_lifetime},
        {"refusals", refusals},
        {NULL, NULL},
    };
    return tr_test_run("plugin_template", cases);
}
